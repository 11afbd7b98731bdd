"""Clear errors from `from_config` when a config lacks a field."""

import functools


def names_missing_fields(from_config):
    """Decorates a `from_config` classmethod's function: a `KeyError` for a
    missing field becomes a `ValueError` naming the field and the class.

    Example:

    >>> class Box:
    ...     @classmethod
    ...     @names_missing_fields
    ...     def from_config(cls, config):
    ...         return config["size"]
    >>> Box.from_config({"colour": "red"})
    Traceback (most recent call last):
    ...
    ValueError: Box config lacks the field 'size'. ...
    """

    @functools.wraps(from_config)
    def wrapped(cls, config, *args, **kwargs):
        try:
            return from_config(cls, config, *args, **kwargs)
        except KeyError as error:
            field = error.args[0] if error.args else "?"
            given = sorted(config) if isinstance(config, dict) else config
            raise ValueError(
                f"{cls.__name__} config lacks the field {field!r}. Fields "
                f"given: {given}. Save the model again with this version, "
                f"or add {field!r} to the config."
            ) from None

    return wrapped
