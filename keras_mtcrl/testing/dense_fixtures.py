"""Writers of tiny dense-prediction fixtures in each dataset's real format.

Tests (and recipe smoke tests) call these on a temporary folder to get a
few random examples laid out exactly as the published NYUv2, CityScapes
and Taskonomy files are, so the loaders are exercised end to end without
the real data.
"""

import csv
import pathlib

import h5py
import numpy as np
import tensorflow as tf

_NYU_SCENES = {
    "train": ("kitchen", "kitchen", "bedroom", "bedroom", "office"),
    "val": ("kitchen", "office", "bathroom"),
}
_CITIES = {"train": ("aachen", "bochum", "bremen"), "val": ("frankfurt",)}
_BUILDINGS = ("allensville", "beechwood", "coffeen")
# A MAT-file header: 116 bytes of text, 8 of subsystem offset, version
# 0x0200 and the endian mark, in the HDF5 user block.
_MAT_HEADER = (
    b"MATLAB 7.3 MAT-file, written by keras_mtcrl test fixtures".ljust(116)
    + b" " * 8
    + b"\x00\x02IM"
)


def write_png(path, array):
    """Writes a uint8 or uint16 array `(H, W)` or `(H, W, C)` as a PNG.

    Args:
        path: str or path-like. File to write; parent folders are made.
        array: np.ndarray. uint8 or uint16 pixel values.

    Returns:
        The `pathlib.Path` written.

    Example:

    >>> import tempfile
    >>> path = write_png(f"{tempfile.mkdtemp()}/a.png",
    ...                  np.full((2, 3), 700, "uint16"))
    >>> tf.io.decode_png(tf.io.read_file(str(path)), dtype=tf.uint16).shape
    TensorShape([2, 3, 1])
    """
    array = np.asarray(array)
    if array.dtype not in (np.uint8, np.uint16):
        raise ValueError(
            f"PNG pixels must be uint8 or uint16, not {array.dtype}."
        )
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = array[..., None] if array.ndim == 2 else array
    tf.io.write_file(str(path), tf.io.encode_png(pixels))
    return path


def _random_normals(rng, shape):
    normals = rng.normal(size=shape + (3,))
    normals[..., 2] = np.abs(normals[..., 2]) + 0.1
    return normals / np.linalg.norm(normals, axis=-1, keepdims=True)


def write_nyuv2_npy(
    root, scenes=None, image_size=(12, 16), seed=0, scenes_csv=True
):
    """Writes the preprocessed NYUv2 multi-task layout.

    `ROOT/{train,val}/{image,label,depth,normal}/N.npy`: image float32
    `(H, W, 3)` in `[0, 1]`, label float32 `(H, W)` in `-1..12`, depth
    float32 `(H, W, 1)` (0 = missing), normal float32 `(H, W, 3)` (zero
    vectors where depth is missing); with `scenes_csv`, also
    `ROOT/{split}/scenes.csv` with columns `index,scene`.

    Args:
        root: str or path-like. Folder to write into.
        scenes: dict. Folder (`"train"`, `"val"`) to one scene name per
            example. Defaults to `None`: 5 train and 3 val examples over
            4 scene types.
        image_size: tuple of int. `(height, width)`. Defaults to
            `(12, 16)`.
        seed: int. Random seed. Defaults to `0`.
        scenes_csv: bool. Whether to write `scenes.csv`. Defaults to
            `True`.

    Returns:
        The root `pathlib.Path`.

    Example:

    >>> import tempfile
    >>> root = write_nyuv2_npy(tempfile.mkdtemp())
    >>> np.load(root / "train" / "normal" / "0.npy").shape
    (12, 16, 3)
    """
    root = pathlib.Path(root)
    rng = np.random.default_rng(seed)
    shape = tuple(image_size)
    for split, names in (scenes or _NYU_SCENES).items():
        for kind in ("image", "label", "depth", "normal"):
            (root / split / kind).mkdir(parents=True, exist_ok=True)
        for i in range(len(names)):
            missing = rng.random(shape) < 0.1
            depth = np.where(missing, 0.0, rng.uniform(0.5, 10.0, shape))
            normal = np.where(
                missing[..., None], 0.0, _random_normals(rng, shape)
            )
            arrays = {
                "image": rng.random(shape + (3,)),
                "label": rng.integers(-1, 13, shape).astype("float32"),
                "depth": depth[..., None],
                "normal": normal,
            }
            for kind, array in arrays.items():
                np.save(
                    root / split / kind / f"{i}.npy", array.astype("float32")
                )
        if scenes_csv:
            with open(root / split / "scenes.csv", "w", newline="") as f:
                writer = csv.writer(f)
                writer.writerow(("index", "scene"))
                writer.writerows(enumerate(names))
    return root


