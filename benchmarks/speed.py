"""Throughput and memory of one training step: MT-CRL against plain Keras.

Every model of a workload shares the encoder design, the heads, the
batch and the data, and all run in one process, so their ratios measure
what keras_mtcrl adds: `MultiTaskModel` (custom step, per-task losses,
no penalty), `CausalMTLModel` without penalties (the causal graph only),
with each penalty alone, and with all of them. The invariance penalty is
also taken apart (see `INVARIANCE_PROFILE`).

Method: a `model.fit` of a few steps on a cached, repeated `tf.data`
dataset warms up (tracing, XLA compilation); then each round times a
window of steps of the compiled train function that `fit` built (the one
it calls once per step), on a persistent iterator of that dataset. The
models of a table are timed in many short rotating rounds, so all of
them sample the same stretch of time and the same background load; a
model's step time is the median of all its timed steps, and ratios are
ratios of these. The 5th percentile is given beside it: other processes
only ever add time, so that near-minimum estimates the step on an idle
machine (but, from few samples, is noisier).
Memory is read from TensorFlow's CPU allocator statistics
(`tf.config.experimental.get_memory_info`): the peak over the timed steps
minus the bytes held when they start (weights, optimizer slots, data),
i.e. the transient memory of a training step. XLA's buffers are counted.
"""

import dataclasses
import functools
import statistics
import time

import keras
import numpy as np
import tensorflow as tf

from benchmarks import report
from keras_mtcrl.layers import ChannelGroupEncoder
from keras_mtcrl.layers import ExpertEncoder
from keras_mtcrl.layers import MixtureOfExpertsRouter
from keras_mtcrl.layers import TaskHead
from keras_mtcrl.losses import DisentanglementPenalty
from keras_mtcrl.losses import InvariancePenalty
from keras_mtcrl.losses import SparsityPenalty
from keras_mtcrl.models import CausalMTLModel
from keras_mtcrl.models import GroupDROModel
from keras_mtcrl.models import InvariantRiskModel
from keras_mtcrl.models import LabelGroups
from keras_mtcrl.models import MultiTaskModel
from keras_mtcrl.models import ReweightedModel


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
            y[task] = np.digitize(
                score, np.quantile(score, np.arange(1, 10) / 10)
            )
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
            num_modules=workload.num_modules,
            module_units=16,
            hidden_units=(64,),
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
        return {
            t: TaskHead("binary", hidden_units=(32,))
            for t in workload.task_names
        }
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
SHARED = "MultiTaskModel (shared)"
NO_PENALTY = "CausalMTLModel, no penalty"
INVARIANCE = "CausalMTLModel + P (grad_var)"
FULL = "CausalMTLModel, all terms"
MMOE = "MultiTaskModel (MMoE router)"
VREX = "CausalMTLModel + P (vrex)"
DETACHED = "CausalMTLModel + P (grad_var, detached)"


def _ood(workload, architecture):
    """A shared-bottom model trained by an out-of-distribution baseline
    (penalty weight 100 as the trainer's default, no warm-up, so that
    every timed step carries the penalty), with label groups counted on
    the data."""
    x, y = make_data(workload)
    heads = make_heads(workload)
    groups = LabelGroups.from_dataset(
        tf.data.Dataset.from_tensor_slices((x, y)), heads
    )
    common = dict(input_shape=(None,) + workload.input_shape)
    encoder = make_encoder(workload)
    if architecture == "reweight":
        return ReweightedModel(encoder, heads, groups, **common)
    if architecture == "groupdro":
        return GroupDROModel(encoder, heads, groups, **common)
    return InvariantRiskModel(
        encoder,
        heads,
        method=architecture,
        weight=100.0,
        environments=groups,
        **common,
    )


