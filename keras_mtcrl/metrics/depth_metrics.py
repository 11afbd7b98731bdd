"""Depth metrics, and the masked per-pixel mean that dense metrics share."""

import keras
from keras import ops

from keras_mtcrl.api_export import keras_mtcrl_export


def pixel_weights(valid, sample_weight=None, dtype="float32"):
    """Per-pixel weights: `valid` as 0/1 times the broadcast sample weight.

    Args:
        valid: bool tensor. Which pixels count, e.g. `(B, H, W)`.
        sample_weight: tensor. Per sample `(B,)` or per pixel, broadcast
            against `valid` from the left. Defaults to `None` (ones).
        dtype: str. Dtype of the weights. Defaults to `"float32"`.

    Returns:
        A tensor shaped like `valid`.

    Example:

    >>> w = pixel_weights(ops.array([[True, False]]), ops.array([2.0]))
    >>> ops.convert_to_numpy(w).tolist()
    [[2.0, 0.0]]
    """
    weights = ops.cast(valid, dtype)
    if sample_weight is None:
        return weights
    sample_weight = ops.cast(sample_weight, dtype)
    while len(sample_weight.shape) < len(weights.shape):
        sample_weight = ops.expand_dims(sample_weight, -1)
    return weights * sample_weight


def match_ranks(y_true, y_pred):
    """Drops a trailing axis of size 1 so both have the same rank.

    Args:
        y_true: tensor. E.g. `(B, H, W)` or `(B, H, W, 1)`.
        y_pred: tensor. E.g. `(B, H, W, 1)`.

    Returns:
        `(y_true, y_pred)` of equal rank.

    Example:

    >>> t, p = match_ranks(ops.zeros((2, 4, 4)), ops.zeros((2, 4, 4, 1)))
    >>> tuple(p.shape)
    (2, 4, 4)
    """
    if len(y_pred.shape) == len(y_true.shape) + 1:
        y_pred = ops.squeeze(y_pred, -1)
    elif len(y_true.shape) == len(y_pred.shape) + 1:
        y_true = ops.squeeze(y_true, -1)
    return y_true, y_pred


@keras_mtcrl_export
class MaskedPixelMean(keras.metrics.Metric):
    """Streaming mean of a per-pixel value over the valid pixels.

    The base of the dense metrics: a subclass defines
    `pixel_values(y_true, y_pred) -> (values, valid)`; the metric sums
    `values * weight` and `weight` over all valid pixels of all batches
    (a pixel-weighted mean, not a mean of per-batch means). Invalid pixels
    (missing labels) never count, even when their value is NaN; a NaN
    prediction at a valid pixel makes the result NaN.

    Args:
        name: str. Metric name. Defaults to `None`.
        dtype: str. Dtype of the state. Defaults to `None`.

    Example:

    >>> class MeanTarget(MaskedPixelMean):
    ...     def pixel_values(self, y_true, y_pred):
    ...         return y_true, y_true > 0
    >>> m = MeanTarget()
    >>> m.update_state(ops.array([0.0, 2.0, 4.0]), ops.zeros(3))
    >>> float(m.result())
    3.0
    """

    def __init__(self, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable((), "zeros", name="total")
        self.count = self.add_variable((), "zeros", name="count")

    def pixel_values(self, y_true, y_pred):
        """Returns `(values, valid)`: per-pixel values and a bool mask."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement `pixel_values`."
        )

    def update_state(self, y_true, y_pred, sample_weight=None):
        self.accumulate(y_true, y_pred, sample_weight)

    def accumulate(self, y_true, y_pred, sample_weight=None):
        """Adds a batch; returns its `(values, weights)` per pixel.

        Values are 0 and weights 0 at invalid pixels. Subclasses that
        keep more state (a histogram) build on the returned pixels.
        """
        values, valid = self.pixel_values(y_true, y_pred)
        weights = pixel_weights(valid, sample_weight, self.dtype)
        values = ops.where(valid, ops.cast(values, self.dtype), 0.0)
        self.total.assign_add(ops.sum(values * weights))
        self.count.assign_add(ops.sum(weights))
        return values, weights

    def result(self):
        return ops.divide_no_nan(self.total, self.count)

    def reset_state(self):
        for variable in self.variables:
            variable.assign(ops.zeros(variable.shape, variable.dtype))


@keras_mtcrl_export
class DepthAbsError(MaskedPixelMean):
    """Mean absolute depth error over pixels with known depth.

    Missing depth is NaN (or inf) in `y_true` (the loaders' convention);
    those pixels are skipped.

    Args:
        name: str. Metric name. Defaults to `"abs_error"` (Keras
            prefixes the output name, e.g. `depth_abs_error`).
        dtype: str. Dtype of the state. Defaults to `None`.

    Example:

    >>> m = DepthAbsError()
    >>> m.update_state(ops.array([[1.0], [2.0], [float("nan")], [4.0]]),
    ...                ops.array([[1.5], [2.0], [9.0], [3.0]]))
    >>> float(m.result())
    0.5
    """

    def __init__(self, name="abs_error", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def pixel_values(self, y_true, y_pred):
        y_true, y_pred = match_ranks(y_true, y_pred)
        y_true = ops.cast(y_true, self.dtype)
        y_pred = ops.cast(y_pred, self.dtype)
        return ops.abs(y_pred - y_true), ops.isfinite(y_true)


@keras_mtcrl_export
class DepthRelError(MaskedPixelMean):
    """Mean relative depth error `|pred - true| / true` over known depth.

    Pixels whose true depth is NaN, infinite or not positive are skipped.

    Args:
        name: str. Metric name. Defaults to `"rel_error"`.
        dtype: str. Dtype of the state. Defaults to `None`.

    Example:

    >>> m = DepthRelError()
    >>> m.update_state(ops.array([1.0, 2.0, float("nan"), 4.0]),
    ...                ops.array([1.5, 2.0, 9.0, 3.0]))
    >>> float(m.result())
    0.25
    """

    def __init__(self, name="rel_error", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def pixel_values(self, y_true, y_pred):
        y_true, y_pred = match_ranks(y_true, y_pred)
        y_true = ops.cast(y_true, self.dtype)
        y_pred = ops.cast(y_pred, self.dtype)
        valid = ops.isfinite(y_true) & (y_true > 0)
        safe = ops.where(valid, y_true, 1.0)
        return ops.abs(y_pred - y_true) / safe, valid
