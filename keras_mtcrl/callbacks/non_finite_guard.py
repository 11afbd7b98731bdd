"""Stops training at the first non-finite loss term and names the term."""

import math

import keras
import numpy as np

from keras_mtcrl.api_export import keras_mtcrl_export


def _is_term(name):
    """`loss`, `loss_<term>` and `weight_<task>` logs (and their `val_`)."""
    name = name[4:] if name.startswith("val_") else name
    return name == "loss" or name.startswith(("loss_", "weight_"))


def _value(value):
    try:
        return float(np.asarray(value, dtype="float64").reshape(()))
    except (TypeError, ValueError):
        return None


@keras_mtcrl_export
class NonFiniteGuard(keras.callbacks.Callback):
    """Stops training when a loss term becomes NaN or Inf, and says which.

    `keras.callbacks.TerminateOnNaN` only sees the total loss. A multi-task
    model logs every term of its objective (`loss_<task>`, `loss_dis`,
    `loss_sparse`, `loss_inv`, and `weight_<task>` with a loss weighting),
    so after every training batch (and on each epoch's validation logs)
    this callback looks at each term and, at the first non-finite one,
    reports the terms that went non-finite, the terms still finite and the
    model weights that are non-finite after the step.

    Keras' per-batch logs are running means over the epoch, so a term
    stays non-finite once it was: the report at the first such batch names
    exactly the terms that broke in that step (the total `loss` is named
    only when no single term did).

    By default the callback raises `FloatingPointError`, so `fit` stops
    before the epoch ends: `BackupAndRestore` keeps its last good epoch and
    a trainer neither saves nor reports the broken model. With
    `raise_error=False` it sets `model.stop_training` instead (as
    `TerminateOnNaN` does), prints the report and keeps it in
    `self.report`.

    Args:
        raise_error: bool. Raise `FloatingPointError` (True) or stop
            training after the batch (False). Defaults to `True`.

    Example:

    >>> from keras_mtcrl import MultiTaskModel, ExpertEncoder, TaskHead
    >>> model = MultiTaskModel(ExpertEncoder(2, 2), {"a": TaskHead("binary")},
    ...                        input_shape=(None, 3))
    >>> guard = NonFiniteGuard()
    >>> guard.set_model(model)
    >>> nan = float("nan")
    >>> guard.on_train_batch_end(3, {"loss": nan, "loss_a": 0.5,
    ...                              "loss_inv": nan})
    Traceback (most recent call last):
    ...
    FloatingPointError: Non-finite loss term(s) at epoch 0, batch 3: ...
    >>> guard.non_finite_terms
    ['loss_inv']
    """

    def __init__(self, raise_error=True):
        super().__init__()
        if not isinstance(raise_error, bool):
            raise ValueError(
                "`raise_error` must be a bool. Received: "
                f"raise_error={raise_error!r}"
            )
        self.raise_error = raise_error
        self.non_finite_terms = []
        self.report = None
        self._epoch = 0

    def get_config(self):
        return {"raise_error": self.raise_error}

    def on_train_begin(self, logs=None):
        self.non_finite_terms = []
        self.report = None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        self._check(logs, f"epoch {self._epoch}, batch {batch}")

    def on_epoch_end(self, epoch, logs=None):
        self._check(logs, f"the end of epoch {epoch}")

    def _check(self, logs, where):
        if not logs or self.report is not None:
            return
        values = {}
        for name, value in logs.items():
            if _is_term(name):
                number = _value(value)
                if number is not None:
                    values[name] = number
        broken = [n for n, v in values.items() if not math.isfinite(v)]
        if not broken:
            return
        # Name the components; the total only when it alone broke.
        components = [n for n in broken if n not in ("loss", "val_loss")]
        self.non_finite_terms = sorted(components or broken)
        self.report = self._describe(values, where)
        if self.raise_error:
            raise FloatingPointError(self.report)
        self.model.stop_training = True
        print(self.report)

    def _describe(self, values, where):
        broken = ", ".join(f"{n}={values[n]}" for n in self.non_finite_terms)
        finite = ", ".join(
            f"{n}={v:.4g}"
            for n, v in sorted(values.items())
            if math.isfinite(v)
        )
        weights = [
            w.path
            for w in self.model.weights
            if not np.all(np.isfinite(keras.ops.convert_to_numpy(w)))
        ]
        shown = ", ".join(weights[:5]) or "none"
        if len(weights) > 5:
            shown += f" and {len(weights) - 5} more"
        return (
            f"Non-finite loss term(s) at {where}: {broken}. Still finite: "
            f"{finite or 'none'}. Non-finite weights after this step: "
            f"{shown}. Check the inputs and labels of the named term, its "
            "weight, and the learning rate."
        )
