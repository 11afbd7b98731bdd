"""Checks of every batch inside the training step, cheap and XLA-safe.

`validate_data` reads the first batches only. The step itself therefore
counts, in every batch, the labels and environment ids that cannot be
right: non-integral or too large class ids, binary or multi-label targets
outside [0, 1], negative or too large environment ids. They are left out
of the step (as missing labels, environment -1) and counted in
non-trainable sums, without asserts, so this works under `jit_compile`
too; `BatchAuditGuard` (added by `MultiTaskModel.fit` and `evaluate`)
turns a non-zero count into a `ValueError` at the end of that batch.

Errors that the shapes and dtypes alone show (string or ragged tensors,
unknown or missing input keys, float environment ids, no environment
entry for an `InvariancePenalty(num_environments=N)`) are raised while the
step is traced, as plain `ValueError`s.
"""

import keras
import tensorflow as tf

#: Check name -> what the error says about the counted values.
CHECKS = {
    "non_integral": "non-integral class id(s); class ids are integers "
    "0..{top} (-1 = missing)",
    "class_range": "class id(s) >= {units}, the head's number of classes "
    "(ids 0..{top}; -1 = missing)",
    "unit_interval": "target(s) outside [0, 1] for a {kind} task "
    "(NaN = missing)",
    "env_negative": "negative environment id(s); ids are 0..N-1",
    "env_range": "environment id(s) >= num_environments={units} (ids "
    "0..{top})",
}

_STRINGS = (
    "The {what} holds strings (or objects); the model takes numbers. "
    "Encode them first (e.g. keras.layers.StringLookup)."
)


class BatchAudit:
    """Per-task counters of bad values; a plain holder (not tracked).

    Args:
        model: `MultiTaskModel`. Make it under the model's strategy scope
            (as `compile` is).
    """

    def __init__(self, model):
        self.kinds = {
            t: (getattr(model.heads[t], "kind", None),
                getattr(model.heads[t], "units", None))
            for t in model.task_names
        }
        invariance = getattr(model, "invariance", None)
        self.num_environments = getattr(invariance, "num_environments", None)
        self.environment_key = model.environment_key
        self.counts = {}
        for task, (kind, _) in self.kinds.items():
            if kind == "multiclass":
                names = ("non_integral", "class_range")
            elif kind in ("binary", "multilabel"):
                names = ("unit_interval",)
            else:
                names = ()
            for name in names:
                self.counts[(task, name)] = _sum(f"{task}_{name}")
        for name in ("env_negative", "env_range"):
            self.counts[(self.environment_key, name)] = _sum(name)
        self.total = _sum("bad_values")

    def reset(self):
        for counter in [self.total, *self.counts.values()]:
            counter.reset_state()

    def labels(self, labels):
        """Counts bad labels; returns labels with them marked missing."""
        checked, bad_total = {}, []
        for task, value in labels.items():
            kind, units = self.kinds[task]
            value = tf.convert_to_tensor(value)
            if kind == "multiclass":
                ids = tf.cast(value, "float32")
                present = ids >= 0
                non_integral = present & tf.not_equal(ids, tf.floor(ids))
                too_large = present & (ids >= units)
                bad_total += self._count(task, "non_integral", non_integral)
                bad_total += self._count(task, "class_range", too_large)
                missing = float("nan") if value.dtype.is_floating else -1
                value = tf.where(
                    non_integral | too_large, tf.cast(missing, value.dtype),
                    value,
                )
            elif kind in ("binary", "multilabel"):
                outside = (value < 0) | (value > 1)
                bad_total += self._count(task, "unit_interval", outside)
                missing = float("nan") if value.dtype.is_floating else -1
                value = tf.where(outside, tf.cast(missing, value.dtype), value)
            checked[task] = value
        return checked, bad_total

    def environment(self, ids, check_range=True):
        """Counts bad environment ids; returns them with those set to -1
        (ids `>= num_environments` only when `check_range`)."""
        negative = ids < 0
        bad = self._count(self.environment_key, "env_negative", negative)
        if self.num_environments is not None and check_range:
            too_large = ids >= self.num_environments
            bad += self._count(self.environment_key, "env_range", too_large)
            ids = tf.where(too_large, tf.cast(-1, ids.dtype), ids)
        return ids, bad

    def _count(self, task, name, mask):
        count = tf.reduce_sum(tf.cast(mask, "float32"))
        self.counts[(task, name)].update_state(count)
        self.total.update_state(count)
        return [count]

    def message(self):
        """The error for the counts so far, or None when all are zero."""
        if float(self.total.result()) == 0:
            return None
        lines = []
        for (task, name), counter in self.counts.items():
            count = int(float(counter.result()))
            if not count:
                continue
            kind, units = self.kinds.get(task, (None, self.num_environments))
            detail = CHECKS[name].format(
                units=units, top=(units or 0) - 1, kind=kind
            )
            subject = (
                f"environment ids under '{task}'"
                if name.startswith("env")
                else f"labels of task '{task}'"
            )
            lines.append(f"{subject}: {count} {detail}")
        return "; ".join(lines)


def _sum(name):
    return keras.metrics.Sum(name=name, dtype="float32")


