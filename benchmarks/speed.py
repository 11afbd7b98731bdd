"""Throughput and memory of one training step: MT-CRL against plain Keras.

Every model of a workload shares the encoder design, the heads, the
batch and the data, and all run in one process, so their ratios measure
what keras_mtcrl adds: `MultiTaskModel` (custom step, per-task losses,
no penalty), `CausalMTLModel` without penalties (the causal graph only),
with each penalty alone, and with all of them. The invariance penalty is
also taken apart (see `INVARIANCE_PROFILE`).

Method: `model.fit` on a cached, repeated `tf.data` dataset (the way
users train). A first `fit` warms up (tracing, XLA compilation); a second
`fit` runs `repeats` windows of `steps` steps, timed between consecutive
`on_train_batch_end` calls, so fit's own per-step loop is included and
its per-call set-up is not. The step time is the median over windows.
Memory is read from TensorFlow's CPU allocator statistics
(`tf.config.experimental.get_memory_info`): the peak over the timed steps
minus the bytes held when they start (weights, optimizer slots, data),
i.e. the transient memory of a training step. XLA's buffers are counted.
"""

import dataclasses
import os
import statistics
import time

import keras
import numpy as np
import tensorflow as tf

from keras_mtcrl.layers import ChannelGroupEncoder
from keras_mtcrl.layers import ExpertEncoder
from keras_mtcrl.layers import MixtureOfExpertsRouter
from keras_mtcrl.layers import TaskHead
from keras_mtcrl.losses import DisentanglementPenalty
from keras_mtcrl.losses import InvariancePenalty
from keras_mtcrl.losses import SparsityPenalty
from keras_mtcrl.models import CausalMTLModel
from keras_mtcrl.models import MultiTaskModel


@dataclasses.dataclass(frozen=True)
class Workload:
    """Sizes of one benchmark model.

    Args:
        kind: str. `"mlp"` (ExpertEncoder over tabular features, binary
            tasks) or `"conv"` (ChannelGroupEncoder over a small CNN on
            28x28x1 images, 10-class tasks).
        num_tasks: int. T.
        num_modules: int. K.
        batch_size: int.
        features: int. Input width of the MLP workload. Defaults to `32`.

    Example:

    >>> Workload("mlp", 4, 8, 256).input_shape
    (32,)
    """

    kind: str
    num_tasks: int
    num_modules: int
    batch_size: int
    features: int = 32

    @property
    def input_shape(self):
        return (self.features,) if self.kind == "mlp" else (28, 28, 1)

    @property
    def task_names(self):
        return [f"t{i}" for i in range(self.num_tasks)]

    @property
    def label(self):
        return (
            f"{self.kind} (T={self.num_tasks}, K={self.num_modules}, "
            f"batch {self.batch_size})"
        )


def make_data(workload, num_batches=8, seed=0):
    """Returns numpy `(x, y)` for `num_batches` batches; `y` is a dict."""
    rng = np.random.default_rng(seed)
    n = num_batches * workload.batch_size
    x = rng.normal(size=(n,) + workload.input_shape).astype("float32")
    flat = x.reshape(n, -1)
    y = {}
    for task in workload.task_names:
        score = flat @ rng.normal(size=flat.shape[1]).astype("float32")
        if workload.kind == "mlp":
            y[task] = (score > 0).astype("float32")
        else:
            y[task] = np.digitize(score, np.quantile(score, np.arange(1, 10) / 10))
            y[task] = y[task].astype("int32")
    return x, y


def make_dataset(workload, num_batches=8):
    """Cached, repeated, prefetched `tf.data` dataset of the workload."""
    x, y = make_data(workload, num_batches)
    dataset = tf.data.Dataset.from_tensor_slices((x, y))
    dataset = dataset.batch(workload.batch_size, drop_remainder=True)
    return dataset.cache().repeat().prefetch(tf.data.AUTOTUNE)


def make_encoder(workload):
    """The shared encoder: K MLP experts, or a CNN read as K channel groups."""
    if workload.kind == "mlp":
        return ExpertEncoder(
            num_modules=workload.num_modules, module_units=16, hidden_units=(64,)
        )
    backbone = keras.Sequential(
        [
            keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dense(16 * workload.num_modules, activation="relu"),
        ]
    )
    return ChannelGroupEncoder(backbone, num_modules=workload.num_modules)


