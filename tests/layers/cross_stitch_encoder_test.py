import numpy as np
import pytest
import tensorflow as tf

from keras_mtcrl.layers.cross_stitch_encoder import CrossStitchEncoder
from keras_mtcrl.testing import TestCase


class CrossStitchEncoderTest(TestCase):
    def test_layer_contract(self):
        # 3 columns x 2 Dense layers (12 weights) + 2 stitch matrices.
        layer = self.run_layer_test(
            CrossStitchEncoder,
            {"num_columns": 3, "hidden_units": (4, 2)},
            np.ones((2, 5), "float32"),
            (2, 6),
            expected_num_trainable_weights=14,
        )
        self.assertEqual(layer.num_modules, 3)
        self.assertEqual(layer.stitches[0].shape, (3, 3))
        self.assertAllClose(np.sum(layer.stitches[1].numpy(), axis=1), 1.0)

    def test_stitch_mixes_columns_by_hand(self):
        encoder = CrossStitchEncoder(
            num_columns=2, hidden_units=(1,), self_weight=0.9
        )
        encoder.build((None, 2))
        # Column outputs relu(x . w): 1 and 3 for x = (1, 1).
        encoder.columns[0][0].set_weights([np.full((2, 1), 0.5), np.zeros(1)])
        encoder.columns[1][0].set_weights([np.full((2, 1), 1.5), np.zeros(1)])
        out = encoder(np.ones((1, 2), "float32")).numpy()
        self.assertAllClose(
            out, [[0.9 * 1 + 0.1 * 3, 0.1 * 1 + 0.9 * 3]], atol=1e-6
        )

    def test_identity_stitch_keeps_columns_apart(self):
        encoder = CrossStitchEncoder(
            num_columns=2, hidden_units=(3, 3), self_weight=1.0
        )
        x = np.random.default_rng(0).normal(size=(4, 2)).astype("float32")
        encoder(x)
        other = encoder.columns[1][0].trainable_variables
        with tf.GradientTape() as tape:
            first_column = encoder(x)[:, :3]
        grads = tape.gradient(first_column, other + encoder.stitches)
        self.assertAllClose(grads[0], np.zeros((2, 3)))
        # ... but the stitch weights are learned from the start.
        self.assertGreater(float(tf.reduce_max(tf.abs(grads[2]))), 0.0)

    def test_errors(self):
        with pytest.raises(ValueError, match="num_columns=0"):
            CrossStitchEncoder(num_columns=0)
        with pytest.raises(ValueError, match="self_weight=1.5"):
            CrossStitchEncoder(num_columns=2, self_weight=1.5)
        with pytest.raises(ValueError, match="hidden_units"):
            CrossStitchEncoder(num_columns=2, hidden_units=())
