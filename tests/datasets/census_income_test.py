import gzip
import importlib.util
import pathlib
import sys

import numpy as np
import pytest
import tensorflow as tf

from keras_mtcrl.datasets import census_income
from keras_mtcrl.datasets import census_income_files
from keras_mtcrl.datasets.census_income_files import COLUMNS
from keras_mtcrl.datasets.multi_task_data import SPLIT_NAMES

SCRIPT = (
    pathlib.Path(__file__).parents[2] / "scripts" / ("make_census_sample.py")
)
# One person in the published layout; tests override a few fields.
TEMPLATE = dict(
    zip(
        COLUMNS,
        [
            "38",
            "Private",
            "6",
            "36",
            "High school graduate",
            "0",
            "Not in universe",
            "Never married",
            "Manufacturing-durable goods",
            "Machine operators assmblrs & inspctrs",
            "White",
            "All other",
            "Female",
            "Not in universe",
            "Not in universe",
            "Full-time schedules",
            "0",
            "0",
            "0",
            "Single",
            "Not in universe",
            "Not in universe",
            "Householder",
            "Householder",
            "1032.38",
            "?",
            "?",
            "?",
            "Not in universe under 1 year old",
            "?",
            "4",
            "Not in universe",
            "United-States",
            "United-States",
            "United-States",
            "Native- Born in the United States",
            "0",
            "Not in universe",
            "2",
            "52",
            "95",
            "- 50000.",
        ],
    )
)
AGES = (5, 20, 35, 50, 65)
REGIONS = ("Not in universe", "South", "West", "Midwest")


def person(i, **fields):
    """The i-th fixture person; label and attributes follow from i."""
    values = dict(TEMPLATE)
    age = AGES[i % len(AGES)]
    values.update(
        age=str(age),
        marital_status=(
            "Never married" if age < 30 else "Married-civilian spouse present"
        ),
        income="50000+." if i % 4 == 0 else "- 50000.",
        region_of_previous_residence=REGIONS[i % len(REGIONS)],
        capital_gains=str(100 * i),
    )
    values.update(fields)
    return ", ".join(values[name] for name in COLUMNS)


def write_full_files(folder, num_train=40, num_test=20):
    folder.mkdir(parents=True, exist_ok=True)
    train = [person(i) for i in range(num_train)]
    test = [person(i) for i in range(num_test)]
    # A value never seen in training must set no bit.
    test[0] = person(0, class_of_worker="Never worked")
    (folder / "census-income.data").write_text("\n".join(train) + "\n")
    with gzip.open(folder / "census-income.test.gz", "wt") as f:
        f.write("\n".join(test) + "\n")
    return folder


def _collect(dataset):
    features, labels = next(iter(dataset.batch(100_000)))
    return (
        {k: v.numpy() for k, v in features.items()},
        {k: v.numpy() for k, v in labels.items()},
    )


def test_reader_columns_and_codes(tmp_path):
    folder = write_full_files(tmp_path)
    table = census_income_files.read_census_income(
        folder / "census-income.test.gz", part="test"
    )
    assert set(COLUMNS) | {"part"} == set(table)
    np.testing.assert_array_equal(table["age"][:5], AGES)
    assert table["age"].dtype == np.float64
    assert (table["part"] == "test").all()
    workers = census_income_files.column_strings(table, "class_of_worker")
    assert workers[0] == "Never worked" and workers[1] == "Private"
    # Fields are stripped of the space that follows each comma.
    assert "Native- Born in the United States" in table["citizenship"][1]


def test_reader_errors_name_file_and_line(tmp_path):
    path = tmp_path / "census-income.data"
    path.write_text(person(0) + "\n" + "1, 2, 3\n")
    with pytest.raises(ValueError, match=r"census-income\.data:2 has 3"):
        census_income_files.read_census_income(path)
    path.write_text(person(0, income="maybe") + "\n")
    with pytest.raises(ValueError, match="income label"):
        census_income_files.read_census_income(path)
    path.write_text("| part: validation\n" + person(0) + "\n")
    with pytest.raises(ValueError, match="part"):
        census_income_files.read_census_income(path)
    with pytest.raises(FileNotFoundError, match="nothing.data"):
        census_income_files.read_census_income(tmp_path / "nothing.data")


def test_find_files_lists_accepted_names(tmp_path):
    with pytest.raises(FileNotFoundError, match="census-income.data.gz"):
        census_income.find_census_files(tmp_path)


def test_split_sizes_specs_and_labels(tmp_path):
    data = census_income.build_census_income(write_full_files(tmp_path))
    # Training file: 24 rows under 45 (2 held out), 16 at 45 or over.
    # Test file: 12 under 45, 8 at 45 or over.
    assert data.sizes == {
        "train": 22,
        "validation": 2,
        "test": 12,
        "validation_shifted": 16,
        "test_shifted": 8,
    }
    assert tuple(data.splits) == SPLIT_NAMES
    assert data.task_names == ("income", "never_married")
    width = data.metadata["feature_width"]
    features, labels = data.splits["train"].element_spec
    assert features["features"] == tf.TensorSpec((width,), tf.float32)
    assert features["env"] == tf.TensorSpec((), tf.int32)
    assert labels["income"] == tf.TensorSpec((), tf.float32)
    assert labels["never_married"] == tf.TensorSpec((), tf.float32)
    names = data.metadata["feature_names"]
    assert len(names) == width
    assert not any(n.startswith("marital_status") for n in names)
    assert "instance_weight" not in names
    _, labels = _collect(data.splits["validation_shifted"])
    # Persons aged 50 or 65 are all married; every 4th one is rich.
    assert labels["never_married"].sum() == 0
    assert labels["income"].mean() == pytest.approx(0.25)
    _, labels = _collect(data.splits["test"])
    ages = [AGES[i % 5] for i in range(20) if AGES[i % 5] < 45]
    assert labels["never_married"].mean() == pytest.approx(
        np.mean([a < 30 for a in ages])
    )


