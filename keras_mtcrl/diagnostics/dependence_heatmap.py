"""The label dependence table as a heatmap: an RGB array, a PNG, TensorBoard.

One panel per scope of `label_dependence` rows (all samples, then each
environment), rows the task, columns the task it is given, the colour
the NMI from 0 (white) to 1 (dark blue), the diagonal grey and the pairs
flagged as likely confounded boxed in red. The picture is drawn with
matplotlib on its own canvas (no pyplot, no global backend), at a fixed
pixel layout (`HeatmapLayout`), so where each cell lies is known.
"""

import dataclasses
import math
import os

import numpy as np

#: Colour of the box around a flagged (likely confounded) pair.
FLAGGED_COLOR = "#d62728"
#: Tag of the TensorBoard image.
TENSORBOARD_TAG = "label_dependence"
_CHAR_PIXELS = 7


@dataclasses.dataclass(frozen=True)
class HeatmapLayout:
    """Pixel layout of a dependence heatmap (origin top left).

    Args:
        num_tasks: int. Rows and columns of each panel.
        num_panels: int. Scopes drawn side by side.
        cell_pixels: int. Side of one cell.
        left: int. Pixels left of the first panel (task labels).
        top: int. Pixels above the panels (titles).
        bottom: int. Pixels below the panels (labels of the given tasks).
        gap: int. Pixels between two panels.
        right: int. Pixels right of the last panel (colour bar).

    Example:

    >>> layout = HeatmapLayout.for_tasks(["a", "b"], num_panels=1)
    >>> layout.cell(0, 1, 0)
    (132, 39, 180, 87)
    """

    num_tasks: int
    num_panels: int
    cell_pixels: int
    left: int
    top: int
    bottom: int
    gap: int
    right: int

    @classmethod
    def for_tasks(cls, task_names, num_panels, cell_pixels=48):
        """The layout for these task names (their length sets the margins)."""
        longest = max(len(str(name)) for name in task_names)
        panels_width = num_panels * len(task_names) * cell_pixels + (
            num_panels - 1
        ) * 16
        left = 32 + _CHAR_PIXELS * longest
        # Room for the two title lines, whatever the panels' width.
        right = max(72, 330 - left - panels_width)
        return cls(
            num_tasks=len(task_names),
            num_panels=num_panels,
            cell_pixels=cell_pixels,
            left=left,
            top=84,
            bottom=48 + math.ceil(0.75 * _CHAR_PIXELS * longest),
            gap=16,
            right=right,
        )

    @property
    def panel_pixels(self):
        return self.num_tasks * self.cell_pixels

    @property
    def width(self):
        return (
            self.left
            + self.num_panels * self.panel_pixels
            + (self.num_panels - 1) * self.gap
            + self.right
        )

    @property
    def height(self):
        return self.top + self.panel_pixels + self.bottom

    def panel_left(self, panel):
        """Pixel column where panel `panel` starts."""
        return self.left + panel * (self.panel_pixels + self.gap)

    def cell(self, panel, row, col):
        """`(top, left, bottom, right)` pixels of a cell (bottom/right
        exclusive): row `row` (the task), column `col` (the given task)."""
        top = self.top + row * self.cell_pixels
        left = self.panel_left(panel) + col * self.cell_pixels
        return top, left, top + self.cell_pixels, left + self.cell_pixels


