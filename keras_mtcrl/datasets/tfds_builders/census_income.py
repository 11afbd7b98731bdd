"""Census-Income (KDD) as a TFDS builder: `keras_mtcrl_census_income`."""

import os

import numpy as np
import tensorflow_datasets as tfds

from keras_mtcrl.datasets import census_income as reader
from keras_mtcrl.datasets.census_income_files import COLUMNS
from keras_mtcrl.datasets.census_income_files import NUMERIC_COLUMNS
from keras_mtcrl.datasets.census_income_files import column_strings
from keras_mtcrl.datasets.tfds_builders.base import MultiTaskBuilderMixin
from keras_mtcrl.datasets.tfds_builders.base import select_splits

NAME = "keras_mtcrl_census_income"
HOMEPAGE = "https://archive.ics.uci.edu/dataset/117/census+income+kdd"
#: Where `row` numbers come from: the reader's table, training file first.
PARTS = ("train", "test")
_SAMPLE_SOURCE = "committed 30,000-row sample"
_CITATION = """@misc{census-income_(kdd)_117,
  title={{Census-Income (KDD)}},
  year={2000},
  howpublished={UCI Machine Learning Repository},
  note={{DOI}: https://doi.org/10.24432/C5N30T}
}"""


class KerasMtcrlCensusIncome(
    MultiTaskBuilderMixin, tfds.core.GeneratorBasedBuilder
):
    """Census-Income (KDD) records as a TFDS dataset, read offline.

    One example per person with the 42 fields of the UCI files, as
    `read_census_income` reads them: the 8 continuous columns as float64,
    the others (the `income` label included) as text, plus `row`, the
    person's row in the reader's table. Splits: `train` (the lines of
    `census-income.data`) and `test` (`census-income.test`).

    Configs: `sample` (default), the 30,000-row sample that ships with
    keras_mtcrl; `full`, the original files, which you download yourself
    into `manual_dir` (see `MANUAL_DOWNLOAD_INSTRUCTIONS`). Nothing is
    downloaded by TFDS.

    `as_multi_task_data(shift_attribute="age", shift_cut=45, ...)` applies
    `build_census_income`'s shift, split and encoding to the records and
    gives the same `MultiTaskData` (tasks `income`, `never_married`).

    Args:
        data_dir: str. Where prepared data lives. Defaults to TFDS'
            default (`$TFDS_DATA_DIR`, else `~/tensorflow_datasets`).
        config: str. `"sample"` or `"full"`. Defaults to `"sample"`.
        version: str. Defaults to the latest.

    Example:

    >>> import tempfile
    >>> import tensorflow_datasets as tfds
    >>> builder = tfds.builder("keras_mtcrl_census_income",
    ...                        data_dir=tempfile.mkdtemp())
    >>> builder.builder_config.name, builder.info.features["age"].np_dtype
    ('sample', <class 'numpy.float64'>)

    Preparing the sample takes about 30 s on two CPU cores; then
    `builder.download_and_prepare()` and `builder.as_multi_task_data()`.
    """

    name = NAME
    # Bump when the reader it reuses changes what it yields: prepared
    # data is only regenerated for a new version.
    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release: read_census_income's rows."}
    BUILDER_CONFIGS = [
        tfds.core.BuilderConfig(
            name="sample",
            description="The 30,000-row sample shipped with keras_mtcrl "
            "(20,000 training-file and 10,000 test-file rows).",
        ),
        tfds.core.BuilderConfig(
            name="full",
            description="The original UCI files (199,523 + 99,762 rows), "
            "read from `manual_dir`.",
        ),
    ]
    DEFAULT_BUILDER_CONFIG_NAME = "sample"
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "Only the `full` config reads files. Download Census-Income (KDD) "
        f"from {HOMEPAGE}, and put `census-income.data` and "
        "`census-income.test` (plain or .gz; also accepted: "
        f"{reader.TRAIN_FILES[2]} and {reader.TEST_FILES[2]}) in "
        "`manual_dir` (default `<data_dir>/downloads/manual`)."
    )

    def _info(self):
        features = {"row": tfds.features.Scalar(np.int64)}
        for name in COLUMNS:
            if name in NUMERIC_COLUMNS:
                features[name] = tfds.features.Scalar(np.float64)
            else:
                features[name] = tfds.features.Text()
        return self.dataset_info_from_configs(
            description=(
                "Census-Income (KDD): one person per example, the 42 "
                "fields of UCI's files (1994-95 Current Population "
                "Surveys, CC BY 4.0), read by keras_mtcrl's "
                "read_census_income. The MMoE benchmark's tasks are "
                "`income` and `marital_status == 'Never married'`."
            ),
            features=tfds.features.FeaturesDict(features),
            homepage=HOMEPAGE,
            citation=_CITATION,
            disable_shuffling=True,
        )

    def _split_generators(self, dl_manager):
        if self.builder_config.name == "sample":
            source = None
        else:
            source = _manual_files_dir(dl_manager, self.info.full_name)
        table, _ = reader._read(source)
        return {
            part: self._generate_examples(
                table, np.flatnonzero(table["part"] == part)
            )
            for part in PARTS
        }

    def _generate_examples(self, table, rows):
        columns = {
            name: (
                table[name]
                if name in NUMERIC_COLUMNS
                else column_strings(table, name)
            )
            for name in COLUMNS
        }
        for row in rows:
            example = {name: column[row] for name, column in columns.items()}
            example["row"] = int(row)
            yield int(row), example

    def as_multi_task_data(
        self,
        splits=None,
        shift_attribute="age",
        shift_cut=45,
        num_bands=3,
        validation_fraction=0.1,
        seed=0,
    ):
        """`build_census_income` on the prepared records.

        Args:
            splits: iterable of str. Splits of `SPLIT_NAMES` to keep.
                Defaults to `None`: all five.
            shift_attribute: str. See `build_census_income`. Defaults to
                `"age"`.
            shift_cut: float, str or tuple of str. Defaults to `45`.
            num_bands: int. Defaults to `3`.
            validation_fraction: float. Defaults to `0.1`.
            seed: int. Defaults to `0`.

        Returns:
            A `MultiTaskData`, equal to `build_census_income`'s on the
            same files.
        """
        reader._check_args(shift_attribute, validation_fraction)
        table = self._read_table()
        if self.builder_config.name == "sample":
            source = _SAMPLE_SOURCE
        else:
            source = f"TFDS {self.info.full_name}"
        data = reader._build_from_table(
            table,
            source,
            shift_attribute,
            shift_cut,
            num_bands,
            validation_fraction,
            seed,
        )
        return select_splits(data, splits)

    def _read_table(self):
        """Rebuilds `read_census_income`'s table from both splits."""
        parts = []
        for part in PARTS:
            dataset = self.as_dataset(
                split=part, batch_size=-1, shuffle_files=False
            )
            parts.append((part, tfds.as_numpy(dataset)))
        rows = np.concatenate([arrays["row"] for _, arrays in parts])
        order = np.argsort(rows, kind="stable")
        if not np.array_equal(rows[order], np.arange(len(rows))):
            raise ValueError(
                f"The prepared {self.info.full_name} does not number its "
                "rows 0..N-1; prepare it again (delete "
                f"{self.data_dir})."
            )
        table = {}
        for name in COLUMNS:
            column = np.concatenate([arrays[name] for _, arrays in parts])
            column = column[order]
            if name in NUMERIC_COLUMNS:
                table[name] = column.astype(np.float64)
            else:
                table[name] = _first_seen_codes(column)
        part = np.concatenate(
            [np.full(len(arrays["row"]), name) for name, arrays in parts]
        )
        table["part"] = part[order].astype(str)
        return table


