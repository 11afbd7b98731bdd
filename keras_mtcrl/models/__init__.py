"""Multi-task models: the generic frame and MT-CRL."""

from keras_mtcrl.models.causal_mtl_model import CausalMTLModel
from keras_mtcrl.models.multi_task_model import MultiTaskModel

__all__ = ["CausalMTLModel", "MultiTaskModel"]
