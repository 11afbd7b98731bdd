"""IRMv1, V-REx and Fishr on a plain multi-task model (DomainBed style)."""

import keras
import tensorflow as tf

from keras_mtcrl.api_export import keras_mtcrl_export
from keras_mtcrl.losses.replica_stats import global_sum_local_gradient
from keras_mtcrl.models.label_groups import LabelGroups
from keras_mtcrl.models.multi_task_model import MultiTaskModel
from keras_mtcrl.models.multi_task_model import revive_layers
from keras_mtcrl.models.reweighted_model import revive_groups

METHODS = ("irmv1", "vrex", "fishr")
#: Environments with fewer samples in a global batch are left out.
MIN_ENV_SAMPLES = 2


@keras_mtcrl_export
class InvariantRiskModel(MultiTaskModel):
    """Multi-task model with an IRMv1, V-REx or Fishr penalty per task.

    The invariance baselines of DomainBed on an ordinary multi-task model,
    with the whole task representation (the router's output for the task)
    as the featurizer. With `R_t^e` task `t`'s mean loss on the samples of
    environment `e`:

    - `"irmv1"` (Arjovsky et al., 2019): `mean_e (dR_t^e / dw)^2` at
      `w = 1`, `w` a dummy scalar multiplying the task's representation
      (per sample `<dl/dz, z>`).
    - `"vrex"` (Krueger et al., ICML 2021): `Var_e R_t^e`.
    - `"fishr"` (Rame et al., ICML 2022): with `g_i` the gradient of
      sample `i`'s loss with respect to the kernel and bias of the last
      Dense layer of task `t`'s head (`TaskHead.output_layer`), `v_e` the
      (biased) variance of `g_i` over environment `e`'s samples, element
      by element, the penalty is `sum_d mean_e (v_e - mean_e' v_e')_d^2`.
      The `g_i` are computed in closed form (`features_i (x) dl_i/dlogits_i`
      for the kernel, `dl_i/dlogits_i` for the bias, summed over the
      positions of a dense head) from one gradient of the logits, so the
      heads must be `TaskHead`s. Unlike DomainBed's version, there is no
      moving average of `v_e` across steps: the penalty is the global
      batch's.

    The objective is `sum_t R_t + lambda(step) sum_t P_t`, logged as
    `loss_penalty`; `lambda` is 0 for `warmup_steps` optimizer steps,
    then rises linearly to `weight` over `ramp_steps`. Environments are
    the data's environment column (`environments` an int: the number of
    ids) or, without one, agreement groups from the training labels
    (`environments` a `LabelGroups`: a sample is in group 1 when its
    label is the one its context most often comes with in training).
    Environment statistics are sums over the global batch
    (`keras_mtcrl.losses.replica_stats`), so the penalty is the same on
    any number of replicas; environments with fewer than 2 samples in a
    batch are left out, and with fewer than two left the penalty is 0.

    Args:
        encoder: `keras.layers.Layer`. The shared network.
        heads: dict of task name to head layer.
        method: str. `"irmv1"`, `"vrex"` or `"fishr"`. Defaults to
            `"vrex"`.
        weight: float. `lambda` after the ramp, >= 0. Defaults to `10.0`.
        warmup_steps: int. Steps with `lambda = 0`. Defaults to `0`.
        ramp_steps: int. Steps of the linear ramp. Defaults to `0`.
        environments: int or `keras_mtcrl.models.LabelGroups`. Number of
            environment ids in the environment column, or label groups.
        **kwargs: `MultiTaskModel` arguments (`router`, `input_shape`,
            `environment_key`, `name`, ...).

    Example:

    >>> import numpy as np
    >>> from keras_mtcrl.layers import TaskHead
    >>> model = InvariantRiskModel(
    ...     keras.layers.Dense(4), {"a": TaskHead("binary")},
    ...     method="irmv1", environments=2, input_shape={
    ...         "x": (None, 3), "env": (None,)})
    >>> model.compile()
    >>> x = {"x": np.ones((8, 3), "float32"),
    ...      "env": np.array([0, 1] * 4, "int32")}
    >>> y = {"a": np.array([0, 1] * 4, "float32")}
    >>> history = model.fit(x, y, epochs=1, verbose=0)
    >>> "loss_penalty" in history.history
    True
    """

    def __init__(
        self,
        encoder,
        heads,
        method="vrex",
        weight=10.0,
        warmup_steps=0,
        ramp_steps=0,
        environments=None,
        **kwargs,
    ):
        input_shape = kwargs.pop("input_shape", None)
        super().__init__(encoder, heads, **kwargs)
        if method not in METHODS:
            raise ValueError(
                f"`method` must be one of {METHODS}. Received: "
                f"method={method!r}"
            )
        if not isinstance(weight, (int, float)) or weight < 0:
            raise ValueError(
                f"`weight` must be >= 0. Received: weight={weight!r}"
            )
        for name, value in (
            ("warmup_steps", warmup_steps),
            ("ramp_steps", ramp_steps),
        ):
            if not isinstance(value, int) or value < 0:
                raise ValueError(
                    f"`{name}` must be an int >= 0. Received: "
                    f"{name}={value!r}"
                )
        if method == "fishr":
            _check_fishr_heads(self.heads)
        if isinstance(environments, int) and environments >= 1:
            self.environments = environments
        else:
            self.environments = revive_groups(environments)
        self.method = method
        self.weight = float(weight)
        self.warmup_steps = warmup_steps
        self.ramp_steps = ramp_steps
        self.penalty_tracker = keras.metrics.Mean(name="loss_penalty")
        self._input_shape_arg = input_shape
        if input_shape is not None:
            self.build(input_shape)

    def extra_loss_trackers(self):
        return [self.penalty_tracker]

    def forward(self, inputs, labels, sample_weight, training):
        forward = super().forward(inputs, labels, sample_weight, training)
        if self.method != "irmv1":
            return forward
        # Per task on its own copy: a shared router hands every task the
        # same tensor, whose gradient would sum the tasks' losses.
        grads = {}
        for task in self.task_names:
            routed = tf.identity(forward["routed"][task])
            with tf.GradientTape(watch_accessed_variables=False) as probe:
                probe.watch(routed)
                prediction = self.heads[task](routed, training=training)
                loss, valid, _, _ = self._task_loss(
                    task, labels[task], prediction, sample_weight
                )
                total = tf.reduce_sum(loss * valid)
            grads[task] = probe.gradient(total, routed)
        return {**forward, "routed_grads": grads}

    def run_heads(self, routed, labels, sample_weight, training):
        if self.method != "fishr":
            return super().run_heads(routed, labels, sample_weight, training)
        # The heads run in two parts, so that one gradient of the logits
        # gives every sample's gradient of the last layer (closed form).
        predictions, per_sample, last_layer = {}, {}, {}
        for task in self.task_names:
            head = self.heads[task]
            features = head.features(routed[task], training=training)
            logits = tf.cast(head.output_layer(features), "float32")
            with tf.GradientTape(watch_accessed_variables=False) as probe:
                probe.watch(logits)
                predictions[task] = head.output_activation(logits)
                per_sample[task] = self._task_loss(
                    task, labels[task], predictions[task], sample_weight
                )
                loss, valid, _, _ = per_sample[task]
                total = tf.reduce_sum(loss * valid)
            last_layer[task] = (features, probe.gradient(total, logits))
        return {
            "predictions": predictions,
            "per_sample": per_sample,
            "last_layer": last_layer,
        }

    def weight_at(self, step):
        """`lambda` at optimizer step `step` (warm-up, then linear ramp)."""
        step = tf.cast(step, "float32") - float(self.warmup_steps)
        ramp = tf.clip_by_value(
            (step + 1.0) / float(max(self.ramp_steps, 1)), 0.0, 1.0
        )
        return self.weight * tf.where(step >= 0.0, ramp, 0.0)

    def environment_ids(self, labels, environment, task):
        """`(ids, valid, num_environments)` of every sample for `task`."""
        if isinstance(self.environments, LabelGroups):
            cells, valid = self.environments.cells(labels, environment, task)
            table = tf.constant(self.environments.agreement(task))
            return tf.cast(tf.gather(table, cells), "int32"), valid, 2
        if environment is None:
            raise ValueError(
                f"The inputs hold no environment column "
                f"'{self.environment_key}'; pass `environments=` a "
                "`LabelGroups` instead."
            )
        ids = tf.reshape(tf.cast(environment, "int32"), (-1,))
        return ids, tf.ones_like(ids, "float32"), self.environments

    def objective_terms(self, forward, labels, environment, training):
        total = 0.0
        for task in self.task_names:
            loss, valid, _, _ = forward["per_sample"][task]
            ids, known, num_envs = self.environment_ids(
                labels, environment, task
            )
            if self.method == "fishr":
                gradients = last_layer_sample_gradients(
                    *forward["last_layer"][task]
                )
                total += fishr_penalty(ids, valid * known, gradients, num_envs)
                continue
            if self.method == "irmv1":
                routed = forward["routed"][task]
                routed = tf.reshape(routed, (tf.shape(routed)[0], -1))
                grads = forward["routed_grads"][task]
                grads = tf.reshape(grads, tf.shape(routed))
                statistic = tf.reduce_sum(grads * routed, axis=1)
            else:
                statistic = loss
            total += environment_penalty(
                self.method, ids, valid * known, statistic, num_envs
            )
        step = self.optimizer.iterations if self.optimizer else 0
        return {"loss_penalty": (self.weight_at(step), total, True)}

    def get_config(self):
        config = super().get_config()
        environments = self.environments
        if isinstance(environments, LabelGroups):
            environments = environments.get_config()
        config.update(
            method=self.method,
            weight=self.weight,
            warmup_steps=self.warmup_steps,
            ramp_steps=self.ramp_steps,
            environments=environments,
        )
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**revive_layers(config))


