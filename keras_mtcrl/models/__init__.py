"""Multi-task models: the generic frame, MT-CRL and baseline factories."""

from keras_mtcrl.models import baselines
from keras_mtcrl.models.causal_mtl_model import CausalMTLModel
from keras_mtcrl.models.gmtl_adjuster import GMTLAdjuster
from keras_mtcrl.models.gmtl_adjuster import joint_label_prior
from keras_mtcrl.models.group_dro_model import GroupDROModel
from keras_mtcrl.models.invariant_risk_model import InvariantRiskModel
from keras_mtcrl.models.label_groups import LabelGroups
from keras_mtcrl.models.multi_task_model import MultiTaskModel
from keras_mtcrl.models.reweighted_model import ReweightedModel

__all__ = [
    "CausalMTLModel",
    "GMTLAdjuster",
    "GroupDROModel",
    "InvariantRiskModel",
    "LabelGroups",
    "MultiTaskModel",
    "ReweightedModel",
    "baselines",
    "joint_label_prior",
]
