"""Dataset builders: real loaders into `tf.data`, with shift splits."""

from keras_mtcrl.datasets.multi_task_data import MultiTaskData
from keras_mtcrl.datasets.multi_task_data import TaskSpec

__all__ = ["MultiTaskData", "TaskSpec"]
