"""Base class of the loss weightings, and the look-up by name."""

import keras

from keras_mtcrl.api_export import keras_mtcrl_export


@keras_mtcrl_export
class LossWeighting(keras.layers.Layer):
    """Gives each task's loss a weight `lambda_t` in the objective.

    A multi-task model minimises `sum_t lambda_t w_t R_t` (plus the MT-CRL
    penalties, added on top unweighted), where `R_t` is task `t`'s mean
    loss, `w_t` its fixed `compile(loss_weights=...)` weight and
    `lambda_t` comes from the loss weighting. Give one to a model as
    `MultiTaskModel(..., loss_weighting=...)` (or `CausalMTLModel`).

    A loss weighting is a layer: its state (learned log-variances,
    previous epochs' losses, GradNorm's weights) lives in Keras variables
    made in `build`, so `model.save`, `load_model`, `BackupAndRestore` and
    `tf.distribute` handle it like any weight. The model builds it with
    shape `(T,)` and logs each `lambda_t` as `weight_<task>`.

    Subclasses implement `call`, and as needed:

    - `regularization()`: a batch-independent term added to the
      objective (uncertainty weighting's `log sigma`);
    - `needs_task_gradients = True` and `auxiliary_gradients(losses,
      norms)`: gradients of the weighting's own variables from the
      per-task gradient norms of the shared parameters (GradNorm);
    - `after_step()`: runs after each optimizer step;
    - `records_epoch_losses = True` and `record_epoch(losses)`: called by
      `fit` at each epoch's end with the epoch's mean task losses (DWA).

    Args:
        **kwargs: base layer keyword arguments (`name`, `dtype`).

    Call arguments:
        losses: float32 `(T,)` global-batch mean task losses, without
            gradient.
        step: int scalar tensor. The optimizer step.
        training: bool.

    Returns:
        Float32 `(T,)` weights `lambda`. They may carry gradient into the
        weighting's own variables (uncertainty weighting), never into the
        model's.

    Example:

    >>> import numpy as np
    >>> class Halves(LossWeighting):
    ...     def call(self, losses, step=None, training=None):
    ...         return 0.5 * keras.ops.ones_like(losses)
    >>> Halves()(np.ones(3, "float32")).numpy().tolist()
    [0.5, 0.5, 0.5]
    """

    needs_task_gradients = False
    records_epoch_losses = False

    def __init__(self, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.num_tasks = None

    def build(self, input_shape):
        self.num_tasks = int(input_shape[-1])
        self.built = True

    def call(self, losses, step=None, training=None):
        raise NotImplementedError(
            f"{type(self).__name__} must implement `call`."
        )

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def regularization(self):
        """Extra batch-independent objective term, or None."""
        return None

    def auxiliary_gradients(self, losses, norms):
        """List of `(gradient, variable)` for the weighting's variables.

        Args:
            losses: float32 `(T,)` global-batch mean task losses.
            norms: float32 `(T,)` global-batch norms of each task's
                gradient of the shared parameters.
        """
        return []

    def after_step(self):
        """Runs after each optimizer step (inside the training step)."""

    def record_epoch(self, losses):
        """Receives the epoch's mean task losses (a list of T floats)."""

    def epoch_callback(self, task_names):
        """The callback `fit` adds, or None if the weighting needs none."""
        if not self.records_epoch_losses:
            return None
        return _EpochLossRecorder(self, tuple(task_names))


class _EpochLossRecorder(keras.callbacks.Callback):
    """Hands each epoch's mean training task losses to the weighting."""

    def __init__(self, weighting, task_names):
        super().__init__()
        self.weighting = weighting
        self.task_names = task_names

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        missing = [t for t in self.task_names if f"loss_{t}" not in logs]
        if missing:
            raise KeyError(
                f"{type(self.weighting).__name__} needs the epoch logs "
                f"'loss_<task>' of {missing}; got {sorted(logs)}."
            )
        self.weighting.record_epoch(
            [float(logs[f"loss_{t}"]) for t in self.task_names]
        )
