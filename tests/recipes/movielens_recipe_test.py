import os
import tempfile

import numpy as np

from keras_mtcrl.layers.expert_encoder import ExpertEncoder
from keras_mtcrl.layers.feature_embedding import FeatureEmbedding
from keras_mtcrl.testing import TestCase
from keras_mtcrl.training import Trainer
from keras_mtcrl.training import get_recipe
from keras_mtcrl.training.model_factory import build_model

GENRES = ("Drama", "Comedy|Drama", "Action", "Comedy")


def write_grouplens(root, num_users=12, num_movies=10, seed=0):
    """ml-latest-small style ratings.csv + movies.csv, years 1990-2008."""
    rng = np.random.default_rng(seed)
    with open(os.path.join(root, "movies.csv"), "w") as f:
        f.write("movieId,title,genres\n")
        for movie in range(1, num_movies + 1):
            year = 1990 + 2 * (movie - 1)
            f.write(f"{movie},Film {movie} ({year}),{GENRES[movie % 4]}\n")
    with open(os.path.join(root, "ratings.csv"), "w") as f:
        f.write("userId,movieId,rating,timestamp\n")
        for user in range(1, num_users + 1):
            for movie in range(1, num_movies + 1):
                stars = rng.integers(1, 11) / 2
                f.write(f"{user},{movie},{stars},{1000 * user + movie}\n")
    return root


def recipe_for(root, **changes):
    return get_recipe("movielens").with_config(
        data_args={"data_dir": root, "shift_year": 2004, "num_periods": 2},
        batch_size=32,
        min_env_samples=2,
        epochs=1,
        **changes,
    )


class MovieLensRecipeTest(TestCase):
    def test_experts_over_shared_embeddings(self):
        recipe = recipe_for(write_grouplens(tempfile.mkdtemp()))
        data = recipe.build_data(recipe.config)
        model = build_model(recipe, data, "mtcrl")
        sizes = data.metadata["vocabulary_sizes"]
        encoder = model.encoder
        self.assertIsInstance(encoder, ExpertEncoder)
        self.assertEqual(encoder.num_modules, 4)
        features = encoder.feature_layer
        self.assertIsInstance(features, FeatureEmbedding)
        self.assertEqual(
            features.vocabulary_sizes,
            {"movie_id": sizes["movie_id"], "user_id": sizes["user_id"]},
        )
        self.assertEqual(features.dense_features, ("genres", "year"))
        self.assertEqual(features.oov_rate, 0.1)
        # Release periods: two in training plus the shifted one.
        self.assertEqual(data.num_environments, 3)
        self.assertEqual(model.invariance.num_environments, 3)
        batch, _ = next(iter(data.batched("test_shifted", 4)))
        outputs = model(batch)
        self.assertEqual(tuple(outputs["rating"].shape), (4, 1))
        self.assertTrue(np.all((outputs["liked"] > 0) & (outputs["liked"] < 1)))

    def test_trainer_reports_rmse_mae_and_auc(self):
        root = write_grouplens(tempfile.mkdtemp())
        recipe = recipe_for(root, architectures=("mtcrl",))
        summary = Trainer(recipe, tempfile.mkdtemp(), "one", 0).run()
        table = summary["table"]
        for row in (
            "| rating | rmse | shifted test |",
            "| rating | mae | ID test |",
            "| liked | auc | shifted test |",
        ):
            self.assertIn(row, table)
        self.assertNotIn("| liked | accuracy |", table)
        stats = summary["stats"]["mtcrl"]["test_shifted"]
        self.assertTrue(0.0 <= stats["liked_auc"]["mean"] <= 1.0)
        self.assertTrue(np.isfinite(stats["loss_inv"]["mean"]))
        self.assertLessEqual(
            stats["rating_mae"]["mean"], stats["rating_rmse"]["mean"] + 1e-6
        )
        self.assertEqual(np.asarray(summary["graph"]).shape, (2, 4))
