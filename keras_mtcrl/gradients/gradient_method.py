"""Base class of the methods that combine per-task gradients."""

import tensorflow as tf

from keras_mtcrl.api_export import keras_mtcrl_export


@keras_mtcrl_export
class GradientMethod:
    """Combines the tasks' gradients of the shared parameters into one.

    Multi-task gradient methods (PCGrad, CAGrad, MGDA, IMTL) act on the
    gradients `g_t` of each task's loss with respect to the parameters
    the tasks share, and replace their sum by one update direction `d`.
    Give one to a model as `MultiTaskModel(..., gradient_method=...)`:
    the training step then computes one gradient per task (one backward
    pass each), hands the `(T, P)` matrix of the shared parameters'
    gradients to `combine`, and applies `d` with the usual gradients of
    the task-specific parameters and of the MT-CRL penalties.

    Subclasses implement `combine(grads, step)` and `get_config()`.

    Args:
        None. Subclasses take their own options (e.g. CAGrad's `c`).

    Call arguments:
        grads: float tensor `(T, P)`: row `t` is task `t`'s gradient,
            flattened.
        step: int scalar tensor. The optimizer step (seeds any
            randomness, so every replica draws the same numbers).

    Returns:
        Float32 tensor `(P,)`, the update direction.

    Example:

    >>> import numpy as np
    >>> class Sum(GradientMethod):
    ...     def combine(self, grads, step):
    ...         return tf.reduce_sum(grads, axis=0)
    >>> Sum()(np.array([[1.0, 2.0], [3.0, 4.0]])).numpy().tolist()
    [4.0, 6.0]
    """

    def __call__(self, grads, step=0):
        grads = tf.cast(tf.convert_to_tensor(grads), "float32")
        if grads.shape.rank != 2:
            raise ValueError(
                "`grads` must be a (num_tasks, num_parameters) matrix. "
                f"Received shape {grads.shape}"
            )
        step = tf.cast(tf.convert_to_tensor(step), "int64")
        return self.combine(grads, step)

    def combine(self, grads, step):
        raise NotImplementedError(
            f"{type(self).__name__} must implement `combine`."
        )

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
