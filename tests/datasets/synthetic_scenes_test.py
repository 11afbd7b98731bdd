import numpy as np
import pytest

from keras_mtcrl.datasets.synthetic_scenes import SYNTHETIC_SCENE_CLASSES
from keras_mtcrl.datasets.synthetic_scenes import build_synthetic_scenes
from keras_mtcrl.datasets.synthetic_scenes import render_scenes


def _colour_matches_class(scenes):
    """Share of object pixels whose dominant colour channel is the class's.

    The palette's box is red, ball green, wedge blue; shading scales all
    channels alike, so the dominant channel gives the object's colour.
    """
    objects = scenes["segmentation"] > 0
    dominant = scenes["image"].argmax(-1)
    return (dominant[objects] == scenes["segmentation"][objects] - 1).mean()


def test_splits_shapes_ranges_and_environments():
    data = build_synthetic_scenes(
        10, 4, image_size=16, correlations=(0.9, 0.8, 0.7)
    )
    assert data.sizes == {
        "train": 10,
        "validation": 4,
        "test": 4,
        "validation_shifted": 4,
        "test_shifted": 4,
    }
    assert data.num_environments == 4
    assert [t.units for t in data.tasks] == [4, 1, 3]
    assert all(t.dense for t in data.tasks)
    envs = [int(f["env"]) for f, _ in data.split("train")]
    assert envs == [0, 1, 2, 0, 1, 2, 0, 1, 2, 0]
    assert {int(f["env"]) for f, _ in data.split("test_shifted")} == {3}
    features, labels = next(iter(data.split("validation")))
    assert features["image"].shape == (16, 16, 3)
    assert features["image"].dtype.name == "float32"
    assert labels["segmentation"].dtype.name == "int32"
    assert labels["depth"].shape == (16, 16, 1)
    assert labels["normal"].shape == (16, 16, 3)


def test_render_values_are_consistent():
    scenes = render_scenes(50, 0.5, image_size=24, rng=np.random.default_rng(3))
    image, depth = scenes["image"], scenes["depth"][..., 0]
    assert 0.0 <= image.min() and image.max() <= 1.0
    seg = scenes["segmentation"]
    assert set(np.unique(seg)) == set(range(len(SYNTHETIC_SCENE_CLASSES)))
    np.testing.assert_allclose(
        np.linalg.norm(scenes["normal"], axis=-1), 1.0, atol=1e-5
    )
    # The floor recedes: depth 5..10, farther at the top; objects nearer.
    assert np.all((depth[seg == 0] >= 5.0) & (depth[seg == 0] <= 10.0))
    assert np.all(depth[seg > 0] < 5.0)
    top, bottom = (depth[:, r][seg[:, r] == 0].mean() for r in (0, -1))
    assert top > bottom + 4.0 and not np.isnan(depth).any()


def test_deterministic_from_seed():
    first = build_synthetic_scenes(4, 2, image_size=8, seed=5)
    second = build_synthetic_scenes(4, 2, image_size=8, seed=5)
    other = build_synthetic_scenes(4, 2, image_size=8, seed=6)
    a, b, c = (
        next(iter(d.split("test")))[0]["image"].numpy()
        for d in (first, second, other)
    )
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_colour_shortcut_holds_in_training_and_breaks_when_shifted():
    rng = np.random.default_rng(0)
    correlated = render_scenes(200, 1.0, image_size=24, rng=rng)
    independent = render_scenes(200, 0.0, image_size=24, rng=rng)
    assert _colour_matches_class(correlated) > 0.95
    assert 0.2 < _colour_matches_class(independent) < 0.5


def test_task_subset_and_errors():
    data = build_synthetic_scenes(2, 1, image_size=8, tasks=("depth",))
    _, labels = next(iter(data.split("train")))
    assert list(labels) == ["depth"]
    with pytest.raises(ValueError, match="correlations"):
        build_synthetic_scenes(2, 1, correlations=(1.5,))
    with pytest.raises(ValueError, match="shifted_correlation"):
        build_synthetic_scenes(2, 1, shifted_correlation=-0.1)
    with pytest.raises(ValueError, match="num_train"):
        build_synthetic_scenes(0, 1)
