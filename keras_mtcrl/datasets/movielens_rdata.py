"""Reads objects from an R lazy-load database without R.

R packages installed by Debian keep their data sets in a lazy-load
database: `data/Rdata.rdx` is a gzip-compressed serialized R list that maps
each object's name to an `(offset, length)` pair in `data/Rdata.rdb`; each
object there is a 4-byte big-endian length and its compressed
serialization. The PyPI package `rdata` parses serialized R objects.
"""

import bz2
import lzma
import pathlib
import zlib

import numpy as np


def read_lazyload_object(data_dir, name):
    """Reads object `name` from an R lazy-load database (`Rdata.rdx/.rdb`).

    Args:
        data_dir: str or path-like. The folder holding `Rdata.rdx` and
            `Rdata.rdb` (an R package's `data/` folder).
        name: str. The object's name, e.g. `"movielens"`.

    Returns:
        The object converted by `rdata` (a data frame becomes a
        `pandas.DataFrame`).

    Example:

    >>> import pathlib, tempfile, zlib
    >>> import rdata
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> rdata.write_rds(folder / "x.rds", np.array([1.5, 2.5]),
    ...                 compression=None)
    >>> blob = (folder / "x.rds").read_bytes()
    >>> entry = len(blob).to_bytes(4, "big") + zlib.compress(blob)
    >>> _ = (folder / "Rdata.rdb").write_bytes(entry)
    >>> index = {"variables": {"x": np.array([0, len(entry)], np.int32)},
    ...          "references": {}, "compressed": True}
    >>> rdata.write_rds(folder / "Rdata.rdx", index)
    >>> read_lazyload_object(folder, "x")
    array([1.5, 2.5])
    """
    rdata = _import_rdata()
    data_dir = pathlib.Path(data_dir)
    index_path = data_dir / "Rdata.rdx"
    if not index_path.is_file():
        raise FileNotFoundError(
            f"{index_path} not found: {data_dir} is not an R lazy-load "
            f"data folder (it needs Rdata.rdx and Rdata.rdb)."
        )
    index = rdata.conversion.convert(_parse(rdata, index_path.read_bytes()))
    variables = {str(key): value for key, value in index["variables"].items()}
    if name not in variables:
        raise ValueError(
            f"{index_path} has no object {name!r}. It has: {sorted(variables)}"
        )
    offset, length = (int(v) for v in variables[name])
    with open(data_dir / "Rdata.rdb", "rb") as f:
        f.seek(offset)
        blob = f.read(length)
    compression = int(np.ravel(index["compressed"])[0])
    return rdata.conversion.convert(_parse(rdata, _inflate(blob, compression)))


def _inflate(blob, compression):
    # R's lazy-load entries: a 4-byte big-endian length, then zlib data
    # (compression 1); with compression 2 or 3 a type byte comes first:
    # 'Z' xz, '2' bzip2, '1' zlib, '0' stored.
    if compression == 1:
        return zlib.decompress(blob[4:])
    kind, body = blob[4:5], blob[5:]
    inflate = {
        b"Z": lzma.decompress,
        b"2": bz2.decompress,
        b"1": zlib.decompress,
        b"0": bytes,
    }.get(kind)
    if compression not in (2, 3) or inflate is None:
        raise ValueError(
            f"Unknown lazy-load compression {compression} / type byte "
            f"{kind!r}; known: 1 (zlib), 2 and 3 (type byte Z, 2, 1, 0)."
        )
    return inflate(body)


def _parse(rdata, data):
    return rdata.parser.parse_data(bytes(data), extension=".rds")


def _import_rdata():
    try:
        import rdata
    except ImportError as error:
        raise ImportError(
            "Reading R data needs the PyPI package `rdata`: "
            "`pip install rdata`."
        ) from error
    return rdata
