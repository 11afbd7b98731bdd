"""GradNorm and RLW on 2 replicas train as on 1 device."""

import tensorflow as tf
from absl.testing import parameterized
from weighting_distributed_test import train
from weighting_test_utils import mirrored_strategy

from keras_mtcrl.testing import TestCase


class AdaptiveWeightingDistributedTest(TestCase, parameterized.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.devices = tf.config.list_logical_devices("CPU")
        cls.mirrored = mirrored_strategy(2)

    @parameterized.parameters("gradnorm", "rlw")
    def test_two_replicas_match_one_device(self, weighting):
        logs2, start, after2 = train(self.mirrored, weighting, None, 2)
        single = tf.distribute.OneDeviceStrategy(self.devices[0].name)
        logs1, _, after1 = train(single, weighting, start, 2)
        for name in ("loss", "loss_a", "loss_b", "weight_a", "weight_b"):
            self.assertAllClose(logs2[name], logs1[name], atol=1e-5, msg=name)
        for w2, w1 in zip(after2, after1):
            self.assertAllClose(w2, w1, atol=1e-5)
        self.assertNotEqual(logs1["weight_a"][-1], 1.0)
