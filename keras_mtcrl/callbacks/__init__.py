"""Keras callbacks of keras_mtcrl."""

from keras_mtcrl.callbacks.atomic_backup_and_restore import (
    AtomicBackupAndRestore,
)
from keras_mtcrl.callbacks.causal_graph_image import CausalGraphImage
from keras_mtcrl.callbacks.divergence_guard import DivergenceGuard
from keras_mtcrl.callbacks.non_finite_guard import NonFiniteGuard

__all__ = [
    "AtomicBackupAndRestore",
    "CausalGraphImage",
    "DivergenceGuard",
    "NonFiniteGuard",
]
