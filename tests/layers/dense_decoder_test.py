import numpy as np
import pytest

from keras_mtcrl.layers.dense_decoder import DenseDecoder
from keras_mtcrl.layers.task_head import TaskHead
from keras_mtcrl.testing import TestCase


class DenseDecoderTest(TestCase):
    def test_layer_contract(self):
        # One unit at the input resolution plus one per 2x upsampling.
        self.run_layer_test(
            DenseDecoder,
            {"upsampling": 4, "filters": 5},
            np.ones((2, 3, 2, 6), "float32"),
            (2, 12, 8, 5),
            expected_num_trainable_weights=3 * 3,
        )

    def test_no_upsampling_keeps_the_resolution(self):
        decoder = DenseDecoder(upsampling=1, filters=3, batch_norm=False)
        self.assertEqual(
            tuple(decoder(np.ones((1, 5, 7, 2))).shape), (1, 5, 7, 3)
        )
        self.assertLen(decoder.trainable_weights, 2)

    def test_bilinear_upsampling_by_hand(self):
        # Identity 3x3 kernels and a linear activation leave only the
        # bilinear 2x upsampling (half-pixel centres): [0, 1] becomes
        # [0, 0.25, 0.75, 1].
        decoder = DenseDecoder(
            upsampling=2, filters=1, batch_norm=False, activation="linear"
        )
        x = np.array([0.0, 1.0], "float32").reshape(1, 1, 2, 1)
        decoder.build(x.shape)
        for weight in decoder.weights:
            value = np.zeros(weight.shape)
            if len(weight.shape) == 4:
                value[1, 1, 0, 0] = 1.0
            weight.assign(value)
        out = decoder(x).numpy()
        self.assertEqual(out.shape, (1, 2, 4, 1))
        self.assertAllClose(out[0, 0, :, 0], [0.0, 0.25, 0.75, 1.0])
        self.assertAllClose(out[0, 1, :, 0], [0.0, 0.25, 0.75, 1.0])

    def test_as_the_network_of_a_task_head(self):
        head = TaskHead(
            "multiclass", 4, network=DenseDecoder(upsampling=2, filters=3)
        )
        probs = head(np.ones((2, 4, 4, 8), "float32")).numpy()
        self.assertEqual(probs.shape, (2, 8, 8, 4))
        self.assertAllClose(probs.sum(-1), np.ones((2, 8, 8)), atol=1e-5)
        revived = self.run_serialization_test(head)
        self.assertIsInstance(revived.network, DenseDecoder)

    def test_bad_arguments(self):
        with pytest.raises(ValueError, match="power of two"):
            DenseDecoder(upsampling=3)
        with pytest.raises(ValueError, match="filters"):
            DenseDecoder(filters=0)
