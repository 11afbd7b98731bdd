"""Same global batch on 2 replicas or on 1 device: same loss and weights."""

import keras
import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from keras_mtcrl import CausalMTLModel
from keras_mtcrl import DisentanglementPenalty
from keras_mtcrl import ExpertEncoder
from keras_mtcrl import InvariancePenalty
from keras_mtcrl import SparsityPenalty
from keras_mtcrl import TaskHead
from keras_mtcrl.testing import TestCase
from keras_mtcrl.testing.distribution import mirrored_strategy


def train_one_step(strategy, method, initial_weights, environments):
    # Sigmoid gates: the hard-concrete gates draw their noise per replica,
    # so only the deterministic gate can give the same step on 1 and 2
    # devices. A regression task is discretised at the global batch mean
    # for derived environments; a binary one needs no batch statistic.
    kind_b = "regression" if environments == "column" else "binary"
    with strategy.scope():
        model = CausalMTLModel(
            encoder=ExpertEncoder(num_modules=2, module_units=3),
            heads={"a": TaskHead("binary"), "b": TaskHead(kind_b)},
            disentanglement=DisentanglementPenalty(weight=1.0),
            sparsity=SparsityPenalty(weight=1.0),
            invariance=InvariancePenalty(
                method, weight=5.0, warmup_steps=0, ramp_steps=0,
                num_environments=2, min_env_samples=1,
                environments=environments,
            ),
            gate="sigmoid",
            input_shape={"x": (None, 4), "env": (None,)},
        )
        if initial_weights is not None:
            model.set_weights(initial_weights)
        model.compile(optimizer=keras.optimizers.SGD(0.5))
    start = model.get_weights()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 4)).astype("float32")
    inputs = {"x": x, "env": (rng.random(16) > 0.6).astype("int32")}
    labels = {
        "a": (x[:, 0] > 0).astype("float32"),
        "b": np.where(
            np.arange(16) % 5 == 0,
            np.nan,
            x[:, 1] if kind_b == "regression" else (x[:, 1] > 0),
        ).astype("float32"),
    }
    dataset = tf.data.Dataset.from_tensor_slices((inputs, labels)).batch(16)
    history = model.fit(dataset, epochs=1, verbose=0)
    return history.history, start, model.get_weights()


class DistributedTest(TestCase, parameterized.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.devices = tf.config.list_logical_devices("CPU")
        cls.mirrored = mirrored_strategy()

    @parameterized.product(
        method=("grad_var", "irmv1", "vrex"),
        environments=("column", "auto"),
    )
    def test_two_replicas_match_one_device(self, method, environments):
        self.assertEqual(self.mirrored.num_replicas_in_sync, 2)
        logs2, start, after2 = train_one_step(
            self.mirrored, method, None, environments
        )
        single = tf.distribute.OneDeviceStrategy(self.devices[0].name)
        logs1, _, after1 = train_one_step(
            single, method, start, environments
        )
        for name in ("loss", "loss_a", "loss_b", "loss_dis", "loss_inv",
                     "worst_env_loss"):
            self.assertAllClose(logs2[name], logs1[name], atol=1e-5, msg=name)
        self.assertGreater(logs1["loss_inv"][0], 0.0)
        moved = max(np.abs(a - b).max() for a, b in zip(after1, start))
        self.assertGreater(moved, 1e-3)
        for w2, w1 in zip(after2, after1):
            self.assertAllClose(w2, w1, atol=1e-5)
