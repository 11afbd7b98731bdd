"""Shared plumbing of the dense-prediction loaders (NYUv2, CityScapes, ...).

Every dense loader yields unbatched `(features, labels)` with
`features["image"]` float32 `(H, W, 3)` in `[0, 1]` (plus the int32
environment id under `"env"` when the data defines one) and labels among:

- `"segmentation"`: int32 `(H, W)`, class ids, `IGNORE_LABEL` (-1) for
  unlabeled pixels;
- `"depth"`: float32 `(H, W, 1)`, NaN where depth is missing;
- `"normal"`: float32 `(H, W, 3)` unit vectors in camera coordinates (x
  right in the image, y up, z towards the camera), NaN where missing.

This module holds what the loaders share: the task specs, the
environment-based split and `DensePipeline` (resize, crop, flip,
normalize).
"""

import dataclasses

import numpy as np
import tensorflow as tf

from keras_mtcrl.datasets.multi_task_data import SPLIT_NAMES
from keras_mtcrl.datasets.multi_task_data import MultiTaskData
from keras_mtcrl.datasets.multi_task_data import TaskSpec

IMAGE_KEY = "image"
IGNORE_LABEL = -1
DENSE_TASK_NAMES = ("segmentation", "depth", "normal")
# Flipping an image left-right mirrors the x component of its normals.
# (Plain numbers: an eager constant at import would initialise TensorFlow's
# context before a user can configure a multi-worker strategy.)
_FLIP_SIGN = {"normal": (-1.0, 1.0, 1.0)}


def dense_task_specs(tasks, num_classes, available=DENSE_TASK_NAMES):
    """Returns the `TaskSpec`s of the requested dense tasks.

    Args:
        tasks: sequence of str. Requested task names, a subset of
            `available`.
        num_classes: int. Number of segmentation classes.
        available: sequence of str. Tasks the dataset provides.
            Defaults to `DENSE_TASK_NAMES`.

    Returns:
        A tuple of `TaskSpec`, in the requested order.

    Example:

    >>> [spec.units for spec in dense_task_specs(("depth", "normal"), 13)]
    [1, 3]
    """
    tasks = tuple(tasks)
    unknown = [t for t in tasks if t not in available]
    if not tasks or unknown or len(set(tasks)) != len(tasks):
        raise ValueError(
            f"`tasks` must be distinct names among {tuple(available)}. "
            f"Received: tasks={tasks}"
        )
    specs = {
        "segmentation": TaskSpec(
            "segmentation", "multiclass", num_classes, dense=True
        ),
        "depth": TaskSpec("depth", "regression", 1, dense=True),
        "normal": TaskSpec("normal", "regression", 3, dense=True),
    }
    return tuple(specs[t] for t in tasks)


@dataclasses.dataclass(frozen=True)
class EnvironmentSplit:
    """Examples assigned to splits by their environment.

    Args:
        indices: dict. Split name to sorted int64 example indices.
        ids: np.ndarray. Per-example int32 environment id (position of
            its name in `vocabulary`).
        vocabulary: tuple of str. Sorted environment names.
        shifted: tuple of str. Environment names of the shifted splits.
    """

    indices: dict
    ids: np.ndarray
    vocabulary: tuple
    shifted: tuple


