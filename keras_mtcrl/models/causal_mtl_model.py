"""CausalMTLModel: Multi-Task Causal Representation Learning (MT-CRL)."""

import keras
import numpy as np
import tensorflow as tf

from keras_mtcrl.api_export import keras_mtcrl_export
from keras_mtcrl.layers.causal_graph import CausalGraph
from keras_mtcrl.layers.layer_utils import check_heads
from keras_mtcrl.losses.disentanglement import DisentanglementPenalty
from keras_mtcrl.losses.invariance import InvariancePenalty
from keras_mtcrl.losses.penalty import Penalty
from keras_mtcrl.losses.penalty import PenaltyContext
from keras_mtcrl.losses.penalty_utils import get_penalty
from keras_mtcrl.losses.per_sample import check_share
from keras_mtcrl.losses.per_sample import mixed_weights
from keras_mtcrl.losses.per_sample import observed_losses
from keras_mtcrl.losses.per_sample import weighted_per_sample
from keras_mtcrl.losses.sparsity import SparsityPenalty
from keras_mtcrl.metrics.worst_environment_loss import WorstEnvironmentLoss
from keras_mtcrl.models.config_errors import names_missing_fields
from keras_mtcrl.models.environments import LabelPairCounts
from keras_mtcrl.models.environments import column_membership
from keras_mtcrl.models.multi_task_model import MultiTaskModel
from keras_mtcrl.models.multi_task_model import revive_layers

serialize = keras.saving.serialize_keras_object


