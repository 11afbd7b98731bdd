import numpy as np
import pytest
import tensorflow as tf

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
        graph = CausalGraph(
            ["a", "b"], num_modules=2, temperature=0.5, gate="sigmoid",
            normalize_modules=False,
        )
        graph.build((None, 4))
        graph.logits.assign(np.array([[0.0, 100.0], [-100.0, 0.0]]))
        out = graph(np.arange(8, dtype="float32").reshape(2, 4))
        # Task a: module 0 at 0.5, module 1 open; task b: module 0 closed.
        self.assertAllClose(out["a"][0], [0.0, 0.5, 2.0, 3.0])
        self.assertAllClose(out["b"][1], [0.0, 0.0, 3.0, 3.5])
        self.assertEqual(
            graph.adjacency().tolist(), [[False, True], [False, False]]
        )

    def test_hard_concrete_inference_gates_by_hand(self):
        graph = CausalGraph(["a"], num_modules=3, normalize_modules=False)
        graph.build((None, 3))
        graph.logits.assign(np.array([[0.0, -100.0, 100.0]]))
        # clip(sigmoid(theta) * 1.2 - 0.1, 0, 1): 0.5, exactly 0 and 1.
        self.assertAllClose(graph.gates(), [[0.5, 0.0, 1.0]])
        out = graph(np.full((2, 3), 2.0, "float32"), training=False)
        self.assertAllClose(out["a"], [[1.0, 0.0, 2.0]] * 2)

    def test_hard_concrete_training_gates_are_sampled_per_sample(self):
        graph = CausalGraph(
            ["a"], num_modules=3, normalize_modules=False, seed=1
        )
        graph.build((None, 3))
        graph.logits.assign(np.array([[0.0, -100.0, 100.0]]))
        out = graph(np.ones((2000, 3), "float32"), training=True)
        gates = np.asarray(out["a"])
        self.assertAllClose(gates[:, 1], np.zeros(2000))
        self.assertAllClose(gates[:, 2], np.ones(2000))
        middle = gates[:, 0]
        # Exact zeros and ones have positive probability; the mean is 0.5.
        self.assertGreater(np.mean(middle == 0.0), 0.1)
        self.assertGreater(np.mean(middle == 1.0), 0.1)
        self.assertAllClose(middle.mean(), 0.5, atol=0.05)
        # P(gate > 0) at theta = 0 is sigmoid(-(2/3) log(0.1/1.1)).
        expected = 1 / (1 + np.exp((2 / 3) * np.log(0.1 / 1.1)))
        self.assertAllClose(graph.open_probability()[0, 0], expected)
        self.assertAllClose(np.mean(middle > 0), expected, atol=0.03)

    def test_training_gates_each_task_s_channel_groups(self):
        # Feature maps, two tasks, modules two channels wide: task t's
        # channels of module k are the sample's input times its gate
        # (batch, t, k), the draw `sample_gates` makes at the same step.
        graph = CausalGraph(
            ["a", "b"], num_modules=3, normalize_modules=False, seed=3
        )
        z = np.random.default_rng(0).normal(size=(4, 2, 2, 6))
        z = z.astype("float32")
        graph.build(z.shape)
        graph.logits.assign(np.array([[0.0, 1.0, -1.0], [2.0, 0.0, 0.5]]))
        gates = np.asarray(graph.sample_gates(4))
        graph.noise_step.assign(0.0)
        out = graph(z, training=True)
        expected = z[:, None] * np.repeat(gates, 2, axis=-1)[:, :, None, None]
        self.assertAllClose(out["a"], expected[:, 0])
        self.assertAllClose(out["b"], expected[:, 1])
        self.assertEqual(float(graph.noise_step.numpy()), 1.0)

    def _logit_gradient(self, graph, modules, scale):
        graph.noise_step.assign(0)  # the same hard-concrete draw each call
        with tf.GradientTape() as tape:
            out = graph(modules, training=True, gate_gradient_scale=scale)
            per_sample = tf.reduce_sum(out["a"] ** 2, axis=1) + tf.reduce_sum(
                tf.sin(out["b"]), axis=1
            )
            loss = tf.reduce_sum(per_sample)
        return out, tape.gradient(loss, graph.logits).numpy()

    def test_gate_gradient_scale_rescales_only_the_graph_gradient(self):
        modules = np.random.default_rng(0).normal(size=(3, 4))
        modules = modules.astype("float32")
        for gate in ("sigmoid", "hard_concrete"):
            graph = CausalGraph(["a", "b"], num_modules=2, gate=gate, seed=1)
            graph.build((None, 4))
            graph.logits.assign([[0.3, -0.2], [0.1, 0.4]])
            plain, reference = self._logit_gradient(graph, modules, None)
            doubled, grads = self._logit_gradient(
                graph, modules, np.full((3, 2), 2.0, "float32")
            )
            self.assertAllClose(doubled["a"], plain["a"])
            self.assertAllClose(grads, 2.0 * reference, rtol=1e-5)
            # A zero scale for task b on every sample: b's row gets no
            # gradient, a's row is unchanged.
            _, grads = self._logit_gradient(
                graph, modules, np.array([[1.0, 0.0]] * 3, "float32")
            )
            self.assertAllClose(grads[0], reference[0], rtol=1e-5)
            self.assertAllClose(grads[1], [0.0, 0.0])
            # Sample 0 alone for both tasks equals the gradient of sample
            # 0's loss.
            only_first = np.array([[1.0, 1.0], [0, 0], [0, 0]], "float32")
            _, grads = self._logit_gradient(graph, modules, only_first)
            _, first = self._logit_gradient(graph, modules[:1], None)
            if gate == "sigmoid":
                self.assertAllClose(grads, first, rtol=1e-5)
            self.assertGreater(float(np.abs(grads).sum()), 0.0)

    def test_normalized_modules_carry_no_scale(self):
        graph = CausalGraph(["a"], num_modules=2)
        z = np.random.default_rng(0).normal(size=(3, 4)).astype("float32")
        small, large = graph(z)["a"], graph(100.0 * z)["a"]
        self.assertAllClose(small, large, atol=1e-3)
        # Unit root-mean-square per module (times the 0.5 gate).
        rms = np.sqrt(np.mean(np.square(np.asarray(large) / 0.5)[:, :2], -1))
        self.assertAllClose(rms, np.ones(3), atol=1e-3)

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
        with pytest.raises(ValueError, match="gate"):
            CausalGraph(["a"], 2, gate="relu")


