"""Environments for the invariance penalty when the data supplies none.

MT-CRL's second kind of spurious correlation is the confounder between
task labels. When no environment attribute comes with the data, the
environment of a sample *for task t* is the combination of the *other*
tasks' label values: exactly the grouping under which a label-label
shortcut would change.
"""

import tensorflow as tf


def label_code(labels, kind, units, task):
    """Discretises one task's labels into `(code, radix, valid)`.

    Multi-class labels are their class id, binary labels 0/1, multi-label
    targets their first positive label (argmax), regression targets
    whether they exceed the batch mean of the valid targets.

    Args:
        labels: tensor `(batch,)` or `(batch, units)`.
        kind: str. The task's kind.
        units: int. The task's number of outputs.
        task: str. Task name, for error messages.

    Returns:
        int32 code `(batch,)`, the int number of codes, bool valid `(batch,)`.
    """
    if labels.shape.rank is not None and labels.shape.rank > 2:
        raise ValueError(
            f"Cannot derive environments from task '{task}': its labels are "
            f"dense (shape {labels.shape}). Supply an environment column "
            "with the data instead."
        )
    if labels.dtype.is_floating:
        valid = tf.math.is_finite(labels)
    else:
        valid = labels >= 0
    if labels.shape.rank == 2:
        valid = tf.reduce_all(valid, axis=-1)
    safe = tf.where(
        tf.reshape(valid, (-1,) + (1,) * (labels.shape.rank - 1)),
        labels,
        tf.zeros_like(labels),
    )
    if kind == "multiclass":
        code = tf.reshape(tf.cast(safe, "int32"), (-1,))
        return code, units, valid & (code < units)
    if kind == "multilabel":
        return tf.argmax(safe, axis=-1, output_type="int32"), units, valid
    flat = tf.cast(tf.reshape(safe, (tf.shape(safe)[0], -1))[:, 0], "float32")
    if kind == "binary":
        return tf.cast(flat > 0.5, "int32"), 2, valid
    weights = tf.cast(valid, "float32")
    total = tf.maximum(tf.reduce_sum(weights), 1.0)
    mean = tf.reduce_sum(flat * weights) / total
    return tf.cast(flat > mean, "int32"), 2, valid


def environments_from_labels(labels, heads, task, max_environments):
    """Environment ids of every sample for `task`, from the other tasks.

    Args:
        labels: dict task -> labels.
        heads: dict task -> head (with `kind` and `units`).
        task: str. The task whose environments are wanted.
        max_environments: int. Codes wrap around beyond this many.

    Returns:
        int32 ids `(batch,)`, float32 valid `(batch,)`, int number of
        environments.
    """
    env_ids, radix_product, valid = None, 1, None
    for other, head in heads.items():
        if other == task:
            continue
        kind = getattr(head, "kind", None)
        if kind is None:
            raise ValueError(
                f"Cannot derive environments from task '{other}': its head "
                "has no `kind`. Supply an environment column with the data."
            )
        code, radix, code_valid = label_code(
            labels[other], kind, head.units, other
        )
        env_ids = code if env_ids is None else env_ids * radix + code
        valid = code_valid if valid is None else valid & code_valid
        radix_product *= radix
        if radix_product > max_environments:
            env_ids = env_ids % max_environments
            radix_product = max_environments
    if env_ids is None:
        raise ValueError(
            "A single-task model has no other tasks to derive environments "
            "from. Supply an environment column with the data."
        )
    return env_ids, tf.cast(valid, "float32"), radix_product