def environment_penalty(method, ids, valid, statistic, num_environments):
    """One task's penalty from per-sample statistics of the global batch.

    Args:
        method: str. `"irmv1"` (mean over environments of the squared mean
            statistic, a per-sample `dl/dw`) or `"vrex"` (variance over
            environments of the mean statistic, a per-sample loss).
        ids: int `(batch,)` environment ids; ids outside the range count
            for nothing.
        valid: float `(batch,)`, 1 for samples that count.
        statistic: float `(batch,)`.
        num_environments: int.

    Returns:
        float32 scalar, differentiable in this replica's samples.

    Example:

    >>> float(environment_penalty(
    ...     "vrex", tf.constant([0, 0, 1, 1]), tf.ones(4),
    ...     tf.constant([1.0, 1.0, 3.0, 3.0]), 2))
    1.0
    """
    member = tf.one_hot(ids, num_environments) * valid[:, None]
    counts, sums = global_sum_local_gradient(
        (
            tf.reduce_sum(member, axis=0),
            tf.linalg.matvec(
                member, tf.cast(statistic, "float32"), transpose_a=True
            ),
        )
    )
    present, num_present = _present_environments(counts)
    means = sums / tf.maximum(counts, 1.0)
    if method == "irmv1":
        value = tf.reduce_sum(present * tf.square(means)) / num_present
    else:
        value = _variance_across(means, present, num_present)
    return tf.where(tf.reduce_sum(present) >= 2.0, value, 0.0)


