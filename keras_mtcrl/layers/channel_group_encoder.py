"""Modular encoder form (a): K channel groups of any backbone."""

import keras

from keras_mtcrl.api_export import keras_mtcrl_export
from keras_mtcrl.layers.layer_utils import build_sublayer
from keras_mtcrl.layers.layer_utils import check_layer
from keras_mtcrl.layers.layer_utils import check_positive_int
from keras_mtcrl.layers.layer_utils import with_sublayers


@keras_mtcrl_export
class ChannelGroupEncoder(keras.layers.Layer):
    """Splits a backbone's output channels into K neural modules.

    The cheap way to make any shared-bottom network modular: its last axis
    (`C` channels) is read as K contiguous groups of `C / K` channels, one
    per module. Works for vectors `(batch, C)` and feature maps
    `(batch, H, W, C)` alike, so it wraps MLPs and convolutional backbones
    for dense prediction. The MT-CRL graph then gates whole groups per
    task and the disentanglement penalty decorrelates them.

    Args:
        backbone: `keras.layers.Layer`. The shared network. Its output's
            last axis must be divisible by `num_modules`.
        num_modules: int. K, the number of modules. Defaults to `4`.
        **kwargs: base layer keyword arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: the backbone's input.
        training: bool. Forwarded to the backbone.

    Returns:
        The backbone's output `(batch, ..., K * module_width)`.

    Example:

    >>> import numpy as np
    >>> backbone = keras.Sequential([keras.layers.Dense(8)])
    >>> encoder = ChannelGroupEncoder(backbone, num_modules=4)
    >>> encoder(np.zeros((2, 3))).shape
    TensorShape([2, 8])
    >>> encoder.module_width
    2
    """

    def __init__(self, backbone, num_modules=4, **kwargs):
        super().__init__(**kwargs)
        check_positive_int(num_modules, "num_modules")
        check_layer(backbone, "backbone")
        self.backbone = backbone
        self.num_modules = num_modules
        self.module_width = None

    def build(self, input_shape):
        output_shape = build_sublayer(self.backbone, input_shape)
        channels = output_shape[-1]
        if channels is None or channels % self.num_modules:
            raise ValueError(
                f"The backbone's output width ({channels}, output shape "
                f"{tuple(output_shape)}) must be divisible by "
                f"num_modules={self.num_modules}. Change the backbone's last "
                "layer or `num_modules`."
            )
        self.module_width = channels // self.num_modules
        self.built = True

    def call(self, inputs, training=None):
        return self.backbone(inputs, training=training)

    def compute_output_shape(self, input_shape):
        return self.backbone.compute_output_shape(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "backbone": keras.saving.serialize_keras_object(self.backbone),
                "num_modules": self.num_modules,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**with_sublayers(config, "backbone"))
