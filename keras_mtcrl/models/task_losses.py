"""Per-task losses with missing-label masks, and their defaults by kind."""

import keras
import tensorflow as tf

DEFAULT_LOSSES = {
    "binary": "binary_crossentropy",
    "multiclass": "sparse_categorical_crossentropy",
    "multilabel": "binary_crossentropy",
    "regression": "mean_squared_error",
}


def resolve_task_losses(loss, heads):
    """Returns a dict task -> `keras.losses.Loss` with no reduction.

    Args:
        loss: `"auto"`, one identifier for every task, or a dict task ->
            identifier (`"auto"` or missing entries use the head's default).
        heads: dict task -> head layer (with a `kind` when `"auto"` is
            used).

    Returns:
        Dict of unreduced loss objects, in task order.
    """
    if isinstance(loss, dict):
        unknown = sorted(set(loss) - set(heads))
        if unknown:
            raise ValueError(
                f"`loss` names unknown task(s) {unknown}. The model's tasks "
                f"are {list(heads)}."
            )
        per_task = {task: loss.get(task, "auto") for task in heads}
    else:
        per_task = {task: loss for task in heads}
    return {
        task: _unreduced_loss(identifier, task, heads[task])
        for task, identifier in per_task.items()
    }


def _unreduced_loss(identifier, task, head):
    if identifier is None or identifier == "auto":
        kind = getattr(head, "kind", None)
        if kind not in DEFAULT_LOSSES:
            raise ValueError(
                f"Task '{task}' has no `kind` (its head is "
                f"{type(head).__name__}), so its loss cannot be chosen "
                "automatically. Pass `loss={'" + task + "': ...}` to compile."
            )
        identifier = DEFAULT_LOSSES[kind]
    loss = keras.losses.get(identifier)
    if isinstance(loss, keras.losses.Loss):
        config = loss.get_config()
        config["reduction"] = None
        return loss.__class__.from_config(config)
    if callable(loss):
        return _FunctionLoss(loss)
    raise ValueError(f"Could not interpret the loss of task '{task}': {loss!r}")


class _FunctionLoss(keras.losses.Loss):
    """Unreduced loss around a plain `fn(y_true, y_pred)` function."""

    def __init__(self, fn):
        super().__init__(name=getattr(fn, "__name__", "loss"), reduction=None)
        self.fn = fn

    def call(self, y_true, y_pred):
        # One target per sample against a (batch, 1) output: align ranks.
        if len(y_true.shape) == len(y_pred.shape) - 1 and y_pred.shape[-1] == 1:
            y_true = keras.ops.expand_dims(y_true, -1)
        return self.fn(y_true, y_pred)


def label_validity(labels):
    """1 where a label is present: NaN (float) or negative (int) = missing."""
    if labels.dtype.is_floating:
        return tf.math.is_finite(labels)
    return labels >= 0


def masked_per_sample_loss(loss_fn, labels, predictions, kind):
    """Applies `loss_fn` with missing labels masked out.

    Args:
        loss_fn: unreduced `keras.losses.Loss`.
        labels: tensor. Missing entries are NaN (float) or < 0 (int).
        predictions: tensor, the head's output.
        kind: str or None. The head's kind; multiclass labels are cast to
            int32, the others to float32.

    Returns:
        Tuple `(per_sample_loss, sample_valid, element_mask, safe_labels)`:
        float32 `(batch,)` mean loss over each sample's valid elements,
        float32 `(batch,)` 1 where the sample has any valid element, the
        float32 mask with the loss output's shape (for metrics), and the
        labels with missing entries replaced by 0.
    """
    rank = labels.shape.rank
    if kind in ("binary", "regression") and rank and rank >= 2:
        if rank == predictions.shape.rank - 1:
            # Dense (batch, H, W) targets of a (batch, H, W, 1) output:
            # Keras' losses would squeeze the output and average over W.
            labels = labels[..., None]
    valid = label_validity(labels)
    safe = tf.where(valid, labels, tf.zeros_like(labels))
    if kind == "multiclass":
        safe = tf.cast(safe, "int32")
    elif kind is not None:
        safe = tf.cast(safe, "float32")
    elements = tf.cast(loss_fn(safe, predictions), "float32")
    mask = tf.cast(valid, "float32")
    while mask.shape.rank > elements.shape.rank:
        mask = tf.reduce_min(mask, axis=-1)
    mask = tf.broadcast_to(mask, tf.shape(elements))
    # Zero the loss where the label is missing: a NaN times 0 is still NaN.
    elements = tf.where(mask > 0, elements, 0.0)
    axes = list(range(1, elements.shape.rank))
    if not axes:
        # One element per sample: its loss (0 where missing) is the mean.
        return elements, mask, mask, safe
    total = tf.reduce_sum(elements, axis=axes)
    count = tf.reduce_sum(mask, axis=axes)
    per_sample = total / tf.maximum(count, 1.0)
    return per_sample, tf.cast(count > 0, "float32"), mask, safe
