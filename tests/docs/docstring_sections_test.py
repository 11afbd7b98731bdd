"""Every public class documents its arguments and shows an example."""

import importlib
import inspect

import pytest

MODULES = (
    "keras_mtcrl",
    "keras_mtcrl.callbacks",
    "keras_mtcrl.datasets.tfds_builders",
    "keras_mtcrl.export",
    "keras_mtcrl.gradients",
    "keras_mtcrl.layers",
    "keras_mtcrl.losses",
    "keras_mtcrl.metrics",
    "keras_mtcrl.models",
    "keras_mtcrl.training",
    "keras_mtcrl.tuning",
    "keras_mtcrl.weighting",
)


def _public_classes():
    seen = {}
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            value = getattr(module, name)
            if inspect.isclass(value):
                seen.setdefault(value, f"{module_name}.{name}")
    return sorted(seen.items(), key=lambda item: item[1])


CLASSES = _public_classes()


def test_the_public_api_has_classes():
    assert len(CLASSES) >= 15


@pytest.mark.parametrize(
    "cls", [c for c, _ in CLASSES], ids=[path for _, path in CLASSES]
)
def test_docstring_has_args_and_example(cls):
    doc = inspect.getdoc(cls) or ""
    # The class's own docstring, not one inherited from a Keras base.
    assert cls.__doc__, f"{cls.__qualname__} has no docstring"
    assert "Args:" in doc, f"{cls.__qualname__}: no 'Args:' section"
    assert "Example:" in doc, f"{cls.__qualname__}: no 'Example:' section"
