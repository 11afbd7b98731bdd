"""The shared trainer, recipe configs, the registry and strategies."""

from keras_mtcrl.training.distributed_loop import DistributedLoop
from keras_mtcrl.training.recipe_config import Recipe
from keras_mtcrl.training.recipe_config import RecipeConfig
from keras_mtcrl.training.registry import get_recipe
from keras_mtcrl.training.registry import list_recipes
from keras_mtcrl.training.registry import register_recipe
from keras_mtcrl.training.strategy import make_strategy
from keras_mtcrl.training.trainer import Trainer

__all__ = [
    "DistributedLoop",
    "Recipe",
    "RecipeConfig",
    "Trainer",
    "get_recipe",
    "list_recipes",
    "make_strategy",
    "register_recipe",
]
