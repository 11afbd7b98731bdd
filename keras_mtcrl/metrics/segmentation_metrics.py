"""Dense segmentation metrics that skip ignored (unlabeled) pixels."""

import keras
from keras import ops

from keras_mtcrl.api_export import keras_mtcrl_export
from keras_mtcrl.metrics.depth_metrics import MaskedPixelMean
from keras_mtcrl.metrics.depth_metrics import pixel_weights


def class_ids(y_true, y_pred):
    """Returns int32 `(true, predicted)` class ids of the same shape.

    Args:
        y_true: int tensor. Class ids `(B, H, W)` or `(B, H, W, 1)`.
        y_pred: tensor. Scores `(B, H, W, C)` (logits or probabilities,
            argmax taken) or class ids shaped like `y_true`.

    Returns:
        A pair of int32 tensors `(B, H, W)` (or `y_true`'s shape).

    Example:

    >>> t, p = class_ids(ops.array([[1, 0]]), ops.array([[[0.1, 0.9]] * 2]))
    >>> ops.convert_to_numpy(p).tolist()
    [[1, 1]]
    """
    if len(y_pred.shape) == len(y_true.shape) and (
        y_true.shape[-1] == 1 and y_pred.shape[-1] != 1
    ):
        y_true = ops.squeeze(y_true, -1)
    if len(y_pred.shape) == len(y_true.shape) + 1:
        y_pred = ops.argmax(y_pred, axis=-1)
    return ops.cast(y_true, "int32"), ops.cast(y_pred, "int32")


@keras_mtcrl_export
class PixelAccuracy(MaskedPixelMean):
    """Share of labeled pixels whose predicted class is right.

    Args:
        ignore_index: int. Label of unlabeled pixels, skipped; negative
            labels are skipped as well. Defaults to `-1`.
        name: str. Metric name. Defaults to `"pixel_accuracy"`.
        dtype: str. Dtype of the state. Defaults to `None`.

    Example:

    >>> m = PixelAccuracy()
    >>> m.update_state(ops.array([[0, 0], [1, -1]]),
    ...                ops.array([[0, 1], [1, 1]]))
    >>> round(float(m.result()), 4)
    0.6667
    """

    def __init__(self, ignore_index=-1, name="pixel_accuracy", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.ignore_index = int(ignore_index)

    def pixel_values(self, y_true, y_pred):
        y_true, y_pred = class_ids(y_true, y_pred)
        valid = (y_true != self.ignore_index) & (y_true >= 0)
        return ops.cast(y_true == y_pred, self.dtype), valid

    def get_config(self):
        return {**super().get_config(), "ignore_index": self.ignore_index}


@keras_mtcrl_export
class SegmentationMeanIoU(keras.metrics.Metric):
    """Mean intersection-over-union of dense segmentation, ignore-aware.

    Accumulates a `num_classes x num_classes` confusion matrix over the
    labeled pixels of all batches; the result is the mean IoU over the
    classes that occur (in labels or predictions) so far. It takes logits
    or probabilities (argmax on the last axis) and skips `ignore_index`
    pixels, as `keras.metrics.MeanIoU(ignore_class=..., sparse_y_pred=
    False)` does, and unlike it also takes one sample weight per example
    (spread over its pixels), as `fit` passes with sample or group
    weights.

    Args:
        num_classes: int. Number of classes.
        ignore_index: int. Label of unlabeled pixels, skipped; labels
            outside `[0, num_classes)` are skipped as well. Defaults to
            `-1`.
        name: str. Metric name. Defaults to `"mean_iou"`.
        dtype: str. Dtype of the state. Defaults to `None`.

    Example:

    >>> m = SegmentationMeanIoU(num_classes=2)
    >>> m.update_state(ops.array([[0, 0], [1, -1]]),
    ...                ops.array([[0, 1], [1, 1]]))
    >>> float(m.result())
    0.5
    """

    def __init__(
        self, num_classes, ignore_index=-1, name="mean_iou", dtype=None
    ):
        super().__init__(name=name, dtype=dtype)
        if int(num_classes) < 1:
            raise ValueError(
                "`num_classes` must be a positive int. "
                f"Received: num_classes={num_classes}"
            )
        self.num_classes = int(num_classes)
        self.ignore_index = int(ignore_index)
        self.confusion = self.add_variable(
            (self.num_classes, self.num_classes), "zeros", name="confusion"
        )

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred = class_ids(y_true, y_pred)
        n = self.num_classes
        valid = (y_true != self.ignore_index) & (y_true >= 0) & (y_true < n)
        weights = pixel_weights(valid, sample_weight, self.dtype)
        cell = ops.where(valid, y_true * n + ops.clip(y_pred, 0, n - 1), 0)
        counts = ops.segment_sum(
            ops.reshape(weights, (-1,)),
            ops.reshape(cell, (-1,)),
            num_segments=n * n,
        )
        self.confusion.assign_add(ops.reshape(counts, (n, n)))

    def result(self):
        hits = ops.diagonal(self.confusion)
        union = (
            ops.sum(self.confusion, axis=0)
            + ops.sum(self.confusion, axis=1)
            - hits
        )
        present = ops.cast(union > 0, self.dtype)
        iou = ops.divide_no_nan(hits, union)
        return ops.divide_no_nan(ops.sum(iou), ops.sum(present))

    def reset_state(self):
        self.confusion.assign(ops.zeros(self.confusion.shape, self.dtype))

    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "ignore_index": self.ignore_index,
        }
