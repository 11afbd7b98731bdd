"""Runs a keras-tuner search over a recipe and saves what it found."""

import contextlib
import os
import warnings

import keras
import keras_tuner

from keras_mtcrl.training import results as results_io
from keras_mtcrl.training.strategy import make_strategy
from keras_mtcrl.tuning.recipe_hypermodel import RecipeHyperModel
from keras_mtcrl.tuning.recipe_hypermodel import objective_for
from keras_mtcrl.tuning.recipe_hypermodel import selection_split

TUNERS = ("random", "bayesian", "hyperband")


def make_tuner(
    hypermodel, tuner, max_trials, directory, seed=0, strategy=None
):
    """Returns the keras-tuner `Tuner` named `tuner` (min task val loss).

    Args:
        hypermodel: `RecipeHyperModel`.
        tuner: str, one of `TUNERS`.
        max_trials: int.
        directory: str. The tuner's folder.
        seed: int. Defaults to `0`.
        strategy: `tf.distribute.Strategy` each trial builds and trains
            under, or None for the default one. Defaults to None.
    """
    if tuner not in TUNERS:
        raise ValueError(
            f"`tuner` must be one of {TUNERS}. Received: {tuner!r}"
        )
    common = dict(
        hypermodel=hypermodel,
        objective=keras_tuner.Objective(
            objective_for(hypermodel.architecture), "min"
        ),
        seed=seed,
        directory=directory,
        project_name=hypermodel.name,
        overwrite=False,  # An interrupted search resumes.
        distribution_strategy=strategy,
    )
    if tuner == "random":
        return keras_tuner.RandomSearch(max_trials=max_trials, **common)
    if tuner == "bayesian":
        return keras_tuner.BayesianOptimization(
            max_trials=max_trials, **common
        )
    epochs = hypermodel.recipe.config.epochs
    return keras_tuner.Hyperband(max_epochs=max(epochs, 2), **common)


def tune_recipe(
    recipe,
    tuner="random",
    max_trials=5,
    logdir=None,
    architecture="mtcrl",
    strategy=None,
):
    """Searches the recipe's hyperparameters; returns the best trial.

    Trials are chosen on the shifted validation split when the recipe has
    one (never on a test split). Each trial logs to TensorBoard with its
    hyperparameters (HParams view). The best hyperparameters and config go
    to `<logdir>/best.json`; the best model to `<logdir>/best.keras`.

    Args:
        recipe: `keras_mtcrl.training.Recipe`.
        tuner: str. `"random"`, `"bayesian"` or `"hyperband"`. Defaults to
            `"random"`.
        max_trials: int. Defaults to `5`.
        logdir: str. Defaults to `runs/tune_<recipe>`.
        architecture: str. Defaults to `"mtcrl"`.
        strategy: str (see `keras_mtcrl.training.make_strategy`),
            `tf.distribute.Strategy`, or None for the default strategy.
            Defaults to None.

    Returns:
        Dict with `hyperparameters`, `val_tasks_loss` (the best trial's sum
        of task losses on the selection split), `selection_split`,
        `config`.
    """
    logdir = logdir or os.path.join("runs", f"tune_{recipe.config.name}")
    hypermodel = RecipeHyperModel(recipe, architecture)
    if isinstance(strategy, str):
        strategy = make_strategy(strategy)
    search = make_tuner(
        hypermodel,
        tuner,
        max_trials,
        logdir,
        seed=recipe.config.seed,
        strategy=strategy,
    )
    search.search(
        callbacks=[keras.callbacks.TensorBoard(os.path.join(logdir, "tb"))]
    )
    best_trial = search.oracle.get_best_trials(1)[0]
    best_hp = best_trial.hyperparameters
    best = {
        "recipe": recipe.config.name,
        "architecture": architecture,
        "tuner": tuner,
        "trials": len(search.oracle.trials),
        "selection_split": selection_split(hypermodel.data),
        objective_for(hypermodel.architecture): best_trial.score,
        "hyperparameters": best_hp.values,
        "config": hypermodel.config_for(best_hp).to_dict(),
    }
    results_io.write_json(os.path.join(logdir, "best.json"), best)
    with warnings.catch_warnings():
        # The tuner reloads weights into a model whose optimizer is not
        # built yet; Keras warns that it skips the optimizer's variables.
        warnings.filterwarnings("ignore", "Skipping variable loading")
        best_model = search.get_best_models(1)[0]
    # Build the optimizer's slots so the file holds as many optimizer
    # variables as a loaded model makes: `load_model` then restores them
    # without "Skipping variable loading for optimizer".
    scope = strategy.scope() if strategy else contextlib.nullcontext()
    with scope:
        best_model.optimizer.build(best_model.trainable_variables)
    best_model.save(os.path.join(logdir, "best.keras"))
    return best
