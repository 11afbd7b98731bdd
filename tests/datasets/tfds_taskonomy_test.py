"""Taskonomy TFDS builder: the user's files, offline, equal to the reader."""

import numpy as np
import pytest
import tensorflow_datasets as tfds

from keras_mtcrl.datasets.dense_pipeline import DensePipeline
from keras_mtcrl.datasets.multi_task_data import SPLIT_NAMES
from keras_mtcrl.datasets.taskonomy import build_taskonomy
from keras_mtcrl.datasets.tfds_builders import KerasMtcrlTaskonomy
from keras_mtcrl.datasets.tfds_builders import TaskonomyConfig
from keras_mtcrl.datasets.tfds_builders import offline_download_config
from keras_mtcrl.testing import dense_fixtures

NAME = "keras_mtcrl_taskonomy"


def as_numpy(dataset):
    features, labels = next(iter(dataset.batch(100_000)))
    arrays = {key: value.numpy() for key, value in features.items()}
    arrays.update({key: value.numpy() for key, value in labels.items()})
    return arrays


def prepare(manual, data_dir, config="all"):
    builder = tfds.builder(NAME, config=config, data_dir=data_dir)
    builder.download_and_prepare(
        download_config=offline_download_config(manual_dir=manual)
    )
    return builder


@pytest.fixture(scope="module")
def manual(tmp_path_factory):
    root = tmp_path_factory.mktemp("taskonomy")
    return dense_fixtures.write_taskonomy(root, points_per_building=4)


@pytest.fixture(scope="module")
def builder(manual, tmp_path_factory):
    return prepare(manual, tmp_path_factory.mktemp("data"))


def test_registered_records(builder):
    assert tfds.builder_cls(NAME) is KerasMtcrlTaskonomy
    info = builder.info
    assert info.splits["views"].num_examples == 12
    assert info.features["depth"].np_dtype == np.uint16
    example = next(iter(builder.as_dataset(split="views[:1]")))
    # Stored in build_taskonomy's order: sorted buildings first.
    assert example["building"].numpy() == b"allensville"
    assert example["image"].shape[-1] == 3


@pytest.mark.parametrize(
    "kwargs",
    [
        {"shifted_buildings": ["coffeen"]},
        {"eval_fraction": 0.25, "seed": 3, "tasks": ("depth", "normal")},
    ],
)
def test_view_equals_build_taskonomy(builder, manual, kwargs):
    got = builder.as_multi_task_data(**kwargs)
    expected = build_taskonomy(manual, **kwargs)
    assert got.sizes == expected.sizes
    assert got.tasks == expected.tasks
    assert got.num_environments == expected.num_environments
    assert got.description == expected.description
    for split in SPLIT_NAMES:
        got_arrays = as_numpy(got.split(split))
        expected_arrays = as_numpy(expected.split(split))
        assert got_arrays.keys() == expected_arrays.keys()
        for key in expected_arrays:
            np.testing.assert_array_equal(
                got_arrays[key], expected_arrays[key], key
            )


def test_view_with_pipeline(builder):
    data = builder.as_multi_task_data(pipeline=DensePipeline(image_size=(4, 4)))
    features, labels = next(iter(data.split("train")))
    assert features["image"].shape == (4, 4, 3)
    assert labels["depth"].shape == (4, 4, 1)


def test_config_with_fewer_domains(manual, tmp_path):
    config = TaskonomyConfig(name="depth_only", tasks=("depth",))
    builder = prepare(manual, tmp_path, config)
    assert "normal" not in builder.info.features
    data = builder.as_multi_task_data()
    assert data.task_names == ("depth",)
    with pytest.raises(ValueError, match="tasks"):
        builder.as_multi_task_data(tasks=("normal",))


def test_missing_files_name_the_layout_and_folder(tmp_path):
    empty = tmp_path / "manual"
    empty.mkdir()
    (empty / "notes.txt").write_text("nothing here")
    builder = tfds.builder(NAME, data_dir=tmp_path / "data")
    with pytest.raises(FileNotFoundError) as error:
        builder.download_and_prepare(
            download_config=offline_download_config(manual_dir=empty)
        )
    message = str(error.value)
    assert str(empty) in message
    assert "point_I_view_J_domain_DOMAIN.png" in message
