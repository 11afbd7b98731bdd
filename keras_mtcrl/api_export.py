"""The one decorator that makes a public class serializable in keras_mtcrl."""

import keras

PACKAGE = "keras_mtcrl"


def keras_mtcrl_export(cls):
    """Registers `cls` for Keras serialization as `keras_mtcrl>ClassName`.

    Every public layer, model and penalty is decorated with this, so a
    `.keras` file written by `model.save` loads with
    `keras.saving.load_model` and no `custom_objects`.

    Args:
        cls: type. The class to register.

    Returns:
        The same class, registered.

    Example:

    >>> import keras
    >>> @keras_mtcrl_export
    ... class Doubler(keras.layers.Layer):
    ...     def call(self, x):
    ...         return 2 * x
    >>> keras.saving.get_registered_name(Doubler)
    'keras_mtcrl>Doubler'
    """
    return keras.saving.register_keras_serializable(package=PACKAGE)(cls)