def make_heads(workload):
    """One head per task: binary (MLP) or 10-class (conv), 32 hidden units."""
    if workload.kind == "mlp":
        return {t: TaskHead("binary", hidden_units=(32,)) for t in workload.task_names}
    return {
        t: TaskHead("multiclass", units=10, hidden_units=(32,))
        for t in workload.task_names
    }


def plain_keras_model(workload):
    """Functional shared-bottom model with the same encoder and heads."""
    inputs = keras.Input(workload.input_shape)
    shared = make_encoder(workload)(inputs)
    heads = make_heads(workload)
    outputs = {task: head(shared) for task, head in heads.items()}
    return keras.Model(inputs, outputs)


class FirstOrderInvarianceModel(CausalMTLModel):
    """CausalMTLModel whose invariance penalty is computed, not trained.

    Profiling probe: the penalty's value (and so the inner gradient tape)
    is computed, but no gradient flows back through it, so the
    second-order backward pass of the nested tape is skipped.
    """

    def objective_terms(self, forward, labels, environment, training):
        terms = super().objective_terms(forward, labels, environment, training)
        weight, value, is_global = terms["loss_inv"]
        terms["loss_inv"] = (weight, tf.stop_gradient(value), is_global)
        return terms


def _causal(workload, model_class=CausalMTLModel, **penalties):
    options = {"disentanglement": None, "sparsity": None, "invariance": None}
    options.update(penalties)
    return model_class(
        encoder=make_encoder(workload),
        heads=make_heads(workload),
        input_shape=(None,) + workload.input_shape,
        **options,
    )


def _multitask(workload, router=None):
    return MultiTaskModel(
        encoder=make_encoder(workload),
        heads=make_heads(workload),
        router=router,
        input_shape=(None,) + workload.input_shape,
    )


def _mmoe(workload):
    router = MixtureOfExpertsRouter(workload.task_names, workload.num_modules)
    return _multitask(workload, router)


# Each variant: label -> builder(workload) of an uncompiled model.
VARIANTS = {
    "plain Keras shared-bottom": plain_keras_model,
    "MultiTaskModel (shared)": _multitask,
    "CausalMTLModel, no penalty": _causal,
    "CausalMTLModel + L_dis": lambda w: _causal(
        w, disentanglement=DisentanglementPenalty()
    ),
    "CausalMTLModel + L_sp": lambda w: _causal(w, sparsity=SparsityPenalty()),
    "CausalMTLModel + P (grad_var)": lambda w: _causal(
        w, invariance=InvariancePenalty()
    ),
    "CausalMTLModel, all terms": lambda w: _causal(
        w,
        disentanglement=DisentanglementPenalty(),
        sparsity=SparsityPenalty(),
        invariance=InvariancePenalty(),
    ),
}
BASELINE = "plain Keras shared-bottom"
FULL = "CausalMTLModel, all terms"
MMOE = "MultiTaskModel (MMoE router)"

# The invariance penalty built up part by part (see `profile_table`).
INVARIANCE_PROFILE = {
    "graph only (no P)": _causal,
    "+ environments, per-env risks (P=vrex)": lambda w: _causal(
        w, invariance=InvariancePenalty("vrex")
    ),
    "+ inner tape dL/du (grad_var, P detached)": lambda w: _causal(
        w, FirstOrderInvarianceModel, invariance=InvariancePenalty()
    ),
    "+ second-order backward (grad_var, full)": lambda w: _causal(
        w, invariance=InvariancePenalty()
    ),
}


def compile_model(model, workload, jit_compile):
    """Compiles with Adam, no metrics (the plain model gets per-task losses)."""
    if isinstance(model, MultiTaskModel):
        model.compile(optimizer="adam", metrics=None, jit_compile=jit_compile)
        return model
    loss = (
        "binary_crossentropy"
        if workload.kind == "mlp"
        else "sparse_categorical_crossentropy"
    )
    model.compile(
        optimizer="adam",
        loss={t: loss for t in workload.task_names},
        jit_compile=jit_compile,
    )
    return model



# ---- Timing --------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Timing:
    """How to time: warm-up steps, rounds, and the length of one window.

    Args:
        warmup: int. Steps of the warm-up `fit` (tracing, compilation).
        rounds: int. Timed windows per model, taken in rotating order.
        window_s: float. Target length of one window in seconds.
        min_steps: int. Fewest steps in a window.
    """

    warmup: int = 6
    rounds: int = 7
    window_s: float = 0.25
    min_steps: int = 5


