import keras
import numpy as np
import pytest

from keras_mtcrl.layers import ChannelGroupEncoder
from keras_mtcrl.testing import TestCase


def conv_backbone():
    return keras.Sequential(
        [keras.layers.Conv2D(6, 3, padding="same", activation="relu")]
    )


class ChannelGroupEncoderTest(TestCase):
    def test_layer_contract_with_feature_maps(self):
        encoder = self.run_layer_test(
            ChannelGroupEncoder,
            {"backbone": conv_backbone(), "num_modules": 3},
            np.ones((2, 5, 5, 1), "float32"),
            (2, 5, 5, 6),
            expected_num_trainable_weights=2,
        )
        self.assertEqual(encoder.module_width, 2)

    def test_output_is_the_backbone_output(self):
        backbone = keras.Sequential([keras.layers.Dense(4)])
        encoder = ChannelGroupEncoder(backbone, num_modules=2)
        x = np.random.default_rng(0).normal(size=(3, 2)).astype("float32")
        self.assertAllClose(encoder(x), backbone(x))

    def test_indivisible_width_is_a_clear_error(self):
        encoder = ChannelGroupEncoder(
            keras.Sequential([keras.layers.Dense(5)]), num_modules=2
        )
        with pytest.raises(ValueError, match="width \\(5.*num_modules=2"):
            encoder(np.ones((1, 3), "float32"))

    def test_backbone_must_be_a_layer(self):
        with pytest.raises(TypeError, match="backbone"):
            ChannelGroupEncoder(lambda x: x, num_modules=2)
