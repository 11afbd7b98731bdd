"""Choosing a `tf.distribute` strategy from one flag."""

import json
import os

import tensorflow as tf

STRATEGIES = ("auto", "one", "mirrored", "multiworker", "tpu")


def make_strategy(name="auto"):
    """Returns the `tf.distribute.Strategy` named by `name`.

    - `"auto"`: `MirroredStrategy` over all GPUs when several are visible,
      else `OneDeviceStrategy` on the GPU or the CPU.
    - `"one"`: `OneDeviceStrategy` on the first GPU, else the CPU.
    - `"mirrored"`: `MirroredStrategy` over all GPUs (or the CPU).
    - `"multiworker"`: `MultiWorkerMirroredStrategy`; the cluster comes from
      the `TF_CONFIG` environment variable, which must be set.
    - `"tpu"`: `TPUStrategy` on the TPU found by `TPUClusterResolver`.

    Args:
        name: str. One of `STRATEGIES`. Defaults to `"auto"`.

    Returns:
        A `tf.distribute.Strategy`.

    Example:

    >>> make_strategy("one").num_replicas_in_sync
    1
    """
    if name not in STRATEGIES:
        raise ValueError(
            f"`strategy` must be one of {STRATEGIES}. Received: {name!r}"
        )
    # Before anything that initialises the eager context (listing logical
    # devices does): collectives must be configured at start-up.
    if name == "multiworker":
        if "TF_CONFIG" not in os.environ:
            raise ValueError(
                "strategy='multiworker' reads the cluster from the TF_CONFIG "
                "environment variable, which is not set. Example: "
                + json.dumps(
                    {
                        "cluster": {"worker": ["127.0.0.1:12345",
                                               "127.0.0.1:12346"]},
                        "task": {"type": "worker", "index": 0},
                    }
                )
            )
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = tf.config.list_logical_devices("GPU")
    if name == "auto":
        name = "mirrored" if len(gpus) > 1 else "one"
    if name == "one":
        device = gpus[0].name if gpus else "/cpu:0"
        return tf.distribute.OneDeviceStrategy(device)
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)
