"""Census-Income TFDS builder: manual files, offline, equal to the reader."""

import numpy as np
import pytest
import tensorflow_datasets as tfds
from census_income_test import write_full_files

from keras_mtcrl.datasets import census_income
from keras_mtcrl.datasets.census_income import build_census_income
from keras_mtcrl.datasets.multi_task_data import SPLIT_NAMES
from keras_mtcrl.datasets.tfds_builders import KerasMtcrlCensusIncome
from keras_mtcrl.datasets.tfds_builders import load_multi_task_data
from keras_mtcrl.datasets.tfds_builders import offline_download_config

NAME = "keras_mtcrl_census_income"


def as_numpy(dataset):
    features, labels = next(iter(dataset.batch(100_000)))
    arrays = {key: value.numpy() for key, value in features.items()}
    arrays.update({key: value.numpy() for key, value in labels.items()})
    return arrays


@pytest.fixture(scope="module")
def manual(tmp_path_factory):
    return write_full_files(tmp_path_factory.mktemp("manual"), 60, 30)


@pytest.fixture(scope="module")
def full(manual, tmp_path_factory):
    builder = tfds.builder(
        NAME, config="full", data_dir=tmp_path_factory.mktemp("data")
    )
    builder.download_and_prepare(
        download_config=offline_download_config(manual_dir=manual)
    )
    return builder


def test_registered_configs():
    assert tfds.builder_cls(NAME) is KerasMtcrlCensusIncome
    names = [config.name for config in KerasMtcrlCensusIncome.BUILDER_CONFIGS]
    assert names == ["sample", "full"]
    assert "census-income.data" in (
        KerasMtcrlCensusIncome.MANUAL_DOWNLOAD_INSTRUCTIONS
    )


def test_records_features_and_splits(full):
    info = full.info
    assert info.splits["train"].num_examples == 60
    assert info.splits["test"].num_examples == 30
    assert len(info.features) == 43
    example = next(iter(full.as_dataset(split="test[:1]")))
    assert example["age"].dtype.name == "float64"
    assert example["class_of_worker"].numpy() == b"Never worked"
    assert int(example["row"]) == 60


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {
            "shift_attribute": "region_of_previous_residence",
            "shift_cut": "South",
            "seed": 3,
        },
    ],
)
def test_view_equals_build_census_income(full, manual, kwargs):
    got = full.as_multi_task_data(**kwargs)
    expected = build_census_income(data_dir=manual, **kwargs)
    assert got.sizes == expected.sizes
    assert got.tasks == expected.tasks
    assert got.num_environments == expected.num_environments
    assert got.metadata["feature_names"] == expected.metadata["feature_names"]
    assert (
        got.metadata["environment_names"]
        == (expected.metadata["environment_names"])
    )
    for split in SPLIT_NAMES:
        got_arrays = as_numpy(got.split(split))
        expected_arrays = as_numpy(expected.split(split))
        assert got_arrays.keys() == expected_arrays.keys()
        for key in expected_arrays:
            assert got_arrays[key].dtype == expected_arrays[key].dtype
            np.testing.assert_array_equal(
                got_arrays[key], expected_arrays[key], key
            )


def test_view_split_selection_and_errors(full):
    data = full.as_multi_task_data(splits=["train", "test_shifted"])
    assert list(data.splits) == ["train", "test_shifted"]
    with pytest.raises(KeyError, match="dev"):
        full.as_multi_task_data(splits=["dev"])
    with pytest.raises(ValueError, match="shift_attribute"):
        full.as_multi_task_data(shift_attribute="income")


def test_second_load_reads_prepared_data(full, manual, monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("the files were read again")

    monkeypatch.setattr(census_income, "_read", fail)
    data = load_multi_task_data(
        NAME, config="full", data_dir=full.data_dir_root, manual_dir=manual
    )
    assert data.sizes["test"] + data.sizes["test_shifted"] == 30


def test_full_without_files_names_them_and_the_folder(tmp_path):
    empty = tmp_path / "manual"
    empty.mkdir()
    (empty / "README").write_text("not the data")
    builder = tfds.builder(NAME, config="full", data_dir=tmp_path / "data")
    with pytest.raises(FileNotFoundError) as error:
        builder.download_and_prepare(
            download_config=offline_download_config(manual_dir=empty)
        )
    message = str(error.value)
    assert "census-income.data" in message
    assert "census-income.test" in message
    assert str(empty) in message
    assert "sample" in message


def test_full_with_missing_manual_dir_names_the_folder(tmp_path):
    missing = tmp_path / "nowhere"
    builder = tfds.builder(NAME, config="full", data_dir=tmp_path / "data")
    with pytest.raises(FileNotFoundError, match="nowhere"):
        builder.download_and_prepare(
            download_config=offline_download_config(manual_dir=missing)
        )


def test_prepare_again_from_other_files(tmp_path):
    first = write_full_files(tmp_path / "first", 12, 6)
    second = write_full_files(tmp_path / "second", 20, 10)
    builder = tfds.builder(NAME, config="full", data_dir=tmp_path / "data")
    builder.download_and_prepare(
        download_config=offline_download_config(manual_dir=first)
    )
    # Prepared once: other files are ignored by default...
    builder.download_and_prepare(
        download_config=offline_download_config(manual_dir=second)
    )
    assert builder.info.splits["train"].num_examples == 12
    # ...and read with the documented regenerate mode.
    builder.download_and_prepare(
        download_config=offline_download_config(
            manual_dir=second,
            download_mode=tfds.download.GenerateMode.REUSE_CACHE_IF_EXISTS,
        )
    )
    builder = tfds.builder(NAME, config="full", data_dir=tmp_path / "data")
    assert builder.info.splits["train"].num_examples == 20
