"""The task-to-module causal graph: which modules each task may read."""

import keras
import numpy as np
from keras import ops

from keras_mtcrl.api_export import keras_mtcrl_export
from keras_mtcrl.layers.layer_utils import check_positive_int
from keras_mtcrl.layers.layer_utils import check_task_names


@keras_mtcrl_export
class CausalGraph(keras.layers.Layer):
    """Learned task-to-module graph that gates the modules each task reads.

    Holds a trainable `(T, K)` logit matrix `theta` (the weight named
    `logits`), independent of the input. The edge weights are
    `A = sigmoid(theta / temperature)`, and task `t` reads
    `u_t = concat_k(A[t, k] * z_k)`: module `k`'s channels scaled by
    `A[t, k]`. An edge `k -> t` is present where `A[t, k] > 0.5`. Sparsity
    and invariance penalties on `A` decide which modules are causal for
    which task.

    Args:
        task_names: sequence of str. One row of the graph per task, in order.
        num_modules: int. K, the number of modules (columns).
        temperature: float. Sigmoid temperature, > 0. Lower values make the
            graph sharper and, with Adam-like optimizers (whose steps do not
            depend on the gradient's scale), let edges move faster.
            Defaults to `1.0`.
        initial_logit: float. Initial `theta / temperature` of every edge,
            so the starting graph does not depend on the temperature; the
            default `2.0` starts each edge at `sigmoid(2) = 0.88`, nearly
            open.
        **kwargs: base layer keyword arguments.

    Call arguments:
        modules: tensor `(batch, ..., K * module_width)`.

    Returns:
        Dict of task name to the gated modules, same shape as `modules`.

    Example:

    >>> import numpy as np
    >>> graph = CausalGraph(["a", "b"], num_modules=2, initial_logit=0.0)
    >>> out = graph(np.ones((1, 4), "float32"))
    >>> out["a"].numpy().tolist()
    [[0.5, 0.5, 0.5, 0.5]]
    >>> graph.adjacency().shape
    (2, 2)
    """

    def __init__(
        self,
        task_names,
        num_modules,
        temperature=1.0,
        initial_logit=2.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.task_names = check_task_names(task_names)
        check_positive_int(num_modules, "num_modules")
        if not isinstance(temperature, (int, float)) or not temperature > 0:
            raise ValueError(
                "`temperature` must be a positive number. Received: "
                f"temperature={temperature!r}"
            )
        self.num_modules = num_modules
        self.temperature = float(temperature)
        self.initial_logit = float(initial_logit)

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None or channels % self.num_modules:
            raise ValueError(
                f"The modules' width ({channels}, input shape "
                f"{tuple(input_shape)}) must be divisible by "
                f"num_modules={self.num_modules}."
            )
        self.module_width = channels // self.num_modules
        self.logits = self.add_weight(
            name="logits",
            shape=(len(self.task_names), self.num_modules),
            initializer=keras.initializers.Constant(
                self.initial_logit * self.temperature
            ),
            dtype="float32",
        )
        self.built = True

    def gates(self):
        """Returns `A`, the float32 `(T, K)` matrix of edge weights."""
        return ops.sigmoid(ops.cast(self.logits, "float32") / self.temperature)

    def channel_gates(self, gates=None):
        """`A` expanded to one gate per channel: `(T, K * module_width)`."""
        gates = self.gates() if gates is None else gates
        return ops.repeat(gates, self.module_width, axis=1)

    def call(self, modules, gates=None):
        channel_gates = ops.cast(self.channel_gates(gates), modules.dtype)
        return {
            task: modules * channel_gates[index]
            for index, task in enumerate(self.task_names)
        }

    def adjacency(self, threshold=0.5):
        """Returns the boolean `(T, K)` numpy edge matrix `A > threshold`."""
        return np.asarray(self.gates()) > threshold

    def compute_output_shape(self, input_shape):
        return {task: tuple(input_shape) for task in self.task_names}

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "task_names": list(self.task_names),
                "num_modules": self.num_modules,
                "temperature": self.temperature,
                "initial_logit": self.initial_logit,
            }
        )
        return config
