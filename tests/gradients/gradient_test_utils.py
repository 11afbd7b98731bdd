"""Tiny models and data shared by the gradient-method tests."""

import keras
import numpy as np

from keras_mtcrl import CausalMTLModel
from keras_mtcrl import DisentanglementPenalty
from keras_mtcrl import ExpertEncoder
from keras_mtcrl import InvariancePenalty
from keras_mtcrl import MixtureOfExpertsRouter
from keras_mtcrl import MultiTaskModel
from keras_mtcrl import SparsityPenalty
from keras_mtcrl import TaskHead
from keras_mtcrl.testing.distribution import mirrored_strategy  # noqa: F401

TASKS = ("a", "b", "c")


def make_data(num_tasks=2, n=16):
    """Inputs `{"x", "env"}` and labels of the first `num_tasks` tasks."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 4)).astype("float32")
    inputs = {"x": x, "env": (rng.random(n) > 0.6).astype("int32")}
    labels = {
        "a": (x[:, 0] > 0).astype("float32"),
        "b": np.where(np.arange(n) % 5 == 0, np.nan, x[:, 1]).astype(
            "float32"
        ),
        "c": (x[:, 2] + x[:, 3]).astype("float32"),
    }
    return inputs, {t: labels[t] for t in TASKS[:num_tasks]}


def make_heads(num_tasks):
    heads = {
        "a": TaskHead("binary"),
        "b": TaskHead("regression"),
        "c": TaskHead("regression"),
    }
    return {t: heads[t] for t in TASKS[:num_tasks]}


def make_model(num_tasks=2, causal=False, **kwargs):
    """An MMoE `MultiTaskModel`, or an MT-CRL model with every penalty."""
    encoder = ExpertEncoder(num_modules=2, module_units=3, hidden_units=(8,))
    shape = {"x": (None, 4), "env": (None,)}
    if causal:
        return CausalMTLModel(
            encoder=encoder,
            heads=make_heads(num_tasks),
            disentanglement=DisentanglementPenalty(weight=1.0),
            sparsity=SparsityPenalty(weight=1.0),
            invariance=InvariancePenalty(
                "grad_var", weight=2.0, warmup_steps=0, ramp_steps=0,
                num_environments=2, min_env_samples=1,
            ),
            input_shape=shape,
            **kwargs,
        )
    return MultiTaskModel(
        encoder=encoder,
        heads=make_heads(num_tasks),
        router=MixtureOfExpertsRouter(TASKS[:num_tasks], 2),
        input_shape=shape,
        **kwargs,
    )


def fit(model, initial, jit_compile=False, epochs=1, learning_rate=0.1):
    """Sets `initial` weights, fits full-batch; returns (logs, weights)."""
    model.set_weights(initial)
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate), jit_compile=jit_compile
    )
    inputs, labels = make_data(len(model.task_names))
    history = model.fit(inputs, labels, batch_size=16, epochs=epochs, verbose=0)
    return history.history, model.get_weights()


def max_change(after, before):
    return max(float(np.abs(a - b).max()) for a, b in zip(after, before))
