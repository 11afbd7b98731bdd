"""A shared convolutional backbone for dense prediction, in two styles."""

import keras

from keras_mtcrl.api_export import keras_mtcrl_export
from keras_mtcrl.layers.layer_utils import build_chain
from keras_mtcrl.layers.layer_utils import build_sublayer
from keras_mtcrl.layers.layer_utils import call_chain
from keras_mtcrl.layers.layer_utils import chain_output_shape
from keras_mtcrl.layers.layer_utils import check_positive_int

STYLES = ("resnet", "segnet")
#: Size presets: (width of each stage, conv blocks per stage).
SIZES = {
    "tiny": ((16, 32), 1),
    "small": ((32, 64, 128), 1),
    "base": ((64, 128, 256), 2),
    "large": ((64, 128, 256, 512), 2),
}


class _ConvUnit(keras.layers.Layer):
    """3x3 (or `kernel`) convolution, optional batch norm, activation."""

    def __init__(
        self, filters, strides, kernel, batch_norm, activation, **kwargs
    ):
        super().__init__(**kwargs)
        self.conv = keras.layers.Conv2D(
            filters,
            kernel,
            strides=strides,
            padding="same",
            use_bias=not batch_norm,
            dtype=self.dtype_policy,
        )
        # Momentum 0.9 (PyTorch's default): the moving statistics keep up
        # in short runs, where Keras' 0.99 lags the changing weights.
        self.norm = (
            keras.layers.BatchNormalization(
                momentum=0.9, dtype=self.dtype_policy
            )
            if batch_norm
            else None
        )
        self.activation = activation

    def build(self, input_shape):
        shape = build_sublayer(self.conv, input_shape)
        if self.norm is not None:
            build_sublayer(self.norm, shape)
        self.built = True

    def call(self, inputs, training=None):
        x = self.conv(inputs)
        if self.norm is not None:
            x = self.norm(x, training=training)
        return self.activation(x) if self.activation is not None else x

    def compute_output_shape(self, input_shape):
        return self.conv.compute_output_shape(input_shape)


