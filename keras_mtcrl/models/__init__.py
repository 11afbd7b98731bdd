"""Multi-task models: the generic frame, MT-CRL and baseline factories."""

from keras_mtcrl.models import baselines
from keras_mtcrl.models.causal_mtl_model import CausalMTLModel
from keras_mtcrl.models.multi_task_model import MultiTaskModel

__all__ = ["CausalMTLModel", "MultiTaskModel", "baselines"]
