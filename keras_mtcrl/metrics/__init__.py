"""Metrics: dense prediction (segmentation, depth, normals) and Delta_m."""

from keras_mtcrl.metrics.delta_m import delta_m
from keras_mtcrl.metrics.delta_m import delta_m_table
from keras_mtcrl.metrics.depth_metrics import DepthAbsError
from keras_mtcrl.metrics.depth_metrics import DepthRelError
from keras_mtcrl.metrics.normal_metrics import NormalAngleError
from keras_mtcrl.metrics.normal_metrics import NormalWithinAngle
from keras_mtcrl.metrics.segmentation_metrics import PixelAccuracy
from keras_mtcrl.metrics.segmentation_metrics import SegmentationMeanIoU
from keras_mtcrl.metrics.worst_environment_loss import WorstEnvironmentLoss

__all__ = [
    "DepthAbsError",
    "DepthRelError",
    "NormalAngleError",
    "NormalWithinAngle",
    "PixelAccuracy",
    "SegmentationMeanIoU",
    "WorstEnvironmentLoss",
    "delta_m",
    "delta_m_table",
]
