"""Per-epoch shuffling that a resumed run replays exactly."""

import keras
import tensorflow as tf


class EpochShuffle(keras.callbacks.Callback):
    """Shuffles a dataset with a seed derived from the epoch number.

    `tf.data`'s `reshuffle_each_iteration` draws each epoch's order from
    the iterator count of one dataset object, so a run restarted by
    `BackupAndRestore` at epoch 3 would see epoch 0's order again. Here the
    order of epoch `e` depends only on `(seed, e)`: this callback records
    the epoch before Keras opens the epoch's iterator, and the dataset
    reads it to pick that epoch's shuffle. A resumed run therefore ends
    with the same weights as an uninterrupted one.

    Args:
        seed: int. Base seed.
        num_orders: int. Distinct epoch orders before they repeat.
            Defaults to `64`.

    Example:

    >>> shuffle = EpochShuffle(seed=1)
    >>> ds = shuffle.apply(tf.data.Dataset.range(5), buffer_size=5)
    >>> first = list(ds.as_numpy_iterator())
    >>> shuffle.on_epoch_begin(1)
    >>> second = list(ds.as_numpy_iterator())
    >>> sorted(first) == sorted(second) == list(range(5)), first != second
    (True, True)
    >>> shuffle.on_epoch_begin(0)
    >>> list(ds.as_numpy_iterator()) == first
    True
    """

    def __init__(self, seed, num_orders=64):
        super().__init__()
        self.seed = int(seed)
        self.num_orders = int(num_orders)
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False)

    def apply(self, dataset, buffer_size):
        """Returns `dataset` shuffled anew, deterministically, each epoch."""
        # One shuffle per epoch, each with a plain-int seed; untouched
        # shuffles cost nothing (their buffers fill on first read).
        orders = [
            dataset.shuffle(
                buffer_size,
                seed=self.seed * 100_003 + e,
                reshuffle_each_iteration=False,
            )
            for e in range(self.num_orders)
        ]
        epoch, count = self.epoch, self.num_orders
        choice = tf.data.Dataset.from_tensors(0).repeat().map(
            lambda _: epoch.read_value() % count
        )
        return tf.data.Dataset.choose_from_datasets(
            orders, choice, stop_on_empty_dataset=True
        )

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch.assign(epoch)
