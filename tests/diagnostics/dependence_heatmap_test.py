"""The label dependence heatmap: PNG, TensorBoard image and `diagnose`."""

import contextlib
import glob
import io
import os
import tempfile

import numpy as np
import tensorflow as tf

from keras_mtcrl import cli
from keras_mtcrl.diagnostics import HeatmapLayout
from keras_mtcrl.diagnostics import dependence_heatmap
from keras_mtcrl.diagnostics import label_dependence
from keras_mtcrl.diagnostics import log_dependence_heatmap
from keras_mtcrl.diagnostics import save_dependence_heatmap
from keras_mtcrl.testing import TestCase

KINDS = {"a": ("binary", 1), "b": ("multiclass", 3), "c": ("regression", 1)}


def confounded_rows(n=2000, seed=0):
    """a and b confounded (b copies a 90%); c independent of both."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 2, n)
    b = np.where(rng.random(n) < 0.9, a, 2)
    dataset = tf.data.Dataset.from_tensor_slices((
        {"x": np.zeros((n, 1), "float32"),
         "env": (rng.random(n) < 0.5).astype("int32")},
        {"a": a.astype("float32"), "b": b,
         "c": rng.normal(size=n).astype("float32")},
    ))
    return label_dependence(dataset, KINDS, environment_key="env")


def independent_rows(n=3000, seed=1):
    rng = np.random.default_rng(seed)
    labels = {
        "a": rng.integers(0, 2, n).astype("float32"),
        "b": rng.integers(0, 3, n),
    }
    dataset = tf.data.Dataset.from_tensor_slices((np.zeros(n), labels))
    return label_dependence(dataset, {k: KINDS[k] for k in labels})


def patch(image, layout, panel, row, col):
    """Mean colour of a patch inside a cell, away from its box and text."""
    top, left, _, _ = layout.cell(panel, row, col)
    quarter = layout.cell_pixels // 4
    return image[top + 8:top + quarter, left + 8:left + quarter].reshape(
        -1, 3).mean(0)


def red_pixels(image, layout):
    """Pixels of the flagged-pair red inside the panels."""
    panels = image[layout.top:layout.top + layout.panel_pixels]
    red, green, blue = (panels[..., i].astype(int) for i in range(3))
    return int(np.sum((red > 180) & (green < 90) & (blue < 90)))


def image_summaries(folder, tag):
    """Decoded images of the summaries `tag` in the event files of `folder`."""
    images = []
    for path in glob.glob(os.path.join(folder, "events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                if value.tag != tag:
                    continue
                plugin = value.metadata.plugin_data.plugin_name
                encoded = value.tensor.string_val[2]
                images.append((plugin, tf.io.decode_png(encoded).numpy()))
    return images


class DiagnoseHeatmapTest(TestCase):
    def test_diagnose_png_shows_the_confounded_pair(self):
        rows = confounded_rows()
        path = os.path.join(tempfile.mkdtemp(), "sub", "dependence.png")
        self.assertEqual(save_dependence_heatmap(rows, path), path)
        image = tf.io.decode_png(tf.io.read_file(path), channels=3).numpy()
        # Panels: all samples, environment 0, environment 1.
        layout = HeatmapLayout.for_tasks(["a", "b", "c"], num_panels=3)
        self.assertEqual(image.shape, (layout.height, layout.width, 3))
        np.testing.assert_array_equal(image, dependence_heatmap(rows))
        a, b, c = 0, 1, 2
        for panel in range(3):
            confounded = patch(image, layout, panel, a, b).sum()
            independent = patch(image, layout, panel, a, c).sum()
            # NMI 0.9 is dark blue, NMI 0 near white.
            self.assertLess(confounded, 350)
            self.assertGreater(independent, 700)
            self.assertGreater(patch(image, layout, panel, c, a).sum(), 700)
            # The diagonal is grey.
            diagonal = patch(image, layout, panel, a, a)
            self.assertLess(np.ptp(diagonal), 4)
            self.assertTrue(150 < diagonal.mean() < 240)
        # The flagged pair is boxed in red, the independent one is not.
        top, left, bottom, _ = layout.cell(0, a, b)
        red, green, _ = image[(top + bottom) // 2, left + 2].astype(int)
        self.assertGreater(red, 150)
        self.assertLess(green, 100)
        top, left, bottom, _ = layout.cell(0, a, c)
        self.assertGreater(image[(top + bottom) // 2, left + 2, 1], 150)
        self.assertGreater(red_pixels(image, layout), 100)

    def test_diagnose_heatmap_of_independent_labels_has_no_red_box(self):
        rows = independent_rows()
        image = dependence_heatmap(rows, cell_pixels=40)
        layout = HeatmapLayout.for_tasks(["a", "b"], 1, cell_pixels=40)
        self.assertEqual(image.shape, (layout.height, layout.width, 3))
        self.assertEqual(red_pixels(image, layout), 0)
        self.assertGreater(patch(image, layout, 0, 0, 1).sum(), 700)

    def test_diagnose_tensorboard_image(self):
        rows = confounded_rows()
        folder = log_dependence_heatmap(rows, tempfile.mkdtemp())
        images = image_summaries(folder, "label_dependence")
        self.assertLen(images, 1)
        plugin, image = images[0]
        self.assertEqual(plugin, "images")
        np.testing.assert_array_equal(image, dependence_heatmap(rows))

    def test_diagnose_cli_writes_png_and_tensorboard(self):
        folder = tempfile.mkdtemp()
        png = os.path.join(folder, "synthetic.png")
        logdir = os.path.join(folder, "tb")
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = cli.main(
                ["diagnose", "synthetic", "--data-arg", "num_train=400",
                 "--data-arg", "num_eval=10", "--png", png,
                 "--logdir", logdir]
            )
        self.assertEqual(code, 0)
        self.assertIn(f"Heatmap: {png}", out.getvalue())
        image = tf.io.decode_png(tf.io.read_file(png), channels=3).numpy()
        # Tasks a and b; all samples and the two environments.
        layout = HeatmapLayout.for_tasks(["a", "b"], num_panels=3)
        self.assertEqual(image.shape, (layout.height, layout.width, 3))
        # NMI of a given b: 0.62 overall, 0.83 and 0.47 in the environments.
        self.assertLess(patch(image, layout, 0, 0, 1).sum(), 600)
        self.assertLess(
            patch(image, layout, 1, 0, 1).sum(),
            patch(image, layout, 2, 0, 1).sum() - 100,
        )
        self.assertGreater(red_pixels(image, layout), 100)
        images = image_summaries(
            os.path.join(logdir, "diagnose"), "label_dependence"
        )
        self.assertLen(images, 1)
        np.testing.assert_array_equal(images[0][1], image)
