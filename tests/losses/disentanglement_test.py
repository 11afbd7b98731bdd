import numpy as np
import pytest
import tensorflow as tf

from keras_mtcrl.losses import DisentanglementPenalty
from keras_mtcrl.losses.disentanglement import cross_correlation_penalty
from keras_mtcrl.losses.disentanglement import weighted_gram
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


def _autodiff_cross_correlation(pooled, sample_weight=None, epsilon=1e-5):
    """The penalty written with plain ops (autodiff for every gradient)."""
    num_modules, width = pooled.shape[1], pooled.shape[2]
    flat = tf.reshape(pooled, (-1, num_modules * width))
    if sample_weight is None:
        sample_weight = tf.ones_like(flat[:, 0])
    weight = tf.cast(sample_weight, "float32")[:, None]
    mean = tf.reduce_sum(weight * flat, 0) / tf.reduce_sum(weight)
    flat = flat - tf.stop_gradient(mean)
    count = tf.reduce_sum(weight)
    first = tf.reduce_sum(weight * flat, axis=0) / count
    covariance = tf.matmul(weight * flat, flat, transpose_a=True) / count
    covariance -= first[:, None] * first[None, :]
    std = tf.sqrt(tf.maximum(tf.linalg.diag_part(covariance), 0.0) + epsilon)
    correlation = covariance / (std[:, None] * std[None, :])
    block = np.kron(np.eye(num_modules), np.ones((width, width)))
    mask = tf.constant(1.0 - block, "float32")
    return tf.reduce_sum(mask * tf.square(correlation)) / tf.reduce_sum(mask)


class CrossCorrelationGradientTest(TestCase):
    def test_weighted_gram_gradient_equals_autodiff(self):
        x = tf.constant(_noise((32, 6)))
        upstream = tf.constant(_noise((6, 6), seed=1))  # not symmetric
        for weight in (None, tf.constant(np.abs(_noise((32, 1), seed=2)))):
            with tf.GradientTape(persistent=True) as tape:
                tape.watch(x)
                if weight is not None:
                    tape.watch(weight)
                gram = weighted_gram(x, weight)
                plain = tf.matmul(
                    x if weight is None else weight * x, x, transpose_a=True
                )
                ours = tf.reduce_sum(gram * upstream)
                reference = tf.reduce_sum(plain * upstream)
            self.assertAllClose(gram, plain, rtol=1e-6, atol=1e-5)
            self.assertAllClose(
                tape.gradient(ours, x), tape.gradient(reference, x),
                rtol=1e-5, atol=1e-5,
            )
            if weight is not None:
                self.assertAllClose(
                    tape.gradient(ours, weight),
                    tape.gradient(reference, weight),
                    rtol=1e-5, atol=1e-4,
                )

    def test_penalty_and_gradient_equal_autodiff(self):
        pooled = tf.constant(_noise((64, 3, 4)) + 0.5 * _noise((64, 1, 4), 3))
        weights = (None, tf.constant(np.abs(_noise((64,), seed=4))))
        for weight in weights:
            with tf.GradientTape(persistent=True) as tape:
                tape.watch(pooled)
                value = cross_correlation_penalty(pooled, sample_weight=weight)
                reference = _autodiff_cross_correlation(pooled, weight)
            self.assertAllClose(value, reference, rtol=1e-5)
            self.assertAllClose(
                tape.gradient(value, pooled),
                tape.gradient(reference, pooled),
                rtol=1e-4, atol=1e-7,
            )