QUICK_TIMING = Timing(warmup=3, rounds=2, window_s=0.01, min_steps=2)


@dataclasses.dataclass
class StepStats:
    """Timing and memory of one model's training step.

    `window_ms` holds the mean step time of each round, `peak_mib` the
    median over rounds of the transient allocator peak of a step (None
    where TensorFlow's CPU allocator keeps no statistics).
    """

    window_ms: list
    peak_mib: float
    warmup_s: float
    batch_size: int

    @property
    def step_ms(self):
        return float(statistics.median(self.window_ms))

    @property
    def examples_per_s(self):
        return self.batch_size / self.step_ms * 1e3

    def ratio_to(self, other):
        """Median over rounds of this step time over `other`'s."""
        pairs = zip(self.window_ms, other.window_ms)
        return float(statistics.median(a / b for a, b in pairs))


class _StepClock(keras.callbacks.Callback):
    """Records every batch end; resets memory statistics at the first."""

    def __init__(self):
        super().__init__()
        self.times = []
        self.base_bytes = None

    def on_train_batch_end(self, batch, logs=None):
        self.times.append(time.perf_counter())
        if len(self.times) == 1 and memory_stats_available():
            tf.config.experimental.reset_memory_stats("CPU:0")
            self.base_bytes = _memory_info()["current"]


def _memory_info():
    return tf.config.experimental.get_memory_info("CPU:0")


def memory_stats_available():
    """True when TF's CPU allocator counts every tensor.

    That needs `TF_CPU_ALLOCATOR_USE_BFC=true` in the environment before
    TensorFlow starts (`benchmarks.run` sets it); oneDNN's default CPU
    allocator leaves allocations under 256 KiB out of its statistics.
    """
    return os.environ.get("TF_CPU_ALLOCATOR_USE_BFC", "").lower() == "true"


def _fit(model, dataset, steps):
    clock = _StepClock()
    model.fit(
        dataset,
        epochs=1,
        steps_per_epoch=steps,
        verbose=0,
        callbacks=[clock],
    )
    return clock


def _timed_window(model, dataset, steps):
    """One window: `(ms per step, transient peak MiB or None)`."""
    clock = _fit(model, dataset, steps + 1)
    ms = (clock.times[-1] - clock.times[0]) / steps * 1e3
    peak = None
    if clock.base_bytes is not None:
        peak = (_memory_info()["peak"] - clock.base_bytes) / 2**20
    return ms, peak


def measure_group(builders, workload, jit_compile, timing):
    """Builds, warms up and times several models in rotating rounds.

    Interleaving the models round by round spreads any background load
    of the machine evenly over them, so their ratios stay fair.

    Args:
        builders: dict label -> builder(workload) of an uncompiled model.
        workload: `Workload`.
        jit_compile: bool. XLA on or off.
        timing: `Timing`.

    Returns:
        Dict label -> `StepStats`.
    """
    keras.utils.clear_session(free_memory=True)
    dataset = make_dataset(workload)
    models, steps, warmup_s = {}, {}, {}
    for label, builder in builders.items():
        keras.utils.set_random_seed(0)
        models[label] = compile_model(builder(workload), workload, jit_compile)
        start = time.perf_counter()
        clock = _fit(models[label], dataset, timing.warmup)
        warmup_s[label] = time.perf_counter() - start
        rough = float(np.median(np.diff(clock.times[1:]))) if (
            timing.warmup > 2
        ) else 1e-3
        steps[label] = int(
            np.clip(round(timing.window_s / rough), timing.min_steps, 400)
        )
    windows = {label: [] for label in builders}
    peaks = {label: [] for label in builders}
    labels = list(builders)
    for round_index in range(timing.rounds):
        shift = round_index % len(labels)
        for label in labels[shift:] + labels[:shift]:
            ms, peak = _timed_window(models[label], dataset, steps[label])
            windows[label].append(ms)
            peaks[label].append(peak)
    return {
        label: StepStats(
            window_ms=windows[label],
            peak_mib=(
                None
                if peaks[label][0] is None
                else float(statistics.median(peaks[label]))
            ),
            warmup_s=warmup_s[label],
            batch_size=workload.batch_size,
        )
        for label in labels
    }


def workloads(quick):
    """The MLP and conv workloads (tiny ones when `quick`)."""
    if quick:
        return [Workload("mlp", 2, 2, 32), Workload("conv", 2, 2, 16)]
    return [Workload("mlp", 4, 8, 256), Workload("conv", 2, 4, 128)]
