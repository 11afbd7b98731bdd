"""Reader for the idx file format of MNIST and Fashion-MNIST."""

import gzip
import os

import numpy as np

# The third header byte names the element type; values are big-endian.
IDX_DTYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
GZIP_MAGIC = b"\x1f\x8b"


def read_idx(path):
    """Reads an idx file (plain or gzip-compressed) into a numpy array.

    An idx file is a 4-byte magic number `0x0000TTNN` (`TT` the element
    type, e.g. `0x08` for uint8; `NN` the number of dimensions), then one
    big-endian uint32 per dimension, then the values in C order. MNIST's
    images are `0x00000803` (uint8, 3 dimensions), its labels
    `0x00000801`. Gzip compression is recognised from the file's content,
    not its name.

    Args:
        path: str or path-like. The `.idx` / `-ubyte` file or its `.gz`.

    Returns:
        A numpy array with the file's shape, in native byte order.

    Example:

    >>> import gzip, os, struct, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "t10k-labels-idx1-ubyte.gz")
    >>> with gzip.open(path, "wb") as f:
    ...     _ = f.write(struct.pack(">II", 0x00000801, 3) + bytes([7, 2, 1]))
    >>> read_idx(path)
    array([7, 2, 1], dtype=uint8)
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as error:
            raise ValueError(
                f"{path} looks gzip-compressed but does not decompress "
                f"({error}). Re-download or re-install the file."
            ) from error
    return _parse_idx(data, path)


def _parse_idx(data, path):
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise ValueError(
            f"{path} is not an idx file: it must start with two zero bytes "
            f"(magic 0x0000TTNN). Received first bytes: {data[:4].hex()}"
        )
    type_code, ndim = data[2], data[3]
    if type_code not in IDX_DTYPES:
        raise ValueError(
            f"{path} has unknown idx element type 0x{type_code:02x}. "
            f"Known: {sorted(f'0x{code:02x}' for code in IDX_DTYPES)}"
        )
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise ValueError(
            f"{path} is truncated: its header names {ndim} dimensions but "
            f"the file has only {len(data)} bytes."
        )
    shape = tuple(
        int(size) for size in np.frombuffer(data, ">u4", ndim, offset=4)
    )
    dtype = IDX_DTYPES[type_code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) - header_size != expected:
        raise ValueError(
            f"{path} should hold {expected} bytes of data for shape {shape} "
            f"and type {dtype}, but holds {len(data) - header_size}. The "
            "file is truncated or not an idx file."
        )
    values = np.frombuffer(data, dtype, offset=header_size).reshape(shape)
    return values.astype(dtype.newbyteorder("="))