def dependence_matrices(rows):
    """Arranges `label_dependence` rows as one matrix per scope.

    Args:
        rows: list of dicts from `keras_mtcrl.diagnostics.label_dependence`.

    Returns:
        Dict with `tasks` (task names in order of appearance), `scopes`
        (`"all"` then environment ids), `n` (samples per scope),
        `nmi` (float `(scopes, T, T)`, `[k, t, s]` the NMI of task `t`
        given task `s`, NaN on the diagonal) and `flagged` (bool, same
        shape).

    Example:

    >>> m = dependence_matrices([
    ...     {"task": "a", "given": "b", "environment": "all", "n": 4,
    ...      "nmi": 0.5, "reference": 0.0, "flagged": True},
    ...     {"task": "b", "given": "a", "environment": "all", "n": 4,
    ...      "nmi": 0.25, "reference": 0.0, "flagged": False}])
    >>> m["tasks"], m["nmi"][0].tolist()
    (['a', 'b'], [[nan, 0.5], [0.25, nan]])
    """
    if not rows:
        raise ValueError(
            "No label dependence to draw: it needs at least two tasks."
        )
    tasks, scopes, counts = [], [], {}
    for row in rows:
        for name in (row["task"], row["given"]):
            if name not in tasks:
                tasks.append(name)
        if row["environment"] not in scopes:
            scopes.append(row["environment"])
        counts[row["environment"]] = row["n"]
    shape = (len(scopes), len(tasks), len(tasks))
    nmi = np.full(shape, np.nan)
    flagged = np.zeros(shape, bool)
    for row in rows:
        index = (
            scopes.index(row["environment"]),
            tasks.index(row["task"]),
            tasks.index(row["given"]),
        )
        nmi[index] = row["nmi"]
        flagged[index] = row["flagged"]
    return {
        "tasks": tasks,
        "scopes": scopes,
        "n": [counts[scope] for scope in scopes],
        "nmi": nmi,
        "flagged": flagged,
    }


def _scope_title(scope, n):
    name = "all samples" if scope == "all" else f"environment {scope}"
    return f"{name}\nn={n}"


def dependence_heatmap(rows, cell_pixels=48, title="Label dependence"):
    """Draws `label_dependence` rows as an RGB image.

    Args:
        rows: list of dicts from `keras_mtcrl.diagnostics.label_dependence`.
        cell_pixels: int. Side of one cell in pixels. Defaults to `48`.
        title: str. First title line. Defaults to `"Label dependence"`.

    Returns:
        uint8 array `(height, width, 3)`, laid out as
        `HeatmapLayout.for_tasks(tasks, num_scopes, cell_pixels)`.

    Example:

    >>> image = dependence_heatmap([
    ...     {"task": "a", "given": "b", "environment": "all", "n": 4,
    ...      "nmi": 0.9, "reference": 0.0, "flagged": True},
    ...     {"task": "b", "given": "a", "environment": "all", "n": 4,
    ...      "nmi": 0.9, "reference": 0.0, "flagged": True}])
    >>> image.shape, image.dtype
    ((234, 330, 3), dtype('uint8'))
    """
    from matplotlib import colormaps
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    matrices = dependence_matrices(rows)
    tasks = [str(task) for task in matrices["tasks"]]
    layout = HeatmapLayout.for_tasks(
        tasks, len(matrices["scopes"]), cell_pixels
    )
    dpi = 100
    # A quarter pixel more: the canvas size is the figure size truncated.
    figure = Figure(
        figsize=((layout.width + 0.25) / dpi, (layout.height + 0.25) / dpi),
        dpi=dpi,
    )
    FigureCanvasAgg(figure)
    width, height = layout.width + 0.25, layout.height + 0.25
    cmap = colormaps["Blues"].with_extremes(bad="#d9d9d9")
    size = layout.panel_pixels
    image = None
    for panel, scope in enumerate(matrices["scopes"]):
        axes = figure.add_axes((
            layout.panel_left(panel) / width,
            (layout.bottom + 0.25) / height,
            size / width,
            size / height,
        ))
        values = matrices["nmi"][panel]
        image = axes.imshow(
            np.ma.masked_invalid(values), cmap=cmap, vmin=0.0, vmax=1.0,
            aspect="auto", interpolation="nearest",
        )
        for (row, col), value in np.ndenumerate(values):
            if np.isnan(value):
                continue
            axes.text(
                col, row, f"{value:.2f}", ha="center", va="center",
                fontsize=8, color="white" if value > 0.6 else "black",
            )
            if matrices["flagged"][panel, row, col]:
                inset = 2.0 / cell_pixels
                axes.add_patch(Rectangle(
                    (col - 0.5 + inset, row - 0.5 + inset),
                    1 - 2 * inset, 1 - 2 * inset,
                    fill=False, edgecolor=FLAGGED_COLOR, linewidth=2.5,
                ))
        ticks = range(len(tasks))
        axes.set_xticks(ticks, labels=tasks, rotation=45, ha="right",
                        fontsize=9)
        axes.set_yticks(ticks, labels=tasks if panel == 0 else [],
                        fontsize=9)
        axes.set_title(
            _scope_title(scope, matrices["n"][panel]), fontsize=8
        )
        axes.set_xlabel("given", fontsize=9)
        if panel == 0:
            axes.set_ylabel("task", fontsize=9)
    colorbar_axes = figure.add_axes((
        (layout.width - layout.right + 12) / width,
        (layout.bottom + 0.25) / height,
        12 / width,
        size / height,
    ))
    figure.colorbar(image, cax=colorbar_axes)
    colorbar_axes.tick_params(labelsize=7)
    figure.text(
        8 / width, 1 - 8 / height,
        f"{title}: NMI = I(task; given) / H(task)",
        fontsize=9, va="top",
    )
    figure.text(
        8 / width, 1 - 24 / height,
        "red box: likely confounded (NMI - chance > threshold)",
        fontsize=8, va="top", color=FLAGGED_COLOR,
    )
    figure.canvas.draw()
    pixels = np.asarray(figure.canvas.buffer_rgba())[..., :3]
    return np.ascontiguousarray(pixels[: layout.height, : layout.width])


