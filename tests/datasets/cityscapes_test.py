import shutil

import numpy as np
import pytest
import tensorflow as tf

from keras_mtcrl.datasets.cityscapes import CITYSCAPES_CATEGORIES
from keras_mtcrl.datasets.cityscapes import CITYSCAPES_CLASSES
from keras_mtcrl.datasets.cityscapes import build_cityscapes
from keras_mtcrl.datasets.cityscapes import cityscapes_label_table
from keras_mtcrl.testing import dense_fixtures

# Default fixture: train aachen, bochum, bremen; val frankfurt; 2 frames
# each. Sorted cities: aachen 0, bochum 1, bremen 2, frankfurt 3.


def _png(path, dtype=tf.uint8):
    return tf.io.decode_png(tf.io.read_file(str(path)), dtype=dtype).numpy()


def test_label_tables():
    classes = cityscapes_label_table("classes")
    assert len(CITYSCAPES_CLASSES) == 19 and len(CITYSCAPES_CATEGORIES) == 7
    assert sorted(classes[classes >= 0].tolist()) == list(range(19))
    assert classes[[7, 8, 11, 23, 24, 26, 33]].tolist() == [
        0,
        1,
        2,
        10,
        11,
        13,
        18,
    ]
    # Void ids and ids without a train class are ignored.
    assert (
        classes[[0, 1, 2, 3, 4, 5, 6, 9, 10, 14, 15, 16, 18, 29, 30]] == -1
    ).all()
    assert (classes[34:] == -1).all()
    categories = cityscapes_label_table("categories")
    assert (categories[:7] == -1).all()
    assert categories[[7, 9, 10, 15, 18, 22, 23, 25, 30]].tolist() == [
        0,
        0,
        0,
        1,
        2,
        3,
        4,
        5,
        6,
    ]
    assert set(categories[7:34].tolist()) == set(range(7))
    with pytest.raises(ValueError, match="label_set"):
        cityscapes_label_table("fine")


def test_splits_by_city(tmp_path):
    root = dense_fixtures.write_cityscapes(tmp_path)
    data = build_cityscapes(
        root, shifted_cities=["frankfurt"], eval_fraction=0.0
    )
    assert data.sizes == {
        "train": 6,
        "validation": 0,
        "test": 0,
        "validation_shifted": 1,
        "test_shifted": 1,
    }
    assert data.num_environments == 4
    assert [t.units for t in data.tasks] == [19, 1]
    envs = sorted(int(f["env"]) for f, _ in data.split("train"))
    assert envs == [0, 0, 1, 1, 2, 2]
    for f, lab in data.split("test_shifted"):
        assert int(f["env"]) == 3
        assert f["image"].shape == (8, 16, 3)
        assert f["image"].dtype == tf.float32
        seg = lab["segmentation"].numpy()
        assert seg.dtype == np.int32 and seg.min() >= -1 and seg.max() < 19
        assert lab["depth"].shape == (8, 16, 1)


def test_label_and_depth_values(tmp_path):
    root = dense_fixtures.write_cityscapes(
        tmp_path,
        cities={"train": ["aachen"], "val": ["lindau"]},
        frames_per_city=1,
    )
    stem = "aachen_000000_000000"
    ids = _png(root / f"gtFine/train/aachen/{stem}_gtFine_labelIds.png")
    raw = _png(
        root / f"disparity/train/aachen/{stem}_disparity.png", tf.uint16
    ).astype(float)
    data = build_cityscapes(
        root, ["lindau"], label_set="categories", eval_fraction=0.0
    )
    _, lab = next(iter(data.split("train")))
    table = cityscapes_label_table("categories")
    np.testing.assert_array_equal(
        lab["segmentation"].numpy(), table[ids[..., 0]]
    )
    disparity = lab["depth"].numpy()
    assert data.tasks[0].units == 7
    np.testing.assert_array_equal(np.isnan(disparity), raw <= 1)
    np.testing.assert_allclose(disparity[raw > 1], (raw[raw > 1] - 1) / 256)
    metric = build_cityscapes(
        root,
        ["lindau"],
        tasks=["depth"],
        focal_baseline=500.0,
        eval_fraction=0.0,
    )
    _, lab = next(iter(metric.split("train")))
    np.testing.assert_allclose(
        lab["depth"].numpy()[raw > 1],
        500.0 * 256 / (raw[raw > 1] - 1),
        rtol=1e-5,
    )


def test_depth_only_needs_no_gtfine(tmp_path):
    root = dense_fixtures.write_cityscapes(tmp_path)
    shutil.rmtree(root / "gtFine")
    data = build_cityscapes(root, ["frankfurt"], tasks=["depth"])
    _, lab = next(iter(data.split("train")))
    assert list(lab) == ["depth"]


def test_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="leftImg8bit"):
        build_cityscapes(tmp_path)
    root = dense_fixtures.write_cityscapes(tmp_path)
    (
        root
        / "gtFine/train/bochum"
        / "bochum_000001_000019_gtFine_labelIds.png"
    ).unlink()
    with pytest.raises(
        FileNotFoundError, match="1 'segmentation' files .*bochum_000001_000019"
    ):
        build_cityscapes(root)
    with pytest.raises(ValueError, match="`tasks`"):
        build_cityscapes(root, tasks=["normal"])
    with pytest.raises(ValueError, match="unknown: \\['paris'\\]"):
        build_cityscapes(root, shifted_cities=["paris"], tasks=["depth"])
