import bz2
import gzip
import lzma
import shutil
import zlib

import numpy as np
import pytest

from keras_mtcrl.datasets import debian_package
from keras_mtcrl.datasets import movielens
from keras_mtcrl.datasets import movielens_dslabs
from keras_mtcrl.datasets import movielens_rdata

pd = pytest.importorskip("pandas")
rdata = pytest.importorskip("rdata")


def _movielens_frame():
    """A few rows shaped like dslabs' `movielens` data frame."""
    return pd.DataFrame(
        {
            "movieId": pd.array([31, 1029, 108583, 31], dtype="Int32"),
            "title": pd.array(
                ["Dangerous Minds", "Dumbo", None, "Dangerous Minds"],
                dtype=pd.StringDtype("python"),
            ),
            "year": pd.array([1995, 1941, None, 1995], dtype="Int32"),
            "genres": pd.Categorical(
                ["Drama", "Animation|Children|Drama|Musical", "Comedy", "Drama"]
            ),
            "userId": pd.array([1, 1, 73, 2], dtype="Int32"),
            "rating": np.array([2.5, 3.0, 5.0, 4.0]),
            "timestamp": pd.array(
                [1260759144, 1260759179, 1435472609, 835355493], dtype="Int32"
            ),
        }
    )


def _serialize(obj, folder):
    path = folder / "object.rds"
    rdata.write_rds(path, obj, compression=None)
    data = path.read_bytes()
    path.unlink()
    return data


def write_lazyload_db(folder, compression=1):
    """Writes `Rdata.rdx/.rdb` the way R's makeLazyLoadDB lays them out."""
    folder.mkdir(parents=True, exist_ok=True)
    objects = {"murders": np.array([1.0, 2.0]), "movielens": _movielens_frame()}
    compress = {
        1: lambda b: zlib.compress(b),
        2: lambda b: b"2" + bz2.compress(b),
        3: lambda b: b"Z" + lzma.compress(b),
    }[compression]
    rdb, variables = b"", {}
    for name, obj in objects.items():
        data = _serialize(obj, folder)
        entry = len(data).to_bytes(4, "big") + compress(data)
        variables[name] = np.array([len(rdb), len(entry)], np.int32)
        rdb += entry
    (folder / "Rdata.rdb").write_bytes(rdb)
    index = {
        "variables": variables,
        "references": {},
        "compressed": True if compression == 1 else compression,
    }
    raw = _serialize(index, folder)
    (folder / "Rdata.rdx").write_bytes(gzip.compress(raw))
    return folder


@pytest.mark.parametrize("compression", [1, 2, 3])
def test_lazyload_object_to_table(tmp_path, compression):
    folder = write_lazyload_db(tmp_path / "data", compression)
    frame = movielens_rdata.read_lazyload_object(folder, "movielens")
    table = movielens_dslabs.frame_to_table(frame)
    np.testing.assert_array_equal(table["movie"], [31, 1029, 108583, 31])
    np.testing.assert_array_equal(table["user"], [1, 1, 73, 2])
    np.testing.assert_array_equal(table["rating"], [2.5, 3.0, 5.0, 4.0])
    np.testing.assert_array_equal(table["year"][[0, 1, 3]], [1995, 1941, 1995])
    assert np.isnan(table["year"][2])
    assert table["genres"][1] == "Animation|Children|Drama|Musical"
    assert table["year"].dtype == np.float32
    assert table["timestamp"].dtype == np.int64


def test_unknown_object_lists_the_known_ones(tmp_path):
    folder = write_lazyload_db(tmp_path / "data")
    with pytest.raises(ValueError, match="murders"):
        movielens_rdata.read_lazyload_object(folder, "heights")
    with pytest.raises(FileNotFoundError, match="Rdata.rdx"):
        movielens_rdata.read_lazyload_object(tmp_path, "movielens")


def test_frame_without_columns_is_refused():
    with pytest.raises(ValueError, match="userId"):
        movielens_dslabs.frame_to_table(pd.DataFrame({"movieId": [1]}))


def test_fetch_reads_an_install_and_caches(tmp_path, monkeypatch):
    root = tmp_path / "system"
    write_lazyload_db(root / movielens_dslabs.DSLABS_DATA_DIR)
    monkeypatch.setattr(movielens_dslabs, "INSTALL_ROOT", root)
    table = movielens_dslabs.fetch_dslabs_movielens(tmp_path / "cache")
    cached = tmp_path / "cache" / "movielens" / movielens_dslabs.CACHE_FILE
    assert cached.is_file()
    assert len(table["user"]) == 4
    # Later calls read the cache only.
    shutil.rmtree(root)
    again = movielens_dslabs.fetch_dslabs_movielens(tmp_path / "cache")
    for key, value in table.items():
        np.testing.assert_array_equal(again[key], value)


def test_fetch_downloads_when_not_installed(tmp_path, monkeypatch):
    def fake_download(tmp):
        unpacked = tmp_path / "unpacked"
        write_lazyload_db(unpacked / movielens_dslabs.DSLABS_DATA_DIR, 2)
        return unpacked

    monkeypatch.setattr(movielens_dslabs, "INSTALL_ROOT", tmp_path / "none")
    monkeypatch.setattr(movielens_dslabs, "_download_and_unpack", fake_download)
    table = movielens_dslabs.fetch_dslabs_movielens(tmp_path / "cache")
    np.testing.assert_array_equal(table["movie"], [31, 1029, 108583, 31])


def test_fetch_without_apt_get_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setattr(movielens_dslabs, "INSTALL_ROOT", tmp_path / "none")
    monkeypatch.setattr(debian_package.shutil, "which", lambda _: None)
    with pytest.raises(FileNotFoundError, match="apt-get.*data_dir"):
        movielens_dslabs.fetch_dslabs_movielens(tmp_path / "cache")


def test_build_defaults_to_the_cached_dslabs_table(tmp_path, monkeypatch):
    ratings = [
        (u, m, 1.0 + (u + m) % 5, 0, 1980.0 + 3 * m, "Drama")
        for u in range(1, 11)
        for m in range(1, 11)
    ]
    table = dict(zip(movielens_dslabs.TABLE_KEYS, zip(*ratings)))
    monkeypatch.setenv("KERAS_MTCRL_DATA", str(tmp_path))
    cache_dir = tmp_path / "movielens"
    cache_dir.mkdir()
    movielens_dslabs.save_table(cache_dir / movielens_dslabs.CACHE_FILE, table)
    data = movielens.build_movielens(shift_year=2007)
    assert data.metadata["source"] == "dslabs ml-latest-small"
    shifted = data.sizes["validation_shifted"] + data.sizes["test_shifted"]
    assert shifted == 20  # movies 9 and 10 (2007, 2010), 10 users each
    assert sum(data.sizes.values()) == 100


@pytest.mark.slow
def test_real_fetch_matches_the_published_counts(tmp_path):
    if shutil.which("apt-get") is None:
        pytest.skip("apt-get is not available")
    table = movielens_dslabs.fetch_dslabs_movielens(tmp_path)
    assert len(table["rating"]) == 100_004
    assert len(np.unique(table["user"])) == 671
    assert len(np.unique(table["movie"])) == 9_066
    assert int(np.isnan(table["year"]).sum()) == 7
    movielens_dslabs.save_table(tmp_path / "copy.npz", table)
    assert (tmp_path / "copy.npz").stat().st_size < 5_000_000
