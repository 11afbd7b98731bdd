import keras
import numpy as np
import pytest
import tensorflow as tf
from absl.testing import parameterized

from keras_mtcrl import CausalMTLModel
from keras_mtcrl import MultiTaskModel
from keras_mtcrl import TaskHead
from keras_mtcrl.gradients.task_gradients import shared_mask
from keras_mtcrl.layers.cgc_router import CGCRouter
from keras_mtcrl.layers.cross_stitch_encoder import CrossStitchEncoder
from keras_mtcrl.models import baselines
from keras_mtcrl.testing import TestCase


def heads():
    return {"a": TaskHead("binary"), "b": TaskHead("regression")}


def make_data(n=16):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 4)).astype("float32")
    return x, {"a": (x[:, 0] > 0).astype("float32"), "b": x[:, 1]}


SMALL = {
    "shared_bottom": dict(hidden_units=(8,)),
    "mmoe": dict(num_experts=2, expert_units=4, hidden_units=(8,)),
    "cgc": dict(expert_units=(4,)),
    "ple": dict(expert_units=(4,)),
    "cross_stitch": dict(hidden_units=(4, 4)),
}


class BaselinesTest(TestCase, parameterized.TestCase):
    @parameterized.parameters(*SMALL)
    def test_fits_and_saves_with_the_same_interface(self, name):
        model = getattr(baselines, name)(
            heads(), input_shape=(None, 4), **SMALL[name]
        )
        self.assertIsInstance(model, MultiTaskModel)
        self.assertNotIsInstance(model, CausalMTLModel)
        model.compile(optimizer="adam")
        x, y = make_data()
        history = model.fit(x, y, batch_size=8, epochs=2, verbose=0)
        self.assertIn("loss_b", history.history)
        self.assertLess(history.history["loss"][-1], history.history["loss"][0])
        if name in ("cgc", "ple", "cross_stitch"):  # the new layers
            self.run_model_saving_test(model, x)

    def test_causal_variants_are_mtcrl(self):
        expected = {
            "shared_bottom": ("ChannelGroupEncoder", 4),
            "mmoe": ("ExpertEncoder", 2),
            "cross_stitch": ("CrossStitchEncoder", 2),
        }
        for name, (encoder, modules) in expected.items():
            model = getattr(baselines, name)(
                heads(), causal=True, input_shape=(None, 4), **SMALL[name]
            )
            self.assertIsInstance(model, CausalMTLModel)
            self.assertEqual(type(model.encoder).__name__, encoder)
            self.assertEqual(model.causal_graph().shape, (2, modules))

    def test_cross_stitch_columns_as_mtcrl_modules_train(self):
        model = baselines.cross_stitch(
            heads(), causal=True, hidden_units=(4,), input_shape=(None, 4)
        )
        self.assertIsInstance(model.encoder, CrossStitchEncoder)
        self.assertEqual(model.graph.module_width, 4)
        model.compile()
        x, y = make_data()
        history = model.fit(x, y, batch_size=8, epochs=1, verbose=0)
        self.assertIn("loss_inv", history.history)
        self.assertTrue(np.isfinite(history.history["loss"]).all())

    def test_ple_shares_everything_below_the_last_task_experts(self):
        model = baselines.ple(heads(), input_shape=(None, 4), expert_units=(4,))
        model.compile()
        x, y = make_data()
        with tf.GradientTape(persistent=True) as tape:
            parts = model.objective_parts(x, y, None, True)
        variables = model.trainable_variables
        grads = [
            tape.gradient(parts["task_shares"][t], variables)
            for t in model.task_names
        ]
        mask = shared_mask(grads, variables)
        router = model.router
        self.assertIsInstance(router, CGCRouter)
        top = router.levels[-1]
        own = [
            v for e in top["task_experts"]["a"] for v in e.trainable_variables
        ]
        own += top["task_gates"]["a"].trainable_variables
        lower = [
            v
            for e in router.levels[0]["task_experts"]["b"]
            for v in e.trainable_variables
        ]
        shared_ids = {id(v) for v, m in zip(variables, mask) if m}
        self.assertFalse(shared_ids & {id(v) for v in own})
        self.assertTrue({id(v) for v in lower} <= shared_ids)
        for v in top["shared_experts"][0].trainable_variables:
            self.assertIn(id(v), shared_ids)

    def test_combines_with_weighting_and_gradient_method(self):
        model = baselines.ple(
            heads(),
            input_shape=(None, 4),
            expert_units=(4,),
            loss_weighting="dwa",
            gradient_method="pcgrad",
        )
        model.compile(optimizer="adam")
        x, y = make_data()
        history = model.fit(x, y, batch_size=8, epochs=3, verbose=0)
        self.assertNotEqual(history.history["weight_a"][-1], 1.0)
        self.assertTrue(np.isfinite(history.history["loss"]).all())

    def test_single_task_models(self):
        models = baselines.single_task(
            heads(), hidden_units=(8,), input_shape=(None, 4)
        )
        self.assertEqual(sorted(models), ["a", "b"])
        x, y = make_data()
        for task, model in models.items():
            self.assertEqual(model.task_names, (task,))
            self.assertEqual(model.name, f"single_task_{task}")
            model.compile(optimizer=keras.optimizers.Adam(0.01))
            model.fit(x, {task: y[task]}, epochs=1, verbose=0)
            self.assertEqual(list(model.predict(x, verbose=0)), [task])

    def test_errors(self):
        with pytest.raises(ValueError, match="heads"):
            baselines.mmoe({})
        with pytest.raises(ValueError, match="hidden_units"):
            baselines.shared_bottom(heads(), hidden_units=())
        with pytest.raises(ValueError, match="no `causal` argument"):
            baselines.ple(heads(), causal=True)
        with pytest.raises(ValueError, match="no `causal` argument"):
            baselines.cgc(heads(), causal=True)
