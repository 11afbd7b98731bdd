"""The MTL-specific invariant regularizer of MT-CRL."""

import tensorflow as tf

from keras_mtcrl.api_export import keras_mtcrl_export
from keras_mtcrl.losses.penalty import Penalty
from keras_mtcrl.losses.penalty import check_int
from keras_mtcrl.losses.per_sample import observed_losses
from keras_mtcrl.losses.replica_stats import cross_replica_sum
from keras_mtcrl.losses.replica_stats import global_sum_local_gradient

INVARIANCE_METHODS = ("grad_var", "irmv1", "vrex")
ENVIRONMENT_MODES = ("auto", "column", "balanced", "agreement")
_EPSILON = 1e-3


@keras_mtcrl_export
class InvariancePenalty(Penalty):
    """Penalises tasks whose use of a module changes across environments.

    A module is causal for a task when the task's risk responds to it in
    the same way in every environment; a spurious module helps in some
    environments and not in others. For task `t`, module `k` and
    environment `e` the signal is

        g_tk^e = mean over e's samples of <dL_t/du_tk, u_tk>,

    the derivative of the risk with respect to a multiplier fixed at 1 on
    the gated module `u_tk = A[t, k] * z_k` that task `t` reads. It does
    not change when a head rescales its weights, and it is exactly 0 for a
    closed gate, so closing a spurious edge lowers the penalty.

    - `"grad_var"` (default, Fishr-like): `Var_e[g_tk^e]` summed over `k`.
    - `"irmv1"`: `mean_e (g_tk^e)^2` summed over `k` (IRMv1 with the gates
      as dummy multipliers).
    - `"vrex"`: `Var_e[R_t^e]` (no gradients needed).

    Each task's value is divided by its squared mean loss (held constant),
    so one weight works across losses of different scale, and the tasks'
    values are averaged.

    Environments (`environments`): `"column"` uses the integer id under the
    model's environment key (set `num_environments`); `"balanced"` and
    `"agreement"` derive them from the other tasks' labels (see
    `keras_mtcrl.models.environments`); `"auto"` (default) takes the column
    when the inputs carry one, else `"balanced"`. Environments whose
    weight in the batch is below `min_env_samples` are skipped; with fewer
    than two left the value is 0. Statistics are summed across
    `tf.distribute` replicas.

    Args:
        method: str. `"grad_var"`, `"irmv1"` or `"vrex"`. Defaults to
            `"grad_var"`.
        weight: float. Multiplier in the objective, >= 0. Defaults to
            `100.0`, chosen by the worst-environment validation loss on the
            synthetic and Multi-MNIST recipes (docs/benchmarks.md).
        warmup_steps: int. Optimizer steps before the penalty is on (the
            label counts behind derived environments fill up meanwhile).
            Defaults to `200`.
        ramp_steps: int. Steps over which its weight then grows linearly.
            Defaults to `200`.
        min_env_samples: int. Least (weighted) number of samples an
            environment needs in a batch to count. Defaults to `2`.
        num_environments: int or None. Number of ids in the environment
            column (`0..num_environments-1`; other ids are ignored).
            Required when the data carries that column. Defaults to `None`.
        environments: str. `"auto"`, `"column"`, `"balanced"` or
            `"agreement"`. Defaults to `"auto"`.

    Example:

    >>> import numpy as np
    >>> penalty = InvariancePenalty("vrex", min_env_samples=1)
    >>> membership = np.array([[1, 0], [1, 0], [0, 1], [0, 1]], "float32")
    >>> losses = np.array([1.0, 1.0, 3.0, 3.0], "float32")
    >>> float(penalty.statistic(membership, losses[:, None]))
    1.0
    """

    loss_name = "loss_inv"
    is_global = True

    def __init__(
        self,
        method="grad_var",
        weight=100.0,
        warmup_steps=200,
        ramp_steps=200,
        min_env_samples=2,
        num_environments=None,
        environments="auto",
    ):
        super().__init__(weight, warmup_steps, ramp_steps)
        if method not in INVARIANCE_METHODS:
            raise ValueError(
                f"`method` must be one of {INVARIANCE_METHODS}. "
                f"Received: method={method!r}"
            )
        if environments not in ENVIRONMENT_MODES:
            raise ValueError(
                f"`environments` must be one of {ENVIRONMENT_MODES}. "
                f"Received: environments={environments!r}"
            )
        check_int(min_env_samples, "min_env_samples", minimum=1)
        if num_environments is not None:
            check_int(num_environments, "num_environments", minimum=1)
        if environments == "column" and num_environments is None:
            raise ValueError(
                "`environments='column'` needs `num_environments`, the "
                "number of ids in the data's environment column."
            )
        self.method = method
        self.min_env_samples = int(min_env_samples)
        self.num_environments = num_environments
        self.environments = environments

    @property
    def needs_routed_gradients(self):
        return self.method != "vrex"

    def statistic(self, membership, values):
        """The penalty of one task from per-sample values.

        Args:
            membership: float `(batch, E)`. Weight of each sample in each
                environment (one-hot ids, or derived weights; 0 = absent).
                Leading axes (e.g. `(T, batch, E)`, one task per row) give
                one value per row.
            values: float `(batch, K)`. Per-sample signals (`g` per module,
                or the loss as one column for `"vrex"`), with the same
                leading axes as `membership`.

        Returns:
            float32 scalar (or one per row of the leading axes), 0 when
            fewer than two environments are present.
        """
        membership = tf.cast(membership, "float32")
        values = tf.cast(values, "float32")
        counts, sums = global_sum_local_gradient(
            (
                tf.reduce_sum(membership, axis=-2),
                tf.matmul(membership, values, transpose_a=True),
            )
        )
        present = tf.cast(counts >= self.min_env_samples, "float32")
        num_present = tf.reduce_sum(present, axis=-1)
        means = sums / tf.maximum(counts, 1e-6)[..., None]
        safe_present = tf.maximum(num_present, 1.0)
        if self.method == "irmv1":
            value = tf.reduce_sum(
                present * tf.reduce_sum(tf.square(means), axis=-1), axis=-1
            ) / safe_present
        else:
            center = (
                tf.reduce_sum(present[..., None] * means, axis=-2)
                / safe_present[..., None]
            )
            variance = tf.reduce_sum(
                present[..., None] * tf.square(means - center[..., None, :]),
                axis=-2,
            ) / safe_present[..., None]
            value = tf.reduce_sum(variance, axis=-1)
        return tf.where(num_present >= 2.0, value, 0.0)

    def compute(self, context):
        model, forward = context.model, context.forward
        observed = observed_losses(forward)
        memberships, values, losses = [], [], []
        for task in model.task_names:
            loss, valid = observed[task][:2]
            memberships.append(
                model.environment_membership(
                    task, context.labels, context.environment,
                    self.environments, valid,
                )
            )
            if self.method == "vrex":
                values.append(tf.cast(loss, "float32")[:, None])
            else:
                values.append(model.module_signal(forward, task))
            losses.append(tf.cast(loss, "float32"))
        if len({tuple(m.shape[1:]) for m in memberships}) > 1:
            # Tasks with different environments: one task at a time.
            per_task = [
                self._scaled(m[None], v[None], loss[None])
                for m, v, loss in zip(memberships, values, losses)
            ]
            return tf.add_n(per_task)[0] / float(len(model.task_names))
        # All tasks at once, `(T, batch, ...)`: the same values as one
        # task at a time, in a fraction of the operations.
        scaled = self._scaled(
            tf.stack(memberships), tf.stack(values), tf.stack(losses)
        )
        return tf.reduce_sum(scaled) / float(len(model.task_names))

    def _scaled(self, membership, values, losses):
        """`(T,)` statistics of `(T, batch, ...)` tasks, each divided by
        the square of its mean loss (held constant)."""
        # The loss scale over the samples the environments cover.
        covered = tf.cast(tf.reduce_max(membership, axis=-1) > 0, "float32")
        loss_sum, count = cross_replica_sum(
            (
                tf.reduce_sum(losses * covered, axis=-1),
                tf.reduce_sum(covered, axis=-1),
            )
        )
        scale = loss_sum / tf.maximum(count, 1.0)
        return self.statistic(membership, values) / tf.square(
            scale + _EPSILON
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "method": self.method,
                "min_env_samples": self.min_env_samples,
                "num_environments": self.num_environments,
                "environments": self.environments,
            }
        )
        return config
