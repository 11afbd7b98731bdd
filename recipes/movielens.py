"""Recipe `movielens`: rating regression and like classification.

MovieLens ratings (dslabs' ml-latest-small snapshot, fetched with apt at
run time, or GroupLens files from `--data-dir`), shifted by movie release
time as in the MT-CRL paper: movies released from the shift year on
(2003 for the snapshot) form the shifted splits, and the training
environments are release periods (the loader's `env`). Tasks `rating`
(stars, regression: RMSE and MAE) and `liked` (rating >= 4: AUC).

Modules are K separate expert networks over shared inputs: user and
movie embeddings (`keras_mtcrl.layers.FeatureEmbedding`) plus the genre
multi-hot vector and the standardized release year. Every movie of the
shifted splits is unseen, so it arrives as the out-of-vocabulary id 0;
`oov_rate` trains that embedding on a share of training ratings.
"""

from keras_mtcrl.datasets.movielens import build_movielens
from keras_mtcrl.layers.expert_encoder import ExpertEncoder
from keras_mtcrl.layers.feature_embedding import FeatureEmbedding
from keras_mtcrl.layers.task_head import TaskHead
from keras_mtcrl.training.recipe_config import Recipe
from keras_mtcrl.training.recipe_config import RecipeConfig
from keras_mtcrl.training.registry import register_recipe

ID_FEATURES = ("user_id", "movie_id")
FLOAT_FEATURES = ("genres", "year")

CONFIG = RecipeConfig(
    name="movielens",
    description=(
        "MovieLens (dslabs ml-latest-small via apt, or GroupLens files "
        "with --data-dir): rating (RMSE, MAE) and liked (AUC); movies "
        "released from 2003 on form the shifted test, release periods the "
        "training environments."
    ),
    data_args={"num_periods": 4},
    model_args={
        "embedding_dim": 16,
        "oov_rate": 0.1,
        "module_units": 16,
        "hidden_units": (64,),
        "tower_units": 16,
    },
    num_modules=4,
    invariance="grad_var",
    min_env_samples=16,
    # Chosen by the worst-environment loss on the in-distribution
    # validation split (`keras-mtcrl train movielens --architectures mtcrl
    # --seeds 0 ...`; docs/benchmarks.md, "MovieLens: choosing the
    # settings"). Seed 0, no penalty: 1.613 at graph temperature 1, where
    # the gates stay near 0.7 and their training noise costs the rating
    # head; 1.528 at 0.1, where they open. At 0.1: 1.514 without the
    # invariance term, 1.601 with weight 10, 1.763 with 100. Seeds 0-2:
    # 1.495 for these settings against 1.511 for the previous ones
    # (temperature 1, invariance weight 10).
    graph_temperature=0.1,
    invariance_weight=0.0,
    sparsity_weight=0.01,
    learning_rate=3e-3,
    epochs=4,
    batch_size=512,
    primary_metrics={"rating": ("rmse", "mae"), "liked": "auc"},
)


def build_data(config):
    """MovieLens shifted by release year; `data_dir` reads GroupLens files."""
    return build_movielens(seed=config.seed, **config.data_args)


def build_encoder(config, data):
    """K MLP experts over the shared user/movie embeddings and features."""
    sizes = data.metadata["vocabulary_sizes"]
    args = config.model_args
    features = FeatureEmbedding(
        {name: sizes[name] for name in ID_FEATURES},
        embedding_dim=args["embedding_dim"],
        dense_features=FLOAT_FEATURES,
        oov_rate=args["oov_rate"],
        seed=config.seed,
    )
    return ExpertEncoder(
        num_modules=config.num_modules,
        module_units=args["module_units"],
        hidden_units=args["hidden_units"],
        feature_layer=features,
    )


def build_head(spec, config):
    """A one-layer tower per task."""
    tower = config.model_args["tower_units"]
    return TaskHead(spec.kind, spec.units, hidden_units=(tower,))


RECIPE = register_recipe(Recipe(CONFIG, build_data, build_encoder, build_head))
