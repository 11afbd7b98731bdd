import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_mtcrl import GMTLAdjuster
from keras_mtcrl import MultiTaskModel
from keras_mtcrl import TaskHead
from keras_mtcrl.models import joint_label_prior
from keras_mtcrl.testing import TestCase

PRIOR = [[0.4, 0.1], [0.1, 0.4]]


def make_model(heads=None):
    heads = heads or {"a": TaskHead("binary"), "b": TaskHead("binary")}
    return MultiTaskModel(keras.layers.Dense(4), heads, input_shape=(None, 3))


class GMTLAdjusterTest(TestCase):
    def test_adjustment_matches_a_hand_computed_posterior(self):
        adjuster = GMTLAdjuster(make_model(), PRIOR, alpha=1.0)
        # p(a=1|x) = 0.5, p(b=1|x) = 0.8: joint [[.1, .4], [.1, .4]];
        # divided by the prior: [[.25, 4], [1, 1]], sum 6.25.
        out = adjuster.adjust({
            "a": tf.constant([[0.5]]), "b": tf.constant([[0.8]])
        })
        self.assertAllClose(out["a"], [[2.0 / 6.25]], atol=1e-6)
        self.assertAllClose(out["b"], [[5.0 / 6.25]], atol=1e-6)
        half = GMTLAdjuster(make_model(), PRIOR, alpha=0.5).adjust({
            "a": tf.constant([[0.5]]), "b": tf.constant([[0.8]])
        })
        joint = np.array([[0.1, 0.4], [0.1, 0.4]]) / np.sqrt(PRIOR)
        self.assertAllClose(
            half["a"], [[joint[1].sum() / joint.sum()]], atol=1e-6
        )

    def test_multiclass_and_regression_tasks(self):
        heads = {
            "a": TaskHead("multiclass", 3),
            "r": TaskHead("regression"),
            "b": TaskHead("binary"),
        }
        prior = np.full((3, 2), 1.0 / 6)
        adjuster = GMTLAdjuster(make_model(heads), prior, alpha=1.0)
        self.assertEqual(adjuster.joint_tasks, ("a", "b"))
        x = np.ones((2, 3), "float32")
        # A uniform prior changes nothing.
        self.assertAllClose(
            adjuster.predict(x, verbose=0),
            adjuster.model.predict(x, verbose=0),
            atol=1e-5,
        )

    def test_evaluates_and_saves(self):
        model = make_model()
        x = np.random.default_rng(0).normal(size=(8, 3)).astype("float32")
        y = {"a": (x[:, 0] > 0).astype("float32"), "b": np.ones(8, "float32")}
        adjuster = GMTLAdjuster(model, PRIOR, alpha=1.0)
        adjuster.compile()
        scores = adjuster.evaluate(x, y, verbose=0, return_dict=True)
        self.assertIn("a_accuracy", scores)
        self.run_model_saving_test(adjuster, x)

    def test_joint_label_prior_counts_training_labels(self):
        ds = tf.data.Dataset.from_tensor_slices(
            (np.zeros(5), {"a": [0.0, 0, 1, 1, 1], "b": [0.0, 1, 1, 1, 1]})
        )
        prior = joint_label_prior(ds, {"a": ("binary", 1), "b": ("binary", 1)})
        self.assertAllClose(prior, np.array([[2, 2], [1, 4]]) / 9)

    def test_errors(self):
        with pytest.raises(ValueError, match="joint_prior"):
            GMTLAdjuster(make_model(), [0.5, 0.5])
        with pytest.raises(ValueError, match="alpha"):
            GMTLAdjuster(make_model(), PRIOR, alpha=-1.0)
