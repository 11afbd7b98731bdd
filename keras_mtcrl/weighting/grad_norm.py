"""GradNorm: learn weights that balance the tasks' gradient norms."""

import tensorflow as tf
from keras import ops

from keras_mtcrl.api_export import keras_mtcrl_export
from keras_mtcrl.weighting.loss_weighting import LossWeighting


@keras_mtcrl_export
class GradNorm(LossWeighting):
    """Adaptive weights that equalise the tasks' training rates.

    Chen et al., "GradNorm: Gradient Normalization for Adaptive Loss
    Balancing in Deep Multitask Networks", ICML 2018. With `n_t` the norm
    of task `t`'s loss gradient with respect to the shared parameters,
    `G_t = lambda_t n_t`, `G_bar` their mean, and the relative inverse
    training rate `r_t = (R_t / R_t(0)) / mean_j (R_j / R_j(0))`, the
    weights follow the gradient of
    `L_grad = sum_t |G_t - G_bar r_t^alpha|` (the target held constant),
    and after each step are renormalised to sum to `T`. A larger `alpha`
    pulls harder toward equal training rates; at `alpha = 0` the target
    is equal gradient norms.

    The weights `lambda` (the weight `task_weights`) are trained by the
    model's optimizer from `L_grad` only: the task losses do not push on
    them. `R_t(0)` is the first training batch's loss (weights
    `initial_losses`, `has_initial_losses`). The shared parameters are
    all of them that two tasks' losses reach (see
    `keras_mtcrl.gradients.task_gradients`), so the model takes one
    gradient per task at each step. Weights are kept >= `1e-3 T` before
    renormalising.

    Args:
        alpha: float. Restoring-force strength, >= 0. Defaults to `1.5`.
        **kwargs: base layer keyword arguments.

    Example:

    >>> import numpy as np
    >>> weighting = GradNorm(alpha=0.0)
    >>> weighting.build((2,))
    >>> grads = weighting.auxiliary_gradients(
    ...     np.ones(2, "float32"), np.array([1.0, 3.0], "float32"))
    >>> grads[0][0].numpy().tolist()
    [-1.0, 3.0]
    """

    needs_task_gradients = True

    def __init__(self, alpha=1.5, **kwargs):
        super().__init__(**kwargs)
        if (
            isinstance(alpha, bool)
            or not isinstance(alpha, (int, float))
            or alpha < 0
        ):
            raise ValueError(
                f"`alpha` must be a non-negative number. Received: "
                f"alpha={alpha!r}"
            )
        self.alpha = float(alpha)

    def build(self, input_shape):
        super().build(input_shape)
        self.task_weights = self.add_weight(
            name="task_weights",
            shape=(self.num_tasks,),
            initializer="ones",
            aggregation="only_first_replica",
        )
        self.initial_losses = self.add_weight(
            name="initial_losses",
            shape=(self.num_tasks,),
            initializer="ones",
            trainable=False,
            aggregation="only_first_replica",
        )
        self.has_initial_losses = self.add_weight(
            name="has_initial_losses",
            shape=(),
            initializer="zeros",
            trainable=False,
            aggregation="only_first_replica",
        )

    def call(self, losses, step=None, training=None):
        return ops.stop_gradient(ops.convert_to_tensor(self.task_weights))

    def auxiliary_gradients(self, losses, norms):
        losses = tf.cast(losses, "float32")
        norms = tf.cast(norms, "float32")
        initial = tf.where(
            self.has_initial_losses > 0.0,
            tf.convert_to_tensor(self.initial_losses),
            losses,
        )
        self.initial_losses.assign(initial)
        self.has_initial_losses.assign(1.0)
        ratios = tf.math.divide_no_nan(losses, initial)
        relative = tf.math.divide_no_nan(ratios, tf.reduce_mean(ratios))
        weighted_norms = tf.convert_to_tensor(self.task_weights) * norms
        target = tf.reduce_mean(weighted_norms) * relative**self.alpha
        gradient = tf.sign(weighted_norms - target) * norms
        return [(gradient, self.task_weights)]

    def after_step(self):
        weights = tf.maximum(
            tf.convert_to_tensor(self.task_weights), 1e-3 * self.num_tasks
        )
        self.task_weights.assign(
            self.num_tasks * weights / tf.reduce_sum(weights)
        )

    def get_config(self):
        config = super().get_config()
        config["alpha"] = self.alpha
        return config
