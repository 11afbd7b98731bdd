"""Training backups that a kill at any moment cannot corrupt."""

import contextlib
import json
import os
import shutil
import uuid

import keras

from keras_mtcrl.api_export import keras_mtcrl_export

COMMIT_FILE = "checkpoint.json"
WEIGHTS_SUFFIX = ".weights.h5"


def _fsync(path, directory=False):
    """Flushes a file (or a folder's entries) to disk where supported."""
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0)
    try:
        descriptor = os.open(path, flags)
    except OSError:  # Folders cannot be opened on some platforms.
        return
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def write_json_atomically(path, payload):
    """Writes `payload` as JSON to `path` through a synced temporary file.

    `os.replace` is atomic: readers see the old file or the new one, never
    a mix, whatever moment the writing process dies.
    """
    temporary = f"{path}.tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(payload, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    _fsync(os.path.dirname(path) or ".", directory=True)


@keras_mtcrl_export
class AtomicBackupAndRestore(keras.callbacks.Callback):
    """`BackupAndRestore` whose backup survives a kill at any moment.

    Keras' `BackupAndRestore` (3.x) overwrites `latest.weights.h5` in place
    and then writes the epoch number to a second file. A process killed
    during the weights write leaves a torn HDF5 file that the next `fit`
    cannot load (unless `double_checkpoint=True`, whose copy is not atomic
    either); killed between the two writes, it restores epoch `n + 1`'s
    weights with epoch `n`'s counter and trains that epoch twice.

    This callback has one commit point. At the end of each epoch it writes
    the weights (optimizer state included) to a new file, flushes it to
    disk and only then replaces `checkpoint.json`, which names the epoch
    and that file, with `os.replace` (atomic); older weight files are
    deleted after the commit. Whenever the process dies, `checkpoint.json`
    names a complete weights file with its own epoch number. The next
    `fit` with the same callback loads them and resumes at that epoch.

    Args:
        backup_dir: str. Folder of the backup; use it for nothing else.
        delete_checkpoint: bool. Delete the folder when `fit` ends normally.
            Defaults to `True`.

    Example:

    >>> import tempfile, numpy as np
    >>> from keras_mtcrl import MultiTaskModel, ExpertEncoder, TaskHead
    >>> model = MultiTaskModel(ExpertEncoder(2, 2), {"a": TaskHead("binary")},
    ...                        input_shape=(None, 3))
    >>> model.compile(optimizer="sgd")
    >>> backup = AtomicBackupAndRestore(tempfile.mkdtemp(),
    ...                                 delete_checkpoint=False)
    >>> x, y = np.zeros((4, 3)), {"a": np.ones(4)}
    >>> _ = model.fit(x, y, epochs=2, verbose=0, callbacks=[backup])
    >>> backup.committed_epoch()
    2
    >>> history = model.fit(x, y, epochs=3, verbose=0, callbacks=[backup])
    >>> len(history.history["loss"])  # resumed: only epoch 3 is left
    1
    """

    def __init__(self, backup_dir, delete_checkpoint=True):
        super().__init__()
        if not backup_dir:
            raise ValueError(
                "`backup_dir` must be a non-empty path. Received: "
                f"backup_dir={backup_dir!r}"
            )
        self.backup_dir = str(backup_dir)
        self.delete_checkpoint = bool(delete_checkpoint)
        self._commit_path = os.path.join(self.backup_dir, COMMIT_FILE)

    def get_config(self):
        return {
            "backup_dir": self.backup_dir,
            "delete_checkpoint": self.delete_checkpoint,
        }

    def committed_state(self):
        """The committed `{"epoch", "weights"}` dict, or None if none."""
        if not os.path.exists(self._commit_path):
            return None
        with open(self._commit_path, encoding="utf-8") as handle:
            return json.load(handle)

    def committed_epoch(self):
        """Number of epochs the committed backup has finished, or None."""
        state = self.committed_state()
        return None if state is None else state["epoch"]

    def on_train_begin(self, logs=None):
        state = self.committed_state()
        self._remove_uncommitted(state)
        if state is None:
            return
        if not self.model.built:
            raise ValueError(
                "AtomicBackupAndRestore restores weights into a built "
                "model. Build the model (e.g. pass `input_shape`) before "
                "`fit`."
            )
        optimizer = self.model.optimizer
        if optimizer is not None and not optimizer.built:
            # Under the model's strategy: its slots must be distributed too.
            strategy = getattr(self.model, "distribute_strategy", None)
            scope = strategy.scope() if strategy else contextlib.nullcontext()
            with scope:
                optimizer.build(self.model.trainable_variables)
        self.model.load_weights(os.path.join(self.backup_dir, state["weights"]))
        # The resume protocol of Keras' own BackupAndRestore: `fit` starts
        # at `model._initial_epoch` when it is set.
        self.model._initial_epoch = state["epoch"]

    def on_epoch_end(self, epoch, logs=None):
        os.makedirs(self.backup_dir, exist_ok=True)
        name = f"epoch-{epoch + 1}-{uuid.uuid4().hex[:8]}{WEIGHTS_SUFFIX}"
        path = os.path.join(self.backup_dir, name)
        self.model.save_weights(path, overwrite=True)
        _fsync(path)
        write_json_atomically(
            self._commit_path, {"epoch": epoch + 1, "weights": name}
        )
        self._remove_uncommitted({"weights": name})

    def on_train_end(self, logs=None):
        # Keras never clears it: a later `fit` of this model would resume.
        self.model._initial_epoch = None
        if self.delete_checkpoint:
            shutil.rmtree(self.backup_dir, ignore_errors=True)

    def _remove_uncommitted(self, state):
        """Deletes weight files the commit does not name (old or torn)."""
        if not os.path.isdir(self.backup_dir):
            return
        keep = None if state is None else state["weights"]
        for name in os.listdir(self.backup_dir):
            stale = name.endswith(WEIGHTS_SUFFIX) and name != keep
            if stale or name == f"{COMMIT_FILE}.tmp":
                os.remove(os.path.join(self.backup_dir, name))
