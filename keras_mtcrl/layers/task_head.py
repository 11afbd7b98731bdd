"""Task heads: from a task's routed representation to its prediction."""

import keras

from keras_mtcrl.api_export import keras_mtcrl_export
from keras_mtcrl.datasets.multi_task_data import TASK_KINDS
from keras_mtcrl.layers.layer_utils import build_sublayer
from keras_mtcrl.layers.layer_utils import check_positive_int
from keras_mtcrl.layers.layer_utils import with_sublayers

OUTPUT_ACTIVATIONS = {
    "binary": "sigmoid",
    "multiclass": "softmax",
    "multilabel": "sigmoid",
    "regression": "linear",
}


@keras_mtcrl_export
class TaskHead(keras.layers.Layer):
    """Prediction head of one task: optional network, MLP, output layer.

    The head knows its task's kind, which fixes the output activation
    (softmax for multi-class, sigmoid for binary and multi-label, none for
    regression; computed in float32 under mixed precision) and lets the
    model pick the default loss and metrics. The output layer acts on the
    last axis, so the same head serves per-pixel (dense) tasks: give it a
    decoder as `network`.

    Args:
        kind: str. `"binary"`, `"multiclass"`, `"multilabel"` or
            `"regression"`.
        units: int. Classes (multiclass), labels (multilabel), outputs
            (regression); 1 for binary. Defaults to `1`.
        hidden_units: tuple of int. Widths of hidden Dense layers.
            Defaults to `()`.
        activation: str. Activation of the hidden layers. Defaults to
            `"relu"`.
        dropout: float. Dropout rate before the output layer. Defaults to
            `0.0`.
        network: `keras.layers.Layer` or None. Runs first (e.g. a
            convolutional decoder for dense tasks). Defaults to `None`.
        **kwargs: base layer keyword arguments.

    Call arguments:
        inputs: tensor `(batch, ..., C)`, the task's routed representation.
        training: bool.

    Returns:
        Tensor `(batch, ..., units)`: probabilities for classification,
        values for regression.

    Example:

    >>> import numpy as np
    >>> head = TaskHead("multiclass", units=3, hidden_units=(8,))
    >>> probs = head(np.zeros((2, 4), "float32"))
    >>> probs.shape, float(probs.numpy().sum())
    (TensorShape([2, 3]), 2.0)
    """

    def __init__(
        self,
        kind,
        units=1,
        hidden_units=(),
        activation="relu",
        dropout=0.0,
        network=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if kind not in TASK_KINDS:
            raise ValueError(
                f"`kind` must be one of {TASK_KINDS}. Received: kind={kind!r}"
            )
        check_positive_int(units, "units")
        if kind == "binary" and units != 1:
            raise ValueError(
                f"A binary head has units=1. Received: units={units}"
            )
        if kind == "multiclass" and units < 2:
            raise ValueError(
                "A multiclass head needs the number of classes: "
                f"TaskHead('multiclass', units=num_classes) with "
                f"num_classes >= 2. Received: units={units}"
            )
        for width in hidden_units:
            check_positive_int(width, "hidden_units")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(
                f"`dropout` must be in [0, 1). Received: dropout={dropout!r}"
            )
        self.kind = kind
        self.units = units
        self.hidden_units = tuple(hidden_units)
        self.activation = keras.activations.get(activation)
        self.dropout = float(dropout)
        self.network = network
        self.hidden_layers = [
            keras.layers.Dense(width, activation=self.activation)
            for width in self.hidden_units
        ]
        self.dropout_layer = keras.layers.Dropout(self.dropout)
        self.output_layer = keras.layers.Dense(units, name="logits")
        self.output_activation = keras.layers.Activation(
            OUTPUT_ACTIVATIONS[kind], dtype="float32"
        )

    def build(self, input_shape):
        shape = input_shape
        if self.network is not None:
            shape = build_sublayer(self.network, shape)
        for layer in self.hidden_layers:
            shape = build_sublayer(layer, shape)
        build_sublayer(self.output_layer, shape)
        self.built = True

    def features(self, inputs, training=None):
        """The input of the output layer: all of the head but its last
        Dense layer and output activation (what Fishr's per-sample
        gradients of that layer are built from)."""
        x = inputs
        if self.network is not None:
            x = self.network(x, training=training)
        for layer in self.hidden_layers:
            x = layer(x)
        return self.dropout_layer(x, training=training)

    def call(self, inputs, training=None):
        x = self.features(inputs, training=training)
        return self.output_activation(self.output_layer(x))

    def compute_output_shape(self, input_shape):
        shape = input_shape
        if self.network is not None:
            shape = self.network.compute_output_shape(shape)
        return tuple(shape[:-1]) + (self.units,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "kind": self.kind,
                "units": self.units,
                "hidden_units": list(self.hidden_units),
                "activation": keras.activations.serialize(self.activation),
                "dropout": self.dropout,
                "network": (
                    keras.saving.serialize_keras_object(self.network)
                    if self.network is not None
                    else None
                ),
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**with_sublayers(config, "network"))
