"""Training with the model's own steps under any `tf.distribute` strategy.

Keras 3 `Model.fit` fails under MultiWorkerMirroredStrategy
(keras-team/keras#20329); this loop drives the same `train_step` and
`test_step` with `strategy.run` instead.
"""

import math
import os
import time

import keras
import tensorflow as tf

from keras_mtcrl.callbacks.atomic_backup_and_restore import (
    write_json_atomically,
)
from keras_mtcrl.callbacks.run_fingerprint import check_fingerprint
from keras_mtcrl.callbacks.run_fingerprint import normalise
from keras_mtcrl.models import batch_audit
from keras_mtcrl.training import results as results_io
from keras_mtcrl.training import worker_role
from keras_mtcrl.training.distributed_data import distribute

FINGERPRINT_FILE = "fingerprint.json"
#: Errors a collective operation raises when a peer worker is gone.
_PEER_ERRORS = (
    tf.errors.DeadlineExceededError,
    tf.errors.UnavailableError,
    tf.errors.CancelledError,
    tf.errors.AbortedError,
)


class WorkerLostError(RuntimeError):
    """A collective operation failed: another worker is gone."""


class DistributedLoop:
    """Trains and evaluates a compiled model with `strategy.run`.

    The loop runs the model's own `train_step` and `test_step` (the same
    code `fit` runs) in `tf.function`s under `strategy.run`, on per-worker
    input pipelines made by `strategy.distribute_datasets_from_function`
    (see `keras_mtcrl.training.distributed_data`), so it works where
    Keras' `fit` does not: MultiWorkerMirroredStrategy. The epoch's logs
    are the model's metrics read across replicas (sums of the replicas'
    totals and counts, so exact global values), printed and written to
    TensorBoard (`train/` and `validation/`, tags `epoch_<name>` as
    Keras' TensorBoard callback) by the chief only.

    At each epoch end every worker saves a `tf.train.Checkpoint` of the
    model's variables (non-trainable ones included), the optimizer's and
    the epoch counter (saving runs collective
    operations): the chief to `checkpoint_dir`, the others to temporary
    folders. `fit` restores the latest checkpoint of `checkpoint_dir` on
    every worker and continues after its epoch. When a peer worker dies,
    the collective operations fail (after the strategy's
    `CommunicationOptions(timeout_seconds=...)`, see `make_strategy`) and
    `WorkerLostError` says to restart all workers.

    Keras callbacks get `on_train_begin`, `on_epoch_begin`,
    `on_epoch_end` (with the logs, `val_` ones included) and
    `on_train_end` on every worker, so decisions such as early stopping
    are the same everywhere; batch hooks run once per epoch, after its
    last batch.

    Args:
        model: compiled `keras_mtcrl.models.MultiTaskModel` (or any model
            whose `train_step` / `test_step` return its metrics), built
            in `strategy.scope()`.
        strategy: `tf.distribute.Strategy`.
        checkpoint_dir: str or None. Checkpoints and resumption; None:
            neither. Defaults to `None`.
        tensorboard_dir: str or None. TensorBoard folder (chief only).
            Defaults to `None`.
        verbose: int. 0: silent; otherwise one line per epoch on the
            chief. Defaults to `2`.
        fingerprint: dict or None. Recorded with the checkpoints; a
            checkpoint made under another fingerprint raises
            `RunMismatchError` instead of being restored. Defaults to
            `None`.

    Example:

    >>> import numpy as np
    >>> from keras_mtcrl import MultiTaskModel, ExpertEncoder, TaskHead
    >>> strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    >>> with strategy.scope():
    ...     model = MultiTaskModel(ExpertEncoder(2, 2),
    ...                            {"a": TaskHead("binary")},
    ...                            input_shape=(None, 3))
    ...     model.compile(optimizer="sgd")
    >>> x = np.zeros((8, 3), "float32")
    >>> data = tf.data.Dataset.from_tensor_slices((x, {"a": np.ones(8)}))
    >>> loop = DistributedLoop(model, strategy, verbose=0)
    >>> history = loop.fit(data, batch_size=4, epochs=2)
    >>> history["epoch"], "loss" in history["logs"]
    ([0, 1], True)
    >>> "a_accuracy" in loop.evaluate(data, batch_size=4)
    True
    """

    def __init__(
        self,
        model,
        strategy,
        checkpoint_dir=None,
        tensorboard_dir=None,
        verbose=2,
        fingerprint=None,
    ):
        self.model = model
        self.strategy = strategy
        self.checkpoint_dir = checkpoint_dir
        self.tensorboard_dir = tensorboard_dir
        self.verbose = int(verbose)
        self.fingerprint = (
            None if fingerprint is None else normalise(fingerprint)
        )
        self.chief = worker_role.is_chief(strategy)
        with strategy.scope():
            # Epochs finished; restored with the checkpoint.
            self.epochs_done = tf.Variable(0, dtype="int64", trainable=False)
            model.optimizer.build(model.trainable_variables)
        # Variable lists, not the model object: tf.train.Checkpoint does
        # not see a Keras 3 model's nested layers (only the optimizer's
        # copies of the trainable variables would be saved, not label
        # counts or other non-trainable state). Positions, not names:
        # layer names depend on what the process built before.
        self.checkpoint = tf.train.Checkpoint(
            model_variables=list(model.weights),
            optimizer_variables=list(model.optimizer.variables),
            epochs_done=self.epochs_done,
        )
        self._train_fn = tf.function(self._train_batch)
        self._test_fn = tf.function(self._test_batch)
        self._logs_fn = tf.function(model.get_metrics_result)

    # ---- Compiled steps -----------------------------------------------
    def _train_batch(self, batch):
        self.strategy.run(self._step(self.model.train_step), args=(batch,))

    def _test_batch(self, batch):
        self.strategy.run(self._step(self.model.test_step), args=(batch,))

    def _step(self, step):
        if getattr(self.model, "jit_compile", False):
            return tf.function(step, jit_compile=True)
        return step

    def _logs(self):
        """The model's metrics, summed over replicas (cross-replica read)."""
        with self.strategy.scope():
            results = self._logs_fn()
        return {name: float(value) for name, value in results.items()}

    def _run_epoch(self, function, dataset):
        self.model.reset_metrics()
        count = 0
        for batch in dataset:
            function(batch)
            count += 1
        return count

    # ---- Checkpoints --------------------------------------------------
    def restore(self):
        """Restores the latest checkpoint of `checkpoint_dir`, if any.

        Returns:
            int, the number of epochs the restored state has finished (0
            when there is no checkpoint).
        """
        if not self.checkpoint_dir:
            return 0
        latest = tf.train.latest_checkpoint(self.checkpoint_dir)
        if latest is None:
            return 0
        if self.fingerprint is not None:
            check_fingerprint(
                read_fingerprint(self.checkpoint_dir),
                self.fingerprint,
                self.checkpoint_dir,
                f"delete {self.checkpoint_dir} (its epochs are lost) or "
                "use another folder",
            )
        self.checkpoint.restore(latest).assert_existing_objects_matched()
        return int(self.epochs_done.numpy())

    def _save(self, manager):
        if self.chief and self.fingerprint is not None:
            path = os.path.join(self.checkpoint_dir, FINGERPRINT_FILE)
            if not os.path.exists(path):
                os.makedirs(self.checkpoint_dir, exist_ok=True)
                write_json_atomically(path, self.fingerprint)
        manager.save(checkpoint_number=int(self.epochs_done.numpy()))

    # ---- Training -----------------------------------------------------
    def fit(self, train, batch_size, epochs, validation=None, callbacks=()):
        """Trains for `epochs` epochs (fewer left after a restore).

        Args:
            train: unbatched `tf.data.Dataset`, the same order on every
                worker for a given epoch (reshuffle it from a callback such
                as `keras_mtcrl.training.EpochShuffle`).
            batch_size: int. Global batch size.
            epochs: int. Total epochs, restored ones included.
            validation: unbatched `tf.data.Dataset` or None. Evaluated at
                each epoch end (`val_` logs).
            callbacks: sequence of `keras.callbacks.Callback`.

        Returns:
            dict with `epoch` (the epochs trained now, 0-based) and `logs`
            (name -> list of per-epoch values).
        """
        callbacks = keras.callbacks.CallbackList(
            self._callbacks(callbacks), model=self.model
        )
        train_batches = distribute(self.strategy, train, batch_size)
        validation_batches = None
        if validation is not None:
            validation_batches = distribute(
                self.strategy, validation, batch_size
            )
        start = self.restore()
        manager, write_dir = self._manager()
        history = {"epoch": [], "logs": {}}
        self.model.stop_training = False
        callbacks.on_train_begin()
        try:
            for epoch in range(start, epochs):
                # Callbacks may read metrics too: all of it is guarded.
                logs = self._guarded(
                    self._epoch,
                    epoch,
                    train_batches,
                    validation_batches,
                    callbacks,
                )
                self.epochs_done.assign(epoch + 1)
                if manager is not None:
                    self._guarded(self._save, manager)
                self._guarded(callbacks.on_epoch_end, epoch, logs)
                self._report(epoch, epochs, logs)
                history["epoch"].append(epoch)
                for name, value in logs.items():
                    history["logs"].setdefault(name, []).append(value)
                if self.model.stop_training:
                    break
        finally:
            if manager is not None:
                worker_role.remove_writer_dir(write_dir, self.checkpoint_dir)
        self._guarded(callbacks.on_train_end)
        return history

    def _callbacks(self, callbacks):
        extra = []
        weighting = getattr(self.model, "loss_weighting", None)
        if weighting is not None:
            recorder = weighting.epoch_callback(self.model.task_names)
            if recorder is not None:
                extra.append(recorder)
        audit = getattr(self.model, "_batch_audit", None)
        if audit is not None:
            extra.append(batch_audit.BatchAuditGuard(audit))
        return extra + list(callbacks)

    def _manager(self):
        if not self.checkpoint_dir:
            return None, None
        folder = worker_role.writer_dir(self.checkpoint_dir, self.strategy)
        manager = tf.train.CheckpointManager(
            self.checkpoint, folder, max_to_keep=2 if self.chief else 1
        )
        return manager, folder

    def _epoch(self, epoch, train_batches, validation_batches, callbacks):
        began = time.monotonic()
        callbacks.on_epoch_begin(epoch)
        steps = self._run_epoch(self._train_fn, train_batches)
        callbacks.on_train_batch_end(max(steps - 1, 0))
        logs = self._logs()
        if validation_batches is not None:
            self._run_epoch(self._test_fn, validation_batches)
            logs.update({f"val_{k}": v for k, v in self._logs().items()})
        logs["seconds"] = time.monotonic() - began
        self._write_tensorboard(epoch, logs)
        return logs

    def evaluate(self, dataset, batch_size):
        """The model's metrics on `dataset` (unbatched), across replicas.

        Args:
            dataset: unbatched `tf.data.Dataset`.
            batch_size: int. Global batch size.

        Returns:
            dict of metric name to float.
        """
        return self._guarded(self._evaluate, dataset, batch_size)

    def _evaluate(self, dataset, batch_size):
        batches = distribute(self.strategy, dataset, batch_size)
        self._run_epoch(self._test_fn, batches)
        for callback in self._callbacks(()):
            if isinstance(callback, batch_audit.BatchAuditGuard):
                callback.on_test_batch_end(0)
        return self._logs()

    def _guarded(self, function, *args):
        """Calls `function`; a failed collective becomes `WorkerLostError`."""
        try:
            return function(*args)
        except _PEER_ERRORS as error:
            if not worker_role.is_multi_worker(self.strategy):
                raise
            raise WorkerLostError(
                f"{worker_role.task_name(self.strategy)}: a collective "
                "operation with the other workers failed "
                f"({type(error).__name__}); a worker is probably gone "
                "(killed, crashed or unreachable). Restart every worker "
                "with the same command: training resumes from the last "
                f"checkpoint in {self.checkpoint_dir} (epoch "
                f"{int(self.epochs_done.numpy())})."
            ) from error

    # ---- Output -------------------------------------------------------
    def _write_tensorboard(self, epoch, logs):
        if not (self.chief and self.tensorboard_dir):
            return
        groups = {"train": {}, "validation": {}}
        for name, value in logs.items():
            if name == "seconds":
                continue
            if name.startswith("val_"):
                groups["validation"][name[4:]] = value
            else:
                groups["train"][name] = value
        for group, values in groups.items():
            if not values:
                continue
            writer = tf.summary.create_file_writer(
                os.path.join(self.tensorboard_dir, group)
            )
            with writer.as_default():
                for name, value in values.items():
                    tf.summary.scalar(f"epoch_{name}", value, step=epoch)
            writer.close()

    def _report(self, epoch, epochs, logs):
        if not (self.chief and self.verbose):
            return
        terms = " - ".join(
            f"{name}: {_number(value)}"
            for name, value in logs.items()
            if name != "seconds"
        )
        print(
            f"Epoch {epoch + 1}/{epochs} - {logs['seconds']:.1f}s - {terms}",
            flush=True,
        )


def _number(value):
    return "nan" if math.isnan(value) else f"{value:.4f}"


def read_fingerprint(folder):
    """The fingerprint saved with the checkpoints of `folder`, or None
    (none saved, or unreadable)."""
    try:
        return results_io.read_json(os.path.join(folder, FINGERPRINT_FILE))
    except (OSError, ValueError):
        return None


def needs_distributed_loop(strategy):
    """Whether the trainer must use `DistributedLoop` instead of `fit`.

    True for MultiWorkerMirroredStrategy, where Keras 3 `fit` fails
    (keras-team/keras#20329; `tests/reliability/multi_worker_test.py`
    tells when that is fixed).

    Example:

    >>> needs_distributed_loop(tf.distribute.OneDeviceStrategy("/cpu:0"))
    False
    """
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
