"""Test-split scores in TensorBoard, next to the training curves."""

import os

import tensorflow as tf


def write_evaluation(tensorboard_dir, scores, step):
    """Logs each split's scores as TensorBoard scalars at `step`.

    Keras' `TensorBoard` callback writes `epoch_<metric>` under `train/`
    and `validation/`; the scores go under `<split>/` with the same tags,
    so the in-distribution and shifted test points appear on the same
    charts as the curves, at the last epoch.

    Args:
        tensorboard_dir: str. The run's TensorBoard folder.
        scores: dict of split name to dict of metric name to number, as
            `model.evaluate(..., return_dict=True)` gives per split.
        step: int. The epoch index the scores belong to (0-based, as
            Keras logs epochs).
    """
    for split, metrics in scores.items():
        writer = tf.summary.create_file_writer(
            os.path.join(tensorboard_dir, split)
        )
        with writer.as_default():
            for name, value in metrics.items():
                tf.summary.scalar(f"epoch_{name}", float(value), step=step)
        writer.close()
