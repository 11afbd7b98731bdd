"""Keras layers of keras_mtcrl: modular encoders, routers, task heads."""

from keras_mtcrl.layers.causal_graph import CausalGraph
from keras_mtcrl.layers.cgc_router import CGCRouter
from keras_mtcrl.layers.channel_group_encoder import ChannelGroupEncoder
from keras_mtcrl.layers.conv_backbone import ConvBackbone
from keras_mtcrl.layers.cross_stitch_encoder import CrossStitchEncoder
from keras_mtcrl.layers.dense_decoder import DenseDecoder
from keras_mtcrl.layers.expert_encoder import ExpertEncoder
from keras_mtcrl.layers.feature_embedding import FeatureEmbedding
from keras_mtcrl.layers.mixture_of_experts_router import MixtureOfExpertsRouter
from keras_mtcrl.layers.module_select_router import ModuleSelectRouter
from keras_mtcrl.layers.shared_router import SharedRouter
from keras_mtcrl.layers.spatial_region_encoder import SpatialRegionEncoder
from keras_mtcrl.layers.task_head import TaskHead

__all__ = [
    "CGCRouter",
    "CausalGraph",
    "ChannelGroupEncoder",
    "ConvBackbone",
    "CrossStitchEncoder",
    "DenseDecoder",
    "ExpertEncoder",
    "FeatureEmbedding",
    "MixtureOfExpertsRouter",
    "ModuleSelectRouter",
    "SharedRouter",
    "SpatialRegionEncoder",
    "TaskHead",
]
