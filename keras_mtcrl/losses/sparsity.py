"""Sparsity penalty on the task-to-module causal graph."""

import tensorflow as tf

from keras_mtcrl.api_export import keras_mtcrl_export
from keras_mtcrl.losses.penalty_utils import check_non_negative


@keras_mtcrl_export
class SparsityPenalty:
    """Mean edge weight of the task-to-module graph, `mean(A)`.

    A task that reads fewer modules has fewer chances to pick up knowledge
    that is causal for another task but spurious for itself; this term
    asks every task to read only the modules it needs.

    Args:
        weight: float. Multiplier in the objective, >= 0. Defaults to
            `0.01`.

    Example:

    >>> import numpy as np
    >>> SparsityPenalty(weight=0.5)(np.array([[1.0, 0.0], [0.5, 0.5]]))
    <tf.Tensor: shape=(), dtype=float32, numpy=0.5>
    """

    def __init__(self, weight=0.01):
        check_non_negative(weight, "weight")
        self.weight = float(weight)

    @property
    def active(self):
        return self.weight > 0

    def __call__(self, gates):
        """Returns the unweighted penalty for the `(T, K)` gate matrix."""
        return tf.reduce_mean(tf.cast(gates, "float32"))

    def get_config(self):
        return {"weight": self.weight}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
