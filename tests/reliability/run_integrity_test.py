"""Runs that cannot lie: stale results, lost backups, concurrent writers,
divergence (issue 14, points 1-5)."""

import json
import os
import signal
import sys
import tempfile

import keras
import numpy as np
import pytest

from keras_mtcrl import ExpertEncoder
from keras_mtcrl import MultiTaskModel
from keras_mtcrl import TaskHead
from keras_mtcrl.callbacks import AtomicBackupAndRestore
from keras_mtcrl.callbacks.atomic_backup_and_restore import BackupError
from keras_mtcrl.callbacks.run_fingerprint import RunMismatchError
from keras_mtcrl.testing import TestCase
from keras_mtcrl.training import Trainer
from keras_mtcrl.training import get_recipe
from keras_mtcrl.training import results
from keras_mtcrl.training.logdir_lock import LogdirLockedError
from keras_mtcrl.training.run_state import RunFileError

sys.path.insert(0, os.path.dirname(__file__))
import subprocess_helpers as helpers  # noqa: E402


def tiny_recipe(**changes):
    changes.setdefault("epochs", 1)
    changes.setdefault("num_modules", 2)  # two column groups: quicker
    changes.setdefault("data_args", {"num_train": 128, "num_eval": 64})
    return get_recipe("synthetic").with_config(
        batch_size=64,
        architectures=("mtcrl",),
        **changes,
    )


