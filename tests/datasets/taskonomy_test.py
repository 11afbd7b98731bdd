import shutil

import numpy as np
import pytest
import tensorflow as tf

from keras_mtcrl.datasets.taskonomy import build_taskonomy
from keras_mtcrl.testing import dense_fixtures

# Default fixture: buildings allensville 0, beechwood 1, coffeen 2; points
# 0, 1, 2 with views 0, 1, 0.


def _png(path, dtype=tf.uint8):
    return tf.io.decode_png(tf.io.read_file(str(path)), dtype=dtype).numpy()


def test_splits_by_building(tmp_path):
    root = dense_fixtures.write_taskonomy(tmp_path)
    data = build_taskonomy(
        root, shifted_buildings=["coffeen"], eval_fraction=0.0
    )
    assert data.sizes == {
        "train": 6,
        "validation": 0,
        "test": 0,
        "validation_shifted": 2,
        "test_shifted": 1,
    }
    assert data.num_environments == 3
    assert [t.units for t in data.tasks] == [17, 1, 3]
    assert sorted(int(f["env"]) for f, _ in data.split("train")) == [
        0,
        0,
        0,
        1,
        1,
        1,
    ]
    for f, lab in data.split("validation_shifted"):
        assert int(f["env"]) == 2
        assert f["image"].shape == (8, 8, 3)
        assert f["image"].dtype == tf.float32
        assert lab["segmentation"].dtype == tf.int32
        assert lab["depth"].shape == (8, 8, 1)
        assert lab["normal"].shape == (8, 8, 3)


def test_decoded_values(tmp_path):
    root = dense_fixtures.write_taskonomy(
        tmp_path, buildings=("a", "b"), points_per_building=1
    )
    data = build_taskonomy(root, ["b"], num_classes=10, eval_fraction=0.0)
    _, lab = next(iter(data.split("train")))
    folder = root / "a"
    raw_depth = _png(
        folder / "depth_zbuffer/point_0_view_0_domain_depth_zbuffer.png",
        tf.uint16,
    )[..., 0].astype(float)
    depth = lab["depth"].numpy()[..., 0]
    np.testing.assert_array_equal(np.isnan(depth), raw_depth == 65535)
    known = raw_depth != 65535
    np.testing.assert_allclose(depth[known], raw_depth[known] / 512)
    raw_normal = _png(folder / "normal/point_0_view_0_domain_normal.png")
    normal = lab["normal"].numpy()
    gray = (raw_normal == 128).all(-1)
    np.testing.assert_array_equal(np.isnan(normal[..., 0]), gray)
    vector = raw_normal[~gray] / 255 * 2 - 1
    expected = vector / np.linalg.norm(vector, axis=-1, keepdims=True)
    np.testing.assert_allclose(normal[~gray], expected, atol=1e-5)
    raw_seg = _png(
        folder / "segment_semantic/point_0_view_0_domain_segment_semantic.png"
    )[..., 0].astype(int)
    expected = np.where((raw_seg >= 1) & (raw_seg <= 10), raw_seg - 1, -1)
    np.testing.assert_array_equal(lab["segmentation"].numpy(), expected)


def test_task_subset_needs_only_its_folders(tmp_path):
    root = dense_fixtures.write_taskonomy(tmp_path)
    for building in ("allensville", "beechwood", "coffeen"):
        shutil.rmtree(root / building / "normal")
    data = build_taskonomy(root, tasks=["depth"])
    _, lab = next(iter(data.split("train")))
    assert list(lab) == ["depth"]
    with pytest.raises(FileNotFoundError, match="allensville/normal'"):
        build_taskonomy(root, tasks=["normal"])


def test_pairing_errors_name_missing_files(tmp_path):
    root = dense_fixtures.write_taskonomy(tmp_path)
    (
        root / "beechwood/depth_zbuffer/point_1_view_1_domain_depth_zbuffer.png"
    ).unlink()
    with pytest.raises(
        FileNotFoundError,
        match="'beechwood' .* 'depth'.*point_1_view_1_domain_depth_zbuffer.png",
    ):
        build_taskonomy(root)
    extra = root / "allensville/normal/point_9_view_0_domain_normal.png"
    shutil.copy(
        root / "allensville/normal/point_0_view_0_domain_normal.png", extra
    )
    with pytest.raises(
        FileNotFoundError, match="rgb/point_9_view_0_domain_rgb.png"
    ):
        build_taskonomy(root, tasks=["normal"])


def test_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        build_taskonomy(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="No building folder"):
        build_taskonomy(tmp_path)