def _first_seen_codes(column):
    """(int32 codes, values) with values in order of first appearance."""
    strings = np.array([value.decode("utf-8") for value in column], str)
    values, first, inverse = np.unique(
        strings, return_index=True, return_inverse=True
    )
    order = np.argsort(first)
    rank = np.empty(len(order), np.int64)
    rank[order] = np.arange(len(order))
    codes = rank[np.ravel(inverse)].astype(np.int32)
    return codes, tuple(values[order].tolist())


def _manual_files_dir(dl_manager, full_name):
    """`manual_dir` if it holds both UCI files; else a clear error."""
    expected = (
        f"one of {list(reader.TRAIN_FILES)} and one of "
        f"{list(reader.TEST_FILES)}"
    )
    try:
        folder = os.fspath(dl_manager.manual_dir)
    except AssertionError:
        # TFDS raises this when the folder is missing or empty; name it.
        folder = os.fspath(getattr(dl_manager, "_manual_dir", "") or "")
    else:
        try:
            reader.find_census_files(folder)
            return folder
        except FileNotFoundError:
            pass
    raise FileNotFoundError(
        f"{full_name} reads the UCI Census-Income (KDD) files from the "
        f"manual folder {folder!r} (`manual_dir`): it needs "
        f"{expected}. Download them from {HOMEPAGE}, or use the `sample` "
        "config, which ships with keras_mtcrl."
    )
