"""MovieLens ratings as a TFDS builder: `keras_mtcrl_movielens`."""

import os

import numpy as np
import tensorflow_datasets as tfds

from keras_mtcrl.datasets import movielens as reader
from keras_mtcrl.datasets import movielens_dslabs
from keras_mtcrl.datasets import movielens_files
from keras_mtcrl.datasets.tfds_builders.base import MultiTaskBuilderMixin
from keras_mtcrl.datasets.tfds_builders.base import select_splits

NAME = "keras_mtcrl_movielens"
HOMEPAGE = "https://grouplens.org/datasets/movielens/"
_CITATION = """@article{harper2015movielens,
  title={The MovieLens Datasets: History and Context},
  author={Harper, F. Maxwell and Konstan, Joseph A.},
  journal={ACM Transactions on Interactive Intelligent Systems},
  volume={5},
  number={4},
  year={2015}
}"""
_EXPECTED_FILES = "; ".join(
    f"{name}: {' + '.join(files)}"
    for name, files in movielens_files.FORMAT_FILES.items()
)


class KerasMtcrlMovielens(
    MultiTaskBuilderMixin, tfds.core.GeneratorBasedBuilder
):
    """MovieLens ratings as a TFDS dataset, prepared from local files.

    One example per rating, the ratings table of
    `keras_mtcrl.datasets.movielens_files`: `user` and `movie` (raw ids,
    int64), `rating` (float32 stars), `timestamp` (int64 seconds), `year`
    (float32 release year, NaN when unknown) and `genres` (text, names
    joined by `"|"`). One split, `ratings`, in the files' order.
    GroupLens' terms forbid redistribution: TFDS downloads nothing; the
    data come from files you have.

    Configs:

    - `dslabs` (default): the ml-latest-small snapshot of R's dslabs, as
      `build_movielens(data_dir=None)` reads it: the table cached under
      `$KERAS_MTCRL_DATA/movielens`, else an installed `r-cran-dslabs`,
      else `apt-get download r-cran-dslabs` (the only step that needs
      the network; it is a Debian mirror, not TFDS).
    - `grouplens`: a GroupLens download (ml-latest-small, ml-100k or
      ml-1m, unzipped) in `manual_dir`.

    `as_multi_task_data(shift_year=None, ...)` applies `build_movielens`'s
    release-year shift, splits and encoding, with equal arrays.

    Args:
        data_dir: str. Where prepared data lives. Defaults to TFDS'
            default (`$TFDS_DATA_DIR`, else `~/tensorflow_datasets`).
        config: str. `"dslabs"` or `"grouplens"`. Defaults to
            `"dslabs"`.
        version: str. Defaults to the latest.

    Example:

    >>> import os, tempfile
    >>> import tensorflow_datasets as tfds
    >>> from keras_mtcrl.datasets.tfds_builders import offline_download_config
    >>> manual = tempfile.mkdtemp()
    >>> with open(os.path.join(manual, "movies.csv"), "w") as f:
    ...     _ = f.write("movieId,title,genres\\n1,Old (1990),Drama\\n"
    ...                 "2,New (2010),Comedy|Drama\\n")
    >>> rows = [f"{u},{m},{r},0" for u in range(1, 11)
    ...         for m, r in ((1, 4.0), (2, 2.5))]
    >>> with open(os.path.join(manual, "ratings.csv"), "w") as f:
    ...     _ = f.write("userId,movieId,rating,timestamp\\n")
    ...     _ = f.write("\\n".join(rows))
    >>> builder = tfds.builder("keras_mtcrl_movielens", config="grouplens",
    ...                        data_dir=tempfile.mkdtemp())
    >>> builder.download_and_prepare(download_config=offline_download_config(
    ...     manual_dir=manual))  # doctest: +ELLIPSIS
    Downloading and preparing dataset ...
    Dataset keras_mtcrl_movielens downloaded and prepared to ...
    >>> data = builder.as_multi_task_data(shift_year=2000, num_periods=1)
    >>> data.sizes["train"], data.sizes["test_shifted"]
    (8, 5)
    """

    name = NAME
    # Bump when the reader it reuses changes what it yields: prepared
    # data is only regenerated for a new version.
    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release: the reader's ratings table."}
    BUILDER_CONFIGS = [
        tfds.core.BuilderConfig(
            name="dslabs",
            description="dslabs' ml-latest-small snapshot (100,004 "
            "ratings), from the cache, an installed r-cran-dslabs, or "
            "`apt-get download r-cran-dslabs`.",
        ),
        tfds.core.BuilderConfig(
            name="grouplens",
            description="A GroupLens download (ml-latest-small, ml-100k "
            "or ml-1m) read from `manual_dir`.",
        ),
    ]
    DEFAULT_BUILDER_CONFIG_NAME = "dslabs"
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "Only the `grouplens` config reads `manual_dir` (default "
        f"`<data_dir>/downloads/manual`). Download a MovieLens release from "
        f"{HOMEPAGE}, unzip it there (directly or in one sub-folder); the "
        f"files looked for are {_EXPECTED_FILES}."
    )

    def _info(self):
        return self.dataset_info_from_configs(
            description=(
                "MovieLens ratings (GroupLens; F. M. Harper and J. A. "
                "Konstan, ACM TiiS 2015), one example per rating, as read "
                "by keras_mtcrl's MovieLens readers. Not redistributable: "
                "prepared from files the user has."
            ),
            features=tfds.features.FeaturesDict(
                {
                    "user": tfds.features.Scalar(np.int64),
                    "movie": tfds.features.Scalar(np.int64),
                    "rating": tfds.features.Scalar(np.float32),
                    "timestamp": tfds.features.Scalar(np.int64),
                    "year": tfds.features.Scalar(
                        np.float32, doc="Release year, NaN when unknown."
                    ),
                    "genres": tfds.features.Text(),
                }
            ),
            homepage=HOMEPAGE,
            citation=_CITATION,
            disable_shuffling=True,
        )

    def _split_generators(self, dl_manager):
        if self.builder_config.name == "dslabs":
            table = movielens_dslabs.fetch_dslabs_movielens()
        else:
            folder = _manual_folder(dl_manager, self.info.full_name)
            table = movielens_files.read_movielens(folder)
        return {"ratings": self._generate_examples(table)}

    def _generate_examples(self, table):
        keys = movielens_files.TABLE_KEYS
        for row in range(len(table["rating"])):
            yield row, {key: table[key][row] for key in keys}

    def as_multi_task_data(
        self,
        splits=None,
        shift_year=None,
        shifted_fraction=0.2,
        num_periods=4,
        validation_fraction=0.1,
        test_fraction=0.1,
        seed=0,
    ):
        """`build_movielens` on the prepared ratings.

        Args:
            splits: iterable of str. Splits of `SPLIT_NAMES` to keep.
                Defaults to `None`: all five.
            shift_year: int. See `build_movielens`. Defaults to `None`.
            shifted_fraction: float. Defaults to `0.2`.
            num_periods: int. Defaults to `4`.
            validation_fraction: float. Defaults to `0.1`.
            test_fraction: float. Defaults to `0.1`.
            seed: int. Defaults to `0`.

        Returns:
            A `MultiTaskData`, equal to `build_movielens`'s on the same
            ratings.
        """
        reader._check_args(
            shifted_fraction, num_periods, validation_fraction, test_fraction
        )
        dataset = self.as_dataset(
            split="ratings", batch_size=-1, shuffle_files=False
        )
        arrays = tfds.as_numpy(dataset)
        table = movielens_dslabs._typed(
            {
                **arrays,
                "genres": [value.decode("utf-8") for value in arrays["genres"]],
            }
        )
        if self.builder_config.name == "dslabs":
            source = "dslabs ml-latest-small"
        else:
            source = f"TFDS {self.info.full_name}"
        data = reader._build_from_table(
            table,
            source,
            shift_year,
            shifted_fraction,
            num_periods,
            validation_fraction,
            test_fraction,
            seed,
        )
        return select_splits(data, splits)


def _manual_folder(dl_manager, full_name):
    """`manual_dir` if it holds MovieLens files; else a clear error."""
    try:
        folder = os.fspath(dl_manager.manual_dir)
    except AssertionError:
        # TFDS raises this when the folder is missing or empty; name it.
        folder = os.fspath(getattr(dl_manager, "_manual_dir", "") or "")
    else:
        try:
            movielens_files.detect_movielens_format(folder)
            return folder
        except FileNotFoundError:
            pass
    raise FileNotFoundError(
        f"{full_name} reads a GroupLens MovieLens download from the manual "
        f"folder {folder!r} (`manual_dir`), directly or in one sub-folder; "
        f"expected one of ({_EXPECTED_FILES}). Download it from "
        f"{HOMEPAGE}, or use the `dslabs` config."
    )
