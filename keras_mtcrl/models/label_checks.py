"""Checks of the labels a multi-task model receives, with clear errors."""

import tensorflow as tf


def labels_as_dict(labels, task_names):
    """Returns labels as a dict keyed by task, or raises a clear ValueError.

    A single-task model also accepts a bare tensor.
    """
    if labels is None:
        raise ValueError(
            "This multi-task model needs labels: a dict keyed by task name "
            f"{list(task_names)}. The dataset yielded none."
        )
    if not isinstance(labels, dict):
        if len(task_names) == 1:
            return {task_names[0]: labels}
        raise ValueError(
            "Labels must be a dict keyed by task name "
            f"{list(task_names)}. Received: {type(labels).__name__} with "
            f"shape {getattr(labels, 'shape', None)}."
        )
    unknown = sorted(set(labels) - set(task_names))
    if unknown:
        raise ValueError(
            f"Labels contain unknown task(s) {unknown}. The model's tasks "
            f"are {list(task_names)}."
        )
    missing = [task for task in task_names if task not in labels]
    if missing:
        raise ValueError(
            f"Labels lack task(s) {missing}. Give every task a label; mark "
            "a missing label with NaN (float) or -1 (int)."
        )
    return {task: labels[task] for task in task_names}


def check_label_shape(task, labels, predictions):
    """Raises a ValueError when `labels` cannot match the head's output.

    Labels have the prediction's shape, or that shape without its last
    axis (class ids, or one target for a single-output head).
    """
    label_shape, pred_shape = labels.shape, predictions.shape
    if label_shape.rank is None or pred_shape.rank is None:
        return
    expected = [pred_shape, pred_shape[:-1]]
    for candidate in expected:
        if label_shape.rank == candidate.rank and all(
            a is None or b is None or a == b
            for a, b in zip(label_shape[1:], candidate[1:])
        ):
            return
    raise ValueError(
        f"Labels of task '{task}' have shape {tuple(label_shape)}, but its "
        f"head predicts shape {tuple(pred_shape)}. Expected labels of shape "
        f"{tuple(pred_shape)} or {tuple(pred_shape[:-1])}."
    )


def assert_class_ids_in_range(task, labels, num_classes):
    """Runtime check that multi-class labels are < `num_classes`."""
    return tf.debugging.assert_less(
        tf.cast(labels, "int32"),
        num_classes,
        message=(
            f"Labels of task '{task}' contain class ids >= {num_classes}, "
            "the head's number of classes."
        ),
    )


def assert_finite_features(features):
    """Runtime check that every float feature is finite; names the feature."""
    if isinstance(features, dict):
        items = features.items()
    else:
        items = [("x", features)]
    checks = []
    for name, value in items:
        value = tf.convert_to_tensor(value)
        if value.dtype.is_floating:
            checks.append(
                tf.debugging.assert_all_finite(
                    value, f"Input feature '{name}' has NaN or Inf values."
                )
            )
    return checks
