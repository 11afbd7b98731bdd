"""Serving export (SavedModel) and `.keras` files that load anywhere."""

import os
import sys
import tempfile

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_mtcrl import CausalMTLModel
from keras_mtcrl import ChannelGroupEncoder
from keras_mtcrl import ExpertEncoder
from keras_mtcrl import InvariancePenalty
from keras_mtcrl import MixtureOfExpertsRouter
from keras_mtcrl import MultiTaskModel
from keras_mtcrl import TaskHead
from keras_mtcrl.export import export_for_serving
from keras_mtcrl.export import serving_signature
from keras_mtcrl.testing import TestCase
from keras_mtcrl.training import get_recipe

sys.path.insert(0, os.path.dirname(__file__))
import subprocess_helpers as helpers  # noqa: E402


def trained_mtcrl():
    model = CausalMTLModel(
        encoder=ExpertEncoder(num_modules=2, module_units=3),
        heads={"a": TaskHead("binary"), "b": TaskHead("multiclass", 3)},
        invariance=InvariancePenalty(num_environments=2, min_env_samples=1),
        input_shape={"x": (None, 4), "env": (None,)},
    )
    model.compile()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 4)).astype("float32")
    inputs = {"x": x, "env": (np.arange(32) % 2).astype("int32")}
    labels = {
        "a": (x[:, 0] > 0).astype("float32"),
        "b": rng.integers(0, 3, 32).astype("int32"),
    }
    model.fit(inputs, labels, batch_size=16, epochs=2, verbose=0)
    return model, inputs


class ExportForServingTest(TestCase):
    def test_serving_default_matches_predict(self):
        model, inputs = trained_mtcrl()
        path = export_for_serving(model, tempfile.mkdtemp())
        serve = tf.saved_model.load(path).signatures["serving_default"]
        _, named = serve.structured_input_signature
        self.assertEqual(sorted(named), ["x"])  # no environment column
        self.assertEqual(named["x"].dtype, tf.float32)
        outputs = serve(x=tf.constant(inputs["x"][:7]))  # any batch size
        expected = model.predict({"x": inputs["x"][:7]}, verbose=0)
        self.assertEqual(sorted(outputs), ["a", "b"])
        for task in ("a", "b"):
            self.assertAllClose(outputs[task], expected[task], atol=1e-6)

    @pytest.mark.slow  # over 40 s on 2 CPU cores
    def test_single_tensor_model_takes_inputs(self):
        model = MultiTaskModel(
            ExpertEncoder(2, 2),
            {"y": TaskHead("regression", 2)},
            input_shape=(None, 3),
        )
        path = export_for_serving(model, tempfile.mkdtemp())
        serve = tf.saved_model.load(path).signatures["serving_default"]
        x = np.random.default_rng(1).normal(size=(5, 3)).astype("float32")
        self.assertAllClose(
            serve(inputs=tf.constant(x))["y"],
            model.predict(x, verbose=0)["y"],
            atol=1e-6,
        )

    def test_signature_from_data_and_errors(self):
        recipe = get_recipe("synthetic").with_config(
            data_args={"num_train": 16, "num_eval": 8}
        )
        data = recipe.build_data(recipe.config)
        model = MultiTaskModel(
            ExpertEncoder(2, 2), {"a": TaskHead("binary")}
        )  # built without input_shape
        self.assertEqual(
            serving_signature(model, data),
            {"x": tf.TensorSpec((None, 8), tf.float32, name="x")},
        )
        with pytest.raises(ValueError, match="built without `input_shape`"):
            serving_signature(model)
        with pytest.raises(ValueError, match="Build the model before"):
            export_for_serving(model, tempfile.mkdtemp())

    def test_keras_own_export(self):
        # `model.export` (Keras' own) needs a model that has been called
        # (training with our train_step does not count), and then keeps
        # the environment column as a float32 input named `args_0`:
        # export_for_serving exists for these reasons.
        model, inputs = trained_mtcrl()
        with pytest.raises(ValueError, match="never called"):
            model.export(tempfile.mkdtemp(), verbose=False)
        model.predict(inputs, verbose=0)
        path = tempfile.mkdtemp()
        model.export(path, verbose=False)
        serve = tf.saved_model.load(path).signatures["serving_default"]
        _, named = serve.structured_input_signature
        self.assertEqual(len(named), 2)  # features and the environment
        self.assertIn(tf.float32, [spec.dtype for spec in named.values()])
        explicit = tempfile.mkdtemp()
        model.export(
            explicit,
            verbose=False,
            input_signature=[{"x": tf.TensorSpec((None, 4), name="x")}],
        )
        serve = tf.saved_model.load(explicit).signatures["serving_default"]
        expected = model.predict({"x": inputs["x"]}, verbose=0)
        outputs = serve(x=tf.constant(inputs["x"]))
        self.assertAllClose(outputs["a"], expected["a"], atol=1e-6)


