"""Checks in the step, at inference and at the API (issue 14, points
6-10): late bad labels, NaN inputs, clear errors, absent metrics,
from_config."""

import os
import tempfile

import numpy as np
import pytest
import tensorflow as tf
from absl.testing import parameterized

from keras_mtcrl import CausalMTLModel
from keras_mtcrl import ExpertEncoder
from keras_mtcrl import InvariancePenalty
from keras_mtcrl import MultiTaskModel
from keras_mtcrl import TaskHead
from keras_mtcrl.export import export_for_serving
from keras_mtcrl.testing import TestCase


def make_model(jit_compile=False, invariance=None):
    heads = {"bin": TaskHead("binary"), "cls": TaskHead("multiclass", 3)}
    if invariance is not None:
        model = CausalMTLModel(
            encoder=ExpertEncoder(num_modules=2, module_units=3),
            heads=heads,
            input_shape={"x": (None, 4), "env": (None,)},
            invariance=invariance,
        )
    else:
        model = MultiTaskModel(
            ExpertEncoder(2, 3), heads, input_shape={"x": (None, 4)}
        )
    model.compile(optimizer="adam", jit_compile=jit_compile)
    return model


class NanToZeroEncoder(ExpertEncoder):
    """An encoder that turns NaN/Inf into 0 (as some layers do): its
    outputs look confident for broken inputs."""

    def call(self, inputs, training=None):
        finite = tf.where(tf.math.is_finite(inputs), inputs, 0.0)
        return super().call(finite, training=training)


def make_data(n=32, env=False):
    rng = np.random.default_rng(0)
    x = {"x": rng.normal(size=(n, 4)).astype("float32")}
    if env:
        x["env"] = (np.arange(n) % 2).astype("int32")
    y = {
        "bin": (rng.random(n) > 0.5).astype("float32"),
        "cls": rng.integers(0, 3, size=n).astype("float32"),
    }
    return x, y


def batches(x, y, batch_size=8):
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size)


class LateBadLabelsTest(TestCase, parameterized.TestCase):
    """Point 6: bad values after the first batches stop `fit`."""

    @parameterized.named_parameters(
        ("non_integral", "cls", 1.6, "1 non-integral class id"),
        ("class_range", "cls", 7.0, r"1 class id\(s\) >= 3"),
        ("binary_range", "bin", 5.0, r"1 target\(s\) outside \[0, 1\]"),
    )
    def test_bad_label_in_the_last_batch(self, task, value, message):
        for jit in (False, True):
            x, y = make_data()
            y[task][-1] = value  # batch 3: validate_data reads 0 and 1
            with pytest.raises(
                ValueError,
                match=rf"training batch 3: labels of task '{task}': "
                + message,
            ):
                make_model(jit).fit(batches(x, y), epochs=1, verbose=0)

    @pytest.mark.slow  # over 40 s on 2 CPU cores
    def test_bad_environment_ids(self):
        invariance = InvariancePenalty(num_environments=2, min_env_samples=1)
        for jit, bad, message in (
            (False, 5, r">= num_environments=2"),
            (True, -3, "negative environment id"),
        ):
            x, y = make_data(env=True)
            x["env"][-1] = bad
            model = make_model(jit, invariance)
            with pytest.raises(ValueError, match=message):
                model.fit(batches(x, y), epochs=1, verbose=0)

    def test_evaluate_raises_too_and_clean_data_passes(self):
        x, y = make_data()
        model = make_model()
        model.fit(batches(x, y), epochs=1, verbose=0)  # no error
        y["cls"][0] = 2.5
        with pytest.raises(ValueError, match="Evaluation batch 0"):
            model.evaluate(batches(x, y), verbose=0)


class NonFiniteInferenceTest(TestCase):
    """Point 7: NaN features give NaN predictions, also when exported."""

    def test_predict_and_serving_flag_nan_inputs(self):
        x, _ = make_data(n=4)
        x["x"][1, 2] = np.nan
        x["x"][3, 0] = np.inf
        model = MultiTaskModel(
            NanToZeroEncoder(2, 3),
            {"bin": TaskHead("binary"), "cls": TaskHead("multiclass", 3)},
            input_shape={"x": (None, 4)},
        )
        outputs = model.predict(x, verbose=0)
        for task in ("bin", "cls"):
            self.assertTrue(np.isnan(outputs[task][[1, 3]]).all())
            self.assertTrue(np.isfinite(outputs[task][[0, 2]]).all())
        path = os.path.join(tempfile.mkdtemp(), "served")
        export_for_serving(model, path)
        serve = tf.saved_model.load(path).signatures["serving_default"]
        served = serve(x=tf.constant(x["x"]))
        self.assertTrue(np.isnan(served["bin"].numpy()[[1, 3]]).all())
        self.assertTrue(np.isfinite(served["bin"].numpy()[[0, 2]]).all())


