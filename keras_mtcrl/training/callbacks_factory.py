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


def _hparam_value(value):
    if isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def write_hparams(log_dir, config, architecture):
    """Writes the run's hyperparameters to TensorBoard's HParams view."""
    from tensorboard.plugins.hparams import api as hparams_api

    values = {
        key: _hparam_value(value)
        for key, value in config.to_dict().items()
        if value is not None
    }
    values["architecture"] = architecture
    with tf.summary.create_file_writer(log_dir).as_default():
        hparams_api.hparams(values)


def run_callbacks(run_dir, config, has_graph, epoch_shuffle, fingerprint=None):
    """Returns the callbacks of one architecture's training run.

    TensorBoard (every logged term per epoch), AtomicBackupAndRestore (a
    killed run resumes at its last finished epoch), NonFiniteGuard (stops
    at the first NaN/Inf term and names it), DivergenceGuard (when
    `config.divergence_factor` is set: stops when the loss explodes),
    ModelCheckpoint (the best
    model by validation loss as `best.keras`), the graph image for MT-CRL,
    the per-epoch shuffle, and EarlyStopping when the recipe asks for it.

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
            monitor="val_loss",
            save_best_only=True,
        ),
    ]
    if config.divergence_factor:
        callbacks.insert(2, DivergenceGuard(config.divergence_factor))
    if has_graph:
        callbacks.append(CausalGraphImage(log_dir))
    if config.early_stopping_patience:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor="val_loss",
                patience=config.early_stopping_patience,
                restore_best_weights=True,
            )
        )
    return callbacks
