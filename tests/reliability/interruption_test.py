"""Killed runs resume to the same weights; checkpoints are never torn.

The CLI tests start `keras-mtcrl train synthetic` as a real process, kill
it with SIGTERM or SIGKILL once its first epoch's backup is committed,
start it again and compare `final.keras` with an uninterrupted run's.
"""

import json
import os
import random
import re
import signal
import sys
import tempfile
import time
from unittest import mock

import keras
import numpy as np
import pytest
from absl.testing import parameterized

from keras_mtcrl import ExpertEncoder
from keras_mtcrl import MultiTaskModel
from keras_mtcrl import TaskHead
from keras_mtcrl.callbacks import AtomicBackupAndRestore
from keras_mtcrl.callbacks import atomic_backup_and_restore
from keras_mtcrl.testing import TestCase
from keras_mtcrl.training import Trainer
from keras_mtcrl.training import get_recipe
from keras_mtcrl.training import results

sys.path.insert(0, os.path.dirname(__file__))
import subprocess_helpers as helpers  # noqa: E402

EPOCHS = 6
NUM_TRAIN = 512
CLI_TIMEOUT = 240


def cli_args(logdir):
    return [
        "-m", "keras_mtcrl.cli", "train", "synthetic",
        "--epochs", str(EPOCHS), "--logdir", logdir,
        "--architectures", "mtcrl", "--strategy", "one",
        "--batch-size", "64",
        "--data-arg", f"num_train={NUM_TRAIN}", "--data-arg", "num_eval=128",
    ]  # fmt: skip


def run_cli(logdir):
    """Runs the CLI to the end (bounded); returns its output."""
    process = helpers.start(cli_args(logdir))
    try:
        output, _ = process.communicate(timeout=CLI_TIMEOUT)
    except BaseException:
        helpers.stop(process)
        raise
    assert process.returncode == 0, output[-3000:]
    return output


def final_weights(logdir):
    path = os.path.join(logdir, "seed_0", "mtcrl", "final.keras")
    return keras.saving.load_model(path).get_weights()


def committed_epoch(logdir):
    path = os.path.join(logdir, "seed_0", "mtcrl", "backup", "checkpoint.json")
    try:
        with open(path) as handle:
            return json.load(handle)["epoch"]
    except (OSError, ValueError):
        return None


# Two CLI processes per signal and a reference run: about 2 minutes per
# signal on 2 CPU cores. In the default run, trainer_test's in-process
# kill-and-resume and the backup tests below cover resuming.
@pytest.mark.slow
class CliResumeTest(TestCase, parameterized.TestCase):
    @classmethod
    def setUpClass(cls):
        # The uninterrupted run, in this process (a CLI run in a fresh
        # process gives bit-identical weights; see determinism_test).
        cls.reference = tempfile.mkdtemp()
        recipe = get_recipe("synthetic").with_config(
            epochs=EPOCHS,
            architectures=("mtcrl",),
            batch_size=64,
            data_args={"num_train": NUM_TRAIN, "num_eval": 128},
        )
        Trainer(recipe, cls.reference, "one", verbose=0).run()

    @parameterized.named_parameters(
        ("sigterm", signal.SIGTERM), ("sigkill", signal.SIGKILL)
    )
    def test_killed_run_resumes_to_identical_weights(self, signum):
        logdir = tempfile.mkdtemp()
        process = helpers.start(cli_args(logdir))
        try:
            helpers.wait_for(
                lambda: (committed_epoch(logdir) or 0) >= 1,
                process,
                CLI_TIMEOUT,
            )
            process.send_signal(signum)  # mid-run: epochs 2.. are left
            process.communicate(timeout=60)
        finally:
            helpers.stop(process)
        self.assertEqual(process.returncode, -signum)
        killed_at = committed_epoch(logdir)
        self.assertLess(killed_at, EPOCHS)
        run_dir = os.path.join(logdir, "seed_0", "mtcrl")
        self.assertFalse(os.path.exists(os.path.join(run_dir, "final.keras")))
        output = run_cli(logdir)
        # The second process resumed after the committed epoch.
        first_epoch = int(re.search(r"Epoch (\d+)/", output).group(1))
        self.assertEqual(first_epoch, killed_at + 1)
        for resumed, expected in zip(
            final_weights(logdir), final_weights(self.reference)
        ):
            self.assertAllClose(resumed, expected, atol=1e-6, rtol=0)
        self.assertFalse(os.path.exists(os.path.join(run_dir, "backup")))


def make_model():
    model = MultiTaskModel(
        ExpertEncoder(2, 3),
        {"a": TaskHead("binary")},
        input_shape=(None, 4),
    )
    model.compile(optimizer="adam")
    return model


def make_data():
    x = np.random.default_rng(0).normal(size=(16, 4)).astype("float32")
    return x, {"a": (x[:, 0] > 0).astype("float32")}


class _Killed(BaseException):
    """Stands for the process dying (not an Exception: nothing catches)."""


