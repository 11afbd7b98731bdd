"""Environments for the invariance penalty: a column, or derived from labels.

The data is the `synthetic` recipe's: binary tasks `a` and `b` whose labels
agree 95% and 85% of the time in training environments 0 and 1 (column
`env`) and 10% in the shifted splits (id 2). The script

1. checks, before any training, that the label dependence between the
   tasks differs across the column's environments (`label_dependence`);
2. trains one model per way of forming environments: the column, the
   column plus the label-balanced weighting (`"auto"`), and, on the same
   data without its column, `"balanced"` and `"agreement"`;
3. prints what the penalty saw in the last epoch (`loss_inv`) and, to
   show what each choice does, task `a`'s accuracy on the test splits.
   (Choose between settings on the validation split only: see "Choose
   penalty weights and graph settings".)

Run from the repository root: `python docs/examples/define_environments.py`.
"""

import dataclasses

import keras

from keras_mtcrl import CausalMTLModel
from keras_mtcrl import ExpertEncoder
from keras_mtcrl import InvariancePenalty
from keras_mtcrl import TaskHead
from keras_mtcrl.datasets.confounded_synthetic import build_confounded_synthetic
from keras_mtcrl.diagnostics import format_dependence_table
from keras_mtcrl.diagnostics import label_dependence


def check_label_shift(data):
    """Per environment: how much one task's label tells about the other's."""
    rows = label_dependence(
        data.split("train"), data.tasks, environment_key=data.environment_key
    )
    print(format_dependence_table(rows))
    return rows


def without_column(data):
    """The same data with the environment column removed."""
    key = data.environment_key

    def drop(features, labels):
        return {k: v for k, v in features.items() if k != key}, labels

    return dataclasses.replace(
        data,
        splits={name: ds.map(drop) for name, ds in data.splits.items()},
        num_environments=0,
    )


def build_model(data, environments, num_modules=4, **penalty_args):
    """A `CausalMTLModel` whose invariance penalty uses `environments`."""
    features, _ = data.split("train").element_spec
    input_shape = {
        name: (None,) + tuple(spec.shape) for name, spec in features.items()
    }
    invariance = InvariancePenalty(
        environments=environments,
        # Ids 0..N-1 of the column; None when the data has no column.
        num_environments=data.num_environments or None,
        **penalty_args,
    )
    return CausalMTLModel(
        encoder=ExpertEncoder(
            num_modules=num_modules, module_units=8, hidden_units=(32,)
        ),
        heads={t.name: TaskHead(t.kind, t.units) for t in data.tasks},
        invariance=invariance,
        environment_key=data.environment_key,
        input_shape=input_shape,
    )


def main(num_train=4000, num_eval=2000, epochs=30, batch_size=128,
         warmup_steps=200, ramp_steps=200, num_modules=4):
    data = build_confounded_synthetic(num_train=num_train, num_eval=num_eval)
    check_label_shift(data)
    plain = without_column(data)
    choices = {
        "column": (data, "column"),
        "auto": (data, "auto"),  # the column and the balanced weighting
        "balanced": (plain, "balanced"),
        "agreement": (plain, "agreement"),
    }
    results = {}
    for name, (choice_data, environments) in choices.items():
        keras.utils.set_random_seed(0)
        model = build_model(
            choice_data,
            environments,
            num_modules=num_modules,
            warmup_steps=warmup_steps,
            ramp_steps=ramp_steps,
            min_env_samples=8,
        )
        model.compile(optimizer=keras.optimizers.Adam(3e-3))
        history = model.fit(
            choice_data.batched("train", batch_size, shuffle=True),
            validation_data=choice_data.batched("validation", batch_size),
            epochs=epochs,
            shuffle=False,
            verbose=0,
        )
        results[name] = {"loss_inv": history.history["loss_inv"][-1]}
        for split in ("test", "test_shifted"):
            scores = model.evaluate(
                choice_data.batched(split, batch_size),
                return_dict=True,
                verbose=0,
            )
            results[name][split] = scores["a_accuracy"]
    print("| environments | loss_inv (last epoch) | test accuracy of a "
          "| shifted test accuracy of a |\n|---|---|---|---|")
    for name, row in results.items():
        print(f"| {name} | {row['loss_inv']:.3g} | {row['test']:.3f} "
              f"| {row['test_shifted']:.3f} |")
    return results


if __name__ == "__main__":
    main()
