"""Checks of a dataset against a model before any training step runs."""

import warnings

import numpy as np
import tensorflow as tf

from keras_mtcrl.models import label_checks


class DataWarning(UserWarning):
    """A data problem that does not stop training but weakens it."""


def validate_data(
    data,
    model_or_specs=None,
    split="train",
    batch_size=64,
    num_batches=2,
    dataset=None,
):
    """Inspects the first batches of a split and fails early on bad data.

    The model checks its inputs too, but only inside `fit`, after the
    strategy, the callbacks and the first graph trace are set up, and some
    checks (feature and class-id asserts) are off under XLA. This runs in
    plain NumPy on the first `num_batches` batches and raises a
    `ValueError` that names the split, the batch, the task or feature and
    the offending value for:

    - labels that are not a dict keyed by the model's tasks (unknown or
      missing tasks);
    - labels of a dtype the losses cannot take (bool, string), of a shape
      that cannot match the task's head, with non-integral or too large
      class ids, with binary/multi-label targets outside [0, 1], or with
      negative integer regression targets (negative integers mean
      "missing": store regression targets as float, NaN = missing);
    - features that are NaN or Inf, missing or unknown input keys, or
      inputs of the wrong shape;
    - environment ids that are not integers or are too large for the
      model's `InvariancePenalty(num_environments=...)`.

    It warns (`DataWarning`) when the environment column holds a single
    value, or when no inspected batch has two environments with at least
    `min_env_samples` samples each: the invariance penalty is then 0.

    Args:
        data: `keras_mtcrl.datasets.MultiTaskData`.
        model_or_specs: a `MultiTaskModel` (its heads' kinds and output
            shapes, inputs and penalties are checked against the data), a
            sequence of `TaskSpec`, or None for `data.tasks`. Defaults to
            `None`.
        split: str. Split to inspect. Defaults to `"train"`.
        batch_size: int. Batch size used to batch `split`. Defaults to
            `64`.
        num_batches: int. Batches to inspect. Defaults to `2`.
        dataset: batched `tf.data.Dataset` or None. Inspected instead of
            `split` (e.g. the shuffled batches `fit` will see). Defaults
            to `None`.

    Returns:
        Dict with `examples` (number inspected), `labelled` (task ->
        number of present labels) and `environments` (sorted environment
        ids seen, or None without an environment column).

    Example:

    >>> import numpy as np
    >>> from keras_mtcrl.datasets import MultiTaskData, TaskSpec
    >>> ds = tf.data.Dataset.from_tensor_slices(
    ...     ({"x": np.zeros((8, 3), "float32")},
    ...      {"digit": np.array([0, 1, 2, -1, 4, 5, 6, 12], "int32")}))
    >>> data = MultiTaskData({"train": ds},
    ...                      (TaskSpec("digit", "multiclass", 10),), 0)
    >>> validate_data(data)
    Traceback (most recent call last):
    ...
    ValueError: Split 'train', batch 0: labels of task 'digit' contain \
class id 12 (1 label(s) >= 10), but its head has 10 classes (ids 0..9; \
-1 = missing).
    """
    if not isinstance(num_batches, int) or num_batches < 1:
        raise ValueError(
            "`num_batches` must be a positive int. Received: "
            f"num_batches={num_batches!r}"
        )
    plan = _Plan(data, model_or_specs)
    if dataset is None:
        dataset = data.split(split).batch(batch_size)
        source = f"Split '{split}'"
    else:
        source = "The training data"
    report = {
        "examples": 0,
        "labelled": {t: 0 for t in plan.tasks},
        "environments": None,
    }
    environment_ids, active_batches = set(), 0
    for index, element in enumerate(dataset.take(num_batches)):
        where = f"{source}, batch {index}"
        features, labels = _unpack(element, where)
        try:
            labels = label_checks.labels_as_dict(labels, tuple(plan.tasks))
        except ValueError as error:
            raise ValueError(f"{where}: {error}") from None
        _check_features(features, plan, where)
        predictions = plan.predict(features)
        for task, spec in plan.tasks.items():
            report["labelled"][task] += _check_labels(
                task, np.asarray(labels[task]), spec, predictions, where
            )
        report["examples"] += _batch_size(labels)
        ids = _environment_ids(features, plan, where)
        if ids is not None:
            environment_ids.update(int(i) for i in ids if i >= 0)
            active_batches += plan.penalty_active_on(ids)
    if plan.environment_key_seen:
        report["environments"] = sorted(environment_ids)
        if plan.uses_environments:
            _warn_inactive(environment_ids, active_batches, plan, source)
    return report


