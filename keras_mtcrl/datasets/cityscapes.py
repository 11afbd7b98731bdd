"""CityScapes (street scenes): semantic segmentation and depth."""

import pathlib

import numpy as np
import tensorflow as tf

from keras_mtcrl.datasets.dense_pipeline import IGNORE_LABEL
from keras_mtcrl.datasets.dense_pipeline import IMAGE_KEY
from keras_mtcrl.datasets.dense_pipeline import assemble_dense_data
from keras_mtcrl.datasets.dense_pipeline import assert_same_size
from keras_mtcrl.datasets.dense_pipeline import dense_task_specs
from keras_mtcrl.datasets.dense_pipeline import missing_depth_to_nan
from keras_mtcrl.datasets.dense_pipeline import path_dataset
from keras_mtcrl.datasets.dense_pipeline import split_by_environment

CITYSCAPES_CLASSES = (
    "road",
    "sidewalk",
    "building",
    "wall",
    "fence",
    "pole",
    "traffic light",
    "traffic sign",
    "vegetation",
    "terrain",
    "sky",
    "person",
    "rider",
    "car",
    "truck",
    "bus",
    "train",
    "motorcycle",
    "bicycle",
)
CITYSCAPES_CATEGORIES = (
    "flat",
    "construction",
    "object",
    "nature",
    "sky",
    "human",
    "vehicle",
)
# (label id, name, train class or None, category or None), written from the
# public definition of the CityScapes label set. Ids with no train class
# are ignored in the 19-class set; the "void" category in the 7-category
# set.
_LABELS = (
    (0, "unlabeled", None, None),
    (1, "ego vehicle", None, None),
    (2, "rectification border", None, None),
    (3, "out of roi", None, None),
    (4, "static", None, None),
    (5, "dynamic", None, None),
    (6, "ground", None, None),
    (7, "road", "road", "flat"),
    (8, "sidewalk", "sidewalk", "flat"),
    (9, "parking", None, "flat"),
    (10, "rail track", None, "flat"),
    (11, "building", "building", "construction"),
    (12, "wall", "wall", "construction"),
    (13, "fence", "fence", "construction"),
    (14, "guard rail", None, "construction"),
    (15, "bridge", None, "construction"),
    (16, "tunnel", None, "construction"),
    (17, "pole", "pole", "object"),
    (18, "polegroup", None, "object"),
    (19, "traffic light", "traffic light", "object"),
    (20, "traffic sign", "traffic sign", "object"),
    (21, "vegetation", "vegetation", "nature"),
    (22, "terrain", "terrain", "nature"),
    (23, "sky", "sky", "sky"),
    (24, "person", "person", "human"),
    (25, "rider", "rider", "human"),
    (26, "car", "car", "vehicle"),
    (27, "truck", "truck", "vehicle"),
    (28, "bus", "bus", "vehicle"),
    (29, "caravan", None, "vehicle"),
    (30, "trailer", None, "vehicle"),
    (31, "train", "train", "vehicle"),
    (32, "motorcycle", "motorcycle", "vehicle"),
    (33, "bicycle", "bicycle", "vehicle"),
)
_LABEL_SETS = {
    "classes": (2, CITYSCAPES_CLASSES),
    "categories": (3, CITYSCAPES_CATEGORIES),
}
_SUFFIX = {
    "image": "_leftImg8bit.png",
    "segmentation": "_gtFine_labelIds.png",
    "depth": "_disparity.png",
}
_FOLDER = {
    "image": "leftImg8bit",
    "segmentation": "gtFine",
    "depth": "disparity",
}


def cityscapes_label_table(label_set="classes"):
    """Lookup table from CityScapes label id (0..255) to class id.

    Args:
        label_set: str. `"classes"` (the 19 `CITYSCAPES_CLASSES`) or
            `"categories"` (the 7 `CITYSCAPES_CATEGORIES`). Defaults to
            `"classes"`.

    Returns:
        int32 array of 256 entries: the class id, or -1 (ignored).

    Example:

    >>> table = cityscapes_label_table()
    >>> table[[7, 26, 9, 0]].tolist()
    [0, 13, -1, -1]
    >>> cityscapes_label_table("categories")[[9, 33]].tolist()
    [0, 6]
    """
    if label_set not in _LABEL_SETS:
        raise ValueError(
            f"`label_set` must be one of {tuple(_LABEL_SETS)}. "
            f"Received: label_set={label_set!r}"
        )
    column, names = _LABEL_SETS[label_set]
    table = np.full(256, IGNORE_LABEL, dtype="int32")
    for row in _LABELS:
        if row[column] is not None:
            table[row[0]] = names.index(row[column])
    return table


def _list_frames(root, tasks):
    """(split, city, stem) of each frame, with every requested file there."""
    frames = []
    for split in ("train", "val"):
        for image in sorted(
            (root / "leftImg8bit" / split).glob("*/*" + _SUFFIX["image"])
        ):
            stem = image.name[: -len(_SUFFIX["image"])]
            frames.append((split, image.parent.name, stem))
    if not frames:
        raise FileNotFoundError(
            f"No '{root}/leftImg8bit/{{train,val}}/CITY/*_leftImg8bit.png' "
            "found; `root` must hold CityScapes' leftImg8bit/ folder."
        )
    for task in tasks:
        missing = [
            p
            for p in (_path(root, task, f) for f in frames)
            if not pathlib.Path(p).is_file()
        ]
        if missing:
            raise FileNotFoundError(
                f"{len(missing)} '{task}' files of existing images are "
                f"missing, e.g. {missing[:3]}."
            )
    return frames


