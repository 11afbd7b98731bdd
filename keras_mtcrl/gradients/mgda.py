"""MGDA: the min-norm point of the convex hull of the task gradients."""

import tensorflow as tf

from keras_mtcrl.api_export import keras_mtcrl_export
from keras_mtcrl.gradients.gradient_method import GradientMethod


@keras_mtcrl_export
class MGDA(GradientMethod):
    """Multiple-gradient descent: a common descent direction for all tasks.

    Sener and Koltun, "Multi-Task Learning as Multi-Objective
    Optimization", NeurIPS 2018. The update is the minimum-norm point of
    the convex hull of the task gradients,
    `d = sum_t alpha_t g_t` with `alpha = argmin_{alpha in simplex}
    ||sum_t alpha_t g_t||^2`. `d` decreases every task's loss (or is 0 at
    a Pareto-stationary point). `alpha` is found by the Frank-Wolfe
    method on the `T x T` Gram matrix, here with away steps and exact line
    search (which converge linearly on the simplex), in float64.

    The solver stops when its Frank-Wolfe duality gap (an upper bound on
    the distance to the optimal squared norm) is at most `tolerance`
    times the largest squared task-gradient norm. It never falls back to
    another direction: if it has not converged after `max_iterations`
    steps, or the gradients are not finite, training stops with a
    `tf.errors.InvalidArgumentError`. Under `jit_compile=True` (XLA
    cannot raise), the update is made NaN instead, so the step's `loss`
    is logged as NaN (add `keras.callbacks.TerminateOnNaN()` to stop).

    Args:
        max_iterations: int. Frank-Wolfe steps allowed. Defaults to `250`.
        tolerance: float. Relative duality gap at which the solver stops,
            > 0. Defaults to `1e-6`.

    Example:

    >>> import numpy as np
    >>> grads = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> MGDA()(grads).numpy().tolist()
    [0.5, 0.5]
    """

    def __init__(self, max_iterations=250, tolerance=1e-6):
        if (
            isinstance(max_iterations, bool)
            or not isinstance(max_iterations, int)
            or max_iterations < 1
        ):
            raise ValueError(
                "`max_iterations` must be a positive int. Received: "
                f"max_iterations={max_iterations!r}"
            )
        if not isinstance(tolerance, (int, float)) or not tolerance > 0:
            raise ValueError(
                "`tolerance` must be a positive number. Received: "
                f"tolerance={tolerance!r}"
            )
        self.max_iterations = max_iterations
        self.tolerance = float(tolerance)

    def combine(self, grads, step):
        gram = tf.matmul(grads, grads, transpose_b=True)
        alpha, ok = min_norm_weights(
            gram, self.max_iterations, self.tolerance
        )
        direction = tf.linalg.matvec(
            grads, tf.cast(alpha, "float32"), transpose_a=True
        )
        # Loud failure: the assertion raises in graph mode; under XLA it
        # is dropped and the NaN update makes the logged loss NaN.
        tf.debugging.Assert(
            ok,
            [
                "MGDA: the Frank-Wolfe min-norm solver failed (non-finite "
                "task gradients, or no convergence within max_iterations="
                f"{self.max_iterations}, tolerance={self.tolerance}). "
                "Task-gradient Gram matrix:",
                gram,
            ],
            summarize=100,
        )
        return tf.where(ok, direction, float("nan"))

    def get_config(self):
        return {
            "max_iterations": self.max_iterations,
            "tolerance": self.tolerance,
        }


def min_norm_weights(gram, max_iterations=250, tolerance=1e-6):
    """Minimises `alpha^T M alpha` over the simplex (away-step Frank-Wolfe).

    Args:
        gram: `(T, T)` Gram matrix `M = G G^T` of the task gradients.
        max_iterations: int. Most Frank-Wolfe steps.
        tolerance: float. Stop when the duality gap is at most this times
            `max(diag(M))`.

    Returns:
        `(alpha, ok)`: float64 `(T,)` weights on the simplex and a bool
        scalar, False when `gram` is not finite or the gap was not reached.

    Example:

    >>> import numpy as np
    >>> alpha, ok = min_norm_weights(np.array([[4.0, 0.0], [0.0, 1.0]]))
    >>> alpha.numpy().round(6).tolist(), bool(ok)
    ([0.2, 0.8], True)
    """
    gram = tf.cast(tf.convert_to_tensor(gram), "float64")
    num_tasks = gram.shape[0]
    finite = tf.reduce_all(tf.math.is_finite(gram))
    gram = tf.where(finite, gram, tf.zeros_like(gram))
    scale = tf.reduce_max(tf.linalg.diag_part(gram))
    # All-zero gradients: any alpha gives d = 0; scale 1 avoids 0 / 0.
    gram = gram / tf.where(scale > 0.0, scale, 1.0)
    eye = tf.eye(num_tasks, dtype="float64")

    def gap_of(alpha):
        grad = tf.linalg.matvec(gram, alpha)
        return tf.reduce_sum(alpha * grad) - tf.reduce_min(grad)

    def body(iteration, alpha, gap):
        grad = tf.linalg.matvec(gram, alpha)
        value = tf.reduce_sum(alpha * grad)
        toward = tf.argmin(grad)
        support = alpha > 0.0
        away = tf.argmax(tf.where(support, grad, -float("inf")))
        away_gap = tf.gather(grad, away) - value
        use_fw = gap >= away_gap
        away_weight = tf.gather(alpha, away)
        direction = tf.where(
            use_fw,
            tf.gather(eye, toward) - alpha,
            alpha - tf.gather(eye, away),
        )
        max_step = tf.where(
            use_fw,
            tf.constant(1.0, "float64"),
            tf.math.divide_no_nan(away_weight, 1.0 - away_weight),
        )
        slope = tf.reduce_sum(direction * grad)
        curvature = tf.reduce_sum(
            direction * tf.linalg.matvec(gram, direction)
        )
        step = tf.where(
            curvature > 0.0,
            tf.clip_by_value(
                tf.math.divide_no_nan(-slope, curvature), 0.0, max_step
            ),
            tf.where(slope < 0.0, max_step, 0.0),
        )
        alpha = alpha + step * direction
        # A full away step drops a vertex: make its weight exactly 0.
        dropped = tf.logical_and(
            tf.logical_not(use_fw), step >= max_step
        )
        is_away = tf.equal(tf.range(num_tasks, dtype=away.dtype), away)
        alpha = tf.where(
            tf.logical_and(dropped, is_away),
            tf.constant(0.0, "float64"),
            tf.maximum(alpha, 0.0),
        )
        alpha = alpha / tf.reduce_sum(alpha)
        return iteration + 1, alpha, gap_of(alpha)

    alpha = tf.fill((num_tasks,), tf.constant(1.0 / num_tasks, "float64"))
    _, alpha, gap = tf.while_loop(
        lambda i, a, g: tf.logical_and(i < max_iterations, g > tolerance),
        body,
        (tf.constant(0), alpha, gap_of(alpha)),
        maximum_iterations=max_iterations,
    )
    return alpha, tf.logical_and(finite, gap <= tolerance)
