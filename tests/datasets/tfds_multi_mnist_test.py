"""The Multi-MNIST TFDS builder: offline, once, and equal to the reader."""

import gzip
import struct
import subprocess
import sys

import numpy as np
import pytest
import tensorflow_datasets as tfds
from tensorflow_datasets.core.utils import gcs_utils

from keras_mtcrl.datasets import multi_mnist
from keras_mtcrl.datasets.multi_mnist import build_multi_mnist
from keras_mtcrl.datasets.multi_task_data import SPLIT_NAMES
from keras_mtcrl.datasets.multi_task_data import MultiTaskData
from keras_mtcrl.datasets.tfds_builders import KerasMtcrlMultiMnist
from keras_mtcrl.datasets.tfds_builders import load_multi_task_data
from keras_mtcrl.datasets.tfds_builders import multi_mnist_config
from keras_mtcrl.datasets.tfds_builders import offline_download_config

NAME = "keras_mtcrl_multi_mnist"
SMALL = {"num_train": 300, "num_eval": 100, "seed": 1}


def as_numpy(dataset):
    """A `(features, labels)` split as one dict of numpy arrays."""
    features, labels = next(iter(dataset.batch(100_000)))
    arrays = {key: value.numpy() for key, value in features.items()}
    arrays.update({key: value.numpy() for key, value in labels.items()})
    return arrays


def tfds_numpy(builder, split):
    """A raw TFDS split as one dict of numpy arrays."""
    example = next(iter(builder.as_dataset(split=split).batch(100_000)))
    return {key: value.numpy() for key, value in example.items()}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("tfds")


@pytest.fixture(scope="module")
def confounded(data_dir):
    builder = tfds.builder(
        NAME, data_dir=data_dir, config=multi_mnist_config(**SMALL)
    )
    builder.download_and_prepare()
    return builder


@pytest.fixture(scope="module")
def pairs(data_dir):
    builder = tfds.builder(
        NAME,
        data_dir=data_dir,
        config=multi_mnist_config(shift="pairs", **SMALL),
    )
    builder.download_and_prepare()
    return builder


def test_registered_with_configs():
    assert tfds.builder_cls(NAME) is KerasMtcrlMultiMnist
    names = [config.name for config in KerasMtcrlMultiMnist.BUILDER_CONFIGS]
    assert names == [
        "confounded",
        "pairs",
        "fashion_confounded",
        "fashion_pairs",
    ]
    assert KerasMtcrlMultiMnist.DEFAULT_BUILDER_CONFIG_NAME == "confounded"


def test_registered_configs_are_the_recipes_settings():
    config = multi_mnist_config()
    assert config is KerasMtcrlMultiMnist.BUILDER_CONFIGS[0]
    assert config.reader_kwargs() == {
        "shift": "confounded",
        "source": "mnist",
        "num_train": 10_000,
        "num_eval": 2_000,
        "seed": 0,
        "train_agreement": (0.95, 0.85),
        "shifted_agreement": 0.1,
    }
    assert multi_mnist_config(shift="pairs").name == "pairs"
    assert multi_mnist_config(source="fashion_mnist").name == (
        "fashion_confounded"
    )


def test_custom_configs_are_named_after_their_settings():
    assert multi_mnist_config(**SMALL).name == "confounded_mnist_n300_e100_s1"
    a = multi_mnist_config(train_agreement=(0.9, 0.8))
    b = multi_mnist_config(train_agreement=(0.9, 0.7))
    assert a.name.startswith("confounded_mnist_n10000_e2000_s0_r")
    assert a.name != b.name


def test_config_validates_like_the_reader():
    with pytest.raises(ValueError, match="shift"):
        multi_mnist_config(shift="rotate")
    with pytest.raises(ValueError, match="num_train"):
        multi_mnist_config(num_train=0)
    with pytest.raises(ValueError, match="train_agreement"):
        multi_mnist_config(train_agreement=(1.5,))


