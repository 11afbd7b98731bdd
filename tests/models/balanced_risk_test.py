"""`CausalMTLModel(balanced_risk=...)`: the task risk over the observed and
the label-balanced environment."""

import keras
import numpy as np
import tensorflow as tf

from keras_mtcrl import CausalMTLModel
from keras_mtcrl import ExpertEncoder
from keras_mtcrl import InvariancePenalty
from keras_mtcrl import TaskHead
from keras_mtcrl.testing import TestCase

# (a, b) = (0, 0) x4, (1, 1) x4, (0, 1) x1, (1, 0) x1: P(a, b) = 0.4 on the
# diagonal, 0.1 off it; P(a) P(b) = 0.25 everywhere.
A = np.array([0, 0, 0, 0, 1, 1, 1, 1, 0, 1], "float32")
B = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 0], "float32")
X = np.random.default_rng(0).normal(size=(10, 3)).astype("float32")


def make_model(balanced_risk, invariance=None, graph_balanced_risk=None):
    model = CausalMTLModel(
        graph_balanced_risk=graph_balanced_risk,
        encoder=ExpertEncoder(num_modules=2, module_units=2),
        heads={"a": TaskHead("binary"), "b": TaskHead("binary")},
        input_shape=(None, 3),
        balanced_risk=balanced_risk,
        invariance=invariance,
        disentanglement=None,
        sparsity=None,
    )
    model.label_pairs.smoothing = 0.0
    model.compile(optimizer="sgd")
    return model


def counted(model):
    """Counts the 2 x 2 table once, so that the weights are known."""
    model.label_pairs.update({"a": A, "b": B})
    return model


class BalancedRiskTest(TestCase):
    def test_training_losses_carry_the_hand_computed_weights(self):
        for share in (0.0, 0.5, 1.0):
            model = counted(make_model(share))
            labels = {"a": A, "b": B}
            # forward() counts this batch again: the table only doubles.
            forward = model.forward(X, labels, None, training=True)
            balanced = np.where(A == B, 0.25 / 0.4, 0.25 / 0.1)
            expected = 1.0 - share + share * balanced
            for task in ("a", "b"):
                observed = forward.get(
                    "observed_per_sample", forward["per_sample"]
                )[task][0]
                weighted = forward["per_sample"][task][0]
                self.assertAllClose(weighted, observed * expected)

    def test_balanced_risk_equals_the_reweighted_mean(self):
        model = counted(make_model(1.0))
        labels = {"a": A, "b": B}
        loss, logged, forward = model.compute_objective(
            X, labels, None, training=True
        )
        observed = forward["observed_per_sample"]["a"][0].numpy()
        balanced = np.where(A == B, 0.25 / 0.4, 0.25 / 0.1)
        # Under these weights a and b are independent and the weights sum
        # to the sample count, so the risk is the weighted mean.
        self.assertAllClose(np.sum(balanced), 10.0)
        self.assertAllClose(
            logged["loss_a"], np.sum(observed * balanced) / 10.0
        )

    def test_evaluation_is_not_reweighted(self):
        model = counted(make_model(1.0))
        forward = model.forward(X, {"a": A, "b": B}, None, training=False)
        self.assertNotIn("observed_per_sample", forward)

    def test_missing_other_label_keeps_weight_one(self):
        model = counted(make_model(1.0))
        b = B.copy()
        b[8] = np.nan  # (0, ?) would weigh 2.5 with its label
        forward = model.forward(X, {"a": A, "b": b}, None, training=True)
        ratio = (
            forward["per_sample"]["a"][0]
            / forward["observed_per_sample"]["a"][0]
        )
        self.assertAllClose(ratio[8], 1.0)

    def test_invariance_reads_the_observed_losses(self):
        penalty = InvariancePenalty(
            "vrex", 1.0, environments="balanced", warmup_steps=0,
            ramp_steps=0, min_env_samples=1,
        )
        values = []
        for share in (0.0, 1.0):
            keras.utils.set_random_seed(1)  # the same weights and gates
            model = counted(make_model(share, invariance=penalty))
            _, logged, _ = model.compute_objective(
                X, {"a": A, "b": B}, None, training=True
            )
            values.append(float(logged["loss_inv"]))
        self.assertGreater(values[0], 0.0)
        self.assertAllClose(values[0], values[1])

    def test_fit_and_round_trip(self):
        model = make_model(0.5)
        model.fit(X, {"a": A, "b": B}, epochs=2, batch_size=5, verbose=0)
        revived = self.run_model_saving_test(model, X)
        self.assertEqual(revived.balanced_risk, 0.5)

    def test_out_of_range_share_is_refused(self):
        with self.assertRaisesRegex(ValueError, "balanced_risk"):
            make_model(1.5)


def step_gradients(model):
    """Gradients of one training objective: (graph logits, the rest)."""
    model.graph.noise_step.assign(0)  # the same gates for every model
    with tf.GradientTape() as tape:
        loss, _, _ = model.compute_objective(
            X, {"a": A, "b": B}, None, training=True
        )
    grads = tape.gradient(loss, model.trainable_variables)
    graph = [
        g for v, g in zip(model.trainable_variables, grads)
        if v is model.graph.logits
    ]
    rest = [
        g for v, g in zip(model.trainable_variables, grads)
        if v is not model.graph.logits
    ]
    return graph[0].numpy(), [g.numpy() for g in rest]


class GraphBalancedRiskTest(TestCase):
    def _same_weights(self, **kwargs):
        keras.utils.set_random_seed(3)
        return counted(make_model(**kwargs))

    def test_graph_takes_its_share_and_the_rest_the_model_s(self):
        split = self._same_weights(balanced_risk=0.0, graph_balanced_risk=1.0)
        observed = self._same_weights(balanced_risk=0.0)
        balanced = self._same_weights(balanced_risk=1.0)
        split_graph, split_rest = step_gradients(split)
        observed_graph, observed_rest = step_gradients(observed)
        balanced_graph, _ = step_gradients(balanced)
        # The graph's logits move as under the balanced risk, the encoder
        # and the heads as under the observed one.
        self.assertAllClose(split_graph, balanced_graph, rtol=1e-5)
        for mine, theirs in zip(split_rest, observed_rest):
            self.assertAllClose(mine, theirs, rtol=1e-5, atol=1e-7)
        self.assertGreater(
            float(np.abs(observed_graph - balanced_graph).max()), 1e-6
        )

    def test_same_share_as_the_model_changes_nothing(self):
        same = self._same_weights(balanced_risk=0.5, graph_balanced_risk=0.5)
        plain = self._same_weights(balanced_risk=0.5)
        same_graph, same_rest = step_gradients(same)
        plain_graph, plain_rest = step_gradients(plain)
        self.assertAllClose(same_graph, plain_graph)
        for mine, theirs in zip(same_rest, plain_rest):
            self.assertAllClose(mine, theirs)

    def test_fit_round_trip_and_range(self):
        model = make_model(0.25, graph_balanced_risk=1.0)
        model.fit(X, {"a": A, "b": B}, epochs=1, batch_size=5, verbose=0)
        revived = self.run_model_saving_test(model, X)
        self.assertEqual(revived.graph_balanced_risk, 1.0)
        with self.assertRaisesRegex(ValueError, "graph_balanced_risk=2"):
            make_model(0.0, graph_balanced_risk=2)
