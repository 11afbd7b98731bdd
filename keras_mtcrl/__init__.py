"""keras_mtcrl: multi-task learning that does not fall for spurious correlation.

Keras 3 / TensorFlow implementation of Multi-Task Causal Representation
Learning (MT-CRL, Hu et al., NeurIPS 2022).
"""

from keras_mtcrl import layers
from keras_mtcrl import losses
from keras_mtcrl import models
from keras_mtcrl.datasets.multi_task_data import MultiTaskData
from keras_mtcrl.datasets.multi_task_data import TaskSpec
from keras_mtcrl.layers import CausalGraph
from keras_mtcrl.layers import ChannelGroupEncoder
from keras_mtcrl.layers import ExpertEncoder
from keras_mtcrl.layers import MixtureOfExpertsRouter
from keras_mtcrl.layers import SharedRouter
from keras_mtcrl.layers import TaskHead
from keras_mtcrl.losses import DisentanglementPenalty
from keras_mtcrl.losses import InvariancePenalty
from keras_mtcrl.losses import SparsityPenalty
from keras_mtcrl.models import CausalMTLModel
from keras_mtcrl.models import MultiTaskModel

__version__ = "0.1.0"

__all__ = [
    "CausalGraph",
    "CausalMTLModel",
    "ChannelGroupEncoder",
    "DisentanglementPenalty",
    "ExpertEncoder",
    "InvariancePenalty",
    "MixtureOfExpertsRouter",
    "MultiTaskData",
    "MultiTaskModel",
    "SharedRouter",
    "SparsityPenalty",
    "TaskHead",
    "TaskSpec",
    "layers",
    "losses",
    "models",
    "__version__",
]
