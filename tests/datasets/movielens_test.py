import numpy as np
import pytest
import tensorflow as tf

from keras_mtcrl.datasets import movielens
from keras_mtcrl.datasets import movielens_files
from keras_mtcrl.datasets.multi_task_data import SPLIT_NAMES

# Ten movies, twenty users, every user rates every movie (200 ratings).
YEARS = (1970, 1975, 1980, 1985, 1990, 1995, 1998, 2001, 2004, 2008)
GENRES = ("Action", "Comedy", "Drama", "Action|Comedy")
USERS = range(1, 21)
MOVIES = range(1, 11)


def _genres(movie):
    return GENRES[movie % len(GENRES)]


def _rating(user, movie):
    return 1 + (7 * user + 3 * movie) % 5


def _ratings():
    return [
        (u, m, _rating(u, m), 964982703 + u * 100 + m)
        for u in USERS
        for m in MOVIES
    ]


def write_latest(folder):
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["movieId,title,genres"]
    for m in MOVIES:
        title = f"Movie {m} ({YEARS[m - 1]})"
        if m == 2:
            title = f'"Heat, The ({YEARS[m - 1]})"'
        lines.append(f"{m},{title},{_genres(m)}")
    (folder / "movies.csv").write_text("\n".join(lines) + "\n")
    lines = ["userId,movieId,rating,timestamp"]
    lines += [f"{u},{m},{r:.1f},{t}" for u, m, r, t in _ratings()]
    (folder / "ratings.csv").write_text("\n".join(lines) + "\n")
    return folder


def write_100k(folder):
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for m in MOVIES:
        names = _genres(m).split("|")
        flags = [
            "1" if g in names else "0" for g in movielens_files.ML_100K_GENRES
        ]
        date = f"01-Jan-{YEARS[m - 1]}"
        url = f"http://us.imdb.com/M/title-exact?Movie%20{m}"
        fields = [str(m), f"Movie {m} ({YEARS[m - 1]})", date, "", url]
        lines.append("|".join(fields + flags))
    (folder / "u.item").write_bytes(("\n".join(lines) + "\n").encode())
    lines = [f"{u}\t{m}\t{r}\t{t}" for u, m, r, t in _ratings()]
    (folder / "u.data").write_text("\n".join(lines) + "\n")
    return folder


def write_1m(folder):
    folder.mkdir(parents=True, exist_ok=True)
    lines = [f"{m}::Movie {m} ({YEARS[m - 1]})::{_genres(m)}" for m in MOVIES]
    (folder / "movies.dat").write_bytes(
        ("\n".join(lines) + "\n").encode("latin-1")
    )
    lines = [f"{u}::{m}::{r}::{t}" for u, m, r, t in _ratings()]
    (folder / "ratings.dat").write_text("\n".join(lines) + "\n")
    return folder


WRITERS = {
    "ml-latest-small": write_latest,
    "ml-100k": write_100k,
    "ml-1m": write_1m,
}


def _collect(dataset):
    features, labels = next(iter(dataset.batch(10_000)))
    return (
        {k: v.numpy() for k, v in features.items()},
        {k: v.numpy() for k, v in labels.items()},
    )


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_every_format_is_detected_and_read_alike(tmp_path, name):
    folder = WRITERS[name](tmp_path / name)
    assert movielens_files.detect_movielens_format(tmp_path) == (
        name,
        str(folder),
    )
    table = movielens_files.read_movielens(folder)
    expected = np.array(_ratings())
    np.testing.assert_array_equal(table["user"], expected[:, 0])
    np.testing.assert_array_equal(table["movie"], expected[:, 1])
    np.testing.assert_array_equal(table["rating"], expected[:, 2])
    np.testing.assert_array_equal(table["timestamp"], expected[:, 3])
    np.testing.assert_array_equal(
        table["year"], [YEARS[m - 1] for m in expected[:, 1]]
    )
    assert table["genres"][0] == _genres(1)
    assert table["rating"].dtype == np.float32
    assert table["user"].dtype == np.int64


def test_ml_100k_date_fallback_and_unknown_genre(tmp_path):
    fields = ["1", "Mystery Film (1994)", "", "", "http://x"]
    flags = ["1"] + ["0"] * 18
    (tmp_path / "u.item").write_text("|".join(fields + flags) + "\n")
    (tmp_path / "u.data").write_text("5\t1\t3\t881250949\n")
    table = movielens_files.read_movielens(tmp_path)
    assert table["year"][0] == 1994
    # The placeholder is kept in the table and skipped by the vocabulary.
    assert table["genres"][0] == "unknown"
    assert "unknown" in movielens_files.NO_GENRE


def test_ml_100k_bad_line_names_file_and_line(tmp_path):
    (tmp_path / "u.item").write_text("1|Too Short (1994)|01-Jan-1994\n")
    (tmp_path / "u.data").write_text("5\t1\t3\t881250949\n")
    with pytest.raises(ValueError, match=r"u\.item:1 has 3"):
        movielens_files.read_movielens(tmp_path)


def test_ml_1m_latin1_title_and_missing_movie(tmp_path):
    (tmp_path / "movies.dat").write_bytes(
        "1::Caf\u00e9 Society (1999)::Children's|Comedy\n".encode("latin-1")
    )
    (tmp_path / "ratings.dat").write_text("1::1::5::978300760\n")
    table = movielens_files.read_movielens(tmp_path)
    assert table["year"][0] == 1999
    assert table["genres"][0] == "Children's|Comedy"
    (tmp_path / "ratings.dat").write_text("1::2::5::978300760\n")
    with pytest.raises(ValueError, match=r"missing from the movie file"):
        movielens_files.read_movielens(tmp_path)


