"""Modular encoder form (b): K separate expert networks."""

import keras

from keras_mtcrl.api_export import keras_mtcrl_export
from keras_mtcrl.layers.layer_utils import build_sublayer
from keras_mtcrl.layers.layer_utils import check_positive_int
from keras_mtcrl.layers.layer_utils import clone_layer
from keras_mtcrl.layers.layer_utils import with_sublayers


@keras_mtcrl_export
class ExpertEncoder(keras.layers.Layer):
    """K separate expert networks whose outputs are the neural modules.

    The MMoE-like form of the modular encoder, suited to tabular and
    recommendation inputs: each module is its own small network, so modules
    share no parameters and disentangle more easily than channel groups.
    Each expert is an MLP (`hidden_units` then `module_units`), or a fresh
    copy of a user-supplied `expert` layer. An optional shared
    `feature_layer` (e.g. embeddings of a dict of id features) runs first.

    With `input_groups`, expert k reads only the feature columns listed in
    `input_groups[k]` (e.g. one input field each), so a module can hold one
    factor of the data and the causal graph can cut a task off it; without
    it every expert sees every column.

    Args:
        num_modules: int. K, the number of experts. Defaults to `4`.
        module_units: int. Output width of each MLP expert. Defaults to `16`.
        hidden_units: tuple of int. Hidden widths of each MLP expert.
            Defaults to `(64,)`.
        activation: str. Activation of the MLP layers. Defaults to `"relu"`.
        expert: `keras.layers.Layer` or None. Template expert, copied K
            times (same config, separate weights) instead of the MLP.
            Defaults to `None`.
        feature_layer: `keras.layers.Layer` or None. Shared input layer
            applied before the experts. Defaults to `None`.
        input_groups: sequence of K sequences of int, or None. Column
            indices (last axis of the features, after `feature_layer`)
            that each expert reads; groups may differ in size and overlap.
            Defaults to `None` (every expert reads every column).
        **kwargs: base layer keyword arguments.

    Call arguments:
        inputs: tensor, or whatever `feature_layer` accepts.
        training: bool.

    Returns:
        Tensor `(batch, K * module_width)`: the experts' outputs side by
        side.

    Example:

    >>> import numpy as np
    >>> encoder = ExpertEncoder(num_modules=3, module_units=4)
    >>> encoder(np.zeros((2, 5))).shape
    TensorShape([2, 12])

    One expert per input column:

    >>> encoder = ExpertEncoder(
    ...     num_modules=2, module_units=4, input_groups=[[0], [1]]
    ... )
    >>> encoder(np.zeros((2, 2))).shape
    TensorShape([2, 8])
    """

    def __init__(
        self,
        num_modules=4,
        module_units=16,
        hidden_units=(64,),
        activation="relu",
        expert=None,
        feature_layer=None,
        input_groups=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_positive_int(num_modules, "num_modules")
        self.input_groups = _check_input_groups(input_groups, num_modules)
        check_positive_int(module_units, "module_units")
        for units in hidden_units:
            check_positive_int(units, "hidden_units")
        self.num_modules = num_modules
        self.module_units = module_units
        self.hidden_units = tuple(hidden_units)
        self.activation = keras.activations.get(activation)
        self.expert = expert
        self.feature_layer = feature_layer
        self.experts = [self._make_expert(k) for k in range(num_modules)]
        self.module_width = None

    def _make_expert(self, index):
        if self.expert is not None:
            return clone_layer(self.expert)
        layers = [
            keras.layers.Dense(units, activation=self.activation)
            for units in self.hidden_units
        ]
        layers.append(keras.layers.Dense(self.module_units))
        return keras.Sequential(layers, name=f"expert_{index}")

    def build(self, input_shape):
        shape = input_shape
        if self.feature_layer is not None:
            shape = build_sublayer(self.feature_layer, input_shape)
        widths = {
            build_sublayer(e, self._expert_input_shape(shape, k))[-1]
            for k, e in enumerate(self.experts)
        }
        if len(widths) != 1:
            raise ValueError(
                f"All experts must have the same output width. Got {widths}."
            )
        self.module_width = widths.pop()
        self.built = True

    def call(self, inputs, training=None):
        features = inputs
        if self.feature_layer is not None:
            features = self.feature_layer(inputs, training=training)
        outputs = [
            e(self._expert_inputs(features, k), training=training)
            for k, e in enumerate(self.experts)
        ]
        return keras.ops.concatenate(outputs, axis=-1)

    def _expert_input_shape(self, shape, index):
        if self.input_groups is None:
            return shape
        width = shape[-1]
        if width is not None:
            for column in self.input_groups[index]:
                if column >= width:
                    raise ValueError(
                        f"`input_groups[{index}]` names column {column}, "
                        f"but the features have {width} columns (shape "
                        f"{tuple(shape)})."
                    )
        return tuple(shape[:-1]) + (len(self.input_groups[index]),)

    def _expert_inputs(self, features, index):
        if self.input_groups is None:
            return features
        group = self.input_groups[index]
        if list(group) == list(range(group[0], group[0] + len(group))):
            return features[..., group[0] : group[0] + len(group)]
        return keras.ops.take(features, group, axis=-1)

    def compute_output_shape(self, input_shape):
        shape = input_shape
        if self.feature_layer is not None:
            shape = self.feature_layer.compute_output_shape(input_shape)
        shape = self.experts[0].compute_output_shape(
            self._expert_input_shape(shape, 0)
        )
        return tuple(shape[:-1]) + (shape[-1] * self.num_modules,)

    def get_config(self):
        config = super().get_config()
        serialize = keras.saving.serialize_keras_object
        config.update(
            {
                "num_modules": self.num_modules,
                "module_units": self.module_units,
                "hidden_units": list(self.hidden_units),
                "activation": keras.activations.serialize(self.activation),
                "expert": serialize(self.expert) if self.expert else None,
                "feature_layer": (
                    serialize(self.feature_layer)
                    if self.feature_layer
                    else None
                ),
                "input_groups": (
                    [list(g) for g in self.input_groups]
                    if self.input_groups is not None
                    else None
                ),
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**with_sublayers(config, "expert", "feature_layer"))


def _check_input_groups(input_groups, num_modules):
    """`input_groups` as a tuple of K tuples of column indices, or None."""
    if input_groups is None:
        return None
    groups = tuple(tuple(g) for g in input_groups)
    if len(groups) != num_modules:
        raise ValueError(
            f"`input_groups` must list one group of columns per expert "
            f"({num_modules}). Received {len(groups)} groups."
        )
    for index, group in enumerate(groups):
        if not group or not all(
            isinstance(c, int) and not isinstance(c, bool) and c >= 0
            for c in group
        ):
            raise ValueError(
                f"`input_groups[{index}]` must be a non-empty list of "
                f"column indices >= 0. Received: {list(group)!r}"
            )
    return groups
