"""DistributedLoop: the same training as `fit`, on 1 or 2 devices; resumes."""

import os
import tempfile

import keras
import pytest
import tensorflow as tf

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
    @classmethod
    def setUpClass(cls):
        cls.data = RECIPE.build_data(RECIPE.config)

    def test_one_device_two_devices_and_fit_agree(self):
        data = self.data
        one = tf.distribute.OneDeviceStrategy("/cpu:0")
        reference = _model(one, data)
        shuffle = EpochShuffle(RECIPE.config.seed)
        train, _ = training_datasets(data, RECIPE.config, data.task_names,
                                     shuffle)  # fmt: skip
        fitted = reference.fit(
            train, epochs=2, callbacks=[shuffle], verbose=0, shuffle=False
        ).history
        for strategy in (one, mirrored_strategy(2)):
            model, history, loop = _loop_run(strategy, data)
            self.assertEqual(history["epoch"], [0, 1])
            self.assertGreater(history["logs"]["loss_inv"][0], 0.0)
            for term in TERMS + ("a_accuracy",):
                self.assertAllClose(
                    history["logs"][term], fitted[term], atol=1e-5,
                    msg=f"{strategy.num_replicas_in_sync} replicas {term}",
                )  # fmt: skip
            for got, want in zip(model.get_weights(), reference.get_weights()):
                self.assertAllClose(got, want, atol=1e-5, rtol=0)
            scores = loop.evaluate(data.split("test"), 64)
            expected = reference.evaluate(
                data.batched("test", 64), verbose=0, return_dict=True
            )
            for name in ("loss", "a_accuracy", "worst_env_loss"):
                self.assertAllClose(scores[name], expected[name], atol=1e-5)

    def test_resumes_from_the_last_checkpoint_exactly(self):
        one = tf.distribute.OneDeviceStrategy("/cpu:0")
        whole, _, _ = _loop_run(one, self.data)
        folder = tempfile.mkdtemp()
        _loop_run(one, self.data, epochs=1, checkpoint_dir=folder)
        self.assertTrue(os.path.exists(os.path.join(folder, "ckpt-1.index")))
        resumed, history, _ = _loop_run(
            one, self.data, checkpoint_dir=folder
        )
        self.assertEqual(history["epoch"], [1])  # epoch 0 was restored
        # Non-trainable state (label counts) and the optimizer included.
        for got, want in zip(resumed.weights, whole.weights):
            self.assertAllClose(got, want, atol=0, rtol=0, msg=got.path)
        self.assertEqual(int(resumed.optimizer.iterations), 8)

    def test_checkpoint_of_another_config_is_refused(self):
        one = tf.distribute.OneDeviceStrategy("/cpu:0")
        folder = tempfile.mkdtemp()
        _loop_run(one, self.data, 1, folder, fingerprint={"epochs": 1})
        with pytest.raises(RunMismatchError, match="epochs"):
            _loop_run(one, self.data, 2, folder, fingerprint={"epochs": 2})
