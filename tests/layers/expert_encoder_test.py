import keras
import numpy as np
import pytest

from keras_mtcrl.layers import ExpertEncoder
from keras_mtcrl.testing import TestCase


class ExpertEncoderTest(TestCase):
    def test_layer_contract(self):
        self.run_layer_test(
            ExpertEncoder,
            {"num_modules": 3, "module_units": 4, "hidden_units": (5,)},
            np.ones((2, 6), "float32"),
            (2, 12),
            expected_num_trainable_weights=12,
        )

    def test_experts_have_separate_weights(self):
        encoder = ExpertEncoder(num_modules=2, module_units=3)
        out = encoder(np.ones((1, 4), "float32")).numpy()
        self.assertFalse(np.allclose(out[:, :3], out[:, 3:]))

    def test_template_expert_is_copied(self):
        template = keras.layers.Dense(2, name="tmpl")
        encoder = ExpertEncoder(num_modules=3, expert=template)
        self.assertEqual(tuple(encoder(np.ones((4, 5))).shape), (4, 6))
        self.assertEqual(len({id(e) for e in encoder.experts}), 3)
        self.assertFalse(template.built)
        self.run_serialization_test(encoder)

    def test_feature_layer_reads_dict_inputs(self):
        class Concat(keras.layers.Layer):
            def call(self, inputs):
                return keras.ops.concatenate(
                    [inputs["u"], inputs["v"]], axis=-1
                )

            def compute_output_shape(self, shape):
                return shape["u"][:-1] + (shape["u"][-1] + shape["v"][-1],)

        encoder = ExpertEncoder(2, 3, feature_layer=Concat())
        inputs = {"u": np.ones((2, 2)), "v": np.ones((2, 1))}
        self.assertEqual(tuple(encoder(inputs).shape), (2, 6))

    def test_bad_arguments(self):
        with pytest.raises(ValueError, match="num_modules"):
            ExpertEncoder(num_modules=0)
        with pytest.raises(ValueError, match="hidden_units"):
            ExpertEncoder(hidden_units=(0,))
