"""Worst-environment task loss: honest model selection without a shift."""

import keras
from keras import ops

from keras_mtcrl.api_export import keras_mtcrl_export


@keras_mtcrl_export
class WorstEnvironmentLoss(keras.metrics.Metric):
    """Sum over tasks of each task's largest mean loss over environments.

    Accumulated over a whole evaluation: for task `t` and environment `e`,
    `R_t^e = sum_i m_ie L_ti / sum_i m_ie` with `m` the samples'
    environment weights (one-hot ids, or weights derived from the labels,
    see `keras_mtcrl.models.environments`); the result is
    `sum_t max_e R_t^e` over the environments that had samples. It holds
    only task losses, so models trained with different penalty weights
    compare fairly; monitor `val_worst_env_loss` in `ModelCheckpoint`,
    `EarlyStopping` or a keras-tuner objective to select on the
    training distribution's worst environment, never on a shifted split.

    Args:
        num_tasks: int. T.
        num_environments: int. E, columns of the environment weights.
        name: str. Defaults to `"worst_env_loss"`.
        **kwargs: base metric keyword arguments.

    Example:

    >>> import numpy as np
    >>> metric = WorstEnvironmentLoss(num_tasks=1, num_environments=2)
    >>> losses = np.array([[1.0, 1.0, 3.0, 5.0]], "float32")  # (T, batch)
    >>> weights = np.array([[[1, 0], [1, 0], [0, 1], [0, 1]]], "float32")
    >>> metric.update_state(losses, weights)
    >>> float(metric.result())
    4.0
    """

    def __init__(
        self, num_tasks, num_environments, name="worst_env_loss", **kwargs
    ):
        super().__init__(name=name, **kwargs)
        self.num_tasks = int(num_tasks)
        self.num_environments = int(num_environments)
        shape = (self.num_tasks, self.num_environments)
        self.sums = self.add_variable(shape, "zeros", name="sums")
        self.weights_sum = self.add_variable(shape, "zeros", name="weights")

    def update_state(self, losses, membership):
        """Adds a batch.

        Args:
            losses: float `(T, batch)`. Per-sample task losses (0 where
                missing).
            membership: float `(T, batch, E)`. Environment weights (0
                where the sample has no label for the task).
        """
        losses = ops.cast(losses, "float32")
        membership = ops.cast(membership, "float32")
        self.sums.assign_add(ops.einsum("tb,tbe->te", losses, membership))
        self.weights_sum.assign_add(ops.sum(membership, axis=1))

    def result(self):
        present = self.weights_sum > 0
        means = self.sums / ops.maximum(self.weights_sum, 1e-12)
        worst = ops.max(ops.where(present, means, -1e30), axis=-1)
        has_any = ops.any(present, axis=-1)
        return ops.sum(ops.where(has_any, worst, 0.0))

    def reset_state(self):
        for variable in (self.sums, self.weights_sum):
            variable.assign(ops.zeros_like(variable))

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_tasks": self.num_tasks,
                "num_environments": self.num_environments,
            }
        )
        return config
