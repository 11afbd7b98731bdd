"""Choose the invariance weight on the in-distribution validation split.

For each candidate weight, one `CausalMTLModel` is trained on the
`synthetic` recipe's data. `ModelCheckpoint` keeps its best epoch by
`val_worst_env_loss` and `EarlyStopping` ends the run when that has not
improved for `patience` epochs; both start once the penalty has reached
its full weight, so that every candidate is judged with its own weight
on. The weight whose best `val_worst_env_loss` is lowest wins. Only then
is the winner evaluated on the shifted test split, to report it.

Run from the repository root: `python docs/examples/choose_weights.py`.
"""

import math
import os
import tempfile

import keras

import keras_mtcrl  # noqa: F401  (registers the classes for load_model)
from keras_mtcrl import CausalMTLModel
from keras_mtcrl import ExpertEncoder
from keras_mtcrl import InvariancePenalty
from keras_mtcrl import SparsityPenalty
from keras_mtcrl import TaskHead
from keras_mtcrl.datasets.confounded_synthetic import build_confounded_synthetic

MONITOR = "val_worst_env_loss"


class CheckpointAfter(keras.callbacks.ModelCheckpoint):
    """`ModelCheckpoint` that ignores the epochs before `start_from_epoch`.

    Args:
        *args: `keras.callbacks.ModelCheckpoint` arguments.
        start_from_epoch: int. Epochs (from 0) to skip. Defaults to `0`.
        **kwargs: `keras.callbacks.ModelCheckpoint` keyword arguments.
    """

    def __init__(self, *args, start_from_epoch=0, **kwargs):
        super().__init__(*args, **kwargs)
        self.start_from_epoch = start_from_epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch >= self.start_from_epoch:
            super().on_epoch_end(epoch, logs)


def train_candidate(data, weight, path, epochs, batch_size, patience,
                    warmup_steps, ramp_steps, num_modules=4):
    """Trains with invariance weight `weight`; returns its best score and
    the training history."""
    keras.utils.set_random_seed(0)
    model = CausalMTLModel(
        encoder=ExpertEncoder(
            num_modules=num_modules, module_units=8, hidden_units=(32,)
        ),
        heads={t.name: TaskHead(t.kind, t.units) for t in data.tasks},
        invariance=InvariancePenalty(
            weight=weight,
            warmup_steps=warmup_steps,
            ramp_steps=ramp_steps,
            num_environments=data.num_environments,
            min_env_samples=8,
        ),
        sparsity=SparsityPenalty(weight=0.05),
        input_shape={"x": (None, 8), "env": (None,)},
    )
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    # The first epoch in which the penalty has its full weight.
    steps_per_epoch = math.ceil(data.sizes["train"] / batch_size)
    full_weight = (warmup_steps + ramp_steps) // steps_per_epoch
    checkpoint = CheckpointAfter(
        path,
        monitor=MONITOR,
        mode="min",
        save_best_only=True,
        start_from_epoch=full_weight,
    )
    stop = keras.callbacks.EarlyStopping(
        monitor=MONITOR,
        mode="min",
        patience=patience,
        start_from_epoch=full_weight,
    )
    history = model.fit(
        data.batched("train", batch_size, shuffle=True),
        # The in-distribution validation split: never a shifted one.
        validation_data=data.batched("validation", batch_size),
        epochs=epochs,
        shuffle=False,
        callbacks=[checkpoint, stop],
        verbose=0,
    )
    return checkpoint.best, history.history


def main(weights=(10.0, 100.0), num_train=4000, num_eval=2000, epochs=30,
         batch_size=128, patience=5, warmup_steps=200, ramp_steps=200,
         folder=None, num_modules=4):
    data = build_confounded_synthetic(num_train=num_train, num_eval=num_eval)
    folder = folder or tempfile.mkdtemp()
    paths = {w: os.path.join(folder, f"weight_{w:g}.keras") for w in weights}
    scores = {}
    for weight in weights:
        scores[weight], _ = train_candidate(
            data, weight, paths[weight], epochs, batch_size, patience,
            warmup_steps, ramp_steps, num_modules,
        )
        print(f"invariance weight {weight:g}: best {MONITOR} "
              f"{scores[weight]:.3f}")
    chosen = min(scores, key=scores.get)
    print(f"chosen: {chosen:g}")
    # Only the chosen model is evaluated out of distribution, to report it.
    model = keras.saving.load_model(paths[chosen])
    report = {
        split: model.evaluate(
            data.batched(split, batch_size), return_dict=True, verbose=0
        )
        for split in ("validation", "test", "test_shifted")
    }
    print({split: round(r["a_accuracy"], 3) for split, r in report.items()})
    return {"scores": scores, "chosen": chosen, "paths": paths,
            "report": report}


if __name__ == "__main__":
    main()
