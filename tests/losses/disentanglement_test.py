import numpy as np
import pytest
import tensorflow as tf

from keras_mtcrl.losses import DisentanglementPenalty
from keras_mtcrl.testing import TestCase


def _noise(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


class DisentanglementPenaltyTest(TestCase):
    def test_identical_modules_by_hand(self):
        # Two copies of one dimension: the only cross-module pair has
        # correlation 1; off-diagonal blocks hold 2 entries -> mean 1.
        x = _noise((256, 1))
        value = DisentanglementPenalty()(np.concatenate([x, x], -1), 2)
        self.assertAllClose(value, 1.0, atol=1e-4)

    def test_independent_modules_are_near_zero(self):
        value = DisentanglementPenalty()(_noise((4096, 8)), 4)
        self.assertLess(float(value), 0.01)

    def test_constant_features_give_zero_not_nan(self):
        value = DisentanglementPenalty()(np.ones((8, 4), "float32"), 2)
        self.assertEqual(float(value), 0.0)
        tiny = DisentanglementPenalty()(np.ones((1, 4), "float32"), 2)
        self.assertTrue(np.isfinite(float(tiny)))

    def test_feature_maps_are_pooled(self):
        x = _noise((64, 3, 3, 1))
        maps = np.concatenate([x, 2 * x], axis=-1)
        self.assertAllClose(DisentanglementPenalty()(maps, 2), 1.0, atol=1e-3)

    def test_hsic_identical_vs_independent(self):
        penalty = DisentanglementPenalty("hsic")
        x = _noise((64, 2))
        same = float(penalty(np.concatenate([x, x], -1), 2))
        apart = float(penalty(_noise((64, 4), seed=1), 2))
        self.assertAllClose(same, 1.0, atol=1e-4)
        self.assertLess(apart, 0.5 * same)

    def test_none_is_zero_and_inactive(self):
        penalty = DisentanglementPenalty("none")
        self.assertFalse(penalty.active)
        self.assertEqual(float(penalty(_noise((4, 4)), 2)), 0.0)

    def test_gradient_is_finite(self):
        x = tf.Variable(_noise((16, 4)))
        with tf.GradientTape() as tape:
            value = DisentanglementPenalty()(x, 2)
        self.assertTrue(np.isfinite(tape.gradient(value, x).numpy()).all())

    def test_bad_arguments(self):
        with pytest.raises(ValueError, match="method"):
            DisentanglementPenalty("pca")
        with pytest.raises(ValueError, match="weight=-1"):
            DisentanglementPenalty(weight=-1)
