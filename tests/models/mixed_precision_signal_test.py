"""The invariance penalty's per-sample gradients under mixed_float16."""

import keras
import numpy as np
import tensorflow as tf

from keras_mtcrl import CausalMTLModel
from keras_mtcrl import ExpertEncoder
from keras_mtcrl import InvariancePenalty
from keras_mtcrl import TaskHead
from keras_mtcrl.testing import TestCase


def _model_and_signal(policy, x, y, weights=None):
    keras.config.set_dtype_policy(policy)
    try:
        keras.utils.set_random_seed(0)
        model = CausalMTLModel(
            encoder=ExpertEncoder(
                num_modules=2, module_units=2, hidden_units=(4,)
            ),
            heads={"a": TaskHead("binary"), "b": TaskHead("binary")},
            input_shape={"x": (None, 3)},
            invariance=InvariancePenalty(min_env_samples=1),
        )
        model.compile(optimizer="adam")
        if weights is not None:
            model.set_weights(weights)
        forward = model.forward({"x": x}, y, None, training=False)
        signal = model.module_signal(forward, "a").numpy()
        return model, signal
    finally:
        keras.config.set_dtype_policy("float32")


class MixedPrecisionSignalTest(TestCase):
    def test_small_per_sample_gradients_survive_float16(self):
        # Task a's head outputs a confident, correct 1 for every sample
        # (logit ~18): each sample's gradient with respect to the modules
        # is ~1e-10, far below float16's smallest subnormal (6e-8) unless
        # the loss is scaled before differentiating.
        rng = np.random.default_rng(0)
        x = rng.normal(size=(8, 3)).astype("float32")
        y = {"a": np.ones(8, "float32"), "b": (x[:, 1] > 0).astype("float32")}
        reference, _ = _model_and_signal("float32", x, y)
        kernel, bias = reference.heads["a"].weights
        kernel.assign(np.full(kernel.shape, 0.01, "float32"))
        bias.assign(np.full(bias.shape, 18.0, "float32"))
        weights = reference.get_weights()
        _, expected = _model_and_signal("float32", x, y, weights)
        model, mixed = _model_and_signal("mixed_float16", x, y, weights)
        self.assertEqual(model.compute_dtype, "float16")
        self.assertLess(np.abs(expected).max(), 1e-8)
        self.assertGreater(np.abs(expected).min(), 1e-14)
        # Unscaled float16 would give exact zeros; the scaled gradients
        # keep sign and size (float16 modules: a loose relative tolerance).
        self.assertTrue((np.abs(mixed) > 0).all())
        self.assertAllClose(
            mixed, expected, rtol=0.05, atol=0.02 * np.abs(expected).max()
        )

    def test_signal_is_float32_and_unscaled(self):
        rng = np.random.default_rng(1)
        x = rng.normal(size=(8, 3)).astype("float32")
        y = {
            "a": (x[:, 0] > 0).astype("float32"),
            "b": (x[:, 1] > 0).astype("float32"),
        }
        reference, _ = _model_and_signal("float32", x, y)
        weights = reference.get_weights()
        _, expected = _model_and_signal("float32", x, y, weights)
        model, mixed = _model_and_signal("mixed_float16", x, y, weights)
        self.assertEqual(mixed.dtype, np.float32)
        # The loss-scale optimizer's scale (2**15) is divided back out.
        scale = float(model._probe_loss_scale())
        self.assertGreater(scale, 1.0)
        self.assertAllClose(mixed, expected, rtol=0.05, atol=1e-4)
        self.assertTrue(
            np.isfinite(tf.convert_to_tensor(mixed).numpy()).all()
        )
