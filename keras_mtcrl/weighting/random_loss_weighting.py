"""Random loss weighting: fresh random weights at every step."""

import tensorflow as tf
from keras import ops

from keras_mtcrl.api_export import keras_mtcrl_export
from keras_mtcrl.weighting.loss_weighting import LossWeighting


@keras_mtcrl_export
class RandomLossWeighting(LossWeighting):
    """Weights drawn at random each training step (RLW).

    Lin et al., "Reasonable Effectiveness of Random Weighting: A Litmus
    Test for Multi-Task Learning", TMLR 2022 (arXiv 2111.10603, 2021).
    At each step `lambda = softmax(z)`, `z ~ N(0, I_T)`: positive weights
    that sum to 1. Outside training (evaluation) the weights are their
    mean, `1 / T`.

    The draw is stateless, keyed on `(seed, step)`: every `tf.distribute`
    replica draws the same weights, and a restored run draws the same
    sequence again.

    Args:
        seed: int. Seed of the draws. Defaults to `0`.
        **kwargs: base layer keyword arguments.

    Example:

    >>> import numpy as np
    >>> rlw = RandomLossWeighting()
    >>> weights = rlw(np.ones(3, "float32"), step=7, training=True)
    >>> round(float(weights.numpy().sum()), 5)
    1.0
    >>> [round(float(w), 4) for w in rlw(np.ones(3, "float32"))]
    [0.3333, 0.3333, 0.3333]
    """

    def __init__(self, seed=0, **kwargs):
        super().__init__(**kwargs)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError(f"`seed` must be an int. Received: seed={seed!r}")
        self.seed = seed

    def call(self, losses, step=None, training=None):
        if not training:
            return ops.ones_like(losses) / self.num_tasks
        step = 0 if step is None else step
        seed = tf.stack(
            [tf.constant(self.seed, "int64"), tf.cast(step, "int64")]
        )
        draws = tf.random.stateless_normal(
            (self.num_tasks,), seed=seed, alg="philox"
        )
        return ops.softmax(draws)

    def get_config(self):
        config = super().get_config()
        config["seed"] = self.seed
        return config
