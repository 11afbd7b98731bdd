import numpy as np
import pytest

from keras_mtcrl.testing import TestCase
from keras_mtcrl.training import get_recipe
from tests.recipes.recipe_test_utils import assert_finite
from tests.recipes.recipe_test_utils import fit_one_step


def _tiny(**changes):
    recipe = get_recipe("synthetic")
    return recipe.with_config(
        data_args={"num_train": 64, "num_eval": 32}, batch_size=32, **changes
    )


class SyntheticRecipeTest(TestCase):
    def test_one_module_per_column(self):
        recipe = _tiny()
        data = recipe.build_data(recipe.config)
        encoder = recipe.build_encoder(
            recipe.config.replace(
                model_args={"modules": "columns"}, num_modules=8
            ),
            data,
        )
        self.assertEqual(encoder.num_modules, 8)
        self.assertEqual(encoder.input_groups, tuple((c,) for c in range(8)))
        x = np.zeros((2, 8), "float32")
        moved = x.copy()
        moved[:, 5] = 3.0
        out, out_moved = encoder(x).numpy(), encoder(moved).numpy()
        changed = np.abs(out - out_moved).reshape(2, 8, -1).max(axis=(0, 2))
        self.assertEqual(np.flatnonzero(changed > 0).tolist(), [5])

    def test_recipe_trains_and_evaluates(self):
        model, _, history, scores = fit_one_step(_tiny())
        self.assertTrue(np.isfinite(history.history["loss"][0]))
        assert_finite(self, scores, ["a_accuracy", "b_accuracy"])
        self.assertEqual(
            tuple(model.graph.gates().shape), (2, model.encoder.num_modules)
        )

    def test_bad_module_options_name_the_problem(self):
        recipe = _tiny()
        data = recipe.build_data(recipe.config)
        with pytest.raises(ValueError, match="'experts' or 'columns'"):
            recipe.build_encoder(
                recipe.config.replace(model_args={"modules": "rows"}), data
            )
        with pytest.raises(ValueError, match=r"\(8\).*num_modules=9"):
            recipe.build_encoder(recipe.config.replace(num_modules=9), data)

    def test_fewer_modules_group_adjacent_columns(self):
        recipe = _tiny(num_modules=3)
        data = recipe.build_data(recipe.config)
        encoder = recipe.build_encoder(recipe.config, data)
        self.assertEqual(
            encoder.input_groups, ((0, 1, 2), (3, 4, 5), (6, 7))
        )