class _Plan:
    """What the data is checked against: tasks, inputs, environments."""

    def __init__(self, data, model_or_specs):
        self.model = None
        self.environment_key = data.environment_key
        self.num_environments = data.num_environments or None
        self.min_env_samples = 1
        self.uses_environments = True
        self.environment_key_seen = False
        if model_or_specs is None:
            model_or_specs = data.tasks
        if hasattr(model_or_specs, "heads"):
            self._from_model(model_or_specs)
        else:
            self.tasks = {
                spec.name: (spec.kind, spec.units, spec.dense)
                for spec in model_or_specs
            }

    def _from_model(self, model):
        self.model = model
        self.tasks = {
            task: (
                getattr(model.heads[task], "kind", None),
                getattr(model.heads[task], "units", None),
                None,
            )
            for task in model.task_names
        }
        self.environment_key = model.environment_key
        self.input_shape = model.get_config().get("input_shape")
        invariance = getattr(model, "invariance", None)
        self.uses_environments = bool(invariance and invariance.active)
        if self.uses_environments:
            self.num_environments = invariance.num_environments
            self.min_env_samples = invariance.min_env_samples

    def predict(self, features):
        """Task -> prediction of the model on two examples (or None)."""
        if self.model is None or not self.model.built:
            # Building it here, maybe outside its strategy's scope, would
            # place its variables wrongly.
            return None
        head = tf.nest.map_structure(lambda t: t[:2], features)
        return self.model(head, training=False)

    def penalty_active_on(self, ids):
        """1 if two environments have `min_env_samples` samples, else 0."""
        _, counts = np.unique(ids[ids >= 0], return_counts=True)
        return int(np.sum(counts >= self.min_env_samples) >= 2)


def _unpack(element, where):
    if not isinstance(element, tuple) or len(element) not in (2, 3):
        raise ValueError(
            f"{where}: elements must be `(features, labels)` pairs (or "
            "triples with sample weights). Received: "
            f"{type(element).__name__}."
        )
    return element[0], element[1]


def _batch_size(labels):
    return int(np.asarray(next(iter(labels.values()))).shape[0])


def _check_features(features, plan, where):
    items = (
        features.items() if isinstance(features, dict) else [("x", features)]
    )
    expected = getattr(plan, "input_shape", None)
    if isinstance(expected, dict) and isinstance(features, dict):
        _check_feature_keys(features, expected, plan.environment_key, where)
    for name, value in items:
        value = np.asarray(value)
        if name == plan.environment_key:
            continue
        shape = expected.get(name) if isinstance(expected, dict) else expected
        if shape is not None and not _shape_matches(value.shape, shape):
            raise ValueError(
                f"{where}: feature '{name}' has shape {value.shape}, but "
                f"the model was built for inputs of shape {tuple(shape)}."
            )
        if value.dtype.kind == "f":
            bad = ~np.isfinite(value)
            if bad.any():
                first = int(np.argwhere(bad)[0][0])
                raise ValueError(
                    f"{where}: feature '{name}' has {int(bad.sum())} "
                    f"non-finite value(s) (NaN or Inf), the first in "
                    f"example {first} of the batch. Features must be "
                    "finite (only labels use NaN, for 'missing')."
                )


def _check_feature_keys(features, expected, environment_key, where):
    wanted = set(expected) - {environment_key}
    given = set(features) - {environment_key}
    if wanted - given:
        raise ValueError(
            f"{where}: features lack input(s) {sorted(wanted - given)} "
            f"that the model was built for. Features: {sorted(features)}."
        )
    if given - wanted:
        raise ValueError(
            f"{where}: features contain unknown input(s) "
            f"{sorted(given - wanted)}. The model's inputs are "
            f"{sorted(expected)}."
        )


def _shape_matches(actual, expected):
    expected = tuple(expected)
    return len(actual) == len(expected) and all(
        e is None or a == e for a, e in zip(actual[1:], expected[1:])
    )


