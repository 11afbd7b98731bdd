"""A recipe of your own: `keras-mtcrl train docs/examples/my_recipe.py`.

A recipe file builds a `Recipe` (a config, a data builder and an encoder
builder) and registers it. Nothing needs installing: the command loads the
file by path. Here: the confounded synthetic data with weaker shortcuts
(labels agree 80% / 70% in the two training environments) and a wider
encoder.
"""

from keras_mtcrl.datasets.confounded_synthetic import build_confounded_synthetic
from keras_mtcrl.layers.expert_encoder import ExpertEncoder
from keras_mtcrl.training import Recipe
from keras_mtcrl.training import RecipeConfig
from keras_mtcrl.training import register_recipe

CONFIG = RecipeConfig(
    name="weak_shortcut",
    description="Synthetic tasks whose labels agree 80%/70% in training.",
    # Keyword arguments of `build_data`; `--data-arg KEY=VALUE` sets one.
    data_args={"num_train": 4000, "num_eval": 2000},
    num_modules=6,
    learning_rate=3e-3,
    epochs=20,
    batch_size=128,
)


def build_data(config):
    """Returns the `MultiTaskData` (splits, tasks, environments)."""
    return build_confounded_synthetic(
        train_agreement=(0.8, 0.7), seed=config.seed, **config.data_args
    )


def build_encoder(config, data):
    """Returns a fresh encoder with `config.num_modules` modules."""
    return ExpertEncoder(
        num_modules=config.num_modules, module_units=16, hidden_units=(32,)
    )


RECIPE = register_recipe(Recipe(CONFIG, build_data, build_encoder))
