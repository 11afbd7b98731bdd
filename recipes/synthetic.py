"""Recipe `synthetic`: two tasks with confounded labels, in seconds.

Task `a` has noisy causal inputs, task `b` near-perfect ones, and their
labels agree in training (90% on average over two environments) but only
10% of the time in the shifted splits: `b`'s inputs are a shortcut for `a`.
"""

from keras_mtcrl.datasets.confounded_synthetic import build_confounded_synthetic
from keras_mtcrl.layers.expert_encoder import ExpertEncoder
from keras_mtcrl.training.recipe_config import Recipe
from keras_mtcrl.training.recipe_config import RecipeConfig
from keras_mtcrl.training.registry import register_recipe

CONFIG = RecipeConfig(
    name="synthetic",
    description=(
        "Two binary tasks whose labels agree 90% in training and 10% in "
        "the shifted test: a label-confounding shortcut (about a minute "
        "per architecture on 2 CPU cores)."
    ),
    data_args={"num_train": 4000, "num_eval": 2000},
    num_modules=4,
    # The penalty's weight, warm-up and ramp are the library defaults
    # (chosen by the worst-environment validation loss, docs/benchmarks.md).
    min_env_samples=8,
    sparsity_weight=0.05,
    learning_rate=3e-3,
    epochs=30,
    batch_size=128,
)


def build_data(config):
    return build_confounded_synthetic(seed=config.seed, **config.data_args)


def build_encoder(config, data):
    return ExpertEncoder(
        num_modules=config.num_modules, module_units=8, hidden_units=(32,)
    )


RECIPE = register_recipe(Recipe(CONFIG, build_data, build_encoder))