def _present_environments(counts):
    """1 for the environments with enough samples in the global batch,
    and their number (at least 1, a safe divisor)."""
    present = tf.cast(counts >= MIN_ENV_SAMPLES, "float32")
    return present, tf.maximum(tf.reduce_sum(present), 1.0)


def _variance_across(values, present, num_present):
    """Variance over the present environments of per-environment values,
    `(E,)` or `(E, D)` (then summed over `D`)."""
    values = tf.reshape(values, (tf.shape(values)[0], -1))
    center = tf.reduce_sum(present[:, None] * values, 0) / num_present
    spread = tf.reduce_sum(tf.square(values - center), axis=1)
    return tf.reduce_sum(present * spread) / num_present


def _check_fishr_heads(heads):
    for task, head in heads.items():
        parts = ("features", "output_layer", "output_activation")
        if not all(hasattr(head, part) for part in parts):
            raise ValueError(
                "Fishr needs the last Dense layer of every head: use "
                "`keras_mtcrl.layers.TaskHead` heads. The head of task "
                f"'{task}' is a {type(head).__name__}."
            )


def last_layer_sample_gradients(features, logit_grads):
    """Per-sample gradients of a Dense layer's kernel and bias, in closed form.

    For a Dense layer `logits = features @ kernel + bias` and a loss that is
    a sum of per-sample losses `l_i`, sample `i`'s gradient is
    `dl_i/dkernel = sum_p features_ip (x) dl_i/dlogits_ip` and
    `dl_i/dbias = sum_p dl_i/dlogits_ip`, `p` over the positions of a dense
    (per-pixel) output (one position otherwise). `dl_i/dlogits_i` is the
    gradient of the summed loss with respect to the logits.

    Args:
        features: float `(batch, ..., C)`, the layer's input.
        logit_grads: float `(batch, ..., U)`, the gradient of the summed
            per-sample losses with respect to the layer's output.

    Returns:
        float32 `(batch, C * U + U)`: each row the sample's kernel gradient
        (flattened in the kernel's row-major order) then its bias gradient.

    Example:

    >>> g = last_layer_sample_gradients(
    ...     tf.constant([[1.0, 2.0]]), tf.constant([[3.0]]))
    >>> g.numpy().tolist()
    [[3.0, 6.0, 3.0]]
    """
    features = tf.cast(features, "float32")
    logit_grads = tf.cast(logit_grads, "float32")
    batch = tf.shape(features)[0]
    features = tf.reshape(features, (batch, -1, features.shape[-1]))
    logit_grads = tf.reshape(logit_grads, (batch, -1, logit_grads.shape[-1]))
    kernel = tf.einsum("bpc,bpu->bcu", features, logit_grads)
    bias = tf.reduce_sum(logit_grads, axis=1)
    return tf.concat([tf.reshape(kernel, (batch, -1)), bias], axis=1)