def _path(root, key, frame):
    split, city, stem = frame
    return str(root / _FOLDER[key] / split / city / (stem + _SUFFIX[key]))


def build_cityscapes(
    root,
    shifted_cities=None,
    tasks=("segmentation", "depth"),
    label_set="classes",
    focal_baseline=None,
    pipeline=None,
    eval_fraction=0.1,
    seed=0,
):
    """Builds CityScapes with a distribution shift by city.

    Reads the frames of the official `train` and `val` folders (the public
    `test` labels are withheld): `ROOT/leftImg8bit/{split}/{city}/{city}_
    {seq}_{frame}_leftImg8bit.png`, `ROOT/gtFine/.../..._gtFine_
    labelIds.png` and `ROOT/disparity/.../..._disparity.png` (uint16;
    disparity = (p - 1) / 256 pixels for p > 0, p = 0 missing). Label ids
    map to the 19 classes or 7 categories (`cityscapes_label_table`),
    everything else to -1. The `depth` label is the disparity in pixels
    of the full-resolution frame (inverse depth, as in the multi-task
    literature; it is not rescaled on resize) or, with `focal_baseline`,
    metric depth `focal_baseline / disparity`; NaN where missing.

    Elements: `features["image"]` float32 `(H, W, 3)` in `[0, 1]` and
    `features["env"]` int32, the city's index in sorted order.

    Args:
        root: str or path-like. Folder holding `leftImg8bit/`, `gtFine/`
            and `disparity/`.
        shifted_cities: sequence of str. Cities of the shifted splits.
            Defaults to `None`: the last quarter in sorted order.
        tasks: sequence of str. Among `"segmentation"`, `"depth"`.
            Defaults to both.
        label_set: str. `"classes"` (19) or `"categories"` (7). Defaults
            to `"classes"`.
        focal_baseline: float. Focal length (pixels) times stereo baseline
            (metres), e.g. about 2262.5 * 0.209 for the CityScapes rig
            (see each frame's camera file). Defaults to `None`
            (disparity).
        pipeline: `DensePipeline`. Resize/augment/normalize. Defaults to
            `None`.
        eval_fraction: float. Share of in-distribution frames in each of
            `validation` and `test`. Defaults to `0.1`.
        seed: int. Seed of the split. Defaults to `0`.

    Returns:
        A `MultiTaskData`.

    Example:

    >>> import tempfile
    >>> from keras_mtcrl.testing import dense_fixtures
    >>> root = dense_fixtures.write_cityscapes(tempfile.mkdtemp())
    >>> data = build_cityscapes(root, shifted_cities=["frankfurt"])
    >>> data.sizes["train"], data.num_environments
    (4, 4)
    """
    root = pathlib.Path(root)
    tasks = tuple(tasks)
    table = cityscapes_label_table(label_set)
    specs = dense_task_specs(
        tasks, int(table.max()) + 1, available=("segmentation", "depth")
    )
    frames = _list_frames(root, tasks)
    split = split_by_environment(
        [f[1] for f in frames], shifted_cities, eval_fraction, seed
    )
    table = tf.constant(table)
    datasets = {}
    for name, indices in split.indices.items():
        paths = {
            key: [_path(root, key, frames[i]) for i in indices]
            for key in ("image",) + tasks
        }
        dataset = path_dataset(paths, split.ids[indices]).map(
            lambda p, env: _decode(p, env, table, focal_baseline),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
        datasets[name] = (dataset, len(indices))
    description = (
        "CityScapes (Cordts et al., CVPR 2016), fine annotations, "
        f"{label_set}; shift by city: shifted {split.shifted}; env = city. "
        "The files are the user's own copy under the CityScapes licence; "
        "nothing is redistributed."
    )
    return assemble_dense_data(
        datasets, specs, len(split.vocabulary), pipeline, description
    )


def _decode(paths, env, table, focal_baseline):
    """Decodes one frame's PNG files into `(features, labels)`."""
    image = tf.io.decode_png(tf.io.read_file(paths[IMAGE_KEY]), 3)
    features = {
        IMAGE_KEY: tf.image.convert_image_dtype(image, tf.float32),
        "env": env,
    }
    labels = {}
    if "segmentation" in paths:
        ids = tf.io.decode_png(tf.io.read_file(paths["segmentation"]), 1)
        labels["segmentation"] = tf.gather(
            table, tf.cast(ids[..., 0], tf.int32)
        )
    if "depth" in paths:
        raw = tf.io.decode_png(
            tf.io.read_file(paths["depth"]), 1, dtype=tf.uint16
        )
        disparity = missing_depth_to_nan(
            (tf.cast(raw, tf.float32) - 1.0) / 256.0
        )
        labels["depth"] = (
            disparity if focal_baseline is None else focal_baseline / disparity
        )
    return assert_same_size(features, labels, paths[IMAGE_KEY])
