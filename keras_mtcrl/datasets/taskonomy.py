"""Taskonomy (indoor buildings): segmentation, depth and surface normals."""

import pathlib
import re

import tensorflow as tf

from keras_mtcrl.datasets.dense_pipeline import DENSE_TASK_NAMES
from keras_mtcrl.datasets.dense_pipeline import IGNORE_LABEL
from keras_mtcrl.datasets.dense_pipeline import IMAGE_KEY
from keras_mtcrl.datasets.dense_pipeline import assemble_dense_data
from keras_mtcrl.datasets.dense_pipeline import assert_same_size
from keras_mtcrl.datasets.dense_pipeline import dense_task_specs
from keras_mtcrl.datasets.dense_pipeline import missing_depth_to_nan
from keras_mtcrl.datasets.dense_pipeline import path_dataset
from keras_mtcrl.datasets.dense_pipeline import split_by_environment
from keras_mtcrl.datasets.dense_pipeline import unit_normals

#: Folder (domain) of each input and task.
TASKONOMY_DOMAINS = {
    "image": "rgb",
    "segmentation": "segment_semantic",
    "depth": "depth_zbuffer",
    "normal": "normal",
}
_NAME = re.compile(r"point_(\d+)_view_(\d+)_domain_(\w+)\.png$")
_DEPTH_SCALE = 512.0
_DEPTH_MISSING = 65535


def _file(root, example, key):
    (building, (point, view)), domain = example, TASKONOMY_DOMAINS[key]
    return str(
        root
        / building
        / domain
        / f"point_{point}_view_{view}_domain_{domain}.png"
    )


def _views(root, building, key):
    """The (point, view) pairs of one building's domain folder."""
    folder = root / building / TASKONOMY_DOMAINS[key]
    if not folder.is_dir():
        raise FileNotFoundError(
            f"Missing folder '{folder}' (Taskonomy layout: "
            "ROOT/BUILDING/DOMAIN/point_I_view_J_domain_DOMAIN.png)."
        )
    matches = (_NAME.search(p.name) for p in folder.iterdir())
    return {
        (int(m[1]), int(m[2]))
        for m in matches
        if m and m[3] == TASKONOMY_DOMAINS[key]
    }


def _list_views(root, tasks):
    """(building, (point, view)) of every example, paired across tasks."""
    if not root.is_dir():
        raise FileNotFoundError(f"Taskonomy folder '{root}' does not exist.")
    buildings = sorted(p.name for p in root.iterdir() if (p / "rgb").is_dir())
    if not buildings:
        raise FileNotFoundError(
            f"No building folder with an rgb/ folder under '{root}'."
        )
    examples = []
    for building in buildings:
        views = _views(root, building, "image")
        for task in tasks:
            other = _views(root, building, task)
            if other != views:
                odd = sorted(views ^ other)[:3]
                named = [
                    _file(root, (building, v), task if v in views else "image")
                    for v in odd
                ]
                raise FileNotFoundError(
                    f"Taskonomy files of '{building}' do not pair by "
                    f"(point, view) between rgb and '{task}': missing "
                    f"{named}."
                )
        examples += [(building, v) for v in sorted(views)]
    return examples


