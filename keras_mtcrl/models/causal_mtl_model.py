"""CausalMTLModel: Multi-Task Causal Representation Learning (MT-CRL)."""

import keras
import numpy as np
import tensorflow as tf

from keras_mtcrl.api_export import keras_mtcrl_export
from keras_mtcrl.layers.causal_graph import CausalGraph
from keras_mtcrl.layers.layer_utils import check_heads
from keras_mtcrl.losses.disentanglement import DisentanglementPenalty
from keras_mtcrl.losses.invariance import InvariancePenalty
from keras_mtcrl.losses.penalty_utils import get_penalty
from keras_mtcrl.losses.sparsity import SparsityPenalty
from keras_mtcrl.models.config_errors import names_missing_fields
from keras_mtcrl.models.environments import environments_from_labels
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
        **kwargs,
    ):
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
        self.graph_temperature = float(graph_temperature)
        graph = CausalGraph(
            list(heads),
            num_modules,
            temperature=graph_temperature,
            name="causal_graph",
        )
        self.term_trackers = {
            name: keras.metrics.Mean(name=name)
            for name in ("loss_dis", "loss_sparse", "loss_inv")
        }
        super().__init__(
            encoder=encoder,
            heads=heads,
            router=graph,
            environment_key=environment_key,
            input_shape=input_shape,
            **kwargs,
        )

    @property
    def graph(self):
        """The `CausalGraph` layer."""
        return self.router

    @property
    def num_modules(self):
        return self.graph.num_modules

    def extra_loss_trackers(self):
        return list(self.term_trackers.values())

    def task_specific_variables(self):
        """The graph's logits: row `t` is task `t`'s own, so gradient
        methods leave them out of the shared parameters."""
        return [self.graph.logits]

    # ---- The MT-CRL objective -----------------------------------------
    def needs_routed_gradients(self):
        return bool(
            self.invariance is not None
            and self.invariance.active
            and self.invariance.needs_gate_gradients
        )

    def objective_terms(self, forward, labels, environment, training):
        zero = tf.constant(0.0)
        terms = {
            "loss_dis": (0.0, zero, False),
            "loss_sparse": (0.0, zero, False),
            "loss_inv": (0.0, zero, False),
        }
        if self.disentanglement is not None:
            terms["loss_dis"] = (
                self.disentanglement.weight,
                self.disentanglement(forward["modules"], self.num_modules),
                not self.disentanglement.is_local,
            )
        if self.sparsity is not None:
            terms["loss_sparse"] = (
                self.sparsity.weight,
                self.sparsity(self.graph.gates()),
                False,
            )
        if self.invariance is not None and self.invariance.active:
            step = self.optimizer.iterations if self.optimizer else 0
            terms["loss_inv"] = (
                self.invariance.weight_at(step),
                self._invariance_value(forward, labels, environment),
                True,
            )
        return terms

    def _gate_gradients(self, forward, task):
        """Per-sample dL_t/dA[t, k] = sum over module k's channels of
        dL_t/du_t * z (spatial axes summed): `(batch, K)` float32."""
        grads = tf.cast(forward["routed_grads"][task], "float32")
        modules = tf.cast(forward["modules"], "float32")
        product = grads * modules
        if product.shape.rank > 2:
            product = tf.reduce_sum(
                product, axis=list(range(1, product.shape.rank - 1))
            )
        product = tf.reshape(
            product, (-1, self.num_modules, self.graph.module_width)
        )
        return tf.reduce_sum(product, axis=-1)

    def _invariance_value(self, forward, labels, environment):
        penalty = self.invariance
        if environment is not None and penalty.num_environments is None:
            raise ValueError(
                f"The inputs carry environment ids under "
                f"'{self.environment_key}', but the InvariancePenalty has "
                "num_environments=None. Set "
                "InvariancePenalty(num_environments=N) to the number of "
                "distinct environment ids (0..N-1)."
            )
        if environment is not None and not self.jit_compile:
            tf.debugging.assert_less(
                tf.cast(environment, "int32"),
                penalty.num_environments,
                message=(
                    f"Environment ids under '{self.environment_key}' must "
                    f"be < num_environments={penalty.num_environments}."
                ),
            )
        total = 0.0
        for task in self.task_names:
            losses, valid = forward["per_sample"][task][:2]
            if environment is None:
                env_ids, env_valid, num_envs = environments_from_labels(
                    labels,
                    self.heads,
                    task,
                    penalty.max_derived_environments,
                )
                valid = valid * env_valid
            else:
                env_ids = tf.reshape(tf.cast(environment, "int32"), (-1,))
                num_envs = penalty.num_environments
            gate_grads = None
            if penalty.needs_gate_gradients:
                gate_grads = self._gate_gradients(forward, task)
            total += penalty(env_ids, valid, losses, gate_grads, num_envs)
        return total

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
        return cls(**config)


def _default(value, cls):
    if isinstance(value, str) and value == "default":
        return cls()
    return get_penalty(value, cls)


def _serialize_or_none(value):
    return None if value is None else serialize(value)
