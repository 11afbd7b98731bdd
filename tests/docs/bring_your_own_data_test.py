"""docs/examples/bring_your_own_data.py trains through all three inputs."""

import functools
import os
import pathlib
import sys

import numpy as np

NUM_MODULES = 2
PATH = pathlib.Path(__file__).resolve().parents[2] / "docs" / "examples"
TASK_METRICS = (
    "churn_accuracy",
    "churn_auc",
    "plan_accuracy",
    "spend_mae",
    "spend_rmse",
    "loss_churn",
    "loss_plan",
    "loss_spend",
    "tasks_loss",
    "worst_env_loss",
)


sys.path.insert(0, os.path.dirname(__file__))
from example_files import load_example  # noqa: E402


def _load_example():
    return load_example("bring_your_own_data.py")


def test_numpy_tf_data_and_tfds_inputs_train(tmp_path, capsys, monkeypatch):
    example = _load_example()
    # Two modules instead of the example's four: quicker to trace.
    monkeypatch.setattr(
        example, "build_model",
        functools.partial(example.build_model, num_modules=NUM_MODULES),
    )
    out = example.main(
        num_train=192, num_eval=64, epochs=1, batch_size=64,
        data_dir=str(tmp_path),
    )
    assert set(out["models"]) == {"numpy", "tf.data", "tfds"}
    for way, model in out["models"].items():
        assert model.task_names == ("churn", "plan", "spend")
        # The learned graph: one row per task, one column per module.
        graph = model.causal_graph()
        assert graph.shape == (3, NUM_MODULES), way
        assert np.all((graph >= 0) & (graph <= 1)), way
        for split in ("test", "test_shifted"):
            scores = out["scores"][way, split]
            # Metrics by head kind, one set per task, and the selection
            # quantities.
            for key in TASK_METRICS:
                assert np.isfinite(scores[key]), (way, split, key)
    # Predictions: one array per task, shaped by the head's kind.
    predictions = out["predictions"]
    assert predictions["churn"].shape == (64, 1)
    assert predictions["plan"].shape == (64, 3)
    np.testing.assert_allclose(predictions["plan"].sum(-1), 1.0, atol=1e-5)
    assert predictions["spend"].shape == (64, 1)
    printed = capsys.readouterr().out
    assert "tfds test_shifted" in printed
    assert "spend_rmse" in printed


def test_tfds_builder_stores_the_same_arrays(tmp_path):
    example = _load_example()
    config = example.CustomersConfig(name="tiny", num_train=40, num_eval=20)
    builder = example.ConfoundedCustomers(config=config, data_dir=tmp_path)
    builder.download_and_prepare(
        download_config=example.offline_download_config()
    )
    splits = builder.info.splits
    assert splits["train"].num_examples == 40
    assert splits["test_shifted"].num_examples == 20
    arrays = example.make_splits(40, 20)
    for split in ("train", "test_shifted"):
        dataset = builder.as_dataset(split=split, shuffle_files=False)
        features, labels = next(
            iter(dataset.map(example.to_features_and_labels).batch(100))
        )
        want_features, want_labels = arrays[split]
        np.testing.assert_array_equal(features["x"], want_features["x"])
        np.testing.assert_array_equal(features["env"], want_features["env"])
        for task in ("churn", "plan", "spend"):
            np.testing.assert_array_equal(labels[task], want_labels[task])
    # The environment column: ids 0/1 in training, 2 in the shifted split.
    assert set(arrays["train"][0]["env"]) == {0, 1}
    assert set(arrays["test_shifted"][0]["env"]) == {2}
    # The shortcut: the plan follows churn in training (0.9 and 0.7 in the
    # two environments, plus chance), at chance (1/3) after the shift.
    big = example.make_splits(3000, 3000)
    follows = {
        split: np.mean(
            big[split][1]["plan"]
            == np.where(big[split][1]["churn"] == 1, 0, 2)
        )
        for split in ("train", "test_shifted")
    }
    assert 0.8 < follows["train"] < 0.9
    assert 0.28 < follows["test_shifted"] < 0.39