def test_features_splits_shapes_dtypes(confounded):
    info = confounded.info
    assert set(info.splits) == set(SPLIT_NAMES)
    assert info.splits["train"].num_examples == 300
    for split in SPLIT_NAMES[1:]:
        assert info.splits[split].num_examples == 100
    assert set(info.features) == {"image", "left", "right", "env"}
    assert info.features["image"].shape == (36, 36, 1)
    assert info.features["left"].num_classes == 10
    assert info.disable_shuffling
    arrays = tfds_numpy(confounded, "train")
    assert arrays["image"].shape == (300, 36, 36, 1)
    assert arrays["image"].dtype == np.uint8
    assert arrays["env"].dtype == np.int32
    assert arrays["left"].dtype == np.int64


def test_environment_ids(confounded):
    assert set(tfds_numpy(confounded, "train")["env"]) == {0, 1}
    for split in ("validation_shifted", "test_shifted"):
        assert set(tfds_numpy(confounded, split)["env"]) == {2}


def test_pairs_has_no_environment_feature(pairs):
    assert set(pairs.info.features) == {"image", "left", "right"}
    assert pairs.as_multi_task_data().num_environments == 0


def test_raw_examples_are_the_readers_canvases(confounded):
    reader = build_multi_mnist(image_size=36, **SMALL)
    for split in SPLIT_NAMES:
        raw = tfds_numpy(confounded, split)
        expected = as_numpy(reader.split(split))
        pixels = np.rint(expected["image"] * 255).astype(np.uint8)
        np.testing.assert_array_equal(raw["image"], pixels)
        for key in ("left", "right", "env"):
            np.testing.assert_array_equal(raw[key], expected[key])


@pytest.mark.parametrize("shift", ["confounded", "pairs"])
def test_multi_task_view_equals_build_multi_mnist(shift, confounded, pairs):
    builder = confounded if shift == "confounded" else pairs
    through_tfds = builder.as_multi_task_data()
    reader = build_multi_mnist(shift=shift, **SMALL)
    assert isinstance(through_tfds, MultiTaskData)
    assert through_tfds.tasks == reader.tasks
    assert through_tfds.num_environments == reader.num_environments
    assert through_tfds.sizes == reader.sizes
    assert through_tfds.description == reader.description
    for split in SPLIT_NAMES:
        assert (
            through_tfds.split(split).element_spec
            == reader.split(split).element_spec
        )
        got = as_numpy(through_tfds.split(split))
        expected = as_numpy(reader.split(split))
        assert got.keys() == expected.keys()
        for key in expected:
            assert got[key].dtype == expected[key].dtype, key
            # Exactly equal, images included: same resize on the same
            # batches of 256.
            np.testing.assert_array_equal(got[key], expected[key], key)


def test_view_image_size(confounded):
    data = confounded.as_multi_task_data(splits=["test"], image_size=16)
    features, _ = next(iter(data.split("test")))
    assert features["image"].shape == (16, 16, 1)
    assert list(data.splits) == ["test"]
    with pytest.raises(ValueError, match="image_size"):
        confounded.as_multi_task_data(image_size=4)
    with pytest.raises(KeyError, match="Unknown split 'dev'"):
        confounded.as_multi_task_data(splits=["dev"])


def test_split_slicing(confounded, data_dir):
    sliced = tfds.load(
        NAME,
        split="train[:1%]",
        data_dir=data_dir,
        builder_kwargs={"config": multi_mnist_config(**SMALL)},
    )
    examples = list(sliced.as_numpy_iterator())
    assert len(examples) == 3
    first = tfds_numpy(confounded, "train")
    np.testing.assert_array_equal(examples[0]["image"], first["image"][0])


