"""Taskonomy as a TFDS builder: `keras_mtcrl_taskonomy`."""

import dataclasses
import os
import pathlib

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from keras_mtcrl.datasets import taskonomy as reader
from keras_mtcrl.datasets.dense_pipeline import DENSE_TASK_NAMES
from keras_mtcrl.datasets.dense_pipeline import assemble_dense_data
from keras_mtcrl.datasets.dense_pipeline import dense_task_specs
from keras_mtcrl.datasets.dense_pipeline import split_by_environment
from keras_mtcrl.datasets.multi_task_data import SPLIT_NAMES
from keras_mtcrl.datasets.tfds_builders.base import MultiTaskBuilderMixin

NAME = "keras_mtcrl_taskonomy"
HOMEPAGE = "http://taskonomy.stanford.edu/"
_LAYOUT = (
    "MANUAL_DIR/BUILDING/DOMAIN/point_I_view_J_domain_DOMAIN.png with "
    "DOMAIN among rgb, segment_semantic, depth_zbuffer, normal"
)
_CITATION = """@inproceedings{zamir2018taskonomy,
  title={Taskonomy: Disentangling Task Transfer Learning},
  author={Zamir, Amir R. and Sax, Alexander and Shen, William and
          Guibas, Leonidas J. and Malik, Jitendra and Savarese, Silvio},
  booktitle={CVPR},
  year={2018}
}"""
# How each domain is stored: channels and dtype of its PNG files.
_FEATURES = {
    "image": (3, np.uint8, "RGB view."),
    "segmentation": (1, np.uint8, "segment_semantic class values."),
    "depth": (1, np.uint16, "depth_zbuffer: metres * 512, 65535 missing."),
    "normal": (3, np.uint8, "Surface normal, value / 255 * 2 - 1."),
}


@dataclasses.dataclass(eq=False)
class TaskonomyConfig(tfds.core.BuilderConfig):
    """Which Taskonomy task domains a config stores (next to `rgb`).

    Args:
        name: str. The config's name.
        tasks: tuple of str. Among `"segmentation"`, `"depth"`,
            `"normal"`.
        **kwargs: Other `tfds.core.BuilderConfig` fields.

    Example:

    >>> TaskonomyConfig(name="depth_only", tasks=("depth",)).tasks
    ('depth',)
    """

    tasks: tuple = DENSE_TASK_NAMES


