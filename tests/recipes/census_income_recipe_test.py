import tempfile

import numpy as np

from keras_mtcrl.layers.expert_encoder import ExpertEncoder
from keras_mtcrl.testing import TestCase
from keras_mtcrl.training import Trainer
from keras_mtcrl.training import get_recipe
from keras_mtcrl.training.model_factory import build_model


class CensusIncomeRecipeTest(TestCase):
    def test_mlp_experts_and_age_environments(self):
        recipe = get_recipe("census_income")
        data = recipe.build_data(recipe.config)
        model = build_model(recipe, data, "mtcrl")
        self.assertIsInstance(model.encoder, ExpertEncoder)
        self.assertIsNone(model.encoder.feature_layer)
        self.assertEqual(model.encoder.hidden_units, (64,))
        self.assertEqual(model.heads["income"].hidden_units, (16,))
        self.assertEqual(data.task_names, ("income", "never_married"))
        # Three age bands in training plus the shifted ages (>= 45).
        names = data.metadata["environment_names"]
        self.assertEqual(len(names), 4)
        self.assertEqual(names[-1], "shifted")
        self.assertTrue(all(n.startswith("age in") for n in names[:-1]))
        # Another shift through data_args: by sex.
        by_sex = recipe.with_config(
            data_args={"shift_attribute": "sex", "shift_cut": "Female"}
        )
        names = by_sex.build_data(by_sex.config).metadata["environment_names"]
        self.assertEqual(names, ("sex=Male", "shifted"))

    def test_trainer_reports_auc(self):
        recipe = get_recipe("census_income").with_config(
            architectures=("mtcrl",), batch_size=1024, epochs=1
        )
        summary = Trainer(recipe, tempfile.mkdtemp(), "one", 0).run()
        for task in ("income", "never_married"):
            self.assertIn(f"| {task} | auc | shifted test |", summary["table"])
        stats = summary["stats"]["mtcrl"]["test_shifted"]
        self.assertTrue(0.5 < stats["income_auc"]["mean"] <= 1.0, stats)
        self.assertTrue(np.isfinite(stats["loss_inv"]["mean"]))
