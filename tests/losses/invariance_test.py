import numpy as np
import pytest
from absl.testing import parameterized

from keras_mtcrl.losses import InvariancePenalty
from keras_mtcrl.losses import SparsityPenalty
from keras_mtcrl.testing import TestCase

ENVS = np.array([0, 0, 1, 1], "int32")
ONES = np.ones(4, "float32")


class InvariancePenaltyTest(TestCase, parameterized.TestCase):
    def test_vrex_by_hand(self):
        losses = np.array([1.0, 3.0, 5.0, 7.0], "float32")
        # Env means 2 and 6: population variance 4.
        value = InvariancePenalty("vrex", min_env_samples=1)(
            ENVS, ONES, losses, None, 2
        )
        self.assertAllClose(value, 4.0)

    def test_grad_var_by_hand(self):
        grads = np.array([[1, 0], [3, 0], [5, 2], [7, 2]], "float32")
        # Env means [2, 0] and [6, 2]: variances 4 and 1.
        value = InvariancePenalty("grad_var", min_env_samples=1)(
            ENVS, ONES, ONES, grads, 2
        )
        self.assertAllClose(value, 5.0)

    def test_irmv1_by_hand(self):
        grads = np.array([[1, 0], [3, 0], [5, 2], [7, 2]], "float32")
        # Squared norms of env means: 4 and 40 -> mean 22.
        value = InvariancePenalty("irmv1", min_env_samples=1)(
            ENVS, ONES, ONES, grads, 2
        )
        self.assertAllClose(value, 22.0)

    @parameterized.parameters("grad_var", "vrex")
    def test_zero_when_environments_agree(self, method):
        grads = np.array([[1, 2], [3, 4], [1, 2], [3, 4]], "float32")
        losses = np.array([1.0, 2.0, 1.0, 2.0], "float32")
        value = InvariancePenalty(method, min_env_samples=1)(
            ENVS, ONES, losses, grads, 2
        )
        self.assertAllClose(value, 0.0)

    @parameterized.parameters("grad_var", "irmv1", "vrex")
    def test_fewer_than_two_environments_give_zero(self, method):
        grads = np.arange(8, dtype="float32").reshape(4, 2)
        penalty = InvariancePenalty(method, min_env_samples=3)
        value = penalty(ENVS, ONES, ONES * 2, grads, 2)
        self.assertEqual(float(value), 0.0)
        one_env = penalty(np.zeros(4, "int32"), ONES, ONES, grads, 2)
        self.assertEqual(float(one_env), 0.0)

    def test_missing_labels_and_empty_environments_are_skipped(self):
        losses = np.array([1.0, np.nan, 5.0, 5.0], "float32")
        valid = np.array([1.0, 0.0, 1.0, 1.0], "float32")
        safe = np.where(valid > 0, losses, 0.0).astype("float32")
        value = InvariancePenalty("vrex", min_env_samples=1)(
            ENVS, valid, safe, None, 5
        )
        self.assertAllClose(value, 4.0)

    def test_warmup(self):
        penalty = InvariancePenalty(weight=3.0, warmup_steps=10)
        self.assertEqual(float(penalty.weight_at(9)), 0.0)
        self.assertEqual(float(penalty.weight_at(10)), 3.0)

    def test_config_round_trip(self):
        penalty = InvariancePenalty("irmv1", 2.0, 5, 3, 4, 8)
        self.assertEqual(
            InvariancePenalty.from_config(penalty.get_config()).get_config(),
            penalty.get_config(),
        )

    def test_bad_arguments(self):
        with pytest.raises(ValueError, match="method"):
            InvariancePenalty("fishr2")
        with pytest.raises(ValueError, match="weight"):
            InvariancePenalty(weight=-0.1)
        with pytest.raises(ValueError, match="min_env_samples"):
            InvariancePenalty(min_env_samples=0)
        with pytest.raises(ValueError, match="num_environments"):
            InvariancePenalty(num_environments=0)


class SparsityPenaltyTest(TestCase):
    def test_mean_of_gates(self):
        gates = np.array([[1.0, 0.0], [0.25, 0.75]], "float32")
        self.assertAllClose(SparsityPenalty()(gates), 0.5)

    def test_bad_weight(self):
        with pytest.raises(ValueError, match="weight"):
            SparsityPenalty(weight="high")
