"""Built-in recipes. Importing this package registers them all.

A recipe is data: a frozen `RecipeConfig` plus factories for its data and
encoder. All recipes train through `keras_mtcrl.training.Trainer`.
"""

from keras_mtcrl.recipes import census_income  # noqa: F401
from keras_mtcrl.recipes import dense  # noqa: F401
from keras_mtcrl.recipes import movielens  # noqa: F401
from keras_mtcrl.recipes import multi_mnist  # noqa: F401
from keras_mtcrl.recipes import synthetic  # noqa: F401
