"""keras-tuner searches over recipes."""

from keras_mtcrl.tuning.recipe_hypermodel import RecipeHyperModel
from keras_mtcrl.tuning.search import tune_recipe

__all__ = ["RecipeHyperModel", "tune_recipe"]
