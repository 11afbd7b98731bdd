"""Training backups that a kill at any moment cannot corrupt."""

import contextlib
import json
import os
import re
import shutil
import uuid
import warnings

import keras

from keras_mtcrl.api_export import keras_mtcrl_export
from keras_mtcrl.callbacks.run_fingerprint import check_fingerprint
from keras_mtcrl.callbacks.run_fingerprint import normalise

COMMIT_FILE = "checkpoint.json"
FINGERPRINT_FILE = "fingerprint.json"
WEIGHTS_SUFFIX = ".weights.h5"
_EPOCH = re.compile(r"^epoch-(\d+)-[0-9a-f]+\.weights\.h5$")


class BackupError(RuntimeError):
    """No backup in the folder can be loaded; says what to delete."""


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
    # A unique name: two processes never write the same temporary file.
    temporary = f"{path}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp"
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
    and that file, with `os.replace` (atomic). The previous epoch's file
    is kept as a fallback; older ones are deleted after the commit.
    Whenever the process dies, `checkpoint.json` names a complete weights
    file with its own epoch number. The next `fit` with the same callback
    loads them and resumes at that epoch.

    A damaged backup (a truncated weights file, a `checkpoint.json` that is
    garbage or names a missing file) is not fatal: the newest file that
    loads is used (with a warning), and files are deleted only after a
    successful load. When none loads, `BackupError` names the files and
    the folder to delete; nothing is deleted.

    With a `fingerprint` (the trainer passes its config's), the backup
    records it and a `fit` under another fingerprint raises
    `RunMismatchError` naming the differing fields instead of resuming.

    Args:
        backup_dir: str. Folder of the backup; use it for nothing else.
        delete_checkpoint: bool. Delete the folder when `fit` ends normally.
            Defaults to `True`.
        fingerprint: dict or None. JSON-able description of the run's
            config; None skips the check. Defaults to `None`.

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

    def __init__(self, backup_dir, delete_checkpoint=True, fingerprint=None):
        super().__init__()
        if not backup_dir:
            raise ValueError(
                "`backup_dir` must be a non-empty path. Received: "
                f"backup_dir={backup_dir!r}"
            )
        self.backup_dir = str(backup_dir)
        self.delete_checkpoint = bool(delete_checkpoint)
        self.fingerprint = None if fingerprint is None else normalise(
            fingerprint
        )
        self._commit_path = os.path.join(self.backup_dir, COMMIT_FILE)
        self._previous = None
        self._fingerprint_written = False

    def get_config(self):
        return {
            "backup_dir": self.backup_dir,
            "delete_checkpoint": self.delete_checkpoint,
            "fingerprint": self.fingerprint,
        }

    def committed_state(self):
        """The committed `{"epoch", "weights"}` dict, or None if none.

        An unreadable `checkpoint.json` counts as none.
        """
        try:
            with open(self._commit_path, encoding="utf-8") as handle:
                state = json.load(handle)
            int(state["epoch"])
            str(state["weights"])
            return state
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def committed_epoch(self):
        """Number of epochs the committed backup has finished, or None."""
        state = self.committed_state()
        return None if state is None else state["epoch"]

    def stored_fingerprint(self):
        """The fingerprint the backup was made under; None if unknown."""
        state = self.committed_state()
        if state is not None and "fingerprint" in state:
            return state["fingerprint"]
        try:
            with open(
                os.path.join(self.backup_dir, FINGERPRINT_FILE),
                encoding="utf-8",
            ) as handle:
                return json.load(handle)
        except (OSError, ValueError):
            return None

    def _candidates(self, state):
        """`(name, epoch)` to try, the committed file first, then newest."""
        found = []
        if os.path.isdir(self.backup_dir):
            for name in os.listdir(self.backup_dir):
                match = _EPOCH.match(name)
                if match:
                    found.append((name, int(match.group(1))))
        found.sort(key=lambda item: -item[1])
        if state is not None:
            committed = (state["weights"], int(state["epoch"]))
            found = [committed] + [f for f in found if f != committed]
        return found

    def on_train_begin(self, logs=None):
        state = self.committed_state()
        candidates = self._candidates(state)
        exists = os.path.exists(self._commit_path)
        if not candidates and not exists:
            self._remove_uncommitted(set(), temporaries=True)
            return
        if self.fingerprint is not None:
            check_fingerprint(
                self.stored_fingerprint(),
                self.fingerprint,
                self.backup_dir,
                f"delete {self.backup_dir} (its epochs are lost) or use "
                "another folder",
            )
        if not self.model.built:
            raise ValueError(
                "AtomicBackupAndRestore restores weights into a built "
                "model. Build the model (e.g. pass `input_shape`) before "
                "`fit`."
            )
        self._build_optimizer()
        failures = []
        for name, epoch in candidates:
            try:
                self.model.load_weights(os.path.join(self.backup_dir, name))
            except Exception as error:  # torn, missing or foreign file
                failures.append(f"{name}: {type(error).__name__}: {error}")
                continue
            self._resume_from(name, epoch, state, failures)
            return
        if state is None and exists:
            failures.insert(0, f"{COMMIT_FILE}: unreadable")
        elif state is not None and not candidates:
            failures.insert(0, f"{state['weights']}: missing")
        raise BackupError(
            f"No backup in {self.backup_dir} can be loaded:\n  "
            + "\n  ".join(failures or ["no weights file"])
            + f"\nDelete the folder {self.backup_dir} to train this run "
            "from epoch 0 (its epochs are lost), or put a good backup "
            "there. Nothing was deleted."
        )

    def _build_optimizer(self):
        optimizer = self.model.optimizer
        if optimizer is not None and not optimizer.built:
            # Under the model's strategy: its slots must be distributed too.
            strategy = getattr(self.model, "distribute_strategy", None)
            scope = strategy.scope() if strategy else contextlib.nullcontext()
            with scope:
                optimizer.build(self.model.trainable_variables)

    def _resume_from(self, name, epoch, state, failures):
        """After `name` loaded: commit it if needed, then clean up."""
        if state is None or state["weights"] != name:
            warnings.warn(
                f"AtomicBackupAndRestore: the committed backup in "
                f"{self.backup_dir} could not be used "
                f"({'; '.join(failures) or f'{COMMIT_FILE} unreadable'}). "
                f"Resuming from {name} (epoch {epoch}) instead.",
                stacklevel=3,
            )
            self._commit(epoch, name)
        # Only now, with a loaded backup, may other files go; it stays the
        # fallback of the next commit.
        self._previous = name
        self._remove_uncommitted({name}, temporaries=True)
        # The resume protocol of Keras' own BackupAndRestore: `fit` starts
        # at `model._initial_epoch` when it is set.
        self.model._initial_epoch = epoch

    def _commit(self, epoch, name):
        payload = {"epoch": epoch, "weights": name}
        if self.fingerprint is not None:
            payload["fingerprint"] = self.fingerprint
        write_json_atomically(self._commit_path, payload)

    def on_epoch_end(self, epoch, logs=None):
        os.makedirs(self.backup_dir, exist_ok=True)
        if self.fingerprint is not None and not self._fingerprint_written:
            self._fingerprint_written = True
            write_json_atomically(
                os.path.join(self.backup_dir, FINGERPRINT_FILE),
                self.fingerprint,
            )
        name = f"epoch-{epoch + 1}-{uuid.uuid4().hex[:8]}{WEIGHTS_SUFFIX}"
        path = os.path.join(self.backup_dir, name)
        self.model.save_weights(path, overwrite=True)
        _fsync(path)
        self._commit(epoch + 1, name)
        # The previous epoch's file stays: the fallback if this one is
        # later damaged.
        self._remove_uncommitted({name, self._previous})
        self._previous = name

    def on_train_end(self, logs=None):
        # Keras never clears it: a later `fit` of this model would resume.
        self.model._initial_epoch = None
        if self.delete_checkpoint:
            shutil.rmtree(self.backup_dir, ignore_errors=True)

    def _remove_uncommitted(self, keep, temporaries=False):
        """Deletes weight files not in `keep` (old or torn) and, at the
        start of a run, temporary files a killed process left."""
        if not os.path.isdir(self.backup_dir):
            return
        for name in os.listdir(self.backup_dir):
            stale = name.endswith(WEIGHTS_SUFFIX) and name not in keep
            if stale or (temporaries and name.endswith(".tmp")):
                os.remove(os.path.join(self.backup_dir, name))
