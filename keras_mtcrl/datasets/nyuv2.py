"""NYUv2 (indoor scenes): segmentation, depth and surface normals."""

import csv
import functools
import pathlib
import warnings

import h5py
import numpy as np
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

#: Classes of the preprocessed `.npy` layout (labels -1..12).
NYUV2_NPY_CLASSES = 13
#: Raw classes of `nyu_depth_v2_labeled.mat` (labels 1..894, 0 unlabeled).
NYUV2_RAW_CLASSES = 894
_NPY_FOLDERS = {
    "image": "image",
    "segmentation": "label",
    "depth": "depth",
    "normal": "normal",
}
_MAT_KEYS = ("images", "depths", "labels", "sceneTypes")
_DESCRIPTION = (
    "NYU Depth v2 (Silberman et al., ECCV 2012): indoor RGB-D frames from "
    "{source}. {shift} The files are the user's own copy; nothing is "
    "redistributed."
)


def build_nyuv2(
    path,
    tasks=DENSE_TASK_NAMES,
    shifted_scenes=None,
    class_mapping=None,
    pipeline=None,
    eval_fraction=0.1,
    seed=0,
):
    """Builds NYUv2 from the preprocessed `.npy` layout or the labeled `.mat`.

    Two sources are read:

    - a folder in the common preprocessed multi-task layout,
      `ROOT/{train,val}/{image,label,depth,normal}/N.npy` (288x384 image
      in `[0, 1]` (uint8 is divided by 255), label `-1..12` with -1
      unlabeled: `NYUV2_NPY_CLASSES` classes, depth with 0 missing,
      normals with zero vectors missing). It has no scene types: put a
      `scenes.csv` (columns `index,scene`) in `train/` and `val/` to split
      by scene type. Without them a warning is issued, the shift is the
      official train/val partition (`val` becomes the shifted splits) and
      the data carries no environment id (`num_environments=0`).
    - the official `nyu_depth_v2_labeled.mat` (MATLAB v7.3, read with
      h5py): segmentation and depth, environments are the `sceneTypes`.
      Labels are the raw `NYUV2_RAW_CLASSES` classes shifted to `0..893`
      (0 unlabeled becomes -1), or, with `class_mapping`, mapped classes.

    Elements: `features["image"]` float32 `(H, W, 3)` in `[0, 1]` and
    `features["env"]` int32 (the scene type's index in sorted order);
    labels as in `keras_mtcrl.datasets.dense_pipeline`.

    Args:
        path: str or path-like. The preprocessed root folder or the `.mat`
            file.
        tasks: sequence of str. Tasks among `"segmentation"`, `"depth"`,
            `"normal"` (not in the `.mat`). Defaults to all three.
        shifted_scenes: sequence of str. Scene types of the shifted
            splits. Defaults to `None`: the last quarter in sorted order.
        class_mapping: array of int. Only for the `.mat`: entry `r` is
            the class (1..C, 0 = unlabeled) of raw label `r` for
            `r = 0..894` (or `r = 1..894` when it has 894 entries), e.g.
            a 40-class mapping you supply. Defaults to `None` (raw).
        pipeline: `DensePipeline`. Resize/augment/normalize. Defaults to
            `None`.
        eval_fraction: float. Share of in-distribution examples in each of
            `validation` and `test`. Defaults to `0.1`.
        seed: int. Seed of the split. Defaults to `0`.

    Returns:
        A `MultiTaskData`.

    Example:

    >>> import tempfile
    >>> from keras_mtcrl.testing import dense_fixtures
    >>> root = dense_fixtures.write_nyuv2_npy(tempfile.mkdtemp())
    >>> data = build_nyuv2(root, shifted_scenes=["office"])
    >>> data.sizes["test_shifted"], data.tasks[0].units
    (1, 13)
    """
    path = pathlib.Path(path)
    if path.is_file():
        return _build_from_mat(
            path,
            tuple(tasks),
            shifted_scenes,
            class_mapping,
            pipeline,
            eval_fraction,
            seed,
        )
    if not path.is_dir():
        raise FileNotFoundError(
            f"NYUv2 not found at '{path}'. Pass the folder holding train/ "
            "and val/ (preprocessed .npy layout) or the path of "
            "nyu_depth_v2_labeled.mat."
        )
    if class_mapping is not None:
        raise ValueError(
            "`class_mapping` applies to the .mat file only; "
            f"'{path}' is a folder."
        )
    return _build_from_npy(
        path, tuple(tasks), shifted_scenes, pipeline, eval_fraction, seed
    )


