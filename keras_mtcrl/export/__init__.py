"""Exporting trained models for serving (TensorFlow SavedModel)."""

from keras_mtcrl.export.serving import export_for_serving
from keras_mtcrl.export.serving import serving_signature

__all__ = ["export_for_serving", "serving_signature"]
