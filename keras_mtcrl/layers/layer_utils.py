"""Small helpers shared by the layers: argument checks and cloning."""

import keras


def check_positive_int(value, name):
    """Raises a ValueError naming `name` unless `value` is an int >= 1."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(
            f"`{name}` must be a positive int. Received: {name}={value!r}"
        )


def check_task_names(task_names):
    """Validates a non-empty sequence of distinct string task names."""
    task_names = tuple(task_names)
    if not task_names or not all(isinstance(t, str) and t for t in task_names):
        raise ValueError(
            "`task_names` must be a non-empty sequence of non-empty strings. "
            f"Received: task_names={task_names!r}"
        )
    if len(set(task_names)) != len(task_names):
        raise ValueError(
            "`task_names` must be distinct. Received: "
            f"task_names={task_names!r}"
        )
    return task_names


def check_heads(heads):
    """Validates a non-empty dict of task name -> head; returns the names."""
    if not isinstance(heads, dict) or not heads:
        raise ValueError(
            "`heads` must be a non-empty dict of task name to head layer. "
            f"Received: heads={heads!r}"
        )
    return tuple(heads)


def check_layer(value, name):
    """Raises a TypeError naming `name` unless `value` is a Keras layer."""
    if not isinstance(value, keras.layers.Layer):
        raise TypeError(
            f"`{name}` must be a keras Layer or Model. Received: "
            f"{name}={value!r}"
        )


def with_sublayers(config, *keys):
    """A copy of a layer config whose `keys` (serialized sublayers, or None)
    are deserialized: the `from_config` step of a layer that wraps layers."""
    config = dict(config)
    for key in keys:
        if config.get(key) is not None:
            config[key] = keras.saving.deserialize_keras_object(config[key])
    return config


def clone_layer(layer):
    """Returns a fresh, unbuilt copy of `layer` (same config, new weights)."""
    return keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(layer)
    )


def build_sublayer(layer, input_shape):
    """Builds `layer` for `input_shape` unless built; returns its output
    shape."""
    if not layer.built:
        layer.build(input_shape)
    return layer.compute_output_shape(input_shape)


def build_chain(layers, input_shape):
    """Builds each of `layers` on the previous one's output shape; returns
    the last output shape (`input_shape` for no layers)."""
    shape = input_shape
    for layer in layers:
        shape = build_sublayer(layer, shape)
    return shape


def call_chain(layers, inputs, training=None):
    """Applies `layers` one after the other (each gets `training`)."""
    x = inputs
    for layer in layers:
        x = layer(x, training=training)
    return x


def chain_output_shape(layers, input_shape):
    """The output shape of `layers` applied one after the other."""
    shape = input_shape
    for layer in layers:
        shape = layer.compute_output_shape(shape)
    return shape