def saved_models(folder):
    """Models covering every registered building block, saved as .keras."""
    backbone = keras.Sequential(
        [keras.layers.Conv2D(4, 3, activation="relu"), keras.layers.Flatten()]
    )
    models = {
        "mtcrl_experts": (trained_mtcrl()[0], "vector"),
        "mtcrl_channels": (
            CausalMTLModel(
                ChannelGroupEncoder(backbone, num_modules=2),
                {"digit": TaskHead("multiclass", 3, hidden_units=(4,))},
                invariance=None,
                input_shape=(None, 5, 5, 1),
            ),
            "image",
        ),
        "mmoe_weighted": (
            MultiTaskModel(
                ExpertEncoder(2, 3),
                {"a": TaskHead("binary"), "r": TaskHead("regression")},
                router=MixtureOfExpertsRouter(["a", "r"], 2),
                loss_weighting="uncertainty",
                gradient_method="pcgrad",
                input_shape={"x": (None, 4), "env": (None,)},
            ),
            "vector",
        ),
    }
    paths = {}
    for name, (model, kind) in models.items():
        if not model.compiled:
            model.compile()
        path = os.path.join(folder, f"{name}.keras")
        model.save(path)
        paths[name] = (model, path, kind)
    return paths


LOAD_AND_PREDICT = """
import sys, numpy as np, keras
import keras_mtcrl  # registers the classes; nothing else is needed
folder = sys.argv[1]
for name in sys.argv[2:]:
    path, kind = name.split(":")
    model = keras.saving.load_model(f"{folder}/{path}.keras")  # safe_mode
    x = np.load(f"{folder}/{kind}.npy")
    inputs = {"x": x} if kind == "vector" else x
    out = model.predict(inputs, verbose=0)
    np.savez(f"{folder}/{path}.out.npz", **out)
    print(path, type(model).__name__, model.compiled)
"""


class KerasFileTest(TestCase):
    def test_keras_files_load_in_a_fresh_process_in_safe_mode(self):
        folder = tempfile.mkdtemp()
        rng = np.random.default_rng(2)
        arrays = {
            "vector": rng.normal(size=(6, 4)).astype("float32"),
            "image": rng.random((6, 5, 5, 1)).astype("float32"),
        }
        for kind, array in arrays.items():
            np.save(os.path.join(folder, f"{kind}.npy"), array)
        saved = saved_models(folder)
        process = helpers.start(
            ["-c", LOAD_AND_PREDICT, folder]
            + [f"{name}:{kind}" for name, (_, _, kind) in saved.items()]
        )
        try:
            output, _ = process.communicate(timeout=180)
        finally:
            helpers.stop(process)
        self.assertEqual(process.returncode, 0, output[-3000:])
        for name, (model, _, kind) in saved.items():
            self.assertIn(f"{name} {type(model).__name__} True", output)
            x = arrays[kind]
            expected = model.predict(
                {"x": x} if kind == "vector" else x, verbose=0
            )
            with np.load(os.path.join(folder, f"{name}.out.npz")) as got:
                for task, value in expected.items():
                    self.assertAllClose(got[task], value, atol=1e-6)