def fishr_penalty(ids, valid, gradients, num_environments):
    """Fishr's penalty of one task from per-sample gradients of the batch.

    With `v_e = mean_{i in e} (g_i - mean_{j in e} g_j)^2` (element-wise)
    over the global batch, the penalty is
    `sum_d mean_e (v_e - mean_e' v_e')_d^2` over the environments with at
    least 2 samples (0 with fewer than two such environments). Counts,
    sums and sums of squares are global-batch sums with local gradients
    (`keras_mtcrl.losses.replica_stats`), so the value and its gradient are
    the same on any number of replicas.

    Args:
        ids: int `(batch,)` environment ids; ids outside the range count
            for nothing.
        valid: float `(batch,)`, 1 for samples that count.
        gradients: float `(batch, D)`, per-sample gradients.
        num_environments: int.

    Returns:
        float32 scalar, differentiable in this replica's samples.

    Example:

    >>> float(fishr_penalty(
    ...     tf.constant([0, 0, 1, 1]), tf.ones(4),
    ...     tf.constant([[1.0], [3.0], [0.0], [0.0]]), 2))
    0.25
    """
    gradients = tf.cast(gradients, "float32")
    member = tf.one_hot(ids, num_environments) * valid[:, None]
    counts, sums, squares = global_sum_local_gradient(
        (
            tf.reduce_sum(member, axis=0),
            tf.matmul(member, gradients, transpose_a=True),
            tf.matmul(member, tf.square(gradients), transpose_a=True),
        )
    )
    present, num_present = _present_environments(counts)
    size = tf.maximum(counts, 1.0)[:, None]
    means = sums / size
    variances = tf.maximum(squares / size - tf.square(means), 0.0)
    value = _variance_across(variances, present, num_present)
    return tf.where(tf.reduce_sum(present) >= 2.0, value, 0.0)
