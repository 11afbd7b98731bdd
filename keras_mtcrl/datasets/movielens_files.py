"""Readers for the GroupLens MovieLens file formats.

Every reader returns the same *ratings table*: a dict of numpy arrays, one
row per rating, with keys `user` (int64 raw user id), `movie` (int64 raw
movie id), `rating` (float32), `timestamp` (int64, seconds), `year`
(float32 release year, NaN when unknown) and `genres` (str, the movie's
genre names joined by `"|"`, empty when it has none).
"""

import csv
import os
import re

import numpy as np

TABLE_KEYS = ("user", "movie", "rating", "timestamp", "year", "genres")

#: Files that identify each supported layout, in detection order.
FORMAT_FILES = {
    "ml-latest-small": ("ratings.csv", "movies.csv"),
    "ml-100k": ("u.data", "u.item"),
    "ml-1m": ("ratings.dat", "movies.dat"),
}

# ml-100k's `u.item` carries 19 genre flags in this order (its `u.genre`).
ML_100K_GENRES = (
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)
# Placeholders that mean "no genre"; they never enter a vocabulary.
NO_GENRE = ("(no genres listed)", "unknown")
_TITLE_YEAR = re.compile(r"\((\d{4})(?:\s*[-\u2013]\s*\d{0,4})?\)\s*$")


def detect_movielens_format(data_dir):
    """Names the MovieLens layout found in `data_dir` (or a sub-folder).

    Args:
        data_dir: str or path-like. A folder holding `ratings.csv` +
            `movies.csv` (ml-latest-small and the other ml-latest/ml-20m
            style releases), `u.data` + `u.item` (ml-100k) or
            `ratings.dat` + `movies.dat` (ml-1m), directly or in one
            sub-folder such as `data_dir/ml-1m/`.

    Returns:
        A tuple `(format_name, folder)`: one of the keys of
        `FORMAT_FILES` and the folder holding the files.

    Example:

    >>> import os, tempfile
    >>> root = tempfile.mkdtemp()
    >>> for name in ("u.data", "u.item"):
    ...     open(os.path.join(root, name), "w").close()
    >>> detect_movielens_format(root)[0]
    'ml-100k'
    """
    data_dir = os.fspath(data_dir)
    if not os.path.isdir(data_dir):
        raise FileNotFoundError(
            f"MovieLens folder {data_dir} does not exist. Pass the folder "
            f"that holds the unzipped GroupLens files."
        )
    subdirs = sorted(
        os.path.join(data_dir, name) for name in os.listdir(data_dir)
    )
    for folder in [data_dir] + [d for d in subdirs if os.path.isdir(d)]:
        for name, files in FORMAT_FILES.items():
            if all(os.path.isfile(os.path.join(folder, f)) for f in files):
                return name, folder
    wanted = "; ".join(
        f"{name}: {' + '.join(files)}" for name, files in FORMAT_FILES.items()
    )
    raise FileNotFoundError(
        f"No MovieLens files found in {data_dir} or its sub-folders. "
        f"Expected one of ({wanted})."
    )


def read_movielens(data_dir):
    """Reads the MovieLens ratings found in `data_dir` into a ratings table.

    Args:
        data_dir: str or path-like. See `detect_movielens_format`.

    Returns:
        The ratings table (see this module's docstring).

    Example:

    >>> import os, tempfile
    >>> root = tempfile.mkdtemp()
    >>> with open(os.path.join(root, "ratings.csv"), "w") as f:
    ...     _ = f.write("userId,movieId,rating,timestamp\\n1,7,4.5,0\\n")
    >>> with open(os.path.join(root, "movies.csv"), "w") as f:
    ...     _ = f.write('movieId,title,genres\\n7,"Heat, The (1995)",Crime\\n')
    >>> table = read_movielens(root)
    >>> table["year"], table["genres"]
    (array([1995.], dtype=float32), array(['Crime'], dtype='<U5'))
    """
    name, folder = detect_movielens_format(data_dir)
    reader = {
        "ml-latest-small": _read_latest,
        "ml-100k": _read_100k,
        "ml-1m": _read_1m,
    }[name]
    return reader(folder)