def _repeated_gates_reference(graph, modules, training, scale):
    """Gating as first written: the (batch, T, K) gates repeated over each
    module's channels and each task's slice taken, from the same draw."""
    modules = graph.prepare(tf.convert_to_tensor(modules))
    rank = len(modules.shape)
    tasks, width = len(graph.task_names), graph.module_width
    if training and (graph.gate == "hard_concrete" or scale is not None):
        if graph.gate == "hard_concrete":
            gates = graph.sample_gates(modules.shape[0])
        else:
            gates = tf.broadcast_to(
                graph.gates()[None],
                (modules.shape[0], tasks, graph.num_modules),
            )
        if scale is not None:
            scale = tf.convert_to_tensor(scale)[..., None]
            gates = gates * scale + tf.stop_gradient(gates * (1.0 - scale))
        gates = tf.repeat(gates, width, axis=-1)
        gates = tf.reshape(
            gates,
            (-1, tasks) + (1,) * (rank - 2) + (graph.num_modules * width,),
        )
        return {
            t: modules * gates[:, i] for i, t in enumerate(graph.task_names)
        }
    channel_gates = tf.repeat(graph.gates(), width, axis=1)
    return {
        t: modules * channel_gates[i] for i, t in enumerate(graph.task_names)
    }


class CausalGraphReferenceTest(TestCase):
    def _outputs_and_gradients(self, graph, modules, training, scale, call):
        graph.noise_step.assign(0.0)
        modules = tf.convert_to_tensor(modules)
        with tf.GradientTape() as tape:
            tape.watch(modules)
            out = call(graph, modules, training, scale)
            loss = tf.add_n(
                [
                    tf.reduce_sum(tf.sin(out[t]) * (i + 1.0))
                    for i, t in enumerate(graph.task_names)
                ]
            )
        grads = tape.gradient(loss, [modules, graph.logits])
        return out, grads

    def test_gating_matches_repeated_gates_reference(self):
        # Values and gradients (modules, logits) of every branch of `call`
        # against the repeat-and-slice formulation.
        rng = np.random.default_rng(0)
        cases = []
        for shape in ((5, 6), (3, 2, 2, 6)):
            for gate in ("hard_concrete", "sigmoid"):
                for normalize in (True, False):
                    for training in (True, False):
                        for scaled in (False, True):
                            cases.append(
                                (shape, gate, normalize, training, scaled)
                            )
        for shape, gate, normalize, training, scaled in cases:
            graph = CausalGraph(
                ["a", "b", "c"], num_modules=3, gate=gate,
                normalize_modules=normalize, seed=2,
            )
            graph.build(shape)
            graph.logits.assign(rng.normal(size=(3, 3)).astype("float32"))
            modules = rng.normal(size=shape).astype("float32")
            scale = None
            if scaled:
                scale = rng.uniform(0, 2, size=(shape[0], 3)).astype("float32")

            def new(g, m, t, s):
                return g(m, training=t, gate_gradient_scale=s)

            out, grads = self._outputs_and_gradients(
                graph, modules, training, scale, new
            )
            ref_out, ref_grads = self._outputs_and_gradients(
                graph, modules, training, scale, _repeated_gates_reference
            )
            for task in graph.task_names:
                self.assertAllClose(out[task], ref_out[task], atol=1e-6)
            self.assertAllClose(grads[0], ref_grads[0], rtol=1e-5, atol=1e-6)
            if grads[1] is None:
                self.assertIsNone(ref_grads[1])
            else:
                self.assertAllClose(
                    grads[1], ref_grads[1], rtol=1e-5, atol=1e-6
                )
