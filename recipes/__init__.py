"""Built-in recipes. Importing this package registers them all.

A recipe is data: a frozen `RecipeConfig` plus factories for its data and
encoder. All recipes train through `keras_mtcrl.training.Trainer`.
"""

from recipes import census_income  # noqa: F401
from recipes import dense  # noqa: F401
from recipes import movielens  # noqa: F401
from recipes import multi_mnist  # noqa: F401
from recipes import synthetic  # noqa: F401
