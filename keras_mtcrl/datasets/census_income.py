"""Census-Income (KDD), the MMoE benchmark, with an attribute shift."""

import os
import pathlib

import numpy as np
import tensorflow as tf

from keras_mtcrl.datasets.census_income_encoder import CensusEncoder
from keras_mtcrl.datasets.census_income_files import COLUMNS
from keras_mtcrl.datasets.census_income_files import column_strings
from keras_mtcrl.datasets.census_income_files import concatenate_tables
from keras_mtcrl.datasets.census_income_files import read_census_income
from keras_mtcrl.datasets.multi_task_data import MultiTaskData
from keras_mtcrl.datasets.multi_task_data import TaskSpec

SAMPLE_PATH = (
    pathlib.Path(__file__).parent / "data" / ("census_income_sample.csv.gz")
)
#: Accepted names of the two original files, in order of preference.
TRAIN_FILES = (
    "census-income.data",
    "census-income.data.gz",
    "census_income_1994_1995_train.csv",
)
TEST_FILES = (
    "census-income.test",
    "census-income.test.gz",
    "census_income_1994_1995_test.csv",
)
TASKS = (
    TaskSpec("income", "binary", 1),
    TaskSpec("never_married", "binary", 1),
)
LABEL_COLUMNS = ("income", "marital_status")


def build_census_income(
    data_dir=None,
    shift_attribute="age",
    shift_cut=45,
    num_bands=3,
    validation_fraction=0.1,
    seed=0,
):
    """Builds Census-Income (KDD) as in MMoE, shifted by an attribute.

    Tasks, as in the MMoE paper (Ma et al., KDD 2018): `income` (binary,
    income above $50K) and `never_married` (binary, marital status "Never
    married"; marital status is then removed from the inputs). Labels are
    float32 0/1 scalars.

    Features: `features`, one float32 vector per person: the 7 continuous
    columns standardized with `train` statistics (the 4 money columns
    after `log1p`), then one one-hot block per nominal column, with the
    values seen in `train` (an unseen value sets no bit). The survey's
    `instance_weight` is not an input. On the committed sample the vector
    is 489 wide, on the full files 502 (`metadata["feature_names"]`).
    `env` (int32) is the environment id.

    Shift: rows whose `shift_attribute` is `>= shift_cut` (a numeric
    column) or is one of the values in `shift_cut` (a nominal column) are
    shifted. In-distribution rows of the original training file are split
    at random into `train` and `validation`, those of the test file form
    `test`; shifted rows of the training file form `validation_shifted`,
    those of the test file `test_shifted`. Environments: `num_bands`
    quantile bands of a numeric attribute over `train` (fewer when values
    tie), or one environment per value of a nominal attribute, with id
    `num_environments - 1` for every shifted row.

    The returned object also carries `metadata`, a dict with
    `feature_width`, `feature_names`, `environment_names` and `source`.

    Args:
        data_dir: str or path-like. A folder with the original
            `census-income.data` and `census-income.test` (gzip or not),
            or one file in the layout of the committed sample. Defaults to
            `None`: the committed, credited 30,000-row sample
            (`keras_mtcrl/datasets/data/census_income_sample.csv.gz`).
        shift_attribute: str. The column that defines the shift, a name
            of `census_income_files.COLUMNS`. Defaults to `"age"`.
        shift_cut: float, str or tuple of str. Threshold of a numeric
            attribute, or the value(s) of a nominal one, that make a row
            shifted. Defaults to `45` (ages 45 and over are shifted).
        num_bands: int. Number of environments in the training part for
            a numeric attribute. Defaults to `3`.
        validation_fraction: float. Share of in-distribution training-file
            rows held out as `validation`. Defaults to `0.1`.
        seed: int. Seed of the `train`/`validation` split. Defaults to `0`.

    Returns:
        A `MultiTaskData` with the five splits of `SPLIT_NAMES`.

    Example:

    >>> data = build_census_income()
    >>> data.sizes["train"] + data.sizes["validation"], data.sizes["test"]
    (13692, 6746)
    >>> features, labels = next(iter(data.split("test_shifted")))
    >>> features["features"].shape, int(features["env"])
    (TensorShape([489]), 3)
    """
    _check_args(shift_attribute, validation_fraction)
    table, source = _read(data_dir)
    return _build_from_table(
        table,
        source,
        shift_attribute,
        shift_cut,
        num_bands,
        validation_fraction,
        seed,
    )


def _build_from_table(
    table,
    source,
    shift_attribute,
    shift_cut,
    num_bands,
    validation_fraction,
    seed,
):
    """`build_census_income` on a table read by `read_census_income`.

    Shared with the TFDS builder `keras_mtcrl_census_income`, which
    rebuilds the table from its prepared records.
    """
    _check_args(shift_attribute, validation_fraction)
    shifted = _shifted_rows(table, shift_attribute, shift_cut)
    rows = _split_rows(table["part"], shifted, validation_fraction, seed)
    if len(rows["train"]) == 0 or not shifted.any():
        raise ValueError(
            f"The shift {shift_attribute}/{shift_cut!r} leaves the train or "
            f"the shifted splits empty ({int(shifted.sum())} of "
            f"{len(shifted)} rows shifted). Choose another `shift_cut`."
        )
    encoder = CensusEncoder(table, rows["train"], shift_attribute, num_bands)
    splits = {
        name: _dataset(encoder, table, index, shifted[index])
        for name, index in rows.items()
    }
    data = MultiTaskData(
        splits=splits,
        tasks=TASKS,
        num_environments=encoder.num_environments,
        description=_describe(source, shift_attribute, shift_cut, encoder),
        sizes={name: int(len(index)) for name, index in rows.items()},
    )
    data.metadata = {
        "feature_width": encoder.width,
        "feature_names": encoder.feature_names,
        "environment_names": encoder.environment_names,
        "source": source,
    }
    return data