def split_by_environment(environments, shifted=None, eval_fraction=0.1, seed=0):
    """Assigns each example to one of `SPLIT_NAMES` by its environment.

    Examples of in-distribution environments are shuffled (with `seed`)
    into `validation` and `test` (`eval_fraction` of them each, rounded)
    and `train` (the rest); examples of shifted environments are split in
    halves into `validation_shifted` and `test_shifted`.

    Args:
        environments: sequence of str. Environment name of each example
            (scene type, city, building).
        shifted: sequence of str. Environment names held out as the
            shifted distribution. Defaults to `None`: the last quarter
            (at least one) of the sorted names.
        eval_fraction: float. Share of in-distribution examples in each of
            `validation` and `test`, in `[0, 0.5)`. Defaults to `0.1`.
        seed: int. Shuffling seed. Defaults to `0`.

    Returns:
        An `EnvironmentSplit`.

    Example:

    >>> s = split_by_environment(["a", "a", "b", "c", "c"], shifted=["c"],
    ...                          eval_fraction=0.0)
    >>> s.indices["train"].tolist(), len(s.indices["test_shifted"])
    ([0, 1, 2], 1)
    >>> s.ids.tolist(), s.vocabulary
    ([0, 0, 1, 2, 2], ('a', 'b', 'c'))
    """
    names = np.asarray([str(e) for e in environments])
    vocabulary = tuple(sorted(set(names.tolist())))
    if len(vocabulary) < 2:
        raise ValueError(
            "A shift split needs at least two environments. Found: "
            f"{vocabulary}"
        )
    if shifted is None:
        shifted = vocabulary[-max(1, len(vocabulary) // 4) :]
    shifted = tuple(str(s) for s in shifted)
    unknown = sorted(set(shifted) - set(vocabulary))
    if unknown or not shifted or set(shifted) == set(vocabulary):
        raise ValueError(
            "`shifted` must name some, not all, of the environments "
            f"{vocabulary}. Received: shifted={shifted} (unknown: {unknown})"
        )
    if not 0.0 <= eval_fraction < 0.5:
        raise ValueError(
            "`eval_fraction` must be in [0, 0.5). Received: "
            f"eval_fraction={eval_fraction}"
        )
    rng = np.random.default_rng(seed)
    is_shifted = np.isin(names, shifted)
    inside = rng.permutation(np.flatnonzero(~is_shifted))
    outside = rng.permutation(np.flatnonzero(is_shifted))
    n_eval = int(round(eval_fraction * len(inside)))
    half = (len(outside) + 1) // 2
    parts = (
        inside[2 * n_eval :],
        inside[:n_eval],
        inside[n_eval : 2 * n_eval],
        outside[:half],
        outside[half:],
    )
    indices = {name: np.sort(p) for name, p in zip(SPLIT_NAMES, parts)}
    ids = np.searchsorted(vocabulary, names).astype("int32")
    return EnvironmentSplit(indices, ids, vocabulary, shifted)


def path_dataset(paths, env_ids=None):
    """A dataset of per-example file paths (and environment ids).

    Args:
        paths: dict. Key to a list of file paths, one per example (may be
            empty).
        env_ids: array of int. Environment id per example. Defaults to
            `None` (elements are `(paths,)`).

    Returns:
        A `tf.data.Dataset` of `(paths, env)` or `(paths,)`.

    Example:

    >>> ds = path_dataset({"image": []}, env_ids=np.zeros(0, "int32"))
    >>> ds.element_spec[0]["image"].dtype, len(ds)
    (tf.string, 0)
    """
    paths = {
        key: tf.constant(list(value), tf.string) for key, value in paths.items()
    }
    if env_ids is None:
        return tf.data.Dataset.from_tensor_slices((paths,))
    return tf.data.Dataset.from_tensor_slices(
        (paths, tf.constant(env_ids, tf.int32))
    )


def assemble_dense_data(
    datasets, tasks, num_environments, pipeline=None, description=""
):
    """Wraps per-split datasets into `MultiTaskData`, applying `pipeline`.

    Args:
        datasets: dict. Split name to `(dataset, size)`.
        tasks: tuple of `TaskSpec`.
        num_environments: int. Number of environment ids (0: none).
        pipeline: `DensePipeline`. Applied to every split, with
            augmentation on `"train"` only. Defaults to `None` (none).
        description: str. See `MultiTaskData`. Defaults to `""`.

    Returns:
        A `MultiTaskData`.

    Example:

    >>> ds = tf.data.Dataset.from_tensor_slices((
    ...     {"image": tf.zeros((2, 4, 4, 3))},
    ...     {"depth": tf.ones((2, 4, 4, 1))}))
    >>> data = assemble_dense_data({"train": (ds, 2)},
    ...     dense_task_specs(["depth"], 1), 0, DensePipeline(image_size=(2, 2)))
    >>> data.split("train").element_spec[0]["image"].shape
    TensorShape([2, 2, 3])
    """
    splits, sizes = {}, {}
    for name, (dataset, size) in datasets.items():
        if pipeline is not None:
            dataset = pipeline(dataset, training=name == "train")
        splits[name], sizes[name] = dataset, int(size)
    return MultiTaskData(
        splits,
        tuple(tasks),
        num_environments,
        description=description,
        sizes=sizes,
    )


def missing_depth_to_nan(depth):
    """Marks non-positive and non-finite depth as missing (NaN).

    Args:
        depth: float tensor. Depth values, any shape.

    Returns:
        float32 depth with NaN where missing.

    Example:

    >>> missing_depth_to_nan(tf.constant([0.0, 2.5])).numpy().tolist()
    [nan, 2.5]
    """
    depth = tf.cast(depth, tf.float32)
    valid = tf.math.is_finite(depth) & (depth > 0)
    return tf.where(valid, depth, np.nan)


def unit_normals(vectors):
    """Scales normal vectors to unit length, NaN where missing.

    A vector shorter than 0.5 (the zero vectors or mid-gray pixels that
    the datasets use for "no normal") is missing.

    Args:
        vectors: float tensor `(..., 3)`.

    Returns:
        float32 unit vectors, NaN where missing.

    Example:

    >>> unit_normals(tf.constant([[0.0, 0.0, 2.0], [0.0, 0.0, 0.0]])).numpy()
    array([[ 0.,  0.,  1.],
           [nan, nan, nan]], dtype=float32)
    """
    vectors = tf.cast(vectors, tf.float32)
    norm = tf.norm(vectors, axis=-1, keepdims=True)
    return tf.where(norm >= 0.5, vectors / tf.maximum(norm, 0.5), np.nan)


def assert_same_size(features, labels, source):
    """Checks that every dense label has the image's height and width.

    Args:
        features: dict. Holds the `"image"`.
        labels: dict. Dense labels to check.
        source: str tensor. The example's file, named in the error.

    Returns:
        `features, labels`, after the check (raises
        `tf.errors.InvalidArgumentError` naming `source` when it fails).

    Example:

    >>> f, l = assert_same_size({"image": tf.zeros((2, 3, 3))},
    ...     {"depth": tf.zeros((2, 3, 1))}, tf.constant("0.npy"))
    >>> l["depth"].shape
    TensorShape([2, 3, 1])
    """
    size = tf.shape(features[IMAGE_KEY])[:2]
    checks = []
    for key in _dense_maps(labels):
        label_size = tf.shape(labels[key])[:2]
        checks.append(
            tf.debugging.Assert(
                tf.reduce_all(tf.equal(label_size, size)),
                [
                    f"The '{key}' label and the image differ in size in",
                    source,
                    "image (height, width):",
                    size,
                    "label:",
                    label_size,
                ],
            )
        )
    with tf.control_dependencies(checks):
        features = {k: tf.identity(v) for k, v in features.items()}
    return features, labels


def _dense_maps(labels):
    return [k for k, v in labels.items() if len(v.shape) >= 2]


def resize_example(features, labels, size):
    """Resizes the image (bilinear) and dense labels (nearest) to `size`.

    Nearest-neighbour resizing keeps class ids and NaN (missing) values
    intact. Values are not rescaled (depth stays in its units).

    Args:
        features: dict. Holds the `"image"` `(H, W, 3)`.
        labels: dict. Dense labels `(H, W)` or `(H, W, C)` are resized;
            others pass through.
        size: tuple of int. `(height, width)`.

    Returns:
        The resized `(features, labels)`.

    Example:

    >>> f, l = resize_example({"image": tf.zeros((4, 6, 3))},
    ...     {"segmentation": tf.zeros((4, 6), "int32")}, (2, 3))
    >>> f["image"].shape, l["segmentation"].dtype
    (TensorShape([2, 3, 3]), tf.int32)
    """
    features = dict(features)
    features[IMAGE_KEY] = tf.image.resize(
        features[IMAGE_KEY], size, method="bilinear", antialias=True
    )
    labels = dict(labels)
    for key in _dense_maps(labels):
        value = labels[key]
        flat = len(value.shape) == 2
        value = value[..., None] if flat else value
        value = tf.image.resize(value, size, method="nearest")
        labels[key] = value[..., 0] if flat else value
    return features, labels


def crop_example(features, labels, offset, size):
    """Crops the image and every dense label at the same window.

    Args:
        features: dict. Holds the `"image"`.
        labels: dict. Dense labels are cropped; others pass through.
        offset: pair of int scalars. Top-left corner `(top, left)`.
        size: tuple of int. `(height, width)` of the window.

    Returns:
        The cropped `(features, labels)`.

    Example:

    >>> image = tf.reshape(tf.range(16.0), (4, 4, 1))
    >>> f, _ = crop_example({"image": image}, {}, (1, 2), (2, 2))
    >>> f["image"][..., 0].numpy().tolist()
    [[6.0, 7.0], [10.0, 11.0]]
    """

    def crop(value):
        out = value[
            offset[0] : offset[0] + size[0], offset[1] : offset[1] + size[1]
        ]
        out.set_shape(tuple(size) + tuple(value.shape[2:]))
        return out

    features = dict(features, **{IMAGE_KEY: crop(features[IMAGE_KEY])})
    labels = dict(labels)
    for key in _dense_maps(labels):
        labels[key] = crop(labels[key])
    return features, labels


def flip_example(features, labels):
    """Mirrors the image and dense labels left-right.

    The x component of `"normal"` labels is negated, so normals stay
    correct for the mirrored scene.

    Args:
        features: dict. Holds the `"image"`.
        labels: dict. Dense labels are mirrored; others pass through.

    Returns:
        The mirrored `(features, labels)`.

    Example:

    >>> normal = tf.constant([[[0.5, 0.5, 0.5], [0.25, 0.5, 0.75]]])
    >>> _, l = flip_example({"image": tf.zeros((1, 2, 3))}, {"normal": normal})
    >>> l["normal"].numpy().tolist()
    [[[-0.25, 0.5, 0.75], [-0.5, 0.5, 0.5]]]
    """
    features = dict(features)
    features[IMAGE_KEY] = tf.reverse(features[IMAGE_KEY], axis=[1])
    labels = dict(labels)
    for key in _dense_maps(labels):
        value = tf.reverse(labels[key], axis=[1])
        if key in _FLIP_SIGN:
            value = value * tf.constant(_FLIP_SIGN[key], value.dtype)
        labels[key] = value
    return features, labels


def _check_size(name, value):
    if value is None:
        return None
    value = tuple(int(v) for v in value)
    if len(value) != 2 or min(value) < 1:
        raise ValueError(
            f"`{name}` must be a pair of positive ints (height, width). "
            f"Received: {name}={value}"
        )
    return value


@dataclasses.dataclass(frozen=True)
class DensePipeline:
    """Resize, augment and normalize image + dense-label examples.

    In order: resize to `image_size` (bilinear image, nearest labels);
    when training, a random `crop_size` window and a random left-right
    flip (normals' x negated), drawn from `seed` and different each epoch;
    when not training, the centre `crop_size` window; finally
    `(image - mean) / std`. Each step is skipped when its argument is
    `None`/`False`.

    Args:
        image_size: tuple of int. `(height, width)` to resize to.
            Defaults to `None`.
        crop_size: tuple of int. `(height, width)` of the crop window.
            Defaults to `None`.
        flip: bool. Random left-right flips when training. Defaults to
            `False`.
        mean: float or tuple of 3 floats. Subtracted from the image.
            Defaults to `None`.
        std: float or tuple of 3 floats. Divides the image. Defaults to
            `None`.
        seed: int. Seed of the augmentation stream. Defaults to `0`.

    Call arguments:
        dataset: `tf.data.Dataset` of unbatched `(features, labels)`.
        training: bool. Whether to augment. Defaults to `False`.

    Returns:
        The transformed dataset.

    Example:

    >>> ds = tf.data.Dataset.from_tensors(({"image": tf.ones((8, 8, 3))},
    ...     {"segmentation": tf.zeros((8, 8), "int32")}))
    >>> pipe = DensePipeline(image_size=(6, 6), crop_size=(4, 4), flip=True,
    ...                      mean=0.5, std=0.5)
    >>> f, l = next(iter(pipe(ds, training=True)))
    >>> f["image"].shape, l["segmentation"].shape, float(f["image"][0, 0, 0])
    (TensorShape([4, 4, 3]), TensorShape([4, 4]), 1.0)
    """

    image_size: tuple = None
    crop_size: tuple = None
    flip: bool = False
    mean: object = None
    std: object = None
    seed: int = 0

    def __post_init__(self):
        image_size = _check_size("image_size", self.image_size)
        crop_size = _check_size("crop_size", self.crop_size)
        if (
            image_size
            and crop_size
            and (crop_size[0] > image_size[0] or crop_size[1] > image_size[1])
        ):
            raise ValueError(
                "`crop_size` must fit inside `image_size`. Received: "
                f"crop_size={crop_size}, image_size={image_size}"
            )
        if self.std is not None and np.any(np.asarray(self.std) <= 0):
            raise ValueError(f"`std` must be positive. Received: {self.std}")
        object.__setattr__(self, "image_size", image_size)
        object.__setattr__(self, "crop_size", crop_size)

    def __call__(self, dataset, training=False):
        autotune = tf.data.AUTOTUNE
        if self.image_size:
            dataset = dataset.map(
                lambda f, lab: resize_example(f, lab, self.image_size),
                num_parallel_calls=autotune,
            )
        if training and (self.crop_size or self.flip):
            seeds = tf.data.Dataset.random(
                seed=self.seed, rerandomize_each_iteration=True
            ).batch(2)
            dataset = tf.data.Dataset.zip((dataset, seeds)).map(
                lambda example, seed: self._augment(*example, seed),
                num_parallel_calls=autotune,
            )
        elif self.crop_size:
            dataset = dataset.map(
                self._center_crop, num_parallel_calls=autotune
            )
        if self.mean is not None or self.std is not None:
            dataset = dataset.map(self._normalize, num_parallel_calls=autotune)
        return dataset

    def _augment(self, features, labels, seed):
        if self.crop_size:
            room = self._room(features) + 1
            offset = (
                tf.random.stateless_uniform(
                    (2,), seed, minval=0, maxval=2**30, dtype=tf.int32
                )
                % room
            )
            features, labels = crop_example(
                features, labels, offset, self.crop_size
            )
        if self.flip:
            coin = tf.random.stateless_uniform((), seed[::-1]) < 0.5
            features, labels = tf.cond(
                coin,
                lambda: flip_example(features, labels),
                lambda: (features, labels),
            )
        return features, labels

    def _center_crop(self, features, labels):
        offset = self._room(features) // 2
        return crop_example(features, labels, offset, self.crop_size)

    def _room(self, features):
        """Image size minus crop size, checked to be non-negative."""
        message = (
            f"Images must be at least crop_size={self.crop_size} "
            "(height, width); pass a larger `image_size`."
        )
        static = features[IMAGE_KEY].shape[:2]
        if any(d is not None and d < c for d, c in zip(static, self.crop_size)):
            raise ValueError(f"{message} Received images of {static}.")
        room = tf.shape(features[IMAGE_KEY])[:2] - self.crop_size
        tf.debugging.assert_non_negative(room, message=message)
        return room

    def _normalize(self, features, labels):
        mean = 0.0 if self.mean is None else self.mean
        std = 1.0 if self.std is None else self.std
        image = (features[IMAGE_KEY] - tf.constant(mean, tf.float32)) / (
            tf.constant(std, tf.float32)
        )
        return dict(features, **{IMAGE_KEY: image}), labels