def save_dependence_heatmap(rows, path, cell_pixels=48,
                            title="Label dependence"):
    """Writes the heatmap of `label_dependence` rows to `path` as a PNG.

    Args:
        rows: list of dicts from `keras_mtcrl.diagnostics.label_dependence`.
        path: str. Output file (folders are made).
        cell_pixels: int. Side of one cell in pixels. Defaults to `48`.
        title: str. First title line. Defaults to `"Label dependence"`.

    Returns:
        `path`.

    Example:

    >>> import tempfile
    >>> out = os.path.join(tempfile.mkdtemp(), "dependence.png")
    >>> save_dependence_heatmap([
    ...     {"task": "a", "given": "b", "environment": "all", "n": 4,
    ...      "nmi": 0.0, "reference": 0.0, "flagged": False},
    ...     {"task": "b", "given": "a", "environment": "all", "n": 4,
    ...      "nmi": 0.0, "reference": 0.0, "flagged": False}], out) == out
    True
    """
    import tensorflow as tf

    image = dependence_heatmap(rows, cell_pixels=cell_pixels, title=title)
    folder = os.path.dirname(path)
    if folder:
        tf.io.gfile.makedirs(folder)
    tf.io.write_file(path, tf.io.encode_png(image))
    return path


def log_dependence_heatmap(rows, logdir, step=0, tag=TENSORBOARD_TAG,
                           cell_pixels=48, title="Label dependence"):
    """Writes the heatmap to TensorBoard as the image summary `tag`.

    Args:
        rows: list of dicts from `keras_mtcrl.diagnostics.label_dependence`.
        logdir: str. TensorBoard log folder; the event file goes to its
            `diagnose` subfolder (a run of its own next to training runs).
        step: int. Summary step. Defaults to `0`.
        tag: str. Image tag. Defaults to `"label_dependence"`.
        cell_pixels: int. Side of one cell in pixels. Defaults to `48`.
        title: str. First title line. Defaults to `"Label dependence"`.

    Returns:
        The folder the event file was written to.

    Example:

    >>> import tempfile
    >>> folder = log_dependence_heatmap([
    ...     {"task": "a", "given": "b", "environment": "all", "n": 4,
    ...      "nmi": 0.0, "reference": 0.0, "flagged": False},
    ...     {"task": "b", "given": "a", "environment": "all", "n": 4,
    ...      "nmi": 0.0, "reference": 0.0, "flagged": False}],
    ...     tempfile.mkdtemp())
    >>> os.path.basename(folder)
    'diagnose'
    """
    import tensorflow as tf

    image = dependence_heatmap(rows, cell_pixels=cell_pixels, title=title)
    folder = os.path.join(logdir, "diagnose")
    writer = tf.summary.create_file_writer(folder)
    with writer.as_default(step=step):
        tf.summary.image(
            tag,
            image[None],
            description=(
                "NMI = I(task; given) / H(task) per ordered task pair; red "
                "box: likely confounded."
            ),
        )
    writer.flush()
    writer.close()
    return folder
