"""Per-task metric objects, named `<task>_<metric>`, with defaults by kind."""

import keras


def _default_metrics(kind):
    if kind == "multiclass":
        return [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
    if kind == "binary":
        return [
            keras.metrics.BinaryAccuracy(name="accuracy"),
            keras.metrics.AUC(name="auc"),
        ]
    if kind == "multilabel":
        return [
            keras.metrics.BinaryAccuracy(name="accuracy"),
            keras.metrics.AUC(name="auc", multi_label=True),
        ]
    if kind == "regression":
        return [
            keras.metrics.MeanAbsoluteError(name="mae"),
            keras.metrics.RootMeanSquaredError(name="rmse"),
        ]
    return []


def _accuracy_for(kind):
    if kind == "multiclass":
        return keras.metrics.SparseCategoricalAccuracy(name="accuracy")
    return keras.metrics.BinaryAccuracy(name="accuracy")


def _metric_object(identifier, kind):
    if identifier in ("accuracy", "acc"):
        return _accuracy_for(kind)
    metric = keras.metrics.get(identifier)
    if isinstance(metric, keras.metrics.Metric):
        return metric
    name = identifier if isinstance(identifier, str) else metric.__name__
    return keras.metrics.MeanMetricWrapper(metric, name=name)


def _prefixed(metric, task):
    """A copy of `metric` named `<task>_<name>` (kept if already prefixed)."""
    if metric.name.startswith(f"{task}_"):
        return metric
    config = metric.get_config()
    config["name"] = f"{task}_{metric.name}"
    return metric.__class__.from_config(config)


def resolve_task_metrics(metrics, heads):
    """Returns a dict task -> list of fresh, task-prefixed metric objects.

    Args:
        metrics: `"auto"` (defaults by head kind), None (none), a list used
            for every task, or a dict task -> list (`"auto"` allowed).
        heads: dict task -> head layer.

    Returns:
        Dict of lists of `keras.metrics.Metric`.
    """
    if isinstance(metrics, dict):
        unknown = sorted(set(metrics) - set(heads))
        if unknown:
            raise ValueError(
                f"`metrics` names unknown task(s) {unknown}. The model's "
                f"tasks are {list(heads)}."
            )
        per_task = {task: metrics.get(task, "auto") for task in heads}
    else:
        per_task = {task: metrics for task in heads}
    resolved = {}
    for task, identifiers in per_task.items():
        kind = getattr(heads[task], "kind", None)
        if identifiers == "auto":
            objects = _default_metrics(kind)
        elif identifiers is None:
            objects = []
        else:
            if not isinstance(identifiers, (list, tuple)):
                identifiers = [identifiers]
            objects = [_metric_object(i, kind) for i in identifiers]
        resolved[task] = [_prefixed(m, task) for m in objects]
    return resolved
