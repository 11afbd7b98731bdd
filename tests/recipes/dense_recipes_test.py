import contextlib
import io
import json
import os
import tempfile

import keras
import numpy as np
import pytest
from recipe_test_utils import assert_finite
from recipe_test_utils import fit_one_step

from keras_mtcrl import cli
from keras_mtcrl.datasets.dense_pipeline import dense_task_specs
from keras_mtcrl.layers.channel_group_encoder import ChannelGroupEncoder
from keras_mtcrl.layers.conv_backbone import ConvBackbone
from keras_mtcrl.recipes import dense
from keras_mtcrl.testing import TestCase
from keras_mtcrl.testing import dense_fixtures
from keras_mtcrl.training import get_recipe
from keras_mtcrl.training.model_factory import build_model

TINY_MODEL = {
    "backbone": "resnet",
    "size": "tiny",
    "module_width": 2,
    "decoder_filters": 4,
    "normal_loss": "cosine",
}
SEGMENTATION = ["segmentation_mean_iou", "segmentation_pixel_accuracy"]
DEPTH = ["depth_abs_error", "depth_rel_error"]
NORMAL = [
    "normal_mean_angle",
    "normal_median_angle",
    "normal_within_11.25",
    "normal_within_22.5",
    "normal_within_30",
]


def tiny(name, data_args, **changes):
    return get_recipe(name).with_config(
        data_args=data_args,
        model_args=TINY_MODEL,
        batch_size=2,
        min_env_samples=1,
        **changes,
    )


