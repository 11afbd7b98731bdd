"""The task-to-module causal graph: which modules each task may read."""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_mtcrl.api_export import keras_mtcrl_export
from keras_mtcrl.layers.layer_utils import check_positive_int
from keras_mtcrl.layers.layer_utils import check_task_names

GATE_KINDS = ("hard_concrete", "sigmoid")
# Hard-concrete stretch interval and temperature (Louizos et al., ICLR
# 2018): a stretched sigmoid clipped to [0, 1], so that exact zeros and
# ones have non-zero probability.
_LOW, _HIGH, _BETA = -0.1, 1.1, 2.0 / 3.0
_EPSILON = 1e-6


@keras_mtcrl_export
class CausalGraph(keras.layers.Layer):
    """Learned task-to-module graph that gates the modules each task reads.

    Holds a trainable `(T, K)` logit matrix (the weight named `logits`).
    Task `t` reads `u_t = concat_k(A[t, k] * n(z_k))`, where `n` optionally
    normalises each module per sample (`normalize_modules`), so that a
    module's scale carries no information that a head could use to undo a
    gate.

    Two kinds of gate:

    - `"hard_concrete"` (default): while training, each sample draws its
      own gate from the hard-concrete distribution (Louizos et al., "Learning
      Sparse Neural Networks through L0 Regularization", ICLR 2018). A drawn
      0 removes the module for that sample, which no rescaling of the head
      can compensate, so the task loss depends on the gate's value, not
      only its scale. At inference the gate is deterministic:
      `clip(sigmoid(theta) * 1.2 - 0.1, 0, 1)`, exactly 0 for a closed edge.
    - `"sigmoid"`: `A = sigmoid(theta)`, soft and deterministic. A Dense
      head can undo it (kept as an ablation).

    The logits start at `initial_logit` (0: every gate at 0.5), and are
    divided by `temperature`.

    Args:
        task_names: sequence of str. One row of the graph per task, in order.
        num_modules: int. K, the number of modules (columns).
        temperature: float. Divides the logits, > 0. Lower values let
            Adam-like optimizers (whose steps do not depend on the gradient's
            scale) move the gates faster. Defaults to `1.0`.
        initial_logit: float. Initial `theta / temperature` of every edge.
            Defaults to `0.0` (gates at 0.5).
        gate: str. `"hard_concrete"` or `"sigmoid"`. Defaults to
            `"hard_concrete"`.
        normalize_modules: bool. Scale each module of each sample to unit
            root-mean-square before gating. Defaults to `True`.
        seed: int or None. Seed of the gate noise (None: 0). Defaults to
            `None`.
        **kwargs: base layer keyword arguments.

    Call arguments:
        modules: tensor `(batch, ..., K * module_width)`.
        training: bool. Sample the gates (hard-concrete) when True.

    Returns:
        Dict of task name to the gated modules, same shape as `modules`.

    Example:

    >>> import numpy as np
    >>> graph = CausalGraph(["a", "b"], num_modules=2,
    ...                     normalize_modules=False)
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
        initial_logit=0.0,
        gate="hard_concrete",
        normalize_modules=True,
        seed=None,
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
        if gate not in GATE_KINDS:
            raise ValueError(
                f"`gate` must be one of {GATE_KINDS}. Received: gate={gate!r}"
            )
        self.num_modules = num_modules
        self.temperature = float(temperature)
        self.initial_logit = float(initial_logit)
        self.gate = gate
        self.normalize_modules = bool(normalize_modules)
        self.seed = seed

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
        self.noise_step = self.add_weight(
            name="noise_step",
            shape=(),
            initializer="zeros",
            # float32 (exact to 2**24 calls): every weight stays a float,
            # as finiteness checks and optimizers expect.
            dtype="float32",
            trainable=False,
            aggregation="only_first_replica",
        )
        self.built = True

    # ---- Gates ----------------------------------------------------------
    def log_alpha(self):
        """The float32 `(T, K)` gate logits `theta / temperature`."""
        return ops.cast(self.logits, "float32") / self.temperature

    def gates(self):
        """Returns `A`, the float32 `(T, K)` inference-time gate values."""
        if self.gate == "sigmoid":
            return ops.sigmoid(self.log_alpha())
        stretched = ops.sigmoid(self.log_alpha()) * (_HIGH - _LOW) + _LOW
        return ops.clip(stretched, 0.0, 1.0)

    def open_probability(self):
        """`P(A[t, k] > 0)` while training, float32 `(T, K)`.

        The expected L0 norm of the graph per edge (hard-concrete); the
        gate value itself for sigmoid gates.
        """
        if self.gate == "sigmoid":
            return self.gates()
        shift = _BETA * np.log(-_LOW / _HIGH)
        return ops.sigmoid(self.log_alpha() - shift)

    def sample_gates(self, batch_size):
        """Draws per-sample training gates `(batch, T, K)` (hard-concrete).

        The noise is a stateless function of `(seed, training call, index of
        the sample in the global batch)`: a resumed run, an XLA run and a
        run split over `tf.distribute` replicas draw the same gates as one
        uninterrupted run on one device. The call counter is a
        non-trainable weight, so it is saved and restored with the model.
        """
        shape = (len(self.task_names), self.num_modules)
        context = tf.distribute.get_replica_context()
        replicas, replica = 1, 0
        if context is not None:
            replicas = context.num_replicas_in_sync
            replica = context.replica_id_in_sync_group
        step = tf.cast(self.noise_step, "int64")
        seed = tf.stack([tf.constant(self.seed or 0, "int64"), step])
        noise = tf.random.stateless_uniform(
            (batch_size * replicas,) + shape,
            seed=seed,
            minval=_EPSILON,
            maxval=1.0 - _EPSILON,
            alg="philox",
        )
        if replicas > 1:
            noise = noise[replica * batch_size:(replica + 1) * batch_size]
        self.noise_step.assign_add(1)
        logistic = ops.log(noise) - ops.log(1.0 - noise)
        soft = ops.sigmoid((logistic + self.log_alpha()[None]) / _BETA)
        return ops.clip(soft * (_HIGH - _LOW) + _LOW, 0.0, 1.0)

    # ---- Routing --------------------------------------------------------
    def group(self, modules, normalize=None):
        """The modules as `(batch, ..., K, module_width)`, in their dtype.

        Args:
            modules: `(batch, ..., K * module_width)`.
            normalize: bool or None. Scale each module of each sample to
                unit root-mean-square; None: `normalize_modules`.
        """
        if normalize is None:
            normalize = self.normalize_modules
        shape = ops.shape(modules)
        grouped = ops.reshape(
            modules,
            tuple(shape[:-1]) + (self.num_modules, self.module_width),
        )
        if not normalize:
            return grouped
        dtype = grouped.dtype
        grouped = ops.cast(grouped, "float32")
        # rsqrt with an epsilon inside: finite (also its second derivative,
        # which the invariance penalty takes) for an all-zero module.
        mean_square = ops.mean(ops.square(grouped), axis=-1, keepdims=True)
        grouped = grouped * ops.rsqrt(mean_square + 1e-6)
        return ops.cast(grouped, dtype)

    def normalize(self, modules):
        """Each module of each sample scaled to unit root-mean-square."""
        return ops.reshape(
            self.group(modules, normalize=True), ops.shape(modules)
        )

    def prepare(self, modules):
        """The modules as the gates see them (normalised when asked)."""
        return self.normalize(modules) if self.normalize_modules else modules

    def call(self, modules, training=None, gate_gradient_scale=None):
        """Gates the modules per task.

        Args:
            modules: `(batch, ..., K * width)`.
            training: bool. Hard-concrete gates are sampled per sample.
            gate_gradient_scale: float `(batch, T)` or None. While training,
                the gradient that reaches the graph's logits through sample
                `i`'s gate of task `t` is multiplied by this factor; the
                forward values and every other gradient are unchanged.
                `CausalMTLModel(graph_balanced_risk=...)` uses it to train
                the graph on another weighting of the samples than the
                encoder and the heads.
        """
        shape = ops.shape(modules)
        # (batch, ..., K, width): each gate multiplies its module's
        # channels by broadcasting. (Gating a (batch, T, ..., K * width)
        # tensor of repeated gates and slicing out each task would cost
        # a dense zero-padded gradient per task in the backward pass.)
        grouped = self.group(modules)
        rank = len(grouped.shape)
        if training and (
            self.gate == "hard_concrete" or gate_gradient_scale is not None
        ):
            if self.gate == "hard_concrete":
                gates = self.sample_gates(shape[0])
            else:
                # One (T, K) matrix for every sample, so that each sample's
                # gradient can be scaled on its own.
                gates = ops.broadcast_to(
                    self.gates()[None],
                    (shape[0], len(self.task_names), self.num_modules),
                )
            if gate_gradient_scale is not None:
                scale = ops.cast(gate_gradient_scale, "float32")[..., None]
                # Value `gates`; gradient `scale` times that of `gates`.
                gates = gates * scale + ops.stop_gradient(
                    gates * (1.0 - scale)
                )
            # (batch, T, K) -> per task (batch, 1, ..., 1, K, 1)
            gates = ops.unstack(ops.cast(gates, grouped.dtype), axis=1)
            gate_shape = (-1,) + (1,) * (rank - 3) + (self.num_modules, 1)
        else:
            # (T, K) -> per task (K, 1)
            gates = ops.unstack(ops.cast(self.gates(), grouped.dtype))
            gate_shape = (self.num_modules, 1)
        return {
            task: ops.reshape(grouped * ops.reshape(gate, gate_shape), shape)
            for task, gate in zip(self.task_names, gates)
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
                "gate": self.gate,
                "normalize_modules": self.normalize_modules,
                "seed": self.seed,
            }
        )
        return config
