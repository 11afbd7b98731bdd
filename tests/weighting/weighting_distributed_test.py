"""Equal, uncertainty and DWA weighting on 2 replicas train as on 1 device."""

import keras
import numpy as np
import tensorflow as tf
from absl.testing import parameterized
from weighting_test_utils import mirrored_strategy

from keras_mtcrl import CausalMTLModel
from keras_mtcrl import DisentanglementPenalty
from keras_mtcrl import ExpertEncoder
from keras_mtcrl import InvariancePenalty
from keras_mtcrl import TaskHead
from keras_mtcrl.testing import TestCase


def train(strategy, weighting, initial, epochs):
    with strategy.scope():
        model = CausalMTLModel(
            encoder=ExpertEncoder(num_modules=2, module_units=3),
            heads={"a": TaskHead("binary"), "b": TaskHead("regression")},
            disentanglement=DisentanglementPenalty(weight=1.0),
            invariance=InvariancePenalty(
                "vrex", weight=1.0, num_environments=2, min_env_samples=1
            ),
            input_shape={"x": (None, 4), "env": (None,)},
            loss_weighting=weighting,
        )
        if initial is not None:
            model.set_weights(initial)
        model.compile(optimizer=keras.optimizers.SGD(0.1))
    start = model.get_weights()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 4)).astype("float32")
    inputs = {"x": x, "env": (rng.random(16) > 0.6).astype("int32")}
    labels = {
        "a": (x[:, 0] > 0).astype("float32"),
        "b": np.where(np.arange(16) % 5 == 0, np.nan, x[:, 1]).astype(
            "float32"
        ),
    }
    dataset = tf.data.Dataset.from_tensor_slices((inputs, labels)).batch(16)
    history = model.fit(dataset, epochs=epochs, verbose=0)
    return history.history, start, model.get_weights()


class WeightingDistributedTest(TestCase, parameterized.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.devices = tf.config.list_logical_devices("CPU")
        cls.mirrored = mirrored_strategy(2)

    @parameterized.parameters(("uncertainty", 2), ("dwa", 3), ("equal", 1))
    def test_two_replicas_match_one_device(self, weighting, epochs):
        logs2, start, after2 = train(self.mirrored, weighting, None, epochs)
        single = tf.distribute.OneDeviceStrategy(self.devices[0].name)
        logs1, _, after1 = train(single, weighting, start, epochs)
        for name in (
            "loss",
            "loss_a",
            "loss_b",
            "loss_inv",
            "weight_a",
            "weight_b",
        ):
            self.assertAllClose(logs2[name], logs1[name], atol=1e-5, msg=name)
        self.assertGreater(logs1["loss_inv"][-1], 0.0)
        for w2, w1 in zip(after2, after1):
            self.assertAllClose(w2, w1, atol=1e-5)
        if weighting == "dwa":
            self.assertNotEqual(logs1["weight_a"][-1], 1.0)
