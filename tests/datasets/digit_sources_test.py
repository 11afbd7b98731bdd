import gzip
import os
import shutil
import struct
import subprocess

import numpy as np
import pytest

from keras_mtcrl.datasets import debian_package
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


def test_fashion_without_apt_get_says_what_to_do(tmp_path, monkeypatch):
    absent = str(tmp_path / "no")
    monkeypatch.setattr(digit_sources, "FASHION_MNIST_DIR", absent)
    monkeypatch.setenv("KERAS_MTCRL_DATA", str(tmp_path / "cache"))
    monkeypatch.setattr(debian_package.shutil, "which", lambda _: None)
    with pytest.raises(FileNotFoundError) as info:
        load_fashion_mnist()
    message = str(info.value)
    assert "apt-get" in message and "dataset-fashion-mnist" in message
    assert "data_dir" in message


def test_fashion_reads_the_installed_package_first(tmp_path, monkeypatch):
    installed = tmp_path / "installed"
    installed.mkdir()
    for split in ("train", "t10k"):
        write_fashion_split(installed, [3, 4], split=split)
    monkeypatch.setattr(digit_sources, "FASHION_MNIST_DIR", str(installed))
    assert digit_sources.fetch_fashion_mnist(tmp_path / "cache") == installed
    assert load_fashion_mnist()[1].tolist() == [3, 4]


@pytest.mark.skipif(
    shutil.which("dpkg-deb") is None, reason="needs dpkg-deb (Debian)"
)
def test_fashion_fetches_the_debian_package_once(tmp_path, monkeypatch):
    # A real .deb in the package's layout, served by a stand-in apt-get.
    package_root = tmp_path / "pkg"
    folder = package_root / "usr/share/datasets/fashion-mnist"
    folder.mkdir(parents=True)
    for split in ("train", "t10k"):
        write_fashion_split(folder, [7, 1, 9], split=split)
    (package_root / "DEBIAN").mkdir()
    (package_root / "DEBIAN/control").write_text(
        "Package: dataset-fashion-mnist\nVersion: 1.0\nArchitecture: all\n"
        "Maintainer: test <t@example.org>\nDescription: fixture\n"
    )
    deb = tmp_path / "dataset-fashion-mnist_1.0_all.deb"
    subprocess.run(
        ["dpkg-deb", "--build", str(package_root), str(deb)],
        check=True, capture_output=True,
    )
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls.txt"
    fake = bin_dir / "apt-get"
    fake.write_text(f'#!/bin/sh\necho "$@" >> {calls}\ncp {deb} .\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    absent = str(tmp_path / "no")
    monkeypatch.setattr(digit_sources, "FASHION_MNIST_DIR", absent)
    monkeypatch.setenv("KERAS_MTCRL_DATA", str(tmp_path / "cache"))

    images, labels = load_fashion_mnist()
    assert labels.tolist() == [7, 1, 9] and images.shape == (3, 28, 28)
    cached = tmp_path / "cache" / "fashion-mnist"
    assert sorted(p.name for p in cached.iterdir()) == sorted(
        f"{s}-{k}-ubyte.gz"
        for s in ("train", "t10k")
        for k in ("images-idx3", "labels-idx1")
    )
    # The second load reads the cache: apt-get ran once.
    load_fashion_mnist(split="train")
    assert calls.read_text().split("\n")[:-1] == [
        "download dataset-fashion-mnist"
    ]


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


@pytest.mark.slow
def test_real_fashion_fetch_matches_the_published_counts(tmp_path, monkeypatch):
    if shutil.which("apt-get") is None:
        pytest.skip("apt-get is not available")
    absent = str(tmp_path / "no")
    monkeypatch.setattr(digit_sources, "FASHION_MNIST_DIR", absent)
    folder = digit_sources.fetch_fashion_mnist(tmp_path)
    assert folder == tmp_path / "fashion-mnist"
    for split, per_class in (("t10k", 1000), ("train", 6000)):
        images, labels = load_fashion_mnist(folder, split=split)
        assert np.bincount(labels).tolist() == [per_class] * 10
        assert images.shape == (10 * per_class, 28, 28)
