import numpy as np
import pytest
import tensorflow as tf

from keras_mtcrl.models import LabelGroups
from keras_mtcrl.models.label_groups import label_codes
from keras_mtcrl.testing import TestCase

BINARY = {"a": ("binary", 1), "b": ("binary", 1)}


def dataset(a, b, env=None):
    features = {"x": np.zeros((len(a), 2), "float32")}
    if env is not None:
        features["env"] = np.asarray(env, "int32")
    labels = {"a": np.asarray(a, "float32"), "b": np.asarray(b, "float32")}
    return tf.data.Dataset.from_tensor_slices((features, labels))


class LabelGroupsTest(TestCase):
    def test_balancing_weights_of_a_2x2_table_by_hand(self):
        # (a, b) counts: (0,0)=6, (0,1)=2, (1,0)=1, (1,1)=3; n = 12.
        a = [0] * 8 + [1] * 4
        b = [0] * 6 + [1] * 2 + [0] + [1] * 3
        groups = LabelGroups.from_dataset(dataset(a, b), BINARY)
        self.assertAllClose(groups.counts["a"], [[6, 2], [1, 3]])
        # P(a)P(b)/P(a,b): P(a=0)=8/12, P(b=0)=7/12.
        expected = [
            (8 / 12) * (7 / 12) / (6 / 12),
            (8 / 12) * (5 / 12) / (2 / 12),
            (4 / 12) * (7 / 12) / (1 / 12),
            (4 / 12) * (5 / 12) / (3 / 12),
        ]
        self.assertAllClose(groups.balancing_weights("a"), expected)
        # Weighted counts are independent: each cell gets P(a) P(b) n.
        weighted = groups.counts["a"].reshape(-1) * expected
        self.assertAllClose(
            weighted, np.outer([8, 4], [7, 5]).reshape(-1) / 12, atol=1e-5
        )
        self.assertAllClose(groups.agreement("a"), [1, 0, 0, 1])
        self.assertAllClose(groups.counts["b"], [[6, 1], [2, 3]])

    def test_cells_of_samples(self):
        groups = LabelGroups(BINARY, None)
        labels = {
            "a": tf.constant([0.0, 1.0, 1.0, np.nan]),
            "b": tf.constant([1.0, 0.0, 1.0, 1.0]),
        }
        cells, valid = groups.cells(labels, None, "a")
        self.assertAllClose(cells, [1, 2, 3, 0])
        self.assertAllClose(valid, [1, 1, 1, 0])
        cells, valid = groups.cells(labels, None, "b")
        self.assertAllClose(valid, [1, 1, 1, 0])

    def test_environment_grouping_and_multiclass_agreement(self):
        kinds = {"a": ("multiclass", 3), "b": ("binary", 1)}
        groups = LabelGroups.from_dataset(
            dataset([0, 1, 2, 2], [0, 0, 1, 1], env=[0, 0, 1, 1]),
            kinds,
            grouping="environment",
            num_environments=2,
        )
        self.assertAllClose(groups.counts["a"], [[1, 0], [1, 0], [0, 2]])
        # Context 0 is seen with a=0 and a=1 (argmax picks 0); context 1
        # with a=2.
        self.assertAllClose(groups.agreement("a"), [1, 0, 0, 0, 0, 1])
        revived = LabelGroups.from_config(groups.get_config())
        self.assertAllClose(revived.counts["a"], groups.counts["a"])

    def test_label_codes_of_regression_and_multilabel(self):
        codes, valid = label_codes(
            tf.constant([1.0, 3.0, np.nan]), "regression", 1, threshold=2.0
        )
        self.assertAllClose(codes, [0, 1, 0])
        self.assertAllClose(valid, [True, True, False])
        codes, _ = label_codes(tf.constant([[0, 1], [1, 0]]), "multilabel", 2)
        self.assertAllClose(codes, [1, 0])

    def test_errors(self):
        with pytest.raises(ValueError, match="grouping"):
            LabelGroups(BINARY, None, grouping="pairs")
        with pytest.raises(ValueError, match="num_environments"):
            LabelGroups(BINARY, None, grouping="environment")
        with pytest.raises(ValueError, match="two tasks"):
            LabelGroups({"a": ("binary", 1)}, None)
        groups = LabelGroups(
            BINARY, None, grouping="environment", num_environments=2
        )
        with pytest.raises(ValueError, match="environment column"):
            groups.cells({"a": tf.zeros(2), "b": tf.zeros(2)}, None, "a")
