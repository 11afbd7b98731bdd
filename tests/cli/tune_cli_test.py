"""`keras-mtcrl tune` says where its results went; `train --from-tuning`."""

import contextlib
import io
import json
import os

import keras
import pytest

from keras_mtcrl import cli
from keras_mtcrl.tuning.tuned_config import tuned_changes

TINY_DATA = ["--data-arg", "num_train=200", "--data-arg", "num_eval=100"]


def _run(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(argv)
    return code, out.getvalue(), err.getvalue()


def test_tune_then_train_from_its_result(tmp_path):
    tune_dir = str(tmp_path / "tune")
    code, out, _ = _run(
        ["tune", "synthetic", "--max-trials", "1", "--epochs", "1",
         "--strategy", "one", "--logdir", tune_dir, *TINY_DATA]
    )
    assert code == 0
    # MT-CRL trials are compared on the worst-environment loss.
    assert "chosen on validation): val_worst_env_loss=" in out
    best_json = os.path.join(tune_dir, "best.json")
    assert f"Best hyperparameters and config: {best_json}" in out
    assert f"--from-tuning {best_json}" in out
    # Loads without "Skipping variable loading for optimizer" (warnings
    # are errors in this suite).
    keras.saving.load_model(os.path.join(tune_dir, "best.keras"))
    with open(best_json) as handle:
        tuned = json.load(handle)["hyperparameters"]

    train_dir = str(tmp_path / "train")
    code, out, err = _run(
        ["train", "synthetic", "--from-tuning", best_json, "--epochs", "1",
         "--architectures", "mtcrl", "--strategy", "one", "--quiet",
         "--logdir", train_dir, "--num-modules", "2", *TINY_DATA]
    )
    assert code == 0, err
    # The end-to-end train of the CLI (also tests/training/cli_test.py's
    # test_train_end_to_end, slow): scores printed, config saved.
    assert "shifted test" in out
    with open(os.path.join(train_dir, "results.json")) as handle:
        config = json.load(handle)["config"]
    assert config["data_args"]["num_train"] == 200
    assert config["epochs"] == 1
    assert config["learning_rate"] == pytest.approx(tuned["learning_rate"])
    assert config["invariance_weight"] == pytest.approx(
        tuned["invariance_weight"]
    )
    assert config["num_modules"] == 2  # A flag given to train wins.


def test_from_tuning_of_another_recipe_is_refused(tmp_path):
    path = tmp_path / "best.json"
    path.write_text(json.dumps({"recipe": "movielens", "hyperparameters": {}}))
    code, _, err = _run(["train", "synthetic", "--from-tuning", str(path)])
    assert code == 2
    assert "tuned recipe 'movielens', not 'synthetic'" in err


def test_tuned_changes_keep_only_config_fields(tmp_path):
    path = tmp_path / "best.json"
    path.write_text(
        json.dumps(
            {
                "recipe": "synthetic",
                "hyperparameters": {
                    "learning_rate": 0.01,
                    "tuner/epochs": 2,
                    "tuner/round": 0,
                },
            }
        )
    )
    assert tuned_changes(str(path), "synthetic") == {"learning_rate": 0.01}
    with pytest.raises(ValueError, match="not a tuning result"):
        path.write_text("[]")
        tuned_changes(str(path), "synthetic")
