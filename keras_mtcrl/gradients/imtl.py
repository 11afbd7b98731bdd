"""IMTL-G: the update whose projections on every task are equal."""

import tensorflow as tf

from keras_mtcrl.api_export import keras_mtcrl_export
from keras_mtcrl.gradients.gradient_method import GradientMethod


@keras_mtcrl_export
class IMTL(GradientMethod):
    """Impartial multi-task learning, gradient balance (IMTL-G).

    Liu et al., "Towards Impartial Multi-task Learning", ICLR 2021. Finds
    weights `alpha` (summing to 1) such that `d = sum_t alpha_t g_t` has
    the same projection on every task's unit gradient `u_t = g_t/||g_t||`:
    `d . u_1 = ... = d . u_T`, so no task is favoured. In closed form,
    with `D` the rows `g_1 - g_t` and `U` the rows `u_1 - u_t`
    (`t = 2..T`): `alpha_{2..T} = (U D^T)^{-1} U g_1` and
    `alpha_1 = 1 - sum(alpha_{2..T})`. Only the gradient part of IMTL is
    implemented (IMTL-L, its loss scaling, is not).

    The `(T-1) x (T-1)` system is solved in float64. It is singular when
    two tasks' gradients are parallel; the update is then non-finite and
    shows as a NaN loss.

    Args:
        None: IMTL-G has no options.

    Example:

    >>> import numpy as np
    >>> grads = np.array([[2.0, 0.0], [0.0, 1.0]])
    >>> [round(float(v), 4) for v in IMTL()(grads)]
    [0.6667, 0.6667]
    """

    def task_weights(self, grads):
        """Returns the `(T,)` weights `alpha` (float64)."""
        grads = tf.cast(grads, "float64")
        num_tasks = grads.shape[0]
        if num_tasks == 1:
            return tf.ones((1,), "float64")
        norms = tf.norm(grads, axis=1, keepdims=True)
        units = tf.math.divide_no_nan(grads, norms)
        diffs = grads[:1] - grads[1:]
        unit_diffs = units[:1] - units[1:]
        system = tf.matmul(unit_diffs, diffs, transpose_b=True)
        rhs = tf.matmul(unit_diffs, grads[:1], transpose_b=True)
        rest = tf.linalg.solve(system, rhs)[:, 0]
        return tf.concat([1.0 - tf.reduce_sum(rest, keepdims=True), rest], 0)

    def combine(self, grads, step):
        alpha = tf.cast(self.task_weights(grads), "float32")
        return tf.linalg.matvec(grads, alpha, transpose_a=True)
