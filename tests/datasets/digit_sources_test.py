import gzip
import struct

import numpy as np
import pytest

from keras_mtcrl.datasets import digit_sources
from keras_mtcrl.datasets.digit_sources import load_digit_source
from keras_mtcrl.datasets.digit_sources import load_fashion_mnist
from keras_mtcrl.datasets.digit_sources import load_mnist_10k

MNIST_CLASS_COUNTS = [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]


def write_fashion_split(folder, labels, split="t10k", compress=True):
    """Writes `<split>-{images,labels}-idx*-ubyte[.gz]` like the real files."""
    labels = np.asarray(labels, np.uint8)
    images = np.zeros((len(labels), 28, 28), np.uint8)
    images[:, 14, 14] = labels * 20 + 1
    files = {
        f"{split}-images-idx3-ubyte": struct.pack(
            ">IIII", 0x00000803, len(labels), 28, 28
        )
        + images.tobytes(),
        f"{split}-labels-idx1-ubyte": struct.pack(
            ">II", 0x00000801, len(labels)
        )
        + labels.tobytes(),
    }
    for name, data in files.items():
        if compress:
            (folder / f"{name}.gz").write_bytes(gzip.compress(data))
        else:
            (folder / name).write_bytes(data)
    return images


@pytest.fixture(scope="module")
def mnist():
    return load_mnist_10k()


def test_mnist_shapes_and_dtypes(mnist):
    images, labels = mnist
    assert images.shape == (10_000, 28, 28)
    assert labels.shape == (10_000,)
    assert images.dtype == np.uint8
    assert labels.dtype == np.uint8


def test_mnist_has_every_class_and_known_counts(mnist):
    _, labels = mnist
    counts = np.bincount(labels, minlength=10)
    assert len(counts) == 10
    assert counts.tolist() == MNIST_CLASS_COUNTS
    assert counts.sum() == 10_000
    # Stored in class order.
    assert np.all(np.diff(labels.astype(int)) >= 0)


def test_mnist_pixels_look_like_mnist(mnist):
    images, _ = mnist
    assert images.min() == 0
    assert images.max() == 255
    # MNIST's mean grey level is about 33; the border is background.
    assert 30 < images.mean() < 37
    assert images[:, 0, :].max() == 0
    flat = images.reshape(len(images), -1)
    assert len(np.unique(flat, axis=0)) == 10_000


def test_fashion_reads_gz_files(tmp_path):
    images = write_fashion_split(tmp_path, [9, 0, 3])
    loaded_images, loaded_labels = load_fashion_mnist(tmp_path)
    np.testing.assert_array_equal(loaded_images, images)
    assert loaded_labels.tolist() == [9, 0, 3]


def test_fashion_reads_plain_files_and_train_split(tmp_path):
    write_fashion_split(tmp_path, [1, 2], split="train", compress=False)
    images, labels = load_fashion_mnist(str(tmp_path), split="train")
    assert images.shape == (2, 28, 28)
    assert labels.tolist() == [1, 2]


def test_fashion_missing_default_dir_says_how_to_install(tmp_path, monkeypatch):
    absent = tmp_path / "absent"
    monkeypatch.setattr(digit_sources, "FASHION_MNIST_DIR", str(absent))
    with pytest.raises(FileNotFoundError) as info:
        load_fashion_mnist()
    message = str(info.value)
    assert "apt-get install dataset-fashion-mnist" in message
    assert str(absent / "t10k-images-idx3-ubyte.gz") in message
    assert "data_dir" in message


def test_fashion_missing_labels_file(tmp_path):
    write_fashion_split(tmp_path, [1])
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte"):
        load_fashion_mnist(tmp_path)


def test_fashion_default_dir_is_debian_package():
    assert digit_sources.FASHION_MNIST_DIR == (
        "/usr/share/datasets/fashion-mnist"
    )


def test_fashion_bad_split(tmp_path):
    with pytest.raises(ValueError, match="split='test'"):
        load_fashion_mnist(tmp_path, split="test")


def test_fashion_count_mismatch(tmp_path):
    write_fashion_split(tmp_path, [1, 2, 3])
    labels = struct.pack(">II", 0x801, 2) + bytes([1, 2])
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(labels))
    with pytest.raises(ValueError, match="holds 3 images"):
        load_fashion_mnist(tmp_path)


def test_fashion_label_out_of_range(tmp_path):
    write_fashion_split(tmp_path, [1, 12])
    with pytest.raises(ValueError, match="class ids 0-9.*12"):
        load_fashion_mnist(tmp_path)


def test_fashion_wrong_image_shape(tmp_path):
    write_fashion_split(tmp_path, [1])
    data = struct.pack(">IIII", 0x803, 1, 14, 56) + bytes(784)
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(data))
    with pytest.raises(ValueError, match=r"\(1, 14, 56\)"):
        load_fashion_mnist(tmp_path)


def test_load_digit_source_mnist(mnist):
    images, labels = load_digit_source("mnist")
    np.testing.assert_array_equal(images, mnist[0])
    np.testing.assert_array_equal(labels, mnist[1])


def test_load_digit_source_fashion_uses_t10k(tmp_path):
    write_fashion_split(tmp_path, [4, 4, 5])
    write_fashion_split(tmp_path, [0], split="train")
    _, labels = load_digit_source("fashion_mnist", tmp_path)
    assert labels.tolist() == [4, 4, 5]


def test_load_digit_source_errors(tmp_path):
    with pytest.raises(ValueError, match="source='cifar10'"):
        load_digit_source("cifar10")
    with pytest.raises(ValueError, match="only used with source='fashion"):
        load_digit_source("mnist", tmp_path)
