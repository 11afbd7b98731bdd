import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_mtcrl import LabelGroups
from keras_mtcrl import ReweightedModel
from keras_mtcrl import TaskHead
from keras_mtcrl.testing import TestCase

KINDS = {"a": ("binary", 1), "b": ("binary", 1)}


def make_model(groups, share=1.0):
    heads = {"a": TaskHead("binary"), "b": TaskHead("binary")}
    return ReweightedModel(
        keras.layers.Dense(4), heads, groups, input_shape=(None, 3),
        share=share,
    )


class ReweightedModelTest(TestCase):
    def setUp(self):
        super().setUp()
        self.groups = LabelGroups(KINDS, {t: [[6, 2], [1, 3]] for t in KINDS})
        rng = np.random.default_rng(0)
        self.x = rng.normal(size=(4, 3)).astype("float32")
        self.y = {
            "a": np.array([0, 0, 1, 1], "float32"),
            "b": np.array([0, 1, 0, 1], "float32"),
        }

    def test_training_loss_is_the_hand_weighted_mean(self):
        model = make_model(self.groups)
        model.compile()
        weights = self.groups.balancing_weights("a")  # cells 0, 1, 2, 3
        parts = model.objective_parts(self.x, self.y, None, training=True)
        plain = model.objective_parts(self.x, self.y, None, training=False)
        per_sample = keras.losses.binary_crossentropy(
            self.y["a"][:, None], model.predict(self.x, verbose=0)["a"]
        )
        self.assertAllClose(
            parts["task_shares"]["a"],
            np.mean(weights * np.asarray(per_sample)),
            atol=1e-5,
        )
        self.assertAllClose(
            plain["task_shares"]["a"], np.mean(per_sample), atol=1e-5
        )

    def test_unknown_group_keeps_weight_one(self):
        model = make_model(self.groups)
        y = {"a": tf.constant([0.0, 1.0]), "b": tf.constant([np.nan, 1.0])}
        weights = model.sample_weights(y, None)["a"]
        self.assertAllClose(
            weights, [1.0, self.groups.balancing_weights("a")[3]]
        )

    def test_share_mixes_the_observed_and_reweighted_risk(self):
        full = self.groups.balancing_weights("a")  # cells 0, 1, 2, 3
        for share in (0.0, 0.25, 1.0):
            weights = make_model(self.groups, share).sample_weights(
                self.y, None
            )["a"]
            self.assertAllClose(weights, 1.0 - share + share * full)
        with pytest.raises(ValueError, match="share"):
            make_model(self.groups, share=2.0)

    def test_fits_and_saves(self):
        model = make_model(self.groups)
        model.compile()
        history = model.fit(self.x, self.y, epochs=2, verbose=0)
        self.assertTrue(np.isfinite(history.history["loss"]).all())
        revived = self.run_model_saving_test(model, self.x)
        self.assertAllClose(revived.groups.counts["a"], [[6, 2], [1, 3]])
        self.assertEqual(revived.share, 1.0)

    def test_errors(self):
        with pytest.raises(ValueError, match="groups"):
            make_model("labels")
