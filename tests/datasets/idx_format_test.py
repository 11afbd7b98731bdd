import gzip
import struct

import numpy as np
import pytest

from keras_mtcrl.datasets.idx_format import read_idx


def write_idx(path, type_code, shape, payload, compress=True):
    """Writes an idx file byte by byte: magic, big-endian dims, values."""
    magic = struct.pack(">BBBB", 0, 0, type_code, len(shape))
    dims = struct.pack(f">{len(shape)}I", *shape)
    data = magic + dims + payload
    if compress:
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


def test_reads_gzipped_uint8_images(tmp_path):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    path = write_idx(
        tmp_path / "x-images-idx3-ubyte.gz", 0x08, (2, 3, 4), images.tobytes()
    )
    # The magic number of an MNIST image file.
    assert gzip.decompress(path.read_bytes())[:4] == b"\x00\x00\x08\x03"
    result = read_idx(path)
    assert result.dtype == np.uint8
    np.testing.assert_array_equal(result, images)


def test_reads_plain_uint8_labels(tmp_path):
    path = write_idx(
        tmp_path / "x-labels-idx1-ubyte",
        0x08,
        (5,),
        bytes([3, 1, 4, 1, 5]),
        compress=False,
    )
    assert path.read_bytes()[:4] == b"\x00\x00\x08\x01"
    np.testing.assert_array_equal(read_idx(str(path)), [3, 1, 4, 1, 5])


def test_gzip_is_detected_from_content_not_name(tmp_path):
    path = write_idx(tmp_path / "labels.idx", 0x08, (2,), bytes([9, 8]))
    np.testing.assert_array_equal(read_idx(path), [9, 8])


def test_reads_big_endian_int32_in_native_order(tmp_path):
    values = [1, -2, 70000]
    path = write_idx(
        tmp_path / "ints.gz", 0x0C, (3,), struct.pack(">3i", *values)
    )
    result = read_idx(path)
    assert result.dtype == np.dtype("int32")
    assert result.dtype.isnative
    assert result.tolist() == values


def test_result_is_writable(tmp_path):
    path = write_idx(tmp_path / "a.gz", 0x08, (2,), bytes([1, 2]))
    result = read_idx(path)
    result[0] = 7
    assert result.tolist() == [7, 2]


def test_bad_magic_names_the_file(tmp_path):
    path = tmp_path / "bad.idx"
    path.write_bytes(b"\x01\x00\x08\x01\x00\x00\x00\x01\x05")
    with pytest.raises(ValueError, match=r"bad\.idx is not an idx file"):
        read_idx(path)


def test_unknown_type_code(tmp_path):
    path = write_idx(tmp_path / "t.gz", 0x07, (1,), b"\x00")
    with pytest.raises(ValueError, match="unknown idx element type 0x07"):
        read_idx(path)


def test_truncated_data(tmp_path):
    path = write_idx(tmp_path / "short.gz", 0x08, (2, 28, 28), bytes(100))
    with pytest.raises(ValueError, match=r"should hold 1568 bytes.*holds 100"):
        read_idx(path)


def test_truncated_header(tmp_path):
    path = tmp_path / "head.gz"
    path.write_bytes(gzip.compress(b"\x00\x00\x08\x03\x00\x00"))
    with pytest.raises(ValueError, match="names 3 dimensions"):
        read_idx(path)


def test_corrupt_gzip(tmp_path):
    path = tmp_path / "broken.gz"
    path.write_bytes(gzip.compress(bytes(64))[:20])
    with pytest.raises(ValueError, match="does not decompress"):
        read_idx(path)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "nothing.gz")
