"""The new architectures on 2 replicas and under XLA match graph mode."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from absl.testing import parameterized

from keras_mtcrl import TaskHead
from keras_mtcrl.models import baselines
from keras_mtcrl.testing import TestCase
from keras_mtcrl.testing.distribution import mirrored_strategy

SMALL = {
    "shared_bottom": dict(hidden_units=(8,)),
    "mmoe": dict(num_experts=2, expert_units=4, hidden_units=(8,)),
    "cgc": dict(expert_units=(4,)),
    "ple": dict(expert_units=(4,)),
    "cross_stitch": dict(hidden_units=(4, 4)),
}


def make_model(name):
    heads = {"a": TaskHead("binary"), "b": TaskHead("regression")}
    return getattr(baselines, name)(heads, input_shape=(None, 4), **SMALL[name])


def train(strategy, name, initial, jit_compile=False):
    with strategy.scope():
        model = make_model(name)
        if initial is not None:
            model.set_weights(initial)
        model.compile(
            optimizer=keras.optimizers.SGD(0.1), jit_compile=jit_compile
        )
    start = model.get_weights()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 4)).astype("float32")
    labels = {"a": (x[:, 0] > 0).astype("float32"), "b": x[:, 1]}
    dataset = tf.data.Dataset.from_tensor_slices((x, labels)).batch(16)
    history = model.fit(dataset, epochs=2, verbose=0)
    return history.history, start, model.get_weights()


class BaselinesDistributedTest(TestCase, parameterized.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.devices = tf.config.list_logical_devices("CPU")
        cls.mirrored = mirrored_strategy()

    def check(self, name):
        logs2, start, after2 = train(self.mirrored, name, None)
        single = tf.distribute.OneDeviceStrategy(self.devices[0].name)
        logs1, _, after1 = train(single, name, start)
        self.assertAllClose(logs2["loss"], logs1["loss"], atol=1e-5)
        for w2, w1 in zip(after2, after1):
            self.assertAllClose(w2, w1, atol=1e-5)
        logs_x, _, after_x = train(single, name, start, jit_compile=True)
        self.assertAllClose(logs_x["loss"], logs1["loss"], atol=1e-5)
        for wx, w1 in zip(after_x, after1):
            self.assertAllClose(wx, w1, atol=1e-5)

    @parameterized.parameters("ple", "cross_stitch")
    def test_two_replicas_and_xla_match_one_device(self, name):
        self.check(name)

    # Existing layers (shared bottom, MMoE) and CGC (PLE's code with one
    # level): kept out of the default run for time.
    @parameterized.parameters("shared_bottom", "mmoe", "cgc")
    @pytest.mark.slow
    def test_more_architectures_match_one_device(self, name):
        self.check(name)