class ApiErrorsTest(TestCase):
    """Point 8: short errors naming the task, key or value and the fix."""

    def assert_short_error(self, pattern, call):
        with pytest.raises(ValueError, match=pattern) as error:
            call()
        self.assertLess(len(str(error.value)), 600)

    def test_string_and_ragged_labels_and_inputs(self):
        x, y = make_data(n=8)
        model = make_model()
        strings = dict(y, cls=y["cls"].astype(str))
        self.assert_short_error(
            "labels of task 'cls' holds strings",
            lambda: model.fit(x, strings, verbose=0),
        )
        self.assert_short_error(
            "input 'x' holds strings",
            lambda: model.predict({"x": x["x"].astype(str)}, verbose=0),
        )
        ragged = tf.ragged.constant([[1.0, 2.0], [3.0]])
        self.assert_short_error(
            "input 'x' is a RaggedTensor", lambda: model({"x": ragged})
        )

    def test_misspelled_key_and_float_environment_ids(self):
        x, y = make_data(n=8)
        model = make_model()
        self.assert_short_error(
            r"unknown \['xx'\], missing \['x'\]",
            lambda: model.predict({"xx": x["x"]}, verbose=0),
        )
        invariance = InvariancePenalty(num_environments=2, min_env_samples=1)
        model = make_model(invariance=invariance)
        x = dict(x, env=np.zeros(8, "float32"))
        self.assert_short_error(
            "Environment ids under 'env' have dtype float32",
            lambda: model.fit(x, y, verbose=0),
        )

    def test_no_environment_entry_with_num_environments(self):
        x, y = make_data(n=8)
        invariance = InvariancePenalty(num_environments=2, min_env_samples=1)
        model = CausalMTLModel(
            encoder=ExpertEncoder(num_modules=2, module_units=3),
            heads={"bin": TaskHead("binary"), "cls": TaskHead("multiclass", 3)},
            input_shape=(None, 4),
            invariance=invariance,
        )
        model.compile(optimizer="adam")
        self.assert_short_error(
            "num_environments=2, but the inputs carry no environment ids",
            lambda: model.fit(x["x"], y, verbose=0),
        )

    def test_multiclass_head_needs_units(self):
        self.assert_short_error(
            "units=num_classes", lambda: TaskHead("multiclass")
        )

    @pytest.mark.slow  # over 40 s on 2 CPU cores
    def test_out_of_range_ids_give_a_short_message(self):
        invariance = InvariancePenalty(num_environments=2, min_env_samples=1)
        x, y = make_data(n=8, env=True)
        x["env"][0] = 2
        self.assert_short_error(
            r"under 'env': 1 environment id\(s\) >= num_environments=2",
            lambda: make_model(invariance=invariance).fit(x, y, verbose=0),
        )
        x, y = make_data(n=8)
        y["cls"][0] = 3
        self.assert_short_error(
            r"labels of task 'cls': 1 class id\(s\) >= 3",
            lambda: make_model().fit(x, y, verbose=0),
        )


class AbsentMetricsTest(TestCase):
    """Point 9: metrics of a task without labels are NaN, not 0.0."""

    def test_task_without_labels_logs_nan_metrics(self):
        x, y = make_data(n=16)
        y["bin"][:] = np.nan
        model = make_model()
        history = model.fit(x, y, epochs=1, verbose=0)
        scores = model.evaluate(x, y, verbose=0, return_dict=True)
        for logs in (scores, {k: v[0] for k, v in history.history.items()}):
            self.assertTrue(np.isnan(logs["bin_accuracy"]))
            self.assertTrue(np.isnan(logs["bin_auc"]))
            self.assertTrue(np.isfinite(logs["cls_accuracy"]))


class FromConfigTest(TestCase):
    """Point 10: a config without a field names the field."""

    def test_missing_field_is_named(self):
        model = make_model(
            invariance=InvariancePenalty(num_environments=2)
        )
        config = model.get_config()
        del config["invariance"]
        with pytest.raises(ValueError, match="lacks the field 'invariance'"):
            CausalMTLModel.from_config(config)
        config = make_model().get_config()
        del config["encoder"]
        with pytest.raises(ValueError, match="lacks the field 'encoder'"):
            MultiTaskModel.from_config(config)
