"""The MTL-specific invariant regularizer of MT-CRL."""

import tensorflow as tf

from keras_mtcrl.api_export import keras_mtcrl_export
from keras_mtcrl.losses.penalty_utils import check_non_negative
from keras_mtcrl.losses.replica_stats import global_sum_local_gradient

INVARIANCE_METHODS = ("grad_var", "irmv1", "vrex")


@keras_mtcrl_export
class InvariancePenalty:
    """Penalises tasks whose reliance on a module changes across environments.

    A module is causal for a task when the task's risk responds to it in
    the same way in every environment; a spurious module helps in some
    environments and hurts in others. With `A` the task-to-module gate
    matrix and `R_t^e` the mean loss of task `t` on the samples of
    environment `e`:

    - `"grad_var"` (default, Fishr-like):
      `sum_t sum_k Var_e[dR_t^e / dA[t, k]]`: the same row of the graph
      must be optimal in every environment.
    - `"irmv1"`: `sum_t mean_e ||dR_t^e / dA[t]||^2` (IRMv1 with the gates
      as the dummy classifier).
    - `"vrex"`: `sum_t Var_e[R_t^e]` (no gradients needed).

    Environments come from an attribute column supplied with the data (an
    integer id per sample), or, when there is none, from the other tasks'
    labels (the label-label confounder is what shifts). Environments with
    fewer than `min_env_samples` samples in the batch are skipped; with
    fewer than two left, the penalty is exactly 0. Statistics are summed
    across `tf.distribute` replicas, so the value is that of the global
    batch.

    Args:
        method: str. `"grad_var"`, `"irmv1"` or `"vrex"`. Defaults to
            `"grad_var"`.
        weight: float. Multiplier in the objective, >= 0. Defaults to `1.0`.
        warmup_steps: int. Optimizer steps before the penalty is switched
            on. Defaults to `0`.
        min_env_samples: int. Fewest samples an environment needs in a
            batch to count. Defaults to `2`.
        num_environments: int or None. Number of environment ids in the
            data's environment column (ids are `0..num_environments-1`).
            Required when the data carries that column. Defaults to `None`.
        max_derived_environments: int. Cap on environments derived from
            other tasks' labels (codes wrap around beyond it). Defaults to
            `32`.

    Example:

    >>> import numpy as np
    >>> penalty = InvariancePenalty("vrex", min_env_samples=1)
    >>> env_ids = np.array([0, 0, 1, 1])
    >>> losses = np.array([1.0, 1.0, 3.0, 3.0], "float32")
    >>> float(penalty(env_ids, np.ones(4, "float32"), losses, None, 2))
    1.0
    """

    def __init__(
        self,
        method="grad_var",
        weight=1.0,
        warmup_steps=0,
        min_env_samples=2,
        num_environments=None,
        max_derived_environments=32,
    ):
        if method not in INVARIANCE_METHODS:
            raise ValueError(
                f"`method` must be one of {INVARIANCE_METHODS}. "
                f"Received: method={method!r}"
            )
        check_non_negative(weight, "weight")
        _check_int(warmup_steps, "warmup_steps", minimum=0)
        _check_int(min_env_samples, "min_env_samples", minimum=1)
        if num_environments is not None:
            _check_int(num_environments, "num_environments", minimum=1)
        _check_int(max_derived_environments, "max_derived_environments", 2)
        self.method = method
        self.weight = float(weight)
        self.warmup_steps = int(warmup_steps)
        self.min_env_samples = int(min_env_samples)
        self.num_environments = num_environments
        self.max_derived_environments = int(max_derived_environments)

    @property
    def active(self):
        return self.weight > 0

    @property
    def needs_gate_gradients(self):
        return self.method != "vrex"

    def weight_at(self, step):
        """The penalty weight at optimizer step `step` (0 during warm-up)."""
        on = tf.cast(step >= self.warmup_steps, "float32")
        return self.weight * on

    def __call__(self, env_ids, valid, losses, gate_grads, num_environments):
        """Returns the unweighted penalty of one task.

        Args:
            env_ids: int tensor `(batch,)`. Environment of each sample;
                ids outside `[0, num_environments)` are ignored.
            valid: float tensor `(batch,)`. 1 where the sample has a label
                for this task (and an environment), else 0.
            losses: float tensor `(batch,)`. Per-sample loss of the task.
            gate_grads: float tensor `(batch, K)` or None. Per-sample
                gradient of the task loss with respect to the task's gates
                (not needed by `"vrex"`).
            num_environments: int. Number of environment ids.

        Returns:
            float32 scalar, 0 when fewer than two environments are present.
        """
        membership = tf.one_hot(tf.cast(env_ids, "int32"), num_environments)
        membership *= tf.cast(valid, "float32")[:, None]
        if self.method == "vrex":
            per_sample = tf.cast(losses, "float32")[:, None]
        else:
            per_sample = tf.cast(gate_grads, "float32")
        counts, sums = global_sum_local_gradient(
            (
                tf.reduce_sum(membership, axis=0),
                tf.matmul(membership, per_sample, transpose_a=True),
            )
        )
        present = tf.cast(counts >= self.min_env_samples, "float32")
        num_present = tf.reduce_sum(present)
        means = sums / tf.maximum(counts, 1.0)[:, None]
        safe_present = tf.maximum(num_present, 1.0)
        if self.method == "irmv1":
            value = tf.reduce_sum(
                present * tf.reduce_sum(tf.square(means), axis=-1)
            ) / safe_present
        else:
            center = tf.reduce_sum(present[:, None] * means, 0) / safe_present
            variance = tf.reduce_sum(
                present[:, None] * tf.square(means - center), axis=0
            ) / safe_present
            value = tf.reduce_sum(variance)
        return tf.where(num_present >= 2.0, value, 0.0)

    def get_config(self):
        return {
            "method": self.method,
            "weight": self.weight,
            "warmup_steps": self.warmup_steps,
            "min_env_samples": self.min_env_samples,
            "num_environments": self.num_environments,
            "max_derived_environments": self.max_derived_environments,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _check_int(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(
            f"`{name}` must be an int >= {minimum}. Received: {name}={value!r}"
        )
