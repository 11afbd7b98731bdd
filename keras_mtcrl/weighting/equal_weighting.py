"""Equal weighting: every task's loss counts once."""

from keras import ops

from keras_mtcrl.api_export import keras_mtcrl_export
from keras_mtcrl.weighting.loss_weighting import LossWeighting


@keras_mtcrl_export
class EqualWeighting(LossWeighting):
    """The plain sum of the task losses: `lambda_t = 1`.

    The baseline every other weighting is compared with; a model with it
    trains exactly like one without a loss weighting (and logs the
    weights).

    Args:
        **kwargs: base layer keyword arguments.

    Example:

    >>> import numpy as np
    >>> EqualWeighting()(np.array([3.0, 0.5], "float32")).numpy().tolist()
    [1.0, 1.0]
    """

    def call(self, losses, step=None, training=None):
        return ops.ones_like(losses)
