"""Pictures of the task-to-module graph: an RGB array and a PNG figure."""

import numpy as np


def graph_heatmap_rgb(gates, cell_pixels=24):
    """Renders a `(T, K)` gate matrix as an RGB image, one cell per edge.

    White is 0 (no edge), dark blue is 1 (edge fully open); a thin grey
    grid separates the cells. No plotting library is needed, so the image
    can be written to TensorBoard from any training run.

    Args:
        gates: array `(T, K)` with values in [0, 1].
        cell_pixels: int. Side of one cell in pixels. Defaults to `24`.

    Returns:
        uint8 array `(T * cell_pixels, K * cell_pixels, 3)`.

    Example:

    >>> graph_heatmap_rgb(np.array([[0.0, 1.0]]), cell_pixels=4).shape
    (4, 8, 3)
    """
    gates = np.clip(np.asarray(gates, dtype="float32"), 0.0, 1.0)
    white = np.array([255.0, 255.0, 255.0])
    blue = np.array([8.0, 48.0, 107.0])
    colours = white + gates[..., None] * (blue - white)
    image = np.repeat(np.repeat(colours, cell_pixels, 0), cell_pixels, 1)
    image[::cell_pixels, :, :] = 160
    image[:, ::cell_pixels, :] = 160
    return image.astype("uint8")


def save_graph_heatmap(gates, task_names, path, title="Task-to-module graph"):
    """Writes a labelled heatmap of the graph to `path` (PNG) with matplotlib.

    Args:
        gates: array `(T, K)` of edge weights in [0, 1].
        task_names: sequence of str, the row labels.
        path: str. Output file.
        title: str. Figure title. Defaults to `"Task-to-module graph"`.

    Returns:
        `path`.

    Example:

    >>> import os, tempfile
    >>> out = os.path.join(tempfile.mkdtemp(), "graph.png")
    >>> save_graph_heatmap(np.eye(2), ["a", "b"], out) == out
    True
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    gates = np.asarray(gates)
    height = 1.0 + 0.45 * gates.shape[0]
    width = 2.0 + 0.55 * gates.shape[1]
    figure, axes = plt.subplots(figsize=(width, height))
    image = axes.imshow(gates, cmap="Blues", vmin=0.0, vmax=1.0)
    axes.set_yticks(range(len(task_names)), labels=list(task_names))
    axes.set_xticks(
        range(gates.shape[1]), labels=[f"m{k}" for k in range(gates.shape[1])]
    )
    for (row, col), value in np.ndenumerate(gates):
        axes.text(
            col, row, f"{value:.2f}", ha="center", va="center", fontsize=7,
            color="white" if value > 0.6 else "black",
        )
    axes.set_xlabel("module")
    axes.set_title(title, fontsize=9)
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