@keras_mtcrl_export
class CausalMTLModel(MultiTaskModel):
    """Multi-task model that learns which knowledge is causal for each task.

    Hu et al., "Improving Multi-Task Generalization via Regularizing
    Spurious Correlation", NeurIPS 2022 (MT-CRL). A shared multi-task
    encoder must hold every task's knowledge, and what is causal for one
    task can be a spurious shortcut for another; labels of different tasks
    can also be confounded. MT-CRL

    1. splits the shared representation into K disentangled modules (the
       encoder's output channels, read as K groups), kept apart by a
       `DisentanglementPenalty`;
    2. learns a task-to-module causal graph (`CausalGraph`, a T x K gate
       matrix `A`, sparse through a `SparsityPenalty`) so each task reads
       only some modules;
    3. adds an `InvariancePenalty` so a task does not rely on modules whose
       usefulness changes across environments.

    The objective is
    `sum_t w_t R_t + l_dis L_dis + l_sp mean(A) + l_inv(step) P`; each term
    is logged (`loss_<task>`, `loss_dis`, `loss_sparse`, `loss_inv`).
    Environments come from the input entry `environment_key` (an int id per
    sample; set `InvariancePenalty(num_environments=...)`) or, when the
    input has none, from the other tasks' labels. Penalty statistics are
    summed across `tf.distribute` replicas. Works with `jit_compile=True`.
    `loss_weighting=` and `gradient_method=` (keyword arguments of
    `MultiTaskModel`) weight or combine the task losses; the penalties
    are added on top.

    Args:
        encoder: `keras.layers.Layer` with a `num_modules` attribute and
            output `(batch, ..., K * d)`, e.g.
            `keras_mtcrl.layers.ChannelGroupEncoder` or `ExpertEncoder`.
        heads: dict of task name to head layer
            (`keras_mtcrl.layers.TaskHead`).
        graph_temperature: float. Temperature of the graph's sigmoid.
            Defaults to `1.0`.
        disentanglement: `DisentanglementPenalty` or None (off). Defaults to
            `DisentanglementPenalty()`.
        sparsity: `SparsityPenalty` or None (off). Defaults to
            `SparsityPenalty()`.
        invariance: `InvariancePenalty` or None (off). Defaults to
            `InvariancePenalty()`.
        environment_key: str. Input key of the environment id. Defaults to
            `"env"`.
        balanced_risk: float in [0, 1]. Share of the label-balanced
            environment in the training risk: each task's per-sample loss
            is weighted by `1 - s + s * prod_o P(y_t) P(y_o) / P(y_t, y_o)`
            (running counts over the training batches, `o` the other
            tasks), so at 1 the risk is that of data whose task labels are
            independent. Only training is reweighted; the invariance
            signal and `worst_env_loss` use the observed losses. Needs two
            or more tasks with per-sample labels (no effect otherwise).
            Defaults to `0.0`.
        graph_balanced_risk: float in [0, 1] or None. The share of the
            label-balanced environment in the risk that trains the graph's
            logits, while the encoder and the heads train on
            `balanced_risk`'s: at 1 with `balanced_risk=0`, a task keeps a
            module only if it helps once the task labels are made
            independent, so the graph cuts a shortcut module and the
            encoder still fits the observed data (docs/concepts.md, "The
            graph's own risk"). None: the same share as `balanced_risk`.
            Defaults to `None`.
        input_shape: shape of one batch of inputs, or None. Given, the model
            is built at once (recommended: `.keras` files and keras-tuner
            checkpoints then restore weights reliably). Defaults to `None`.
        **kwargs: base model keyword arguments (`name`, ...).

    Example:

    >>> import numpy as np
    >>> from keras_mtcrl.layers import ExpertEncoder, TaskHead
    >>> model = CausalMTLModel(
    ...     encoder=ExpertEncoder(num_modules=4, module_units=4),
    ...     heads={"a": TaskHead("binary"), "b": TaskHead("multiclass", 3)},
    ...     input_shape=(None, 5),
    ... )
    >>> model.compile(optimizer="adam")
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(32, 5)).astype("float32")
    >>> y = {"a": (x[:, 0] > 0).astype("float32"),
    ...      "b": rng.integers(0, 3, 32).astype("int32")}
    >>> history = model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    >>> sorted(k for k in history.history if k.startswith("loss"))
    ['loss', 'loss_a', 'loss_b', 'loss_dis', 'loss_inv', 'loss_sparse']
    >>> model.causal_graph().shape
    (2, 4)
    """

    def __init__(
        self,
        encoder,
        heads,
        graph_temperature=1.0,
        disentanglement="default",
        sparsity="default",
        invariance="default",
        environment_key="env",
        input_shape=None,
        gate="hard_concrete",
        normalize_modules=True,
        penalties=(),
        balanced_risk=0.0,
        graph_balanced_risk=None,
        **kwargs,
    ):
        self.balanced_risk = check_share(
            balanced_risk,
            "balanced_risk",
            " (0: the observed training risk, 1: the label-balanced one)",
        )
        self.graph_balanced_risk = None
        if graph_balanced_risk is not None:
            self.graph_balanced_risk = check_share(
                graph_balanced_risk,
                "graph_balanced_risk",
                " (the graph's own share; None: that of balanced_risk)",
            )
        num_modules = getattr(encoder, "num_modules", None)
        if not isinstance(num_modules, int) or num_modules < 1:
            raise ValueError(
                "`encoder` must have a positive int `num_modules` attribute "
                "(use keras_mtcrl.layers.ChannelGroupEncoder or "
                f"ExpertEncoder). Received: {type(encoder).__name__} with "
                f"num_modules={num_modules!r}"
            )
        check_heads(heads)
        self.disentanglement = _default(
            disentanglement, DisentanglementPenalty
        )
        self.sparsity = _default(sparsity, SparsityPenalty)
        self.invariance = _default(invariance, InvariancePenalty)
        self.extra_penalties = tuple(get_penalty(p, Penalty) for p in penalties)
        self.graph_temperature = float(graph_temperature)
        graph = CausalGraph(
            list(heads),
            num_modules,
            temperature=graph_temperature,
            gate=gate,
            normalize_modules=normalize_modules,
            name="causal_graph",
        )
        self.term_trackers = {
            name: keras.metrics.Mean(name=name)
            for name in ("loss_dis", "loss_sparse", "loss_inv", "tasks_loss")
        }
        for penalty in self.extra_penalties:
            self.term_trackers[penalty.loss_name] = keras.metrics.Mean(
                name=penalty.loss_name
            )
        self.label_pairs = None
        if len(heads) > 1 and all(
            getattr(h, "kind", None) for h in heads.values()
        ):
            self.label_pairs = LabelPairCounts(heads, name="label_pairs")
        self.worst_env_tracker = WorstEnvironmentLoss(
            len(heads), self._num_selection_columns()
        )
        super().__init__(
            encoder=encoder,
            heads=heads,
            router=graph,
            environment_key=environment_key,
            input_shape=input_shape,
            **kwargs,
        )

    def _num_selection_columns(self):
        """Most columns `selection_membership` can return."""
        if self.label_pairs is not None:
            derived = self.label_pairs.num_environments("balanced")
        else:
            derived = 1
        return derived + (self.num_environments or 0)

    def build(self, input_shape):
        if self.label_pairs is not None and not self.label_pairs.built:
            self.label_pairs.build()
        super().build(input_shape)

    @property
    def graph(self):
        """The `CausalGraph` layer."""
        return self.router

    @property
    def num_modules(self):
        return self.graph.num_modules

    @property
    def num_environments(self):
        """Ids in the environment column (from the invariance penalty)."""
        return getattr(self.invariance, "num_environments", None)

    @property
    def penalties(self):
        """The active objective terms besides the task losses."""
        named = (self.disentanglement, self.sparsity, self.invariance)
        return [
            p for p in named + self.extra_penalties
            if p is not None and p.active
        ]

    def extra_loss_trackers(self):
        return list(self.term_trackers.values())

    def extra_metrics(self):
        return [self.worst_env_tracker]

    def task_specific_variables(self):
        """The graph's logits: row `t` is task `t`'s own, so gradient
        methods leave them out of the shared parameters."""
        return [self.graph.logits]

    # ---- The forward pass ---------------------------------------------
    def forward(self, inputs, labels, sample_weight, training):
        derive = self.can_derive_environments(labels)
        if training and derive:
            self.label_pairs.update(labels)
        forward = super().forward(inputs, labels, sample_weight, training)
        if not (training and derive and self.balanced_risk > 0.0):
            return forward
        # The task risk mixes the observed and the label-balanced
        # environment (the invariance signal, taken inside `run_heads`,
        # stays that of the plain per-sample losses).
        weights = {
            task: mixed_weights(
                self.balancing_weights(labels, task, missing=1.0),
                self.balanced_risk,
            )
            for task in self.task_names
        }
        return weighted_per_sample(forward, weights, keep_observed=True)

    def route(self, modules, labels, training):
        """The graph; with `graph_balanced_risk`, the gradient reaching its
        logits through each sample's gate is rescaled from the encoder's
        weighting of that sample to the graph's."""
        share = self.graph_balanced_risk
        if (
            not training
            or share is None
            or share == self.balanced_risk
            or not self.can_derive_environments(labels)
        ):
            return self.graph(modules, training=training)
        ratios = []
        for task in self.task_names:
            balancing = self.balancing_weights(labels, task, missing=1.0)
            ratios.append(
                tf.math.divide_no_nan(
                    mixed_weights(balancing, share),
                    mixed_weights(balancing, self.balanced_risk),
                )
            )
        return self.graph(
            modules,
            training=training,
            # `balancing_weights` carry no gradient, nor do their ratios.
            gate_gradient_scale=tf.stack(ratios, axis=-1),
        )

    def run_heads(self, routed, labels, sample_weight, training):
        """Heads, plus each sample's gradient of its task loss with respect
        to the gated modules when a penalty needs it (`routed_grads`)."""
        if not any(p.needs_routed_gradients for p in self.penalties):
            outputs = super().run_heads(routed, labels, sample_weight, training)
            outputs["routed_grads"] = {t: None for t in self.task_names}
            return outputs
        watched = [routed[t] for t in self.task_names]
        with tf.GradientTape(watch_accessed_variables=False) as probe:
            probe.watch(watched)
            outputs = super().run_heads(routed, labels, sample_weight, training)
            per_sample = outputs["per_sample"]
            target = tf.add_n(
                [
                    tf.reduce_sum(per_sample[t][0] * per_sample[t][1])
                    for t in self.task_names
                ]
            )
            # Under float16 the per-sample gradients would underflow:
            # take them of the loss-scaled target (the optimizer's dynamic
            # scale) and unscale in float32. An overflow makes the step's
            # loss non-finite, and the loss-scale optimizer then skips the
            # step and lowers its scale. (No scale otherwise: a product
            # and a quotient by 1 would cost full-size ops, also in the
            # second-order backward pass.)
            scale = self._probe_loss_scale()
            if scale is not None:
                target = target * scale
        grads = probe.gradient(target, watched)
        grads = [tf.cast(g, "float32") for g in grads]
        if scale is not None:
            grads = [g / scale for g in grads]
        outputs["routed_grads"] = dict(zip(self.task_names, grads))
        return outputs

    def _probe_loss_scale(self):
        """The optimizer's loss scale (float32 scalar), None (no scaling)
        when the routed modules are not float16."""
        if self.optimizer is None or self.compute_dtype != "float16":
            return None
        return tf.stop_gradient(
            tf.cast(self.optimizer.scale_loss(tf.constant(1.0)), "float32")
        )

    def module_signal(self, forward, task):
        """Per-sample `<dL_t/du_tk, u_tk>` for each module `k`: `(batch, K)`.

        `u_tk` is module `k` as task `t` reads it (gated). The value is
        the derivative of the sample's loss with respect to a multiplier
        fixed at 1 on that module: unchanged when the head rescales its
        weights, and 0 for a closed gate.
        """
        grads = tf.cast(forward["routed_grads"][task], "float32")
        routed = tf.cast(forward["routed"][task], "float32")
        product = grads * routed
        if product.shape.rank > 2:
            product = tf.reduce_sum(
                product, axis=list(range(1, product.shape.rank - 1))
            )
        product = tf.reshape(
            product, (-1, self.num_modules, self.graph.module_width)
        )
        return tf.reduce_sum(product, axis=-1)

    # ---- Environments -------------------------------------------------
    def environment_membership(self, task, labels, environment, mode, valid):
        """Weights `(batch, E)` of each sample in each environment of `task`.

        Args:
            task: str.
            labels: dict task -> labels.
            environment: int tensor `(batch,)` or None (no column).
            mode: str. `"auto"`, `"column"`, `"balanced"`, `"agreement"`
                (see `InvariancePenalty`).
            valid: float `(batch,)`. 1 where the sample has a label.
        """
        if mode == "auto":
            if environment is None or not self.can_derive_environments(labels):
                mode = "column" if environment is not None else "balanced"
            else:
                return tf.concat(
                    [
                        self.environment_membership(
                            task, labels, environment, "column", valid
                        ),
                        self.environment_membership(
                            task, labels, None, "balanced", valid
                        ),
                    ],
                    axis=-1,
                )
        if mode == "column":
            if environment is None:
                raise ValueError(
                    "InvariancePenalty(environments='column') needs the "
                    f"environment id under the input key "
                    f"'{self.environment_key}'; the inputs have none."
                )
            if not self.num_environments:
                raise ValueError(
                    f"The inputs carry environment ids under "
                    f"'{self.environment_key}', but the InvariancePenalty "
                    "has num_environments=None. Set "
                    "InvariancePenalty(num_environments=N) to the number of "
                    "distinct environment ids (0..N-1)."
                )
            return column_membership(
                environment, valid, self.num_environments
            )
        if self.label_pairs is None:
            raise ValueError(
                f"Environments '{mode}' are derived from the other tasks' "
                "labels, which needs at least two tasks with a head `kind`. "
                "Supply an environment column with the data instead."
            )
        membership = self.label_pairs.membership(labels, task, mode)
        return membership * tf.cast(valid, "float32")[:, None]

    def balancing_weights(self, labels, task=None, missing=0.0):
        """Per-sample `prod_s P(y_t) P(y_s) / P(y_t, y_s)` over the other
        tasks `s` of `task`, `(batch,)`: for two tasks, the weight that
        makes their labels independent. None when it cannot be derived from
        these labels.

        Args:
            labels: dict task -> labels.
            task: str or None (the first task).
            missing: float. The factor of an other task `s` whose label (or
                `task`'s own) the sample lacks. Defaults to `0.0`.
        """
        if not self.can_derive_environments(labels):
            return None
        task = task or self.task_names[0]

        def make():
            membership = self.label_pairs.membership(labels, task, "balanced")
            # Columns 0, 2, ...: 1 where both labels are present; 1, 3,
            # ...: the balanced weights against each other task.
            weights = tf.where(
                membership[:, 0::2] > 0, membership[:, 1::2], missing
            )
            return tf.stop_gradient(tf.reduce_prod(weights, axis=-1))

        # Once per step (the risk, the graph's risk and a balanced
        # disentanglement penalty may all ask).
        return self.label_pairs.cached(
            labels, ("balancing_weights", task, float(missing)), make
        )

    def can_derive_environments(self, labels):
        """Whether environments can be derived from these labels: two or
        more tasks with a head `kind`, none of them per pixel."""
        return self.label_pairs is not None and all(
            tf.convert_to_tensor(labels[t]).shape.rank in (1, 2)
            for t in self.task_names
        )

    def _check_environment_ids(self, environment, training):
        if environment is None or not training or self.jit_compile:
            return
        if self.num_environments:
            tf.debugging.assert_less(
                tf.cast(environment, "int32"),
                self.num_environments,
                message=(
                    f"Environment ids under '{self.environment_key}' must "
                    f"be < num_environments={self.num_environments}."
                ),
            )

    def update_extra_metrics(self, forward, labels):
        """Accumulates the worst-environment task loss over the supplied
        environments and the label-balanced one (see `WorstEnvironmentLoss`)."""
        columns = self.worst_env_tracker.num_environments
        losses, memberships = [], []
        for task in self.task_names:
            loss, valid = observed_losses(forward)[task][:2]
            membership = self.selection_membership(
                task, labels, forward["environment"], valid
            )
            pad = columns - membership.shape[-1]
            membership = tf.pad(membership, [[0, 0], [0, pad]])
            losses.append(tf.cast(loss, "float32") * tf.cast(valid, "float32"))
            memberships.append(membership)
        self.worst_env_tracker.update_state(
            tf.stack(losses), tf.stack(memberships)
        )

    def selection_membership(self, task, labels, environment, valid):
        """Environments of `worst_env_loss`: the supplied ids (when the
        inputs carry them), the observed and the label-balanced
        distributions (when there are other tasks)."""
        parts = []
        if environment is not None and self.num_environments:
            parts.append(
                column_membership(environment, valid, self.num_environments)
            )
        if self.can_derive_environments(labels):
            parts.append(
                self.environment_membership(
                    task, labels, None, "balanced", valid
                )
            )
        if not parts:
            parts.append(tf.cast(valid, "float32")[:, None])
        return tf.concat(parts, axis=-1)

    # ---- The MT-CRL objective -----------------------------------------
    def objective_terms(self, forward, labels, environment, training):
        self._check_environment_ids(environment, training)
        context = PenaltyContext(self, forward, labels, environment, training)
        step = self.optimizer.iterations if self.optimizer else 0
        zero = tf.constant(0.0)
        terms = {
            "loss_dis": (0.0, zero, False),
            "loss_sparse": (0.0, zero, False),
            "loss_inv": (0.0, zero, False),
        }
        for penalty in self.penalties:
            terms[penalty.loss_name] = (
                penalty.weight_at(step),
                penalty.compute(context),
                penalty.is_global,
            )
        return terms

    def _update_metrics(self, logged, forward, labels):
        logged["tasks_loss"] = tf.add_n(
            [
                self._loss_weights[t] * logged[f"loss_{t}"]
                for t in self.task_names
            ]
        )
        return super()._update_metrics(logged, forward, labels)

    # ---- Reading the graph --------------------------------------------
    def causal_graph(self):
        """Returns `A`, the learned `(T, K)` edge weights, as numpy.

        Row `t` is task `self.task_names[t]`; an edge `k -> t` is present
        where `A[t, k] > 0.5`.
        """
        return np.asarray(self.graph.gates())

    def causal_graph_table(self, threshold=0.5):
        """Returns the graph as a readable text table (`*` marks edges)."""
        gates = self.causal_graph()
        width = max(len(t) for t in self.task_names)
        header = " " * width + " " + " ".join(
            f"  m{k:<3d}" for k in range(gates.shape[1])
        )
        rows = [header]
        for task, row in zip(self.task_names, gates):
            cells = " ".join(
                f"{v:5.2f}{'*' if v > threshold else ' '}" for v in row
            )
            rows.append(f"{task:<{width}} {cells}")
        return "\n".join(rows)

    # ---- Serialization ------------------------------------------------
    def get_config(self):
        config = super().get_config()
        del config["router"]
        config.update(
            {
                "graph_temperature": self.graph_temperature,
                "gate": self.graph.gate,
                "normalize_modules": self.graph.normalize_modules,
                "balanced_risk": self.balanced_risk,
                "graph_balanced_risk": self.graph_balanced_risk,
                "penalties": [serialize(p) for p in self.extra_penalties],
                "disentanglement": _serialize_or_none(self.disentanglement),
                "sparsity": _serialize_or_none(self.sparsity),
                "invariance": _serialize_or_none(self.invariance),
            }
        )
        return config

    @classmethod
    @names_missing_fields
    def from_config(cls, config):
        config = revive_layers(config)
        for key, penalty_cls in (
            ("disentanglement", DisentanglementPenalty),
            ("sparsity", SparsityPenalty),
            ("invariance", InvariancePenalty),
        ):
            config[key] = get_penalty(config[key], penalty_cls)
        config["penalties"] = [
            get_penalty(p, Penalty) for p in config.get("penalties", [])
        ]
        return cls(**config)


def _default(value, cls):
    if isinstance(value, str) and value == "default":
        return cls()
    return get_penalty(value, cls)


def _serialize_or_none(value):
    return None if value is None else serialize(value)
