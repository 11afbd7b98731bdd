"""Diagnostics of a dataset before training: is there a label shortcut?"""

from keras_mtcrl.diagnostics.dependence_heatmap import HeatmapLayout
from keras_mtcrl.diagnostics.dependence_heatmap import dependence_heatmap
from keras_mtcrl.diagnostics.dependence_heatmap import dependence_matrices
from keras_mtcrl.diagnostics.dependence_heatmap import log_dependence_heatmap
from keras_mtcrl.diagnostics.dependence_heatmap import save_dependence_heatmap
from keras_mtcrl.diagnostics.label_dependence import format_dependence_table
from keras_mtcrl.diagnostics.label_dependence import label_dependence

__all__ = [
    "HeatmapLayout",
    "dependence_heatmap",
    "dependence_matrices",
    "format_dependence_table",
    "label_dependence",
    "log_dependence_heatmap",
    "save_dependence_heatmap",
]
