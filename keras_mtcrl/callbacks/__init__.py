"""Keras callbacks of keras_mtcrl."""

from keras_mtcrl.callbacks.causal_graph_image import CausalGraphImage

__all__ = ["CausalGraphImage"]
