"""Per-task gradients in the training step: split, combine, reassemble.

The training step of `MultiTaskModel` takes one gradient per task
(`tape.gradient` of that task's share of the loss) plus the gradient of
everything else (the MT-CRL penalties and the loss weighting's own
terms). A variable is *shared* when at least two tasks' losses reach it
(its gradient is not None for two tasks: known when the step is traced)
and the model does not declare it task-specific. The shared variables'
per-task gradients form a `(T, P)` matrix that a `GradientMethod`
combines; every other variable gets the plain weighted sum.

Under `tf.distribute`, each replica's gradients are of its share of the
global-batch loss, so the matrix is first summed over replicas: every
replica then combines the *global* per-task gradients, gets the same
direction, and contributes `1 / replicas` of it (the optimizer sums the
replicas' gradients). The result equals a one-device step on the whole
batch, up to float rounding.
"""

import math

import tensorflow as tf

from keras_mtcrl.losses.replica_stats import cross_replica_sum
from keras_mtcrl.losses.replica_stats import num_replicas


def shared_mask(task_grads, variables, task_specific=()):
    """Bool per variable: reached by >= 2 tasks and not task-specific.

    Args:
        task_grads: list over tasks of lists (over `variables`) of
            gradients or None.
        variables: list of variables.
        task_specific: variables to treat as task-specific anyway.

    Returns:
        List of bool, one per variable.

    Example:

    >>> shared_mask([[1.0, None], [2.0, 3.0]], ["u", "v"])
    [True, False]
    """
    excluded = {id(v) for v in task_specific}
    return [
        sum(grads[i] is not None for grads in task_grads) >= 2
        and id(variable) not in excluded
        for i, variable in enumerate(variables)
    ]


def _dense(gradient, variable):
    if gradient is None:
        return tf.zeros(variable.shape, "float32")
    return tf.cast(tf.convert_to_tensor(gradient), "float32")


def _add(*terms):
    present = [t for t in terms if t is not None]
    if len(present) < 2:
        return present[0] if present else None
    return tf.add_n([tf.convert_to_tensor(t) for t in present])


def combine_gradients(
    task_grads, rest_grads, variables, task_weights, method, step, mask
):
    """Returns one gradient per variable, and the per-task gradient norms.

    Args:
        task_grads: list over tasks of per-variable gradients (or None) of
            each task's (unweighted by the loss weighting) loss share.
        rest_grads: per-variable gradients (or None) of the other terms.
        variables: the trainable variables.
        task_weights: float32 `(T,)` weights of the loss weighting
            (constants for the gradient).
        method: `GradientMethod` or None (weighted sum).
        step: int scalar tensor, the optimizer step.
        mask: bools from `shared_mask`.

    Returns:
        `(gradients, norms)`: the list of gradients to apply, and the
        float32 `(T,)` global-batch norms of each task's shared-parameter
        gradient (zeros if nothing is shared).
    """
    num_tasks = len(task_grads)
    task_weights = tf.stop_gradient(tf.cast(task_weights, "float32"))
    shared = [i for i, is_shared in enumerate(mask) if is_shared]
    gradients = []
    for i, variable in enumerate(variables):
        if mask[i]:
            gradients.append(None)
            continue
        weighted = [
            _dense(grads[i], variable) * task_weights[t]
            for t, grads in enumerate(task_grads)
            if grads[i] is not None
        ]
        gradients.append(_add(*weighted, rest_grads[i]))
    if not shared:
        return gradients, tf.zeros((num_tasks,), "float32")
    local = tf.stack(
        [
            tf.concat(
                [tf.reshape(_dense(grads[i], variables[i]), (-1,))
                 for i in shared],
                axis=0,
            )
            for grads in task_grads
        ]
    )
    total = cross_replica_sum(local)
    norms = tf.norm(total, axis=1)
    if method is None:
        direction = tf.linalg.matvec(local, task_weights, transpose_a=True)
    else:
        direction = method(total * task_weights[:, None], step)
        direction = direction / float(num_replicas())
    offset = 0
    for i in shared:
        size = math.prod(variables[i].shape)
        piece = tf.reshape(
            direction[offset:offset + size], variables[i].shape
        )
        offset += size
        gradients[i] = _add(piece, rest_grads[i])
    return gradients, norms
