"""Which worker of a cluster writes files, and where the others write."""

import os
import shutil
import tempfile


def is_multi_worker(strategy):
    """Whether `strategy` spans several worker processes.

    Example:

    >>> import tensorflow as tf
    >>> is_multi_worker(tf.distribute.OneDeviceStrategy("/cpu:0"))
    False
    """
    return bool(
        getattr(strategy.extended, "_in_multi_worker_mode", lambda: False)()
    )


def is_chief(strategy):
    """Whether this process writes the run's files (logs, results).

    A single-worker strategy's process is always the chief; in a cluster
    it is the worker with `task_type` "chief", or "worker" 0 when the
    cluster has no chief (TensorFlow's convention).

    Args:
        strategy: `tf.distribute.Strategy`.

    Returns:
        bool.

    Example:

    >>> import tensorflow as tf
    >>> is_chief(tf.distribute.OneDeviceStrategy("/cpu:0"))
    True
    """
    if not is_multi_worker(strategy):
        return True
    resolver = strategy.cluster_resolver
    task_type, task_id = resolver.task_type, resolver.task_id
    if task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return task_type == "worker" and task_id == 0 and not has_chief


def task_name(strategy):
    """`"worker 1"`-style name of this process (`"local"` alone).

    Example:

    >>> import tensorflow as tf
    >>> task_name(tf.distribute.OneDeviceStrategy("/cpu:0"))
    'local'
    """
    if not is_multi_worker(strategy):
        return "local"
    resolver = strategy.cluster_resolver
    return f"{resolver.task_type} {resolver.task_id}"


def writer_dir(path, strategy):
    """The folder this worker writes `path`'s files to.

    Saving a checkpoint under MultiWorkerMirroredStrategy runs collective
    operations, so every worker must save; only the chief's copy is
    kept. The chief writes to `path`, every other worker to a fresh
    temporary folder that `remove_writer_dir` deletes afterwards.

    Args:
        path: str. The real folder.
        strategy: `tf.distribute.Strategy`.

    Returns:
        str, `path` on the chief, else a temporary folder.

    Example:

    >>> import tensorflow as tf
    >>> strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    >>> writer_dir("runs/ckpt", strategy)
    'runs/ckpt'
    """
    if is_chief(strategy):
        return path
    prefix = "keras_mtcrl_" + task_name(strategy).replace(" ", "") + "_"
    return tempfile.mkdtemp(prefix=prefix)


def remove_writer_dir(folder, path):
    """Deletes `folder` when it is a non-chief's temporary copy of `path`.

    Args:
        folder: str. What `writer_dir(path, strategy)` returned.
        path: str. The real folder (never deleted).
    """
    if os.path.abspath(folder) != os.path.abspath(path):
        shutil.rmtree(folder, ignore_errors=True)
