"""Sparsity (L0) penalty on the task-to-module causal graph."""

import tensorflow as tf

from keras_mtcrl.api_export import keras_mtcrl_export
from keras_mtcrl.losses.penalty import Penalty


@keras_mtcrl_export
class SparsityPenalty(Penalty):
    """Expected fraction of open edges of the task-to-module graph.

    A task that reads fewer modules has fewer chances to pick up knowledge
    that is causal for another task but spurious for itself; this term
    asks every task to read only the modules it needs. With hard-concrete
    gates it is the expected L0 norm of the graph, `mean P(A[t, k] > 0)`
    (Louizos et al., ICLR 2018); with sigmoid gates, `mean(A)`.

    Args:
        weight: float. Multiplier in the objective, >= 0. Defaults to
            `0.01`.
        warmup_steps: int. Optimizer steps with weight 0. Defaults to `0`.
        ramp_steps: int. Steps of the linear ramp after it. Defaults to `0`.

    Example:

    >>> import numpy as np
    >>> SparsityPenalty(weight=0.5)(np.array([[1.0, 0.0], [0.5, 0.5]]))
    <tf.Tensor: shape=(), dtype=float32, numpy=0.5>
    """

    loss_name = "loss_sparse"

    def __init__(self, weight=0.01, warmup_steps=0, ramp_steps=0):
        super().__init__(weight, warmup_steps, ramp_steps)

    def __call__(self, open_probability):
        """Returns the unweighted penalty of a `(T, K)` open-probability
        (or gate) matrix."""
        return tf.reduce_mean(tf.cast(open_probability, "float32"))

    def compute(self, context):
        return self(context.model.graph.open_probability())
