"""MovieLens TFDS builder: manual files or the cache, equal to the reader."""

import numpy as np
import pytest
import tensorflow_datasets as tfds
from movielens_test import write_1m
from movielens_test import write_latest

from keras_mtcrl.datasets import movielens_files
from keras_mtcrl.datasets.movielens import build_movielens
from keras_mtcrl.datasets.movielens_dslabs import CACHE_FILE
from keras_mtcrl.datasets.movielens_dslabs import save_table
from keras_mtcrl.datasets.multi_task_data import SPLIT_NAMES
from keras_mtcrl.datasets.tfds_builders import KerasMtcrlMovielens
from keras_mtcrl.datasets.tfds_builders import load_multi_task_data
from keras_mtcrl.datasets.tfds_builders import offline_download_config

NAME = "keras_mtcrl_movielens"


def as_numpy(dataset):
    features, labels = next(iter(dataset.batch(100_000)))
    arrays = {key: value.numpy() for key, value in features.items()}
    arrays.update({key: value.numpy() for key, value in labels.items()})
    return arrays


def assert_same(got, expected):
    assert got.sizes == expected.sizes
    assert got.tasks == expected.tasks
    assert got.num_environments == expected.num_environments
    assert got.metadata == expected.metadata
    for split in SPLIT_NAMES:
        got_arrays = as_numpy(got.split(split))
        expected_arrays = as_numpy(expected.split(split))
        assert got_arrays.keys() == expected_arrays.keys()
        for key in expected_arrays:
            assert got_arrays[key].dtype == expected_arrays[key].dtype
            np.testing.assert_array_equal(
                got_arrays[key], expected_arrays[key], key
            )


def prepare(tmp_path, manual, config="grouplens"):
    builder = tfds.builder(NAME, config=config, data_dir=tmp_path / "data")
    builder.download_and_prepare(
        download_config=offline_download_config(manual_dir=manual)
    )
    return builder


def test_registered_configs():
    assert tfds.builder_cls(NAME) is KerasMtcrlMovielens
    names = [config.name for config in KerasMtcrlMovielens.BUILDER_CONFIGS]
    assert names == ["dslabs", "grouplens"]


@pytest.mark.parametrize("writer", [write_latest, write_1m])
def test_grouplens_records_and_view(tmp_path, writer):
    # A sub-folder, as GroupLens zips unpack (e.g. manual/ml-1m/).
    manual = tmp_path / "manual"
    writer(manual / "ml")
    builder = prepare(tmp_path, manual)
    table = movielens_files.read_movielens(manual)
    assert builder.info.splits["ratings"].num_examples == len(table["rating"])
    records = tfds.as_numpy(builder.as_dataset(split="ratings", batch_size=-1))
    for key in ("user", "movie", "rating", "timestamp", "year"):
        assert records[key].dtype == table[key].dtype
        np.testing.assert_array_equal(records[key], table[key])
    np.testing.assert_array_equal(
        records["genres"].astype(str), table["genres"]
    )
    kwargs = {"shift_year": 2000, "num_periods": 2, "seed": 4}
    got = builder.as_multi_task_data(**kwargs)
    assert "TFDS keras_mtcrl_movielens/grouplens" in got.metadata["source"]
    expected = build_movielens(manual, **kwargs)
    expected.metadata["source"] = got.metadata["source"]
    expected.description = got.description
    assert_same(got, expected)


def test_dslabs_reads_the_cached_table(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_MTCRL_DATA", str(tmp_path / "cache"))
    manual = tmp_path / "files"
    write_latest(manual)
    table = movielens_files.read_movielens(manual)
    cache = tmp_path / "cache" / "movielens"
    cache.mkdir(parents=True)
    save_table(cache / CACHE_FILE, table)
    data = load_multi_task_data(NAME, data_dir=tmp_path / "data")
    expected = build_movielens()  # reads the same cached table
    assert_same(data, expected)
    assert data.description == expected.description


def test_view_selects_splits_and_checks_arguments(tmp_path):
    manual = tmp_path / "manual"
    write_latest(manual)
    builder = prepare(tmp_path, manual)
    data = builder.as_multi_task_data(splits=["test"], shift_year=2000)
    assert list(data.splits) == ["test"]
    with pytest.raises(KeyError, match="dev"):
        builder.as_multi_task_data(splits=["dev"], shift_year=2000)
    with pytest.raises(ValueError, match="num_periods"):
        builder.as_multi_task_data(num_periods=0)


def test_grouplens_without_files_says_what_to_put_where(tmp_path):
    manual = tmp_path / "manual"
    manual.mkdir()
    (manual / "notes.txt").write_text("no ratings here")
    builder = tfds.builder(NAME, config="grouplens", data_dir=tmp_path / "d")
    with pytest.raises(FileNotFoundError) as error:
        builder.download_and_prepare(
            download_config=offline_download_config(manual_dir=manual)
        )
    message = str(error.value)
    assert str(manual) in message
    for name in ("ratings.csv", "u.data", "ratings.dat", "grouplens.org"):
        assert name in message