def build_taskonomy(
    root,
    shifted_buildings=None,
    tasks=DENSE_TASK_NAMES,
    num_classes=17,
    pipeline=None,
    eval_fraction=0.1,
    seed=0,
):
    """Builds Taskonomy with a distribution shift by building.

    Reads `ROOT/{building}/rgb/point_{i}_view_{j}_domain_rgb.png` and, per
    task, the same (point, view) in `segment_semantic/` (class ids),
    `depth_zbuffer/` (uint16, metres = value / 512, 65535 missing) and
    `normal/` (RGB, vector = value / 255 * 2 - 1; vectors shorter than 0.5,
    i.e. mid-gray, are missing). Files must pair by (point, view) across
    the requested domains.

    Segmentation convention (ours): pixel value 0 is unlabeled (-1), value
    `v` in `1..num_classes` is class `v - 1`, larger values are ignored
    (-1). Match `num_classes` to your release.

    Elements: `features["image"]` float32 `(H, W, 3)` in `[0, 1]` and
    `features["env"]` int32, the building's index in sorted order.

    Args:
        root: str or path-like. Folder of building folders.
        shifted_buildings: sequence of str. Buildings of the shifted
            splits. Defaults to `None`: the last quarter in sorted order.
        tasks: sequence of str. Among `"segmentation"`, `"depth"`,
            `"normal"`. Defaults to all three.
        num_classes: int. Segmentation classes. Defaults to `17`.
        pipeline: `DensePipeline`. Resize/augment/normalize. Defaults to
            `None`.
        eval_fraction: float. Share of in-distribution views in each of
            `validation` and `test`. Defaults to `0.1`.
        seed: int. Seed of the split. Defaults to `0`.

    Returns:
        A `MultiTaskData`.

    Example:

    >>> import tempfile
    >>> from keras_mtcrl.testing import dense_fixtures
    >>> root = dense_fixtures.write_taskonomy(tempfile.mkdtemp())
    >>> data = build_taskonomy(root, shifted_buildings=["coffeen"])
    >>> data.sizes["validation_shifted"], data.num_environments
    (2, 3)
    """
    root = pathlib.Path(root)
    tasks = tuple(tasks)
    specs = dense_task_specs(tasks, num_classes)
    examples = _list_views(root, tasks)
    split = split_by_environment(
        [b for b, _ in examples], shifted_buildings, eval_fraction, seed
    )
    datasets = {}
    for name, indices in split.indices.items():
        paths = {
            key: [_file(root, examples[i], key) for i in indices]
            for key in ("image",) + tasks
        }
        dataset = path_dataset(paths, split.ids[indices]).map(
            lambda p, env: _decode(p, env, num_classes),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
        datasets[name] = (dataset, len(indices))
    return assemble_dense_data(
        datasets, specs, len(split.vocabulary), pipeline, _describe(split)
    )


def _describe(split):
    return (
        "Taskonomy (Zamir et al., CVPR 2018); shift by building: shifted "
        f"{split.shifted}; env = building. The files are the user's own "
        "copy under the Taskonomy licence; nothing is redistributed."
    )


def _decode(paths, env, num_classes):
    """Decodes one view's PNG files into `(features, labels)`."""
    contents = {key: tf.io.read_file(path) for key, path in paths.items()}
    return _decode_contents(contents, env, num_classes, paths[IMAGE_KEY])


def _decode_contents(contents, env, num_classes, name):
    """Decodes one view's PNG bytes (a dict like `paths`).

    Shared with the TFDS builder `keras_mtcrl_taskonomy`, which stores the
    files' bytes unchanged.
    """

    def read(key, channels, dtype=tf.uint8):
        return tf.io.decode_png(contents[key], channels, dtype=dtype)

    features = {
        IMAGE_KEY: tf.image.convert_image_dtype(read("image", 3), tf.float32),
        "env": env,
    }
    labels = {}
    if "segmentation" in contents:
        value = tf.cast(read("segmentation", 0)[..., 0], tf.int32)
        valid = (value >= 1) & (value <= num_classes)
        labels["segmentation"] = tf.where(valid, value - 1, IGNORE_LABEL)
    if "depth" in contents:
        raw = read("depth", 1, tf.uint16)
        depth = tf.cast(raw, tf.float32) / _DEPTH_SCALE
        labels["depth"] = missing_depth_to_nan(
            tf.where(raw == _DEPTH_MISSING, 0.0, depth)
        )
    if "normal" in contents:
        value = tf.cast(read("normal", 3), tf.float32)
        labels["normal"] = unit_normals(value / 255.0 * 2.0 - 1.0)
    return assert_same_size(features, labels, name)
