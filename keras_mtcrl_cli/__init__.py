"""The `keras-mtcrl` command's launcher: answers without TensorFlow.

`keras-mtcrl --help`, `--version` and `list` are answered here, from the
standard library alone; every other command quiets TensorFlow's start-up
logs and then hands over to `keras_mtcrl.cli`, which imports TensorFlow.
This package sits next to `keras_mtcrl` (not inside it) because importing
anything under `keras_mtcrl` first runs `keras_mtcrl/__init__.py`, which
imports TensorFlow and registers every layer for `keras.saving`.
"""

from keras_mtcrl_cli.launcher import main

__all__ = ["main"]