#: The out-of-distribution baselines (GMTL trains a plain shared bottom
#: and only changes predictions, so its step is `SHARED`'s).
OOD = {
    f"shared-bottom + {name}": functools.partial(_ood, architecture=method)
    for name, method in (
        ("reweight", "reweight"),
        ("GroupDRO", "groupdro"),
        ("IRMv1", "irmv1"),
        ("V-REx", "vrex"),
        ("Fishr", "fishr"),
    )
}
# Models outside the main table: the MMoE counterpart of LibMTL's MMoE,
# the OOD baselines (MLP only), and two probes that take the invariance
# penalty apart.
EXTRAS = {
    **OOD,
    MMOE: _mmoe,
    VREX: lambda w: _causal(w, invariance=InvariancePenalty("vrex")),
    DETACHED: lambda w: _causal(
        w, FirstOrderInvarianceModel, invariance=InvariancePenalty()
    ),
}
# The invariance penalty built up part by part: (step, model measured).
INVARIANCE_PROFILE = [
    ("causal graph only, no P", NO_PENALTY),
    ("+ environments and per-environment risks (P = vrex)", VREX),
    ("+ inner tape: per-sample dL/du, gate gradients (P detached)", DETACHED),
    ("+ second-order backward through the inner tape (full P)", INVARIANCE),
]


def builder(label):
    """Returns the builder(workload) of the model named `label`."""
    return VARIANTS[label] if label in VARIANTS else EXTRAS[label]


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

    warmup: int = 4
    rounds: int = 12
    window_s: float = 0.12
    min_steps: int = 4


QUICK_TIMING = Timing(warmup=3, rounds=2, window_s=0.01, min_steps=2)
# The near-minimum reported beside the median (see the module docstring).
LOW_QUANTILE = 0.05


@dataclasses.dataclass
class StepStats:
    """Timing and memory of one model's training step.

    `steps_ms` holds every timed step (ms), `peak_mib` the
    median over rounds of the transient allocator peak of a step (None
    where TensorFlow's CPU allocator keeps no statistics).
    """

    steps_ms: list
    peak_mib: float
    warmup_s: float
    batch_size: int

    @property
    def step_ms(self):
        """Median step time in milliseconds."""
        return float(np.median(self.steps_ms))

    @property
    def low_ms(self):
        """5th percentile of the step times (the near-minimum)."""
        return float(np.quantile(self.steps_ms, LOW_QUANTILE))

    @property
    def examples_per_s(self):
        return self.batch_size / self.step_ms * 1e3

    def ratio_to(self, other):
        """This step time over `other`'s."""
        return self.step_ms / other.step_ms


class _StepClock(keras.callbacks.Callback):
    """Records the time of every batch end."""

    def __init__(self):
        super().__init__()
        self.times = []

    def on_train_batch_end(self, batch, logs=None):
        self.times.append(time.perf_counter())


def _memory_info():
    return tf.config.experimental.get_memory_info("CPU:0")


@functools.cache
def memory_stats_available():
    """True when TF's CPU allocator counts small tensors too.

    That needs `TF_CPU_ALLOCATOR_USE_BFC=true` in the environment before
    TensorFlow starts (`benchmarks.run` sets it): oneDNN's default CPU
    allocator leaves allocations under 256 KiB out of its statistics.
    """
    before = _memory_info()["current"]
    probe = tf.random.uniform((256,))  # 1 KiB
    counted = _memory_info()["current"] > before
    del probe
    return counted


def _warm_up(model, dataset, steps):
    """Runs `fit` for `steps` steps; returns the batch end times."""
    clock = _StepClock()
    model.fit(
        dataset,
        epochs=1,
        steps_per_epoch=steps,
        verbose=0,
        callbacks=[clock],
    )
    return clock.times


def _timed_window(model, iterator, steps):
    """One window: `(list of step ms, transient peak MiB or None)`.

    Calls the compiled train function that `fit` built and calls once per
    step, on a persistent iterator: `fit`'s per-call set-up (a new data
    iterator, callbacks), which would dwarf a millisecond step, stays out.
    """
    base = None
    if memory_stats_available():
        tf.config.experimental.reset_memory_stats("CPU:0")
        base = _memory_info()["current"]
    times = [time.perf_counter()]
    for _ in range(steps):
        model.train_function(iterator)
        times.append(time.perf_counter())
    ms = list(np.diff(times) * 1e3)
    peak = None
    if base is not None:
        peak = (_memory_info()["peak"] - base) / 2**20
    return ms, peak