class DenseRecipesTest(TestCase):
    def test_nyuv2_trains_on_the_npy_layout(self):
        root = dense_fixtures.write_nyuv2_npy(tempfile.mkdtemp())
        recipe = tiny(
            "nyuv2",
            {
                "data_dir": str(root),
                "image_size": (8, 8),
                "flip": True,
                "shifted_scenes": ["office"],
            },
        )
        model, data, history, scores = fit_one_step(recipe)
        self.assertEqual(data.task_names, ("segmentation", "depth", "normal"))
        self.assertEqual(data.tasks[0].units, 13)
        assert_finite(self, scores, SEGMENTATION + DEPTH + NORMAL)
        self.assertTrue(np.isfinite(history.history["loss_inv"][0]))
        # The shared encoder is the backbone read as K channel groups.
        self.assertIsInstance(model.encoder, ChannelGroupEncoder)
        self.assertIsInstance(model.encoder.backbone, ConvBackbone)
        self.assertEqual(model.encoder.module_width, 2)
        # The cosine loss of normals is -cos: in [-1, 1].
        self.assertTrue(-1.0 <= scores["loss_normal"] <= 1.0)
        self.assertTrue(0.0 <= scores["normal_within_30"] <= 1.0)

    def test_cityscapes_trains_segmentation_and_depth(self):
        root = dense_fixtures.write_cityscapes(tempfile.mkdtemp())
        recipe = tiny(
            "cityscapes",
            {
                "data_dir": str(root),
                "image_size": (8, 16),
                "shifted_cities": ["frankfurt"],
            },
        )
        _, data, _, scores = fit_one_step(recipe, "shared_bottom")
        self.assertEqual(data.task_names, ("segmentation", "depth"))
        self.assertEqual(data.tasks[0].units, 19)
        assert_finite(self, scores, SEGMENTATION + DEPTH)
        self.assertNotIn("normal_mean_angle", scores)

    def test_taskonomy_with_a_segnet_backbone(self):
        root = dense_fixtures.write_taskonomy(tempfile.mkdtemp())
        recipe = tiny(
            "taskonomy",
            {
                "data_dir": str(root),
                "image_size": (8, 8),
                "shifted_buildings": ["coffeen"],
            },
        ).with_config(model_args={**TINY_MODEL, "backbone": "segnet"})
        model, _, _, scores = fit_one_step(recipe, "shared_bottom")
        self.assertEqual(model.encoder.backbone.style, "segnet")
        assert_finite(self, scores, SEGMENTATION + DEPTH + NORMAL)

    def test_predictions_have_the_labels_size_for_both_styles(self):
        for style, size in (("resnet", "small"), ("segnet", "tiny")):
            recipe = get_recipe("scenes").with_config(
                data_args={"num_train": 2, "num_eval": 1, "image_size": 16},
                model_args={**TINY_MODEL, "backbone": style, "size": size},
            )
            data = recipe.build_data(recipe.config)
            model = build_model(recipe, data, "mtcrl")
            features, labels = next(iter(data.batched("train", 2)))
            outputs = model(features)
            self.assertEqual(
                tuple(outputs["segmentation"].shape), (2, 16, 16, 4)
            )
            self.assertEqual(tuple(outputs["depth"].shape), (2, 16, 16, 1))
            self.assertEqual(tuple(outputs["normal"].shape), (2, 16, 16, 3))

    def test_file_recipes_without_data_dir_fail_clearly(self):
        for name in ("nyuv2", "cityscapes", "taskonomy"):
            recipe = get_recipe(name)
            with pytest.raises(FileNotFoundError, match="--data-dir DIR"):
                recipe.build_data(recipe.config)
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            code = cli.main(
                ["train", "cityscapes", "--logdir", tempfile.mkdtemp()]
            )
        self.assertEqual(code, 2)
        self.assertIn("leftImg8bit", err.getvalue())

    def test_metrics_and_losses_per_task(self):
        config = get_recipe("scenes").config
        seg, depth, normal = dense_task_specs(
            ("segmentation", "depth", "normal"), 5
        )
        metrics = dense.build_metrics(seg, config)
        self.assertEqual(metrics[0].num_classes, 5)
        self.assertEqual(
            [m.name for m in dense.build_metrics(normal, config)],
            [n[len("normal_") :] for n in NORMAL],
        )
        self.assertEqual(config.primary_metrics["normal"][0], "mean_angle")
        self.assertEqual(dense.build_loss(normal, config), "auto")  # MSE
        self.assertEqual(dense.build_loss(depth, config), "auto")
        cosine = config.replace(model_args={"normal_loss": "cosine"})
        loss = dense.build_loss(normal, cosine)
        self.assertIsInstance(loss, keras.losses.CosineSimilarity)
        self.assertEqual(dense.build_loss(depth, cosine), "auto")
        with pytest.raises(ValueError, match="normal_loss"):
            dense.build_loss(
                normal, config.replace(model_args={"normal_loss": "l1"})
            )

    def test_scenes_cli_run_in_mixed_bfloat16(self):
        folder = tempfile.mkdtemp()
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out):
                code = cli.main(
                    [
                        "train",
                        "scenes",
                        "--logdir",
                        folder,
                        "--quiet",
                        "--strategy",
                        "one",
                        "--epochs",
                        "1",
                        "--batch-size",
                        "4",
                        "--mixed-precision",
                        "mixed_bfloat16",
                        "--data-arg",
                        "num_train=4",
                        "--data-arg",
                        "num_eval=2",
                        "--data-arg",
                        "image_size=8",
                        "--model-arg",
                        "size='tiny'",
                        "--model-arg",
                        "module_width=2",
                        "--model-arg",
                        "decoder_filters=4",
                        "--min-env-samples",
                        "1",
                        "--architectures",
                        "mtcrl",
                    ]
                )
        finally:
            keras.config.set_dtype_policy("float32")
        self.assertEqual(code, 0)
        table = out.getvalue()
        for row in (
            "| segmentation | mean_iou | shifted test |",
            "| depth | rel_error | ID test |",
            "| normal | within_11.25 | shifted test |",
        ):
            self.assertIn(row, table)
        with open(os.path.join(folder, "results.json")) as handle:
            saved = json.load(handle)
        self.assertEqual(saved["config"]["model_args"]["module_width"], 2)
        self.assertEqual(saved["config"]["mixed_precision"], "mixed_bfloat16")
        scores = saved["stats"]["mtcrl"]["test_shifted"]
        for key in SEGMENTATION + DEPTH + NORMAL:
            self.assertTrue(np.isfinite(scores[key]["mean"]), key)
        self.assertEqual(np.asarray(saved["graph"]).shape, (3, 4))

    @pytest.mark.slow
    def test_scenes_step_with_xla(self):
        recipe = get_recipe("scenes").with_config(
            data_args={"num_train": 4, "num_eval": 2, "image_size": 8},
            # MSE: the cosine loss's gradient is NaN under XLA at zero
            # predictions (see recipes/dense.py).
            model_args={**TINY_MODEL, "normal_loss": "mse"},
            batch_size=4,
            jit_compile=True,
            min_env_samples=1,
        )
        _, _, history, scores = fit_one_step(recipe)
        self.assertTrue(np.isfinite(history.history["loss"][0]))
        assert_finite(self, scores, SEGMENTATION + DEPTH + NORMAL)
