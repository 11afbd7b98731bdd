import keras
import numpy as np
import pytest
from absl.testing import parameterized

from keras_mtcrl.layers import TaskHead
from keras_mtcrl.testing import TestCase


class TaskHeadTest(TestCase, parameterized.TestCase):
    @parameterized.named_parameters(
        ("binary", "binary", 1),
        ("multiclass", "multiclass", 4),
        ("multilabel", "multilabel", 3),
        ("regression", "regression", 2),
    )
    def test_layer_contract(self, kind, units):
        self.run_layer_test(
            TaskHead,
            {"kind": kind, "units": units, "hidden_units": (5,)},
            np.ones((2, 6), "float32"),
            (2, units),
            expected_num_trainable_weights=4,
        )

    def test_output_activation_by_kind(self):
        x = np.random.default_rng(0).normal(size=(5, 4)).astype("float32")
        probs = TaskHead("multiclass", 3)(x).numpy()
        self.assertAllClose(probs.sum(-1), np.ones(5), atol=1e-5)
        binary = TaskHead("binary")(x).numpy()
        self.assertTrue(((binary > 0) & (binary < 1)).all())
        values = TaskHead("regression", 1)(x * 100).numpy()
        self.assertTrue((np.abs(values) > 1).any())

    def test_dense_head_with_decoder(self):
        decoder = keras.Sequential([keras.layers.Conv2D(4, 3, padding="same")])
        head = TaskHead("multiclass", 5, network=decoder)
        self.assertEqual(
            tuple(head(np.ones((2, 6, 6, 8), "float32")).shape), (2, 6, 6, 5)
        )
        self.run_serialization_test(head)

    def test_output_is_float32_under_mixed_precision(self):
        head = TaskHead("multiclass", 3, dtype="mixed_float16")
        self.assertEqual(head(np.ones((1, 4), "float32")).dtype, "float32")

    def test_bad_arguments(self):
        with pytest.raises(ValueError, match="kind"):
            TaskHead("ranking")
        with pytest.raises(ValueError, match="units=1"):
            TaskHead("binary", units=2)
        with pytest.raises(ValueError, match="dropout"):
            TaskHead("binary", dropout=1.5)
