"""Keras metrics for dense prediction (segmentation, depth, normals)."""

from keras_mtcrl.metrics.depth_metrics import DepthAbsError
from keras_mtcrl.metrics.depth_metrics import DepthRelError
from keras_mtcrl.metrics.normal_metrics import NormalAngleError
from keras_mtcrl.metrics.normal_metrics import NormalWithinAngle
from keras_mtcrl.metrics.segmentation_metrics import PixelAccuracy
from keras_mtcrl.metrics.segmentation_metrics import SegmentationMeanIoU

__all__ = [
    "DepthAbsError",
    "DepthRelError",
    "NormalAngleError",
    "NormalWithinAngle",
    "PixelAccuracy",
    "SegmentationMeanIoU",
]
