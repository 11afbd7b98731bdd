"""Look-up of loss weightings by name or serialized config."""

import keras

from keras_mtcrl.weighting.dynamic_weight_average import DynamicWeightAverage
from keras_mtcrl.weighting.equal_weighting import EqualWeighting
from keras_mtcrl.weighting.grad_norm import GradNorm
from keras_mtcrl.weighting.loss_weighting import LossWeighting
from keras_mtcrl.weighting.random_loss_weighting import RandomLossWeighting
from keras_mtcrl.weighting.uncertainty_weighting import UncertaintyWeighting

NAMES = {
    "equal": EqualWeighting,
    "uncertainty": UncertaintyWeighting,
    "dwa": DynamicWeightAverage,
    "gradnorm": GradNorm,
    "rlw": RandomLossWeighting,
}


def get(identifier):
    """Returns a `LossWeighting` from a name, a config or an instance.

    Args:
        identifier: None, a `LossWeighting`, a name (`"equal"`,
            `"uncertainty"`, `"dwa"`, `"gradnorm"`, `"rlw"`) or a dict from
            `keras.saving.serialize_keras_object`.

    Returns:
        None or a `LossWeighting`.

    Example:

    >>> type(get("dwa")).__name__
    'DynamicWeightAverage'
    """
    if identifier is None or isinstance(identifier, LossWeighting):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in NAMES:
        return NAMES[identifier.lower()]()
    if isinstance(identifier, dict):
        weighting = keras.saving.deserialize_keras_object(identifier)
        if isinstance(weighting, LossWeighting):
            return weighting
    raise ValueError(
        "`loss_weighting` must be None, a LossWeighting or one of "
        f"{sorted(NAMES)}. Received: loss_weighting={identifier!r}"
    )
