import numpy as np
import pytest

from keras_mtcrl.layers import CausalGraph
from keras_mtcrl.testing import TestCase


class CausalGraphTest(TestCase):
    def test_layer_contract(self):
        self.run_layer_test(
            CausalGraph,
            {"task_names": ["a", "b"], "num_modules": 2},
            np.ones((3, 4), "float32"),
            {"a": (3, 4), "b": (3, 4)},
            expected_num_trainable_weights=1,
        )

    def test_gating_by_hand(self):
        graph = CausalGraph(["a", "b"], num_modules=2, temperature=0.5)
        graph.build((None, 4))
        graph.logits.assign(np.array([[0.0, 100.0], [-100.0, 0.0]]))
        out = graph(np.arange(8, dtype="float32").reshape(2, 4))
        # Task a: module 0 at 0.5, module 1 open; task b: module 0 closed.
        self.assertAllClose(out["a"][0], [0.0, 0.5, 2.0, 3.0])
        self.assertAllClose(out["b"][1], [0.0, 0.0, 3.0, 3.5])
        self.assertEqual(
            graph.adjacency().tolist(), [[False, True], [False, False]]
        )

    def test_feature_maps_are_gated_per_channel_group(self):
        graph = CausalGraph(["a"], num_modules=2, initial_logit=-100.0)
        out = graph(np.ones((1, 2, 2, 4), "float32"))
        self.assertEqual(tuple(out["a"].shape), (1, 2, 2, 4))
        self.assertAllClose(out["a"], np.zeros((1, 2, 2, 4)))

    def test_width_not_divisible_names_the_numbers(self):
        graph = CausalGraph(["a"], num_modules=3)
        with pytest.raises(ValueError, match=r"\(4, .*num_modules=3"):
            graph(np.ones((1, 4), "float32"))

    def test_bad_arguments(self):
        with pytest.raises(ValueError, match="temperature"):
            CausalGraph(["a"], 2, temperature=0.0)
        with pytest.raises(ValueError, match="distinct"):
            CausalGraph(["a", "a"], 2)
        with pytest.raises(ValueError, match="num_modules"):
            CausalGraph(["a"], 0)
