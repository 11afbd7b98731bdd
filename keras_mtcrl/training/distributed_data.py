"""Per-worker input pipelines whose global batches equal one device's."""

import tensorflow as tf


def shard_and_batch(dataset, global_batch_size, input_context):
    """One input pipeline's share of `dataset`, batched per replica.

    Each global batch of `B` samples is cut into contiguous blocks of
    `b = B / num_replicas_in_sync`: pipeline `p` (worker `p`) keeps the
    blocks of its replicas, `p * L ... (p + 1) * L - 1` (`L` replicas per
    worker), and yields them as per-replica batches. Replica `r` of step
    `s` then holds samples `s * B + r * b ... s * B + (r + 1) * b - 1`:
    the global batch one device would see, in the same order, whatever
    the number of workers and of replicas per worker, so losses and
    weights agree with a single-device run (per-sample gate noise, see
    `CausalGraph.sample_gates`, is indexed by that position). A last,
    partial global batch leaves later replicas fewer samples (or none).

    Args:
        dataset: unbatched `tf.data.Dataset`, in the same order on every
            worker (same seed).
        global_batch_size: int. Divisible by the number of replicas.
        input_context: `tf.distribute.InputContext`.

    Returns:
        The pipeline's batched `tf.data.Dataset`.

    Example:

    >>> context = tf.distribute.InputContext(
    ...     num_input_pipelines=2, input_pipeline_id=1,
    ...     num_replicas_in_sync=2)
    >>> ds = shard_and_batch(tf.data.Dataset.range(8), 4, context)
    >>> [b.tolist() for b in ds.as_numpy_iterator()]
    [[2, 3], [6, 7]]
    """
    replicas = input_context.num_replicas_in_sync
    if global_batch_size % replicas:
        raise ValueError(
            f"The global batch size must be divisible by the "
            f"{replicas} replicas. Received: batch_size="
            f"{global_batch_size}"
        )
    per_replica = input_context.get_per_replica_batch_size(global_batch_size)
    pipelines = input_context.num_input_pipelines
    if pipelines > 1:
        local = per_replica * (replicas // pipelines)
        start = input_context.input_pipeline_id * local
        dataset = (
            dataset.batch(global_batch_size)
            .map(lambda *element: _slice(element, start, start + local))
            .unbatch()
        )
    options = tf.data.Options()
    # Sharded by hand above.
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.OFF
    )
    return dataset.batch(per_replica).prefetch(2).with_options(options)


def _slice(element, start, stop):
    cut = tf.nest.map_structure(lambda t: t[start:stop], element)
    return cut[0] if len(cut) == 1 else cut


def distribute(strategy, dataset, global_batch_size):
    """`dataset` as the strategy's per-replica batches (`shard_and_batch`).

    Args:
        strategy: `tf.distribute.Strategy`.
        dataset: unbatched `tf.data.Dataset`.
        global_batch_size: int.

    Returns:
        A distributed dataset; iterate it once per epoch.

    Example:

    >>> strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    >>> batches = distribute(strategy, tf.data.Dataset.range(5), 2)
    >>> [b.numpy().tolist() for b in batches]
    [[0, 1], [2, 3], [4]]
    """
    return strategy.distribute_datasets_from_function(
        lambda context: shard_and_batch(dataset, global_batch_size, context)
    )
