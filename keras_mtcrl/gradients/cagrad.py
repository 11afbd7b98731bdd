"""CAGrad: the update that most improves the worst-off task near the mean."""

import tensorflow as tf

from keras_mtcrl.api_export import keras_mtcrl_export
from keras_mtcrl.gradients.gradient_method import GradientMethod


@keras_mtcrl_export
class CAGrad(GradientMethod):
    """Conflict-Averse Gradient descent.

    Liu et al., "Conflict-Averse Gradient Descent for Multi-task
    Learning", NeurIPS 2021. Within a ball around the mean gradient
    `g0 = mean_t g_t`, CAGrad takes the direction that maximises the
    smallest local improvement of any task:
    `d = argmax_{||d - g0|| <= c ||g0||} min_t g_t . d`. Through its dual,
    `d = g0 + (c ||g0|| / ||g_w||) g_w` with `g_w = sum_t w_t g_t` and
    `w = argmin_{w in simplex} g_w . g0 + c ||g0|| ||g_w||`. With `c = 0`
    it is plain gradient descent on the mean loss; larger `c` moves toward
    the min-norm direction of MGDA. Like the paper, the update is on the
    scale of the *mean* task gradient.

    The convex problem in `w` is solved on the `T x T` Gram matrix by
    Frank-Wolfe with exact (closed-form) line search, in float64; for two
    tasks one step is exact.

    Args:
        c: float. Radius of the ball, relative to `||g0||`, >= 0. Defaults
            to `0.4`.
        num_steps: int. Frank-Wolfe steps of the inner solver. Defaults to
            `50`.
        rescale: bool. Divide `d` by `1 + c^2`, as the authors' code does
            to keep the step size comparable across `c`. Defaults to
            `False` (the paper's update).

    Example:

    >>> import numpy as np
    >>> grads = np.array([[1.0, 0.0], [0.0, 3.0]])
    >>> CAGrad(c=0.0)(grads).numpy().tolist()
    [0.5, 1.5]
    """

    def __init__(self, c=0.4, num_steps=50, rescale=False):
        if isinstance(c, bool) or not isinstance(c, (int, float)) or c < 0:
            raise ValueError(
                f"`c` must be a non-negative number. Received: c={c!r}"
            )
        if (
            isinstance(num_steps, bool)
            or not isinstance(num_steps, int)
            or num_steps < 1
        ):
            raise ValueError(
                "`num_steps` must be a positive int. Received: "
                f"num_steps={num_steps!r}"
            )
        self.c = float(c)
        self.num_steps = num_steps
        self.rescale = bool(rescale)

    def task_weights(self, gram):
        """Returns the dual weights `w` (float64 `(T,)`) for Gram `G G^T`."""
        gram = tf.cast(gram, "float64")
        num_tasks = gram.shape[0]
        mean = tf.fill((num_tasks,), tf.constant(1.0 / num_tasks, "float64"))
        mean_gram = tf.linalg.matvec(gram, mean)
        radius = self.c * tf.sqrt(
            tf.maximum(tf.reduce_sum(mean * mean_gram), 0.0)
        )
        eye = tf.eye(num_tasks, dtype="float64")

        def body(w):
            gram_w = tf.linalg.matvec(gram, w)
            norm_w = tf.sqrt(tf.maximum(tf.reduce_sum(w * gram_w), 0.0))
            grad = mean_gram + radius * tf.math.divide_no_nan(gram_w, norm_w)
            direction = tf.gather(eye, tf.argmin(grad)) - w
            step = _line_search(gram, mean_gram, radius, w, direction)
            return (w + step * direction,)

        return tf.while_loop(
            lambda w: True, body, (mean,), maximum_iterations=self.num_steps
        )[0]

    def combine(self, grads, step):
        gram = tf.matmul(grads, grads, transpose_b=True)
        num_tasks = grads.shape[0]
        mean_grad = tf.reduce_mean(grads, axis=0)
        if self.c == 0.0:
            return mean_grad
        w = self.task_weights(gram)
        gram = tf.cast(gram, "float64")
        norm_w = tf.sqrt(
            tf.maximum(tf.reduce_sum(w * tf.linalg.matvec(gram, w)), 0.0)
        )
        norm_mean = tf.sqrt(tf.maximum(tf.reduce_sum(gram), 0.0)) / num_tasks
        scale = tf.cast(
            tf.math.divide_no_nan(self.c * norm_mean, norm_w), "float32"
        )
        direction = mean_grad + scale * tf.linalg.matvec(
            grads, tf.cast(w, "float32"), transpose_a=True
        )
        if self.rescale:
            direction = direction / (1.0 + self.c**2)
        return direction

    def get_config(self):
        return {
            "c": self.c,
            "num_steps": self.num_steps,
            "rescale": self.rescale,
        }


def _line_search(gram, mean_gram, radius, w, direction):
    """Exact minimiser on [0, 1] of `F(w + s direction)`, where
    `F(w) = w . M b + radius ||G^T w||` (linear plus a norm)."""
    slope = tf.reduce_sum(direction * mean_gram)
    gram_w = tf.linalg.matvec(gram, w)
    q0 = tf.maximum(tf.reduce_sum(w * gram_w), 0.0)
    q1 = tf.reduce_sum(direction * gram_w)
    q2 = tf.maximum(
        tf.reduce_sum(direction * tf.linalg.matvec(gram, direction)), 0.0
    )
    # F(s) = const + slope s + radius sqrt(q2 s^2 + 2 q1 s + q0): with
    # u = q1 + s q2 and D = q0 q2 - q1^2, F'(s) = 0 where
    # u^2 (radius^2 q2 - slope^2) = slope^2 D and sign(u) = -sign(slope).
    spread = tf.maximum(q0 * q2 - q1 * q1, 0.0)
    room = radius * radius * q2 - slope * slope
    u = -tf.sign(slope) * tf.abs(slope) * tf.sqrt(
        tf.math.divide_no_nan(spread, room)
    )
    stationary = tf.math.divide_no_nan(u - q1, q2)
    # Without an interior stationary point F is monotone on the segment:
    # compare the ends and the stationary point, keep the best.
    candidates = tf.stack(
        [
            tf.constant(0.0, "float64"),
            tf.constant(1.0, "float64"),
            tf.clip_by_value(
                tf.where(room > 0.0, stationary, 0.0), 0.0, 1.0
            ),
        ]
    )
    values = slope * candidates + radius * tf.sqrt(
        tf.maximum(q2 * candidates**2 + 2.0 * q1 * candidates + q0, 0.0)
    )
    return tf.gather(candidates, tf.argmin(values))
