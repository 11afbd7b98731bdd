"""The OOD baselines on 2 replicas match one device (global statistics)."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from absl.testing import parameterized

from keras_mtcrl import GroupDROModel
from keras_mtcrl import InvariantRiskModel
from keras_mtcrl import LabelGroups
from keras_mtcrl import ReweightedModel
from keras_mtcrl import TaskHead
from keras_mtcrl.testing import TestCase
from keras_mtcrl.testing.distribution import mirrored_strategy

KINDS = {"a": ("binary", 1), "b": ("binary", 1)}
SHAPE = {"x": (None, 4), "env": (None,)}


def make_model(name):
    heads = {"a": TaskHead("binary"), "b": TaskHead("binary")}
    encoder = keras.layers.Dense(8, activation="relu")
    groups = LabelGroups(KINDS, {t: [[6, 2], [1, 3]] for t in KINDS})
    if name == "reweight":
        return ReweightedModel(encoder, heads, groups, input_shape=SHAPE)
    if name == "groupdro":
        return GroupDROModel(
            encoder, heads, groups, step_size=0.5, input_shape=SHAPE
        )
    method, environments = name.split("_")
    return InvariantRiskModel(
        encoder,
        heads,
        method=method,
        weight=5.0,
        environments=groups if environments == "labels" else 2,
        input_shape=SHAPE,
    )


def train(strategy, name, initial):
    with strategy.scope():
        model = make_model(name)
        if initial is not None:
            model.set_weights(initial)
        model.compile(optimizer=keras.optimizers.SGD(0.1))
    start = model.get_weights()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 4)).astype("float32")
    features = {"x": x, "env": (x[:, 3] > 0).astype("int32")}
    a = (x[:, 0] > 0).astype("float32")
    labels = {"a": a, "b": np.where(x[:, 1] > 1, 1 - a, a)}
    dataset = tf.data.Dataset.from_tensor_slices((features, labels)).batch(16)
    history = model.fit(dataset, epochs=2, verbose=0)
    return history.history, start, model.get_weights()


class OODBaselinesDistributedTest(TestCase, parameterized.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.devices = tf.config.list_logical_devices("CPU")
        cls.mirrored = mirrored_strategy()

    def check(self, name):
        logs2, start, after2 = train(self.mirrored, name, None)
        single = tf.distribute.OneDeviceStrategy(self.devices[0].name)
        logs1, _, after1 = train(single, name, start)
        self.assertAllClose(logs2["loss"], logs1["loss"], atol=1e-5)
        for key in ("loss_a", "loss_penalty"):
            if key in logs1:
                self.assertAllClose(logs2[key], logs1[key], atol=1e-5)
        self.assertEqual(len(after2), len(after1))
        for w2, w1 in zip(after2, after1):
            self.assertAllClose(w2, w1, atol=1e-5)
        return logs1

    @parameterized.parameters("groupdro", "irmv1_env", "fishr_env")
    def test_two_replicas_match_one_device(self, name):
        logs = self.check(name)
        if name.startswith(("irm", "fishr")):
            self.assertGreater(logs["loss_penalty"][-1], 0.0)

    @parameterized.parameters("reweight", "vrex_env", "irmv1_labels")
    @pytest.mark.slow
    def test_more_baselines_match_one_device(self, name):
        self.check(name)
