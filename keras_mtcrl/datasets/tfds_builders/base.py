"""What the keras_mtcrl TFDS builders share: offline preparation, the view."""

import os

import tensorflow as tf
import tensorflow_datasets as tfds

from keras_mtcrl.datasets.cache import get_cache_dir
from keras_mtcrl.datasets.multi_task_data import SPLIT_NAMES
from keras_mtcrl.datasets.multi_task_data import MultiTaskData

#: Sub-folder of the keras_mtcrl cache where `load_multi_task_data` keeps
#: prepared TFDS data when no `data_dir` is given.
TFDS_SUBDIR = "tensorflow_datasets"


def default_data_dir():
    """Returns where keras_mtcrl keeps prepared TFDS data by default.

    `$KERAS_MTCRL_DATA/tensorflow_datasets` when the environment variable
    is set, else `~/.cache/keras_mtcrl/tensorflow_datasets`. This is used
    by `load_multi_task_data` and the recipes; a plain `tfds.load` keeps
    TFDS' own default (`$TFDS_DATA_DIR`, else `~/tensorflow_datasets`).

    Returns:
        A `pathlib.Path` to an existing folder.

    Example:

    >>> default_data_dir().name
    'tensorflow_datasets'
    """
    return get_cache_dir(TFDS_SUBDIR)


def offline_download_config(manual_dir=None, **kwargs):
    """A `tfds.download.DownloadConfig` that never reaches the network.

    The keras_mtcrl builders register no download URL, so preparing them
    downloads nothing; this config also turns off TFDS' attempt to fetch
    an already prepared copy from its Google Cloud bucket.

    Args:
        manual_dir: str or path-like. Folder of files the user provides
            (Census-Income, MovieLens, Fashion-MNIST). Defaults to `None`:
            `<data_dir>/downloads/manual`.
        **kwargs: Other `tfds.download.DownloadConfig` fields.

    Returns:
        A `tfds.download.DownloadConfig`.

    Example:

    >>> offline_download_config().try_download_gcs
    False
    """
    if manual_dir is not None:
        manual_dir = os.fspath(manual_dir)
    kwargs.setdefault("try_download_gcs", False)
    return tfds.download.DownloadConfig(manual_dir=manual_dir, **kwargs)


class MultiTaskBuilderMixin:
    """Turns a keras_mtcrl TFDS builder's splits into a `MultiTaskData`.

    Mixed into every keras_mtcrl builder. A builder implements
    `_multi_task_view(**options)`, returning a `(convert, tasks,
    num_environments, description, metadata)` tuple where `convert` maps a
    *batch* of TFDS examples to `(features, labels)` dicts.
    """

    #: Examples are converted in batches of this size, then unbatched.
    VIEW_BATCH = 256

    def __init__(self, *, data_dir=None, config=None, version=None, **kwargs):
        # Spelled out so that the builders' documented arguments are in
        # their signature; everything goes to `tfds.core.DatasetBuilder`.
        super().__init__(
            data_dir=data_dir, config=config, version=version, **kwargs
        )

    def download_and_prepare(
        self, *, download_dir=None, download_config=None, **kwargs
    ):
        # Offline by default: with no config given (a plain `tfds.load`),
        # never look for a prepared copy on Google Cloud Storage.
        if download_config is None:
            download_config = offline_download_config()
        return super().download_and_prepare(
            download_dir=download_dir,
            download_config=download_config,
            **kwargs,
        )

    def as_multi_task_data(self, splits=None, **options):
        """Reads prepared splits as the library's `MultiTaskData`.

        The builder must be prepared (`download_and_prepare`). Examples
        are read in the order they were generated (the builders disable
        TFDS' shuffling), so the splits equal the library's readers'.

        Args:
            splits: iterable of str. Split names to read. Defaults to
                `None`: every split the builder has, in `SPLIT_NAMES`
                order.
            **options: Builder-specific view options (e.g. `image_size`
                for Multi-MNIST).

        Returns:
            A `MultiTaskData` with `sizes` taken from the builder's info.
        """
        available = self.info.splits
        if splits is None:
            splits = [name for name in SPLIT_NAMES if name in available]
        convert, tasks, num_environments, description, metadata = (
            self._multi_task_view(**options)
        )
        datasets, sizes = {}, {}
        for name in splits:
            if name not in available:
                raise KeyError(
                    f"Unknown split {name!r} of {self.info.full_name}. It "
                    f"has: {sorted(available)}"
                )
            num = available[name].num_examples
            dataset = self.as_dataset(split=name, shuffle_files=False)
            dataset = dataset.batch(self.VIEW_BATCH)
            dataset = dataset.map(
                convert,
                num_parallel_calls=tf.data.AUTOTUNE,
                deterministic=True,
            )
            dataset = dataset.unbatch()
            datasets[name] = dataset.apply(
                tf.data.experimental.assert_cardinality(num)
            )
            sizes[name] = num
        return MultiTaskData(
            splits=datasets,
            tasks=tasks,
            num_environments=num_environments,
            description=description,
            sizes=sizes,
            metadata=metadata,
        )


