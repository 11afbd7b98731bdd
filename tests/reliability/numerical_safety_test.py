"""Non-finite losses are caught and named; penalties stay finite."""

import json
import os
import tempfile

import keras
import numpy as np
import pytest
import tensorflow as tf
from absl.testing import parameterized

from keras_mtcrl import CausalMTLModel
from keras_mtcrl import DisentanglementPenalty
from keras_mtcrl import ExpertEncoder
from keras_mtcrl import InvariancePenalty
from keras_mtcrl import SparsityPenalty
from keras_mtcrl import TaskHead
from keras_mtcrl.callbacks import NonFiniteGuard
from keras_mtcrl.testing import TestCase
from keras_mtcrl.training import Trainer
from keras_mtcrl.training import get_recipe


class NaNHead(TaskHead):
    """A regression head whose output turns NaN (a broken task head)."""

    def call(self, inputs, training=None):
        output = super().call(inputs, training=training)
        return output * np.float32("nan")


class NaNInvariance(InvariancePenalty):
    """An invariance penalty that returns NaN (a broken penalty)."""

    def compute(self, context):
        return super().compute(context) * np.float32("nan")


def make_model(heads=None, **kwargs):
    kwargs.setdefault(
        "invariance", InvariancePenalty(num_environments=2, min_env_samples=1)
    )
    return CausalMTLModel(
        encoder=ExpertEncoder(num_modules=2, module_units=3),
        heads=heads or {"a": TaskHead("binary"), "b": TaskHead("regression")},
        input_shape={"x": (None, 4), "env": (None,)},
        **kwargs,
    )


def make_data(n=16, seed=0, constant=None):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype("float32")
    if constant is not None:
        x = np.full((n, 4), constant, "float32")
    inputs = {"x": x, "env": (np.arange(n) % 2).astype("int32")}
    labels = {
        "a": (rng.random(n) > 0.5).astype("float32"),
        "b": rng.normal(size=n).astype("float32"),
    }
    return inputs, labels


def assert_all_finite(case, history, model):
    for name, values in history.history.items():
        case.assertTrue(np.isfinite(values).all(), f"{name}: {values}")
    for variable in model.weights:
        value = keras.ops.convert_to_numpy(variable)
        case.assertTrue(np.isfinite(value).all(), variable.path)


class NonFiniteGuardTest(TestCase):
    def test_names_the_task_whose_head_went_nan(self):
        model = make_model(
            heads={"a": TaskHead("binary"), "b": NaNHead("regression")},
            invariance=None,
        )
        model.compile(optimizer="sgd")
        x, y = make_data()
        guard = NonFiniteGuard()
        with pytest.raises(
            FloatingPointError,
            match=r"Non-finite loss term\(s\) at epoch 0, batch 0: "
            r"loss_b=nan\. Still finite: loss_a=",
        ):
            model.fit(x, y, batch_size=8, verbose=0, callbacks=[guard])
        self.assertEqual(guard.non_finite_terms, ["loss_b"])

    def test_names_the_penalty_that_went_nan(self):
        model = make_model(
            invariance=NaNInvariance(num_environments=2, min_env_samples=1)
        )
        model.compile(optimizer="sgd")
        x, y = make_data()
        guard = NonFiniteGuard(raise_error=False)
        history = model.fit(
            x, y, batch_size=8, epochs=3, verbose=0, callbacks=[guard]
        )
        self.assertEqual(guard.non_finite_terms, ["loss_inv"])
        for finite in ("loss_a=", "loss_b=", "loss_dis=", "loss_sparse="):
            self.assertIn(finite, guard.report.split("Still finite:")[1])
        # raise_error=False: stops after that batch, like TerminateOnNaN.
        self.assertEqual(len(history.history["loss"]), 1)

    def test_huge_learning_rate_is_caught_with_the_broken_weights(self):
        model = make_model()
        model.compile(optimizer=keras.optimizers.SGD(1e30))
        x, y = make_data(n=64)
        guard = NonFiniteGuard()
        with pytest.raises(FloatingPointError, match="Non-finite weights"):
            model.fit(
                x, y, batch_size=8, epochs=5, verbose=0, callbacks=[guard]
            )
        self.assertIn("loss_a", guard.non_finite_terms)
        self.assertRegex(guard.report, r"causal_mtl_model\w*/expert_encoder")

    def test_finite_training_is_left_alone(self):
        model = make_model()
        model.compile()
        x, y = make_data()
        guard = NonFiniteGuard()
        model.fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=[guard])
        self.assertIsNone(guard.report)
        self.assertEqual(guard.non_finite_terms, [])

    def test_serializable(self):
        guard = NonFiniteGuard(raise_error=False)
        self.assertEqual(
            keras.saving.get_registered_name(NonFiniteGuard),
            "keras_mtcrl>NonFiniteGuard",
        )
        self.assertEqual(
            NonFiniteGuard(**guard.get_config()).raise_error, False
        )
        with pytest.raises(ValueError, match="`raise_error` must be a bool"):
            NonFiniteGuard(raise_error="yes")


