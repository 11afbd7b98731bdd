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


class ExpertInputGroupsTest(TestCase):
    def test_expert_sees_only_its_columns(self):
        encoder = ExpertEncoder(
            num_modules=3, module_units=2, input_groups=[[0], [1, 2], [3]]
        )
        x = np.random.default_rng(0).normal(size=(4, 4)).astype("float32")
        base = encoder(x).numpy()
        changed = x.copy()
        changed[:, 1] += 5.0
        out = encoder(changed).numpy()
        np.testing.assert_allclose(out[:, :2], base[:, :2])
        np.testing.assert_allclose(out[:, 4:], base[:, 4:])
        self.assertGreater(np.abs(out[:, 2:4] - base[:, 2:4]).max(), 1e-3)
        self.assertEqual(
            tuple(encoder.experts[1].layers[0].kernel.shape), (2, 64)
        )

    def test_non_contiguous_group_reads_named_columns(self):
        encoder = ExpertEncoder(
            num_modules=1, module_units=2, input_groups=[[2, 0]]
        )
        x = np.arange(12, dtype="float32").reshape(4, 3)
        out = encoder(x).numpy()
        reference = encoder.experts[0](x[:, [2, 0]]).numpy()
        np.testing.assert_allclose(out, reference, rtol=1e-6)

    def test_serialization_keeps_groups(self):
        encoder = ExpertEncoder(
            num_modules=2, module_units=2, input_groups=[[0], [1]]
        )
        encoder(np.ones((2, 2), "float32"))
        self.assertEqual(encoder.get_config()["input_groups"], [[0], [1]])
        self.run_serialization_test(encoder)

    def test_bad_groups_name_the_problem(self):
        with pytest.raises(ValueError, match="one group of columns per"):
            ExpertEncoder(num_modules=2, input_groups=[[0]])
        with pytest.raises(ValueError, match=r"input_groups\[1\]"):
            ExpertEncoder(num_modules=2, input_groups=[[0], []])
        encoder = ExpertEncoder(num_modules=2, input_groups=[[0], [5]])
        with pytest.raises(ValueError, match="column 5.*3 columns"):
            encoder(np.ones((2, 3), "float32"))
