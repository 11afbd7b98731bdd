import keras
import numpy as np
import pytest
import tensorflow as tf
from weighting_test_utils import fit
from weighting_test_utils import fit_graph_and_xla
from weighting_test_utils import make_data
from weighting_test_utils import make_model

from keras_mtcrl.testing import TestCase
from keras_mtcrl.weighting import GradNorm


def shared_gradient_norms(model, x, labels):
    """||d R_t / d shared||, the quantity GradNorm balances."""
    with tf.GradientTape(persistent=True) as tape:
        parts = model.objective_parts(x, labels, None, True)
    shared = model.encoder.trainable_variables
    norms = []
    for task in model.task_names:
        grads = tape.gradient(parts["task_shares"][task], shared)
        norms.append(np.sqrt(sum(float(tf.reduce_sum(g * g)) for g in grads)))
    return np.array(norms)


class GradNormTest(TestCase):
    def test_balances_weighted_gradient_norms(self):
        # Task b's labels are 10x larger: its gradient norm dominates.
        data = make_data(n=64, noise=(0.1, 0.1), scale=(1.0, 10.0))
        model = make_model(GradNorm(alpha=0.0))
        model.compile()
        before = shared_gradient_norms(model, *data)
        self.assertGreater(before[1] / before[0], 3.0)
        fit(
            model,
            epochs=30,
            data=data,
            batch_size=16,
            optimizer=keras.optimizers.Adam(0.01),
        )
        weights = model.loss_weighting.task_weights.numpy()
        self.assertAllClose(weights.sum(), 2.0, atol=1e-5)
        after = weights * shared_gradient_norms(model, *data)
        # The weighted norms moved at least halfway (in log) to equal.
        self.assertLess(
            abs(np.log(after[1] / after[0])),
            0.5 * abs(np.log(before[1] / before[0])),
        )
        self.assertLess(weights[1], weights[0])

    def test_restoring_force_follows_training_rates(self):
        weighting = GradNorm(alpha=1.0)
        weighting.build((2,))
        norms = np.array([1.0, 1.0], "float32")
        # The first call records the initial losses (ratios 1).
        weighting.auxiliary_gradients(np.array([2.0, 4.0], "float32"), norms)
        self.assertAllClose(weighting.initial_losses.numpy(), [2.0, 4.0])
        # Task a's loss fell to 25%, task b's to 75%: b trains slower, so
        # its target norm is larger and its weight is pushed up.
        ((grad, variable),) = weighting.auxiliary_gradients(
            np.array([0.5, 3.0], "float32"), norms
        )
        self.assertIs(variable, weighting.task_weights)
        self.assertAllClose(grad, [1.0, -1.0])
        self.assertAllClose(weighting.initial_losses.numpy(), [2.0, 4.0])

    def test_renormalises_to_t_and_saves(self):
        weighting = GradNorm()
        weighting.build((3,))
        weighting.task_weights.assign([3.0, 1.0, -1.0])
        weighting.after_step()
        weights = weighting.task_weights.numpy()
        self.assertAllClose(weights.sum(), 3.0, atol=1e-6)
        self.assertTrue((weights > 0).all())
        model = make_model("gradnorm")
        fit(model, epochs=2, data=make_data(scale=(1.0, 5.0)))
        x, _ = make_data()
        revived = self.run_model_saving_test(model, x)
        self.assertAllClose(
            revived.loss_weighting.task_weights.numpy(),
            model.loss_weighting.task_weights.numpy(),
        )
        self.assertEqual(float(revived.loss_weighting.has_initial_losses), 1.0)
        with pytest.raises(ValueError, match="alpha=-1"):
            GradNorm(alpha=-1)

    @pytest.mark.slow
    def test_xla_matches_graph_mode(self):
        logs, after, xla_logs, xla_after, initial = fit_graph_and_xla(
            lambda: GradNorm(), epochs=2
        )
        self.assertAllClose(xla_logs["loss"], logs["loss"], atol=1e-5)
        for a, b in zip(xla_after, after):
            self.assertAllClose(a, b, atol=1e-5)
