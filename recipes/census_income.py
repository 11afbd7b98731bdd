"""Recipe `census_income`: Census-Income (KDD) as in MMoE, shifted by age.

Two binary tasks, `income` (above $50K) and `never_married`, as in the
MMoE paper, from one float vector per person (`features`). People aged
45 and over form the shifted splits; the training environments are age
bands. Modules are K separate MLP experts (MMoE-like), each task has a
small tower. Trains on the committed, credited 30,000-row sample; pass
`--data-dir` with the UCI files (`census-income.data`/`.test`) for the
full data.
"""

from keras_mtcrl.datasets.census_income import build_census_income
from keras_mtcrl.layers.expert_encoder import ExpertEncoder
from keras_mtcrl.layers.task_head import TaskHead
from keras_mtcrl.training.recipe_config import Recipe
from keras_mtcrl.training.recipe_config import RecipeConfig
from keras_mtcrl.training.registry import register_recipe

CONFIG = RecipeConfig(
    name="census_income",
    description=(
        "Census-Income (KDD), MMoE's tasks income > $50K and never "
        "married; ages >= 45 form the shifted test, age bands the training "
        "environments (committed sample, or --data-dir with the UCI files)."
    ),
    data_args={"shift_attribute": "age", "shift_cut": 45, "num_bands": 3},
    model_args={"module_units": 16, "hidden_units": (64,), "tower_units": 16},
    num_modules=4,
    invariance="grad_var",
    min_env_samples=16,
    sparsity_weight=0.01,
    learning_rate=1e-3,
    epochs=4,
    batch_size=128,
    primary_metrics={"income": "auc", "never_married": "auc"},
)


def build_data(config):
    """Census-Income with the recipe's shift; `data_dir` reads UCI files."""
    return build_census_income(seed=config.seed, **config.data_args)


def build_encoder(config, data):
    """K MLP experts over the `features` vector."""
    return ExpertEncoder(
        num_modules=config.num_modules,
        module_units=config.model_args["module_units"],
        hidden_units=config.model_args["hidden_units"],
    )


def build_head(spec, config):
    """A one-layer tower per task, as in MMoE."""
    tower = config.model_args["tower_units"]
    return TaskHead(spec.kind, spec.units, hidden_units=(tower,))


RECIPE = register_recipe(Recipe(CONFIG, build_data, build_encoder, build_head))
