"""The test-split scores reach TensorBoard, next to the epoch curves."""

import json
import os
import tempfile

import tensorflow as tf

from keras_mtcrl.training import Trainer
from keras_mtcrl.training import get_recipe


def _scalars(folder):
    values = {}
    for name in os.listdir(folder):
        path = os.path.join(folder, name)
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                tensor = tf.make_ndarray(value.tensor)
                values[value.tag] = (event.step, float(tensor))
    return values


def test_shifted_and_id_test_scores_are_logged():
    recipe = get_recipe("synthetic").with_config(
        data_args={"num_train": 128, "num_eval": 64},
        batch_size=64,
        epochs=1,
        num_modules=2,  # two column groups: quicker to trace
        architectures=("mtcrl",),
    )
    logdir = tempfile.mkdtemp()
    Trainer(recipe, logdir, "one", verbose=0).run()
    run_dir = os.path.join(logdir, "seed_0", "mtcrl")
    with open(os.path.join(run_dir, "result.json")) as handle:
        scores = json.load(handle)["scores"]
    for split in ("test", "test_shifted"):
        logged = _scalars(os.path.join(run_dir, "tensorboard", split))
        step, value = logged["epoch_a_accuracy"]
        assert step == 0  # The last (only) epoch, as Keras numbers them.
        assert abs(value - scores[split]["a_accuracy"]) < 1e-6
        assert set(logged) == {f"epoch_{name}" for name in scores[split]}
