"""The identity router of a shared-bottom (hard parameter sharing) model."""

import keras

from keras_mtcrl.api_export import keras_mtcrl_export
from keras_mtcrl.layers.layer_utils import check_task_names


@keras_mtcrl_export
class SharedRouter(keras.layers.Layer):
    """Gives every task the whole shared representation.

    The router of classic hard parameter sharing: `u_t = z` for every task
    `t`. It has no weights; it exists so that a shared-bottom baseline is
    the same `MultiTaskModel` as MT-CRL with only the router swapped.

    Args:
        task_names: sequence of str. The tasks, in order.
        **kwargs: base layer keyword arguments.

    Call arguments:
        modules: tensor `(batch, ..., C)`.

    Returns:
        Dict of task name to `modules`.

    Example:

    >>> import numpy as np
    >>> sorted(SharedRouter(["a", "b"])(np.ones((1, 2)))) == ["a", "b"]
    True
    """

    def __init__(self, task_names, **kwargs):
        super().__init__(**kwargs)
        self.task_names = check_task_names(task_names)

    def build(self, input_shape):
        self.built = True

    def call(self, modules):
        return {task: modules for task in self.task_names}

    def compute_output_shape(self, input_shape):
        return {task: tuple(input_shape) for task in self.task_names}

    def get_config(self):
        config = super().get_config()
        config.update({"task_names": list(self.task_names)})
        return config
