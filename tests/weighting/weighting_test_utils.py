"""Tiny models and data shared by the loss-weighting tests."""

import keras
import numpy as np

from keras_mtcrl import ExpertEncoder
from keras_mtcrl import MultiTaskModel
from keras_mtcrl import TaskHead
from keras_mtcrl.testing.distribution import mirrored_strategy  # noqa: F401


def make_data(n=32, noise=(0.1, 1.0), scale=(1.0, 1.0), seed=0):
    """Two regression tasks `y_t = scale_t * (x_t + noise_t * eps)`."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype("float32")
    labels = {
        task: (scale[i] * (x[:, i] + noise[i] * rng.normal(size=n))).astype(
            "float32"
        )
        for i, task in enumerate(("a", "b"))
    }
    return x, labels


def make_model(loss_weighting=None, **kwargs):
    return MultiTaskModel(
        encoder=ExpertEncoder(num_modules=2, module_units=4, hidden_units=(8,)),
        heads={"a": TaskHead("regression"), "b": TaskHead("regression")},
        input_shape=(None, 4),
        loss_weighting=loss_weighting,
        **kwargs,
    )


def fit(
    model,
    initial=None,
    epochs=1,
    learning_rate=0.05,
    jit_compile=False,
    data=None,
    batch_size=32,
    optimizer=None,
    **fit_kwargs,
):
    """Optionally sets `initial` weights, compiles with SGD and fits."""
    if initial is not None:
        model.set_weights(initial)
    model.compile(
        optimizer=optimizer or keras.optimizers.SGD(learning_rate),
        jit_compile=jit_compile,
    )
    x, labels = data if data is not None else make_data()
    history = model.fit(
        x,
        labels,
        batch_size=batch_size,
        epochs=epochs,
        verbose=0,
        shuffle=False,
        **fit_kwargs,
    )
    return history.history, model.get_weights()


def fit_graph_and_xla(make_weighting, epochs=3):
    """Fits the same model in graph mode and under XLA.

    Returns `(graph_logs, graph_weights, xla_logs, xla_weights, initial)`.
    """
    model = make_model(make_weighting())
    initial = model.get_weights()
    logs, after = fit(model, initial, epochs=epochs, batch_size=16)
    xla_logs, xla_after = fit(
        make_model(make_weighting()),
        initial,
        epochs=epochs,
        batch_size=16,
        jit_compile=True,
    )
    return logs, after, xla_logs, xla_after, initial
