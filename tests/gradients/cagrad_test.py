import keras
import numpy as np
import pytest
from gradient_test_utils import fit
from gradient_test_utils import make_model
from gradient_test_utils import max_change

from keras_mtcrl.gradients import CAGrad
from keras_mtcrl.testing import TestCase


def best_in_ball(grads, c, num_angles=20000):
    """Brute force: max over the ball around g0 of min_t g_t . d (2-D)."""
    g0 = grads.mean(axis=0)
    radius = c * np.linalg.norm(g0)
    best = -np.inf
    for scale in np.linspace(0.0, 1.0, 41):
        angles = np.linspace(0.0, 2 * np.pi, num_angles, endpoint=False)
        ring = g0 + scale * radius * np.stack(
            [np.cos(angles), np.sin(angles)], axis=1
        )
        best = max(best, (ring @ grads.T).min(axis=1).max())
    return best


class CAGradTest(TestCase):
    def test_c_zero_is_the_mean_gradient(self):
        rng = np.random.default_rng(0)
        grads = rng.normal(size=(3, 7)).astype("float32")
        self.assertAllClose(CAGrad(c=0.0)(grads), grads.mean(axis=0))

    def test_maximises_worst_task_improvement_in_the_ball(self):
        for grads in (
            np.array([[1.0, 1.0], [-1.0, 0.2]], "float32"),
            np.array([[2.0, 0.1], [-0.5, 1.0]], "float32"),
            np.array([[1.0, 0.0], [0.9, 0.3]], "float32"),
        ):
            c = 0.5
            direction = CAGrad(c=c)(grads).numpy()
            g0 = grads.mean(axis=0)
            self.assertLessEqual(
                np.linalg.norm(direction - g0),
                c * np.linalg.norm(g0) * (1 + 1e-5),
            )
            worst = (grads @ direction).min()
            self.assertGreaterEqual(worst, (grads @ g0).min() - 1e-6)
            self.assertAllClose(worst, best_in_ball(grads, c), atol=2e-4)

    def test_three_tasks_match_dual_brute_force(self):
        rng = np.random.default_rng(1)
        grads = rng.normal(size=(3, 4))
        method = CAGrad(c=0.4, num_steps=200)
        gram = grads @ grads.T
        w = method.task_weights(gram).numpy()
        b = np.full(3, 1 / 3)
        radius = 0.4 * np.sqrt(b @ gram @ b)

        def objective(w):
            return w @ gram @ b + radius * np.sqrt(max(w @ gram @ w, 0.0))

        grid = [
            np.array([i, j, 200 - i - j]) / 200
            for i in range(201)
            for j in range(201 - i)
        ]
        best = min(objective(v) for v in grid)
        self.assertAllClose(w.sum(), 1.0, atol=1e-9)
        self.assertLessEqual(objective(w), best + 1e-4)

    def test_rescale_and_config(self):
        grads = np.array([[1.0, 1.0], [-1.0, 0.2]], "float32")
        plain = CAGrad(c=0.5)(grads)
        scaled = CAGrad(c=0.5, rescale=True)(grads)
        self.assertAllClose(scaled, plain / 1.25, atol=1e-6)
        revived = keras.saving.deserialize_keras_object(
            keras.saving.serialize_keras_object(CAGrad(c=0.2, num_steps=9))
        )
        self.assertEqual((revived.c, revived.num_steps), (0.2, 9))
        with pytest.raises(ValueError, match="c=-1"):
            CAGrad(c=-1)
        with pytest.raises(ValueError, match="num_steps=0"):
            CAGrad(num_steps=0)


class CAGradTrainingTest(TestCase):
    def test_fit_under_xla_matches_graph_mode(self):
        model = make_model(3, gradient_method=CAGrad(c=0.5))
        initial = model.get_weights()
        logs, after = fit(model, initial, epochs=2)
        self.assertTrue(np.isfinite(logs["loss"]).all())
        self.assertGreater(max_change(after, initial), 1e-4)
        xla_logs, xla_after = fit(
            make_model(3, gradient_method=CAGrad(c=0.5)),
            initial,
            True,
            epochs=2,
        )
        self.assertAllClose(xla_logs["loss"], logs["loss"], atol=1e-5)
        for a, b in zip(xla_after, after):
            self.assertAllClose(a, b, atol=1e-5)
