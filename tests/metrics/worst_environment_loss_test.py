import numpy as np

from keras_mtcrl.metrics import WorstEnvironmentLoss
from keras_mtcrl.testing import TestCase


class WorstEnvironmentLossTest(TestCase):
    def test_accumulates_over_batches_and_sums_tasks(self):
        metric = WorstEnvironmentLoss(num_tasks=2, num_environments=2)
        # Task 0: env means 1 and 4 -> 4. Task 1: only env 0, mean 2.
        losses = np.array([[1.0, 3.0], [2.0, 0.0]], "float32")
        weights = np.array(
            [[[1, 0], [0, 1]], [[1, 0], [0, 0]]], "float32"
        )
        metric.update_state(losses, weights)
        more = np.array([[1.0, 5.0], [2.0, 9.0]], "float32")
        metric.update_state(more, weights)
        self.assertAllClose(metric.result(), 4.0 + 2.0)
        metric.reset_state()
        self.assertAllClose(metric.result(), 0.0)

    def test_weighted_environment(self):
        metric = WorstEnvironmentLoss(num_tasks=1, num_environments=2)
        losses = np.array([[1.0, 3.0]], "float32")
        # Env 1 weighs sample 2 three times: (1 + 9) / 4 = 2.5.
        weights = np.array([[[1, 1], [1, 3]]], "float32")
        metric.update_state(losses, weights)
        self.assertAllClose(metric.result(), 2.5)

    def test_config_round_trip(self):
        metric = WorstEnvironmentLoss(2, 3, name="w")
        revived = WorstEnvironmentLoss.from_config(metric.get_config())
        self.assertEqual(revived.get_config(), metric.get_config())
