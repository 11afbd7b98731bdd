import numpy as np
import pytest

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


class ColumnMembershipTest(TestCase):
    def test_unseen_ids_get_no_row(self):
        membership = column_membership(
            np.array([0, 1, 2]), np.array([1.0, 1.0, 1.0]), 2
        )
        self.assertAllClose(membership, [[1, 0], [0, 1], [0, 0]])
