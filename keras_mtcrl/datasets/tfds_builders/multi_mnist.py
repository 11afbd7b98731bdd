"""Multi-MNIST as a TFDS builder: `tfds.load("keras_mtcrl_multi_mnist")`."""

import dataclasses
import hashlib

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from keras_mtcrl.datasets import multi_mnist as reader
from keras_mtcrl.datasets.multi_task_data import SPLIT_NAMES
from keras_mtcrl.datasets.multi_task_data import TaskSpec
from keras_mtcrl.datasets.tfds_builders.base import MultiTaskBuilderMixin

NAME = "keras_mtcrl_multi_mnist"
FASHION_CLASSES = (
    "t-shirt/top",
    "trouser",
    "pullover",
    "dress",
    "coat",
    "sandal",
    "shirt",
    "sneaker",
    "bag",
    "ankle boot",
)
# The Fashion-MNIST split Multi-MNIST reads (see `load_digit_source`).
FASHION_SPLIT = "t10k"
_HOMEPAGES = {
    False: "http://yann.lecun.com/exdb/mnist/",
    True: "https://github.com/zalandoresearch/fashion-mnist",
}
_CITATION = """@inproceedings{sener2018multi,
  title={Multi-Task Learning as Multi-Objective Optimization},
  author={Sener, Ozan and Koltun, Vladlen},
  booktitle={Advances in Neural Information Processing Systems},
  year={2018}
}"""
_CANVAS_SHAPE = (reader.CANVAS_SIZE, reader.CANVAS_SIZE, 1)


@dataclasses.dataclass(eq=False)
class MultiMnistConfig(tfds.core.BuilderConfig):
    """One Multi-MNIST variant; its fields are `build_multi_mnist`'s.

    Build instances with `multi_mnist_config`, which reuses the registered
    config when the settings match one and names new ones after their
    settings (each config is prepared into its own folder).

    Args:
        name: str. The config's name.
        shift: str. `"confounded"` or `"pairs"`.
        source: str. `"mnist"` (embedded) or `"fashion_mnist"`.
        num_train: int. Number of training examples.
        num_eval: int. Number of examples in each evaluation split.
        seed: int. Seed of the map, the pairs and the image pairing.
        train_agreement: tuple of floats. Agreement rate per training
            environment (`"confounded"` only).
        shifted_agreement: float. Agreement rate of the shifted splits.
        **kwargs: Other `tfds.core.BuilderConfig` fields.

    Example:

    >>> config = MultiMnistConfig(name="tiny", num_train=8, num_eval=4)
    >>> config.shift, config.num_train
    ('confounded', 8)
    """

    shift: str = "confounded"
    source: str = "mnist"
    num_train: int = 10_000
    num_eval: int = 2_000
    seed: int = 0
    train_agreement: tuple = (0.95, 0.85)
    shifted_agreement: float = 0.1

    def reader_kwargs(self):
        """Returns the config's settings as `build_multi_mnist` kwargs."""
        return {
            "shift": self.shift,
            "source": self.source,
            "num_train": self.num_train,
            "num_eval": self.num_eval,
            "seed": self.seed,
            "train_agreement": tuple(self.train_agreement),
            "shifted_agreement": self.shifted_agreement,
        }


def _registered(name, shift, source, description):
    return MultiMnistConfig(
        name=name, shift=shift, source=source, description=description
    )


BUILDER_CONFIGS = (
    _registered(
        "confounded",
        "confounded",
        "mnist",
        "Label confounding (recipe `multi_mnist`, seed 0): the right digit "
        "follows a fixed map of the left one 95% / 85% of the time in "
        "training environments 0 / 1, 10% in the shifted splits "
        "(environment 2).",
    ),
    _registered(
        "pairs",
        "pairs",
        "mnist",
        "Unseen class pairs (recipe `multi_mnist_pairs`, seed 0): the "
        "shifted splits hold (left, right) pairs never seen in training.",
    ),
    _registered(
        "fashion_confounded",
        "confounded",
        "fashion_mnist",
        "`confounded` on Fashion-MNIST's t10k images (recipe "
        "`multi_fashion_mnist`, seed 0); reads the idx files from "
        "`manual_dir`, else Debian's `dataset-fashion-mnist`.",
    ),
    _registered(
        "fashion_pairs",
        "pairs",
        "fashion_mnist",
        "`pairs` on Fashion-MNIST's t10k images.",
    ),
)


