import keras
import numpy as np
from gradient_test_utils import fit
from gradient_test_utils import make_model
from gradient_test_utils import max_change

from keras_mtcrl.gradients import IMTL
from keras_mtcrl.testing import TestCase


class IMTLTest(TestCase):
    def test_equal_projection_on_every_task(self):
        rng = np.random.default_rng(0)
        for num_tasks in (2, 3, 4):
            grads = rng.normal(size=(num_tasks, 6)) * rng.uniform(
                0.1, 10.0, size=(num_tasks, 1)
            )
            direction = IMTL()(grads.astype("float32")).numpy()
            units = grads / np.linalg.norm(grads, axis=1, keepdims=True)
            projections = units @ direction
            self.assertAllClose(
                projections, np.full(num_tasks, projections[0]), atol=1e-4
            )
            alpha = IMTL().task_weights(grads).numpy()
            self.assertAllClose(alpha.sum(), 1.0, atol=1e-9)
            self.assertAllClose(alpha @ grads, direction, atol=1e-4)

    def test_by_hand_and_single_task(self):
        grads = np.array([[2.0, 0.0], [0.0, 1.0]], "float32")
        # d = (2 a, 1 - a) with 2 a = 1 - a: a = 1/3.
        self.assertAllClose(IMTL()(grads), [2 / 3, 2 / 3], atol=1e-6)
        self.assertAllClose(IMTL()(grads[:1]), grads[0])
        revived = keras.saving.deserialize_keras_object(
            keras.saving.serialize_keras_object(IMTL())
        )
        self.assertIsInstance(revived, IMTL)


class IMTLTrainingTest(TestCase):
    def test_fit_under_xla_matches_graph_mode(self):
        model = make_model(3, gradient_method="imtl")
        initial = model.get_weights()
        logs, after = fit(model, initial, epochs=2)
        self.assertTrue(np.isfinite(logs["loss"]).all())
        self.assertGreater(max_change(after, initial), 1e-4)
        xla_logs, xla_after = fit(
            make_model(3, gradient_method="imtl"), initial, True, epochs=2
        )
        self.assertAllClose(xla_logs["loss"], logs["loss"], atol=1e-5)
        for a, b in zip(xla_after, after):
            self.assertAllClose(a, b, atol=1e-5)
