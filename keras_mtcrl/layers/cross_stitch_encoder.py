"""Cross-stitch networks: one column per task, linearly mixed."""

import keras
import numpy as np
from keras import ops

from keras_mtcrl.api_export import keras_mtcrl_export
from keras_mtcrl.layers.layer_utils import check_positive_int


@keras_mtcrl_export
class CrossStitchEncoder(keras.layers.Layer):
    """Parallel per-task columns joined by learned cross-stitch units.

    Misra et al., "Cross-stitch Networks for Multi-task Learning", CVPR
    2016. Each task has its own column (an MLP acting on the last axis);
    after every layer a cross-stitch unit replaces the columns'
    activations `x_1..x_C` by linear mixtures
    `x~_i = sum_j alpha[i, j] x_j`, with one trainable `(C, C)` matrix
    `alpha` per layer (the weights `stitch_<l>`). `alpha` starts at
    `self_weight` on the diagonal and shares the rest evenly off it, so
    the network learns how much each task borrows from the others.

    The output is the columns side by side, `(batch, ..., C * d)`, with
    `num_modules = C`: use `keras_mtcrl.layers.ModuleSelectRouter` to give
    column `t` to task `t` (the paper's model), or make the columns MT-CRL
    modules (`CausalMTLModel(encoder=CrossStitchEncoder(...))`) so the
    causal graph learns which columns each task reads.

    Args:
        num_columns: int. C, the number of columns (usually the number of
            tasks).
        hidden_units: tuple of int. Widths of each column's Dense layers.
            Defaults to `(16, 16)`.
        activation: str. Activation of the column layers. Defaults to
            `"relu"`.
        self_weight: float in (0, 1]. Initial diagonal of every `alpha`.
            Defaults to `0.9`.
        **kwargs: base layer keyword arguments.

    Call arguments:
        inputs: tensor `(batch, ..., F)`.

    Returns:
        Tensor `(batch, ..., num_columns * hidden_units[-1])`.

    Example:

    >>> import numpy as np
    >>> encoder = CrossStitchEncoder(num_columns=2, hidden_units=(4,))
    >>> encoder(np.ones((3, 5), "float32")).shape
    TensorShape([3, 8])
    >>> np.allclose(encoder.stitches[0], [[0.9, 0.1], [0.1, 0.9]])
    True
    """

    def __init__(
        self,
        num_columns,
        hidden_units=(16, 16),
        activation="relu",
        self_weight=0.9,
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_positive_int(num_columns, "num_columns")
        hidden_units = tuple(hidden_units)
        if not hidden_units:
            raise ValueError(
                "`hidden_units` must list at least one width. Received: "
                f"hidden_units={hidden_units!r}"
            )
        for units in hidden_units:
            check_positive_int(units, "hidden_units")
        if (
            isinstance(self_weight, bool)
            or not isinstance(self_weight, (int, float))
            or not 0.0 < self_weight <= 1.0
        ):
            raise ValueError(
                "`self_weight` must be a number in (0, 1]. Received: "
                f"self_weight={self_weight!r}"
            )
        self.num_columns = num_columns
        self.hidden_units = hidden_units
        self.activation = keras.activations.get(activation)
        self.self_weight = float(self_weight)
        self.columns = [
            [
                keras.layers.Dense(
                    units, activation=self.activation, name=f"col{c}_{i}"
                )
                for i, units in enumerate(hidden_units)
            ]
            for c in range(num_columns)
        ]
        self.module_width = hidden_units[-1]

    @property
    def num_modules(self):
        """The number of columns (the modules MT-CRL's graph routes)."""
        return self.num_columns

    def _initial_stitch(self):
        c = self.num_columns
        if c == 1:
            return np.ones((1, 1), "float32")
        off = (1.0 - self.self_weight) / (c - 1)
        matrix = np.full((c, c), off, "float32")
        np.fill_diagonal(matrix, self.self_weight)
        return matrix

    def build(self, input_shape):
        shape = tuple(input_shape)
        self.stitches = []
        for i, units in enumerate(self.hidden_units):
            for column in self.columns:
                column[i].build(shape)
            shape = shape[:-1] + (units,)
            self.stitches.append(
                self.add_weight(
                    name=f"stitch_{i}",
                    shape=(self.num_columns, self.num_columns),
                    initializer=keras.initializers.Constant(
                        self._initial_stitch()
                    ),
                )
            )
        self.built = True

    def call(self, inputs):
        activations = [inputs] * self.num_columns
        for i, stitch in enumerate(self.stitches):
            outputs = [
                column[i](x) for column, x in zip(self.columns, activations)
            ]
            stacked = ops.stack(outputs, axis=-2)
            mixed = ops.einsum(
                "ij,...jd->...id", ops.cast(stitch, stacked.dtype), stacked
            )
            activations = [mixed[..., c, :] for c in range(self.num_columns)]
        return ops.concatenate(activations, axis=-1)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (
            self.num_columns * self.hidden_units[-1],
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_columns": self.num_columns,
                "hidden_units": list(self.hidden_units),
                "activation": keras.activations.serialize(self.activation),
                "self_weight": self.self_weight,
            }
        )
        return config
