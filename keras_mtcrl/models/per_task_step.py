"""The training step that takes one gradient per task.

Gradient methods (PCGrad, MGDA, CAGrad, ...) and weightings that read
per-task gradient norms (GradNorm) need each task's gradient on its own,
not the gradient of the summed loss. `MultiTaskModel.train_step` calls
`per_task_gradient_step` when its `gradient_method` or `loss_weighting`
asks for them; the combination itself is
`keras_mtcrl.gradients.task_gradients.combine_gradients`.
"""

import tensorflow as tf

from keras_mtcrl.gradients.task_gradients import combine_gradients
from keras_mtcrl.gradients.task_gradients import shared_mask
from keras_mtcrl.losses.replica_stats import num_replicas


def per_task_gradient_step(model, x, y, sample_weight):
    """Runs one optimizer step of `model` from per-task gradients.

    Args:
        model: a compiled `MultiTaskModel` (or subclass).
        x: the batch's inputs.
        y: dict task -> labels.
        sample_weight: the batch's sample weights, or None.

    Returns:
        `(logged, forward)`: the logged loss terms and the forward pass
        (for the metrics), as `MultiTaskModel.objective_parts` gives them.
    """
    scale = model.optimizer.scale_loss
    task_names = model.task_names
    with tf.GradientTape(persistent=True) as tape:
        parts = model.objective_parts(x, y, sample_weight, training=True)
        task_losses = [scale(parts["task_shares"][t]) for t in task_names]
        rest = tf.constant(0.0)
        weights = parts["task_weights"]
        if weights is not None:
            # Gradient into the weighting's own variables only.
            for index, task in enumerate(task_names):
                rest += weights[index] * tf.stop_gradient(
                    parts["task_shares"][task]
                )
        for addend in parts["other_addends"]:
            rest += addend
        rest = scale(rest)
    variables = model.trainable_variables
    task_grads = [tape.gradient(loss, variables) for loss in task_losses]
    rest_grads = tape.gradient(rest, variables)
    del tape
    if weights is None:
        weights = tf.ones((len(task_names),), "float32")
    mask = shared_mask(task_grads, variables, model.task_specific_variables())
    gradients, norms = combine_gradients(
        task_grads,
        rest_grads,
        variables,
        weights,
        model.gradient_method,
        model.optimizer.iterations,
        mask,
    )
    logged = parts["logged"]
    weighting = model.loss_weighting
    if weighting is not None:
        losses = tf.stack([logged[f"loss_{t}"] for t in task_names])
        _add_auxiliary_gradients(weighting, losses, norms, variables, gradients)
    # A non-finite update (e.g. a failed MGDA solve under XLA, which cannot
    # raise) makes the logged loss NaN at once.
    finite_check = tf.add_n(
        [
            tf.reduce_sum(tf.cast(_gradient_values(g), "float32"))
            for g in gradients
            if g is not None
        ]
        or [tf.constant(0.0)]
    )
    logged["loss"] = logged["loss"] + 0.0 * tf.cast(finite_check, "float32")
    model.optimizer.apply_gradients(zip(gradients, variables))
    if weighting is not None:
        weighting.after_step()
    return logged, parts["forward"]


def _add_auxiliary_gradients(weighting, losses, norms, variables, gradients):
    """Adds the weighting's gradients into its variables' (in place)."""
    replicas = float(num_replicas())
    positions = {id(v): i for i, v in enumerate(variables)}
    for grad, variable in weighting.auxiliary_gradients(losses, norms):
        i = positions[id(variable)]
        extra = grad / replicas
        gradients[i] = extra if gradients[i] is None else gradients[i] + extra


def _gradient_values(gradient):
    if isinstance(gradient, tf.IndexedSlices):
        return gradient.values
    return gradient