class _BlowUpAtEpoch(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 1:
            self.model.optimizer.learning_rate.assign(1e30)


class TrainerStopsOnNonFiniteTest(TestCase):
    def test_trainer_raises_and_keeps_the_last_good_backup(self):
        recipe = get_recipe("synthetic").with_config(
            data_args={"num_train": 256, "num_eval": 64},
            batch_size=64,
            epochs=3,
            architectures=("mtcrl",),
        )
        folder = tempfile.mkdtemp()
        with pytest.raises(FloatingPointError, match="at epoch 1, batch"):
            Trainer(
                recipe, folder, "one", verbose=0, callbacks=[_BlowUpAtEpoch()]
            ).run()
        run_dir = os.path.join(folder, "seed_0", "mtcrl")
        # Not reported as finished, not saved as final.
        self.assertFalse(os.path.exists(os.path.join(run_dir, "result.json")))
        self.assertFalse(os.path.exists(os.path.join(run_dir, "final.keras")))
        backup = os.path.join(run_dir, "backup")
        with open(os.path.join(backup, "checkpoint.json")) as handle:
            state = json.load(handle)
        self.assertEqual(state["epoch"], 1)
        model = keras.saving.load_model(os.path.join(run_dir, "best.keras"))
        model.load_weights(os.path.join(backup, state["weights"]))
        for weight in model.get_weights():
            self.assertTrue(np.isfinite(weight).all())


def eager_steps(case, model, x, y, batch_size, steps=4):
    """A few training steps, run eagerly (no tracing: fast); all finite."""
    size = len(next(iter(y.values())))
    for step in range(steps):
        start = (step * batch_size) % size
        rows = slice(start, start + batch_size)
        logs = model.train_step(
            (
                {k: v[rows] for k, v in x.items()},
                {k: v[rows] for k, v in y.items()},
            )
        )
        for name, value in logs.items():
            case.assertTrue(np.isfinite(float(value)), f"{name}: {value}")
    for variable in model.weights:
        value = keras.ops.convert_to_numpy(variable)
        case.assertTrue(np.isfinite(value).all(), variable.path)


def assert_finite_step(case, model, x, y):
    """The objective's value and gradients on one batch are finite."""
    with tf.GradientTape() as tape:
        loss, logged, _ = model.compute_objective(x, y, None, training=True)
    gradients = tape.gradient(loss, model.trainable_variables)
    for variable, gradient in zip(model.trainable_variables, gradients):
        if gradient is not None:
            case.assertTrue(np.isfinite(gradient.numpy()).all(), variable.path)
    for name, value in logged.items():
        case.assertTrue(np.isfinite(value.numpy()), name)
    return logged


class PenaltyStabilityTest(TestCase, parameterized.TestCase):
    """Degenerate batch statistics (one sample, one sample per environment,
    zero variance) give finite values and gradients, never NaN."""

    @parameterized.product(
        method=("grad_var", "irmv1", "vrex"),
        disentanglement=("crosscorr", "hsic"),
        batch_size=(1, 2),
    )
    def test_tiny_batches(self, method, disentanglement, batch_size):
        model = make_model(
            disentanglement=DisentanglementPenalty(disentanglement, 1.0),
            sparsity=SparsityPenalty(1.0),
            # The supplied column only: with one sample, one environment.
            invariance=InvariancePenalty(
                method, 10.0, num_environments=2, min_env_samples=1,
                environments="column",
            ),
        )
        # Adam: bounded steps. Plain SGD with a large IRMv1 weight on an
        # unbounded regression loss can diverge (docs/reliability.md).
        model.compile(optimizer=keras.optimizers.Adam(0.01))
        x, y = make_data(n=4)
        first = {k: v[:batch_size] for k, v in x.items()}
        logged = assert_finite_step(
            self, model, first, {k: v[:batch_size] for k, v in y.items()}
        )
        if batch_size == 2:  # one sample per environment: the penalty is on
            self.assertGreater(float(logged["loss_inv"]), 0.0)
        else:  # a single environment: exactly 0
            self.assertEqual(float(logged["loss_inv"]), 0.0)
        eager_steps(self, model, x, y, batch_size)

    @parameterized.product(
        method=("grad_var", "irmv1", "vrex"),
        disentanglement=("crosscorr", "hsic"),
        constant=(0.0, 1.0),
    )
    def test_constant_features(self, method, disentanglement, constant):
        model = make_model(
            disentanglement=DisentanglementPenalty(disentanglement, 1.0),
            invariance=InvariancePenalty(
                method, 10.0, num_environments=2, min_env_samples=1
            ),
        )
        model.compile(optimizer=keras.optimizers.Adam(0.01))
        x, y = make_data(n=8, constant=constant)
        logged = assert_finite_step(self, model, x, y)
        # Identical samples: modules are constant, hence uncorrelated.
        self.assertAllClose(logged["loss_dis"], 0.0, atol=1e-6)
        eager_steps(self, model, x, y, batch_size=8)
