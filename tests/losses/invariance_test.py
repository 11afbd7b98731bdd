import numpy as np
import pytest
from absl.testing import parameterized

from keras_mtcrl.losses import InvariancePenalty
from keras_mtcrl.losses import SparsityPenalty
from keras_mtcrl.testing import TestCase

# Samples 0, 1 in environment 0; samples 2, 3 in environment 1.
ENVS = np.array([[1, 0], [1, 0], [0, 1], [0, 1]], "float32")


class InvariancePenaltyTest(TestCase, parameterized.TestCase):
    def test_vrex_by_hand(self):
        losses = np.array([[1.0], [3.0], [5.0], [7.0]], "float32")
        # Env means 2 and 6: population variance 4.
        value = InvariancePenalty("vrex", min_env_samples=1).statistic(
            ENVS, losses
        )
        self.assertAllClose(value, 4.0)

    def test_grad_var_by_hand(self):
        grads = np.array([[1, 0], [3, 0], [5, 2], [7, 2]], "float32")
        # Env means [2, 0] and [6, 2]: variances 4 and 1.
        value = InvariancePenalty("grad_var", min_env_samples=1).statistic(
            ENVS, grads
        )
        self.assertAllClose(value, 5.0)

    def test_irmv1_by_hand(self):
        grads = np.array([[1, 0], [3, 0], [5, 2], [7, 2]], "float32")
        # Squared norms of env means: 4 and 40 -> mean 22.
        value = InvariancePenalty("irmv1", min_env_samples=1).statistic(
            ENVS, grads
        )
        self.assertAllClose(value, 22.0)

    def test_weighted_environments_by_hand(self):
        # Environment 0: all four samples; environment 1: weights 3,1,0,0.
        membership = np.array([[1, 3], [1, 1], [1, 0], [1, 0]], "float32")
        values = np.array([[4.0], [0.0], [2.0], [2.0]], "float32")
        # Means 2 and (12 + 0) / 4 = 3: variance 0.25.
        value = InvariancePenalty("vrex", min_env_samples=1).statistic(
            membership, values
        )
        self.assertAllClose(value, 0.25)

    @parameterized.parameters("grad_var", "vrex")
    def test_zero_when_environments_agree(self, method):
        values = np.array([[1, 2], [3, 4], [1, 2], [3, 4]], "float32")
        value = InvariancePenalty(method, min_env_samples=1).statistic(
            ENVS, values
        )
        self.assertAllClose(value, 0.0)

    @parameterized.parameters("grad_var", "irmv1", "vrex")
    def test_fewer_than_two_environments_give_zero(self, method):
        values = np.arange(8, dtype="float32").reshape(4, 2)
        penalty = InvariancePenalty(method, min_env_samples=3)
        self.assertEqual(float(penalty.statistic(ENVS, values)), 0.0)
        one_env = np.array([[1, 0]] * 4, "float32")
        self.assertEqual(float(penalty.statistic(one_env, values)), 0.0)

    def test_absent_samples_are_skipped(self):
        # Sample 1 has no label: its row of the membership is zero.
        membership = ENVS * np.array([[1], [0], [1], [1]], "float32")
        values = np.array([[1.0], [99.0], [5.0], [5.0]], "float32")
        value = InvariancePenalty("vrex", min_env_samples=1).statistic(
            membership, values
        )
        self.assertAllClose(value, 4.0)

    def test_warmup_and_ramp(self):
        penalty = InvariancePenalty(weight=3.0, warmup_steps=10, ramp_steps=0)
        self.assertEqual(float(penalty.weight_at(9)), 0.0)
        self.assertEqual(float(penalty.weight_at(10)), 3.0)
        ramped = InvariancePenalty(weight=4.0, warmup_steps=2, ramp_steps=4)
        self.assertAllClose(
            [float(ramped.weight_at(s)) for s in (1, 2, 3, 5, 50)],
            [0.0, 1.0, 2.0, 4.0, 4.0],
        )

    def test_config_round_trip(self):
        penalty = InvariancePenalty(
            "irmv1", 2.0, 5, 7, 3, 4, environments="agreement"
        )
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
        with pytest.raises(ValueError, match="environments"):
            InvariancePenalty(environments="labels")
        with pytest.raises(ValueError, match="needs `num_environments`"):
            InvariancePenalty(environments="column")
        with pytest.raises(ValueError, match="ramp_steps"):
            InvariancePenalty(ramp_steps=-1)


class SparsityPenaltyTest(TestCase):
    def test_mean_of_gates(self):
        gates = np.array([[1.0, 0.0], [0.25, 0.75]], "float32")
        self.assertAllClose(SparsityPenalty()(gates), 0.5)

    def test_bad_weight(self):
        with pytest.raises(ValueError, match="weight"):
            SparsityPenalty(weight="high")
