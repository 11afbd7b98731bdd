"""The callbacks of every recipe run: logs, checkpoints, resumption."""

import os

import keras
import tensorflow as tf

from keras_mtcrl.callbacks.atomic_backup_and_restore import (
    AtomicBackupAndRestore,
)
from keras_mtcrl.callbacks.causal_graph_image import CausalGraphImage
from keras_mtcrl.callbacks.divergence_guard import DivergenceGuard
from keras_mtcrl.callbacks.non_finite_guard import NonFiniteGuard

# Config fields that describe the run, not how the model is trained.
_NOT_HYPERPARAMETERS = ("description", "data_args", "primary_metrics")


def _hparam_value(value):
    if isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def hparams_of(config, architecture):
    """The values shown in TensorBoard's HParams view for one run.

    The config's hyperparameters, the architecture, and each entry of
    `model_args` as `model_args.<key>`; not the description, the data
    builder's arguments or the reported metrics, and no empty value.

    Args:
        config: `RecipeConfig`.
        architecture: str.

    Returns:
        dict of str to bool, int, float or str.

    Example:

    >>> from keras_mtcrl.training.recipe_config import RecipeConfig
    >>> config = RecipeConfig(
    ...     name="demo", description="A demo.", data_args={"n": 10},
    ...     model_args={"module_units": 16},
    ... )
    >>> values = hparams_of(config, "mtcrl")
    >>> values["architecture"], values["model_args.module_units"]
    ('mtcrl', 16)
    >>> sorted({"description", "data_args", "primary_metrics"} & set(values))
    []
    """
    fields = config.to_dict()
    model_args = fields.pop("model_args")
    for name in _NOT_HYPERPARAMETERS:
        fields.pop(name)
    fields.update({f"model_args.{k}": v for k, v in model_args.items()})
    values = {
        key: _hparam_value(value)
        for key, value in fields.items()
        if value is not None and value != {} and value != ()
    }
    values["architecture"] = architecture
    return values


def write_hparams(log_dir, config, architecture):
    """Writes the run's hyperparameters to TensorBoard's HParams view.

    Args:
        log_dir: str. The run's TensorBoard folder.
        config: `RecipeConfig`.
        architecture: str.
    """
    from tensorboard.plugins.hparams import api as hparams_api

    with tf.summary.create_file_writer(log_dir).as_default():
        hparams_api.hparams(hparams_of(config, architecture))


def selection_monitor(has_graph):
    """The validation quantity that picks the best epoch.

    MT-CRL: `val_worst_env_loss` (task losses only, worst over the
    supplied and label-balanced environments), the selection rule of
    docs/choosing-weights.md; its `val_loss` carries the penalties, which
    are off during the warm-up and would favour those epochs. Other
    architectures: `val_loss`.

    Example:

    >>> selection_monitor(True), selection_monitor(False)
    ('val_worst_env_loss', 'val_loss')
    """
    return "val_worst_env_loss" if has_graph else "val_loss"


def run_callbacks(run_dir, config, has_graph, epoch_shuffle, fingerprint=None):
    """Returns the callbacks of one architecture's training run.

    TensorBoard (every logged term per epoch), AtomicBackupAndRestore (a
    killed run resumes at its last finished epoch), NonFiniteGuard (stops
    at the first NaN/Inf term and names it), DivergenceGuard (when
    `config.divergence_factor` is set: stops when the loss explodes),
    ModelCheckpoint (the best
    model as `best.keras`), the graph image for MT-CRL, the per-epoch
    shuffle, and EarlyStopping when the recipe asks for it. Both monitor
    `selection_monitor(has_graph)`.

    Args:
        run_dir: str. Folder of this run.
        config: `RecipeConfig`.
        has_graph: bool. Whether the model has a causal graph.
        epoch_shuffle: `EpochShuffle` feeding the training data.
        fingerprint: dict or None. The run's config fingerprint, recorded
            in (and checked against) the backup. Defaults to `None`.

    Returns:
        List of `keras.callbacks.Callback`.
    """
    log_dir = os.path.join(run_dir, "tensorboard")
    callbacks = [
        epoch_shuffle,
        # Raises at the first non-finite term, before an epoch-end backup.
        NonFiniteGuard(),
        # Keras' BackupAndRestore overwrites its file in place; see
        # docs/reliability.md.
        AtomicBackupAndRestore(
            os.path.join(run_dir, "backup"), fingerprint=fingerprint
        ),
        keras.callbacks.TensorBoard(log_dir),
        keras.callbacks.ModelCheckpoint(
            os.path.join(run_dir, "best.keras"),
            monitor=selection_monitor(has_graph),
            mode="min",
            save_best_only=True,
        ),
    ]
    if config.divergence_factor:
        callbacks.insert(2, DivergenceGuard(config.divergence_factor))
    if has_graph:
        callbacks.append(CausalGraphImage(log_dir))
    if config.early_stopping_patience:
        callbacks.append(early_stopping(config, has_graph))
    return callbacks


def early_stopping(config, has_graph):
    """The recipe's `EarlyStopping` on `selection_monitor(has_graph)`.

    Args:
        config: `RecipeConfig` with `early_stopping_patience` set.
        has_graph: bool. Whether the model has a causal graph.

    Returns:
        `keras.callbacks.EarlyStopping` restoring the best weights.

    Example:

    >>> from keras_mtcrl.training.recipe_config import RecipeConfig
    >>> config = RecipeConfig(name="demo", early_stopping_patience=3)
    >>> early_stopping(config, True).monitor
    'val_worst_env_loss'
    """
    return keras.callbacks.EarlyStopping(
        monitor=selection_monitor(has_graph),
        mode="min",
        patience=config.early_stopping_patience,
        restore_best_weights=True,
    )
