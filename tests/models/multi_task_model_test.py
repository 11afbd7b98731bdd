import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_mtcrl.layers import ExpertEncoder
from keras_mtcrl.layers import MixtureOfExpertsRouter
from keras_mtcrl.layers import TaskHead
from keras_mtcrl.models import MultiTaskModel
from keras_mtcrl.testing import TestCase


def make_model(router=None, input_shape=(None, 4)):
    return MultiTaskModel(
        encoder=ExpertEncoder(num_modules=2, module_units=3),
        heads={
            "cls": TaskHead("multiclass", 3),
            "reg": TaskHead("regression"),
        },
        router=router,
        input_shape=input_shape,
    )


def make_data(n=16, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype("float32")
    y = {
        "cls": rng.integers(0, 3, n).astype("int32"),
        "reg": rng.normal(size=n).astype("float32"),
    }
    return x, y


class MultiTaskModelTest(TestCase):
    def test_fit_evaluate_predict(self):
        model = make_model()
        model.compile(optimizer="adam")
        x, y = make_data()
        traces = []
        step = model.train_step
        model.train_step = lambda data: traces.append(1) or step(data)
        history = model.fit(x, y, batch_size=8, epochs=2, verbose=0)
        # The optimizer's variables exist before the first trace, so the
        # training step is traced once, not twice (see `fit`).
        self.assertEqual(len(traces), 1)
        self.assertEqual(
            sorted(history.history),
            ["cls_accuracy", "loss", "loss_cls", "loss_reg", "reg_mae",
             "reg_rmse"],
        )
        result = model.evaluate(x, y, verbose=0, return_dict=True)
        self.assertAllClose(
            result["loss"], result["loss_cls"] + result["loss_reg"], atol=1e-5
        )
        predictions = model.predict(x, verbose=0)
        self.assertEqual(predictions["cls"].shape, (16, 3))
        self.assertEqual(predictions["reg"].shape, (16, 1))

    def test_task_loss_by_hand(self):
        model = make_model()
        model.compile(loss={"reg": "mae"}, loss_weights={"cls": 0.0})
        x, y = make_data()
        predictions = model.predict(x, verbose=0)
        result = model.evaluate(x, y, verbose=0, return_dict=True)
        expected = np.abs(predictions["reg"][:, 0] - y["reg"]).mean()
        self.assertAllClose(result["loss_reg"], expected, atol=1e-5)
        self.assertAllClose(result["loss"], expected, atol=1e-5)

    def test_missing_labels_are_masked(self):
        model = make_model()
        model.compile()
        x, y = make_data()
        holes = {
            "cls": np.where(np.arange(16) < 4, -1, y["cls"]).astype("int32"),
            "reg": np.where(np.arange(16) >= 12, np.nan, y["reg"]).astype(
                "float32"
            ),
        }
        masked = model.evaluate(x, holes, verbose=0, return_dict=True)
        cls_only = model.evaluate(
            x[4:], {"cls": y["cls"][4:], "reg": y["reg"][4:]},
            verbose=0, return_dict=True,
        )
        reg_only = model.evaluate(
            x[:12], {"cls": y["cls"][:12], "reg": y["reg"][:12]},
            verbose=0, return_dict=True,
        )
        self.assertAllClose(masked["loss_cls"], cls_only["loss_cls"], 1e-5)
        self.assertAllClose(masked["loss_reg"], reg_only["loss_reg"], 1e-5)
        self.assertAllClose(
            masked["cls_accuracy"], cls_only["cls_accuracy"], 1e-6
        )
        self.assertTrue(np.isfinite(masked["loss"]))

    def test_task_without_labels_in_batch_gives_zero_not_nan(self):
        model = make_model()
        model.compile()
        x, y = make_data(n=8)
        y["reg"] = np.full(8, np.nan, "float32")
        result = model.evaluate(x, y, verbose=0, return_dict=True)
        self.assertEqual(result["loss_reg"], 0.0)
        history = model.fit(x, y, verbose=0)
        self.assertTrue(np.isfinite(history.history["loss"][0]))

    def test_label_errors_name_the_task(self):
        model = make_model()
        model.compile()
        x, y = make_data()
        with pytest.raises(ValueError, match=r"unknown task\(s\) \['oops'\]"):
            model.fit(x, {**y, "oops": y["reg"]}, verbose=0)
        with pytest.raises(ValueError, match=r"lack task\(s\) \['reg'\]"):
            model.fit(x, {"cls": y["cls"]}, verbose=0)
        with pytest.raises(ValueError, match="task 'reg' have shape"):
            model.fit(x, {**y, "reg": np.zeros((16, 2, 2))}, verbose=0)
        with pytest.raises(ValueError, match="must be a dict"):
            model.fit(x, y["reg"], verbose=0)

    def test_class_id_out_of_range_is_named(self):
        model = make_model()
        model.compile()
        x, y = make_data()
        y["cls"][3] = 7
        with pytest.raises(
            ValueError, match=r"task 'cls': 1 class id\(s\) >= 3"
        ):
            model.fit(x, y, verbose=0)

    def test_non_finite_features_are_named(self):
        model = make_model(input_shape={"pixels": (None, 4)})
        model.compile()
        x, y = make_data()
        x[2, 1] = np.inf
        with pytest.raises(tf.errors.InvalidArgumentError, match="'pixels'"):
            model.fit({"pixels": x}, y, verbose=0)

    def test_compile_argument_errors(self):
        model = make_model()
        with pytest.raises(ValueError, match=r"unknown task\(s\) \['x'\]"):
            model.compile(loss={"x": "mse"})
        with pytest.raises(ValueError, match="loss weight of task 'reg'"):
            model.compile(loss_weights={"reg": -1.0})

    def test_mmoe_router_trains_and_saves(self):
        model = make_model(MixtureOfExpertsRouter(["cls", "reg"], 2))
        model.compile()
        x, y = make_data()
        model.fit(x, y, verbose=0)
        self.run_model_saving_test(model, x)

    def test_save_and_load_keeps_compile_state(self):
        model = make_model()
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss={"reg": "mae"})
        x, y = make_data()
        model.fit(x, y, verbose=0)
        revived = self.run_model_saving_test(model, x)
        self.assertAllClose(
            revived.evaluate(x, y, verbose=0), model.evaluate(x, y, verbose=0),
            atol=1e-5,
        )
        self.assertIsInstance(revived.optimizer, keras.optimizers.SGD)