def _write_matlab_strings(file, name, strings):
    # MATLAB v7.3 stores a cell array of char arrays as object references
    # into the "#refs#" group, each char array as uint16 codes.
    refs = file.require_group("#refs#")
    handles = []
    for i, text in enumerate(strings):
        codes = np.array([[ord(c)] for c in text], dtype="uint16")
        char = refs.create_dataset(f"{name}_{i}", data=codes)
        char.attrs["MATLAB_class"] = np.bytes_("char")
        handles.append(char.ref)
    cell = file.create_dataset(
        name, data=np.array([handles], dtype=h5py.ref_dtype)
    )
    cell.attrs["MATLAB_class"] = np.bytes_("cell")


def write_nyuv2_mat(path, scene_types=None, image_size=(12, 16), seed=0):
    """Writes a tiny `nyu_depth_v2_labeled.mat` (MATLAB v7.3, i.e. HDF5).

    As in the official file, arrays are stored with MATLAB's reversed
    axes: `images` `(N, 3, W, H)` uint8, `depths` `(N, W, H)` float32
    metres, `labels` `(N, W, H)` uint16 in `0..894` (0 = unlabeled) and
    `sceneTypes` a `(1, N)` cell of strings.

    Args:
        path: str or path-like. The `.mat` file to write.
        scene_types: sequence of str. One scene type per image. Defaults to
            `None`: 6 images over 4 scene types.
        image_size: tuple of int. `(height, width)`. Defaults to
            `(12, 16)`.
        seed: int. Random seed. Defaults to `0`.

    Returns:
        The `pathlib.Path` written.

    Example:

    >>> import tempfile
    >>> path = write_nyuv2_mat(f"{tempfile.mkdtemp()}/nyu.mat")
    >>> with h5py.File(path, "r") as f:
    ...     f["images"].shape
    (6, 3, 16, 12)
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    scene_types = tuple(
        scene_types
        or ("kitchen", "kitchen", "bedroom", "bedroom", "office", "bathroom")
    )
    rng = np.random.default_rng(seed)
    n, (height, width) = len(scene_types), image_size
    with h5py.File(path, "w", userblock_size=512) as f:
        f.create_dataset(
            "images",
            data=rng.integers(0, 256, (n, 3, width, height), dtype="uint8"),
        )
        f.create_dataset(
            "depths",
            data=rng.uniform(0.5, 10.0, (n, width, height)).astype("float32"),
        )
        f.create_dataset(
            "labels",
            data=rng.integers(0, 895, (n, width, height), dtype="uint16"),
        )
        for key, cls in (
            ("images", "uint8"),
            ("depths", "single"),
            ("labels", "uint16"),
        ):
            f[key].attrs["MATLAB_class"] = np.bytes_(cls)
        _write_matlab_strings(f, "sceneTypes", scene_types)
    with open(path, "r+b") as f:
        f.write(_MAT_HEADER)
    return path


def write_cityscapes(
    root, cities=None, frames_per_city=2, image_size=(8, 16), seed=0
):
    """Writes the CityScapes layout: leftImg8bit, gtFine, disparity.

    Files are `ROOT/leftImg8bit/{split}/{city}/{city}_{seq}_{frame}_
    leftImg8bit.png` (RGB uint8), `ROOT/gtFine/.../..._gtFine_labelIds.png`
    (uint8 label ids `0..33`) and `ROOT/disparity/.../..._disparity.png`
    (uint16, 0 = missing).

    Args:
        root: str or path-like. Folder to write into.
        cities: dict. Split name to city names. Defaults to `None`: three
            train cities and one val city.
        frames_per_city: int. Frames written per city. Defaults to `2`.
        image_size: tuple of int. `(height, width)`. Defaults to `(8, 16)`.
        seed: int. Random seed. Defaults to `0`.

    Returns:
        The root `pathlib.Path`.

    Example:

    >>> import tempfile
    >>> root = write_cityscapes(tempfile.mkdtemp())
    >>> len(list(root.glob("gtFine/*/*/*_gtFine_labelIds.png")))
    8
    """
    root = pathlib.Path(root)
    rng = np.random.default_rng(seed)
    shape = tuple(image_size)
    for split, names in (cities or _CITIES).items():
        for city in names:
            for frame in range(frames_per_city):
                stem = f"{city}_{frame:06d}_{19 * frame:06d}"
                folder = f"{split}/{city}/{stem}"
                disparity = rng.integers(1, 30000, shape, dtype="uint16")
                disparity[rng.random(shape) < 0.1] = 0
                write_png(
                    root / f"leftImg8bit/{folder}_leftImg8bit.png",
                    rng.integers(0, 256, shape + (3,), dtype="uint8"),
                )
                write_png(
                    root / f"gtFine/{folder}_gtFine_labelIds.png",
                    rng.integers(0, 34, shape, dtype="uint8"),
                )
                write_png(root / f"disparity/{folder}_disparity.png", disparity)
    return root


def write_taskonomy(
    root, buildings=_BUILDINGS, points_per_building=3, image_size=(8, 8), seed=0
):
    """Writes the Taskonomy layout: rgb, depth_zbuffer, normal, segments.

    Files are `ROOT/{building}/{domain}/point_{i}_view_{j}_domain_
    {domain}.png` for `rgb` (RGB uint8), `depth_zbuffer` (uint16,
    metres * 512, 65535 = missing), `normal` (RGB uint8, value / 255 * 2
    - 1; gray 128 where missing) and `segment_semantic` (uint8 ids
    `0..17`, 0 = unlabeled).

    Args:
        root: str or path-like. Folder to write into.
        buildings: sequence of str. Building names. Defaults to three.
        points_per_building: int. Points written per building, each with
            one view. Defaults to `3`.
        image_size: tuple of int. `(height, width)`. Defaults to `(8, 8)`.
        seed: int. Random seed. Defaults to `0`.

    Returns:
        The root `pathlib.Path`.

    Example:

    >>> import tempfile
    >>> root = write_taskonomy(tempfile.mkdtemp())
    >>> sorted(p.name for p in (root / "coffeen").iterdir())
    ['depth_zbuffer', 'normal', 'rgb', 'segment_semantic']
    """
    root = pathlib.Path(root)
    rng = np.random.default_rng(seed)
    shape = tuple(image_size)
    for building in buildings:
        for point in range(points_per_building):
            missing = rng.random(shape) < 0.1
            depth = rng.integers(256, 20000, shape, dtype="uint16")
            depth[missing] = 65535
            normal = np.round((_random_normals(rng, shape) + 1) / 2 * 255)
            normal[missing] = 128
            arrays = {
                "rgb": rng.integers(0, 256, shape + (3,), dtype="uint8"),
                "depth_zbuffer": depth,
                "normal": normal.astype("uint8"),
                "segment_semantic": rng.integers(0, 18, shape, dtype="uint8"),
            }
            for domain, array in arrays.items():
                name = f"point_{point}_view_{point % 2}_domain_{domain}.png"
                write_png(root / building / domain / name, array)
    return root
