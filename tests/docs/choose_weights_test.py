"""docs/examples/choose_weights.py selects on val_worst_env_loss."""

import math
import os
import pathlib
import sys

import numpy as np

from keras_mtcrl.datasets.confounded_synthetic import build_confounded_synthetic

sys.path.insert(0, os.path.dirname(__file__))
from example_files import load_example  # noqa: E402


def _load_example():
    return load_example("choose_weights.py")


def test_the_lowest_val_worst_env_loss_is_chosen(tmp_path, capsys):
    example = _load_example()
    out = example.main(
        weights=(0.0, 100.0), num_train=400, num_eval=200, epochs=3,
        batch_size=100, patience=1, warmup_steps=4, ramp_steps=4,
        folder=str(tmp_path), num_modules=2,  # quicker to trace than 4
    )
    scores = out["scores"]
    assert set(scores) == {0.0, 100.0}
    assert all(np.isfinite(s) for s in scores.values())
    assert out["chosen"] == min(scores, key=scores.get)
    for path in out["paths"].values():
        assert pathlib.Path(path).is_file()
    # The saved model is the chosen run's best epoch: evaluating it again
    # gives the score it was chosen on.
    report = out["report"]
    np.testing.assert_allclose(
        report["validation"]["worst_env_loss"], scores[out["chosen"]],
        rtol=1e-4,
    )
    assert set(report) == {"validation", "test", "test_shifted"}
    printed = capsys.readouterr().out
    assert "chosen:" in printed


def test_checkpoint_ignores_the_warm_up_epochs(tmp_path):
    example = _load_example()
    data = build_confounded_synthetic(num_train=400, num_eval=100)
    # 4 steps per epoch; the penalty is at full weight from epoch 2 on.
    best, history = example.train_candidate(
        data, 100.0, str(tmp_path / "m.keras"), epochs=4, batch_size=100,
        patience=10, warmup_steps=4, ramp_steps=4, num_modules=2,
    )
    start = (4 + 4) // math.ceil(400 / 100)
    assert start == 2
    scores = history[example.MONITOR]
    assert len(scores) == 4
    assert best == min(scores[start:])
