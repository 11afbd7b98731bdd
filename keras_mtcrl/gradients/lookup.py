"""Look-up of gradient methods by name or serialized config."""

import keras

from keras_mtcrl.gradients.cagrad import CAGrad
from keras_mtcrl.gradients.gradient_method import GradientMethod
from keras_mtcrl.gradients.imtl import IMTL
from keras_mtcrl.gradients.mgda import MGDA
from keras_mtcrl.gradients.pcgrad import PCGrad

NAMES = {"pcgrad": PCGrad, "cagrad": CAGrad, "mgda": MGDA, "imtl": IMTL}


def get(identifier):
    """Returns a `GradientMethod` from a name, a config or an instance.

    Args:
        identifier: None, a `GradientMethod`, a name (`"pcgrad"`,
            `"cagrad"`, `"mgda"`, `"imtl"`) or a dict from
            `keras.saving.serialize_keras_object`.

    Returns:
        None or a `GradientMethod`.

    Example:

    >>> type(get("pcgrad")).__name__
    'PCGrad'
    """
    if identifier is None or isinstance(identifier, GradientMethod):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in NAMES:
        return NAMES[identifier.lower()]()
    if isinstance(identifier, dict):
        method = keras.saving.deserialize_keras_object(identifier)
        if isinstance(method, GradientMethod):
            return method
    raise ValueError(
        "`gradient_method` must be None, a GradientMethod or one of "
        f"{sorted(NAMES)}. Received: gradient_method={identifier!r}"
    )
