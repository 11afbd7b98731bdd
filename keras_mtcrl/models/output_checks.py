"""What a model reports must not look valid when it is not.

- Predictions for inputs with NaN or Inf features are NaN, never a
  confident number (`nan_where_non_finite`).
- Metrics of a task without any labelled sample are NaN ("absent"), never
  0.0 (`absent_metrics_as_nan`).
"""

import tensorflow as tf


def non_finite_rows(features):
    """Bool `(batch,)`: samples with a NaN or Inf in a float feature, or
    None when no feature is float."""
    values = features.values() if isinstance(features, dict) else [features]
    rows = None
    for value in values:
        value = tf.convert_to_tensor(value)
        if not value.dtype.is_floating or value.shape.rank in (None, 0):
            continue
        bad = ~tf.math.is_finite(value)
        if value.shape.rank > 1:
            bad = tf.reduce_any(
                tf.reshape(bad, (tf.shape(value)[0], -1)), axis=1
            )
        rows = bad if rows is None else rows | bad
    return rows


def nan_where_non_finite(features, outputs):
    """`outputs` (task -> tensor) with NaN for samples whose features are
    not finite.

    Example:

    >>> out = nan_where_non_finite(
    ...     tf.constant([[1.0], [float("nan")]]), {"a": tf.constant([.5, .5])}
    ... )
    >>> out["a"].numpy()
    array([0.5, nan], dtype=float32)
    """
    rows = non_finite_rows(features)
    if rows is None:
        return outputs
    flagged = {}
    for task, output in outputs.items():
        mask = tf.reshape(
            rows, [-1] + [1] * (output.shape.rank - 1)
        ) if output.shape.rank else rows
        flagged[task] = tf.where(
            mask, tf.cast(float("nan"), output.dtype), output
        )
    return flagged


def untouched(metric):
    """Whether `metric` has seen no sample: its variables are all zero (for
    Keras' counting metrics: no weight, no confusion counts)."""
    if not metric.variables:
        return tf.constant(False)
    return tf.reduce_all(
        [tf.reduce_all(tf.equal(v, 0)) for v in metric.variables]
    )


def absent_metrics_as_nan(results, task_metrics):
    """`results` with NaN for each task metric that saw no labelled sample.

    Args:
        results: dict name -> value (`Model.get_metrics_result()`).
        task_metrics: dict task -> list of `keras.metrics.Metric`.
    """
    results = dict(results)
    for metrics in task_metrics.values():
        for metric in metrics:
            if metric.name not in results:
                continue
            value = tf.convert_to_tensor(results[metric.name])
            if not value.dtype.is_floating:
                continue
            results[metric.name] = tf.where(
                untouched(metric), tf.cast(float("nan"), value.dtype), value
            )
    return results
