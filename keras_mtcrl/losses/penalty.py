"""The one interface every term of the MT-CRL objective implements."""

import collections

import tensorflow as tf

from keras_mtcrl.api_export import keras_mtcrl_export
from keras_mtcrl.losses.penalty_utils import check_non_negative

#: What a penalty may read: the model, the forward pass (see
#: `MultiTaskModel.forward`), the label dict, the environment ids (or None)
#: and whether this is a training step.
PenaltyContext = collections.namedtuple(
    "PenaltyContext", ["model", "forward", "labels", "environment", "training"]
)


@keras_mtcrl_export
class Penalty:
    """Base class of the terms `CausalMTLModel` adds to the task losses.

    A penalty is a plain serializable object: `compute(context)` returns
    its unweighted value for one batch, `weight_at(step)` its weight
    (warm-up, then a linear ramp). Class attributes tell the model how to
    use it: `loss_name` (the logged metric), `is_global` (the value is
    built from global-batch sums with local gradients, see
    `keras_mtcrl.losses.replica_stats`, so it is not averaged over
    replicas) and `needs_routed_gradients` (the model must record each
    sample's gradient of the task losses with respect to the gated
    modules, `forward["routed_grads"]`). Adding a term means writing one
    subclass and passing it in `CausalMTLModel(penalties=[...])`.

    Args:
        weight: float. Multiplier in the objective, >= 0. Defaults to `1.0`.
        warmup_steps: int. Optimizer steps with weight 0. Defaults to `0`.
        ramp_steps: int. Steps over which the weight then grows linearly
            to `weight`. Defaults to `0` (at once).

    Example:

    >>> penalty = Penalty(weight=2.0, warmup_steps=10, ramp_steps=4)
    >>> [float(penalty.weight_at(s)) for s in (9, 10, 12, 20)]
    [0.0, 0.5, 1.5, 2.0]
    """

    loss_name = "loss_penalty"
    is_global = False
    needs_routed_gradients = False

    def __init__(self, weight=1.0, warmup_steps=0, ramp_steps=0):
        check_non_negative(weight, "weight")
        check_int(warmup_steps, "warmup_steps", minimum=0)
        check_int(ramp_steps, "ramp_steps", minimum=0)
        self.weight = float(weight)
        self.warmup_steps = int(warmup_steps)
        self.ramp_steps = int(ramp_steps)

    @property
    def active(self):
        return self.weight > 0

    def weight_at(self, step):
        """The weight at optimizer step `step` (float32 tensor)."""
        step = tf.cast(step, "float32") - float(self.warmup_steps)
        if self.ramp_steps == 0:
            return self.weight * tf.cast(step >= 0.0, "float32")
        fraction = tf.clip_by_value(
            (step + 1.0) / float(self.ramp_steps), 0.0, 1.0
        )
        return self.weight * tf.where(step >= 0.0, fraction, 0.0)

    def compute(self, context):
        """Returns the unweighted float32 scalar for one batch."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement `compute(context)`."
        )

    def get_config(self):
        return {
            "weight": self.weight,
            "warmup_steps": self.warmup_steps,
            "ramp_steps": self.ramp_steps,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def check_int(value, name, minimum):
    """Raises a ValueError naming `name` unless `value` is an int >= min."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(
            f"`{name}` must be an int >= {minimum}. Received: {name}={value!r}"
        )
