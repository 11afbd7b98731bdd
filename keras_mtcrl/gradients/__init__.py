"""Multi-task gradient methods: combine the tasks' shared-parameter grads."""

from keras_mtcrl.gradients.cagrad import CAGrad
from keras_mtcrl.gradients.gradient_method import GradientMethod
from keras_mtcrl.gradients.imtl import IMTL
from keras_mtcrl.gradients.lookup import get
from keras_mtcrl.gradients.mgda import MGDA
from keras_mtcrl.gradients.mgda import min_norm_weights
from keras_mtcrl.gradients.pcgrad import PCGrad

__all__ = [
    "CAGrad",
    "GradientMethod",
    "IMTL",
    "MGDA",
    "PCGrad",
    "get",
    "min_norm_weights",
]
