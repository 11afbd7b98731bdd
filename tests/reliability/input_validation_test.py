"""Bad input fails before training starts, with errors that name it."""

import os
import tempfile
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_mtcrl import CausalMTLModel
from keras_mtcrl import ChannelGroupEncoder
from keras_mtcrl import DisentanglementPenalty
from keras_mtcrl import ExpertEncoder
from keras_mtcrl import InvariancePenalty
from keras_mtcrl import MultiTaskData
from keras_mtcrl import SparsityPenalty
from keras_mtcrl import TaskHead
from keras_mtcrl import TaskSpec
from keras_mtcrl.testing import TestCase
from keras_mtcrl.training import Trainer
from keras_mtcrl.training import get_recipe
from keras_mtcrl.training.validation import DataWarning
from keras_mtcrl.training.validation import validate_data

TASKS = (
    TaskSpec("digit", "multiclass", 3),
    TaskSpec("odd", "binary", 1),
    TaskSpec("size", "regression", 1),
)


def make_arrays(n=16, seed=0):
    rng = np.random.default_rng(seed)
    features = {
        "x": rng.normal(size=(n, 4)).astype("float32"),
        "env": (np.arange(n) % 2).astype("int32"),
    }
    labels = {
        "digit": rng.integers(0, 3, n).astype("int32"),
        "odd": (rng.random(n) > 0.5).astype("float32"),
        "size": rng.normal(size=n).astype("float32"),
    }
    return features, labels


def make_data(features, labels, tasks=TASKS, num_environments=2):
    dataset = tf.data.Dataset.from_tensor_slices((features, labels))
    return MultiTaskData({"train": dataset}, tasks, num_environments)


def make_model(min_env_samples=1, num_environments=2):
    return CausalMTLModel(
        encoder=ExpertEncoder(num_modules=2, module_units=2),
        heads={
            "digit": TaskHead("multiclass", 3),
            "odd": TaskHead("binary"),
            "size": TaskHead("regression"),
        },
        invariance=InvariancePenalty(
            num_environments=num_environments, min_env_samples=min_env_samples
        ),
        input_shape={"x": (None, 4), "env": (None,)},
    )


class ValidateDataTest(TestCase):
    def assert_rejected(self, pattern, features, labels, model=None, **kw):
        data = make_data(features, labels, **kw)
        with pytest.raises(ValueError, match=pattern):
            validate_data(data, model, batch_size=8)

    def test_clean_data_passes_and_is_summarised(self):
        features, labels = make_arrays()
        labels["size"][:3] = np.nan
        labels["digit"][5] = -1
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            report = validate_data(
                make_data(features, labels), make_model(), batch_size=8
            )
        self.assertEqual(report["examples"], 16)
        self.assertEqual(
            report["labelled"], {"digit": 15, "odd": 16, "size": 13}
        )
        self.assertEqual(report["environments"], [0, 1])

    def test_unknown_and_missing_tasks(self):
        features, labels = make_arrays()
        self.assert_rejected(
            r"batch 0: Labels contain unknown task\(s\) \['colour'\]",
            features,
            {**labels, "colour": labels["size"]},
        )
        del labels["odd"]
        self.assert_rejected(
            r"Labels lack task\(s\) \['odd'\]", features, labels
        )

    def test_label_dtype(self):
        features, labels = make_arrays()
        labels["odd"] = labels["odd"] > 0.5
        self.assert_rejected(
            "labels of task 'odd' have dtype bool. Use float32",
            features,
            labels,
        )

    def test_label_shape_against_specs_and_against_the_model(self):
        features, labels = make_arrays()
        labels["size"] = np.zeros((16, 2, 2), "float32")
        self.assert_rejected(
            r"labels of task 'size' have shape \(8, 2, 2\). Expected "
            r"\(batch,\) or \(batch, 1\)",
            features,
            labels,
        )
        self.assert_rejected(
            r"Labels of task 'size' have shape \(2, 2, 2\), but its head "
            r"predicts shape \(2, 1\)",
            features,
            labels,
            model=make_model(),
        )

    def test_class_ids_out_of_range_and_non_integral(self):
        features, labels = make_arrays()
        labels["digit"][11] = 7
        self.assert_rejected(
            r"batch 1: labels of task 'digit' contain class id 7 \(1 "
            r"label\(s\) >= 3\), but its head has 3 classes",
            features,
            labels,
            model=make_model(),
        )
        features, labels = make_arrays()
        labels["digit"] = labels["digit"].astype("float32")
        labels["digit"][2] = 1.5
        self.assert_rejected("non-integral value 1.5", features, labels)

    def test_binary_targets_outside_unit_interval(self):
        features, labels = make_arrays()
        labels["odd"][4] = 2.0
        self.assert_rejected(
            r"'odd' must be in \[0, 1\] for a binary task; found 2",
            features,
            labels,
        )

    def test_negative_integer_regression_targets(self):
        features, labels = make_arrays()
        labels["size"] = np.arange(-8, 8).astype("int32")
        self.assert_rejected(
            "negative values, which count as missing labels. Store "
            "regression targets as float32",
            features,
            labels,
        )

    def test_non_finite_features_are_counted_and_located(self):
        features, labels = make_arrays()
        features["x"][10, 2] = np.nan
        features["x"][12, 0] = np.inf
        self.assert_rejected(
            r"batch 1: feature 'x' has 2 non-finite value\(s\) \(NaN or "
            r"Inf\), the first in example 2 of the batch",
            features,
            labels,
        )

    def test_feature_keys_and_shapes_against_the_model(self):
        features, labels = make_arrays()
        renamed = {"pixels": features["x"], "env": features["env"]}
        self.assert_rejected(
            r"features lack input\(s\) \['x'\]", renamed, labels, make_model()
        )
        extra = {**features, "age": features["env"]}
        self.assert_rejected(
            r"unknown input\(s\) \['age'\]", extra, labels, make_model()
        )
        wide = {**features, "x": np.zeros((16, 5), "float32")}
        self.assert_rejected(
            r"feature 'x' has shape \(8, 5\), but the model was built for "
            r"inputs of shape \(None, 4\)",
            wide,
            labels,
            make_model(),
        )

    def test_environment_ids(self):
        features, labels = make_arrays()
        features["env"][3] = 4
        self.assert_rejected(
            "environment id 4 under 'env' is out of range: "
            r"num_environments=2 allows ids 0\.\.1",
            features,
            labels,
            make_model(),
        )
        features, labels = make_arrays()
        features["env"] = features["env"].astype("float32")
        self.assert_rejected(
            "environment ids under 'env' have dtype float32", features, labels
        )
        features, labels = make_arrays()
        model = make_model()
        model.invariance.num_environments = None
        self.assert_rejected(
            "InvariancePenalty has num_environments=None",
            features,
            labels,
            model,
        )

    def test_single_environment_value_warns(self):
        features, labels = make_arrays()
        features["env"][:] = 1
        data = make_data(features, labels)
        with pytest.warns(DataWarning, match="single value \\[1\\]"):
            validate_data(data, make_model(), batch_size=8)
        with pytest.warns(DataWarning, match="single value"):
            validate_data(data, batch_size=8)  # TaskSpecs: same check

    def test_too_few_samples_per_environment_warns(self):
        features, labels = make_arrays()
        features["env"] = (np.arange(16) < 2).astype("int32")  # 1 x 2, 0 x 14
        data = make_data(features, labels)
        with pytest.warns(DataWarning, match="min_env_samples=4"):
            validate_data(data, make_model(min_env_samples=4), batch_size=8)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            validate_data(data, make_model(min_env_samples=2), batch_size=8)

    def test_model_without_invariance_ignores_the_environment_column(self):
        features, labels = make_arrays()
        features["env"][:] = 0
        model = make_model()
        model.invariance = None
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            report = validate_data(make_data(features, labels), model)
        self.assertEqual(report["environments"], [0])


