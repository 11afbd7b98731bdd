"""Customized Gate Control (CGC) and its stacked form, PLE."""

import keras
from keras import ops

from keras_mtcrl.api_export import keras_mtcrl_export
from keras_mtcrl.layers.layer_utils import check_positive_int
from keras_mtcrl.layers.layer_utils import check_task_names


@keras_mtcrl_export
class CGCRouter(keras.layers.Layer):
    """Task-specific and shared experts with per-task gates (CGC / PLE).

    Tang et al., "Progressive Layered Extraction (PLE): A Novel Multi-Task
    Learning (MTL) Model for Personalized Recommendations", RecSys 2020.
    One CGC level has `num_task_experts` experts per task and
    `num_shared_experts` shared experts; task `t`'s softmax gate, reading
    the level's input, mixes its own experts and the shared ones (never
    another task's), which keeps tasks from overwhelming each other's
    experts (the "seesaw" of MMoE). PLE stacks `num_levels` such levels:
    inner levels also compute a shared output, whose gate mixes all
    experts, and feed each task's output to that task's experts (and the
    shared output to the shared experts) of the next level.

    This is a router of `MultiTaskModel`: it owns the experts and reads
    the encoder's output (a shared bottom, or `keras.layers.Identity()`
    for the paper's model on raw features). Gates read the input averaged
    over any spatial axes; experts are MLPs acting on the last axis.

    Args:
        task_names: sequence of str. The tasks, in order.
        num_levels: int. Stacked CGC levels; 1 is CGC, more is PLE.
            Defaults to `1`.
        num_task_experts: int. Experts per task per level, >= 0. Defaults
            to `1`.
        num_shared_experts: int. Shared experts per level, >= 0. Defaults
            to `1`.
        expert_units: tuple of int. Widths of each expert's Dense layers;
            the last is the output width. Defaults to `(16,)`.
        activation: str. Activation of the expert layers. Defaults to
            `"relu"`.
        **kwargs: base layer keyword arguments.

    Call arguments:
        inputs: tensor `(batch, ..., C)`.

    Returns:
        Dict of task name to its representation,
        `(batch, ..., expert_units[-1])`.

    Example:

    >>> import numpy as np
    >>> router = CGCRouter(["a", "b"], num_levels=2, expert_units=(8,))
    >>> outputs = router(np.ones((3, 5), "float32"))
    >>> sorted(outputs), tuple(outputs["a"].shape)
    (['a', 'b'], (3, 8))
    """

    def __init__(
        self,
        task_names,
        num_levels=1,
        num_task_experts=1,
        num_shared_experts=1,
        expert_units=(16,),
        activation="relu",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.task_names = check_task_names(task_names)
        check_positive_int(num_levels, "num_levels")
        for name, value in (
            ("num_task_experts", num_task_experts),
            ("num_shared_experts", num_shared_experts),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or (
                value < 0
            ):
                raise ValueError(
                    f"`{name}` must be a non-negative int. Received: "
                    f"{name}={value!r}"
                )
        if num_task_experts + num_shared_experts < 1:
            raise ValueError(
                "Each task needs at least one expert: `num_task_experts` + "
                "`num_shared_experts` must be >= 1. Received: "
                f"num_task_experts={num_task_experts}, "
                f"num_shared_experts={num_shared_experts}"
            )
        expert_units = tuple(expert_units)
        if not expert_units:
            raise ValueError(
                "`expert_units` must list at least one width. Received: "
                f"expert_units={expert_units!r}"
            )
        for units in expert_units:
            check_positive_int(units, "expert_units")
        self.num_levels = num_levels
        self.num_task_experts = num_task_experts
        self.num_shared_experts = num_shared_experts
        self.expert_units = expert_units
        self.activation = keras.activations.get(activation)
        self.levels = [self._make_level(i) for i in range(num_levels)]

    # ---- Sublayers ----------------------------------------------------
    def _expert(self, name):
        return keras.Sequential(
            [
                keras.layers.Dense(units, activation=self.activation)
                for units in self.expert_units
            ],
            name=name,
        )

    def _gate(self, width, name):
        # A gate over a single expert is the constant 1: no layer.
        if width == 1:
            return None
        return keras.layers.Dense(width, activation="softmax", name=name)

    def _make_level(self, index):
        pool = self.num_task_experts + self.num_shared_experts
        level = {
            "task_experts": {
                task: [
                    self._expert(f"level{index}_{task}_expert{k}")
                    for k in range(self.num_task_experts)
                ]
                for task in self.task_names
            },
            "shared_experts": [
                self._expert(f"level{index}_shared_expert{k}")
                for k in range(self.num_shared_experts)
            ],
            "task_gates": {
                task: self._gate(pool, f"level{index}_{task}_gate")
                for task in self.task_names
            },
            "shared_gate": None,
        }
        if index < self.num_levels - 1:
            width = (
                len(self.task_names) * self.num_task_experts
                + self.num_shared_experts
            )
            level["shared_gate"] = self._gate(
                width, f"level{index}_shared_gate"
            )
        return level

    def build(self, input_shape):
        shape = tuple(input_shape)
        width = self.expert_units[-1]
        for level in self.levels:
            gate_shape = (shape[0], shape[-1])
            for experts in level["task_experts"].values():
                for expert in experts:
                    expert.build(shape)
            for expert in level["shared_experts"]:
                expert.build(shape)
            gates = list(level["task_gates"].values())
            gates.append(level["shared_gate"])
            for gate in gates:
                if gate is not None:
                    gate.build(gate_shape)
            shape = shape[:-1] + (width,)
        self.built = True

    # ---- Forward ------------------------------------------------------
    @staticmethod
    def _mix(gate, gate_input, outputs):
        if gate is None:
            return outputs[0]
        rank = len(gate_input.shape)
        pooled = gate_input
        if rank > 2:
            pooled = ops.mean(gate_input, axis=tuple(range(1, rank - 1)))
        weights = gate(pooled)
        stacked = ops.stack(outputs, axis=-2)
        weights = ops.reshape(
            weights, (-1,) + (1,) * (rank - 2) + (len(outputs), 1)
        )
        return ops.sum(stacked * weights, axis=-2)

    def call(self, inputs):
        task_inputs = {task: inputs for task in self.task_names}
        shared_input = inputs
        for index, level in enumerate(self.levels):
            shared_out = [e(shared_input) for e in level["shared_experts"]]
            task_out = {
                task: [e(task_inputs[task]) for e in experts]
                for task, experts in level["task_experts"].items()
            }
            if index < self.num_levels - 1:
                # Inner PLE level: the shared gate mixes every expert.
                every = [o for t in self.task_names for o in task_out[t]]
                next_shared = self._mix(
                    level["shared_gate"], shared_input, every + shared_out
                )
            task_inputs = {
                task: self._mix(
                    level["task_gates"][task],
                    task_inputs[task],
                    task_out[task] + shared_out,
                )
                for task in self.task_names
            }
            if index < self.num_levels - 1:
                shared_input = next_shared
        return task_inputs

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape[:-1]) + (self.expert_units[-1],)
        return {task: shape for task in self.task_names}

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "task_names": list(self.task_names),
                "num_levels": self.num_levels,
                "num_task_experts": self.num_task_experts,
                "num_shared_experts": self.num_shared_experts,
                "expert_units": list(self.expert_units),
                "activation": keras.activations.serialize(self.activation),
            }
        )
        return config
