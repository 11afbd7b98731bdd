import tempfile

import numpy as np
import pytest

from keras_mtcrl import GMTLAdjuster
from keras_mtcrl import GroupDROModel
from keras_mtcrl import InvariantRiskModel
from keras_mtcrl import LabelGroups
from keras_mtcrl import ReweightedModel
from keras_mtcrl.testing import TestCase
from keras_mtcrl.training import Trainer
from keras_mtcrl.training import get_recipe
from keras_mtcrl.training.model_factory import build_model
from keras_mtcrl.training.model_factory import prediction_model
from keras_mtcrl.training.recipe_config import OOD_ARCHITECTURES


def tiny_recipe(**changes):
    return get_recipe("synthetic").with_config(
        data_args={"num_train": 256, "num_eval": 128},
        batch_size=64,
        **changes,
    )


class OODArchitecturesTest(TestCase):
    def test_build_model_picks_the_groups(self):
        recipe = tiny_recipe()
        data = recipe.build_data(recipe.config)
        expected = {
            "reweight": (ReweightedModel, "labels"),
            "groupdro": (GroupDROModel, "labels"),
            "irm": (InvariantRiskModel, "environment"),
            "vrex": (InvariantRiskModel, "environment"),
            "fishr": (InvariantRiskModel, "environment"),
        }
        for architecture, (cls, grouping) in expected.items():
            model = build_model(recipe, data, architecture)
            self.assertIsInstance(model, cls)
            groups = getattr(model, "groups", None)
            if grouping == "labels":
                self.assertEqual(groups.grouping, "labels")
                # Training labels agree ~90%: the cells (a, b) say so.
                counts = groups.counts["a"]
                agree = counts[0, 0] + counts[1, 1]
                self.assertGreater(agree / counts.sum(), 0.8)
            else:
                self.assertEqual(model.environments, data.num_environments)
                self.assertEqual(
                    model.method,
                    {"irm": "irmv1"}.get(architecture, architecture),
                )
        model = build_model(
            tiny_recipe(ood_groups="labels"), data, "vrex"
        )
        self.assertIsInstance(model.environments, LabelGroups)
        self.assertEqual(build_model(recipe, data, "groupdro").step_size, 0.01)

    def test_gmtl_is_the_shared_bottom_through_the_adjuster(self):
        recipe = tiny_recipe(gmtl_alpha=0.5)
        data = recipe.build_data(recipe.config)
        model = build_model(recipe, data, "gmtl")
        self.assertNotIsInstance(model, GMTLAdjuster)
        self.assertIs(prediction_model(recipe, data, "vrex", model), model)
        adjusted = prediction_model(recipe, data, "gmtl", model)
        self.assertIsInstance(adjusted, GMTLAdjuster)
        self.assertEqual(adjusted.alpha, 0.5)
        prior = adjusted.joint_prior
        self.assertGreater(prior[0, 0] + prior[1, 1], 0.8)

    def test_config_errors(self):
        with pytest.raises(ValueError, match="ood_groups"):
            tiny_recipe(ood_groups="pairs")
        tiny_recipe(architectures=OOD_ARCHITECTURES)

    @pytest.mark.slow
    def test_trainer_runs_every_ood_architecture(self):
        recipe = tiny_recipe(
            epochs=1, architectures=("shared_bottom",) + OOD_ARCHITECTURES
        )
        summary = Trainer(recipe, tempfile.mkdtemp(), "one", verbose=0).run()
        for architecture in OOD_ARCHITECTURES:
            score = summary["stats"][architecture]["test_shifted"]
            self.assertTrue(np.isfinite(score["a_accuracy"]["mean"]))
        self.assertIn("| groupdro |", summary["table"].splitlines()[0] + "|")
