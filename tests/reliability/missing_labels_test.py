"""Missing labels (NaN for float labels, negative ids for int labels).

What `tests/models` already covers: masking of the task losses, a task
with no label in a batch (MultiTaskModel), accuracy of one multi-class
task. Here: the invariance penalty with derived environments, every
default metric, whole batches without a task, and per-pixel holes.
"""

import keras
import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from keras_mtcrl import CausalMTLModel
from keras_mtcrl import ChannelGroupEncoder
from keras_mtcrl import ExpertEncoder
from keras_mtcrl import InvariancePenalty
from keras_mtcrl import MultiTaskModel
from keras_mtcrl import TaskHead
from keras_mtcrl.testing import TestCase


def derived_env_model(method):
    """MT-CRL without an environment column: environments from labels,
    whose label counts are filled from `labelled_batch` (as training
    would)."""
    model = CausalMTLModel(
        encoder=ExpertEncoder(num_modules=2, module_units=3),
        heads={"a": TaskHead("binary"), "b": TaskHead("multiclass", 3)},
        invariance=InvariancePenalty(method, weight=1.0, min_env_samples=1),
        input_shape=(None, 4),
    )
    model.label_pairs.update(labelled_batch()[1])
    return model


def labelled_batch(n=16, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype("float32")
    labels = {
        "a": (x[:, 0] > 0).astype("float32"),
        "b": rng.integers(0, 3, n).astype("int32"),
    }
    return x, labels


def evaluate(model, x, labels):
    """One batch holding every example: metrics are over all of them."""
    size = len(next(iter(labels.values())))
    return model.evaluate(
        x, labels, batch_size=size, verbose=0, return_dict=True
    )


class DerivedEnvironmentMaskingTest(TestCase, parameterized.TestCase):
    @parameterized.parameters("grad_var", "irmv1", "vrex")
    def test_task_without_labels_gives_zero_penalty_not_nan(self, method):
        model = derived_env_model(method)
        model.compile(optimizer=keras.optimizers.SGD(0.1))
        x, labels = labelled_batch()
        full = evaluate(model, x, labels)
        self.assertGreater(full["loss_inv"], 0.0)  # the penalty is on
        for task, hole in (("a", np.nan), ("b", -1)):
            holes = dict(labels)
            holes[task] = np.full_like(labels[task], hole)
            result = evaluate(model, x, holes)
            # Task `task` has no labels, and the other task's environments
            # come from `task`'s labels: both penalties are exactly 0.
            self.assertEqual(result[f"loss_{task}"], 0.0)
            self.assertEqual(result["loss_inv"], 0.0)
            # The unlabelled task's metrics are NaN ("absent"), the rest
            # finite.
            for name, value in result.items():
                absent = name.startswith(f"{task}_")
                self.assertEqual(np.isnan(value), absent, name)
        holes = {"a": labels["a"], "b": np.full(16, -1, "int32")}
        model.fit(x, holes, batch_size=16, epochs=2, verbose=0)
        for weight in model.get_weights():
            self.assertTrue(np.isfinite(weight).all())

    @parameterized.parameters("grad_var", "irmv1", "vrex")
    def test_partial_holes_equal_the_labelled_subset(self, method):
        model = derived_env_model(method)
        model.compile()
        x, labels = labelled_batch()
        present = np.arange(16) % 3 != 0
        holes = {"a": labels["a"], "b": np.where(present, labels["b"], -1)}
        subset = {t: v[present] for t, v in labels.items()}
        with_holes = evaluate(model, x, holes)
        on_subset = evaluate(model, x[present], subset)
        # Both tasks' penalties only see samples whose `b` label (the
        # label itself, or the environment it defines) is present.
        self.assertAllClose(
            with_holes["loss_inv"], on_subset["loss_inv"], atol=1e-6
        )
        self.assertAllClose(with_holes["loss_b"], on_subset["loss_b"], 1e-6)


def metric_model():
    return MultiTaskModel(
        encoder=ExpertEncoder(num_modules=2, module_units=3),
        heads={
            "bin": TaskHead("binary"),
            "cls": TaskHead("multiclass", 3),
            "multi": TaskHead("multilabel", 2),
            "reg": TaskHead("regression"),
        },
        input_shape=(None, 4),
    )


def metric_data(n=24, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype("float32")
    labels = {
        "bin": (rng.random(n) > 0.5).astype("float32"),
        "cls": rng.integers(0, 3, n).astype("int32"),
        "multi": (rng.random((n, 2)) > 0.5).astype("float32"),
        "reg": rng.normal(size=n).astype("float32"),
    }
    return x, labels


class MetricMaskingTest(TestCase):
    def test_every_default_metric_ignores_missing_labels(self):
        model = metric_model()
        model.compile()
        x, labels = metric_data()
        index = np.arange(24)
        keep = {
            "bin": index % 4 != 0,
            "cls": index % 3 != 1,
            "multi": index % 5 != 2,
            "reg": index >= 6,
        }
        holes = {
            "bin": np.where(keep["bin"], labels["bin"], np.nan),
            "cls": np.where(keep["cls"], labels["cls"], -1),
            # One missing element drops the sample (see docs/reliability.md).
            "multi": labels["multi"].copy(),
            "reg": np.where(keep["reg"], labels["reg"], np.nan),
        }
        holes["multi"][~keep["multi"], 1] = np.nan
        masked = evaluate(model, x, holes)
        for task, rows in keep.items():
            alone = evaluate(
                model, x[rows], {t: v[rows] for t, v in labels.items()}
            )
            names = [k for k in masked if k.startswith(f"{task}_")]
            self.assertTrue(names, task)
            for name in names + [f"loss_{task}"]:
                self.assertAllClose(
                    masked[name], alone[name], atol=1e-5, msg=name
                )

    def test_batch_without_a_task_leaves_its_metrics_unchanged(self):
        model = metric_model()
        model.compile()
        x, labels = metric_data(n=16)
        empty = dict(labels)
        empty["reg"] = np.full(16, np.nan, "float32")
        empty["cls"] = np.full(16, -1, "int32")
        both = {t: np.concatenate([labels[t], empty[t]]) for t in labels}
        x2 = np.concatenate([x, x])
        # Batch 2 has no `reg` or `cls` label: their metrics and losses
        # are those of batch 1 alone, not dragged towards 0 or NaN.
        two_batches = model.evaluate(
            x2, both, batch_size=16, verbose=0, return_dict=True
        )
        first = evaluate(model, x, labels)
        for name in ("reg_mae", "reg_rmse", "cls_accuracy"):
            self.assertAllClose(two_batches[name], first[name], 1e-6)
        self.assertTrue(all(np.isfinite(v) for v in two_batches.values()))

    def test_metric_objects_compile_on_a_built_model(self):
        model = metric_model()
        model.compile(metrics={"reg": [keras.metrics.MeanAbsoluteError()]})
        x, labels = metric_data()
        labels["reg"][:4] = np.nan
        result = evaluate(model, x, labels)
        self.assertIn("reg_mean_absolute_error", result)


class DensePerPixelMaskingTest(TestCase):
    """Per-pixel holes: -1 class ids, NaN depth and NaN binary edges."""

    def setUp(self):
        super().setUp()
        backbone = keras.Sequential(
            [keras.layers.Conv2D(4, 3, padding="same", activation="relu")]
        )
        self.model = CausalMTLModel(
            encoder=ChannelGroupEncoder(backbone, num_modules=2),
            heads={
                "seg": TaskHead("multiclass", 3),
                "depth": TaskHead("regression"),
                "edge": TaskHead("binary"),
            },
            invariance=InvariancePenalty(num_environments=2, min_env_samples=1),
            input_shape={"image": (None, 5, 5, 1), "env": (None,)},
        )
        self.model.compile(
            optimizer=keras.optimizers.SGD(0.1),
            # Keras' own loss and metric objects squeeze a (..., 1) output
            # to the labels' rank: the model must give them a channel axis.
            loss={"depth": keras.losses.MeanSquaredError()},
            metrics={"seg": ["accuracy"], "depth": ["mae"]},
        )
        rng = np.random.default_rng(0)
        self.inputs = {
            "image": rng.random((4, 5, 5, 1)).astype("float32"),
            "env": np.array([0, 1, 0, 1], "int32"),
        }
        seg = rng.integers(0, 3, (4, 5, 5)).astype("int32")
        seg[rng.random((4, 5, 5)) < 0.3] = -1
        seg[3] = -1  # sample 3: no segmentation label at all
        depth = rng.random((4, 5, 5)).astype("float32")
        depth[rng.random((4, 5, 5)) < 0.3] = np.nan
        edge = (rng.random((4, 5, 5)) > 0.5).astype("float32")
        edge[rng.random((4, 5, 5)) < 0.3] = np.nan
        self.labels = {"seg": seg, "depth": depth, "edge": edge}

    def check_against_numpy(self, result):
        """Each loss: per sample the mean over its labelled pixels, then
        the mean over samples with any; each metric: over labelled
        pixels only."""
        predictions = self.model.predict(self.inputs, verbose=0)
        seg, depth, edge = (
            self.labels[t].reshape(4, 5, 5) for t in ("seg", "depth", "edge")
        )
        valid = seg >= 0
        probs = predictions["seg"]
        picked = np.take_along_axis(
            probs, np.maximum(seg, 0)[..., None], axis=-1
        )[..., 0]
        pixel_loss = -np.log(np.clip(picked, 1e-7, 1.0))
        per_sample = [pixel_loss[i][valid[i]].mean() for i in range(3)]
        self.assertFalse(valid[3].any())
        self.assertAllClose(result["loss_seg"], np.mean(per_sample), 1e-5)
        accuracy = (probs.argmax(-1) == seg)[valid].mean()
        self.assertAllClose(result["seg_accuracy"], accuracy, atol=1e-6)
        error = np.abs(predictions["depth"][..., 0] - depth)
        known = np.isfinite(depth)
        squared = [np.mean(error[i][known[i]] ** 2) for i in range(4)]
        self.assertAllClose(result["loss_depth"], np.mean(squared), 1e-5)
        self.assertAllClose(
            result["depth_mean_absolute_error"], error[known].mean(), 1e-6
        )
        labelled = np.isfinite(edge)
        hits = (predictions["edge"][..., 0] > 0.5) == (edge > 0.5)
        self.assertAllClose(
            result["edge_accuracy"], hits[labelled].mean(), atol=1e-6
        )
        self.assertTrue(0.0 <= result["edge_auc"] <= 1.0)

    def test_labels_without_a_channel_axis(self):
        # (batch, H, W) targets of (batch, H, W, 1) outputs.
        self.check_against_numpy(evaluate(self.model, self.inputs, self.labels))

    def test_labels_with_a_channel_axis_and_training_stays_finite(self):
        for task in ("depth", "edge"):
            self.labels[task] = self.labels[task][..., None]
        self.check_against_numpy(evaluate(self.model, self.inputs, self.labels))
        history = self.model.fit(
            self.inputs, self.labels, batch_size=4, epochs=3, verbose=0
        )
        for name, values in history.history.items():
            self.assertTrue(np.isfinite(values).all(), name)
        self.assertGreater(history.history["loss_inv"][0], 0.0)
        for weight in self.model.get_weights():
            self.assertTrue(tf.reduce_all(tf.math.is_finite(weight)))
