import h5py
import numpy as np
import pytest
import tensorflow as tf

from keras_mtcrl.datasets.dense_pipeline import DensePipeline
from keras_mtcrl.datasets.nyuv2 import NYUV2_RAW_CLASSES
from keras_mtcrl.datasets.nyuv2 import build_nyuv2
from keras_mtcrl.testing import dense_fixtures

# Default fixture: train kitchen, kitchen, bedroom, bedroom, office;
# val kitchen, office, bathroom. Sorted scenes: bathroom 0, bedroom 1,
# kitchen 2, office 3.


def _all(dataset):
    return [(f, lab) for f, lab in dataset]


def test_npy_layout_splits_by_scene(tmp_path):
    root = dense_fixtures.write_nyuv2_npy(tmp_path)
    data = build_nyuv2(
        root, shifted_scenes=["office", "bathroom"], eval_fraction=0.2
    )
    assert data.sizes == {
        "train": 3,
        "validation": 1,
        "test": 1,
        "validation_shifted": 2,
        "test_shifted": 1,
    }
    assert data.num_environments == 4
    assert [t.units for t in data.tasks] == [13, 1, 3]
    shifted = _all(data.split("validation_shifted")) + _all(
        data.split("test_shifted")
    )
    assert sorted(int(f["env"]) for f, _ in shifted) == [0, 3, 3]
    inside = [
        int(f["env"])
        for name in ("train", "validation", "test")
        for f, _ in data.split(name)
    ]
    assert sorted(inside) == [1, 1, 2, 2, 2]
    for features, labels in data.split("train"):
        assert features["image"].shape == (12, 16, 3)
        assert features["image"].dtype == tf.float32
        seg = labels["segmentation"].numpy()
        assert seg.dtype == np.int32 and seg.shape == (12, 16)
        assert seg.min() >= -1 and seg.max() <= 12
        assert labels["depth"].shape == (12, 16, 1)
        assert labels["normal"].shape == (12, 16, 3)


def test_npy_values_and_missing(tmp_path):
    root = dense_fixtures.write_nyuv2_npy(
        tmp_path, scenes={"train": ["a", "a"], "val": ["b"]}
    )
    data = build_nyuv2(root, shifted_scenes=["b"], eval_fraction=0.0)
    _, labels = next(iter(data.split("train")))
    depth_file = np.load(root / "train" / "depth" / "0.npy")
    depth = labels["depth"].numpy()
    np.testing.assert_array_equal(np.isnan(depth), depth_file == 0)
    np.testing.assert_allclose(
        depth[depth_file > 0], depth_file[depth_file > 0]
    )
    normal = labels["normal"].numpy()
    np.testing.assert_array_equal(
        np.isnan(normal[..., 0]), depth_file[..., 0] == 0
    )
    label_file = np.load(root / "train" / "label" / "0.npy")
    np.testing.assert_array_equal(
        labels["segmentation"].numpy(), label_file.astype(int)
    )


def test_npy_uint8_image_is_scaled(tmp_path):
    root = dense_fixtures.write_nyuv2_npy(
        tmp_path, scenes={"train": ["a"], "val": ["b"]}
    )
    np.save(
        root / "train" / "image" / "0.npy", np.full((12, 16, 3), 255, "uint8")
    )
    data = build_nyuv2(
        root, tasks=["depth"], shifted_scenes=["b"], eval_fraction=0.0
    )
    features, labels = next(iter(data.split("train")))
    assert float(features["image"][0, 0, 0]) == 1.0
    assert list(labels) == ["depth"]


def test_npy_without_scenes_uses_official_val(tmp_path):
    root = dense_fixtures.write_nyuv2_npy(tmp_path, scenes_csv=False)
    with pytest.warns(UserWarning, match="no environment ids"):
        data = build_nyuv2(root, eval_fraction=0.2)
    assert data.num_environments == 0
    assert data.sizes["validation_shifted"] + data.sizes["test_shifted"] == 3
    assert data.sizes["train"] == 3
    features, _ = next(iter(data.split("train")))
    assert "env" not in features
    with pytest.raises(ValueError, match="scenes.csv"):
        build_nyuv2(root, shifted_scenes=["office"])


def test_npy_pipeline_resizes_every_split(tmp_path):
    root = dense_fixtures.write_nyuv2_npy(tmp_path)
    data = build_nyuv2(
        root,
        shifted_scenes=["office"],
        pipeline=DensePipeline(image_size=(6, 8), flip=True),
    )
    for name in data.splits:
        spec = data.split(name).element_spec
        assert spec[0]["image"].shape == (6, 8, 3)
        assert spec[1]["segmentation"].shape == (6, 8)


