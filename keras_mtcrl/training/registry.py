"""The recipe registry: `register_recipe`, `get_recipe`, `list_recipes`."""

import importlib

_RECIPES = {}
# Modules that register the built-in recipes when first imported.
_BUILTIN_MODULES = ("keras_mtcrl.recipes",)


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


def _load_builtins():
    for module in _BUILTIN_MODULES:
        importlib.import_module(module)


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
