"""keras_mtcrl's data sets as TensorFlow Datasets (TFDS) builders.

Importing this module registers the builders with TFDS (`import
keras_mtcrl` does it too), after which `tfds.load` finds them:

```python
import tensorflow_datasets as tfds
import keras_mtcrl  # registers keras_mtcrl_multi_mnist, ...

ds = tfds.load("keras_mtcrl_multi_mnist", split="train[:10%]")
```

None of the builders downloads anything: Multi-MNIST's digits ship with
keras_mtcrl, and data users must fetch themselves is read from
`manual_dir`. `load_multi_task_data` prepares a builder once (into
`$KERAS_MTCRL_DATA/tensorflow_datasets` by default) and returns the
library's `MultiTaskData`.
"""

from keras_mtcrl.datasets.tfds_builders.base import default_data_dir
from keras_mtcrl.datasets.tfds_builders.base import load_multi_task_data
from keras_mtcrl.datasets.tfds_builders.base import offline_download_config
from keras_mtcrl.datasets.tfds_builders.census_income import (
    NAME as CENSUS_INCOME,
)
from keras_mtcrl.datasets.tfds_builders.census_income import (
    KerasMtcrlCensusIncome,
)
from keras_mtcrl.datasets.tfds_builders.cityscapes import load_cityscapes_tfds
from keras_mtcrl.datasets.tfds_builders.movielens import NAME as MOVIELENS
from keras_mtcrl.datasets.tfds_builders.movielens import KerasMtcrlMovielens
from keras_mtcrl.datasets.tfds_builders.multi_mnist import NAME as MULTI_MNIST
from keras_mtcrl.datasets.tfds_builders.multi_mnist import KerasMtcrlMultiMnist
from keras_mtcrl.datasets.tfds_builders.multi_mnist import MultiMnistConfig
from keras_mtcrl.datasets.tfds_builders.multi_mnist import multi_mnist_config
from keras_mtcrl.datasets.tfds_builders.taskonomy import NAME as TASKONOMY
from keras_mtcrl.datasets.tfds_builders.taskonomy import KerasMtcrlTaskonomy
from keras_mtcrl.datasets.tfds_builders.taskonomy import TaskonomyConfig

__all__ = [
    "CENSUS_INCOME",
    "KerasMtcrlCensusIncome",
    "KerasMtcrlMovielens",
    "KerasMtcrlMultiMnist",
    "MOVIELENS",
    "MULTI_MNIST",
    "KerasMtcrlTaskonomy",
    "MultiMnistConfig",
    "TASKONOMY",
    "TaskonomyConfig",
    "default_data_dir",
    "load_cityscapes_tfds",
    "load_multi_task_data",
    "multi_mnist_config",
    "offline_download_config",
]
