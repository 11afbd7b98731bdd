"""Quickstart: train a CausalMTLModel on a tf.data pipeline, read its graph.

Run from the repository root: `python docs/examples/quickstart.py`.
"""

import keras

from keras_mtcrl import CausalMTLModel
from keras_mtcrl import ExpertEncoder
from keras_mtcrl import InvariancePenalty
from keras_mtcrl import TaskHead
from keras_mtcrl.datasets.confounded_synthetic import build_confounded_synthetic


def main(num_train=4000, num_eval=2000, epochs=30, batch_size=128):
    keras.utils.set_random_seed(0)
    # Binary tasks "a" and "b"; features {"x": (8,) float32, "env": int32}.
    data = build_confounded_synthetic(num_train=num_train, num_eval=num_eval)
    model = CausalMTLModel(
        encoder=ExpertEncoder(num_modules=4, module_units=8),
        heads={t.name: TaskHead(t.kind, t.units) for t in data.tasks},
        # Library defaults; only the number of environment ids is needed.
        invariance=InvariancePenalty(num_environments=data.num_environments),
        input_shape={"x": (None, 8), "env": (None,)},
    )
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    model.fit(
        data.batched("train", batch_size, shuffle=True),
        validation_data=data.batched("validation", batch_size),
        epochs=epochs,
        shuffle=False,  # the dataset shuffles itself
        verbose=2,
    )
    for split in ("test", "test_shifted"):
        scores = model.evaluate(
            data.batched(split, batch_size), return_dict=True, verbose=0
        )
        print(
            split,
            {k: round(scores[k], 3) for k in ("a_accuracy", "b_accuracy")},
        )
    print(model.causal_graph_table())  # rows: tasks, columns: modules
    return model


if __name__ == "__main__":
    main()
