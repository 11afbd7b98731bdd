"""The public API: everything exported is registered for serialization."""

import inspect

import keras

import keras_mtcrl
from keras_mtcrl.testing import TestCase


class PublicApiTest(TestCase):
    def test_version(self):
        self.assertRegex(keras_mtcrl.__version__, r"^\d+\.\d+\.\d+$")

    def test_every_exported_class_is_registered(self):
        classes = [
            getattr(keras_mtcrl, name)
            for name in keras_mtcrl.__all__
            if inspect.isclass(getattr(keras_mtcrl, name))
        ]
        serializable = [
            cls for cls in classes
            if issubclass(cls, (keras.layers.Layer, keras.metrics.Metric))
            or hasattr(cls, "get_config")
        ]
        self.assertGreaterEqual(len(serializable), 10)
        for cls in serializable:
            name = keras.saving.get_registered_name(cls)
            self.assertTrue(
                name.startswith("keras_mtcrl>"), f"{cls.__name__}: {name}"
            )

    def test_all_names_exist(self):
        for name in keras_mtcrl.__all__:
            self.assertTrue(hasattr(keras_mtcrl, name), name)
