"""Diagnostics of a dataset before training: is there a label shortcut?"""

from keras_mtcrl.diagnostics.label_dependence import format_dependence_table
from keras_mtcrl.diagnostics.label_dependence import label_dependence

__all__ = ["format_dependence_table", "label_dependence"]