def multi_mnist_config(
    shift="confounded",
    source="mnist",
    num_train=10_000,
    num_eval=2_000,
    seed=0,
    train_agreement=(0.95, 0.85),
    shifted_agreement=0.1,
):
    """Returns the `MultiMnistConfig` for these `build_multi_mnist` settings.

    The registered config (`confounded`, `pairs`, `fashion_confounded`,
    `fashion_pairs`) when the settings equal one of them, else a new config
    named after the settings, e.g. `confounded_mnist_n400_e100_s1`, plus a
    short hash when the agreement rates are not the defaults. Pass it as
    `config=` to `tfds.builder`, or as `builder_kwargs={"config": ...}` to
    `tfds.load`.

    Args:
        shift: str. `"confounded"` or `"pairs"`. Defaults to
            `"confounded"`.
        source: str. `"mnist"` or `"fashion_mnist"`. Defaults to
            `"mnist"`.
        num_train: int. Defaults to `10000` (the recipes' size).
        num_eval: int. Defaults to `2000`.
        seed: int. Defaults to `0`.
        train_agreement: tuple of floats. Defaults to `(0.95, 0.85)`.
        shifted_agreement: float. Defaults to `0.1`.

    Returns:
        A `MultiMnistConfig`.

    Example:

    >>> multi_mnist_config().name
    'confounded'
    >>> multi_mnist_config(shift="pairs", num_train=400, seed=1).name
    'pairs_mnist_n400_e2000_s1'
    """
    reader._check_choices(shift, source, None)
    reader._check_sizes(num_train, num_eval, seed, 28)
    train_agreement, shifted_agreement = reader._check_rates(
        train_agreement, shifted_agreement
    )
    settings = {
        "shift": shift,
        "source": source,
        "num_train": int(num_train),
        "num_eval": int(num_eval),
        "seed": int(seed),
        "train_agreement": train_agreement,
        "shifted_agreement": shifted_agreement,
    }
    for config in BUILDER_CONFIGS:
        if config.reader_kwargs() == settings:
            return config
    name = f"{shift}_{source}_n{num_train}_e{num_eval}_s{seed}"
    default_rates = ((0.95, 0.85), 0.1)
    if (train_agreement, shifted_agreement) != default_rates:
        digest = hashlib.sha256(
            repr((train_agreement, shifted_agreement)).encode()
        ).hexdigest()[:8]
        name = f"{name}_r{digest}"
    return MultiMnistConfig(
        name=name,
        description=f"Multi-MNIST with build_multi_mnist({settings}).",
        **settings,
    )


