"""A run's fingerprint holds only the settings its architecture reads, and
fingerprints written before a setting existed compare as its default."""

import os
import tempfile

import pytest

from keras_mtcrl.callbacks.run_fingerprint import RunMismatchError
from keras_mtcrl.testing import TestCase
from keras_mtcrl.training import RecipeConfig
from keras_mtcrl.training import results
from keras_mtcrl.training.run_state import prepare_run_dir
from keras_mtcrl.training.run_state import run_fingerprint


def finished_run(fingerprint):
    """A run folder holding a finished `result.json`."""
    run_dir = os.path.join(tempfile.mkdtemp(), "seed_0", "arch")
    results.write_json(
        os.path.join(run_dir, "result.json"),
        {"scores": {"test": {"loss": 1.0}}, "fingerprint": fingerprint},
    )
    return run_dir


class ArchitectureFingerprintTest(TestCase):
    def test_mtcrl_settings_do_not_invalidate_a_shared_bottom_run(self):
        config = RecipeConfig(name="x")
        run_dir = finished_run(run_fingerprint(config, "shared_bottom"))
        changed = config.replace(invariance_weight=3.0, balanced_risk=1.0)
        saved = prepare_run_dir(
            run_dir, run_fingerprint(changed, "shared_bottom")
        )
        self.assertEqual(saved["scores"]["test"]["loss"], 1.0)

    def test_mtcrl_settings_invalidate_an_mtcrl_run(self):
        config = RecipeConfig(name="x")
        run_dir = finished_run(run_fingerprint(config, "mtcrl"))
        changed = config.replace(balanced_risk=1.0)
        with pytest.raises(RunMismatchError, match="balanced_risk"):
            prepare_run_dir(run_dir, run_fingerprint(changed, "mtcrl"))

    def test_shared_settings_invalidate_every_architecture(self):
        config = RecipeConfig(name="x")
        for architecture in ("shared_bottom", "mtcrl", "groupdro"):
            run_dir = finished_run(run_fingerprint(config, architecture))
            changed = config.replace(learning_rate=0.5)
            with pytest.raises(RunMismatchError, match="learning_rate"):
                prepare_run_dir(
                    run_dir, run_fingerprint(changed, architecture)
                )

    def test_older_fingerprint_without_a_new_field_reads_its_default(self):
        config = RecipeConfig(name="x")
        older = dict(run_fingerprint(config, "mtcrl"))
        del older["balanced_risk"]  # written before the field existed
        older["architectures"] = ["mtcrl"]  # once fingerprinted, now not
        saved = prepare_run_dir(
            finished_run(older), run_fingerprint(config, "mtcrl")
        )
        self.assertIsNotNone(saved)
        changed = config.replace(balanced_risk=0.5)
        with pytest.raises(RunMismatchError, match="balanced_risk"):
            prepare_run_dir(
                finished_run(older), run_fingerprint(changed, "mtcrl")
            )