class _KillAfterEpoch(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        raise KeyboardInterrupt("simulated kill")


def make_model():
    model = MultiTaskModel(
        ExpertEncoder(2, 3), {"a": TaskHead("binary")}, input_shape=(None, 4)
    )
    model.compile(optimizer="adam")
    return model


def make_data():
    x = np.random.default_rng(0).normal(size=(16, 4)).astype("float32")
    return x, {"a": (x[:, 0] > 0).astype("float32")}


class _Weights(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.at_begin = self.model.get_weights()

    def on_epoch_end(self, epoch, logs=None):
        setattr(self, f"epoch_{epoch + 1}", self.model.get_weights())


def two_epoch_backup():
    """A backup folder holding epochs 1 and 2, and their weights."""
    folder = tempfile.mkdtemp()
    x, y = make_data()
    seen = _Weights()
    make_model().fit(
        x, y, epochs=2, verbose=0,
        callbacks=[AtomicBackupAndRestore(folder, False), seen],
    )  # fmt: skip
    return folder, seen


def weight_files(folder):
    return sorted(n for n in os.listdir(folder) if n.endswith(".h5"))


def resume(folder, epochs=3):
    x, y = make_data()
    seen = _Weights()
    history = make_model().fit(
        x, y, epochs=epochs, verbose=0,
        callbacks=[AtomicBackupAndRestore(folder, False), seen],
    )  # fmt: skip
    return seen, len(history.history["loss"])


class StaleResultsTest(TestCase):
    """Point 1: results and backups of another config are never reused."""

    @pytest.mark.slow  # over 40 s on 2 CPU cores
    def test_finished_run_under_another_config_is_refused(self):
        logdir = tempfile.mkdtemp()
        Trainer(tiny_recipe(), logdir, "one", verbose=0).run()
        before = results.read_json(os.path.join(logdir, "results.json"))
        changed = tiny_recipe(epochs=2, learning_rate=0.1)
        with pytest.raises(RunMismatchError) as error:
            Trainer(changed, logdir, "one", verbose=0).run()
        message = str(error.value)
        self.assertIn("epochs: 1 (saved) != 2 (this run)", message)
        self.assertIn("learning_rate", message)
        self.assertIn("--overwrite", message)
        after = results.read_json(os.path.join(logdir, "results.json"))
        self.assertEqual(after, before)  # nothing mixed
        summary = Trainer(
            changed, logdir, "one", verbose=0, overwrite=True
        ).run()
        self.assertEqual(summary["config"]["epochs"], 2)
        saved = results.read_json(
            os.path.join(logdir, "seed_0", "mtcrl", "result.json")
        )
        self.assertEqual(saved["fingerprint"]["epochs"], 2)

    def test_backup_under_another_config_is_not_resumed(self):
        logdir = tempfile.mkdtemp()
        with pytest.raises(KeyboardInterrupt):
            Trainer(
                tiny_recipe(epochs=3), logdir, "one", verbose=0,
                callbacks=[_KillAfterEpoch()],
            ).run()  # fmt: skip
        backup = os.path.join(logdir, "seed_0", "mtcrl", "backup")
        files = weight_files(backup)
        other_data = {"num_train": 192, "num_eval": 64}
        with pytest.raises(RunMismatchError, match="data_args"):
            Trainer(
                tiny_recipe(epochs=3, data_args=other_data),
                logdir, "one", verbose=0,
            ).run()  # fmt: skip
        self.assertEqual(weight_files(backup), files)  # left alone


class DamagedBackupTest(TestCase):
    """Points 2 and 3: a damaged backup falls back, never destroys."""

    def test_commit_naming_a_missing_file_keeps_the_good_backup(self):
        folder, seen = two_epoch_backup()
        files = weight_files(folder)
        with open(os.path.join(folder, "checkpoint.json"), "w") as handle:
            json.dump({"epoch": 3, "weights": "epoch-3-deadbeef.weights.h5"},
                      handle)
        with pytest.warns(UserWarning, match="Resuming from epoch-2-"):
            resumed, epochs_trained = resume(folder)
        self.assertEqual(epochs_trained, 1)  # resumed after epoch 2
        for restored, saved in zip(resumed.at_begin, seen.epoch_2):
            self.assertAllClose(restored, saved, atol=0, rtol=0)
        self.assertIn(files[-1], files)

    def test_nothing_is_deleted_when_no_backup_loads(self):
        folder, _ = two_epoch_backup()
        for name in weight_files(folder):
            with open(os.path.join(folder, name), "r+b") as handle:
                handle.truncate(100)
        with open(os.path.join(folder, "checkpoint.json"), "w") as handle:
            json.dump({"epoch": 3, "weights": "epoch-3-deadbeef.weights.h5"},
                      handle)
        files = weight_files(folder)
        with pytest.raises(BackupError, match=f"Delete the folder {folder}"):
            resume(folder)
        self.assertEqual(weight_files(folder), files)

    def test_truncated_latest_weights_fall_back_to_the_previous_epoch(self):
        folder, seen = two_epoch_backup()
        latest = [n for n in weight_files(folder) if n.startswith("epoch-2")]
        with open(os.path.join(folder, latest[0]), "r+b") as handle:
            handle.truncate(200)
        with pytest.warns(UserWarning, match="Resuming from epoch-1-"):
            resumed, epochs_trained = resume(folder)
        self.assertEqual(epochs_trained, 2)  # epochs 2 and 3 again
        for restored, saved in zip(resumed.at_begin, seen.epoch_1):
            self.assertAllClose(restored, saved, atol=0, rtol=0)

    def test_garbage_commit_file_falls_back_to_the_newest_weights(self):
        folder, seen = two_epoch_backup()
        with open(os.path.join(folder, "checkpoint.json"), "w") as handle:
            handle.write("\x00garbage{")
        with pytest.warns(UserWarning, match="Resuming from epoch-2-"):
            resumed, _ = resume(folder)
        for restored, saved in zip(resumed.at_begin, seen.epoch_2):
            self.assertAllClose(restored, saved, atol=0, rtol=0)

    def test_torn_result_json_names_the_file_to_delete(self):
        logdir = tempfile.mkdtemp()
        Trainer(tiny_recipe(), logdir, "one", verbose=0).run()
        done = os.path.join(logdir, "seed_0", "mtcrl", "result.json")
        with open(done, "r+") as handle:
            handle.truncate(40)
        with pytest.raises(RunFileError, match=f"{done} is unreadable"):
            Trainer(tiny_recipe(), logdir, "one", verbose=0).run()


class ConcurrentRunsTest(TestCase):
    """Point 4: one run per logdir; the lock dies with its holder."""

    def test_second_run_is_refused_until_the_holder_is_killed(self):
        logdir = tempfile.mkdtemp()
        holder = helpers.start([helpers.__file__, "hold-lock", logdir])
        try:
            helpers.read_counter(holder)
            with pytest.raises(
                LogdirLockedError, match=f"PID {holder.pid}"
            ):
                Trainer(tiny_recipe(), logdir, "one", verbose=0).run()
            self.assertFalse(os.path.exists(os.path.join(logdir, "seed_0")))
            os.killpg(holder.pid, signal.SIGKILL)
            holder.communicate(timeout=30)
        finally:
            helpers.stop(holder)
        summary = Trainer(tiny_recipe(), logdir, "one", verbose=0).run()
        self.assertIn("mtcrl", summary["stats"])

    def test_temporary_names_are_unique_per_writer(self):
        path = os.path.join(tempfile.mkdtemp(), "r.json")
        names = []
        original = os.replace

        def record(source, target):
            names.append(os.path.basename(source))
            original(source, target)

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(results.os, "replace", record)
            results.write_json(path, {})
            results.write_json(path, {})
        self.assertNotEqual(names[0], names[1])
        self.assertIn(str(os.getpid()), names[0])


class DivergenceTest(TestCase):
    """Point 5: an exploding loss is reported as diverged, not a result."""

    @pytest.mark.slow  # over 40 s on 2 CPU cores
    def test_exploding_run_is_marked_diverged(self):
        logdir = tempfile.mkdtemp()
        summary = Trainer(
            # Normalised modules bound the features: at this learning rate
            # the loss no longer grows past 1e4 times its first batch's
            # (the default factor), so the guard is set at 10x here.
            tiny_recipe(
                epochs=4, learning_rate=10.0, divergence_factor=10.0
            ),
            logdir, "one",
            verbose=0,
        ).run()  # fmt: skip
        details = summary["diverged"]["mtcrl"][0]
        self.assertGreater(details["loss"], 10.0 * details["reference"])
        self.assertEqual(details["epoch"], 1)  # stopped in the first epoch
        self.assertNotIn("mtcrl", summary["stats"])
        self.assertIn("| diverged (seed 0) |", summary["table"])
        saved = results.read_json(
            os.path.join(logdir, "seed_0", "mtcrl", "result.json")
        )
        self.assertEqual(saved["scores"], {})
        self.assertIn("diverged", saved)
        # A sane learning rate is not flagged.
        calm = Trainer(tiny_recipe(), tempfile.mkdtemp(), "one", verbose=0)
        self.assertEqual(calm.run()["diverged"], {})
