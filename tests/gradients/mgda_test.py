import keras
import numpy as np
import pytest
import tensorflow as tf
from gradient_test_utils import fit
from gradient_test_utils import make_data
from gradient_test_utils import make_model
from gradient_test_utils import max_change

from keras_mtcrl.gradients import MGDA
from keras_mtcrl.gradients import min_norm_weights
from keras_mtcrl.testing import TestCase


class MGDATest(TestCase):
    def test_two_tasks_match_brute_force_grid(self):
        rng = np.random.default_rng(0)
        for _ in range(5):
            grads = rng.normal(size=(2, 6)).astype("float32")
            direction = MGDA()(grads).numpy()
            alphas = np.linspace(0.0, 1.0, 100001)
            hull = alphas[:, None] * grads[0] + (1 - alphas[:, None]) * grads[1]
            best = np.linalg.norm(hull, axis=1).min()
            self.assertAllClose(np.linalg.norm(direction), best, atol=1e-5)

    def test_three_tasks_min_norm_and_optimality(self):
        rng = np.random.default_rng(2)
        grads = rng.normal(size=(3, 4))
        alpha, ok = min_norm_weights(grads @ grads.T, tolerance=1e-12)
        self.assertTrue(bool(ok))
        alpha = alpha.numpy()
        self.assertAllClose(alpha.sum(), 1.0, atol=1e-12)
        self.assertTrue((alpha >= 0).all())
        point = alpha @ grads
        grid = np.array(
            [
                [i, j, 300 - i - j]
                for i in range(301)
                for j in range(301 - i)
            ]
        ) / 300.0
        best = np.linalg.norm(grid @ grads, axis=1).min()
        self.assertLessEqual(np.linalg.norm(point), best + 1e-9)
        # Min-norm point of the hull: g_t . d >= ||d||^2 for every task.
        self.assertTrue(
            ((grads @ point) >= point @ point - 1e-9).all(), grads @ point
        )

    def test_descent_direction_for_every_task(self):
        grads = np.array([[1.0, 0.2], [0.3, 1.0], [0.8, 0.8]], "float32")
        direction = MGDA()(grads).numpy()
        self.assertTrue((grads @ direction > 0).all())

    def test_zero_gradients_are_not_a_failure(self):
        self.assertAllClose(MGDA()(np.zeros((3, 4))), np.zeros(4))

    def test_non_finite_gradients_raise(self):
        grads = np.array([[1.0, np.nan], [0.0, 1.0]], "float32")
        with pytest.raises(tf.errors.InvalidArgumentError, match="MGDA"):
            MGDA()(grads)
        with pytest.raises(tf.errors.InvalidArgumentError, match="MGDA"):
            tf.function(MGDA().__call__)(grads)

    def test_no_convergence_raises(self):
        rng = np.random.default_rng(2)
        grads = rng.normal(size=(3, 4)).astype("float32")
        with pytest.raises(
            tf.errors.InvalidArgumentError, match="max_iterations=1"
        ):
            MGDA(max_iterations=1)(grads)

    def test_failure_under_xla_is_nan_not_a_fallback(self):
        rng = np.random.default_rng(2)
        grads = rng.normal(size=(3, 4)).astype("float32")
        solve = tf.function(MGDA(max_iterations=1).__call__, jit_compile=True)
        self.assertTrue(np.isnan(solve(grads).numpy()).all())

    def test_config_and_errors(self):
        revived = keras.saving.deserialize_keras_object(
            keras.saving.serialize_keras_object(MGDA(7, 1e-4))
        )
        self.assertEqual((revived.max_iterations, revived.tolerance), (7, 1e-4))
        with pytest.raises(ValueError, match="max_iterations=0"):
            MGDA(max_iterations=0)
        with pytest.raises(ValueError, match="tolerance=0"):
            MGDA(tolerance=0)


class MGDATrainingTest(TestCase):
    def test_fit_under_xla_matches_graph_mode(self):
        # A tight tolerance: the weights alpha of an ill-conditioned Gram
        # matrix are only known to ~sqrt(tolerance).
        model = make_model(3, gradient_method=MGDA(tolerance=1e-12))
        initial = model.get_weights()
        logs, after = fit(model, initial, epochs=2)
        self.assertGreater(max_change(after, initial), 1e-4)
        xla_logs, xla_after = fit(
            make_model(3, gradient_method=MGDA(tolerance=1e-12)),
            initial,
            True,
            epochs=2,
        )
        self.assertAllClose(xla_logs["loss"], logs["loss"], atol=1e-5)
        for a, b in zip(xla_after, after):
            self.assertAllClose(a, b, atol=1e-5)

    def test_solver_failure_stops_fit_loudly(self):
        model = make_model(3, gradient_method=MGDA(max_iterations=1))
        inputs, labels = make_data(3)
        model.compile(optimizer="sgd")
        with pytest.raises(tf.errors.InvalidArgumentError, match="MGDA"):
            model.fit(inputs, labels, epochs=1, verbose=0)
        # XLA cannot raise: the step's loss is NaN instead.
        model.compile(optimizer="sgd", jit_compile=True)
        history = model.fit(inputs, labels, epochs=1, verbose=0)
        self.assertTrue(np.isnan(history.history["loss"][0]))
