"""Pictures of what a model learned."""

from keras_mtcrl.visualization.graph_heatmap import graph_heatmap_rgb
from keras_mtcrl.visualization.graph_heatmap import save_graph_heatmap

__all__ = ["graph_heatmap_rgb", "save_graph_heatmap"]
