"""Your own data into a CausalMTLModel: numpy, tf.data, and a TFDS builder.

One generated tabular problem with three tasks of different kinds:

- `churn` (binary): whether a customer leaves; its own features are weak;
- `plan` (multiclass, 3 classes): the customer's plan, almost exactly
  given by its own features;
- `spend` (regression): monthly spend, from its own features and the plan.

In the two training environments (column `env`, ids 0 and 1) the plan
follows churn 90% and 70% of the time (churners on plan 0, the others on
plan 2), so the plan's features are a shortcut for `churn`. In the shifted
splits (id 2) the plan is independent of churn and the shortcut fails.

Run from the repository root: `python docs/examples/bring_your_own_data.py`.
"""

import dataclasses
import tempfile

import keras
import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from keras_mtcrl import CausalMTLModel
from keras_mtcrl import ExpertEncoder
from keras_mtcrl import InvariancePenalty
from keras_mtcrl import MultiTaskData
from keras_mtcrl import TaskHead
from keras_mtcrl import TaskSpec
from keras_mtcrl.datasets.tfds_builders import offline_download_config

TASKS = (
    TaskSpec("churn", "binary", 1),
    TaskSpec("plan", "multiclass", 3),
    TaskSpec("spend", "regression", 1),
)
NUM_FEATURES = 10
#: How often the plan follows churn, per environment id (2: shifted).
AGREEMENT = {0: 0.9, 1: 0.7, 2: 0.0}
SPLITS = {  # split -> environment ids it is drawn from
    "train": (0, 1),
    "validation": (0, 1),
    "test": (0, 1),
    "test_shifted": (2,),
}


# ---- The data: plain numpy arrays -------------------------------------------
def make_customers(num, env_ids, seed):
    """`(features, labels)`: dicts of numpy arrays with `num` rows."""
    rng = np.random.default_rng(seed)
    env = np.asarray(env_ids, "int32")[np.arange(num) % len(env_ids)]
    churn = rng.integers(0, 2, num)
    follows = rng.random(num) < np.vectorize(AGREEMENT.get)(env)
    plan = np.where(
        follows, np.where(churn == 1, 0, 2), rng.integers(0, 3, num)
    )
    own_churn = 0.6 * churn[:, None] + rng.normal(size=(num, 4))  # weak
    own_plan = 2.0 * np.eye(3)[plan] + 0.3 * rng.normal(size=(num, 3))
    own_spend = rng.normal(size=(num, 3))
    spend = (
        own_spend @ np.array([0.8, -0.5, 0.3])
        + 0.5 * (plan - 1)
        + 0.3 * rng.normal(size=num)
    )
    features = {
        "x": np.concatenate([own_churn, own_plan, own_spend], 1),
        "env": env,
    }
    features["x"] = features["x"].astype("float32")
    labels = {
        "churn": churn.astype("float32"),  # binary: 0/1 floats
        "plan": plan.astype("int32"),  # multiclass: class ids
        "spend": spend.astype("float32"),  # regression: values
    }
    return features, labels


def make_splits(num_train=4000, num_eval=1000, seed=0):
    """Split name -> `(features, labels)` of numpy arrays."""
    return {
        name: make_customers(
            num_train if name == "train" else num_eval, envs, seed + i
        )
        for i, (name, envs) in enumerate(SPLITS.items())
    }


# ---- The model: the same for every input pipeline ---------------------------
def build_model(num_modules=4):
    """A `CausalMTLModel` with one head per task, by kind."""
    keras.utils.set_random_seed(0)  # the same initial weights every time
    return CausalMTLModel(
        encoder=ExpertEncoder(
            num_modules=num_modules, module_units=8, hidden_units=(32,)
        ),
        heads={
            "churn": TaskHead("binary"),
            "plan": TaskHead("multiclass", units=3),
            "spend": TaskHead("regression"),
        },
        # The data carries an environment column under "env" with ids 0
        # and 1 in training (2, the shifted split's own, counts in none).
        invariance=InvariancePenalty(num_environments=2),
        input_shape={"x": (None, NUM_FEATURES), "env": (None,)},
    )


def train(model, x, y=None, *, validation_data, epochs, **fit_kwargs):
    """Compiles `model` (losses and metrics by head kind) and fits it."""
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    return model.fit(
        x,
        y,
        validation_data=validation_data,
        epochs=epochs,
        verbose=2,
        **fit_kwargs,
    )


# ---- 1. numpy arrays --------------------------------------------------------
def fit_numpy(splits, epochs, batch_size):
    """`fit(features, labels)` with dicts of arrays, as for any Keras model."""
    model = build_model()
    features, labels = splits["train"]
    history = train(
        model,
        features,
        labels,
        validation_data=splits["validation"],
        epochs=epochs,
        batch_size=batch_size,
    )
    return model, history


# ---- 2. a tf.data.Dataset ---------------------------------------------------
def as_multi_task_data(splits):
    """The splits as the library's `MultiTaskData` (unbatched `tf.data`)."""
    return MultiTaskData(
        splits={
            name: tf.data.Dataset.from_tensor_slices(arrays)
            for name, arrays in splits.items()
        },
        tasks=TASKS,
        num_environments=2,
        sizes={name: len(arrays[0]["env"]) for name, arrays in splits.items()},
    )


