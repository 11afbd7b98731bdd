"""The per-task softmax gates of Multi-gate Mixture-of-Experts (MMoE)."""

import keras
from keras import ops

from keras_mtcrl.api_export import keras_mtcrl_export
from keras_mtcrl.layers.layer_utils import check_positive_int
from keras_mtcrl.layers.layer_utils import check_task_names


@keras_mtcrl_export
class MixtureOfExpertsRouter(keras.layers.Layer):
    """Input-dependent mixture of the K modules per task, as in MMoE.

    Ma et al., "Modeling Task Relationships in Multi-task Learning with
    Multi-gate Mixture-of-Experts", KDD 2018. For each task a softmax gate
    `g_t(x)` over the K experts mixes them: `u_t = sum_k g_t(x)[k] * z_k`.
    Here the gate reads the (spatially pooled) concatenated expert outputs
    rather than the raw input, so the router works with any encoder.

    Args:
        task_names: sequence of str. The tasks, in order.
        num_modules: int. K, the number of experts.
        **kwargs: base layer keyword arguments.

    Call arguments:
        modules: tensor `(batch, ..., K * d)`.

    Returns:
        Dict of task name to the mixture, `(batch, ..., d)`.

    Example:

    >>> import numpy as np
    >>> router = MixtureOfExpertsRouter(["a", "b"], num_modules=2)
    >>> router(np.ones((3, 8), "float32"))["a"].shape
    TensorShape([3, 4])
    """

    def __init__(self, task_names, num_modules, **kwargs):
        super().__init__(**kwargs)
        self.task_names = check_task_names(task_names)
        check_positive_int(num_modules, "num_modules")
        self.num_modules = num_modules
        self.gate_layers = {
            task: keras.layers.Dense(
                num_modules, activation="softmax", name=f"gate_{task}"
            )
            for task in self.task_names
        }

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None or channels % self.num_modules:
            raise ValueError(
                f"The modules' width ({channels}) must be divisible by "
                f"num_modules={self.num_modules}."
            )
        self.module_width = channels // self.num_modules
        for gate in self.gate_layers.values():
            gate.build((input_shape[0], channels))
        self.built = True

    def call(self, modules):
        rank = len(modules.shape)
        pooled = modules
        if rank > 2:
            pooled = ops.mean(modules, axis=tuple(range(1, rank - 1)))
        split = ops.reshape(
            modules,
            (-1,)
            + tuple(modules.shape[1:-1])
            + (self.num_modules, self.module_width),
        )
        outputs = {}
        for task, gate in self.gate_layers.items():
            weights = gate(pooled)
            weights = ops.reshape(
                weights, (-1,) + (1,) * (rank - 2) + (self.num_modules, 1)
            )
            outputs[task] = ops.sum(split * weights, axis=-2)
        return outputs

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape[:-1]) + (input_shape[-1] // self.num_modules,)
        return {task: shape for task in self.task_names}

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "task_names": list(self.task_names),
                "num_modules": self.num_modules,
            }
        )
        return config
