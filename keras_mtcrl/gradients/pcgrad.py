"""PCGrad: project away the conflicting part of each task's gradient."""

import tensorflow as tf

from keras_mtcrl.api_export import keras_mtcrl_export
from keras_mtcrl.gradients.gradient_method import GradientMethod


@keras_mtcrl_export
class PCGrad(GradientMethod):
    """Projecting Conflicting Gradients ("gradient surgery").

    Yu et al., "Gradient Surgery for Multi-Task Learning", NeurIPS 2020.
    Two tasks conflict where their gradients have a negative dot product.
    For each task `i`, PCGrad visits the other tasks `j` in a random order
    and, whenever the (already projected) `g_i` conflicts with `g_j`,
    removes the component along `g_j`:
    `g_i <- g_i - (g_i . g_j / ||g_j||^2) g_j`. The update is the sum of
    the projected gradients. With two tasks, each projected gradient is
    orthogonal to the other task's gradient when they conflict, and the
    plain sum is kept when they do not.

    The random orders come from a stateless generator keyed on
    `(seed, step)`: every `tf.distribute` replica draws the same orders,
    and a run restored from a checkpoint draws the same ones again.

    Args:
        seed: int. Seed of the random task orders. Defaults to `0`.

    Example:

    >>> import numpy as np
    >>> grads = np.array([[1.0, 1.0], [-1.0, 0.0]])
    >>> PCGrad()(grads).numpy().tolist()
    [-0.5, 1.5]
    """

    def __init__(self, seed=0):
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError(f"`seed` must be an int. Received: seed={seed!r}")
        self.seed = seed

    def project(self, grads, step):
        """Returns the `(T, P)` projected gradients, before summing."""
        num_tasks = grads.shape[0]
        squared_norms = tf.reduce_sum(grads * grads, axis=1)
        keys = tf.random.stateless_uniform(
            (num_tasks, num_tasks),
            seed=tf.stack([tf.constant(self.seed, "int64"), step]),
            alg="philox",
        )
        orders = tf.argsort(keys, axis=1)
        projected = []
        for i in range(num_tasks):
            g = grads[i]
            for k in range(num_tasks):
                j = orders[i, k]
                other = tf.gather(grads, j)
                dot = tf.reduce_sum(g * other)
                conflict = tf.logical_and(dot < 0.0, tf.not_equal(j, i))
                coefficient = tf.math.divide_no_nan(
                    dot, tf.gather(squared_norms, j)
                )
                g = g - tf.where(conflict, coefficient, 0.0) * other
            projected.append(g)
        return tf.stack(projected)

    def combine(self, grads, step):
        return tf.reduce_sum(self.project(grads, step), axis=0)

    def get_config(self):
        return {"seed": self.seed}
