import json

import keras
import numpy as np
import pytest
from gradient_test_utils import fit
from gradient_test_utils import make_model
from gradient_test_utils import max_change

from keras_mtcrl.gradients import PCGrad
from keras_mtcrl.testing import TestCase


class PCGradTest(TestCase):
    def test_conflicting_component_is_removed(self):
        grads = np.array([[1.0, 1.0, 0.0], [-2.0, 0.5, 1.0]], "float32")
        self.assertLess(grads[0] @ grads[1], 0.0)
        projected = PCGrad().project(grads, np.int64(0)).numpy()
        # Each projected gradient no longer conflicts with the other task.
        self.assertGreaterEqual(projected[0] @ grads[1], -1e-6)
        self.assertGreaterEqual(projected[1] @ grads[0], -1e-6)
        self.assertAllClose(projected[0] @ grads[1], 0.0, atol=1e-6)
        # By hand: g1 - (g1.g2 / |g2|^2) g2 with g1.g2 = -1.5, |g2|^2 = 5.25.
        self.assertAllClose(
            projected[0], grads[0] + (1.5 / 5.25) * grads[1], atol=1e-6
        )
        self.assertAllClose(
            PCGrad()(grads), projected.sum(axis=0), atol=1e-6
        )

    def test_agreeing_gradients_are_summed_unchanged(self):
        grads = np.array(
            [[1.0, 0.5, 0.0], [0.5, 1.0, 0.2], [0.3, 0.1, 1.0]], "float32"
        )
        self.assertTrue((grads @ grads.T >= 0).all())
        self.assertAllClose(PCGrad()(grads, 5), grads.sum(axis=0), atol=1e-6)

    def test_order_is_random_per_step_and_reproducible(self):
        rng = np.random.default_rng(0)
        grads = rng.normal(size=(4, 6)).astype("float32")
        method = PCGrad(seed=3)
        results = [method(grads, step).numpy() for step in range(6)]
        self.assertAllClose(method(grads, 2), results[2])
        distinct = {tuple(np.round(r, 4)) for r in results}
        self.assertGreater(len(distinct), 1)

    def test_serialization_and_errors(self):
        method = PCGrad(seed=7)
        config = keras.saving.serialize_keras_object(method)
        json.dumps(config)
        revived = keras.saving.deserialize_keras_object(config)
        self.assertIsInstance(revived, PCGrad)
        self.assertEqual(revived.seed, 7)
        with pytest.raises(ValueError, match="seed=1.5"):
            PCGrad(seed=1.5)
        with pytest.raises(ValueError, match="num_tasks, num_parameters"):
            PCGrad()(np.ones(3))


class PCGradTrainingTest(TestCase):
    def test_fit_under_xla_matches_graph_mode(self):
        # Two tasks: XLA draws other random task orders, which do not
        # matter with two tasks.
        model = make_model(2, gradient_method="pcgrad")
        initial = model.get_weights()
        logs, after = fit(model, initial, epochs=2)
        self.assertTrue(np.isfinite(logs["loss"]).all())
        self.assertGreater(max_change(after, initial), 1e-4)
        xla_logs, xla_after = fit(
            make_model(2, gradient_method="pcgrad"), initial, True, epochs=2
        )
        self.assertAllClose(xla_logs["loss"], logs["loss"], atol=1e-5)
        for a, b in zip(xla_after, after):
            self.assertAllClose(a, b, atol=1e-5)
