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
                weight=3.0, num_environments=2, min_env_samples=1
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
        self.assertAllClose(r["loss_sparse"], model.causal_graph().mean())

    def test_penalties_off_reduce_to_task_losses(self):
        model = make_model(
            disentanglement=None, sparsity=None, invariance=None
        )
        model.compile()
        x, y = make_data()
        r = model.evaluate(x, y, verbose=0, return_dict=True)
        self.assertAllClose(r["loss"], r["loss_a"] + r["loss_b"], atol=1e-6)
        self.assertEqual(r["loss_inv"], 0.0)

    def test_per_sample_gate_gradients_match_autodiff(self):
        model = make_model()
        model.compile()
        x, y = make_data(n=8)
        forward = model.forward(x, y, None, training=False)
        modules = forward["modules"]
        gates = model.graph.gates()
        with tf.GradientTape() as tape:
            tape.watch(gates)
            routed = model.graph(modules, gates=gates)
            per_task = [
                model._task_loss(t, y[t], model.heads[t](routed[t]), None)[0]
                for t in model.task_names
            ]
            total = tf.add_n([tf.reduce_sum(v) for v in per_task])
        expected = tape.gradient(total, gates).numpy()
        for index, task in enumerate(model.task_names):
            mine = model._gate_gradients(forward, task).numpy().sum(axis=0)
            self.assertAllClose(mine, expected[index], atol=1e-5)

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

    def test_graph_readout(self):
        model = make_model()
        gates = model.causal_graph()
        self.assertEqual(gates.shape, (2, 3))
        self.assertAllClose(gates, np.full((2, 3), 1 / (1 + np.exp(-2.0))))
        table = model.causal_graph_table()
        self.assertIn("a ", table)
        self.assertEqual(table.count("*"), 6)

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