def tiny_recipe(**changes):
    return get_recipe("synthetic").with_config(
        data_args={"num_train": 128, "num_eval": 64},
        batch_size=32,
        epochs=1,
        architectures=("mtcrl",),
        **changes,
    )


def broken_synthetic(config):
    """The synthetic data with one class id out of range in `train`."""
    data = get_recipe("synthetic").build_data(config)

    def corrupt(features, labels):
        bad = tf.equal(features["x"][0], features["x"][0])  # always true
        return features, {**labels, "b": tf.where(bad, 3.0, labels["b"])}

    splits = dict(data.splits)
    splits["train"] = splits["train"].map(corrupt)
    data.splits = splits
    return data


class TrainerChecksBeforeFitTest(TestCase):
    def test_bad_labels_stop_the_trainer_before_training(self):
        recipe = tiny_recipe()
        recipe = type(recipe)(
            recipe.config, broken_synthetic, recipe.build_encoder
        )
        folder = tempfile.mkdtemp()
        with pytest.raises(
            ValueError,
            match=r"The training data, batch 0: labels of task 'b' must be "
            r"in \[0, 1\] for a binary task; found 3",
        ):
            Trainer(recipe, folder, "one", verbose=0).run()
        run_dir = os.path.join(folder, "seed_0", "mtcrl")
        # No epoch ran: no backup, no TensorBoard training logs.
        self.assertFalse(os.path.exists(os.path.join(run_dir, "backup")))
        self.assertFalse(
            os.path.exists(os.path.join(run_dir, "tensorboard", "train"))
        )

    def test_negative_penalty_weight_in_a_recipe_is_refused(self):
        folder = tempfile.mkdtemp()
        for field, value in (
            ("invariance_weight", -1.0),
            ("disentanglement_weight", -0.5),
            ("sparsity_weight", float("nan")),
        ):
            with pytest.raises(ValueError, match="must be a non-negative"):
                Trainer(tiny_recipe(**{field: value}), folder, "one", 0).run()
        self.assertFalse(
            os.path.exists(os.path.join(folder, "seed_0", "mtcrl", "backup"))
        )


class ConstructionErrorsTest(TestCase):
    def test_negative_or_nan_penalty_weights(self):
        for make, name in (
            (lambda w: InvariancePenalty(weight=w), "weight"),
            (lambda w: DisentanglementPenalty(weight=w), "weight"),
            (lambda w: SparsityPenalty(weight=w), "weight"),
        ):
            for value in (-1.0, float("nan"), "1"):
                with pytest.raises(
                    ValueError,
                    match=f"`{name}` must be a non-negative number. "
                    f"Received: {name}=",
                ):
                    make(value)

    def test_num_modules_must_divide_the_backbone_width(self):
        backbone = keras.Sequential([keras.layers.Dense(10)])
        encoder = ChannelGroupEncoder(backbone, num_modules=4)
        message = (
            r"The backbone's output width \(10, output shape \(None, 10\)\) "
            r"must be divisible by num_modules=4"
        )
        with pytest.raises(ValueError, match=message):
            encoder.build((None, 3))
        with pytest.raises(ValueError, match=message):
            CausalMTLModel(
                ChannelGroupEncoder(
                    keras.Sequential([keras.layers.Dense(10)]), num_modules=4
                ),
                {"a": TaskHead("binary")},
                input_shape=(None, 3),
            )
        with pytest.raises(
            ValueError, match="`num_modules` must be a positive"
        ):
            ChannelGroupEncoder(backbone, num_modules=0)
