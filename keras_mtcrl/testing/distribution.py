"""A MirroredStrategy over logical CPUs for distribution tests."""

import tensorflow as tf


def mirrored_strategy(num_devices=2):
    """A MirroredStrategy over the logical CPUs with its own collective keys.

    Two strategies over the same devices in one process (several test
    files) otherwise reuse collective instance keys and abort with a shape
    mismatch; TensorFlow's own tests keep them apart the same way, by
    moving the class's collective key base.

    Args:
        num_devices: int. Logical CPU devices to use (the test suite's
            `conftest.py` makes two). Defaults to `2`.

    Returns:
        A `tf.distribute.MirroredStrategy`.

    Example:

    >>> mirrored_strategy(1).num_replicas_in_sync
    1
    """
    devices = tf.config.list_logical_devices("CPU")[:num_devices]
    tf.distribute.MirroredStrategy._collective_key_base += 100000
    strategy = tf.distribute.MirroredStrategy([d.name for d in devices])
    tf.distribute.MirroredStrategy._collective_key_base += 100000
    return strategy