def test_year_from_series_title():
    assert movielens_files.year_from_title("Show (2006\u20132007)") == 2006
    assert np.isnan(movielens_files.year_from_title("No Year"))


def test_no_files_lists_what_is_expected(tmp_path):
    with pytest.raises(FileNotFoundError, match="ratings.dat"):
        movielens_files.detect_movielens_format(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        movielens_files.detect_movielens_format(tmp_path / "nope")


def test_build_split_sizes_and_specs(tmp_path):
    data = movielens.build_movielens(write_latest(tmp_path), shift_year=2001)
    assert data.sizes == {
        "train": 112,
        "validation": 14,
        "test": 14,
        "validation_shifted": 30,
        "test_shifted": 30,
    }
    assert tuple(data.splits) == SPLIT_NAMES
    assert data.task_names == ("rating", "liked")
    features, labels = data.splits["train"].element_spec
    assert features["user_id"] == tf.TensorSpec((), tf.int32)
    assert features["movie_id"] == tf.TensorSpec((), tf.int32)
    assert features["genres"] == tf.TensorSpec((3,), tf.float32)
    assert features["year"] == tf.TensorSpec((), tf.float32)
    assert features["env"] == tf.TensorSpec((), tf.int32)
    assert labels["rating"] == tf.TensorSpec((), tf.float32)
    assert labels["liked"] == tf.TensorSpec((), tf.float32)
    for name, size in data.sizes.items():
        assert len(_collect(data.splits[name])[0]["env"]) == size


def test_build_shift_envs_and_vocabularies(tmp_path):
    data = movielens.build_movielens(
        write_latest(tmp_path), shift_year=2001, num_periods=2
    )
    meta = data.metadata
    assert data.num_environments == 3
    assert meta["vocabulary_sizes"] == {
        "user_id": 21,
        "movie_id": 8,
        "genres": 3,
    }
    assert meta["genres"] == ("Action", "Comedy", "Drama")
    for name in SPLIT_NAMES:
        features, _ = _collect(data.splits[name])
        years = features["year"] * meta["year_std"] + meta["year_mean"]
        env = features["env"]
        assert env.min() >= 0 and env.max() < data.num_environments
        if name.endswith("_shifted"):
            assert (years >= 2000.5).all()
            assert (env == 2).all()
            assert (features["movie_id"] == 0).all()
        else:
            assert (years < 2000.5).all()
            assert (env < 2).all()
            assert (features["movie_id"] >= 1).all()
            # The release period follows the year.
            edge = meta["period_edges"][0]
            np.testing.assert_array_equal(env, (years > edge - 0.5))
    train, _ = _collect(data.splits["train"])
    assert set(np.unique(train["env"])) == {0, 1}
    assert abs(train["year"].mean()) < 1e-4


def test_build_labels_and_genres(tmp_path):
    data = movielens.build_movielens(write_latest(tmp_path), shift_year=2001)
    ratings = np.array(_ratings())
    shifted = np.array([YEARS[m - 1] >= 2001 for m in ratings[:, 1]])
    expected_rate = np.mean(ratings[shifted, 2] >= 4)
    shifted_liked = []
    for name in SPLIT_NAMES:
        features, labels = _collect(data.splits[name])
        np.testing.assert_array_equal(
            labels["liked"], (labels["rating"] >= 4).astype(np.float32)
        )
        assert set(np.unique(labels["rating"])) <= {1, 2, 3, 4, 5}
        # "Action|Comedy" rows set both bits, the others exactly one.
        assert set(features["genres"].sum(axis=1)) <= {1.0, 2.0}
        if name.endswith("_shifted"):
            shifted_liked.append(labels["liked"])
    assert np.mean(np.concatenate(shifted_liked)) == pytest.approx(
        expected_rate
    )


def test_build_is_seeded(tmp_path):
    folder = write_latest(tmp_path)

    def test_pairs(seed):
        data = movielens.build_movielens(folder, 2001, seed=seed)
        features, _ = _collect(data.splits["test"])
        return np.stack([features["user_id"], features["movie_id"]])

    np.testing.assert_array_equal(test_pairs(3), test_pairs(3))
    assert test_pairs(3).shape == test_pairs(4).shape
    assert not np.array_equal(test_pairs(3), test_pairs(4))


def test_default_shift_year_targets_the_fraction(tmp_path):
    data = movielens.build_movielens(
        write_latest(tmp_path), shifted_fraction=0.3
    )
    assert data.metadata["shift_year"] == 2001
    assert movielens.choose_shift_year(np.array(YEARS), 0.2) == 2004


def test_no_genres_placeholder_sets_no_bit(tmp_path):
    folder = write_latest(tmp_path)
    text = (folder / "movies.csv").read_text()
    line = f"3,Movie 3 (1980),{_genres(3)}"
    assert line in text
    text = text.replace(line, "3,Movie 3 (1980),(no genres listed)")
    (folder / "movies.csv").write_text(text)
    data = movielens.build_movielens(folder, shift_year=2001)
    assert "(no genres listed)" not in data.metadata["genres"]
    features, _ = _collect(data.splits["train"])
    assert (features["genres"].sum(axis=1) == 0).any()


def test_bad_arguments(tmp_path):
    folder = write_latest(tmp_path)
    with pytest.raises(ValueError, match="leaves one side empty"):
        movielens.build_movielens(folder, shift_year=1900)
    with pytest.raises(ValueError, match="validation_fraction"):
        movielens.build_movielens(
            folder, 2001, validation_fraction=0.6, test_fraction=0.5
        )
    with pytest.raises(ValueError, match="num_periods"):
        movielens.build_movielens(folder, 2001, num_periods=0)
    with pytest.raises(ValueError, match="shifted_fraction"):
        movielens.build_movielens(folder, shifted_fraction=1.5)
