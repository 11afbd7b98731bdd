import keras
import numpy as np
import pytest
import tensorflow as tf
from absl.testing import parameterized

from keras_mtcrl import InvariantRiskModel
from keras_mtcrl import LabelGroups
from keras_mtcrl import TaskHead
from keras_mtcrl.models.invariant_risk_model import environment_penalty
from keras_mtcrl.testing import TestCase

KINDS = {"a": ("binary", 1), "b": ("binary", 1)}
SHAPE = {"x": (None, 3), "env": (None,)}


def make_model(method="vrex", environments=2, **kwargs):
    heads = {"a": TaskHead("binary"), "b": TaskHead("binary")}
    return InvariantRiskModel(
        keras.layers.Dense(4),
        heads,
        method=method,
        environments=environments,
        input_shape=SHAPE,
        **kwargs,
    )


def data():
    rng = np.random.default_rng(0)
    x = {
        "x": rng.normal(size=(8, 3)).astype("float32"),
        "env": np.array([0, 1] * 4, "int32"),
    }
    y = {
        "a": np.array([0, 1, 1, 1, 0, 0, 1, 0], "float32"),
        "b": np.array([0, 1, 1, 0, 0, 0, 1, 1], "float32"),
    }
    return x, y


class InvariantRiskModelTest(TestCase, parameterized.TestCase):
    def test_penalties_by_hand(self):
        ids = tf.constant([0, 0, 1, 1, 2])
        stats = tf.constant([1.0, 3.0, -1.0, -1.0, 9.0])
        valid = tf.constant([1.0, 1.0, 1.0, 1.0, 1.0])
        # Env means 2 and -1 (env 2 has one sample: left out).
        self.assertAllClose(
            environment_penalty("vrex", ids, valid, stats, 3), 2.25
        )
        self.assertAllClose(
            environment_penalty("irmv1", ids, valid, stats, 3), 2.5
        )
        self.assertAllClose(
            environment_penalty("vrex", ids, valid * [1, 1, 0, 0, 1], stats, 3),
            0.0,
        )

    def test_irmv1_statistic_is_the_dummy_scale_gradient(self):
        model = make_model("irmv1")
        model.compile()
        x, y = data()
        forward = model.forward(x, y, None, training=True)
        z = forward["routed"]["a"]
        with tf.GradientTape() as tape:
            w = tf.Variable(1.0)
            out = model.heads["a"](w * z)
            loss = keras.losses.binary_crossentropy(y["a"][:, None], out)
            env0 = tf.reduce_mean(tf.boolean_mask(loss, x["env"] == 0))
        expected = tape.gradient(env0, w)
        statistic = tf.reduce_sum(forward["routed_grads"]["a"] * z, axis=1)
        self.assertAllClose(
            tf.reduce_mean(tf.boolean_mask(statistic, x["env"] == 0)),
            expected,
            atol=1e-5,
        )

    def test_warmup_then_ramp(self):
        model = make_model(weight=10.0, warmup_steps=2, ramp_steps=4)
        weights = [float(model.weight_at(s)) for s in range(8)]
        self.assertAllClose(weights, [0, 0, 2.5, 5, 7.5, 10, 10, 10])

    @parameterized.parameters("irmv1", "vrex")
    def test_fits_logs_and_saves(self, method):
        model = make_model(method, warmup_steps=1)
        model.compile()
        x, y = data()
        history = model.fit(x, y, batch_size=8, epochs=2, verbose=0)
        self.assertGreater(history.history["loss_penalty"][-1], 0.0)
        self.assertTrue(np.isfinite(history.history["loss"]).all())
        self.run_model_saving_test(model, x)

    def test_label_agreement_environments(self):
        groups = LabelGroups(KINDS, {t: [[3, 1], [1, 3]] for t in KINDS})
        model = make_model("vrex", environments=groups)
        _, y = data()
        ids, valid, count = model.environment_ids(y, None, "a")
        self.assertEqual(count, 2)
        self.assertAllClose(ids, (y["a"] == y["b"]).astype(int))
        model.compile()
        x, y = data()
        history = model.fit(x, y, epochs=1, verbose=0)
        self.assertIn("loss_penalty", history.history)
        self.run_serialization_test(model)

    def test_errors(self):
        with pytest.raises(ValueError, match="method"):
            make_model("irmv2")
        with pytest.raises(ValueError, match="groups"):
            make_model(environments=None)
        with pytest.raises(ValueError, match="ramp_steps"):
            make_model(ramp_steps=-1)