# ---- the preprocessed .npy layout ----------------------------------------


def _list_stems(root, folder, tasks):
    """Example names (N of N.npy) of one folder, checked across kinds."""
    stems = None
    for kind in ("image",) + tasks:
        directory = root / folder / _NPY_FOLDERS[kind]
        if not directory.is_dir():
            raise FileNotFoundError(
                f"Missing folder '{directory}' (NYUv2 .npy layout: "
                "ROOT/{train,val}/{image,label,depth,normal}/N.npy)."
            )
        found = {p.stem for p in directory.glob("*.npy")}
        if stems is None:
            stems = found
        elif found != stems:
            odd = sorted(stems ^ found)[:3]
            raise FileNotFoundError(
                f"'{directory}' and '{root / folder / 'image'}' hold "
                f"different examples; e.g. only one has {odd} (.npy)."
            )
    if not stems:
        raise FileNotFoundError(f"No .npy files in '{root / folder}'.")
    return sorted(stems, key=lambda s: (len(s), s))


def _read_scenes(root, folder, stems):
    """Scene per example from `folder/scenes.csv`, or None if absent."""
    csv_path = root / folder / "scenes.csv"
    if not csv_path.is_file():
        return None
    with open(csv_path, newline="") as f:
        scenes = {row["index"]: row["scene"] for row in csv.DictReader(f)}
    missing = [s for s in stems if s not in scenes]
    if missing:
        raise ValueError(
            f"'{csv_path}' has no scene for indices {missing[:3]}; it "
            "needs one row `index,scene` per example."
        )
    return [scenes[s] for s in stems]


def _npy_path(root, record, key):
    folder, stem = record
    return str(root / folder / _NPY_FOLDERS[key] / f"{stem}.npy")


def _read_npy(path):
    array = np.load(path.decode())
    if array.dtype == np.uint8:
        array = array / 255.0
    return array.astype(np.float32)


def _load_npy(paths, env=None):
    def load(key):
        value = tf.numpy_function(_read_npy, [paths[key]], tf.float32)
        height, width = tf.shape(value)[0], tf.shape(value)[1]
        if key == "image":
            return tf.ensure_shape(value, (None, None, 3))
        if key == "segmentation":
            label = tf.reshape(value, (height, width))
            label = tf.cast(tf.round(label), tf.int32)
            valid = (label >= 0) & (label < NYUV2_NPY_CLASSES)
            return tf.where(valid, label, IGNORE_LABEL)
        if key == "depth":
            return missing_depth_to_nan(tf.reshape(value, (height, width, 1)))
        return unit_normals(tf.ensure_shape(value, (None, None, 3)))

    features = {IMAGE_KEY: load(IMAGE_KEY)}
    if env is not None:
        features["env"] = env
    labels = {key: load(key) for key in paths if key != IMAGE_KEY}
    return assert_same_size(features, labels, paths[IMAGE_KEY])


def _build_from_npy(root, tasks, shifted, pipeline, eval_fraction, seed):
    specs = dense_task_specs(tasks, NYUV2_NPY_CLASSES)
    records, scenes = [], []
    for folder in ("train", "val"):
        stems = _list_stems(root, folder, tasks)
        records += [(folder, stem) for stem in stems]
        scenes.append(_read_scenes(root, folder, stems))
    with_scenes = all(s is not None for s in scenes)
    if with_scenes:
        environments = scenes[0] + scenes[1]
    else:
        if shifted is not None:
            raise ValueError(
                "`shifted_scenes` needs train/scenes.csv and val/scenes.csv "
                f"(columns index,scene) under '{root}'."
            )
        warnings.warn(
            f"No scenes.csv in '{root / 'train'}' or '{root / 'val'}': "
            "the shifted splits are the official val folder and the data "
            "has no environment ids.",
            stacklevel=3,
        )
        environments, shifted = [folder for folder, _ in records], ["val"]
    split = split_by_environment(environments, shifted, eval_fraction, seed)
    datasets = {}
    for name, indices in split.indices.items():
        paths = {
            key: [_npy_path(root, records[i], key) for i in indices]
            for key in ("image",) + tasks
        }
        ids = split.ids[indices] if with_scenes else None
        dataset = path_dataset(paths, ids).map(
            _load_npy, num_parallel_calls=tf.data.AUTOTUNE
        )
        datasets[name] = (dataset, len(indices))
    shift = (
        f"Shift by scene type: shifted scenes {split.shifted}; env = "
        "scene type."
        if with_scenes
        else "Shift: the official val folder; no environment ids."
    )
    return assemble_dense_data(
        datasets,
        specs,
        len(split.vocabulary) if with_scenes else 0,
        pipeline,
        _DESCRIPTION.format(source="the preprocessed .npy layout", shift=shift),
    )


