"""The project's TestCase: shared checks for layers and models."""

import json
import os
import tempfile
import unittest

import keras
import numpy as np


class TestCase(unittest.TestCase):
    """`unittest.TestCase` with the checks every keras_mtcrl layer passes.

    Example:

    >>> import numpy as np
    >>> case = TestCase()
    >>> case.assertAllClose(np.ones(2), [1.0, 1.0])
    """

    def setUp(self):
        keras.utils.set_random_seed(1337)

    def assertAllClose(self, actual, expected, atol=1e-6, rtol=1e-6, msg=None):
        if isinstance(actual, dict) or isinstance(expected, dict):
            self.assertEqual(sorted(actual), sorted(expected), msg)
            for key in actual:
                self.assertAllClose(
                    actual[key], expected[key], atol, rtol, msg or key
                )
            return
        np.testing.assert_allclose(
            np.asarray(actual), np.asarray(expected), atol=atol, rtol=rtol,
            err_msg=msg or "",
        )

    def run_serialization_test(self, instance):
        """Config round trip through JSON, and the registered name."""
        config = instance.get_config()
        json.dumps(keras.saving.serialize_keras_object(instance))
        revived = instance.__class__.from_config(config)
        self.assertEqual(
            keras.saving.serialize_keras_object(revived)["config"],
            keras.saving.serialize_keras_object(instance)["config"],
        )
        name = keras.saving.get_registered_name(instance.__class__)
        self.assertTrue(name.startswith("keras_mtcrl>"), name)
        return revived

    def run_layer_test(
        self,
        layer_cls,
        init_kwargs,
        input_data,
        expected_output_shape,
        expected_num_trainable_weights=None,
    ):
        """Builds, calls, serializes and rebuilds a layer; checks shapes."""
        layer = layer_cls(**init_kwargs)
        output = layer(input_data)
        shapes = keras.tree.map_structure(lambda t: tuple(t.shape), output)
        self.assertEqual(shapes, expected_output_shape)
        if expected_num_trainable_weights is not None:
            self.assertLen(
                layer.trainable_weights, expected_num_trainable_weights
            )
        revived = self.run_serialization_test(layer)
        revived(input_data)
        self.assertEqual(len(revived.weights), len(layer.weights))
        return layer

    def run_model_saving_test(self, model, input_data, atol=1e-6):
        """Saves as `.keras`, loads without custom objects, compares."""
        expected = model.predict(input_data, verbose=0)
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "model.keras")
            model.save(path)
            revived = keras.saving.load_model(path)
        self.assertIsInstance(revived, model.__class__)
        self.assertAllClose(
            revived.predict(input_data, verbose=0), expected, atol=atol
        )
        return revived

    def assertLen(self, container, length):
        self.assertEqual(len(container), length)