def test_age_bands_are_environments(tmp_path):
    data = census_income.build_census_income(write_full_files(tmp_path))
    assert data.num_environments == 4
    assert data.metadata["environment_names"] == (
        "age in [5, 20)",
        "age in [20, 35)",
        "age in [35, 35]",
        "shifted",
    )
    age_index = data.metadata["feature_names"].index("age")
    train, _ = _collect(data.splits["train"])
    ages = train["features"][:, age_index]
    assert abs(ages.mean()) < 1e-5 and abs(ages.std() - 1) < 1e-5
    for name in SPLIT_NAMES:
        features, _ = _collect(data.splits[name])
        env = features["env"]
        assert env.min() >= 0 and env.max() < data.num_environments
        if name.endswith("_shifted"):
            assert (env == 3).all()
        else:
            order = np.argsort(features["features"][:, age_index])
            assert (np.diff(env[order]) >= 0).all()
            assert set(env) <= {0, 1, 2}
    assert set(train["env"]) == {0, 1, 2}


def test_one_hot_blocks_and_unseen_values(tmp_path):
    data = census_income.build_census_income(write_full_files(tmp_path))
    names = data.metadata["feature_names"]
    block = [i for i, n in enumerate(names) if n.startswith("class_of_worker=")]
    assert [names[i] for i in block] == ["class_of_worker=Private"]
    features, _ = _collect(data.splits["test"])
    assert names[:7] == (
        "age",
        "wage_per_hour",
        "capital_gains",
        "capital_losses",
        "dividends_from_stocks",
        "num_persons_worked_for_employer",
        "weeks_worked_in_year",
    )
    one_hot = features["features"][:, 7:]
    # Person 0 of the test file has an unseen class of worker.
    assert features["features"][0, block[0]] == 0.0
    assert one_hot[0].sum() == one_hot[1].sum() - 1
    assert set(np.unique(one_hot)) == {0.0, 1.0}


def test_nominal_shift_attribute(tmp_path):
    data = census_income.build_census_income(
        write_full_files(tmp_path),
        shift_attribute="region_of_previous_residence",
        shift_cut="South",
    )
    assert data.metadata["environment_names"] == (
        "region_of_previous_residence=Midwest",
        "region_of_previous_residence=Not in universe",
        "region_of_previous_residence=West",
        "shifted",
    )
    assert data.sizes["validation_shifted"] == 10  # every 4th of 40
    features, _ = _collect(data.splits["test_shifted"])
    assert (features["env"] == 3).all()
    both = census_income.build_census_income(
        tmp_path,
        shift_attribute="region_of_previous_residence",
        shift_cut=("South", "West"),
    )
    assert both.sizes["validation_shifted"] == 20
    assert both.num_environments == 3


def test_bad_shift_arguments(tmp_path):
    folder = write_full_files(tmp_path)
    with pytest.raises(ValueError, match="shift_attribute"):
        census_income.build_census_income(folder, shift_attribute="income")
    with pytest.raises(ValueError, match="never takes"):
        census_income.build_census_income(
            folder, shift_attribute="sex", shift_cut="Other"
        )
    with pytest.raises(ValueError, match="empty"):
        census_income.build_census_income(folder, shift_cut=100)
    with pytest.raises(ValueError, match="num_bands"):
        census_income.build_census_income(folder, num_bands=0)


def test_committed_sample():
    table = census_income_files.read_census_income(census_income.SAMPLE_PATH)
    assert set(COLUMNS) <= set(table)
    assert len(table["age"]) == 30_000
    assert (table["part"] == "train").sum() == 20_000
    assert census_income.SAMPLE_PATH.stat().st_size < 1_500_000
    labels = census_income.labels_of(table)
    assert 0.05 < labels["income"].mean() < 0.08
    assert 0.40 < labels["never_married"].mean() < 0.47
    data = census_income.build_census_income()
    assert sum(data.sizes.values()) == 30_000
    assert data.metadata["feature_width"] == 489
    for name in ("train", "test_shifted"):
        _, split_labels = _collect(data.splits[name])
        for task in data.task_names:
            assert set(np.unique(split_labels[task])) == {0.0, 1.0}


def _load_script():
    spec = importlib.util.spec_from_file_location("make_census", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_sample_script_is_stratified_and_reproducible(tmp_path, monkeypatch):
    script = _load_script()
    source = write_full_files(tmp_path / "uci", num_train=200, num_test=100)
    outputs = []
    for name in ("a.csv.gz", "b.csv.gz"):
        argv = [
            "make",
            str(source),
            str(tmp_path / name),
            "--train_size",
            "40",
            "--test_size",
            "20",
        ]
        monkeypatch.setattr(sys, "argv", argv)
        script.main()
        outputs.append((tmp_path / name).read_bytes())
    assert outputs[0] == outputs[1]
    table = census_income_files.read_census_income(tmp_path / "a.csv.gz")
    assert (table["part"] == "train").sum() == 40
    assert (table["part"] == "test").sum() == 20
    labels = census_income.labels_of(table)
    # The fixture's rates: a quarter rich, two fifths never married.
    assert labels["income"].mean() == pytest.approx(0.25)
    assert labels["never_married"].mean() == pytest.approx(0.4)