def fit_tf_data(data, epochs, batch_size):
    """`fit` on batches of `(features, labels)` dicts."""
    model = build_model()
    history = train(
        model,
        data.batched("train", batch_size, shuffle=True),
        validation_data=data.batched("validation", batch_size),
        epochs=epochs,
        shuffle=False,  # the dataset shuffles itself
    )
    return model, history


# ---- 3. a TFDS builder ------------------------------------------------------
@dataclasses.dataclass
class CustomersConfig(tfds.core.BuilderConfig):
    """Sizes of the generated splits (each config is prepared on its own)."""

    num_train: int = 4000
    num_eval: int = 1000


class ConfoundedCustomers(
    tfds.core.GeneratorBasedBuilder, skip_registration=True
):
    """The same data as a TFDS builder: prepared once, then read from disk.

    `skip_registration=True` keeps this example out of `tfds.load`'s
    registry; a builder in your own package can drop it and be loaded by
    name (`tfds.load("confounded_customers")`).
    """

    VERSION = tfds.core.Version("1.0.0")
    BUILDER_CONFIGS = [CustomersConfig(name="default")]

    def _info(self):
        return tfds.core.DatasetInfo(
            builder=self,
            description="Generated customers: churn, plan and spend.",
            # Keep the generated order (the training input shuffles).
            disable_shuffling=True,
            features=tfds.features.FeaturesDict(
                {
                    "x": tfds.features.Tensor(
                        shape=(NUM_FEATURES,), dtype=np.float32
                    ),
                    "env": np.int32,
                    "churn": np.float32,
                    "plan": tfds.features.ClassLabel(num_classes=3),
                    "spend": np.float32,
                }
            ),
        )

    def _split_generators(self, dl_manager):
        del dl_manager  # generated: nothing to download
        config = self.builder_config
        return {
            name: self._generate_examples(arrays)
            for name, arrays in make_splits(
                config.num_train, config.num_eval
            ).items()
        }

    def _generate_examples(self, arrays):
        features, labels = arrays
        for i in range(len(features["env"])):
            yield i, {
                "x": features["x"][i],
                "env": features["env"][i],
                **{task: labels[task][i] for task in labels},
            }


def to_features_and_labels(example):
    """A TFDS example (one flat dict) -> the model's `(features, labels)`."""
    features = {"x": example["x"], "env": example["env"]}
    labels = {
        "churn": example["churn"],
        "plan": tf.cast(example["plan"], "int32"),
        "spend": example["spend"],
    }
    return features, labels


def fit_tfds(builder, epochs, batch_size):
    """Prepares `builder` (offline, once) and trains on its splits."""
    builder.download_and_prepare(download_config=offline_download_config())

    def read(split, shuffle=False):
        # The builder keeps the generated order: shuffle examples here.
        ds = builder.as_dataset(split=split, shuffle_files=False)
        ds = ds.map(to_features_and_labels, num_parallel_calls=tf.data.AUTOTUNE)
        if shuffle:
            ds = ds.shuffle(10_000, seed=0)
        return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)

    model = build_model()
    history = train(
        model,
        read("train", shuffle=True),
        # TFDS' split slicing: the first half of the validation split.
        validation_data=read("validation[:50%]"),
        epochs=epochs,
        shuffle=False,
    )
    return model, history, read


def main(num_train=4000, num_eval=1000, epochs=20, batch_size=128,
         data_dir=None):
    splits = make_splits(num_train, num_eval)
    models = {}
    models["numpy"], _ = fit_numpy(splits, epochs, batch_size)
    data = as_multi_task_data(splits)
    models["tf.data"], _ = fit_tf_data(data, epochs, batch_size)
    config = CustomersConfig(
        name=f"n{num_train}_e{num_eval}",
        num_train=num_train,
        num_eval=num_eval,
    )
    builder = ConfoundedCustomers(
        config=config, data_dir=data_dir or tempfile.mkdtemp()
    )
    models["tfds"], _, read = fit_tfds(builder, epochs, batch_size)

    report = ("churn_accuracy", "plan_accuracy", "spend_rmse")
    scores = {}
    for way, model in models.items():
        for split in ("test", "test_shifted"):
            result = model.evaluate(
                data.batched(split, batch_size), return_dict=True, verbose=0
            )
            scores[way, split] = result
            print(way, split, {k: round(result[k], 3) for k in report})
    model = models["tfds"]
    print(model.causal_graph_table())  # rows: tasks, columns: modules
    # Predictions: one array per task; the env column may be left out.
    predictions = model.predict({"x": splits["test"][0]["x"]}, verbose=0)
    print({task: p.shape for task, p in predictions.items()})
    return {
        "models": models,
        "scores": scores,
        "predictions": predictions,
        "splits": splits,
        "builder": builder,
        "read": read,
    }


if __name__ == "__main__":
    main()
