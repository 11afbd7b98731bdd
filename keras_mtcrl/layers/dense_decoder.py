"""A small per-task upsampling decoder for dense prediction."""

import keras

from keras_mtcrl.api_export import keras_mtcrl_export
from keras_mtcrl.layers.conv_backbone import _ConvUnit
from keras_mtcrl.layers.layer_utils import build_chain
from keras_mtcrl.layers.layer_utils import call_chain
from keras_mtcrl.layers.layer_utils import chain_output_shape
from keras_mtcrl.layers.layer_utils import check_positive_int


@keras_mtcrl_export
class DenseDecoder(keras.layers.Layer):
    """Task-specific decoder from a shared feature map to full resolution.

    One 3x3 conv unit (convolution, batch norm, activation) at the input
    resolution, then per factor of 2 of `upsampling` a bilinear 2x
    upsampling and another unit. Used as `TaskHead(kind, units,
    network=DenseDecoder(...))`: the head's output layer then maps each
    pixel's `filters` channels to the task's outputs (class scores,
    depth, normal vector). Set `upsampling` to the backbone's
    `output_stride` (`keras_mtcrl.layers.ConvBackbone`) so predictions
    have the labels' size.

    Args:
        upsampling: int. Total upsampling factor, a power of two (1: none).
            Defaults to `1`.
        filters: int. Channels of every conv unit. Defaults to `32`.
        batch_norm: bool. Batch normalization after each convolution.
            Defaults to `True`.
        activation: str. Activation. Defaults to `"relu"`.
        **kwargs: base layer keyword arguments.

    Call arguments:
        inputs: float tensor `(batch, height, width, channels)`.
        training: bool. Batch-norm mode.

    Returns:
        Tensor `(batch, height * upsampling, width * upsampling, filters)`.

    Example:

    >>> import numpy as np
    >>> decoder = DenseDecoder(upsampling=4, filters=8)
    >>> decoder(np.zeros((2, 3, 5, 16), "float32")).shape
    TensorShape([2, 12, 20, 8])
    """

    def __init__(
        self,
        upsampling=1,
        filters=32,
        batch_norm=True,
        activation="relu",
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_positive_int(upsampling, "upsampling")
        if upsampling & (upsampling - 1):
            raise ValueError(
                "`upsampling` must be a power of two. Received: "
                f"upsampling={upsampling}"
            )
        check_positive_int(filters, "filters")
        self.upsampling = upsampling
        self.filters = filters
        self.batch_norm = bool(batch_norm)
        self.activation = keras.activations.get(activation)
        self.stages = [self._unit()]
        for _ in range(upsampling.bit_length() - 1):
            self.stages.append(
                keras.layers.UpSampling2D(
                    2, interpolation="bilinear", dtype=self.dtype_policy
                )
            )
            self.stages.append(self._unit())

    def _unit(self):
        return _ConvUnit(
            self.filters,
            1,
            3,
            self.batch_norm,
            self.activation,
            dtype=self.dtype_policy,
        )

    def build(self, input_shape):
        build_chain(self.stages, input_shape)
        self.built = True

    def call(self, inputs, training=None):
        return call_chain(self.stages, inputs, training)

    def compute_output_shape(self, input_shape):
        return chain_output_shape(self.stages, input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "upsampling": self.upsampling,
                "filters": self.filters,
                "batch_norm": self.batch_norm,
                "activation": keras.activations.serialize(self.activation),
            }
        )
        return config
