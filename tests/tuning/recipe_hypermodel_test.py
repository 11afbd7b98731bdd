import glob
import json
import os
import tempfile

import keras
import keras_tuner
import pytest

from keras_mtcrl import CausalMTLModel
from keras_mtcrl.testing import TestCase
from keras_mtcrl.training import get_recipe
from keras_mtcrl.tuning import RecipeHyperModel
from keras_mtcrl.tuning import tune_recipe
from keras_mtcrl.tuning.recipe_hypermodel import TaskLossSum


def tiny_recipe():
    return get_recipe("synthetic").with_config(
        data_args={"num_train": 128, "num_eval": 64}, epochs=1, batch_size=64
    )


class RecipeHyperModelTest(TestCase):
    def test_search_space_names_and_defaults(self):
        recipe = tiny_recipe()
        hp = keras_tuner.HyperParameters()
        model = RecipeHyperModel(recipe).build(hp)
        self.assertIsInstance(model, CausalMTLModel)
        self.assertEqual(
            sorted(hp.values),
            ["balanced_risk", "disentanglement_weight",
             "graph_balanced_risk", "graph_temperature",
             "invariance_weight", "learning_rate", "num_modules",
             "sparsity_weight", "warmup_steps"],
        )
        config = recipe.config
        self.assertEqual(hp.values["invariance_weight"],
                         config.invariance_weight)
        self.assertEqual(hp.values["num_modules"], config.num_modules)
        self.assertEqual(hp.values["learning_rate"], config.learning_rate)

    def test_the_recipe_s_own_module_count_is_a_choice(self):
        recipe = tiny_recipe().with_config(
            num_modules=9, model_args={"modules": "experts"}
        )
        hp = keras_tuner.HyperParameters()
        RecipeHyperModel(recipe, "shared_bottom").build(hp)
        self.assertEqual(hp.values["num_modules"], 9)
        (choice,) = [h for h in hp.space if h.name == "num_modules"]
        self.assertEqual(choice.values, [2, 4, 8, 9])

    def test_invariance_off_is_a_choice(self):
        for weight in (0.0, 7.0):
            recipe = tiny_recipe().with_config(invariance_weight=weight)
            hp = keras_tuner.HyperParameters()
            RecipeHyperModel(recipe).build(hp)
            self.assertEqual(hp.values["invariance_weight"], weight)
            (choice,) = [h for h in hp.space if h.name == "invariance_weight"]
            self.assertIn(0.0, choice.values)
            self.assertIn(weight, choice.values)

    def test_balanced_risk_shares_are_choices_with_the_recipe_s_default(self):
        cases = [
            # (balanced_risk, graph_balanced_risk) -> graph default
            ((0.3, None), 0.3),
            ((0.25, 1.0), 1.0),
        ]
        for (share, graph_share), graph_default in cases:
            recipe = tiny_recipe().with_config(
                balanced_risk=share, graph_balanced_risk=graph_share
            )
            hp = keras_tuner.HyperParameters()
            model = RecipeHyperModel(recipe).build(hp)
            self.assertEqual(hp.values["balanced_risk"], share)
            self.assertEqual(hp.values["graph_balanced_risk"], graph_default)
            self.assertEqual(model.balanced_risk, share)
            (choice,) = [h for h in hp.space if h.name == "balanced_risk"]
            self.assertEqual(
                choice.values, sorted({0.0, 0.25, 0.5, 0.75, 1.0, share})
            )

    def test_fixed_values_are_used(self):
        hp = keras_tuner.HyperParameters()
        hp.Fixed("num_modules", 2)
        hp.Fixed("invariance_weight", 7.0)
        hp.Fixed("graph_balanced_risk", 1.0)
        hp.Fixed("sparsity_weight", 3.0)
        model = RecipeHyperModel(tiny_recipe()).build(hp)
        self.assertEqual(model.num_modules, 2)
        self.assertEqual(model.invariance.weight, 7.0)
        self.assertEqual(model.graph_balanced_risk, 1.0)
        self.assertEqual(model.sparsity.weight, 3.0)

    def test_baseline_space_is_smaller(self):
        hp = keras_tuner.HyperParameters()
        RecipeHyperModel(tiny_recipe(), "shared_bottom").build(hp)
        self.assertEqual(sorted(hp.values), ["learning_rate", "num_modules"])
        with pytest.raises(ValueError, match="architecture"):
            RecipeHyperModel(tiny_recipe(), "single_task")

    def test_task_loss_sum(self):
        logs = {"loss": 9.0, "loss_a": 1.0, "loss_b": 2.0,
                "val_loss_a": 0.5, "val_loss_b": 0.25}
        TaskLossSum(["a", "b"]).on_epoch_end(0, logs)
        self.assertEqual(logs["tasks_loss"], 3.0)
        self.assertEqual(logs["val_tasks_loss"], 0.75)

    def test_search_chooses_the_best_trial_on_validation_and_saves(self):
        folder = tempfile.mkdtemp()
        # Seed 4 (seed 0 would make keras-tuner draw a random seed): both
        # random trials draw num_modules=2, the quickest model to trace,
        # and different other values, so the two scores differ.
        best = tune_recipe(
            tiny_recipe().with_config(seed=4), "random", 2, folder
        )
        self.assertEqual(best["selection_split"], "validation")
        self.assertEqual(best["trials"], 2)
        # The best is the trial with the lowest validation score.
        scores = {}
        for path in glob.glob(os.path.join(folder, "*", "trial_*",
                                           "trial.json")):
            with open(path) as handle:
                trial = json.load(handle)
            scores[trial["score"]] = trial["hyperparameters"]["values"]
        self.assertLen(scores, 2)
        self.assertEqual(best["val_worst_env_loss"], min(scores))
        self.assertEqual(best["hyperparameters"], scores[min(scores)])
        with open(os.path.join(folder, "best.json")) as handle:
            saved = json.load(handle)
        self.assertEqual(saved["hyperparameters"], best["hyperparameters"])
        # Loads without "Skipping variable loading for optimizer" (warnings
        # are errors in this suite).
        keras.saving.load_model(os.path.join(folder, "best.keras"))