def test_npy_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nyu_depth_v2_labeled"):
        build_nyuv2(tmp_path / "nowhere")
    root = dense_fixtures.write_nyuv2_npy(tmp_path)
    with pytest.raises(ValueError, match="class_mapping"):
        build_nyuv2(root, class_mapping=np.arange(895))
    (root / "val" / "depth" / "2.npy").unlink()
    with pytest.raises(FileNotFoundError, match="\\['2'\\]"):
        build_nyuv2(root)
    (root / "val" / "depth").rename(root / "val" / "depths")
    with pytest.raises(FileNotFoundError, match="val/depth'"):
        build_nyuv2(root)


def test_npy_scenes_csv_must_cover_every_index(tmp_path):
    root = dense_fixtures.write_nyuv2_npy(tmp_path)
    (root / "val" / "scenes.csv").write_text("index,scene\n0,kitchen\n")
    with pytest.raises(ValueError, match="no scene for indices \\['1', '2'"):
        build_nyuv2(root)


def test_npy_size_mismatch_names_the_file(tmp_path):
    root = dense_fixtures.write_nyuv2_npy(
        tmp_path, scenes={"train": ["a"], "val": ["b"]}
    )
    np.save(root / "train" / "depth" / "0.npy", np.ones((6, 8, 1), "f4"))
    data = build_nyuv2(root, shifted_scenes=["b"], eval_fraction=0.0)
    with pytest.raises(
        tf.errors.InvalidArgumentError, match="train/image/0.npy"
    ):
        next(iter(data.split("train")))


def test_mat_file_orientation_labels_and_scenes(tmp_path):
    path = dense_fixtures.write_nyuv2_mat(tmp_path / "nyu.mat")
    data = build_nyuv2(
        path,
        tasks=("segmentation", "depth"),
        shifted_scenes=["office", "bathroom"],
        eval_fraction=0.0,
    )
    assert data.sizes["train"] == 4 and data.num_environments == 4
    assert data.tasks[0].units == NYUV2_RAW_CLASSES
    assert {int(f["env"]) for f, _ in data.split("train")} == {1, 2}
    features, labels = next(iter(data.split("train")))  # Image 0.
    with h5py.File(path, "r") as f:
        images, depths = f["images"][0], f["depths"][0]
        raw = f["labels"][0].astype(int)
    image = features["image"].numpy()
    assert image.shape == (12, 16, 3)
    # MATLAB's reversed axes: pixel (row 2, col 5, channel 1).
    assert image[2, 5, 1] == pytest.approx(images[1, 5, 2] / 255.0)
    seg = labels["segmentation"].numpy()
    assert seg[2, 5] == raw[5, 2] - 1
    np.testing.assert_array_equal(seg == -1, raw.T == 0)
    assert labels["depth"].numpy()[2, 5, 0] == pytest.approx(depths[5, 2])


def test_mat_class_mapping(tmp_path):
    path = dense_fixtures.write_nyuv2_mat(tmp_path / "nyu.mat")
    mapping = np.arange(NYUV2_RAW_CLASSES) % 40 + 1  # 894 entries.
    data = build_nyuv2(
        path,
        tasks=["segmentation"],
        class_mapping=mapping,
        shifted_scenes=["office"],
        eval_fraction=0.0,
    )
    assert data.tasks[0].units == 40
    _, labels = next(iter(data.split("train")))
    with h5py.File(path, "r") as f:
        raw = f["labels"][0].T.astype(int)
    expected = np.where(raw == 0, -1, (raw - 1) % 40)
    np.testing.assert_array_equal(labels["segmentation"].numpy(), expected)
    with pytest.raises(ValueError, match="895 \\(or 894\\)"):
        build_nyuv2(path, class_mapping=np.ones(40), tasks=["depth"])


def test_mat_errors(tmp_path):
    path = dense_fixtures.write_nyuv2_mat(tmp_path / "nyu.mat")
    with pytest.raises(ValueError, match="no surface normals"):
        build_nyuv2(path)
    not_hdf5 = tmp_path / "old.mat"
    not_hdf5.write_bytes(b"MATLAB 5.0 MAT-file" + bytes(200))
    with pytest.raises(ValueError, match="MATLAB v7.3"):
        build_nyuv2(not_hdf5, tasks=["depth"])
    with h5py.File(path, "a") as f:
        del f["depths"]
    with pytest.raises(ValueError, match="lacks \\['depths'\\]"):
        build_nyuv2(path, tasks=["depth"])