class KerasMtcrlTaskonomy(
    MultiTaskBuilderMixin, tfds.core.GeneratorBasedBuilder
):
    """Taskonomy views as a TFDS dataset, prepared from the user's files.

    One example per (building, point, view): `building` (text), `point`,
    `view` (int32), `image` and, per task of the config, `segmentation`,
    `depth` (uint16) and `normal`, each the file's PNG bytes unchanged.
    One split, `views`, in `build_taskonomy`'s order. Taskonomy is not
    redistributable: put your copy in `manual_dir` (layout in
    `MANUAL_DOWNLOAD_INSTRUCTIONS`); TFDS downloads nothing.

    `as_multi_task_data(shifted_buildings=None, ...)` decodes the bytes
    with `build_taskonomy`'s own code and gives its splits (shift by
    building, env = building) with equal arrays.

    Args:
        data_dir: str. Where prepared data lives. Defaults to TFDS'
            default (`$TFDS_DATA_DIR`, else `~/tensorflow_datasets`).
        config: str or `TaskonomyConfig`. Defaults to `"all"`
            (segmentation, depth and normal).
        version: str. Defaults to the latest.

    Example:

    >>> import tempfile
    >>> import tensorflow_datasets as tfds
    >>> from keras_mtcrl.testing import dense_fixtures
    >>> from keras_mtcrl.datasets.tfds_builders import offline_download_config
    >>> manual = dense_fixtures.write_taskonomy(tempfile.mkdtemp())
    >>> builder = tfds.builder("keras_mtcrl_taskonomy",
    ...                        data_dir=tempfile.mkdtemp())
    >>> builder.download_and_prepare(download_config=offline_download_config(
    ...     manual_dir=manual))  # doctest: +ELLIPSIS
    Downloading and preparing dataset ...
    Dataset keras_mtcrl_taskonomy downloaded and prepared to ...
    >>> data = builder.as_multi_task_data(shifted_buildings=["coffeen"])
    >>> data.sizes["validation_shifted"], data.num_environments
    (2, 3)
    """

    name = NAME
    # Bump when the reader it reuses changes what it yields: prepared
    # data is only regenerated for a new version.
    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release: build_taskonomy's views."}
    BUILDER_CONFIGS = [
        TaskonomyConfig(
            name="all",
            description="rgb with segment_semantic, depth_zbuffer, normal.",
        )
    ]
    DEFAULT_BUILDER_CONFIG_NAME = "all"
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        f"Download Taskonomy ({HOMEPAGE}; e.g. the tiny split with the "
        "omnitools.download tool) and arrange it as " + _LAYOUT + ". Every "
        "domain of the config must hold the same (point, view) pairs as "
        "rgb."
    )

    def _info(self):
        features = {
            "building": tfds.features.Text(),
            "point": tfds.features.Scalar(np.int32),
            "view": tfds.features.Scalar(np.int32),
        }
        for key in ("image",) + tuple(self.builder_config.tasks):
            channels, dtype, doc = _FEATURES[key]
            features[key] = tfds.features.Image(
                shape=(None, None, channels), dtype=dtype, doc=doc
            )
        return self.dataset_info_from_configs(
            description=(
                "Taskonomy (Zamir et al., CVPR 2018) indoor views with "
                "dense task labels, one example per (building, point, "
                "view), as keras_mtcrl's build_taskonomy reads them."
            ),
            features=tfds.features.FeaturesDict(features),
            homepage=HOMEPAGE,
            citation=_CITATION,
            disable_shuffling=True,
        )

    def _split_generators(self, dl_manager):
        root = _manual_root(dl_manager, self.info.full_name)
        return {"views": self._generate_examples(root)}

    def _generate_examples(self, root):
        tasks = tuple(self.builder_config.tasks)
        for index, example in enumerate(reader._list_views(root, tasks)):
            building, (point, view) = example
            record = {"building": building, "point": point, "view": view}
            for key in ("image",) + tasks:
                record[key] = reader._file(root, example, key)
            yield index, record

    def as_multi_task_data(
        self,
        shifted_buildings=None,
        tasks=None,
        num_classes=17,
        pipeline=None,
        eval_fraction=0.1,
        seed=0,
    ):
        """`build_taskonomy` on the prepared views.

        Args:
            shifted_buildings: sequence of str. See `build_taskonomy`.
                Defaults to `None`.
            tasks: sequence of str. Tasks among the config's. Defaults to
                `None`: all of the config's.
            num_classes: int. Defaults to `17`.
            pipeline: `DensePipeline`. Defaults to `None`.
            eval_fraction: float. Defaults to `0.1`.
            seed: int. Defaults to `0`.

        Returns:
            A `MultiTaskData`, equal to `build_taskonomy`'s on the same
            files.
        """
        stored = tuple(self.builder_config.tasks)
        tasks = stored if tasks is None else tuple(tasks)
        specs = dense_task_specs(tasks, num_classes, available=stored)
        keys = ("image",) + tasks
        # The files' bytes, decoded below by build_taskonomy's own code.
        raw = self.as_dataset(
            split="views",
            shuffle_files=False,
            decoders={key: tfds.decode.SkipDecoding() for key in stored}
            | {"image": tfds.decode.SkipDecoding()},
        )
        buildings = [
            building.decode()
            for building in raw.map(
                lambda ex: ex["building"]
            ).as_numpy_iterator()
        ]
        split = split_by_environment(
            buildings, shifted_buildings, eval_fraction, seed
        )
        assignment = np.full(len(buildings), -1, np.int32)
        for code, name in enumerate(SPLIT_NAMES):
            assignment[split.indices[name]] = code
        assignment = tf.constant(assignment)
        env_ids = tf.constant(split.ids.astype(np.int32))

        def decode(index, example):
            contents = {key: example[key] for key in keys}
            return reader._decode_contents(
                contents,
                tf.gather(env_ids, index),
                num_classes,
                example["building"],
            )

        datasets = {}
        for code, name in enumerate(SPLIT_NAMES):
            size = len(split.indices[name])
            dataset = raw.enumerate().filter(
                lambda index, _, code=code: tf.equal(
                    tf.gather(assignment, index), code
                )
            )
            dataset = dataset.map(decode, num_parallel_calls=tf.data.AUTOTUNE)
            dataset = dataset.apply(
                tf.data.experimental.assert_cardinality(size)
            )
            datasets[name] = (dataset, size)
        return assemble_dense_data(
            datasets,
            specs,
            len(split.vocabulary),
            pipeline,
            reader._describe(split),
        )


def _manual_root(dl_manager, full_name):
    """`manual_dir` if it holds Taskonomy building folders; else an error."""
    try:
        folder = os.fspath(dl_manager.manual_dir)
    except AssertionError:
        # TFDS raises this when the folder is missing or empty; name it.
        folder = os.fspath(getattr(dl_manager, "_manual_dir", "") or "")
    else:
        root = pathlib.Path(folder)
        if any((p / "rgb").is_dir() for p in root.iterdir()):
            return root
    raise FileNotFoundError(
        f"{full_name} reads Taskonomy from the manual folder {folder!r} "
        f"(`manual_dir`), laid out as {_LAYOUT}. Download it from "
        f"{HOMEPAGE}."
    )
