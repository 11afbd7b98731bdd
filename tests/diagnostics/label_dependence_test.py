import numpy as np
import tensorflow as tf

from keras_mtcrl.diagnostics import format_dependence_table
from keras_mtcrl.diagnostics import label_dependence
from keras_mtcrl.testing import TestCase

KINDS = {"a": ("binary", 1), "b": ("multiclass", 3), "c": ("regression", 1)}


def dataset(n=2000, seed=0):
    """a and b confounded (b copies a 90%); c independent of both."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 2, n)
    b = np.where(rng.random(n) < 0.9, a, 2)
    c = rng.normal(size=n)
    env = (rng.random(n) < 0.5).astype("int32")
    return tf.data.Dataset.from_tensor_slices((
        {"x": np.zeros((n, 1), "float32"), "env": env},
        {"a": a.astype("float32"), "b": b, "c": c.astype("float32")},
    ))


class LabelDependenceTest(TestCase):
    def test_flags_the_confounded_pair_only(self):
        rows = label_dependence(dataset(), KINDS, environment_key="env")
        flagged = {
            (r["task"], r["given"]) for r in rows
            if r["environment"] == "all" and r["flagged"]
        }
        self.assertEqual(flagged, {("a", "b"), ("b", "a")})
        overall = [r for r in rows if r["environment"] == "all"]
        self.assertLen(overall, 6)
        per_env = [r for r in rows if r["environment"] == 1]
        self.assertLen(per_env, 6)
        a_given_b = next(r for r in overall if r["given"] == "b"
                         and r["task"] == "a")
        # b determines a whenever b != 2, i.e. 90% of the time: I/H(a) is
        # 1 - H(a | b) = 1 - 0.1 * 1 bit.
        self.assertAllClose(a_given_b["nmi"], 0.9, atol=0.03)
        self.assertIn("| a | b | all |", format_dependence_table(rows))

    def test_flags_nothing_when_labels_are_independent(self):
        rng = np.random.default_rng(1)
        labels = {
            "a": rng.integers(0, 2, 3000).astype("float32"),
            "b": rng.integers(0, 3, 3000),
        }
        ds = tf.data.Dataset.from_tensor_slices((np.zeros(3000), labels))
        rows = label_dependence(
            ds, {"a": ("binary", 1), "b": ("multiclass", 3)}
        )
        self.assertFalse(any(r["flagged"] for r in rows))
        self.assertTrue(all(r["nmi"] < 0.01 for r in rows))
