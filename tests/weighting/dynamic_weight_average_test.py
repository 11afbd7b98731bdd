import os
import tempfile

import keras
import numpy as np
import pytest
from weighting_test_utils import fit
from weighting_test_utils import fit_graph_and_xla
from weighting_test_utils import make_data
from weighting_test_utils import make_model

from keras_mtcrl.testing import TestCase
from keras_mtcrl.weighting import DynamicWeightAverage


def dwa_weights(older, newer, temperature=2.0):
    ratios = np.asarray(newer) / np.asarray(older)
    e = np.exp(ratios / temperature)
    return len(ratios) * e / e.sum()


class StopAfter(keras.callbacks.Callback):
    """Interrupts training at the end of epoch `epoch`."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise RuntimeError("interrupted")


class DynamicWeightAverageTest(TestCase):
    def test_weights_sum_to_t_and_favour_the_slowest_task(self):
        dwa = DynamicWeightAverage(temperature=2.0)
        dwa.build((3,))
        losses = np.zeros(3, "float32")
        self.assertAllClose(dwa(losses), np.ones(3))
        dwa.record_epoch([2.0, 2.0, 2.0])
        self.assertAllClose(dwa(losses), np.ones(3))  # needs two epochs
        dwa.record_epoch([1.0, 1.8, 1.5])
        weights = dwa(losses).numpy()
        self.assertAllClose(weights.sum(), 3.0, atol=1e-6)
        self.assertEqual(int(np.argmax(weights)), 1)  # fell least
        self.assertEqual(int(np.argmin(weights)), 0)  # fell most
        self.assertAllClose(
            weights, dwa_weights([2.0] * 3, [1.0, 1.8, 1.5]), atol=1e-6
        )

    def test_fit_feeds_epoch_losses(self):
        model = make_model(DynamicWeightAverage(temperature=1.0))
        logs, _ = fit(model, epochs=4, batch_size=8)
        dwa = model.loss_weighting
        self.assertEqual(float(dwa.num_epochs.numpy()), 4.0)
        self.assertAllClose(
            dwa.previous_losses.numpy(),
            [
                [logs["loss_a"][2], logs["loss_b"][2]],
                [logs["loss_a"][3], logs["loss_b"][3]],
            ],
            atol=1e-6,
        )
        for epoch in (0, 1):
            self.assertEqual(logs["weight_a"][epoch], 1.0)
        # Epoch 3 (index 2) uses the losses of epochs 1 and 2.
        expected = dwa_weights(
            [logs["loss_a"][0], logs["loss_b"][0]],
            [logs["loss_a"][1], logs["loss_b"][1]],
            temperature=1.0,
        )
        self.assertAllClose(
            [logs["weight_a"][2], logs["weight_b"][2]], expected, atol=1e-5
        )

    def test_state_survives_backup_and_restore(self):
        x, labels = make_data()
        with tempfile.TemporaryDirectory() as folder:
            backup = keras.callbacks.BackupAndRestore(
                os.path.join(folder, "backup")
            )
            model = make_model("dwa")
            initial = model.get_weights()
            model.compile(optimizer="sgd")
            with pytest.raises(RuntimeError, match="interrupted"):
                model.fit(
                    x,
                    labels,
                    epochs=5,
                    verbose=0,
                    callbacks=[backup, StopAfter(2)],
                )
            saved = model.loss_weighting.previous_losses.numpy()
            self.assertEqual(float(model.loss_weighting.num_epochs), 3.0)
            resumed = make_model("dwa")
            resumed.set_weights(initial)
            resumed.compile(optimizer="sgd")
            # Restored after epoch 3, asked for 4: runs one epoch. The
            # callbacks are passed positionally (6th argument of fit).
            history = resumed.fit(x, labels, 32, 4, 0, [backup])
        self.assertEqual(len(history.history["loss"]), 1)
        state = resumed.loss_weighting
        self.assertEqual(float(state.num_epochs), 4.0)
        self.assertAllClose(state.previous_losses.numpy()[0], saved[1])
        self.assertAllClose(
            state.previous_losses.numpy()[1],
            [history.history["loss_a"][0], history.history["loss_b"][0]],
            atol=1e-6,
        )

    def test_xla_matches_graph_mode(self):
        logs, after, xla_logs, xla_after, initial = fit_graph_and_xla(
            lambda: DynamicWeightAverage(), epochs=3
        )
        self.assertAllClose(xla_logs["loss"], logs["loss"], atol=1e-5)
        for a, b in zip(xla_after, after):
            self.assertAllClose(a, b, atol=1e-5)
