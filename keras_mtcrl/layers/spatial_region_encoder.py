"""Modular encoder form (c): one module per spatial region of a feature map."""

import math

import keras

from keras_mtcrl.api_export import keras_mtcrl_export
from keras_mtcrl.layers.layer_utils import build_sublayer
from keras_mtcrl.layers.layer_utils import check_layer
from keras_mtcrl.layers.layer_utils import check_positive_int
from keras_mtcrl.layers.layer_utils import with_sublayers


def region_spans(side, parts, overlap=1):
    """Returns the `(start, size)` of `parts` regions covering `side` cells.

    The regions have one size, `ceil((side + (parts - 1) * overlap) /
    parts)` cells (at most `side - parts + 1`, so no two regions are the
    same), and their starts are spread evenly from 0 to `side - size`, so
    neighbours share about `overlap` cells.

    Args:
        side: int. Cells along the axis (the feature map's height or width).
        parts: int. Regions along the axis, at most `side`.
        overlap: int >= 0. Cells neighbours should share. Defaults to `1`.

    Returns:
        A tuple `(starts, size)`: a list of `parts` ints and an int.

    Example:

    >>> region_spans(5, 2)
    ([0, 2], 3)
    >>> region_spans(5, 3)
    ([0, 1, 2], 3)
    >>> region_spans(8, 2, overlap=0)
    ([0, 4], 4)
    """
    size = min(
        side - parts + 1, math.ceil((side + (parts - 1) * overlap) / parts)
    )
    if parts == 1:
        return [0], size
    return [round(i * (side - size) / (parts - 1)) for i in range(parts)], size


def grid_for(num_modules):
    """Returns the most nearly square `(rows, cols)` with `num_modules`
    cells, rows <= cols.

    Args:
        num_modules: int >= 1. K.

    Returns:
        A tuple of two ints.

    Example:

    >>> grid_for(9), grid_for(8), grid_for(2)
    ((3, 3), (2, 4), (1, 2))
    """
    check_positive_int(num_modules, "num_modules")
    rows = max(r for r in range(1, math.isqrt(num_modules) + 1)
               if num_modules % r == 0)
    return rows, num_modules // rows


@keras_mtcrl_export
class SpatialRegionEncoder(keras.layers.Layer):
    """Cuts a convolutional backbone's feature map into a grid of modules.

    Module k is a small dense projection of one spatial region of the
    backbone's `(batch, H, W, C)` map, so it sees only what lies in that
    region's receptive field. Images with several objects at different
    places (Multi-MNIST's two digits, a face's attributes) then give modules
    that can hold one object each, and the MT-CRL graph can cut a task off
    the region that carries another task's object: with channel groups of a
    dense layer, or experts that each see the whole image, every module
    sees every object and a closed edge removes nothing. Neighbouring
    regions overlap by `overlap` cells so that an object on a border is
    whole in some module.

    Args:
        backbone: `keras.layers.Layer` mapping the input to a feature map
            `(batch, H, W, C)` with known H, W and C.
        grid: int or `(rows, cols)`. Regions per axis; `rows * cols` is K,
            the number of modules. Defaults to `3`.
        module_units: int. Width of each module. Defaults to `16`.
        activation: str. Activation of the projections. Defaults to
            `"relu"`.
        overlap: int >= 0. Cells shared by neighbouring regions. Defaults
            to `1`.
        **kwargs: base layer keyword arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: the backbone's input.
        training: bool. Forwarded to the backbone.

    Returns:
        Tensor `(batch, K * module_units)`: the modules side by side, row by
        row of the grid.

    Example:

    >>> import numpy as np
    >>> backbone = keras.Sequential([keras.layers.Conv2D(4, 3)])
    >>> encoder = SpatialRegionEncoder(backbone, grid=2, module_units=8)
    >>> encoder(np.zeros((2, 7, 7, 1))).shape
    TensorShape([2, 32])
    >>> encoder.num_modules, encoder.module_width
    (4, 8)
    """

    def __init__(
        self,
        backbone,
        grid=3,
        module_units=16,
        activation="relu",
        overlap=1,
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_layer(backbone, "backbone")
        rows, cols = (grid, grid) if isinstance(grid, int) else tuple(grid)
        check_positive_int(rows, "grid")
        check_positive_int(cols, "grid")
        check_positive_int(module_units, "module_units")
        if isinstance(overlap, bool) or not isinstance(overlap, int) or (
            overlap < 0
        ):
            raise ValueError(
                f"`overlap` must be an int >= 0. Received: overlap={overlap!r}"
            )
        self.backbone = backbone
        self.grid = (rows, cols)
        self.module_units = module_units
        self.activation = keras.activations.get(activation)
        self.overlap = overlap
        self.num_modules = rows * cols
        self.module_width = module_units

    def build(self, input_shape):
        shape = tuple(build_sublayer(self.backbone, input_shape))
        if len(shape) != 4 or None in shape[1:]:
            raise ValueError(
                "The backbone must output a feature map (batch, H, W, C) "
                f"with known H, W and C. Got output shape {shape} for input "
                f"shape {tuple(input_shape)}."
            )
        height, width, channels = shape[1:]
        for side, parts, axis in ((height, self.grid[0], "H"),
                                  (width, self.grid[1], "W")):
            if parts > side:
                raise ValueError(
                    f"grid={self.grid} asks for {parts} regions along {axis}, "
                    f"but the backbone's map has {side} cells there (output "
                    f"shape {shape}). Use a smaller grid or a backbone that "
                    "downsamples less."
                )
        self._row_starts, self._row_size = region_spans(
            height, self.grid[0], self.overlap
        )
        self._col_starts, self._col_size = region_spans(
            width, self.grid[1], self.overlap
        )
        fan_in = self._row_size * self._col_size * channels
        self._fan_in = fan_in
        def per_region_glorot(shape, dtype=None):
            # Glorot over each region's own (fan_in, units) kernel; a fresh
            # initializer per region, since one unseeded Keras initializer
            # returns the same values on every call.
            return keras.ops.stack(
                [
                    keras.initializers.GlorotUniform()(
                        (fan_in, self.module_units), dtype
                    )
                    for _ in range(self.num_modules)
                ]
            )

        self.kernel = self.add_weight(
            name="kernel",
            shape=(self.num_modules, fan_in, self.module_units),
            initializer=per_region_glorot,
        )
        self.bias = self.add_weight(
            name="bias",
            shape=(self.num_modules, self.module_units),
            initializer="zeros",
        )
        self.built = True

    def call(self, inputs, training=None):
        features = self.backbone(inputs, training=training)
        regions = [
            features[:, r : r + self._row_size, c : c + self._col_size, :]
            for r in self._row_starts
            for c in self._col_starts
        ]
        # (batch, K, region cells * C): one flattened region per module.
        stacked = keras.ops.reshape(
            keras.ops.stack(regions, axis=1),
            (-1, self.num_modules, self._fan_in),
        )
        modules = keras.ops.einsum("bkp,kpu->bku", stacked, self.kernel)
        modules = self.activation(modules + self.bias)
        return keras.ops.reshape(
            modules, (-1, self.num_modules * self.module_units)
        )

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_modules * self.module_units)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "backbone": keras.saving.serialize_keras_object(self.backbone),
                "grid": list(self.grid),
                "module_units": self.module_units,
                "activation": keras.activations.serialize(self.activation),
                "overlap": self.overlap,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**with_sublayers(config, "backbone"))
