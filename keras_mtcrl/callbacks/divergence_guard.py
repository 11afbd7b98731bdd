"""Stops a run whose loss explodes, so it is never reported as a result."""

import math

import keras

from keras_mtcrl.api_export import keras_mtcrl_export


@keras_mtcrl_export
class DivergenceGuard(keras.callbacks.Callback):
    """Stops training when the loss grows `factor` times its first value.

    A too large learning rate can make the loss explode (1e12) while it
    stays finite, so `NonFiniteGuard` does not see it and the run would be
    reported like any other. This callback takes the loss of the first
    training batch of `fit` as the reference and, after every batch,
    compares Keras' running mean of the epoch's loss with
    `factor * max(|reference|, 1)` (the floor of 1 keeps a near-zero first
    loss from making every later loss look like an explosion). Past it,
    the run has diverged: `diverged` describes it and `fit` stops
    (`model.stop_training`) at the end of that batch.

    A resumed run takes its reference from its first batch after the
    resume.

    Args:
        factor: float. How many times the reference the loss may grow.
            Defaults to `1e4`.

    Example:

    >>> guard = DivergenceGuard(factor=100.0)
    >>> guard.set_model(keras.Sequential([keras.layers.Dense(1)]))
    >>> guard.on_train_begin()
    >>> guard.on_epoch_begin(0)
    >>> guard.on_train_batch_end(0, {"loss": 0.7})
    >>> guard.on_train_batch_end(1, {"loss": 350.0})
    DivergenceGuard: loss 350 at epoch 1, batch 1 is over 100 times ...
    >>> guard.diverged["loss"], guard.diverged["reference"]
    (350.0, 0.7)
    """

    def __init__(self, factor=1e4):
        super().__init__()
        if not isinstance(factor, (int, float)) or not factor > 1:
            raise ValueError(
                "`factor` must be a number > 1. Received: "
                f"factor={factor!r}"
            )
        self.factor = float(factor)
        self.diverged = None
        self._reference = None
        self._epoch = 0

    def get_config(self):
        return {"factor": self.factor}

    def on_train_begin(self, logs=None):
        self.diverged = None
        self._reference = None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = _float((logs or {}).get("loss"))
        if loss is None or not math.isfinite(loss) or self.diverged:
            return  # NonFiniteGuard's case
        if self._reference is None:
            self._reference = loss
            return
        threshold = self.factor * max(abs(self._reference), 1.0)
        if abs(loss) > threshold:
            self.diverged = {
                "epoch": self._epoch + 1,
                "batch": batch,
                "loss": loss,
                "reference": self._reference,
                "factor": self.factor,
            }
            self.model.stop_training = True
            print(
                f"DivergenceGuard: loss {loss:.4g} at epoch "
                f"{self._epoch + 1}, batch {batch} is over {self.factor:g} "
                f"times the first batch's {self._reference:.4g}; stopping. "
                "Lower the learning rate or the penalty weights."
            )


def _float(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