class BatchAuditGuard(keras.callbacks.Callback):
    """Raises `ValueError` at the first batch with bad labels or ids.

    Args:
        audit: `BatchAudit` of the model.
    """

    def __init__(self, audit):
        super().__init__()
        self.audit = audit
        self._epoch = 0

    def _start(self, logs=None):
        self.audit.reset()

    on_train_begin = _start
    on_test_begin = _start

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        self._check(f"Epoch {self._epoch + 1}, training batch {batch}")

    def on_test_batch_end(self, batch, logs=None):
        self._check(f"Evaluation batch {batch}")

    def _check(self, where):
        message = self.audit.message()
        if message:
            self.audit.reset()
            raise ValueError(
                f"{where}: {message}. Such values were left out of the "
                "step; fix the data (run "
                "keras_mtcrl.training.validation.validate_data on it)."
            )


def audit_batch(model, inputs, labels, training=True):
    """The step's checks of one batch; returns `(inputs, labels)`.

    At evaluation (`training=False`) an environment id `>= N` is allowed:
    a shifted split carries its own id, which counts in no environment.

    Raises a `ValueError` for what shapes and dtypes show (see the module
    docstring); counts bad values with the model's `BatchAudit` (made by
    `compile`) and leaves them out of the step.
    """
    check_inputs(model, inputs)
    check_environment_entry(model, inputs)
    _check_environment_dtype(model, inputs)
    for task, value in labels.items():
        _check_tensor(value, f"labels of task '{task}'")
    audit = getattr(model, "_batch_audit", None)
    if audit is None:
        return inputs, labels
    labels, _ = audit.labels(labels)
    key = model.environment_key
    if isinstance(inputs, dict) and key in inputs:
        ids, _ = audit.environment(
            tf.convert_to_tensor(inputs[key]), check_range=training
        )
        inputs = {**inputs, key: ids}
    return inputs, labels


def check_inputs(model, inputs):
    """Raises a `ValueError` for string, ragged or misnamed inputs (static:
    costs nothing per batch)."""
    key = model.environment_key
    items = inputs.items() if isinstance(inputs, dict) else [("x", inputs)]
    for name, value in items:
        _check_tensor(value, f"input '{name}'")
    expected = getattr(model, "_input_shape_arg", None)
    if isinstance(expected, dict) and isinstance(inputs, dict):
        wanted = set(expected) - {key}
        given = set(inputs) - {key}
        if wanted != given:
            raise ValueError(
                f"The inputs have keys {sorted(given)} but the model was "
                f"built for {sorted(wanted)} (plus '{key}' for environment "
                f"ids): unknown {sorted(given - wanted)}, missing "
                f"{sorted(wanted - given)}. Check the feature names."
            )


def _check_environment_dtype(model, inputs):
    # Only in the steps: Keras' own export feeds the entry as float32.
    key = model.environment_key
    if isinstance(inputs, dict) and key in inputs:
        dtype = tf.as_dtype(_dtype(inputs[key]))
        if not dtype.is_integer:
            raise ValueError(
                f"Environment ids under '{key}' have dtype {dtype.name}; "
                "they must be integers 0..N-1 (e.g. `ids.astype('int32')`)."
            )


def check_environment_entry(model, inputs):
    """Raises a `ValueError` when the model's `InvariancePenalty` has
    `num_environments` set but the inputs carry no environment ids (the
    penalty would silently use environments derived from labels)."""
    invariance = getattr(model, "invariance", None)
    if getattr(invariance, "num_environments", None) is None:
        return
    key = model.environment_key
    if not (isinstance(inputs, dict) and key in inputs):
        raise ValueError(
            f"The model's InvariancePenalty has num_environments="
            f"{invariance.num_environments}, but the inputs carry no "
            f"environment ids: pass a dict of features with '{key}' (int "
            "ids 0..N-1), or set num_environments=None to derive "
            "environments from the other tasks' labels."
        )


def _dtype(value):
    return getattr(value, "dtype", None) or tf.convert_to_tensor(value).dtype


def _check_tensor(value, what):
    if isinstance(value, (tf.RaggedTensor, tf.SparseTensor)):
        raise ValueError(
            f"The {what} is a {type(value).__name__}; the model takes dense "
            "tensors. Pad it (e.g. `ragged.to_tensor()`) first."
        )
    if _dtype(value) == tf.string:
        raise ValueError(_STRINGS.format(what=what))


def check_arrays(args, kwargs):
    """Raises a `ValueError` for NumPy string or object arrays given to
    `fit`/`evaluate`/`predict` as `x` or `y` (Keras' own error names no
    task or key)."""
    for position, name in enumerate(("x", "y")):
        value = args[position] if len(args) > position else kwargs.get(name)
        items = value.items() if isinstance(value, dict) else [(None, value)]
        for key, item in items:
            kind = getattr(getattr(item, "dtype", None), "kind", None)
            if kind in ("U", "S", "O"):
                what = (
                    f"labels of task '{key}'" if name == "y" and key
                    else f"input '{key or 'x'}'" if name == "x"
                    else "labels"
                )
                raise ValueError(_STRINGS.format(what=what))


def with_guard(model, args, kwargs, index):
    """`(args, kwargs)` of `fit`/`evaluate` with a `BatchAuditGuard` added
    to the callbacks (argument `index` when positional)."""
    check_arrays(args, kwargs)
    audit = getattr(model, "_batch_audit", None)
    if audit is None:
        return args, kwargs
    if len(args) > index:
        current, args = args[index], list(args)
    else:
        current = kwargs.get("callbacks")
    if isinstance(current, keras.callbacks.CallbackList):
        return args, kwargs  # fit's own evaluation: fit added the guard
    callbacks = list(current or []) + [BatchAuditGuard(audit)]
    if len(args) > index:
        args[index] = callbacks
    else:
        kwargs["callbacks"] = callbacks
    return args, kwargs
