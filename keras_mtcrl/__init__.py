"""keras_mtcrl: multi-task learning that does not fall for spurious correlation.

Keras 3 / TensorFlow implementation of Multi-Task Causal Representation
Learning (MT-CRL, Hu et al., NeurIPS 2022).
"""

# First: without TensorFlow, fail with the extra to install, not with a
# bare `No module named 'tensorflow'` from deep inside keras.
from keras_mtcrl import _require_tensorflow  # noqa: F401
from keras_mtcrl import diagnostics
from keras_mtcrl import gradients
from keras_mtcrl import layers
from keras_mtcrl import losses
from keras_mtcrl import metrics
from keras_mtcrl import models
from keras_mtcrl import weighting
from keras_mtcrl.datasets.multi_task_data import MultiTaskData
from keras_mtcrl.datasets.multi_task_data import TaskSpec
from keras_mtcrl.gradients import IMTL
from keras_mtcrl.gradients import MGDA
from keras_mtcrl.gradients import CAGrad
from keras_mtcrl.gradients import GradientMethod
from keras_mtcrl.gradients import PCGrad
from keras_mtcrl.layers import CausalGraph
from keras_mtcrl.layers import CGCRouter
from keras_mtcrl.layers import ChannelGroupEncoder
from keras_mtcrl.layers import CrossStitchEncoder
from keras_mtcrl.layers import ExpertEncoder
from keras_mtcrl.layers import MixtureOfExpertsRouter
from keras_mtcrl.layers import ModuleSelectRouter
from keras_mtcrl.layers import SharedRouter
from keras_mtcrl.layers import SpatialRegionEncoder
from keras_mtcrl.layers import TaskHead
from keras_mtcrl.losses import DisentanglementPenalty
from keras_mtcrl.losses import InvariancePenalty
from keras_mtcrl.losses import Penalty
from keras_mtcrl.losses import SparsityPenalty
from keras_mtcrl.metrics import WorstEnvironmentLoss
from keras_mtcrl.models import CausalMTLModel
from keras_mtcrl.models import GMTLAdjuster
from keras_mtcrl.models import GroupDROModel
from keras_mtcrl.models import InvariantRiskModel
from keras_mtcrl.models import LabelGroups
from keras_mtcrl.models import MultiTaskModel
from keras_mtcrl.models import ReweightedModel
from keras_mtcrl.weighting import DynamicWeightAverage
from keras_mtcrl.weighting import EqualWeighting
from keras_mtcrl.weighting import GradNorm
from keras_mtcrl.weighting import LossWeighting
from keras_mtcrl.weighting import RandomLossWeighting
from keras_mtcrl.weighting import UncertaintyWeighting

try:
    # Registers the TFDS builders (keras_mtcrl_multi_mnist, ...) so that
    # `tfds.load` finds them after `import keras_mtcrl`. Costs about 0.3 s
    # on top of TensorFlow, which keras_mtcrl imports anyway.
    from keras_mtcrl.datasets import tfds_builders  # noqa: F401
except ModuleNotFoundError as _error:  # pragma: no cover
    if _error.name != "tensorflow_datasets":
        raise
    del _error

__version__ = "0.1.0"

__all__ = [
    "CAGrad",
    "CGCRouter",
    "CausalGraph",
    "CausalMTLModel",
    "ChannelGroupEncoder",
    "CrossStitchEncoder",
    "DisentanglementPenalty",
    "DynamicWeightAverage",
    "EqualWeighting",
    "GMTLAdjuster",
    "ExpertEncoder",
    "GradNorm",
    "GradientMethod",
    "GroupDROModel",
    "IMTL",
    "InvariancePenalty",
    "InvariantRiskModel",
    "LabelGroups",
    "LossWeighting",
    "MGDA",
    "MixtureOfExpertsRouter",
    "ModuleSelectRouter",
    "MultiTaskData",
    "MultiTaskModel",
    "PCGrad",
    "Penalty",
    "RandomLossWeighting",
    "ReweightedModel",
    "SharedRouter",
    "SparsityPenalty",
    "SpatialRegionEncoder",
    "TaskHead",
    "TaskSpec",
    "UncertaintyWeighting",
    "WorstEnvironmentLoss",
    "diagnostics",
    "gradients",
    "layers",
    "losses",
    "metrics",
    "models",
    "weighting",
    "__version__",
]
