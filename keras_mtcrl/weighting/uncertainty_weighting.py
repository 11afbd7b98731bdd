"""Uncertainty weighting: learned homoscedastic noise per task."""

import keras
from keras import ops

from keras_mtcrl.api_export import keras_mtcrl_export
from keras_mtcrl.weighting.loss_weighting import LossWeighting


@keras_mtcrl_export
class UncertaintyWeighting(LossWeighting):
    """Weights each task by its learned homoscedastic uncertainty.

    Kendall, Gal and Cipolla, "Multi-Task Learning Using Uncertainty to
    Weigh Losses for Scene Geometry and Semantics", CVPR 2018. Each task
    has a trainable log-variance `s_t = log sigma_t^2` and the objective
    is `sum_t 0.5 exp(-s_t) R_t + 0.5 s_t` (the paper's Gaussian
    likelihood form, used here for every task kind), so
    `lambda_t = 0.5 exp(-s_t)`. For fixed losses the optimum is
    `sigma_t^2 = R_t`: noisier tasks get a larger `sigma` and a smaller
    weight. The `s_t` are the weight `log_variances`, trained by the
    model's optimizer with everything else.

    Args:
        initial_log_variance: float. Initial `s_t`. Defaults to `0.0`.
        **kwargs: base layer keyword arguments.

    Example:

    >>> import numpy as np
    >>> weighting = UncertaintyWeighting()
    >>> weighting(np.ones(2, "float32")).numpy().tolist()
    [0.5, 0.5]
    """

    def __init__(self, initial_log_variance=0.0, **kwargs):
        super().__init__(**kwargs)
        if isinstance(initial_log_variance, bool) or not isinstance(
            initial_log_variance, (int, float)
        ):
            raise ValueError(
                "`initial_log_variance` must be a number. Received: "
                f"initial_log_variance={initial_log_variance!r}"
            )
        self.initial_log_variance = float(initial_log_variance)

    def build(self, input_shape):
        super().build(input_shape)
        self.log_variances = self.add_weight(
            name="log_variances",
            shape=(self.num_tasks,),
            initializer=keras.initializers.Constant(
                self.initial_log_variance
            ),
        )

    def call(self, losses, step=None, training=None):
        return 0.5 * ops.exp(-ops.convert_to_tensor(self.log_variances))

    def regularization(self):
        return 0.5 * ops.sum(self.log_variances)

    def sigmas(self):
        """Returns `sigma_t = exp(s_t / 2)` as a float32 tensor."""
        return ops.exp(0.5 * ops.convert_to_tensor(self.log_variances))

    def get_config(self):
        config = super().get_config()
        config["initial_log_variance"] = self.initial_log_variance
        return config
