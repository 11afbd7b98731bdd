import os
import tempfile

import keras
import numpy as np
import pytest
import tensorflow as tf
from absl.testing import parameterized

from keras_mtcrl import CausalMTLModel
from keras_mtcrl import ChannelGroupEncoder
from keras_mtcrl import DisentanglementPenalty
from keras_mtcrl import ExpertEncoder
from keras_mtcrl import InvariancePenalty
from keras_mtcrl import SparsityPenalty
from keras_mtcrl import TaskHead
from keras_mtcrl.callbacks import CausalGraphImage
from keras_mtcrl.testing import TestCase

INPUT_SHAPE = {"x": (None, 5), "env": (None,)}


def make_model(**kwargs):
    kwargs.setdefault(
        "invariance", InvariancePenalty(num_environments=2, min_env_samples=1)
    )
    return CausalMTLModel(
        encoder=ExpertEncoder(num_modules=3, module_units=2, hidden_units=(4,)),
        heads={"a": TaskHead("binary"), "b": TaskHead("multiclass", 3)},
        input_shape=INPUT_SHAPE,
        **kwargs,
    )


def make_data(n=32, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 5)).astype("float32")
    inputs = {"x": x, "env": (np.arange(n) % 2).astype("int32")}
    labels = {
        "a": (x[:, 0] > 0).astype("float32"),
        "b": rng.integers(0, 3, n).astype("int32"),
    }
    return inputs, labels