# ---- the labeled .mat file ------------------------------------------------


def _class_table(class_mapping):
    """Lookup from raw label (0..894) to class id (-1 = unlabeled)."""
    if class_mapping is None:
        return np.arange(NYUV2_RAW_CLASSES + 1) - 1, NYUV2_RAW_CLASSES
    mapping = np.asarray(class_mapping).astype("int64").ravel()
    if len(mapping) == NYUV2_RAW_CLASSES:
        mapping = np.concatenate([[0], mapping])
    if len(mapping) != NYUV2_RAW_CLASSES + 1 or mapping.min() < 0:
        raise ValueError(
            "`class_mapping` must hold 895 (or 894) non-negative class ids, "
            "one per raw label. Received: "
            f"{len(mapping)} entries, min {mapping.min()}."
        )
    return mapping - 1, int(mapping.max())


def _mat_strings(file, key):
    return [
        "".join(map(chr, file[ref][()].ravel()))
        for ref in file[key][()].ravel()
    ]


def _mat_examples(path, indices, env_ids, tasks, table):
    with h5py.File(path, "r") as f:
        for i in indices:
            image = f["images"][i].transpose(2, 1, 0).astype("float32")
            features = {IMAGE_KEY: image / 255.0, "env": env_ids[i]}
            labels = {}
            if "segmentation" in tasks:
                raw = f["labels"][i].T.astype("int64")
                labels["segmentation"] = np.where(
                    raw < len(table),
                    table[np.minimum(raw, len(table) - 1)],
                    IGNORE_LABEL,
                ).astype("int32")
            if "depth" in tasks:
                depth = f["depths"][i].T[..., None].astype("float32")
                labels["depth"] = np.where(depth > 0, depth, np.nan)
            yield features, labels


def _build_from_mat(
    path, tasks, shifted, class_mapping, pipeline, eval_fraction, seed
):
    if "normal" in tasks:
        raise ValueError(
            f"'{path}' has no surface normals: use tasks among "
            "('segmentation', 'depth'), or the preprocessed .npy layout."
        )
    table, num_classes = _class_table(class_mapping)
    specs = dense_task_specs(tasks, num_classes)
    try:
        with h5py.File(path, "r") as f:
            missing = [key for key in _MAT_KEYS if key not in f]
            scenes = [] if missing else _mat_strings(f, "sceneTypes")
            shape = f["images"].shape if not missing else None
    except OSError as error:
        raise ValueError(
            f"Cannot read '{path}' as MATLAB v7.3 (HDF5); expected "
            "nyu_depth_v2_labeled.mat."
        ) from error
    if missing:
        raise ValueError(
            f"'{path}' lacks {missing}; expected the datasets "
            f"{_MAT_KEYS} of nyu_depth_v2_labeled.mat."
        )
    if len(scenes) != shape[0]:
        raise ValueError(
            f"'{path}' has {shape[0]} images but {len(scenes)} sceneTypes."
        )
    split = split_by_environment(scenes, shifted, eval_fraction, seed)
    height, width = shape[3], shape[2]
    label_specs = {
        "segmentation": tf.TensorSpec((height, width), tf.int32),
        "depth": tf.TensorSpec((height, width, 1), tf.float32),
    }
    signature = (
        {
            IMAGE_KEY: tf.TensorSpec((height, width, 3), tf.float32),
            "env": tf.TensorSpec((), tf.int32),
        },
        {task: label_specs[task] for task in tasks},
    )
    datasets = {
        name: (
            tf.data.Dataset.from_generator(
                functools.partial(
                    _mat_examples, str(path), indices, split.ids, tasks, table
                ),
                output_signature=signature,
            ),
            len(indices),
        )
        for name, indices in split.indices.items()
    }
    return assemble_dense_data(
        datasets,
        specs,
        len(split.vocabulary),
        pipeline,
        _DESCRIPTION.format(
            source="the official labeled .mat",
            shift=f"Shift by scene type: shifted {split.shifted}; "
            "env = scene type.",
        ),
    )
