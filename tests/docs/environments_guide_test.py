"""The code of docs/environments.md: docs/examples/define_environments.py
and `python -m benchmarks.environment_signal`, which the guide explains."""

import os
import pathlib
import sys

import pytest

from benchmarks import environment_signal
from keras_mtcrl.datasets.confounded_synthetic import build_confounded_synthetic

ROOT = pathlib.Path(__file__).resolve().parents[2]
SMALL = {"num_train": 1000, "num_eval": 500}


sys.path.insert(0, os.path.dirname(__file__))
from example_files import load_example  # noqa: E402


def _load_example():
    return load_example("define_environments.py")


def test_every_choice_of_environments_trains(capsys):
    example = _load_example()
    # No warm-up: the penalty is on from the first step. Two modules:
    # quicker to trace than the guide's four.
    results = example.main(
        num_train=400, num_eval=200, epochs=1, batch_size=100,
        warmup_steps=0, ramp_steps=0, num_modules=2,
    )
    assert list(results) == ["column", "auto", "balanced", "agreement"]
    for name, row in results.items():
        # Two or more environments were present in the batches: the
        # penalty has a value (it is 0 with fewer than two).
        assert row["loss_inv"] > 0, name
        assert 0 <= row["test"] <= 1 and 0 <= row["test_shifted"] <= 1
    printed = capsys.readouterr().out
    assert "| likely confounded |" in printed
    assert "| agreement |" in printed


def test_label_dependence_differs_across_the_columns_environments():
    example = _load_example()
    data = build_confounded_synthetic(num_train=2000, num_eval=100)
    rows = {
        (r["task"], r["given"], r["environment"]): r
        for r in example.check_label_shift(data)
    }
    # Labels agree 95% in environment 0 and 85% in environment 1: `b`
    # tells more about `a` in the first, and the pair is flagged in both.
    first, second = rows["a", "b", 0], rows["a", "b", 1]
    assert first["flagged"] and second["flagged"]
    assert first["nmi"] > second["nmi"] + 0.1
    assert first["reference"] < 0.05


def test_column_environments_need_the_column():
    example = _load_example()
    data = build_confounded_synthetic(num_train=40, num_eval=20)
    plain = example.without_column(data)
    features, _ = plain.split("train").element_spec
    assert "env" not in features
    with pytest.raises(ValueError, match="num_environments"):
        example.build_model(plain, "column")
    # Derived environments need no column.
    model = example.build_model(plain, "balanced")
    assert model.invariance.environments == "balanced"


def test_environment_signal_is_above_the_random_floor():
    task, results = environment_signal.measure(
        "synthetic", epochs=1, data_args=SMALL
    )
    assert task == "a"
    floor = results["random"]["grad_var"]
    for choice in ("column", "balanced", "agreement"):
        assert results[choice]["grad_var"] > 10 * floor, choice
    # One group per value of the other label: a shortcut through `b` is
    # constant inside each group, so V-REx sees nothing there.
    assert (
        results["label value"]["vrex"] < results["balanced"]["vrex"] / 100
    )


def test_environment_signal_takes_a_recipe_file(capsys):
    recipe_file = str(ROOT / "docs" / "examples" / "my_recipe.py")
    environment_signal.main(
        ["--recipe", recipe_file, "--epochs", "1"]
        + [f"--data-arg={key}={value}" for key, value in SMALL.items()]
    )
    printed = capsys.readouterr().out
    assert recipe_file in printed
    for choice in environment_signal.CHOICES:
        assert f"| {choice} |" in printed
