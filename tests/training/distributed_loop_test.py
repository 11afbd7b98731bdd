"""DistributedLoop: the same training as `fit`, on 1 or 2 devices; resumes."""

import os
import tempfile

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_mtcrl import ExpertEncoder
from keras_mtcrl import MultiTaskModel
from keras_mtcrl import TaskHead
from keras_mtcrl.callbacks.run_fingerprint import RunMismatchError
from keras_mtcrl.testing import TestCase
from keras_mtcrl.testing.distribution import mirrored_strategy
from keras_mtcrl.training import DistributedLoop
from keras_mtcrl.training import get_recipe
from keras_mtcrl.training.epoch_shuffle import EpochShuffle
from keras_mtcrl.training.model_factory import build_model
from keras_mtcrl.training.model_factory import compile_options
from keras_mtcrl.training.trainer import training_datasets
from keras_mtcrl.training.trainer import training_examples

TERMS = ("loss", "loss_a", "loss_b", "loss_dis", "loss_sparse", "loss_inv")
# 200 samples: 3 batches of 64 and a last one of 8, split over replicas.
RECIPE = get_recipe("synthetic").with_config(
    data_args={"num_train": 200, "num_eval": 64},
    batch_size=64,
    num_modules=2,  # two column groups: quicker to trace
    # The recipe's penalty is off; on here, so that its cross-replica
    # statistics are part of what must agree.
    invariance_weight=1.0,
    learning_rate=0.01,
    architectures=("mtcrl",),
    warmup_steps=1,
    ramp_steps=1,
)


def _model(strategy, data):
    keras.utils.set_random_seed(RECIPE.config.seed)
    with strategy.scope():
        model = build_model(RECIPE, data, "mtcrl")
        model.compile(
            optimizer=keras.optimizers.Adam(RECIPE.config.learning_rate),
            **compile_options(RECIPE, data),
        )
    return model


def _loop_run(strategy, data, epochs=2, checkpoint_dir=None, **kwargs):
    model = _model(strategy, data)
    shuffle = EpochShuffle(RECIPE.config.seed)
    loop = DistributedLoop(
        model, strategy, checkpoint_dir=checkpoint_dir, verbose=0, **kwargs
    )
    history = loop.fit(
        training_examples(data, data.task_names, shuffle),
        RECIPE.config.batch_size,
        epochs,
        callbacks=[shuffle],
    )
    return model, history, loop


class DistributedLoopTest(TestCase):
    def test_two_devices_resumed_agree_with_fit_on_one(self):
        data = RECIPE.build_data(RECIPE.config)
        reference = _model(tf.distribute.OneDeviceStrategy("/cpu:0"), data)
        shuffle = EpochShuffle(RECIPE.config.seed)
        train, _ = training_datasets(data, RECIPE.config, data.task_names,
                                     shuffle)  # fmt: skip
        fitted = reference.fit(
            train, epochs=2, callbacks=[shuffle], verbose=0, shuffle=False
        ).history
        # MirroredStrategy over 2 logical CPUs: one epoch, then a fresh
        # model and loop resume from the checkpoint for the second.
        strategy = mirrored_strategy(2)
        folder = tempfile.mkdtemp()
        _, first, _ = _loop_run(strategy, data, 1, folder)
        self.assertTrue(os.path.exists(os.path.join(folder, "ckpt-1.index")))
        model, second, loop = _loop_run(strategy, data, 2, folder)
        self.assertEqual((first["epoch"], second["epoch"]), ([0], [1]))
        self.assertGreater(first["logs"]["loss_inv"][0], 0.0)
        for term in TERMS + ("a_accuracy", "worst_env_loss"):
            got = first["logs"][term] + second["logs"][term]
            self.assertAllClose(got, fitted[term], atol=1e-5, msg=term)
        # Every variable, label counts and gate-noise counter included.
        for got, want in zip(model.weights, reference.weights):
            self.assertAllClose(got, want, atol=1e-5, rtol=0, msg=got.path)
        self.assertEqual(int(model.optimizer.iterations.numpy()), 8)
        scores = loop.evaluate(data.split("test"), 64)
        expected = reference.evaluate(
            data.batched("test", 64), verbose=0, return_dict=True
        )
        for name in ("loss", "a_accuracy", "worst_env_loss"):
            self.assertAllClose(scores[name], expected[name], atol=1e-5)

    def test_checkpoint_of_another_config_is_refused(self):
        strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
        with strategy.scope():
            model = MultiTaskModel(
                ExpertEncoder(2, 2), {"a": TaskHead("binary")},
                input_shape=(None, 3),
            )  # fmt: skip
            model.compile(optimizer="sgd")
        x = np.zeros((4, 3), "float32")
        data = tf.data.Dataset.from_tensor_slices((x, {"a": np.ones(4)}))
        folder = tempfile.mkdtemp()
        loop = DistributedLoop(
            model, strategy, folder, verbose=0, fingerprint={"epochs": 1}
        )
        loop.fit(data, batch_size=2, epochs=1)
        loop.fingerprint = {"epochs": 2}
        with pytest.raises(RunMismatchError, match="epochs"):
            loop.fit(data, batch_size=2, epochs=2)
