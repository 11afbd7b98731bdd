"""The trainer's best-epoch callbacks follow the selection rule."""

import tempfile

import keras

from keras_mtcrl.testing import TestCase
from keras_mtcrl.training import RecipeConfig
from keras_mtcrl.training.callbacks_factory import run_callbacks
from keras_mtcrl.training.epoch_shuffle import EpochShuffle


def monitors(has_graph):
    config = RecipeConfig(name="x", early_stopping_patience=2)
    callbacks = run_callbacks(
        tempfile.mkdtemp(), config, has_graph, EpochShuffle(seed=0)
    )
    return {
        type(c).__name__: (c.monitor, c.mode)
        for c in callbacks
        if isinstance(
            c, (keras.callbacks.ModelCheckpoint, keras.callbacks.EarlyStopping)
        )
    }


class RunCallbacksTest(TestCase):
    def test_mtcrl_selects_epochs_by_worst_environment_loss(self):
        self.assertEqual(
            monitors(True),
            {
                # Keras cannot tell the direction of a custom metric.
                "ModelCheckpoint": ("val_worst_env_loss", "min"),
                "EarlyStopping": ("val_worst_env_loss", "min"),
            },
        )

    def test_other_architectures_select_by_validation_loss(self):
        self.assertEqual(
            monitors(False),
            {
                "ModelCheckpoint": ("val_loss", "min"),
                "EarlyStopping": ("val_loss", "min"),
            },
        )