def year_from_title(title):
    """Returns the release year at the end of a MovieLens title.

    Args:
        title: str. A title such as `"Heat (1995)"`; series may read
            `"Name (2006-2007)"` (the first year is taken).

    Returns:
        The year as a float, NaN when the title carries none.

    Example:

    >>> year_from_title("Heat (1995)"), year_from_title("Untitled")
    (1995.0, nan)
    """
    match = _TITLE_YEAR.search(title)
    return float(match.group(1)) if match else float("nan")


def _read_latest(folder):
    path = os.path.join(folder, "movies.csv")
    movies = {}
    with open(path, encoding="utf-8", newline="") as f:
        for row in _dict_rows(path, f, ("movieId", "title", "genres")):
            movies[int(row["movieId"])] = (
                year_from_title(row["title"]),
                row["genres"],
            )
    path = os.path.join(folder, "ratings.csv")
    columns = ("userId", "movieId", "rating", "timestamp")
    with open(path, encoding="utf-8", newline="") as f:
        rows = [[r[c] for c in columns] for r in _dict_rows(path, f, columns)]
    return _join(rows, movies, path)


def _read_100k(folder):
    path = os.path.join(folder, "u.item")
    movies = {}
    with open(path, encoding="latin-1") as f:
        for line_number, line in enumerate(f, 1):
            if not line.strip():
                continue
            fields = line.rstrip("\r\n").split("|")
            if len(fields) != 5 + len(ML_100K_GENRES):
                raise ValueError(
                    f"{path}:{line_number} has {len(fields)} '|'-separated "
                    f"fields; ml-100k's u.item has {5 + len(ML_100K_GENRES)}"
                    f" (id, title, release date, video date, URL, 19 flags)."
                )
            # The release date reads "01-Jan-1995"; a few are empty.
            date = fields[2].strip()
            year = float(date[-4:]) if date else year_from_title(fields[1])
            flags = fields[5:]
            genres = [g for g, on in zip(ML_100K_GENRES, flags) if on == "1"]
            movies[int(fields[0])] = (year, "|".join(genres))
    path = os.path.join(folder, "u.data")
    with open(path, encoding="latin-1") as f:
        rows = [line.split("\t") for line in f if line.strip()]
    return _join(rows, movies, path)


def _read_1m(folder):
    path = os.path.join(folder, "movies.dat")
    movies = {}
    with open(path, encoding="latin-1") as f:
        for fields in _colon_rows(path, f, 3):
            movies[int(fields[0])] = (year_from_title(fields[1]), fields[2])
    path = os.path.join(folder, "ratings.dat")
    with open(path, encoding="latin-1") as f:
        rows = list(_colon_rows(path, f, 4))
    return _join(rows, movies, path)


def _dict_rows(path, f, columns):
    reader = csv.DictReader(f)
    missing = [c for c in columns if c not in (reader.fieldnames or ())]
    if missing:
        raise ValueError(
            f"{path} lacks column(s) {missing}. Its header is "
            f"{reader.fieldnames}; expected {list(columns)}."
        )
    return reader


def _colon_rows(path, f, num_fields):
    for line_number, line in enumerate(f, 1):
        line = line.rstrip("\r\n")
        if not line:
            continue
        fields = line.split("::")
        if len(fields) != num_fields:
            raise ValueError(
                f"{path}:{line_number} has {len(fields)} '::'-separated "
                f"fields, expected {num_fields}: {line!r}"
            )
        yield fields


def _join(rows, movies, path):
    """Builds the ratings table from `[user, movie, rating, time]` rows."""
    if not rows:
        raise ValueError(f"{path} holds no ratings.")
    try:
        values = np.array(rows, dtype=np.float64)
    except ValueError as error:
        raise ValueError(
            f"{path} has a non-numeric user, movie, rating or timestamp "
            f"({error})."
        ) from error
    movie = values[:, 1].astype(np.int64)
    unknown = sorted(set(movie.tolist()) - set(movies))
    if unknown:
        raise ValueError(
            f"{path} rates {len(unknown)} movie id(s) missing from the "
            f"movie file, e.g. {unknown[:5]}. Use a complete download."
        )
    info = [movies[m] for m in movie.tolist()]
    return {
        "user": values[:, 0].astype(np.int64),
        "movie": movie,
        "rating": values[:, 2].astype(np.float32),
        "timestamp": values[:, 3].astype(np.int64),
        "year": np.array([year for year, _ in info], dtype=np.float32),
        "genres": np.array([genres for _, genres in info], dtype=str),
    }