def kill_during_second_save(model):
    """The second `save_weights` call leaves a torn file, then 'dies'."""
    original = model.save_weights
    calls = []

    def save_weights(filepath, overwrite=True, **kwargs):
        calls.append(filepath)
        if len(calls) < 2:
            return original(filepath, overwrite=overwrite, **kwargs)
        original(filepath, overwrite=overwrite, **kwargs)
        size = os.path.getsize(filepath)
        with open(filepath, "r+b") as handle:  # what a kill leaves behind
            handle.truncate(size // 3)
        raise _Killed()

    model.save_weights = save_weights


class _Snapshot(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.at_epoch_end = {}
        self.at_train_begin = None

    def on_train_begin(self, logs=None):
        self.at_train_begin = self.model.get_weights()

    def on_epoch_end(self, epoch, logs=None):
        self.at_epoch_end[epoch] = self.model.get_weights()


class BackupAtomicityTest(TestCase):
    def test_keras_backup_is_lost_when_killed_mid_write(self):
        # Documents why the trainer does not use Keras' BackupAndRestore:
        # it overwrites `latest.weights.h5` in place. If Keras makes it
        # atomic, this test fails and the wrapper can go.
        folder = tempfile.mkdtemp()
        model = make_model()
        kill_during_second_save(model)
        x, y = make_data()
        with pytest.raises(_Killed):
            model.fit(
                x, y, epochs=3, verbose=0,
                callbacks=[keras.callbacks.BackupAndRestore(folder)],
            )  # fmt: skip
        with pytest.raises(OSError, match="truncated file"):
            make_model().fit(
                x, y, epochs=3, verbose=0,
                callbacks=[keras.callbacks.BackupAndRestore(folder)],
            )  # fmt: skip

    def test_atomic_backup_keeps_the_last_good_epoch(self):
        folder = tempfile.mkdtemp()
        model = make_model()
        kill_during_second_save(model)
        x, y = make_data()
        first = _Snapshot()
        with pytest.raises(_Killed):
            model.fit(
                x, y, epochs=3, verbose=0,
                callbacks=[AtomicBackupAndRestore(folder), first],
            )  # fmt: skip
        self.assertEqual(AtomicBackupAndRestore(folder).committed_epoch(), 1)
        second = _Snapshot()
        history = make_model().fit(
            x, y, epochs=3, verbose=0,
            callbacks=[AtomicBackupAndRestore(folder), second],
        )  # fmt: skip
        self.assertEqual(len(history.history["loss"]), 2)  # epochs 2 and 3
        for restored, saved in zip(
            second.at_train_begin, first.at_epoch_end[0]
        ):
            self.assertAllClose(restored, saved, atol=0, rtol=0)
        self.assertFalse(os.path.exists(folder))

    def test_kill_between_weights_and_commit_keeps_a_consistent_pair(self):
        folder = tempfile.mkdtemp()
        x, y = make_data()
        first = _Snapshot()
        model = make_model()
        commit = atomic_backup_and_restore.write_json_atomically
        calls = []

        def commit_then_die(path, payload):
            calls.append(payload)
            if len(calls) == 2:
                raise _Killed()  # epoch 2's weights written, not committed
            commit(path, payload)

        with mock.patch.object(
            atomic_backup_and_restore, "write_json_atomically", commit_then_die
        ):
            with pytest.raises(_Killed):
                model.fit(
                    x, y, epochs=3, verbose=0,
                    callbacks=[AtomicBackupAndRestore(folder), first],
                )  # fmt: skip
        second = _Snapshot()
        make_model().fit(
            x, y, epochs=3, verbose=0,
            callbacks=[AtomicBackupAndRestore(folder), second],
        )  # fmt: skip
        # Epoch 1's counter with epoch 1's weights, not epoch 2's.
        for restored, saved in zip(
            second.at_train_begin, first.at_epoch_end[0]
        ):
            self.assertAllClose(restored, saved, atol=0, rtol=0)

    def test_sigkill_during_backup_writes_never_tears_the_commit(self):
        for attempt in range(2):
            folder = tempfile.mkdtemp()
            process = helpers.start([helpers.__file__, "backup-writer", folder])
            try:
                while helpers.read_counter(process) < 2:
                    pass
                time.sleep(random.uniform(0.0, 0.3))
                os.killpg(process.pid, signal.SIGKILL)
                process.communicate(timeout=30)
            finally:
                helpers.stop(process)
            model = helpers.backup_model()
            callback = AtomicBackupAndRestore(folder)
            epoch = callback.committed_epoch()
            self.assertGreaterEqual(epoch, 2)
            callback.set_model(model)
            callback.on_train_begin()
            for variable in model.weights:
                value = keras.ops.convert_to_numpy(variable)
                self.assertTrue((value == epoch).all(), (attempt, epoch))
            self.assertEqual(int(model.optimizer.iterations), epoch)
            # Torn or uncommitted files were removed; the loaded backup is
            # left (and, until the next commit, nothing else).
            weights = [n for n in os.listdir(folder) if n.endswith(".h5")]
            self.assertEqual(weights, [callback.committed_state()["weights"]])


class ResultsJsonAtomicityTest(TestCase):
    def test_failure_mid_write_leaves_the_previous_file(self):
        path = os.path.join(tempfile.mkdtemp(), "results.json")
        results.write_json(path, {"version": 1})

        def dump_half_then_die(payload, handle, **kwargs):
            handle.write('{"version": 2, "bl')
            raise _Killed()

        with mock.patch.object(results.json, "dump", dump_half_then_die):
            with pytest.raises(_Killed):
                results.write_json(path, {"version": 2})
        self.assertEqual(results.read_json(path), {"version": 1})

    def test_sigkill_during_writes_never_tears_the_file(self):
        path = os.path.join(tempfile.mkdtemp(), "results.json")
        for _ in range(3):
            process = helpers.start([helpers.__file__, "json-writer", path])
            try:
                before = helpers.read_counter(process)
                time.sleep(random.uniform(0.0, 0.2))
                os.killpg(process.pid, signal.SIGKILL)
                process.communicate(timeout=30)
            finally:
                helpers.stop(process)
            payload = results.read_json(path)  # raises if torn
            self.assertGreaterEqual(payload["count"], before)
            self.assertEqual(len(payload["blob"]), 4_000_000)