def select_splits(data, splits=None):
    """Returns `data` restricted to `splits` (all when `None`).

    Args:
        data: `MultiTaskData`.
        splits: iterable of str, or `None`.

    Returns:
        A `MultiTaskData` sharing `data`'s datasets.

    Example:

    >>> ds = tf.data.Dataset.range(3)
    >>> data = MultiTaskData({"train": ds, "test": ds}, (), 0,
    ...                      sizes={"train": 3, "test": 3})
    >>> list(select_splits(data, ["test"]).splits)
    ['test']
    """
    if splits is None:
        return data
    unknown = [name for name in splits if name not in data.splits]
    if unknown:
        raise KeyError(
            f"Unknown split(s) {unknown}. This dataset has: {list(data.splits)}"
        )
    return MultiTaskData(
        splits={name: data.splits[name] for name in splits},
        tasks=data.tasks,
        num_environments=data.num_environments,
        environment_key=data.environment_key,
        description=data.description,
        sizes={name: data.sizes[name] for name in splits if name in data.sizes},
        metadata=data.metadata,
    )


def load_multi_task_data(
    name,
    config=None,
    data_dir=None,
    manual_dir=None,
    splits=None,
    **options,
):
    """Prepares a keras_mtcrl TFDS builder once and reads it as `MultiTaskData`.

    The first call generates the data into `data_dir` (with TFDS' progress
    bars); later calls only read it. Nothing is downloaded.

    Args:
        name: str. A registered builder, e.g. `"keras_mtcrl_multi_mnist"`,
            optionally with its config: `"keras_mtcrl_multi_mnist/pairs"`.
        config: str or `tfds.core.BuilderConfig`. A config name or
            instance (e.g. `multi_mnist_config(seed=1)`). Defaults to
            `None`: the one in `name`, else the builder's default.
        data_dir: str or path-like. Where prepared data lives. Defaults to
            `None`: `default_data_dir()` (follows `KERAS_MTCRL_DATA`).
        manual_dir: str or path-like. Folder of user-provided files, for
            builders that need them. Defaults to `None`:
            `<data_dir>/downloads/manual`.
        splits: iterable of str. Splits to read. Defaults to all.
        **options: View options of the builder, see its
            `_multi_task_view` (Multi-MNIST: `image_size`).

    Returns:
        A `MultiTaskData`.

    Example:

    >>> import tempfile
    >>> from keras_mtcrl.datasets.tfds_builders import multi_mnist_config
    >>> data = load_multi_task_data(
    ...     "keras_mtcrl_multi_mnist",
    ...     config=multi_mnist_config(num_train=20, num_eval=10),
    ...     data_dir=tempfile.mkdtemp())  # doctest: +ELLIPSIS
    Downloading and preparing dataset ...
    Dataset keras_mtcrl_multi_mnist downloaded and prepared to ...
    >>> data.sizes["train"], data.num_environments
    (20, 3)
    """
    builder_kwargs = {}
    if config is not None:
        builder_kwargs["config"] = config
    if data_dir is None:
        data_dir = default_data_dir()
    builder = tfds.builder(name, data_dir=os.fspath(data_dir), **builder_kwargs)
    if not isinstance(builder, MultiTaskBuilderMixin):
        raise ValueError(
            f"{name!r} is not a keras_mtcrl builder; only those have a "
            "multi-task view. Read other TFDS datasets with `tfds.load`."
        )
    builder.download_and_prepare(
        download_config=offline_download_config(manual_dir)
    )
    return builder.as_multi_task_data(splits=splits, **options)
