import numpy as np
import pytest
import tensorflow as tf

from keras_mtcrl.layers.cgc_router import CGCRouter
from keras_mtcrl.testing import TestCase


def expert_variables(router, level, task):
    experts = router.levels[level]["task_experts"][task]
    variables = [v for e in experts for v in e.trainable_variables]
    assert variables, "build the router first"
    return variables


def output_gradients(router, x, task, variables):
    with tf.GradientTape() as tape:
        out = router(x)[task]
    return tape.gradient(out, variables)


class CGCRouterTest(TestCase):
    def test_layer_contract(self):
        # Per level: 2 tasks x 2 + 1 shared = 5 experts of 2 Dense layers
        # (20 weights); gates: 2 task gates + 1 shared gate (inner level)
        # then 2 task gates (10 weights).
        self.run_layer_test(
            CGCRouter,
            {
                "task_names": ["a", "b"],
                "num_levels": 2,
                "num_task_experts": 2,
                "num_shared_experts": 1,
                "expert_units": (8, 4),
            },
            np.ones((3, 5), "float32"),
            {"a": (3, 4), "b": (3, 4)},
            expected_num_trainable_weights=50,
        )

    def test_cgc_task_never_reads_other_tasks_experts(self):
        router = CGCRouter(["a", "b"], num_task_experts=2, expert_units=(4,))
        x = np.random.default_rng(0).normal(size=(4, 3)).astype("float32")
        router(x)
        own = output_gradients(router, x, "a", expert_variables(router, 0, "a"))
        other = output_gradients(
            router, x, "a", expert_variables(router, 0, "b")
        )
        self.assertTrue(all(g is not None for g in own))
        self.assertTrue(all(g is None for g in other))
        shared = [
            v
            for e in router.levels[0]["shared_experts"]
            for v in e.trainable_variables
        ]
        self.assertTrue(
            all(g is not None for g in output_gradients(router, x, "a", shared))
        )

    def test_ple_shares_lower_levels_through_the_shared_gate(self):
        router = CGCRouter(["a", "b"], num_levels=2, expert_units=(4,))
        x = np.random.default_rng(0).normal(size=(4, 3)).astype("float32")
        router(x)
        lower = output_gradients(
            router, x, "a", expert_variables(router, 0, "b")
        )
        self.assertTrue(all(g is not None for g in lower))
        self.assertGreater(
            max(float(tf.reduce_max(tf.abs(g))) for g in lower), 0.0
        )
        top = output_gradients(router, x, "a", expert_variables(router, 1, "b"))
        self.assertTrue(all(g is None for g in top))

    def test_single_expert_needs_no_gate(self):
        router = CGCRouter(
            ["a"], num_task_experts=1, num_shared_experts=0, expert_units=(3,)
        )
        x = np.ones((2, 4), "float32")
        out = router(x)["a"]
        expert = router.levels[0]["task_experts"]["a"][0]
        self.assertAllClose(out, expert(x))
        self.assertIsNone(router.levels[0]["task_gates"]["a"])

    def test_gated_output_is_a_convex_mixture(self):
        router = CGCRouter(
            ["a", "b"],
            num_task_experts=1,
            num_shared_experts=2,
            expert_units=(2,),
        )
        x = np.random.default_rng(1).normal(size=(5, 3)).astype("float32")
        out = router(x)["a"].numpy()
        level = router.levels[0]
        experts = level["task_experts"]["a"] + level["shared_experts"]
        stacked = np.stack([e(x).numpy() for e in experts], axis=1)
        self.assertTrue(
            (
                (out >= stacked.min(axis=1) - 1e-6)
                & (out <= stacked.max(axis=1) + 1e-6)
            ).all()
        )

    def test_feature_maps_and_errors(self):
        out = CGCRouter(["a"], expert_units=(4,))(np.ones((2, 3, 3, 5)))
        self.assertEqual(tuple(out["a"].shape), (2, 3, 3, 4))
        with pytest.raises(ValueError, match="num_levels=0"):
            CGCRouter(["a"], num_levels=0)
        with pytest.raises(ValueError, match="num_task_experts=-1"):
            CGCRouter(["a"], num_task_experts=-1)
        with pytest.raises(ValueError, match="at least one expert"):
            CGCRouter(["a"], num_task_experts=0, num_shared_experts=0)
        with pytest.raises(ValueError, match="expert_units"):
            CGCRouter(["a"], expert_units=())
