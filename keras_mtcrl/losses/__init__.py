"""Penalties of the MT-CRL objective."""

from keras_mtcrl.losses.disentanglement import DisentanglementPenalty
from keras_mtcrl.losses.invariance import InvariancePenalty
from keras_mtcrl.losses.penalty import Penalty
from keras_mtcrl.losses.sparsity import SparsityPenalty

__all__ = [
    "DisentanglementPenalty",
    "InvariancePenalty",
    "Penalty",
    "SparsityPenalty",
]
