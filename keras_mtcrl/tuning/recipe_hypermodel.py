"""keras-tuner HyperModel over a recipe: search MT-CRL's knobs."""

import keras
import keras_tuner

from keras_mtcrl.training.epoch_shuffle import EpochShuffle
from keras_mtcrl.training.model_factory import build_model
from keras_mtcrl.training.model_factory import compile_options
from keras_mtcrl.training.trainer import training_datasets

OBJECTIVE = "val_tasks_loss"
#: MT-CRL trials are compared on the worst environment of the
#: training-distribution validation split (supplied ids and the
#: label-balanced distribution), see `keras_mtcrl.WorstEnvironmentLoss`.
MTCRL_OBJECTIVE = "val_worst_env_loss"


def objective_for(architecture):
    """The validation metric trials of `architecture` are compared on."""
    return MTCRL_OBJECTIVE if architecture == "mtcrl" else OBJECTIVE


class TaskLossSum(keras.callbacks.Callback):
    """Adds `tasks_loss` / `val_tasks_loss`: the sum of the task losses.

    The total loss also holds the MT-CRL penalties, whose size changes
    with the penalty weights being searched; trials are compared on the
    task losses alone.

    Args:
        task_names: sequence of str.
    """

    def __init__(self, task_names):
        super().__init__()
        self.task_names = tuple(task_names)

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        for prefix in ("", "val_"):
            keys = [f"{prefix}loss_{t}" for t in self.task_names]
            if all(k in logs for k in keys):
                logs[f"{prefix}tasks_loss"] = float(
                    sum(logs[k] for k in keys)
                )


def selection_split(data):
    """The split trials are chosen on: the in-distribution validation split.

    Never a shifted split (that would choose hyperparameters on the very
    shift the model is judged on) and never a test split.
    """
    del data
    return "validation"


def _share_choice(hp, name, own):
    """A choice of balanced-risk share: 0, 0.25, ..., 1 and the recipe's."""
    return hp.Choice(
        name,
        sorted({0.0, 0.25, 0.5, 0.75, 1.0} | {float(own)}),
        default=float(own),
    )


class RecipeHyperModel(keras_tuner.HyperModel):
    """Searches a recipe's hyperparameters; trains like the shared trainer.

    `build(hp)` makes the recipe's model with hyperparameters drawn from
    `hp`, `fit` trains it on the recipe's data with the trainer's resumable
    per-epoch shuffle and validates on the in-distribution validation
    split (never a shifted or test split); MT-CRL trials are compared on
    `val_worst_env_loss`, baselines on `val_tasks_loss` (the sum of the
    task losses, penalties excluded). For `architecture="mtcrl"` the search
    space is: `num_modules`, `invariance_weight`, `sparsity_weight`,
    `disentanglement_weight`, `graph_temperature`, `warmup_steps`,
    `learning_rate`; for baselines, `num_modules` and `learning_rate`. Fix
    any of them with `hp.Fixed`.

    Args:
        recipe: `keras_mtcrl.training.Recipe`.
        architecture: str. `"mtcrl"`, `"shared_bottom"` or `"mmoe"`.
            Defaults to `"mtcrl"`.
        data: `MultiTaskData` or None (built from the recipe). Defaults to
            `None`.

    Example:

    >>> from keras_mtcrl.training import get_recipe
    >>> recipe = get_recipe("synthetic").with_config(
    ...     data_args={"num_train": 64, "num_eval": 32})
    >>> hypermodel = RecipeHyperModel(recipe)
    >>> hp = keras_tuner.HyperParameters()
    >>> model = hypermodel.build(hp)
    >>> sorted(hp.values)[:3]
    ['balanced_risk', 'disentanglement_weight', 'graph_balanced_risk']
    """

    def __init__(self, recipe, architecture="mtcrl", data=None):
        super().__init__(name=f"{recipe.config.name}_{architecture}")
        if architecture not in ("mtcrl", "shared_bottom", "mmoe"):
            raise ValueError(
                "`architecture` must be 'mtcrl', 'shared_bottom' or 'mmoe'. "
                f"Received: architecture={architecture!r}"
            )
        self.recipe = recipe
        self.architecture = architecture
        self.data = data if data is not None else recipe.build_data(
            recipe.config
        )

    def config_for(self, hp):
        """The recipe config with the trial's hyperparameters applied."""
        base = self.recipe.config
        values = {
            # The recipe's own K is always a choice (e.g. 9 for a 3 x 3
            # grid of spatial regions).
            "num_modules": hp.Choice(
                "num_modules",
                sorted({2, 4, 8, base.num_modules}),
                default=base.num_modules,
            ),
            "learning_rate": hp.Float(
                "learning_rate", 1e-4, 1e-2, sampling="log",
                default=base.learning_rate,
            ),
        }
        if self.architecture == "mtcrl":
            values.update(
                # 0 (penalty off) is a choice: several recipes select it.
                invariance_weight=hp.Choice(
                    "invariance_weight",
                    sorted(
                        {0.0, 1.0, 10.0, 100.0, 1000.0, 1e4}
                        | {float(base.invariance_weight)}
                    ),
                    default=float(base.invariance_weight),
                ),
                sparsity_weight=hp.Float(
                    "sparsity_weight", 1e-3, 10.0, sampling="log",
                    default=min(max(base.sparsity_weight, 1e-3), 10.0),
                ),
                balanced_risk=_share_choice(
                    hp, "balanced_risk", base.balanced_risk
                ),
                # None (the encoder's share) is the same model as the
                # encoder's value, so the choice is always a float.
                graph_balanced_risk=_share_choice(
                    hp,
                    "graph_balanced_risk",
                    base.balanced_risk
                    if base.graph_balanced_risk is None
                    else base.graph_balanced_risk,
                ),
                disentanglement_weight=hp.Float(
                    "disentanglement_weight", 1e-3, 1.0, sampling="log",
                    default=max(base.disentanglement_weight, 1e-3),
                ),
                graph_temperature=hp.Choice(
                    "graph_temperature", [0.1, 0.3, 1.0],
                    default=base.graph_temperature
                    if base.graph_temperature in (0.1, 0.3, 1.0)
                    else 1.0,
                ),
                warmup_steps=hp.Int(
                    "warmup_steps", 0, 500, step=100,
                    default=min(base.warmup_steps // 100 * 100, 500),
                ),
            )
        return base.replace(**values)

    def build(self, hp):
        config = self.config_for(hp)
        recipe = self.recipe.with_config(**config.to_dict())
        model = build_model(recipe, self.data, self.architecture)
        model.compile(
            optimizer=keras.optimizers.Adam(config.learning_rate),
            jit_compile=config.jit_compile,
            **compile_options(recipe, self.data, self.data.task_names),
        )
        return model

    def fit(self, hp, model, *args, callbacks=(), verbose=0, **kwargs):
        config = self.config_for(hp)
        shuffle = EpochShuffle(config.seed)
        train, validation = training_datasets(
            self.data, config, self.data.task_names, shuffle,
            validation=selection_split(self.data),
        )
        return model.fit(
            train,
            validation_data=validation,
            epochs=kwargs.get("epochs", config.epochs),
            # The sum goes first so the tuner's own callbacks see it.
            callbacks=[TaskLossSum(self.data.task_names), shuffle, *callbacks],
            verbose=verbose,
            shuffle=False,
        )
