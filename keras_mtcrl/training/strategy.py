"""Choosing a `tf.distribute` strategy from one flag."""

import json
import os

import tensorflow as tf

STRATEGIES = ("auto", "one", "mirrored", "multiworker", "tpu")


def make_strategy(name="auto", timeout_seconds=None):
    """Returns the `tf.distribute.Strategy` named by `name`.

    - `"auto"`: `MirroredStrategy` over all GPUs when several are visible,
      else `OneDeviceStrategy` on the GPU or the CPU.
    - `"one"`: `OneDeviceStrategy` on the first GPU, else the CPU.
    - `"mirrored"`: `MirroredStrategy` over all GPUs (or the CPU).
    - `"multiworker"`: `MultiWorkerMirroredStrategy`; the cluster comes from
      the `TF_CONFIG` environment variable, which must be set. With
      `timeout_seconds`, a collective operation (gradient all-reduce,
      metric read, checkpoint save) that waits longer for a peer fails
      with `DeadlineExceededError`, so a worker whose peer was killed
      stops instead of waiting forever.
    - `"tpu"`: `TPUStrategy` on the TPU found by `TPUClusterResolver`.

    Args:
        name: str. One of `STRATEGIES`. Defaults to `"auto"`.
        timeout_seconds: float or None. `"multiworker"` only: the limit of
            each collective operation
            (`tf.distribute.experimental.CommunicationOptions`). None:
            TensorFlow's default (no limit; its health check may still
            notice a lost peer). Defaults to `None`.

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
    if timeout_seconds is not None and not timeout_seconds > 0:
        raise ValueError(
            "`timeout_seconds` (--worker-timeout) must be a positive number "
            f"of seconds. Received: timeout_seconds={timeout_seconds!r}"
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
        options = tf.distribute.experimental.CommunicationOptions(
            timeout_seconds=timeout_seconds
        )
        return tf.distribute.MultiWorkerMirroredStrategy(
            communication_options=options
        )
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
