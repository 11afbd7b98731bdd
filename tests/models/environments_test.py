import numpy as np
import pytest
import tensorflow as tf

from keras_mtcrl.layers import TaskHead
from keras_mtcrl.models.environments import LabelPairCounts
from keras_mtcrl.models.environments import column_membership
from keras_mtcrl.testing import TestCase

# A 2 x 2 label table: (a, b) = (0, 0) x4, (1, 1) x4, (0, 1) x1, (1, 0) x1.
A = np.array([0, 0, 0, 0, 1, 1, 1, 1, 0, 1], "float32")
B = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 0], "float32")


def counted(smoothing=0.0):
    pairs = LabelPairCounts(
        {"a": TaskHead("binary"), "b": TaskHead("binary")},
        smoothing=smoothing,
    )
    pairs.build()
    pairs.update({"a": A, "b": B})
    return pairs


class LabelPairCountsTest(TestCase):
    def test_counts_and_balanced_weights_by_hand(self):
        pairs = counted()
        self.assertAllClose(pairs.counts["a|b"], [[4, 1], [1, 4]])
        membership = pairs.membership({"a": A, "b": B}, "a", "balanced")
        # P(a)P(b) = 0.25 per cell; P(a, b) = 0.4 agreeing, 0.1 conflicting.
        expected = np.where(A == B, 0.25 / 0.4, 0.25 / 0.1)
        self.assertAllClose(membership[:, 0], np.ones(10))  # observed
        self.assertAllClose(membership[:, 1], expected)
        # Under these weights the labels are independent: 2 x 2.5 = 4 x .625.
        self.assertAllClose(
            np.sum(membership[:, 1] * (A != B)),
            np.sum(membership[:, 1] * (A == B)),
        )

    def test_agreement_groups_by_hand(self):
        pairs = counted()
        membership = pairs.membership({"a": A, "b": B}, "b", "agreement")
        self.assertAllClose(membership[:, 0], (A == B).astype("float32"))
        self.assertAllClose(membership[:, 1], (A != B).astype("float32"))
        self.assertEqual(pairs.num_environments("agreement"), 2)
        self.assertEqual(pairs.num_environments("balanced"), 2)

    def test_missing_labels_get_no_weight(self):
        pairs = counted(smoothing=1.0)
        a = A.copy()
        a[0] = np.nan
        membership = pairs.membership({"a": a, "b": B}, "a", "balanced")
        self.assertAllClose(membership[0], [0.0, 0.0])
        b = B.copy()
        b[1] = np.nan  # the other task's hole empties both columns too
        membership = pairs.membership({"a": A, "b": b}, "a", "balanced")
        self.assertAllClose(membership[1], [0.0, 0.0])
        # A missing label is not counted either.
        pairs.update({"a": a, "b": B})
        self.assertAllClose(pairs.counts["a|b"], [[7, 2], [2, 8]])

    def test_multiclass_pairs_and_reversed_order(self):
        pairs = LabelPairCounts(
            {"a": TaskHead("multiclass", 3), "b": TaskHead("binary")},
            smoothing=0.0,
        )
        pairs.build()
        a = np.array([0, 1, 2, 2], "int32")
        b = np.array([0, 1, 1, 1], "float32")
        pairs.update({"a": a, "b": b})
        self.assertAllClose(pairs.joint("b", "a"), [[0.25, 0, 0],
                                                     [0, 0.25, 0.5]])

    def test_head_without_kind_is_refused(self):
        pairs = LabelPairCounts({"a": object(), "b": TaskHead("binary")})
        with pytest.raises(ValueError, match="task 'a'.*no `kind`"):
            pairs.build()


def _pair_by_pair(pairs, labels, task, mode):
    """`membership` worked out for each ordered pair of tasks on its own."""
    codes = pairs.codes(labels)
    own, valid = codes[task]
    columns = []
    for other in pairs.task_names:
        if other == task:
            continue
        other_code, other_valid = codes[other]
        joint = pairs.joint(task, other)
        independent = tf.reduce_sum(joint, 1, keepdims=True) * tf.reduce_sum(
            joint, 0, keepdims=True
        )
        both = valid * other_valid
        if mode == "balanced":
            table = independent / joint
        else:
            table = tf.cast(joint > independent, "float32")
        value = tf.reduce_sum(tf.matmul(own, table) * other_code, axis=-1)
        if mode == "balanced":
            columns += [both, both * value]
        else:
            columns += [both * value, both * (1.0 - value)]
    return tf.stack(columns, axis=-1)


class MembershipsTest(TestCase):
    def _pairs_and_labels(self):
        heads = {
            "a": TaskHead("multiclass", 3),
            "b": TaskHead("binary"),
            "c": TaskHead("multiclass", 3),
            "d": TaskHead("binary"),
            "e": TaskHead("regression"),
        }
        pairs = LabelPairCounts(heads)
        pairs.build()
        rng = np.random.default_rng(0)
        n = 40
        labels = {
            "a": rng.integers(-1, 3, n).astype("int32"),  # -1: missing
            "b": rng.integers(0, 2, n).astype("float32"),
            "c": rng.integers(0, 3, n).astype("int32"),
            "d": rng.integers(0, 2, n).astype("float32"),
            "e": rng.normal(size=n).astype("float32"),
        }
        labels["d"][:4] = np.nan
        pairs.update(labels)
        pairs.update({t: v[::-1].copy() for t, v in labels.items()})
        return pairs, labels

    def test_pairs_of_mixed_kinds_equal_pair_by_pair(self):
        # Pairs of different code counts are worked out in groups; the
        # result is the same as one ordered pair at a time.
        pairs, labels = self._pairs_and_labels()
        for mode in ("balanced", "agreement"):
            memberships = pairs.memberships(labels, mode)
            for task in pairs.task_names:
                self.assertAllClose(
                    memberships[task],
                    _pair_by_pair(pairs, labels, task, mode),
                    rtol=1e-6,
                )
                self.assertAllClose(
                    pairs.membership(labels, task, mode),
                    memberships[task],
                )

    def test_kept_for_the_step_inside_a_function_until_update(self):
        pairs, labels = self._pairs_and_labels()
        made = []

        @tf.function
        def step(labels):
            first = pairs.memberships(labels, "balanced")
            again = pairs.memberships(labels, "balanced")
            made.append(first is again)
            pairs.update(labels)
            after = pairs.memberships(labels, "balanced")
            made.append(after is first)
            return after["a"]

        counted = step(labels)
        self.assertEqual(made, [True, False])
        # The membership made after the update reads the updated counts.
        self.assertAllClose(counted, pairs.membership(labels, "a", "balanced"))
        # Eagerly nothing is kept: an assignment to the counts shows at once.
        before = pairs.membership(labels, "a", "balanced")
        for variable in pairs.counts.values():
            variable.assign(variable * 3.0 + 1.0)
        after = pairs.membership(labels, "a", "balanced")
        self.assertGreater(float(np.max(np.abs(after - before))), 1e-3)


class ColumnMembershipTest(TestCase):
    def test_unseen_ids_get_no_row(self):
        membership = column_membership(
            np.array([0, 1, 2]), np.array([1.0, 1.0, 1.0]), 2
        )
        self.assertAllClose(membership, [[1, 0], [0, 1], [0, 0]])
