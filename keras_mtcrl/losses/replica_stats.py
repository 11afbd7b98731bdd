"""Sums across `tf.distribute` replicas, so batch statistics are global.

The MT-CRL penalties are non-linear in batch statistics (a variance over
environments, a correlation over the batch). Computing them from each
replica's local batch would make a run on N devices optimise a different
objective than a run on one device. Every penalty therefore builds its
statistics from sums, and these sums are added up across replicas first.

Gradients never flow through the collective itself (collectives in the
backward pass can be launched in different orders on different replicas).
Instead `global_sum_local_gradient` returns the global value with the
gradient of the local part only: each replica then back-propagates
`dP/dS * dS_local/dtheta`, and the optimizer's sum over replicas gives
exactly `dP/dtheta` of the single-device computation. A penalty built this
way enters each replica's loss undivided.
"""

import tensorflow as tf


def num_replicas():
    """Returns the number of replicas of the strategy in scope (1 if none)."""
    return tf.distribute.get_strategy().num_replicas_in_sync


def cross_replica_sum(value):
    """Sums `value` (a tensor or nested structure) over all replicas.

    Not differentiable (the result is a constant for autodiff).

    Args:
        value: tensor or nested structure of tensors.

    Returns:
        The same structure, summed over replicas. Unchanged (but for the
        stopped gradient) outside a multi-replica strategy.

    Example:

    >>> float(cross_replica_sum(tf.constant(2.0)))
    2.0
    """
    value = tf.nest.map_structure(tf.stop_gradient, value)
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return value
    return context.all_reduce(tf.distribute.ReduceOp.SUM, value)


def global_sum_local_gradient(value):
    """Global sum of `value` over replicas, differentiable in the local part.

    Args:
        value: tensor or nested structure of tensors.

    Returns:
        The same structure: `value + (sum over replicas - value)`, the
        bracket held constant for autodiff.

    Example:

    >>> x = tf.constant(3.0)
    >>> float(global_sum_local_gradient(x))
    3.0
    """
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return value
    total = cross_replica_sum(value)
    return tf.nest.map_structure(
        lambda local, glob: local + (glob - tf.stop_gradient(local)),
        value,
        total,
    )
