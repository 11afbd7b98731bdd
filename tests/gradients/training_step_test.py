"""The per-task-gradient training step of MultiTaskModel."""

import pytest
import tensorflow as tf
from gradient_test_utils import fit
from gradient_test_utils import make_data
from gradient_test_utils import make_model
from gradient_test_utils import max_change

from keras_mtcrl.gradients import MGDA
from keras_mtcrl.gradients import GradientMethod
from keras_mtcrl.gradients.task_gradients import shared_mask
from keras_mtcrl.testing import TestCase


class PlainSum(GradientMethod):
    """Combines by summing: must reproduce the ordinary training step."""

    def combine(self, grads, step):
        return tf.reduce_sum(grads, axis=0)


class TrainingStepTest(TestCase):
    def test_summing_method_reproduces_the_ordinary_step(self):
        # MT-CRL with every penalty (and, second, uncertainty weighting):
        # the per-task step with a plain sum must give the single-tape
        # step's update (penalty gradients added, heads, graph and the
        # weighting's own variables updated as usual).
        for weighting in (None, "uncertainty"):
            plain = make_model(causal=True, loss_weighting=weighting)
            initial = plain.get_weights()
            logs1, after1 = fit(plain, initial)
            summed = make_model(
                causal=True,
                loss_weighting=weighting,
                gradient_method=PlainSum(),
            )
            logs2, after2 = fit(summed, initial)
            self.assertGreater(logs1["loss_inv"][0], 0.0)
            self.assertAllClose(logs2["loss"], logs1["loss"], atol=1e-6)
            for w2, w1 in zip(after2, after1):
                self.assertAllClose(w2, w1, atol=1e-6)
            self.assertGreater(max_change(after1, initial), 1e-3)

    def test_shared_variables_are_those_two_tasks_reach(self):
        model = make_model()
        model.compile()
        inputs, labels = make_data()
        with tf.GradientTape(persistent=True) as tape:
            parts = model.objective_parts(inputs, labels, None, True)
        variables = model.trainable_variables
        grads = [
            tape.gradient(parts["task_shares"][t], variables)
            for t in model.task_names
        ]
        mask = shared_mask(grads, variables, model.task_specific_variables())
        # The experts are shared; MMoE gates and heads are per task.
        self.assertEqual(
            {id(v) for v, m in zip(variables, mask) if m},
            {id(v) for v in model.encoder.trainable_variables},
        )

    def test_graph_logits_are_task_specific_in_mtcrl(self):
        model = make_model(causal=True)
        self.assertEqual(
            [id(v) for v in model.task_specific_variables()],
            [id(model.graph.logits)],
        )

    def test_mtcrl_with_mgda_under_xla_matches_graph_mode(self):
        # Sigmoid gates: XLA's stateless random numbers need not equal the
        # graph kernel's, so the hard-concrete draw is not compared here.
        model = make_model(
            2, causal=True, gradient_method=MGDA(tolerance=1e-12),
            gate="sigmoid",
        )
        initial = model.get_weights()
        logs, after = fit(model, initial)
        self.assertGreater(max_change(after, initial), 1e-4)
        xla_logs, xla_after = fit(
            make_model(
                2, causal=True, gradient_method=MGDA(tolerance=1e-12),
                gate="sigmoid",
            ),
            initial,
            jit_compile=True,
        )
        self.assertAllClose(xla_logs["loss"], logs["loss"], atol=1e-5)
        for a, b in zip(xla_after, after):
            self.assertAllClose(a, b, atol=1e-5)

    def test_saved_model_keeps_its_method(self):
        model = make_model(3, gradient_method=MGDA(max_iterations=40))
        fit(model, model.get_weights())
        inputs, _ = make_data(3)
        revived = self.run_model_saving_test(model, inputs)
        self.assertIsInstance(revived.gradient_method, MGDA)
        self.assertEqual(revived.gradient_method.max_iterations, 40)
        with pytest.raises(ValueError, match="gradient_method='sgd'"):
            make_model(gradient_method="sgd")
