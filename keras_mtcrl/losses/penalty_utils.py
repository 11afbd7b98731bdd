"""Argument checks and look-ups shared by the penalty classes."""

import keras


def check_non_negative(value, name):
    """Raises a ValueError naming `name` unless `value` is a number >= 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(
            f"`{name}` must be a non-negative number. Received: "
            f"{name}={value!r}"
        )
    if not value >= 0:
        raise ValueError(
            f"`{name}` must be a non-negative number. Received: "
            f"{name}={value!r}"
        )


def get_penalty(identifier, cls):
    """Resolves `None`, a serialized config or an instance of `cls`.

    Args:
        identifier: None, a `cls` instance, or a dict from
            `keras.saving.serialize_keras_object`.
        cls: type. The expected penalty class.

    Returns:
        None or a `cls` instance.
    """
    if identifier is None or isinstance(identifier, cls):
        return identifier
    if isinstance(identifier, dict):
        penalty = keras.saving.deserialize_keras_object(identifier)
        if isinstance(penalty, cls):
            return penalty
    raise TypeError(
        f"Expected a {cls.__name__} or None. Received: {identifier!r}"
    )
