"""Fishr (`InvariantRiskModel(method="fishr")`): gradients and penalty."""

import tempfile

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_mtcrl import InvariantRiskModel
from keras_mtcrl import TaskHead
from keras_mtcrl.models.invariant_risk_model import fishr_penalty
from keras_mtcrl.models.invariant_risk_model import last_layer_sample_gradients
from keras_mtcrl.testing import TestCase
from keras_mtcrl.training import Trainer
from keras_mtcrl.training import get_recipe
from keras_mtcrl.training.model_factory import build_model

SHAPE = {"x": (None, 3), "env": (None,)}


def make_model(**kwargs):
    heads = {
        "a": TaskHead("binary", hidden_units=(5,)),
        "b": TaskHead("multiclass", units=3),
    }
    return InvariantRiskModel(
        keras.layers.Dense(4, activation="tanh"),
        heads,
        method="fishr",
        environments=2,
        input_shape=SHAPE,
        **kwargs,
    )


def data(n=8, seed=0):
    rng = np.random.default_rng(seed)
    x = {
        "x": rng.normal(size=(n, 3)).astype("float32"),
        "env": np.array([0, 1] * (n // 2), "int32"),
    }
    y = {
        "a": rng.integers(0, 2, n).astype("float32"),
        "b": rng.integers(0, 3, n).astype("int32"),
    }
    return x, y


def penalty_of(model, x, y):
    forward = model.forward(x, y, None, training=False)
    terms = model.objective_terms(
        forward, y, forward["environment"], training=False
    )
    return float(terms["loss_penalty"][1])


class FishrGradientTest(TestCase):
    def test_closed_form_matches_autodiff_per_sample(self):
        model = make_model()
        model.compile()
        x, y = data()
        y["a"][2] = np.nan  # A missing label: no gradient at all.
        forward = model.forward(x, y, None, training=False)
        losses = {
            "a": keras.losses.BinaryCrossentropy(),
            "b": keras.losses.SparseCategoricalCrossentropy(),
        }
        for task in ("a", "b"):
            closed = last_layer_sample_gradients(*forward["last_layer"][task])
            layer = model.heads[task].output_layer
            size = int(np.prod(layer.kernel.shape) + layer.bias.shape[0])
            self.assertEqual(tuple(closed.shape), (8, size))
            for i in range(8):
                label = y[task][i:i + 1]
                if np.isnan(label).any():
                    self.assertAllClose(closed[i], np.zeros(size))
                    continue
                sample = {k: v[i:i + 1] for k, v in x.items()}
                with tf.GradientTape() as tape:
                    loss = losses[task](label, model(sample)[task])
                kernel, bias = tape.gradient(loss, [layer.kernel, layer.bias])
                expected = np.concatenate([np.ravel(kernel), np.ravel(bias)])
                self.assertAllClose(closed[i], expected, atol=1e-6)

    def test_closed_form_sums_the_positions_of_a_dense_output(self):
        rng = np.random.default_rng(1)
        layer = keras.layers.Dense(2)
        features = tf.constant(rng.normal(size=(3, 4, 5, 6)), "float32")
        target = tf.constant(rng.normal(size=(3, 4, 5, 2)), "float32")
        with tf.GradientTape() as tape:
            logits = layer(features)
            tape.watch(logits)
            total = tf.reduce_sum(tf.square(logits - target))
        closed = last_layer_sample_gradients(
            features, tape.gradient(total, logits)
        )
        for i in range(3):
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(
                    tf.square(layer(features[i:i + 1]) - target[i:i + 1])
                )
            kernel, bias = tape.gradient(loss, [layer.kernel, layer.bias])
            self.assertAllClose(
                closed[i],
                np.concatenate([np.ravel(kernel), np.ravel(bias)]),
                atol=1e-4,
            )


class FishrPenaltyTest(TestCase):
    def test_penalty_by_hand(self):
        # Env 0: gradients (1, 0) and (3, 0): variance (1, 0).
        # Env 1: gradients (0, 2) and (0, -2): variance (0, 4).
        # Mean variance (0.5, 2); squared deviations (0.25, 4) in both
        # environments, so the penalty is 0.25 + 4.
        # Env 2 has one sample: left out.
        ids = tf.constant([0, 0, 1, 1, 2])
        grads = tf.constant(
            [[1.0, 0.0], [3.0, 0.0], [0.0, 2.0], [0.0, -2.0], [9.0, 9.0]]
        )
        self.assertAllClose(fishr_penalty(ids, tf.ones(5), grads, 3), 4.25)
        # Invalid samples count for nothing: one environment is left.
        self.assertAllClose(
            fishr_penalty(ids, tf.constant([1.0, 1, 0, 1, 1]), grads, 3), 0.0
        )
        # Three environments: variances (1, 0), (0, 4), (0, 0); mean
        # (1/3, 4/3). First element: (4 + 1 + 1) / 9 / 3 = 2/9; second:
        # (16 + 64 + 16) / 9 / 3 = 32/9.
        ids = tf.constant([0, 0, 1, 1, 2, 2])
        grads = tf.concat([grads[:4], [[5.0, 5.0], [5.0, 5.0]]], 0)
        self.assertAllClose(
            fishr_penalty(ids, tf.ones(6), grads, 3), 34.0 / 9.0, atol=1e-5
        )

    def test_zero_for_copied_environments_positive_otherwise(self):
        model = make_model()
        model.compile()
        x, y = data(6)
        copied = {
            "x": np.concatenate([x["x"], x["x"]]),
            "env": np.array([0] * 6 + [1] * 6, "int32"),
        }
        copied_y = {t: np.concatenate([v, v]) for t, v in y.items()}
        self.assertAllClose(penalty_of(model, copied, copied_y), 0.0)
        other, other_y = data(6, seed=5)
        mixed = {
            "x": np.concatenate([x["x"], other["x"]]),
            "env": copied["env"],
        }
        mixed_y = {t: np.concatenate([y[t], other_y[t]]) for t in y}
        self.assertGreater(penalty_of(model, mixed, mixed_y), 1e-6)

    def test_penalty_matches_a_numpy_reference(self):
        model = make_model()
        model.compile()
        x, y = data(12, seed=3)
        forward = model.forward(x, y, None, training=False)
        expected = 0.0
        for task in ("a", "b"):
            features = forward["last_layer"][task][0].numpy()
            probs = forward["predictions"][task].numpy()
            if task == "a":
                delta = probs - y["a"][:, None]  # sigmoid + cross-entropy
            else:
                delta = probs - np.eye(3)[y["b"]]  # softmax + cross-entropy
            grads = np.concatenate(
                [np.einsum("bc,bu->bcu", features, delta).reshape(12, -1),
                 delta], axis=1,
            )
            variances = np.stack(
                [grads[x["env"] == e].var(axis=0) for e in (0, 1)]
            )
            expected += np.sum(
                np.mean(np.square(variances - variances.mean(0)), axis=0)
            )
        self.assertAllClose(penalty_of(model, x, y), expected, rtol=1e-4)


class FishrModelTest(TestCase):
    def test_fits_logs_and_saves(self):
        model = make_model(weight=5.0, warmup_steps=1, ramp_steps=2)
        model.compile()
        x, y = data(16)
        history = model.fit(x, y, batch_size=8, epochs=2, verbose=0)
        self.assertGreater(history.history["loss_penalty"][-1], 0.0)
        self.assertTrue(np.isfinite(history.history["loss"]).all())
        self.run_model_saving_test(model, x)
        revived = InvariantRiskModel.from_config(model.get_config())
        self.assertEqual(revived.method, "fishr")
        self.assertEqual(
            (revived.weight, revived.warmup_steps, revived.ramp_steps),
            (5.0, 1, 2),
        )

    def test_needs_task_heads(self):
        with pytest.raises(ValueError, match="TaskHead"):
            InvariantRiskModel(
                keras.layers.Dense(4),
                {"a": keras.layers.Dense(1)},
                method="fishr",
                environments=2,
            )

    def test_trainer_runs_fishr_on_synthetic(self):
        recipe = get_recipe("synthetic").with_config(
            data_args={"num_train": 256, "num_eval": 128},
            batch_size=64,
            epochs=1,
            architectures=("fishr",),
            ood_warmup_steps=1,
            ood_ramp_steps=1,
        )
        data_ = recipe.build_data(recipe.config)
        model = build_model(recipe, data_, "fishr")
        self.assertEqual(model.method, "fishr")
        self.assertEqual(model.environments, data_.num_environments)
        summary = Trainer(recipe, tempfile.mkdtemp(), "one", verbose=0).run()
        score = summary["stats"]["fishr"]["test_shifted"]
        self.assertTrue(np.isfinite(score["a_accuracy"]["mean"]))
