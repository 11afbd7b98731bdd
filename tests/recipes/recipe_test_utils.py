"""Shared helpers of the recipe tests: one training step, then evaluate."""

import keras
import numpy as np

from keras_mtcrl.training.model_factory import build_model
from keras_mtcrl.training.model_factory import compile_options


def fit_one_step(recipe, architecture="mtcrl", eval_split="test_shifted"):
    """Builds the recipe's model, trains one batch, evaluates one batch.

    Args:
        recipe: `Recipe`, with a small `batch_size` and tiny data.
        architecture: str. Defaults to `"mtcrl"`.
        eval_split: str. Split evaluated. Defaults to `"test_shifted"`.

    Returns:
        `(model, data, history, scores)`.
    """
    config = recipe.config
    keras.utils.set_random_seed(config.seed)
    data = recipe.build_data(config)
    model = build_model(recipe, data, architecture)
    model.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate),
        jit_compile=config.jit_compile,
        **compile_options(recipe, data),
    )
    train = data.batched("train", config.batch_size).take(1)
    history = model.fit(train, epochs=1, verbose=0)
    scores = model.evaluate(
        data.batched(eval_split, config.batch_size).take(1),
        verbose=0,
        return_dict=True,
    )
    return model, data, history, scores


def assert_finite(case, scores, keys):
    """Every named score is present and finite."""
    for key in keys:
        case.assertIn(key, scores)
        case.assertTrue(np.isfinite(scores[key]), f"{key}={scores[key]}")
