"""A multi-task view over TFDS' own `cityscapes` builder.

TFDS ships a CityScapes builder that prepares offline from the zips the
user downloads (`manual_dir`); this module only adds keras_mtcrl's view
on top: the city as environment, the shift by city and the label-id
mapping of `build_cityscapes`.

Only segmentation is read through TFDS. TFDS stores CityScapes'
disparity maps as 8-bit images (`tfds.features.Image` with the default
uint8 dtype), which drops the low byte of the 16-bit disparity PNGs;
`build_cityscapes` reads the files themselves for the `depth` task.
"""

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from keras_mtcrl.datasets.cityscapes import cityscapes_label_table
from keras_mtcrl.datasets.dense_pipeline import IMAGE_KEY
from keras_mtcrl.datasets.dense_pipeline import assemble_dense_data
from keras_mtcrl.datasets.dense_pipeline import dense_task_specs
from keras_mtcrl.datasets.dense_pipeline import split_by_environment
from keras_mtcrl.datasets.multi_task_data import SPLIT_NAMES
from keras_mtcrl.datasets.tfds_builders.base import default_data_dir
from keras_mtcrl.datasets.tfds_builders.base import offline_download_config

#: TFDS' builder and config read by `load_cityscapes_tfds`.
TFDS_NAME = "cityscapes/semantic_segmentation"
#: The zips TFDS' config expects in `manual_dir`.
MANUAL_FILES = ("leftImg8bit_trainvaltest.zip", "gtFine_trainvaltest.zip")
# CityScapes' labelled splits, in `build_cityscapes`' order.
_SOURCE_SPLITS = ("train", "validation")
_SKIP_IMAGES = {
    "image_left": tfds.decode.SkipDecoding(),
    "segmentation_label": tfds.decode.SkipDecoding(),
}


def load_cityscapes_tfds(
    data_dir=None,
    manual_dir=None,
    shifted_cities=None,
    label_set="classes",
    pipeline=None,
    eval_fraction=0.1,
    seed=0,
):
    """CityScapes segmentation through TFDS, split by city.

    Prepares TFDS' `cityscapes/semantic_segmentation` once (from
    `leftImg8bit_trainvaltest.zip` and `gtFine_trainvaltest.zip` in
    `manual_dir`, registration needed at cityscapes-dataset.com), then
    gives `build_cityscapes(tasks=("segmentation",))`'s splits: the
    frames of CityScapes' `train` and `val` folders, assigned to splits
    by city with the same seed, so each split holds the same frames with
    the same arrays. Within a split the frames come in TFDS' stored order,
    not in file-name order.

    Args:
        data_dir: str or path-like. Where TFDS keeps prepared data.
            Defaults to `None`: `default_data_dir()`.
        manual_dir: str or path-like. Folder of the two zips. Defaults
            to `None`: `<data_dir>/downloads/manual`.
        shifted_cities: sequence of str. Cities of the shifted splits.
            Defaults to `None`: the last quarter in sorted order.
        label_set: str. `"classes"` (19) or `"categories"` (7). Defaults
            to `"classes"`.
        pipeline: `DensePipeline`. Resize/augment/normalize. Defaults to
            `None`.
        eval_fraction: float. Share of in-distribution frames in each of
            `validation` and `test`. Defaults to `0.1`.
        seed: int. Seed of the split. Defaults to `0`.

    Returns:
        A `MultiTaskData` with task `segmentation` and `env` = city.

    Example:

    >>> data = load_cityscapes_tfds(  # doctest: +SKIP
    ...     manual_dir="/data/cityscapes-zips", shifted_cities=["zurich"])
    >>> data.task_names  # doctest: +SKIP
    ('segmentation',)
    """
    builder = tfds.builder(
        TFDS_NAME, data_dir=str(data_dir or default_data_dir())
    )
    folder = manual_dir or f"{builder.data_dir_root}/downloads/manual"
    try:
        builder.download_and_prepare(
            download_config=offline_download_config(manual_dir)
        )
    except AssertionError as error:
        # TFDS signals a missing manual folder or zip with an
        # AssertionError; say which files go where.
        raise FileNotFoundError(
            f"TFDS' {TFDS_NAME} needs {' and '.join(MANUAL_FILES)} (from "
            "https://www.cityscapes-dataset.com, registration required) in "
            f"the manual folder {folder}. {error}"
        ) from error
    return cityscapes_view(
        builder, shifted_cities, label_set, pipeline, eval_fraction, seed
    )


def cityscapes_view(
    builder,
    shifted_cities=None,
    label_set="classes",
    pipeline=None,
    eval_fraction=0.1,
    seed=0,
):
    """The multi-task view of a prepared TFDS CityScapes builder.

    Args:
        builder: a prepared `tfds` CityScapes builder with segmentation
            labels.
        shifted_cities, label_set, pipeline, eval_fraction, seed: see
            `load_cityscapes_tfds`.

    Returns:
        A `MultiTaskData`.
    """
    table = cityscapes_label_table(label_set)
    specs = dense_task_specs(
        ("segmentation",), int(table.max()) + 1, available=("segmentation",)
    )
    ids = {
        split: [
            example["image_id"].decode()
            for example in builder.as_dataset(
                split=split, decoders=_SKIP_IMAGES
            ).as_numpy_iterator()
        ]
        for split in _SOURCE_SPLITS
    }
    # `build_cityscapes`' frame order: train, then val; by city/file name.
    frames = [
        (index, split, image_id)
        for index, split in enumerate(_SOURCE_SPLITS)
        for image_id in ids[split]
    ]
    frames.sort(key=lambda f: (f[0], f"{_city(f[2])}/{f[2]}_leftImg8bit.png"))
    split = split_by_environment(
        [_city(image_id) for _, _, image_id in frames],
        shifted_cities,
        eval_fraction,
        seed,
    )
    assignment = np.full(len(frames), -1, np.int32)
    for code, name in enumerate(SPLIT_NAMES):
        assignment[split.indices[name]] = code
    keys = tf.constant([image_id for _, _, image_id in frames])
    split_of = _lookup(keys, assignment)
    env_of = _lookup(keys, split.ids.astype(np.int32))
    table = tf.constant(table)

    def to_example(example):
        image_id = example["image_id"]
        features = {
            IMAGE_KEY: tf.image.convert_image_dtype(
                example["image_left"], tf.float32
            ),
            "env": env_of.lookup(image_id),
        }
        ids_ = tf.cast(example["segmentation_label"][..., 0], tf.int32)
        return features, {"segmentation": tf.gather(table, ids_)}

    source = builder.as_dataset(split="+".join(_SOURCE_SPLITS))
    datasets = {}
    for code, name in enumerate(SPLIT_NAMES):
        size = len(split.indices[name])
        dataset = source.filter(
            lambda example, code=code: tf.equal(
                split_of.lookup(example["image_id"]), code
            )
        )
        dataset = dataset.map(to_example, num_parallel_calls=tf.data.AUTOTUNE)
        dataset = dataset.apply(tf.data.experimental.assert_cardinality(size))
        datasets[name] = (dataset, size)
    description = (
        "CityScapes (Cordts et al., CVPR 2016) through TFDS' "
        f"{builder.info.full_name}, fine annotations, {label_set}; shift "
        f"by city: shifted {split.shifted}; env = city. The files are the "
        "user's own copy under the CityScapes licence."
    )
    return assemble_dense_data(
        datasets, specs, len(split.vocabulary), pipeline, description
    )


def _city(image_id):
    return image_id.rsplit("_", 2)[0]


def _lookup(keys, values):
    return tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(keys, tf.constant(values)),
        default_value=-1,
    )