class CausalMTLModelTest(TestCase, parameterized.TestCase):
    @parameterized.named_parameters(("graph", False), ("xla", True))
    def test_fit_logs_every_term(self, jit_compile):
        model = make_model()
        model.compile(optimizer="adam", jit_compile=jit_compile)
        x, y = make_data()
        history = model.fit(x, y, batch_size=16, epochs=2, verbose=0)
        for name in ("loss_a", "loss_b", "loss_dis", "loss_sparse",
                     "loss_inv", "a_accuracy", "b_accuracy"):
            self.assertIn(name, history.history)
            self.assertTrue(np.isfinite(history.history[name]).all(), name)
        self.assertGreater(history.history["loss_inv"][-1], 0.0)

    def test_total_is_the_weighted_sum_of_terms(self):
        model = make_model(
            disentanglement=DisentanglementPenalty(weight=0.5),
            sparsity=SparsityPenalty(weight=2.0),
            invariance=InvariancePenalty(
                weight=3.0, warmup_steps=0, ramp_steps=0,
                num_environments=2, min_env_samples=1,
            ),
        )
        model.compile(loss_weights={"a": 0.25})
        x, y = make_data()
        r = model.evaluate(x, y, batch_size=32, verbose=0, return_dict=True)
        expected = (
            0.25 * r["loss_a"] + r["loss_b"] + 0.5 * r["loss_dis"]
            + 2.0 * r["loss_sparse"] + 3.0 * r["loss_inv"]
        )
        self.assertAllClose(r["loss"], expected, atol=1e-5)
        self.assertAllClose(r["tasks_loss"], 0.25 * r["loss_a"] + r["loss_b"])
        self.assertAllClose(
            r["loss_sparse"], np.mean(model.graph.open_probability())
        )

    def test_penalties_off_reduce_to_task_losses(self):
        model = make_model(
            disentanglement=None, sparsity=None, invariance=None
        )
        model.compile()
        x, y = make_data()
        r = model.evaluate(x, y, verbose=0, return_dict=True)
        self.assertAllClose(r["loss"], r["loss_a"] + r["loss_b"], atol=1e-6)
        self.assertEqual(r["loss_inv"], 0.0)

    def test_module_signal_is_the_multiplier_derivative(self):
        model = make_model()
        model.compile()
        x, y = make_data(n=8)
        forward = model.forward(x, y, None, training=False)
        multiplier = tf.ones((model.num_modules,))
        with tf.GradientTape() as tape:
            tape.watch(multiplier)
            routed = model.graph(forward["modules"], training=False)
            scale = tf.repeat(multiplier, model.graph.module_width)
            per_task = [
                model._task_loss(
                    t, y[t], model.heads[t](routed[t] * scale), None
                )[0]
                for t in model.task_names
            ]
            total = tf.add_n([tf.reduce_sum(v) for v in per_task])
        expected = tape.gradient(total, multiplier).numpy()
        mine = sum(
            model.module_signal(forward, t).numpy().sum(axis=0)
            for t in model.task_names
        )
        self.assertAllClose(mine, expected, atol=1e-5)

    def test_closed_gate_equals_a_zeroed_module_and_has_no_signal(self):
        model = make_model()
        model.compile()
        x, y = make_data(n=8)
        logits = np.zeros((2, 3), "float32")
        logits[0, 1] = -3.0  # gate of task a on module 1: exactly 0
        model.graph.logits.assign(logits)
        closed = model.predict(x, verbose=0)["a"]
        modules = model.encoder(x["x"]).numpy()
        width = model.graph.module_width
        modules[:, width:2 * width] = 0.0
        routed = model.graph(modules, training=False)["a"]
        zeroed = model.heads["a"](routed).numpy()
        self.assertAllClose(closed, zeroed, atol=1e-6)
        forward = model.forward(x, y, None, training=False)
        signal = model.module_signal(forward, "a").numpy()
        self.assertAllClose(signal[:, 1], np.zeros(8))
        self.assertGreater(np.abs(signal[:, 0]).sum(), 0.0)

    def test_penalty_does_not_grow_when_a_head_undoes_a_closing_gate(self):
        # Sigmoid gates without normalisation, a linear head: shrinking a
        # gate and growing the head's rows by the same factor leaves the
        # function unchanged, and so the scale-invariant penalty.
        model = CausalMTLModel(
            encoder=ExpertEncoder(num_modules=2, module_units=2),
            heads={"a": TaskHead("binary"), "b": TaskHead("binary")},
            gate="sigmoid",
            normalize_modules=False,
            invariance=InvariancePenalty(num_environments=2, min_env_samples=1),
            input_shape=INPUT_SHAPE,
        )
        model.compile()
        x, y = make_data()
        y["b"] = (x["x"][:, 1] > 0).astype("float32")
        values = []
        for gate in (0.88, 0.44, 0.22):
            logits = np.zeros((2, 2), "float32")
            logits[0, 0] = np.log(gate / (1 - gate))
            model.graph.logits.assign(logits)
            kernel = model.heads["a"].output_layer.kernel
            if not values:
                base = kernel.numpy()
            rows = base.copy()
            rows[:2] *= 0.88 / gate
            kernel.assign(rows)
            r = model.evaluate(x, y, batch_size=32, verbose=0,
                               return_dict=True)
            values.append((r["loss_a"], r["loss_inv"]))
        values = np.array(values)
        self.assertAllClose(values[:, 0], values[0, 0] * np.ones(3), atol=1e-5)
        self.assertAllClose(values[:, 1], values[0, 1] * np.ones(3), rtol=1e-3)
        self.assertGreater(values[0, 1], 0.0)

    def test_invariance_is_zero_when_environments_are_copies(self):
        model = make_model(
            invariance=InvariancePenalty(num_environments=2, min_env_samples=1)
        )
        model.compile()
        x, y = make_data(n=8)
        doubled = {
            "x": np.concatenate([x["x"], x["x"]]),
            "env": np.repeat([0, 1], 8).astype("int32"),
        }
        labels = {t: np.concatenate([v, v]) for t, v in y.items()}
        r = model.evaluate(doubled, labels, batch_size=16, verbose=0,
                           return_dict=True)
        self.assertAllClose(r["loss_inv"], 0.0, atol=1e-7)

    @parameterized.parameters("grad_var", "irmv1", "vrex")
    def test_environments_derived_from_labels(self, method):
        model = CausalMTLModel(
            encoder=ExpertEncoder(num_modules=2, module_units=2),
            heads={"a": TaskHead("binary"), "b": TaskHead("multiclass", 3)},
            invariance=InvariancePenalty(method, min_env_samples=1),
            input_shape=(None, 5),
        )
        model.compile()
        x, y = make_data()
        history = model.fit(x["x"], y, batch_size=32, verbose=0)
        self.assertGreater(history.history["loss_inv"][0], 0.0)

    def test_environment_column_needs_num_environments(self):
        model = make_model(invariance=InvariancePenalty())
        model.compile()
        x, y = make_data()
        with pytest.raises(ValueError, match="num_environments=N"):
            model.fit(x, y, verbose=0)

    def test_environment_id_out_of_range(self):
        model = make_model()
        model.compile()
        x, y = make_data()
        x["env"][0] = 5
        with pytest.raises(ValueError, match=">= num_environments=2"):
            model.fit(x, y, verbose=0)

    def test_evaluate_on_an_unseen_environment_id(self):
        # A shifted split carries its own id (here 2 >= num_environments).
        model = make_model()
        model.compile()
        x, y = make_data()
        x["env"][:] = 2
        r = model.evaluate(x, y, verbose=0, return_dict=True)
        self.assertTrue(np.isfinite(r["loss"]))
        self.assertIn("worst_env_loss", r)
        self.assertIn("tasks_loss", r)

    def test_worst_env_loss_covers_the_balanced_distribution(self):
        model = make_model()
        model.compile()
        x, y = make_data(n=64)
        model.fit(x, y, batch_size=64, epochs=1, verbose=0)
        r = model.evaluate(x, y, batch_size=64, verbose=0, return_dict=True)
        # The worst environment is at least as bad as the observed data.
        self.assertGreaterEqual(
            r["worst_env_loss"] + 1e-6, r["loss_a"] + r["loss_b"]
        )

    def test_graph_readout(self):
        model = make_model()
        gates = model.causal_graph()
        self.assertEqual(gates.shape, (2, 3))
        self.assertAllClose(gates, np.full((2, 3), 0.5))
        model.graph.logits.assign(np.array([[5.0, -5, 5], [-5, 5, -5]]))
        table = model.causal_graph_table()
        self.assertIn("a ", table)
        self.assertEqual(table.count("*"), 3)

    def test_save_load_round_trip(self):
        model = make_model(
            sparsity=SparsityPenalty(0.2),
            invariance=InvariancePenalty(
                "vrex", 2.0, warmup_steps=3, num_environments=2
            ),
        )
        model.compile(optimizer="adam")
        x, y = make_data()
        model.fit(x, y, verbose=0)
        revived = self.run_model_saving_test(model, x)
        self.assertAllClose(revived.causal_graph(), model.causal_graph())
        self.assertEqual(
            revived.invariance.get_config(), model.invariance.get_config()
        )
        self.assertEqual(revived.sparsity.weight, 0.2)
        revived.fit(x, y, verbose=0)

    def test_channel_group_encoder_on_images(self):
        backbone = keras.Sequential(
            [keras.layers.Conv2D(4, 3, padding="same", activation="relu")]
        )
        model = CausalMTLModel(
            encoder=ChannelGroupEncoder(backbone, num_modules=2),
            heads={
                "seg": TaskHead("multiclass", 3),
                "depth": TaskHead("regression"),
            },
            invariance=InvariancePenalty(num_environments=2, min_env_samples=1),
            input_shape={"image": (None, 6, 6, 1), "env": (None,)},
        )
        model.compile()
        rng = np.random.default_rng(0)
        inputs = {
            "image": rng.random((4, 6, 6, 1)).astype("float32"),
            "env": np.array([0, 0, 1, 1], "int32"),
        }
        labels = {
            "seg": rng.integers(-1, 3, (4, 6, 6)).astype("int32"),
            "depth": rng.random((4, 6, 6, 1)).astype("float32"),
        }
        history = model.fit(inputs, labels, verbose=0)
        self.assertTrue(np.isfinite(history.history["loss"]).all())

    def test_encoder_without_modules_is_rejected(self):
        with pytest.raises(ValueError, match="num_modules"):
            CausalMTLModel(keras.layers.Dense(4), {"a": TaskHead("binary")})

    def test_graph_image_and_tensorboard_scalars(self):
        model = make_model()
        model.compile()
        x, y = make_data()
        folder = tempfile.mkdtemp()
        model.fit(
            x, y, epochs=2, verbose=0,
            callbacks=[
                keras.callbacks.TensorBoard(folder),
                CausalGraphImage(folder),
            ],
        )
        tags = set()
        for root, _, files in os.walk(folder):
            for name in files:
                for event in tf.compat.v1.train.summary_iterator(
                    os.path.join(root, name)
                ):
                    tags.update(v.tag for v in event.summary.value)
        self.assertIn("causal_graph", tags)
        self.assertIn("graph/a/m0", tags)
        self.assertIn("epoch_loss_inv", tags)
        self.assertIn("epoch_loss_a", tags)