def _check_labels(task, labels, spec, predictions, where):
    """Checks one task's labels; returns how many are present."""
    kind, units, dense = spec
    prefix = f"{where}: labels of task '{task}'"
    if labels.dtype.kind not in "iuf":
        raise ValueError(
            f"{prefix} have dtype {labels.dtype}. Use float32 (binary, "
            "multi-label, regression; NaN = missing) or int32 (class ids; "
            "-1 = missing)."
        )
    if predictions is not None:
        try:
            label_checks.check_label_shape(
                task,
                tf.convert_to_tensor(labels[:2]),
                predictions[task],
            )
        except ValueError as error:
            raise ValueError(f"{where}: {error}") from None
    elif units is not None and dense is not None:
        _check_spec_shape(prefix, labels.shape, units, dense)
    present = np.isfinite(labels) if labels.dtype.kind == "f" else labels >= 0
    values = labels[present]
    if kind == "multiclass" and values.size:
        _check_class_ids(prefix, values, units)
    if kind in ("binary", "multilabel") and values.size:
        outside = (values < 0) | (values > 1)
        if outside.any():
            raise ValueError(
                f"{prefix} must be in [0, 1] for a {kind} task; found "
                f"{_number(values[outside][0])} ({int(outside.sum())} label(s) "
                "outside)."
            )
    if kind == "regression" and labels.dtype.kind in "iu":
        if (labels < 0).any():
            raise ValueError(
                f"{prefix} are integers with negative values, which count "
                "as missing labels. Store regression targets as float32 "
                "(NaN = missing)."
            )
    if labels.ndim > 1:
        present = present.reshape(labels.shape[0], -1).any(axis=1)
    return int(present.sum())


def _number(value):
    value = value.item()
    return int(value) if float(value).is_integer() else value


def _check_spec_shape(prefix, shape, units, dense):
    per_sample = tuple(shape[1:])
    if dense:
        if len(per_sample) < 2:
            raise ValueError(
                f"{prefix} have shape {tuple(shape)}; a dense (per-pixel) "
                "task needs labels of shape (batch, height, width[, "
                f"{units}])."
            )
    elif per_sample not in ((), (units,)):
        raise ValueError(
            f"{prefix} have shape {tuple(shape)}. Expected (batch,) or "
            f"(batch, {units})."
        )


def _check_class_ids(prefix, values, units):
    if (values != np.floor(values)).any():
        raise ValueError(
            f"{prefix} are class ids but include the non-integral value "
            f"{_number(values[values != np.floor(values)][0])}."
        )
    if units is not None and values.max() >= units:
        raise ValueError(
            f"{prefix} contain class id {_number(values.max())} "
            f"({int((values >= units).sum())} label(s) >= {units}), but "
            f"its head has {units} classes (ids 0..{units - 1}; -1 = "
            "missing)."
        )


def _environment_ids(features, plan, where):
    if not isinstance(features, dict) or plan.environment_key not in features:
        return None
    plan.environment_key_seen = True
    ids = np.asarray(features[plan.environment_key]).reshape(-1)
    key = plan.environment_key
    if ids.dtype.kind not in "iu":
        raise ValueError(
            f"{where}: environment ids under '{key}' have dtype "
            f"{ids.dtype}; they must be integers 0..N-1."
        )
    if not plan.uses_environments:
        return ids
    if plan.num_environments is None:
        raise ValueError(
            f"{where}: the data carries environment ids under '{key}', "
            "but the model's InvariancePenalty has num_environments=None. "
            "Set InvariancePenalty(num_environments=N) to the number of "
            "environment ids (0..N-1)."
        )
    if ids.size and ids.max() >= plan.num_environments:
        raise ValueError(
            f"{where}: environment id {int(ids.max())} under '{key}' is out of "
            f"range: num_environments={plan.num_environments} allows ids "
            f"0..{plan.num_environments - 1}."
        )
    return ids


def _warn_inactive(environment_ids, active_batches, plan, source):
    key = plan.environment_key
    if len(environment_ids) < 2:
        warnings.warn(
            f"{source}: the environment column '{key}' holds the single "
            f"value {sorted(environment_ids)} in the inspected batches, so "
            "the invariance penalty is 0 there. Shuffle the data or check "
            "the environment ids.",
            DataWarning,
            stacklevel=3,
        )
    elif active_batches == 0:
        warnings.warn(
            f"{source}: no inspected batch has two environments with at "
            f"least min_env_samples={plan.min_env_samples} samples each, "
            "so the invariance penalty is 0 there. Shuffle the data, use "
            "larger batches or lower `min_env_samples`.",
            DataWarning,
            stacklevel=3,
        )