class KerasMtcrlMultiMnist(
    MultiTaskBuilderMixin, tfds.core.GeneratorBasedBuilder
):
    """Multi-MNIST with a label shift, as a TFDS dataset.

    The examples are exactly `build_multi_mnist`'s (same digit images, same
    pairs, same order), stored as the composed 36 x 36 uint8 canvas: the
    left digit top-left, the right digit bottom-right, pixel-wise max.
    `as_multi_task_data(image_size=28)` scales and resizes them as
    `build_multi_mnist` does, giving identical arrays.

    Features: `image` (uint8, 36 x 36 x 1), `left` and `right` (class ids
    0-9) and, for the confounded configs, `env` (int32: training
    environments 0 and 1, environment 2 in the shifted splits). Splits:
    `train`, `validation`, `test`, `validation_shifted`, `test_shifted`.
    Nothing is downloaded: MNIST's 10,000 digits ship with keras_mtcrl;
    the Fashion-MNIST configs read the idx files from `manual_dir` (or
    Debian's `dataset-fashion-mnist`, see `load_fashion_mnist`).

    Args:
        data_dir: str. Where prepared data lives. Defaults to TFDS'
            default (`$TFDS_DATA_DIR`, else `~/tensorflow_datasets`).
        config: str or `MultiMnistConfig`. Defaults to `"confounded"`.
        version: str. Defaults to the latest.

    Example:

    >>> import tempfile
    >>> import tensorflow_datasets as tfds
    >>> builder = tfds.builder(
    ...     "keras_mtcrl_multi_mnist", data_dir=tempfile.mkdtemp(),
    ...     config=multi_mnist_config(num_train=20, num_eval=10))
    >>> builder.download_and_prepare()  # doctest: +ELLIPSIS
    Downloading and preparing dataset ...
    Dataset keras_mtcrl_multi_mnist downloaded and prepared to ...
    >>> example = next(iter(builder.as_dataset(split="train[:50%]")))
    >>> example["image"].shape, int(example["env"]) in (0, 1)
    (TensorShape([36, 36, 1]), True)
    """

    name = NAME
    # Bump when the reader it reuses changes what it yields: prepared
    # data is only regenerated for a new version.
    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release: build_multi_mnist's examples."}
    BUILDER_CONFIGS = list(BUILDER_CONFIGS)
    DEFAULT_BUILDER_CONFIG_NAME = "confounded"
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "Only the Fashion-MNIST configs read files: put Fashion-MNIST's "
        "t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz (from "
        "github.com/zalandoresearch/fashion-mnist) in `manual_dir`. Without "
        "them the files come from Debian's `dataset-fashion-mnist` package "
        "(installed, or fetched once with `apt-get download`). The MNIST "
        "configs need nothing: the digits ship with keras_mtcrl."
    )

    def _info(self):
        config = self.builder_config
        if config.source == "fashion_mnist":
            class_label = tfds.features.ClassLabel(names=FASHION_CLASSES)
        else:
            class_label = tfds.features.ClassLabel(num_classes=10)
        features = {
            "image": tfds.features.Image(
                shape=_CANVAS_SHAPE,
                doc="Left digit top-left, right digit bottom-right, max.",
            ),
            "left": class_label,
            "right": class_label,
        }
        if config.shift == "confounded":
            features["env"] = tfds.features.Scalar(
                np.int32,
                doc="Environment id; the shifted splits have "
                f"{len(config.train_agreement)}.",
            )
        fashion = config.source == "fashion_mnist"
        return self.dataset_info_from_configs(
            description=(
                "Multi-MNIST (Sener & Koltun, NeurIPS 2018 style): two "
                "overlapping digits, tasks `left` and `right`, with a "
                "controlled label shift between the training and the "
                "`*_shifted` splits; the examples of keras_mtcrl's "
                "build_multi_mnist."
            ),
            features=tfds.features.FeaturesDict(features),
            homepage=_HOMEPAGES[fashion],
            citation=_CITATION,
            disable_shuffling=True,
        )

    def _split_generators(self, dl_manager):
        config = self.builder_config
        data_dir = None
        if config.source == "fashion_mnist":
            data_dir = _fashion_manual_dir(dl_manager)
        images, columns = reader._plan_splits(
            data_dir=data_dir, **config.reader_kwargs()
        )
        return {
            split: self._generate_examples(images, columns[split])
            for split in SPLIT_NAMES
        }

    def _generate_examples(self, images, columns):
        images = tf.constant(images)
        dataset = tf.data.Dataset.from_tensor_slices(
            {
                "left_index": columns["left_index"].astype(np.int32),
                "right_index": columns["right_index"].astype(np.int32),
            }
        ).batch(reader._COMPOSE_BATCH)
        canvases = dataset.map(
            lambda batch: reader._compose_canvas(
                images, batch["left_index"], batch["right_index"]
            )
        )
        index = 0
        for batch in canvases.as_numpy_iterator():
            for canvas in batch:
                example = {
                    "image": canvas,
                    "left": int(columns["left"][index]),
                    "right": int(columns["right"][index]),
                }
                if "env" in columns:
                    example["env"] = np.int32(columns["env"][index])
                yield index, example
                index += 1

    def _multi_task_view(self, image_size=28):
        """`as_multi_task_data` options.

        Args:
            image_size: int in [8, 256]. Side of the output images, as in
                `build_multi_mnist`. Defaults to `28`.
        """
        config = self.builder_config
        reader._check_sizes(1, 1, 0, image_size)

        def convert(batch):
            features = {
                "image": reader._canvas_to_image(batch["image"], image_size)
            }
            if "env" in batch:
                features["env"] = tf.cast(batch["env"], tf.int32)
            labels = {
                "left": tf.cast(batch["left"], tf.int32),
                "right": tf.cast(batch["right"], tf.int32),
            }
            return features, labels

        tasks = (
            TaskSpec("left", "multiclass", reader.NUM_CLASSES),
            TaskSpec("right", "multiclass", reader.NUM_CLASSES),
        )
        confounded = config.shift == "confounded"
        num_environments = len(config.train_agreement) + 1 if confounded else 0
        description = reader._describe(
            config.shift,
            config.source,
            config.seed,
            tuple(config.train_agreement),
            config.shifted_agreement,
            image_size,
        )
        return convert, tasks, num_environments, description, {}


def _fashion_manual_dir(dl_manager):
    """`manual_dir` when it holds the t10k idx files, else `None`."""
    try:
        folder = dl_manager.manual_dir
    except AssertionError:
        # TFDS raises this when the folder is missing or empty.
        return None
    for kind in ("images-idx3", "labels-idx1"):
        stem = folder / f"{FASHION_SPLIT}-{kind}-ubyte"
        if not (stem.exists() or stem.with_suffix(".gz").exists()):
            return None
    return str(folder)
