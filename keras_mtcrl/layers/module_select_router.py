"""A fixed router: each task reads a chosen subset of the modules."""

import keras
from keras import ops

from keras_mtcrl.api_export import keras_mtcrl_export
from keras_mtcrl.layers.layer_utils import check_positive_int
from keras_mtcrl.layers.layer_utils import check_task_names


@keras_mtcrl_export
class ModuleSelectRouter(keras.layers.Layer):
    """Gives each task a fixed set of the encoder's modules.

    The router of models with per-task columns (cross-stitch networks:
    task `t` reads column `t`) and of fixed, hand-made task-to-module
    graphs. The encoder's last axis is read as `num_modules` equal
    groups, as by `keras_mtcrl.layers.CausalGraph`; task `t` receives
    the concatenation of its modules. No weights.

    Args:
        task_names: sequence of str. The tasks, in order.
        num_modules: int. K, the number of modules in the input.
        assignment: dict task -> list of module indices, or None for
            "task `i` reads module `i`" (needs `K == T`). Defaults to
            `None`.
        **kwargs: base layer keyword arguments.

    Call arguments:
        modules: tensor `(batch, ..., K * d)`.

    Returns:
        Dict of task name to `(batch, ..., len(assignment[task]) * d)`.

    Example:

    >>> import numpy as np
    >>> router = ModuleSelectRouter(["a", "b"], num_modules=2)
    >>> out = router(np.array([[1.0, 2.0, 3.0, 4.0]], "float32"))
    >>> out["a"].numpy().tolist(), out["b"].numpy().tolist()
    ([[1.0, 2.0]], [[3.0, 4.0]])
    """

    def __init__(self, task_names, num_modules, assignment=None, **kwargs):
        super().__init__(**kwargs)
        self.task_names = check_task_names(task_names)
        check_positive_int(num_modules, "num_modules")
        if assignment is None:
            if num_modules != len(self.task_names):
                raise ValueError(
                    "Without `assignment`, task i reads module i, so "
                    "`num_modules` must equal the number of tasks "
                    f"({len(self.task_names)}). Received: "
                    f"num_modules={num_modules}"
                )
            assignment = {t: [i] for i, t in enumerate(self.task_names)}
        if not isinstance(assignment, dict) or sorted(assignment) != sorted(
            self.task_names
        ):
            raise ValueError(
                "`assignment` must be a dict with one entry per task "
                f"{list(self.task_names)}. Received: assignment={assignment!r}"
            )
        for task, indices in assignment.items():
            indices = list(indices)
            if not indices or not all(
                isinstance(i, int) and 0 <= i < num_modules for i in indices
            ):
                raise ValueError(
                    f"`assignment['{task}']` must be a non-empty list of "
                    f"module indices in [0, {num_modules}). Received: "
                    f"{indices!r}"
                )
        self.num_modules = num_modules
        self.assignment = {
            t: [int(i) for i in assignment[t]] for t in self.task_names
        }

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None or channels % self.num_modules:
            raise ValueError(
                f"The modules' width ({channels}) must be divisible by "
                f"num_modules={self.num_modules}."
            )
        self.module_width = channels // self.num_modules
        self.built = True

    def call(self, modules):
        width = self.module_width
        outputs = {}
        for task in self.task_names:
            parts = [
                modules[..., k * width:(k + 1) * width]
                for k in self.assignment[task]
            ]
            outputs[task] = (
                parts[0] if len(parts) == 1 else ops.concatenate(parts, -1)
            )
        return outputs

    def compute_output_shape(self, input_shape):
        width = input_shape[-1] // self.num_modules
        return {
            task: tuple(input_shape[:-1])
            + (len(self.assignment[task]) * width,)
            for task in self.task_names
        }

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "task_names": list(self.task_names),
                "num_modules": self.num_modules,
                "assignment": self.assignment,
            }
        )
        return config
