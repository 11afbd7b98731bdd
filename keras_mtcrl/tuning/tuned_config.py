"""Start training from a tuning result: `train --from-tuning best.json`."""

import dataclasses
import json

from keras_mtcrl.training.recipe_config import RecipeConfig


def tuned_changes(path, recipe_name):
    """The config changes that a tuning result's `best.json` holds.

    Only the searched hyperparameters are taken (not the search's own
    settings such as its `epochs`), and only those that are `RecipeConfig`
    fields.

    Args:
        path: str. A `best.json` written by `tune_recipe`.
        recipe_name: str. The recipe being trained; the result must be
            for the same recipe.

    Returns:
        dict of `RecipeConfig` field to value, for `config.replace`.

    Raises:
        FileNotFoundError: no file at `path`.
        ValueError: not a tuning result, or one for another recipe.
    """
    try:
        with open(path, encoding="utf-8") as handle:
            best = json.load(handle)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path!r} is not JSON: {error}") from error
    if not isinstance(best, dict) or "hyperparameters" not in best:
        raise ValueError(
            f"{path!r} is not a tuning result (a best.json written by "
            "`keras-mtcrl tune`)."
        )
    if best.get("recipe") != recipe_name:
        raise ValueError(
            f"{path!r} tuned recipe {best.get('recipe')!r}, not "
            f"{recipe_name!r}."
        )
    fields = {field.name for field in dataclasses.fields(RecipeConfig)}
    return {
        name: value
        for name, value in best["hyperparameters"].items()
        if name in fields
    }
