"""Loss weightings: how much each task's loss counts in the objective."""

from keras_mtcrl.weighting.dynamic_weight_average import DynamicWeightAverage
from keras_mtcrl.weighting.equal_weighting import EqualWeighting
from keras_mtcrl.weighting.grad_norm import GradNorm
from keras_mtcrl.weighting.lookup import get
from keras_mtcrl.weighting.loss_weighting import LossWeighting
from keras_mtcrl.weighting.random_loss_weighting import RandomLossWeighting
from keras_mtcrl.weighting.uncertainty_weighting import UncertaintyWeighting

__all__ = [
    "DynamicWeightAverage",
    "EqualWeighting",
    "GradNorm",
    "LossWeighting",
    "RandomLossWeighting",
    "UncertaintyWeighting",
    "get",
]