def measure_group(labels, workload, jit_compile, timing):
    """Builds, warms up and times several models in rotating rounds.

    Interleaving the models round by round spreads any background load
    of the machine evenly over them, so their ratios stay fair.

    Args:
        labels: list of model labels (see `builder`).
        workload: `Workload`.
        jit_compile: bool. XLA on or off.
        timing: `Timing`.

    Returns:
        Dict label -> `StepStats`.
    """
    keras.utils.clear_session(free_memory=True)
    dataset = make_dataset(workload)
    models, iterators, steps, warmup_s = {}, {}, {}, {}
    for label in labels:
        keras.utils.set_random_seed(0)
        model = builder(label)(workload)
        models[label] = compile_model(model, workload, jit_compile)
        start = time.perf_counter()
        ends = _warm_up(models[label], dataset, timing.warmup)
        warmup_s[label] = time.perf_counter() - start
        rough = np.median(np.diff(ends[1:])) if timing.warmup > 2 else 1.0
        steps[label] = int(
            np.clip(round(timing.window_s / rough), timing.min_steps, 400)
        )
        # Distributed like fit's own iterator, so the function is reused.
        strategy = models[label].distribute_strategy
        iterators[label] = iter(
            strategy.experimental_distribute_dataset(dataset)
        )
    windows = {label: [] for label in labels}
    peaks = {label: [] for label in labels}
    for round_index in range(timing.rounds):
        shift = round_index % len(labels)
        for label in labels[shift:] + labels[:shift]:
            ms, peak = _timed_window(
                models[label], iterators[label], steps[label]
            )
            windows[label].extend(ms)
            peaks[label].append(peak)
    return {
        label: StepStats(
            steps_ms=windows[label],
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


# ---- The speed suite -----------------------------------------------------
MODES = {False: "graph", True: "XLA"}
#: The step-time ratio `CausalMTLModel` (all terms) / plain Keras that
#: each `(workload kind, jit_compile)` must stay within, as `(comparison,
#: bound)`: under 1.3 with XLA on both workloads; in graph mode (the
#: default of `compile`) at most 1.5 on the MLP and 1.1 on the conv
#: workload.
TARGETS = {
    ("mlp", False): ("<=", 1.5),
    ("mlp", True): ("<", 1.3),
    ("conv", False): ("<=", 1.1),
    ("conv", True): ("<", 1.3),
}


def plan(quick):
    """`(workload, jit_compile, model labels)` of each measured group."""
    if quick:
        mlp, conv = Workload("mlp", 2, 2, 32), Workload("conv", 2, 2, 16)
        return [
            (mlp, False, [BASELINE, SHARED, FULL]),
            (mlp, True, [BASELINE, FULL]),
            (conv, False, [BASELINE, FULL]),
        ]
    every = list(VARIANTS) + list(EXTRAS)
    mlp, conv = Workload("mlp", 4, 8, 256), Workload("conv", 2, 4, 128)
    conv_labels = [
        label for label in every if label != MMOE and label not in OOD
    ]
    return [
        (mlp, False, every),
        (mlp, True, every),
        (conv, False, conv_labels),
        (conv, True, conv_labels),
    ]


def measure_all(quick):
    """Runs every group of `plan(quick)`.

    Returns:
        Dict workload -> dict jit_compile -> dict label -> `StepStats`.
    """
    timing = QUICK_TIMING if quick else Timing()
    results = {}
    for workload, jit, labels in plan(quick):
        group = measure_group(labels, workload, jit, timing)
        results.setdefault(workload, {})[jit] = group
    return results


def _row_labels(by_mode):
    measured = set().union(*by_mode.values())
    return [
        label
        for label in list(VARIANTS) + [MMOE] + list(OOD)
        if label in measured
    ]


def throughput_table(workload, by_mode):
    """Step time, examples/s and the ratio to plain Keras, per XLA mode."""
    columns, rows = ["model"], []
    for jit in by_mode:
        mode = MODES[jit]
        columns += [
            f"{mode} ms/step",
            f"{mode} p5 ms",
            f"{mode} examples/s",
            f"{mode} x Keras",
        ]
    for label in _row_labels(by_mode):
        row = [label]
        for stats in by_mode.values():
            if label not in stats:
                row += [None] * 4
                continue
            own, base = stats[label], stats[BASELINE]
            row += [
                own.step_ms,
                own.low_ms,
                round(own.examples_per_s),
                own.ratio_to(base),
            ]
        rows.append(row)
    return report.Table(f"{workload.label}: throughput", columns, rows)


def memory_table(workload, by_mode):
    """Transient allocator peak of a step and warm-up time, per mode."""
    columns, rows = ["model"], []
    for jit in by_mode:
        mode = MODES[jit]
        columns += [f"{mode} step MiB", f"{mode} x Keras", f"{mode} warm-up s"]
    for label in _row_labels(by_mode):
        row = [label]
        for stats in by_mode.values():
            if label not in stats:
                row += [None, None, None]
                continue
            own, base = stats[label], stats[BASELINE]
            ratio = None
            if own.peak_mib is not None and base.peak_mib:
                ratio = own.peak_mib / base.peak_mib
            row += [own.peak_mib, ratio, own.warmup_s]
        rows.append(row)
    notes = [
        "Step MiB: peak bytes of TensorFlow's CPU allocator (BFC) during "
        "the timed steps minus the bytes held when they start. Warm-up s: "
        "the first `fit` (a few steps: tracing, and XLA compilation where "
        "on)."
    ]
    return report.Table(f"{workload.label}: memory", columns, rows, notes)


def profile_table(workload, by_mode):
    """The invariance penalty's cost, part by part."""
    columns = ["step"]
    for jit in by_mode:
        mode = MODES[jit]
        columns += [f"{mode} ms/step", f"{mode} +ms", f"{mode} share of P"]
    rows = []
    for index, (step, label) in enumerate(INVARIANCE_PROFILE):
        row = [step]
        for stats in by_mode.values():
            if label not in stats:
                row += [None, None, None]
                continue
            own = stats[label].step_ms
            total = stats[INVARIANCE].step_ms - stats[NO_PENALTY].step_ms
            added = None
            if index:
                previous = stats[INVARIANCE_PROFILE[index - 1][1]].step_ms
                added = own - previous
            share = None
            if added is not None and total > 0:
                share = f"{100 * added / total:.0f}%"
            row += [own, added, share]
        rows.append(row)
    return report.Table(
        f"{workload.label}: where the invariance penalty's time goes",
        columns,
        rows,
    )


def target_table(results):
    """MT-CRL overhead over plain Keras against `TARGETS`."""
    rows = []
    for workload, by_mode in results.items():
        for jit, stats in by_mode.items():
            ratio = stats[FULL].ratio_to(stats[BASELINE])
            target, status = TARGETS.get((workload.kind, jit)), "—"
            if target is not None:
                comparison, bound = target
                within = ratio <= bound if comparison == "<=" else ratio < bound
                status = "met" if within else "not met"
            shared = None
            if SHARED in stats:
                shared = stats[SHARED].ratio_to(stats[BASELINE])
            rows.append(
                [
                    f"{workload.kind}, {MODES[jit]}",
                    shared,
                    ratio,
                    "—" if target is None else f"{comparison} {bound}",
                    status,
                ]
            )
    columns = [
        "workload",
        "MultiTaskModel x Keras",
        "CausalMTLModel (all terms) x Keras",
        "target",
        "status",
    ]
    return report.Table("MT-CRL overhead against the target", columns, rows)


def tables(results):
    """All speed tables of `measure_all`'s results, target first."""
    out = [target_table(results)]
    for workload, by_mode in results.items():
        out.append(throughput_table(workload, by_mode))
        out.append(memory_table(workload, by_mode))
        if any(VREX in stats for stats in by_mode.values()):
            out.append(profile_table(workload, by_mode))
    return out
