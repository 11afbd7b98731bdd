"""The recipe registry: `register_recipe`, `get_recipe`, `list_recipes`.

The registry holds the built-in recipes (`keras_mtcrl.recipes`), those of
installed plug-ins (entry points of the group `keras_mtcrl.recipes`) and
any registered by the user's code, e.g. a recipe file given to
`keras-mtcrl train path/to/my_recipe.py` (`load_recipe_file`).
"""

import importlib
import warnings
from importlib import metadata

from keras_mtcrl.training.recipe_config import Recipe

_RECIPES = {}
# Modules that register the built-in recipes when first imported.
_BUILTIN_MODULES = ("keras_mtcrl.recipes",)
# Entry points of this group are recipe plug-ins: each names a module (or
# a `Recipe` in one) whose import registers a recipe.
ENTRY_POINT_GROUP = "keras_mtcrl.recipes"
_loaded = False


def register_recipe(recipe):
    """Registers `recipe` under `recipe.config.name` and returns it.

    Args:
        recipe: `keras_mtcrl.training.Recipe`.

    Returns:
        The same recipe.

    Example:

    >>> from keras_mtcrl.training.recipe_config import Recipe, RecipeConfig
    >>> _ = register_recipe(Recipe(RecipeConfig(name="doc_demo"), dict, dict))
    >>> "doc_demo" in list_recipes()
    True
    """
    _RECIPES[recipe.config.name] = recipe
    return recipe


def _load_plugin(point):
    try:
        target = point.load()
    except Exception as error:  # A broken plug-in must not hide the rest.
        warnings.warn(
            f"The recipe plug-in {point.name!r} ({point.value}) failed to "
            f"load and is skipped: {type(error).__name__}: {error}",
            stacklevel=3,
        )
        return
    if isinstance(target, Recipe):
        register_recipe(target)


def _load_builtins():
    global _loaded
    if _loaded:
        return
    for module in _BUILTIN_MODULES:
        importlib.import_module(module)
    _loaded = True  # Before the plug-ins: one may call `get_recipe`.
    for point in metadata.entry_points(group=ENTRY_POINT_GROUP):
        _load_plugin(point)


def get_recipe(name):
    """Returns the recipe registered as `name`; the error lists known ones."""
    _load_builtins()
    if name not in _RECIPES:
        raise KeyError(
            f"Unknown recipe {name!r}. Known recipes: {sorted(_RECIPES)}"
        )
    return _RECIPES[name]


def list_recipes():
    """Returns the sorted names of all registered recipes."""
    _load_builtins()
    return sorted(_RECIPES)
