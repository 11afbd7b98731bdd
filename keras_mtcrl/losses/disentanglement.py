"""Disentanglement penalty: keeps the K neural modules decorrelated."""

import tensorflow as tf

from keras_mtcrl.api_export import keras_mtcrl_export
from keras_mtcrl.losses.penalty import Penalty
from keras_mtcrl.losses.replica_stats import cross_replica_sum
from keras_mtcrl.losses.replica_stats import global_sum_local_gradient

DISENTANGLEMENT_METHODS = ("crosscorr", "hsic", "none")


def pool_modules(modules, num_modules):
    """Averages spatial axes and splits channels into modules.

    Args:
        modules: tensor `(batch, ..., K * d)`.
        num_modules: int. K.

    Returns:
        float32 tensor `(batch, K, d)`.
    """
    modules = tf.cast(modules, "float32")
    if modules.shape.rank > 2:
        modules = tf.reduce_mean(modules, axis=range(1, modules.shape.rank - 1))
    width = modules.shape[-1]
    return tf.reshape(modules, (-1, num_modules, width // num_modules))


def _off_diagonal_block_mask(num_modules, module_width):
    block = tf.eye(num_modules)
    block = tf.repeat(tf.repeat(block, module_width, 0), module_width, 1)
    return 1.0 - block


def weighted_gram(values, weight=None):
    """`(weight * values)^T values`, `(D, D)`, with a one-matmul gradient.

    Autodiff of the product would take two `(batch, D) x (D, D)` products
    in the backward pass; as both factors are `values`, its gradient is
    `weight * values (G + G^T)` for an upstream gradient `G`, one product.

    Args:
        values: float32 `(batch, D)`.
        weight: float32 `(batch, 1)` or None (all 1). Defaults to `None`.

    Example:

    >>> x = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    >>> weighted_gram(x).numpy().tolist()
    [[10.0, 14.0], [14.0, 20.0]]
    """

    @tf.custom_gradient
    def unweighted(values):
        def grad(upstream):
            return tf.matmul(values, upstream + tf.transpose(upstream))

        return tf.matmul(values, values, transpose_a=True), grad

    @tf.custom_gradient
    def weighted(values, weight):
        def grad(upstream):
            product = tf.matmul(values, upstream + tf.transpose(upstream))
            # d/dw_i of sum_i w_i x_i x_i^T against G: x_i^T G x_i.
            d_weight = 0.5 * tf.reduce_sum(
                product * values, axis=-1, keepdims=True
            )
            return weight * product, d_weight

        return tf.matmul(weight * values, values, transpose_a=True), grad

    if weight is None:
        return unweighted(values)
    return weighted(values, weight)


def cross_correlation_penalty(pooled, epsilon=1e-5, sample_weight=None):
    """Mean squared cross-correlation between dimensions of different modules.

    Built from batch sums (added up across replicas, gradient of the local
    part), so it is the same on one device as on several. Constant
    features standardise to zero, not NaN, thanks to `epsilon`.

    Args:
        pooled: float32 `(batch, K, d)` from `pool_modules`.
        epsilon: float. Added to each variance. Defaults to `1e-5`.
        sample_weight: float `(batch,)` or None. Weights of the samples in
            the batch statistics. Defaults to `None` (all 1).

    Returns:
        Scalar in [0, 1].
    """
    num_modules, width = pooled.shape[1], pooled.shape[2]
    flat = tf.reshape(pooled, (-1, num_modules * width))
    weight = None
    if sample_weight is not None:
        weight = tf.cast(sample_weight, "float32")[:, None]

    def sums(values):
        # Total weight and weighted column sums; unit weights need no
        # (batch, D) product.
        if weight is None:
            return (
                tf.cast(tf.shape(values)[0], "float32"),
                tf.reduce_sum(values, axis=0),
            )
        return tf.reduce_sum(weight), tf.reduce_sum(weight * values, axis=0)

    # Centre on the global batch mean first (a constant for autodiff: the
    # covariance's gradient through the mean is zero), so constant
    # features give exactly zero covariance instead of a cancellation
    # error that the correlation's normalisation would blow up.
    total, summed = cross_replica_sum(sums(flat))
    flat = flat - summed / tf.maximum(total, 1e-6)
    count, first, second = global_sum_local_gradient(
        sums(flat) + (weighted_gram(flat, weight),)
    )
    count = tf.maximum(count, 1e-6)
    mean = first / count
    covariance = second / count - mean[:, None] * mean[None, :]
    std = tf.sqrt(tf.maximum(tf.linalg.diag_part(covariance), 0.0) + epsilon)
    correlation = covariance / (std[:, None] * std[None, :])
    mask = _off_diagonal_block_mask(num_modules, width)
    return tf.reduce_sum(mask * tf.square(correlation)) / tf.reduce_sum(mask)


def _centered_rbf_gram(features):
    squared = tf.reduce_sum(tf.square(features), axis=-1)
    distances = squared[:, None] + squared[None, :] - 2.0 * tf.matmul(
        features, features, transpose_b=True
    )
    distances = tf.maximum(distances, 0.0)
    # Median heuristic for the bandwidth, kept out of the gradient.
    bandwidth = tf.stop_gradient(tf.reduce_mean(distances)) + 1e-6
    gram = tf.exp(-distances / bandwidth)
    row_mean = tf.reduce_mean(gram, axis=0, keepdims=True)
    return (
        gram - row_mean - tf.transpose(row_mean) + tf.reduce_mean(gram)
    )


def normalized_hsic_penalty(pooled):
    """Mean normalised HSIC (kernel alignment) over module pairs.

    Uses an RBF kernel per module. Needs the whole batch, so under a
    multi-replica strategy it is computed on each replica's local batch.

    Args:
        pooled: float32 `(batch, K, d)` from `pool_modules`.

    Returns:
        Scalar in [0, 1].
    """
    num_modules = pooled.shape[1]
    grams = [_centered_rbf_gram(pooled[:, k]) for k in range(num_modules)]
    norms = [tf.sqrt(tf.reduce_sum(g * g) + 1e-12) for g in grams]
    total, pairs = 0.0, 0
    for i in range(num_modules):
        for j in range(i + 1, num_modules):
            total += tf.reduce_sum(grams[i] * grams[j]) / (norms[i] * norms[j])
            pairs += 1
    return total / max(pairs, 1)


@keras_mtcrl_export
class DisentanglementPenalty(Penalty):
    """Penalty that pushes the K neural modules to carry distinct knowledge.

    MT-CRL represents multi-task knowledge by disentangled modules so that
    the causal graph can pick, per task, the modules it may read. This
    penalty measures how much the modules overlap on the current batch:

    - `"crosscorr"` (default): standardise each (spatially pooled) module
      dimension, take the cross-correlation between dimensions of
      different modules and average its square. Scale-free, in [0, 1],
      exact under `tf.distribute` (built from global batch sums).
    - `"hsic"`: normalised RBF-kernel HSIC between module pairs, which also
      sees non-linear dependence (local batch under `tf.distribute`).
    - `"none"`: no penalty.

    Args:
        method: str. One of `"crosscorr"`, `"hsic"`, `"none"`. Defaults to
            `"crosscorr"`.
        weight: float. Multiplier in the objective, >= 0. Defaults to `0.1`.
        warmup_steps: int. Optimizer steps with weight 0. Defaults to `0`.
        ramp_steps: int. Steps of the linear ramp after it. Defaults to `0`.
        balanced: bool. Weigh the samples by `P(y_t) P(y_s) / P(y_t, y_s)`
            (all task pairs, `CausalMTLModel.balancing_weights`), so that
            modules are decorrelated where the tasks' labels are
            independent: confounded tasks' causal factors are then not
            pushed apart by their label correlation, while a module that
            copies another task's factor still is. Defaults to `False`.

    Example:

    >>> import numpy as np
    >>> penalty = DisentanglementPenalty("crosscorr", weight=1.0)
    >>> x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    >>> same = np.concatenate([x, x], axis=-1)  # two identical modules
    >>> # Each of the 4 dims matches one of 16 in the other module: 1/4.
    >>> round(float(penalty(same, num_modules=2)), 1)
    0.3
    >>> float(penalty(x, num_modules=2)) < 0.05
    True
    """

    loss_name = "loss_dis"

    def __init__(self, method="crosscorr", weight=0.1, warmup_steps=0,
                 ramp_steps=0, balanced=False):
        super().__init__(weight, warmup_steps, ramp_steps)
        self.balanced = bool(balanced)
        if method not in DISENTANGLEMENT_METHODS:
            raise ValueError(
                f"`method` must be one of {DISENTANGLEMENT_METHODS}. "
                f"Received: method={method!r}"
            )
        self.method = method

    @property
    def active(self):
        return self.method != "none" and self.weight > 0

    @property
    def is_global(self):
        """False for HSIC, computed on each replica's local batch."""
        return self.method != "hsic"

    def __call__(self, modules, num_modules, sample_weight=None):
        """Returns the unweighted penalty for `modules` `(batch, ..., K*d)`
        (`sample_weight`, `(batch,)` or None, weighs the crosscorr
        statistics)."""
        if self.method == "none":
            return tf.constant(0.0)
        pooled = pool_modules(modules, num_modules)
        if self.method == "hsic":
            return normalized_hsic_penalty(pooled)
        return cross_correlation_penalty(pooled, sample_weight=sample_weight)

    def compute(self, context):
        weight = None
        if self.balanced:
            weight = context.model.balancing_weights(context.labels)
        return self(
            context.forward["modules"], context.model.num_modules, weight
        )

    def get_config(self):
        config = super().get_config()
        config["method"] = self.method
        config["balanced"] = self.balanced
        return config
