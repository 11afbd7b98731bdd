"""Recipes from a Python file: `keras-mtcrl train path/to/my_recipe.py`.

A recipe file is an ordinary module that builds a `Recipe` and registers
it with `register_recipe`, exactly as the built-in recipes do. It is loaded
by path, so it needs no package and no installation.
"""

import importlib.util
import os
import re
import sys

from keras_mtcrl.training import registry


def split_recipe_spec(spec):
    """Splits `"path/x.py"` or `"path/x.py:name"` into `(path, name)`.

    Args:
        spec: str. A recipe name, a `.py` path, or a `.py` path and the
            name of one of the recipes the file registers.

    Returns:
        `(path, name)`: `(None, spec)` for a plain recipe name, `(path,
        None)` for a file alone.

    Example:

    >>> split_recipe_spec("synthetic")
    (None, 'synthetic')
    >>> split_recipe_spec("my/recipes.py:big")
    ('my/recipes.py', 'big')
    """
    if spec.endswith(".py"):
        return spec, None
    path, sep, name = spec.rpartition(":")
    if sep and path.endswith(".py") and name.isidentifier():
        return path, name
    return None, spec


def load_recipe_file(path):
    """Runs the Python file `path` and returns the recipes it registers.

    Args:
        path: str. A `.py` file that calls `register_recipe`.

    Returns:
        dict mapping each recipe name the file registered to its `Recipe`.

    Raises:
        FileNotFoundError: `path` is not a file.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No recipe file at {path!r}.")
    before = dict(registry._RECIPES)
    stem = re.sub(r"\W", "_", os.path.splitext(os.path.basename(path))[0])
    module_name = f"keras_mtcrl_recipe_file_{stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and pickle look it up.
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    return {
        name: recipe
        for name, recipe in registry._RECIPES.items()
        if before.get(name) is not recipe
    }


def resolve_recipe(spec):
    """Returns the recipe that `spec` names: a name, a file, or `file:name`.

    A file that registers exactly one recipe gives that recipe; one that
    registers several needs `file.py:name`.

    Args:
        spec: str, see `split_recipe_spec`.

    Returns:
        `keras_mtcrl.training.Recipe`.

    Raises:
        KeyError: unknown name, or a file that registers none or several
            recipes without `:name`. The message says what to do.
        FileNotFoundError: no such recipe file.
    """
    path, name = split_recipe_spec(spec)
    if path is None:
        return registry.get_recipe(name)
    found = load_recipe_file(path)
    if name is not None:
        if name not in found:
            raise KeyError(
                f"Recipe file {path!r} registers no recipe {name!r}. It "
                f"registers: {sorted(found)}"
            )
        return found[name]
    if len(found) != 1:
        raise KeyError(
            f"Recipe file {path!r} registers {len(found)} recipes "
            f"({sorted(found)}); "
            + (
                "call keras_mtcrl.training.register_recipe(...) in it."
                if not found
                else f"choose one with {path}:<name>."
            )
        )
    return next(iter(found.values()))