def test_second_load_does_not_regenerate(confounded, data_dir, monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("the examples were generated again")

    monkeypatch.setattr(multi_mnist, "_plan_splits", fail)
    data = load_multi_task_data(
        NAME, config=multi_mnist_config(**SMALL), data_dir=data_dir
    )
    assert data.sizes["train"] == 300


def test_prepares_offline_without_asking_gcs(tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("asked Google Cloud Storage")

    monkeypatch.setattr(gcs_utils, "is_dataset_on_gcs", fail)
    monkeypatch.setattr(gcs_utils, "_is_gcs_disabled", False)
    config = multi_mnist_config(num_train=20, num_eval=10)
    builder = tfds.builder(NAME, data_dir=tmp_path, config=config)
    builder.download_and_prepare()  # no download config: offline default
    assert builder.info.splits["train"].num_examples == 20
    assert offline_download_config().try_download_gcs is False


def test_load_multi_task_data_uses_keras_mtcrl_data(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_MTCRL_DATA", str(tmp_path))
    data = load_multi_task_data(
        NAME,
        config=multi_mnist_config(shift="pairs", num_train=20, num_eval=10),
    )
    assert data.sizes["test_shifted"] == 10
    prepared = tmp_path / "tensorflow_datasets" / NAME
    assert (prepared / "pairs_mnist_n20_e10_s0" / "1.0.0").is_dir()


def test_load_multi_task_data_rejects_other_builders(tmp_path):
    with pytest.raises(ValueError, match="not a keras_mtcrl builder"):
        load_multi_task_data("mnist", data_dir=tmp_path)


def write_idx(folder, per_class=8):
    """Fashion-MNIST-like t10k idx files; image i has pixel value i + 1."""
    labels = np.repeat(np.arange(10, dtype=np.uint8), per_class)
    images = np.zeros((len(labels), 28, 28), np.uint8)
    images[:, 10:18, 10:18] = (np.arange(len(labels)) + 1)[:, None, None]
    header = struct.pack(">IIII", 0x803, len(labels), 28, 28)
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes(
        gzip.compress(header + images.tobytes())
    )
    header = struct.pack(">II", 0x801, len(labels))
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(
        gzip.compress(header + labels.tobytes())
    )


def test_fashion_reads_manual_dir(tmp_path):
    manual = tmp_path / "manual"
    manual.mkdir()
    write_idx(manual)
    config = multi_mnist_config(
        source="fashion_mnist", num_train=30, num_eval=10
    )
    builder = tfds.builder(NAME, data_dir=tmp_path / "data", config=config)
    builder.download_and_prepare(
        download_config=offline_download_config(manual_dir=manual)
    )
    assert builder.info.features["left"].names[0] == "t-shirt/top"
    got = as_numpy(builder.as_multi_task_data().split("train"))
    expected = build_multi_mnist(
        source="fashion_mnist", num_train=30, num_eval=10, data_dir=manual
    )
    expected = as_numpy(expected.split("train"))
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key], key)


def test_import_keras_mtcrl_registers_the_builder():
    code = (
        "import tensorflow_datasets as tfds, keras_mtcrl; "
        f"print(tfds.builder_cls({NAME!r}).__name__)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("KerasMtcrlMultiMnist")


def test_recipe_reads_through_the_builder(tmp_path, monkeypatch):
    from keras_mtcrl.training import get_recipe

    monkeypatch.setenv("KERAS_MTCRL_DATA", str(tmp_path))
    recipe = get_recipe("multi_mnist")
    args = {**recipe.config.data_args, "num_train": 40, "num_eval": 10}
    direct = recipe.with_config(data_args=args, seed=2)
    through = recipe.with_config(data_args={**args, "via_tfds": True}, seed=2)
    expected = direct.build_data(direct.config)
    got = through.build_data(through.config)
    assert (tmp_path / "tensorflow_datasets" / NAME).is_dir()
    assert got.sizes == expected.sizes
    for split in SPLIT_NAMES:
        got_arrays = as_numpy(got.split(split))
        expected_arrays = as_numpy(expected.split(split))
        for key in expected_arrays:
            np.testing.assert_array_equal(
                got_arrays[key], expected_arrays[key], key
            )
