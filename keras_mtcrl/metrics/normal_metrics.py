"""Surface-normal metrics: angular error between predicted and true normals."""

import math

from keras import ops

from keras_mtcrl.api_export import keras_mtcrl_export
from keras_mtcrl.metrics.depth_metrics import MaskedPixelMean

_STATISTICS = ("mean", "median")


def normal_angles(y_true, y_pred):
    """Per-pixel angle in degrees between true and predicted normals.

    Both are scaled to unit length first. A pixel is valid when its true
    normal is finite and non-zero (missing normals are NaN).

    Args:
        y_true: tensor `(..., 3)`. True normals.
        y_pred: tensor `(..., 3)`. Predicted normals, any length.

    Returns:
        `(angles, valid)`, both shaped `y_true.shape[:-1]`.

    Example:

    >>> angles, valid = normal_angles(ops.array([[0.0, 0.0, 1.0]]),
    ...                               ops.array([[2.0, 0.0, 0.0]]))
    >>> float(angles[0]), bool(valid[0])
    (90.0, True)
    """
    y_true = ops.cast(y_true, "float32")
    y_pred = ops.cast(y_pred, "float32")
    true_norm = ops.norm(y_true, axis=-1)
    valid = ops.all(ops.isfinite(y_true), axis=-1) & (true_norm > 0)
    true_unit = y_true / ops.expand_dims(ops.where(valid, true_norm, 1.0), -1)
    pred_norm = ops.maximum(ops.norm(y_pred, axis=-1, keepdims=True), 1e-12)
    cosine = ops.sum(true_unit * (y_pred / pred_norm), axis=-1)
    angles = ops.arccos(ops.clip(cosine, -1.0, 1.0)) * (180.0 / math.pi)
    return angles, valid


@keras_mtcrl_export
class NormalAngleError(MaskedPixelMean):
    """Mean or median angular error of surface normals, in degrees.

    The mean is exact. The median over a stream of batches comes from a
    histogram of angles in bins of `bin_width` degrees over `[0, 180]`
    (3,600 bins at the default 0.05 degree), interpolated linearly inside
    the bin where the cumulative weight crosses one half: it is within
    `bin_width` of the exact median. Pixels whose true normal is missing
    (NaN) are skipped.

    Args:
        statistic: str. `"mean"` or `"median"`. Defaults to `"mean"`.
        bin_width: float. Histogram resolution in degrees. Defaults to
            `0.05`.
        name: str. Metric name. Defaults to `None`: `"mean_angle"` or
            `"median_angle"` (Keras prefixes the output name, e.g.
            `normal_mean_angle`).
        dtype: str. Dtype of the state. Defaults to `None`.

    Example:

    >>> true = ops.array([[0.0, 0.0, 1.0]] * 3)
    >>> pred = ops.array([[0.0, 0.0, 1.0], [1.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    >>> m = NormalAngleError()
    >>> m.update_state(true, pred)
    >>> float(m.result())
    45.0
    >>> m = NormalAngleError("median", bin_width=1.0)
    >>> m.update_state(true, pred)
    >>> round(float(m.result()), 2)
    45.5
    """

    def __init__(self, statistic="mean", bin_width=0.05, name=None, dtype=None):
        if statistic not in _STATISTICS:
            raise ValueError(
                f"`statistic` must be one of {_STATISTICS}. "
                f"Received: statistic={statistic!r}"
            )
        if not 0 < bin_width <= 180:
            raise ValueError(
                "`bin_width` must be in (0, 180] degrees. "
                f"Received: bin_width={bin_width}"
            )
        super().__init__(name=name or f"{statistic}_angle", dtype=dtype)
        self.statistic = statistic
        self.bin_width = float(bin_width)
        self.num_bins = math.ceil(180.0 / self.bin_width)
        self.histogram = self.add_variable(
            (self.num_bins,), "zeros", name="histogram"
        )

    def pixel_values(self, y_true, y_pred):
        return normal_angles(y_true, y_pred)

    def update_state(self, y_true, y_pred, sample_weight=None):
        angles, weights = self.accumulate(y_true, y_pred, sample_weight)
        # A NaN prediction lands in the last bin: the worst error.
        angles = ops.where(ops.isfinite(angles), angles, 180.0)
        bins = ops.clip(
            ops.cast(angles / self.bin_width, "int32"), 0, self.num_bins - 1
        )
        self.histogram.assign_add(
            ops.segment_sum(
                ops.reshape(weights, (-1,)),
                ops.reshape(bins, (-1,)),
                num_segments=self.num_bins,
            )
        )

    def result(self):
        if self.statistic == "mean":
            return super().result()
        cumulative = ops.cumsum(self.histogram)
        half = cumulative[-1] / 2.0
        crossed = ops.argmax(ops.cast(cumulative >= half, "int32"))
        inside = ops.take(self.histogram, crossed)
        below = ops.take(cumulative, crossed) - inside
        fraction = ops.divide_no_nan(half - below, inside)
        median = (ops.cast(crossed, self.dtype) + fraction) * self.bin_width
        return ops.where(cumulative[-1] > 0, median, 0.0)

    def get_config(self):
        return {
            **super().get_config(),
            "statistic": self.statistic,
            "bin_width": self.bin_width,
        }


@keras_mtcrl_export
class NormalWithinAngle(MaskedPixelMean):
    """Share of valid pixels whose normal error is below `threshold` degrees.

    The usual thresholds are 11.25, 22.5 and 30 degrees; the result is a
    fraction in `[0, 1]` (multiply by 100 for the percentages papers
    report).

    Args:
        threshold: float. Angle in degrees; errors strictly below count.
        name: str. Metric name. Defaults to `None`:
            `"within_{threshold}"`, e.g. `"within_11.25"`.
        dtype: str. Dtype of the state. Defaults to `None`.

    Example:

    >>> m = NormalWithinAngle(11.25)
    >>> m.update_state(ops.array([[0.0, 0.0, 1.0]] * 2),
    ...                ops.array([[0.0, 0.1, 1.0], [0.0, 1.0, 1.0]]))
    >>> m.name, float(m.result())
    ('within_11.25', 0.5)
    """

    def __init__(self, threshold, name=None, dtype=None):
        if not 0 < threshold <= 180:
            raise ValueError(
                "`threshold` must be in (0, 180] degrees. "
                f"Received: threshold={threshold}"
            )
        super().__init__(name=name or f"within_{threshold:g}", dtype=dtype)
        self.threshold = float(threshold)

    def pixel_values(self, y_true, y_pred):
        angles, valid = normal_angles(y_true, y_pred)
        return ops.cast(angles < self.threshold, self.dtype), valid

    def get_config(self):
        return {**super().get_config(), "threshold": self.threshold}