def _check_args(shift_attribute, validation_fraction):
    if shift_attribute in LABEL_COLUMNS or shift_attribute not in COLUMNS:
        raise ValueError(
            f"`shift_attribute` must be an input column of Census-Income, "
            f"one of {[c for c in COLUMNS if c not in LABEL_COLUMNS]}. "
            f"Received: shift_attribute={shift_attribute!r}"
        )
    if not 0.0 <= validation_fraction < 1.0:
        raise ValueError(
            f"`validation_fraction` must be in [0, 1). "
            f"Received: validation_fraction={validation_fraction}"
        )


def labels_of(table, rows=None):
    """Returns the `income` and `never_married` labels of a table.

    Args:
        table: dict. A table from `read_census_income`.
        rows: int array. Rows to take. Defaults to `None` (all rows).

    Returns:
        A dict of two float32 arrays of 0/1.

    Example:

    >>> table = {"income": (np.array([0, 1]), ("50000+.", "- 50000.")),
    ...          "marital_status": (np.array([0, 0]), ("Never married",))}
    >>> labels_of(table)["income"]
    array([1., 0.], dtype=float32)
    """
    income = column_strings(table, "income")
    marital = column_strings(table, "marital_status")
    if rows is not None:
        income, marital = income[rows], marital[rows]
    return {
        "income": (income == "50000+.").astype(np.float32),
        "never_married": (marital == "Never married").astype(np.float32),
    }


def find_census_files(data_dir):
    """Returns the paths of the original training and test files.

    Args:
        data_dir: str or path-like. The folder to look in.

    Returns:
        A pair `(train_path, test_path)`.

    Example:

    >>> import os, tempfile
    >>> root = tempfile.mkdtemp()
    >>> for name in ("census-income.data.gz", "census-income.test"):
    ...     open(os.path.join(root, name), "w").close()
    >>> [os.path.basename(p) for p in find_census_files(root)]
    ['census-income.data.gz', 'census-income.test']
    """
    found = []
    for names in (TRAIN_FILES, TEST_FILES):
        paths = [os.path.join(data_dir, n) for n in names]
        existing = [p for p in paths if os.path.isfile(p)]
        if not existing:
            raise FileNotFoundError(
                f"None of {list(names)} is in {data_dir}. Put the UCI "
                f"Census-Income (KDD) files there, or pass `data_dir=None` "
                f"for the committed sample."
            )
        found.append(existing[0])
    return tuple(found)


def _read(data_dir):
    if data_dir is None:
        return read_census_income(SAMPLE_PATH), "committed 30,000-row sample"
    if os.path.isfile(data_dir):
        return read_census_income(data_dir), os.fspath(data_dir)
    train_path, test_path = find_census_files(data_dir)
    tables = [
        read_census_income(train_path, "train"),
        read_census_income(test_path, "test"),
    ]
    return concatenate_tables(tables), os.fspath(data_dir)


def _shifted_rows(table, attribute, cut):
    column = table[attribute]
    if not isinstance(column, tuple):
        return np.asarray(column) >= float(cut)
    cut = (cut,) if isinstance(cut, str) else tuple(cut)
    unknown = sorted(set(cut) - set(column[1]))
    if unknown:
        raise ValueError(
            f"`shift_cut` names value(s) {unknown} that column {attribute!r}"
            f" never takes. Its values: {sorted(column[1])}"
        )
    return np.isin(column_strings(table, attribute), cut)


def _split_rows(part, shifted, validation_fraction, seed):
    is_train = part == "train"
    in_dist = np.random.default_rng(seed).permutation(
        np.flatnonzero(is_train & ~shifted)
    )
    num_val = int(round(validation_fraction * len(in_dist)))
    return {
        "train": np.sort(in_dist[num_val:]),
        "validation": np.sort(in_dist[:num_val]),
        "test": np.flatnonzero(~is_train & ~shifted),
        "validation_shifted": np.flatnonzero(is_train & shifted),
        "test_shifted": np.flatnonzero(~is_train & shifted),
    }


def _dataset(encoder, table, rows, shifted):
    features = {
        "features": encoder.dense(table, rows),
        "env": encoder.environments(table, rows, shifted),
    }
    return tf.data.Dataset.from_tensor_slices(
        (features, labels_of(table, rows))
    )


def _describe(source, attribute, cut, encoder):
    return (
        f"Census-Income (KDD) ({source}): UCI Machine Learning Repository, "
        f"1994-95 Current Population Surveys, CC BY 4.0. Tasks as in MMoE: "
        f"income > $50K and never married. Shift: rows with {attribute} "
        f"{'>=' if encoder.numeric_attribute else 'in'} {cut!r} are "
        f"shifted (env {encoder.num_environments - 1}); environments "
        f"in the training part: {', '.join(encoder.environment_names)}."
    )