class _ResidualBlock(keras.layers.Layer):
    """Basic ResNet block: two 3x3 units and a (projected) shortcut."""

    def __init__(self, filters, strides, batch_norm, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activation
        self.first = _ConvUnit(
            filters,
            strides,
            3,
            batch_norm,
            activation,
            dtype=self.dtype_policy,
        )
        self.second = _ConvUnit(
            filters, 1, 3, batch_norm, None, dtype=self.dtype_policy
        )
        self.filters, self.strides = filters, strides
        self.batch_norm = batch_norm
        self.shortcut = None

    def build(self, input_shape):
        if self.strides != 1 or input_shape[-1] != self.filters:
            self.shortcut = _ConvUnit(
                self.filters,
                self.strides,
                1,
                self.batch_norm,
                None,
                dtype=self.dtype_policy,
            )
            build_sublayer(self.shortcut, input_shape)
        shape = build_sublayer(self.first, input_shape)
        build_sublayer(self.second, shape)
        self.built = True

    def call(self, inputs, training=None):
        x = self.second(
            self.first(inputs, training=training), training=training
        )
        skip = inputs
        if self.shortcut is not None:
            skip = self.shortcut(inputs, training=training)
        return self.activation(x + skip)

    def compute_output_shape(self, input_shape):
        return self.first.compute_output_shape(input_shape)


@keras_mtcrl_export
class ConvBackbone(keras.layers.Layer):
    """A shared convolutional backbone whose output channels form modules.

    The shared bottom of the dense-prediction recipes (NYUv2, CityScapes,
    Taskonomy, procedural scenes): wrap it in
    `keras_mtcrl.layers.ChannelGroupEncoder`, which reads its
    `output_channels` as K equal channel groups (the modules), and give
    each task a `keras_mtcrl.layers.DenseDecoder` that upsamples by
    `output_stride`. Two styles, each in the `SIZES` presets (stage
    widths, conv blocks per stage):

    - `"resnet"`: a 3x3 stem, then basic residual blocks; every stage
      after the first halves the resolution (`output_stride =
      2 ** (stages - 1)`), as in ResNet-based multi-task models.
    - `"segnet"`: an encoder of conv units and 2x2 max pooling, then a
      mirrored decoder with 2x upsampling (nearest neighbour in place of
      SegNet's pooling-index unpooling), at full resolution
      (`output_stride = 1`), as in SegNet-based multi-task models whose
      task heads are a few convolutions.

    A final 1x1 unit projects to `output_channels`. Input height and width
    must be divisible by `2 ** (stages - 1)`.

    Args:
        style: str. `"resnet"` or `"segnet"`. Defaults to `"resnet"`.
        size: str. A key of `SIZES`: `"tiny"`, `"small"`, `"base"` or
            `"large"`. Defaults to `"small"`.
        output_channels: int. Channels of the output (K times the module
            width). Defaults to `64`.
        batch_norm: bool. Batch normalization after each convolution.
            Defaults to `True`.
        activation: str. Activation. Defaults to `"relu"`.
        **kwargs: base layer keyword arguments.

    Call arguments:
        inputs: float tensor `(batch, height, width, channels)`.
        training: bool. Batch-norm mode.

    Returns:
        Tensor `(batch, height / output_stride, width / output_stride,
        output_channels)`.

    Example:

    >>> import numpy as np
    >>> backbone = ConvBackbone("resnet", "tiny", output_channels=8)
    >>> backbone(np.zeros((2, 8, 8, 3), "float32")).shape
    TensorShape([2, 4, 4, 8])
    >>> ConvBackbone("segnet", "small").output_stride
    1
    """

    def __init__(
        self,
        style="resnet",
        size="small",
        output_channels=64,
        batch_norm=True,
        activation="relu",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if style not in STYLES:
            raise ValueError(
                f"`style` must be one of {STYLES}. Received: style={style!r}"
            )
        if size not in SIZES:
            raise ValueError(
                f"`size` must be one of {tuple(SIZES)}. Received: size={size!r}"
            )
        check_positive_int(output_channels, "output_channels")
        self.style = style
        self.size = size
        self.output_channels = output_channels
        self.batch_norm = bool(batch_norm)
        self.activation = keras.activations.get(activation)
        widths, blocks = SIZES[size]
        self.num_stages = len(widths)
        self.output_stride = self.output_stride_of(style, size)
        self.units = (
            self._resnet_units(widths, blocks)
            if style == "resnet"
            else self._segnet_units(widths, blocks)
        )
        self.units.append(self._unit(output_channels, 1, kernel=1))

    @staticmethod
    def output_stride_of(style, size):
        """Input size over output size of a backbone, without making one.

        Args:
            style: str. A key of `STYLES`.
            size: str. A key of `SIZES`.

        Returns:
            int: 1 for `"segnet"`, `2 ** (stages - 1)` for `"resnet"`.

        Example:

        >>> ConvBackbone.output_stride_of("resnet", "small")
        4
        """
        if style == "segnet":
            return 1
        return 2 ** (len(SIZES[size][0]) - 1)

    def _unit(self, filters, strides, kernel=3):
        return _ConvUnit(
            filters,
            strides,
            kernel,
            self.batch_norm,
            self.activation,
            dtype=self.dtype_policy,
        )

    def _resnet_units(self, widths, blocks):
        units = [self._unit(widths[0], 1)]
        for stage, width in enumerate(widths):
            for block in range(blocks):
                strides = 2 if stage > 0 and block == 0 else 1
                units.append(
                    _ResidualBlock(
                        width,
                        strides,
                        self.batch_norm,
                        self.activation,
                        dtype=self.dtype_policy,
                    )
                )
        return units

    def _segnet_units(self, widths, blocks):
        units = []
        for stage, width in enumerate(widths):
            units += [self._unit(width, 1) for _ in range(blocks)]
            if stage < len(widths) - 1:
                units.append(
                    keras.layers.MaxPooling2D(2, dtype=self.dtype_policy)
                )
        for width in reversed(widths[:-1]):
            units.append(keras.layers.UpSampling2D(2, dtype=self.dtype_policy))
            units += [self._unit(width, 1) for _ in range(blocks)]
        return units

    def build(self, input_shape):
        factor = 2 ** (self.num_stages - 1)
        for axis, extent in zip(("height", "width"), input_shape[1:3]):
            if extent is not None and extent % factor:
                raise ValueError(
                    f"The input {axis} ({extent}) must be divisible by "
                    f"{factor} for a {self.num_stages}-stage backbone "
                    f"(size={self.size!r}). Resize the images or pick "
                    "another size."
                )
        build_chain(self.units, input_shape)
        self.built = True

    def call(self, inputs, training=None):
        return call_chain(self.units, inputs, training)

    def compute_output_shape(self, input_shape):
        return chain_output_shape(self.units, input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "style": self.style,
                "size": self.size,
                "output_channels": self.output_channels,
                "batch_norm": self.batch_norm,
                "activation": keras.activations.serialize(self.activation),
            }
        )
        return config
