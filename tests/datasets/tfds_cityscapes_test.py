"""CityScapes through TFDS' own builder: the same frames as the reader."""

import zipfile

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from keras_mtcrl.datasets.cityscapes import build_cityscapes
from keras_mtcrl.datasets.multi_task_data import SPLIT_NAMES
from keras_mtcrl.datasets.tfds_builders.cityscapes import MANUAL_FILES
from keras_mtcrl.datasets.tfds_builders.cityscapes import load_cityscapes_tfds
from keras_mtcrl.testing.dense_fixtures import write_png

# TFDS' builder requires CityScapes' full 1024 x 2048 frames.
SHAPE = (1024, 2048)
CITIES = {
    "train": ("aachen", "bochum", "bremen", "cologne"),
    "val": ("frankfurt",),
    "test": ("berlin",),
}


def write_frames(root):
    """Low-entropy full-size frames; frame k's image is filled with k + 1."""
    k = 0
    for split, cities in CITIES.items():
        for city in cities:
            for frame in range(2):
                stem = f"{city}_{frame:06d}_{19 * frame:06d}"
                image = np.full(SHAPE + (3,), k + 1, np.uint8)
                labels = np.zeros(SHAPE, np.uint8)
                labels[:, : 100 * (k + 1)] = 7 + k  # road, sidewalk, ...
                labels[:10] = 26  # car
                folder = f"{split}/{city}/{stem}"
                write_png(root / f"leftImg8bit/{folder}_leftImg8bit.png", image)
                write_png(root / f"gtFine/{folder}_gtFine_labelIds.png", labels)
                k += 1
    return root


def zip_folder(root, top, path):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted((root / top).rglob("*.png")):
            archive.write(file, file.relative_to(root))


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = write_frames(tmp_path_factory.mktemp("cityscapes"))
    manual = tmp_path_factory.mktemp("manual")
    zip_folder(root, "leftImg8bit", manual / MANUAL_FILES[0])
    zip_folder(root, "gtFine", manual / MANUAL_FILES[1])
    return root, manual


def collect(dataset):
    """Elements of a split, ordered by their frame number (image value)."""
    items = []
    for features, labels in dataset.as_numpy_iterator():
        key = int(np.rint(features["image"][0, 0, 0] * 255))
        items.append((key, features, labels))
    return sorted(items, key=lambda item: item[0])


def test_same_frames_and_arrays_as_build_cityscapes(files, tmp_path):
    root, manual = files
    kwargs = {"shifted_cities": ["frankfurt"], "eval_fraction": 0.25}
    data = load_cityscapes_tfds(
        data_dir=tmp_path, manual_dir=manual, seed=2, **kwargs
    )
    reader = build_cityscapes(root, tasks=("segmentation",), seed=2, **kwargs)
    assert data.tasks == reader.tasks
    assert data.num_environments == reader.num_environments == 5
    assert data.sizes == reader.sizes
    assert data.sizes["train"] == 4
    for split in SPLIT_NAMES:
        got, expected = collect(data.split(split)), collect(reader.split(split))
        assert [k for k, _, _ in got] == [k for k, _, _ in expected]
        for (_, got_f, got_l), (_, exp_f, exp_l) in zip(got, expected):
            np.testing.assert_array_equal(got_f["image"], exp_f["image"])
            assert got_f["env"] == exp_f["env"]
            np.testing.assert_array_equal(
                got_l["segmentation"], exp_l["segmentation"]
            )
    # TFDS knows the frame size; the reader's shapes are (None, None, ...).
    compatible = tf.nest.map_structure(
        lambda a, b: b.is_compatible_with(a),
        data.split("train").element_spec,
        reader.split("train").element_spec,
    )
    assert all(tf.nest.flatten(compatible))


def test_missing_zips_name_the_files_and_folder(tmp_path):
    empty = tmp_path / "manual"
    empty.mkdir()
    (empty / "README").write_text("no zips")
    with pytest.raises(FileNotFoundError) as error:
        load_cityscapes_tfds(data_dir=tmp_path / "data", manual_dir=empty)
    message = str(error.value)
    for name in MANUAL_FILES:
        assert name in message
    assert str(empty) in message


def test_tfds_disparity_feature_is_8_bit():
    # Why depth is not read through TFDS: its disparity feature is a uint8
    # image, which cannot hold CityScapes' 16-bit disparity values.
    builder_cls = tfds.builder_cls("cityscapes")
    config = builder_cls.builder_configs["stereo_disparity"]
    assert config.disparity_maps
    feature = tfds.features.Image(shape=(2, 2, 1), encoding_format="png")
    assert feature.np_dtype == np.uint8
    raw = tf.io.encode_png(
        tf.constant([[[1000], [30000]], [[1], [0]]], tf.uint16)
    )
    decoded = feature.decode_example(raw).numpy()
    assert decoded.max() < 256
