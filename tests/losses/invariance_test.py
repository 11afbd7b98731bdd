import numpy as np
import pytest
import tensorflow as tf
from absl.testing import parameterized

from keras_mtcrl.layers import ExpertEncoder
from keras_mtcrl.layers import TaskHead
from keras_mtcrl.losses import InvariancePenalty
from keras_mtcrl.losses import SparsityPenalty
from keras_mtcrl.losses.penalty import PenaltyContext
from keras_mtcrl.losses.per_sample import observed_losses
from keras_mtcrl.models import CausalMTLModel
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


def _task_by_task(penalty, model, forward, labels):
    """`InvariancePenalty.compute` written one task at a time."""
    total = 0.0
    for task in model.task_names:
        losses, valid = observed_losses(forward)[task][:2]
        membership = model.environment_membership(
            task, labels, None, penalty.environments, valid
        )
        if penalty.method == "vrex":
            values = losses[:, None]
        else:
            values = model.module_signal(forward, task)
        covered = tf.cast(tf.reduce_max(membership, axis=-1) > 0, "float32")
        # The loss scale is held constant.
        scale = tf.stop_gradient(tf.reduce_sum(losses * covered)) / tf.maximum(
            tf.reduce_sum(covered), 1.0
        )
        total += penalty.statistic(membership, values) / tf.square(
            scale + 1e-3
        )
    return total / float(len(model.task_names))


class InvariancePenaltyAllTasksTest(TestCase, parameterized.TestCase):
    def test_rows_of_a_batched_statistic(self):
        rng = np.random.default_rng(0)
        membership = rng.uniform(size=(3, 16, 4)).astype("float32")
        membership[1, :, 2:] = 0.0  # fewer than two environments: 0
        values = rng.normal(size=(3, 16, 5)).astype("float32")
        for method in ("grad_var", "irmv1", "vrex"):
            penalty = InvariancePenalty(method, min_env_samples=1)
            rows = penalty.statistic(membership, values)
            self.assertEqual(tuple(rows.shape), (3,))
            for row in range(3):
                self.assertAllClose(
                    rows[row],
                    penalty.statistic(membership[row], values[row]),
                    rtol=1e-6,
                )

    @parameterized.parameters(
        ("grad_var", "balanced"), ("irmv1", "agreement"), ("vrex", "balanced")
    )
    def test_all_tasks_at_once_equal_task_by_task(self, method, mode):
        rng = np.random.default_rng(1)
        x = rng.normal(size=(64, 5)).astype("float32")
        labels = {
            "a": (x[:, 0] > 0).astype("float32"),
            "b": (x[:, 0] + x[:, 1] > 0).astype("float32"),
            "c": rng.integers(0, 3, 64).astype("int32"),
        }
        labels["a"][:5] = np.nan  # missing labels
        penalty = InvariancePenalty(
            method, min_env_samples=1, environments=mode
        )
        model = CausalMTLModel(
            encoder=ExpertEncoder(num_modules=3, module_units=2),
            heads={
                "a": TaskHead("binary"),
                "b": TaskHead("binary"),
                "c": TaskHead("multiclass", 3),
            },
            input_shape=(None, 5),
            invariance=penalty,
            disentanglement=None,
            sparsity=None,
        )
        model.compile(optimizer="sgd")
        model.label_pairs.update(labels)
        variables = model.trainable_variables
        with tf.GradientTape(persistent=True) as tape:
            forward = model.forward(x, labels, None, training=True)
            context = PenaltyContext(model, forward, labels, None, True)
            value = penalty.compute(context)
            reference = _task_by_task(penalty, model, forward, labels)
        self.assertGreater(float(reference), 0.0)
        self.assertAllClose(value, reference, rtol=1e-5)
        for ours, theirs in zip(
            tape.gradient(value, variables),
            tape.gradient(reference, variables),
        ):
            self.assertAllClose(ours, theirs, rtol=1e-4, atol=1e-6)


class SparsityPenaltyTest(TestCase):
    def test_mean_of_gates(self):
        gates = np.array([[1.0, 0.0], [0.25, 0.75]], "float32")
        self.assertAllClose(SparsityPenalty()(gates), 0.5)

    def test_bad_weight(self):
        with pytest.raises(ValueError, match="weight"):
            SparsityPenalty(weight="high")
