"""MovieLens from Debian's `r-cran-dslabs` package, read without R.

The R package dslabs ships the GroupLens ml-latest-small snapshot as its
`movielens` data frame (100,004 ratings by 671 users of 9,066 movies).
Debian installs it as an R lazy-load database, read by
`keras_mtcrl.datasets.movielens_rdata`. GroupLens' terms forbid
redistribution, so the data are fetched at run time and kept only in the
user's cache folder.
"""

import pathlib
import tempfile

import numpy as np

from keras_mtcrl.datasets.cache import get_cache_dir
from keras_mtcrl.datasets.debian_package import download_and_unpack
from keras_mtcrl.datasets.movielens_files import TABLE_KEYS
from keras_mtcrl.datasets.movielens_rdata import read_lazyload_object

DSLABS_PACKAGE = "r-cran-dslabs"
# dslabs' data folder, relative to the file-system root of an install.
DSLABS_DATA_DIR = pathlib.Path("usr/lib/R/site-library/dslabs/data")
INSTALL_ROOT = pathlib.Path("/")
CACHE_FILE = "dslabs_movielens.npz"
_COLUMNS = {
    "user": "userId",
    "movie": "movieId",
    "rating": "rating",
    "timestamp": "timestamp",
    "year": "year",
    "genres": "genres",
}


def fetch_dslabs_movielens(cache_dir=None):
    """Returns dslabs' MovieLens ratings table, fetching it on first use.

    Looks for the parsed table in the cache folder; else reads an installed
    dslabs (`/usr/lib/R/site-library/dslabs`); else runs `apt-get download
    r-cran-dslabs` (and `apt-get update` once if the package is unknown) in
    a temporary folder and unpacks it with `dpkg-deb -x`. Needs the PyPI
    package `rdata` for the parsing step.

    Args:
        cache_dir: str or path-like. Cache root; see
            `keras_mtcrl.datasets.cache.get_cache_dir`. Defaults to `None`.

    Returns:
        The ratings table (see `keras_mtcrl.datasets.movielens_files`).

    Example:

    >>> import tempfile
    >>> root = tempfile.mkdtemp()
    >>> table = {"user": [1], "movie": [31], "rating": [2.5],
    ...          "timestamp": [1260759144], "year": [1995.0],
    ...          "genres": ["Drama"]}
    >>> save_table(get_cache_dir("movielens", root) / CACHE_FILE, table)
    >>> fetch_dslabs_movielens(cache_dir=root)["genres"]
    array(['Drama'], dtype='<U5')
    """
    cache_file = get_cache_dir("movielens", cache_dir) / CACHE_FILE
    if cache_file.exists():
        return load_table(cache_file)
    installed = INSTALL_ROOT / DSLABS_DATA_DIR
    if (installed / "Rdata.rdx").is_file():
        table = frame_to_table(read_lazyload_object(installed, "movielens"))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            root = _download_and_unpack(tmp)
            frame = read_lazyload_object(root / DSLABS_DATA_DIR, "movielens")
            table = frame_to_table(frame)
    save_table(cache_file, table)
    return table


def frame_to_table(frame):
    """Turns dslabs' `movielens` data frame into a ratings table.

    Args:
        frame: pandas.DataFrame. Columns `userId`, `movieId`, `rating`,
            `timestamp`, `year` (may hold NA) and `genres`.

    Returns:
        The ratings table (see `keras_mtcrl.datasets.movielens_files`).

    Example:

    >>> import pandas as pd
    >>> frame = pd.DataFrame({
    ...     "movieId": [31], "title": ["Dangerous Minds"],
    ...     "year": pd.array([None], dtype="Int32"), "genres": ["Drama"],
    ...     "userId": [1], "rating": [2.5], "timestamp": [1260759144]})
    >>> frame_to_table(frame)["year"]
    array([nan], dtype=float32)
    """
    missing = [c for c in _COLUMNS.values() if c not in frame.columns]
    if missing:
        raise ValueError(
            f"The movielens data frame lacks column(s) {missing}; it has "
            f"{list(frame.columns)}."
        )
    table = {}
    for key in TABLE_KEYS[:-1]:
        column = frame[_COLUMNS[key]]
        table[key] = column.to_numpy(dtype=np.float64, na_value=np.nan)
    if np.isnan(table["user"]).any() or np.isnan(table["movie"]).any():
        raise ValueError("The movielens data frame has missing user/movie ids.")
    genres = frame["genres"].astype(object).tolist()
    table["genres"] = [g if isinstance(g, str) else "" for g in genres]
    return _typed(table)


def save_table(path, table):
    """Writes a ratings table as a compressed `.npz` (no pickled objects).

    Args:
        path: str or path-like. The `.npz` file to write.
        table: dict. A ratings table (array-likes under `TABLE_KEYS`).

    Example:

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "table.npz")
    >>> save_table(path, {"user": [1], "movie": [2], "rating": [3.5],
    ...                   "timestamp": [0], "year": [1999], "genres": [""]})
    >>> sorted(np.load(path).files)
    ['genres', 'movie', 'rating', 'timestamp', 'user', 'year']
    """
    np.savez_compressed(path, **_typed(table))


def load_table(path):
    """Reads a ratings table written by `save_table`.

    Args:
        path: str or path-like. The `.npz` file.

    Returns:
        The ratings table, with the dtypes of `movielens_files`.

    Example:

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "table.npz")
    >>> save_table(path, {"user": [1], "movie": [2], "rating": [3.5],
    ...                   "timestamp": [0], "year": [1999], "genres": [""]})
    >>> load_table(path)["rating"]
    array([3.5], dtype=float32)
    """
    with np.load(path, allow_pickle=False) as data:
        missing = [key for key in TABLE_KEYS if key not in data.files]
        if missing:
            raise ValueError(
                f"{path} lacks arrays {missing}: it was not written by "
                f"save_table. Delete it to fetch the data again."
            )
        return _typed({key: data[key] for key in TABLE_KEYS})


def _typed(table):
    return {
        "user": np.asarray(table["user"]).astype(np.int64),
        "movie": np.asarray(table["movie"]).astype(np.int64),
        "rating": np.asarray(table["rating"], dtype=np.float32),
        "timestamp": np.asarray(table["timestamp"]).astype(np.int64),
        "year": np.asarray(table["year"], dtype=np.float32),
        "genres": np.asarray(table["genres"], dtype=str),
    }


def _download_and_unpack(tmp):
    return download_and_unpack(
        DSLABS_PACKAGE,
        tmp,
        "download ml-latest-small from GroupLens and pass its folder as "
        "`data_dir`",
    )
