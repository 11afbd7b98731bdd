"""Turns MovieLens ratings into model inputs and labels."""

import numpy as np

from keras_mtcrl.datasets.movielens_files import NO_GENRE

#: A rating at or above this many stars counts as `liked`.
LIKED_THRESHOLD = 4.0


class MovieLensEncoder:
    """Vocabularies, statistics and release periods learned on `train`.

    User and movie ids become 1-based indices into the sorted ids seen in
    `train` (0 for an unseen id); genres a multi-hot vector over the genre
    names seen in `train` (placeholders such as `"(no genres listed)"`
    excluded); the release year is standardized with `train` statistics.
    The training period is cut into `num_periods` quantile buckets of
    release year (fewer when years tie): environments `0` to
    `num_environments - 2`; shifted rows get `num_environments - 1`.

    Args:
        table: dict. A ratings table (`keras_mtcrl.datasets
            .movielens_files`) without NaN years.
        train_rows: int array. The rows of the `train` split.
        num_periods: int. Number of release periods wanted.

    Example:

    >>> table = {"user": np.array([7, 7, 9]), "movie": np.array([1, 2, 3]),
    ...          "rating": np.array([4.0, 2.0, 5.0], np.float32),
    ...          "year": np.array([1990.0, 1994.0, 2010.0], np.float32),
    ...          "genres": np.array(["Drama", "Comedy|Drama", "Comedy"])}
    >>> encoder = MovieLensEncoder(table, np.array([0, 1]), num_periods=2)
    >>> features, labels = encoder.encode(
    ...     table, np.arange(3), np.array([False, False, True]))
    >>> features["movie_id"], features["env"], labels["liked"]
    (array([1, 2, 0], dtype=int32), array([0, 1, 2], dtype=int32), \
array([1., 0., 1.], dtype=float32))
    """

    def __init__(self, table, train_rows, num_periods):
        train = {key: table[key][train_rows] for key in table}
        self.users = np.unique(train["user"])
        self.movies = np.unique(train["movie"])
        names = {g for gs in np.unique(train["genres"]) for g in gs.split("|")}
        self.genres = sorted(names - set(NO_GENRE) - {""})
        self.year_mean = float(train["year"].mean())
        self.year_std = float(train["year"].std()) or 1.0
        quantiles = np.quantile(
            train["year"],
            np.arange(1, num_periods) / num_periods,
            method="higher",
        )
        edges = np.unique(quantiles)
        self.period_edges = edges[edges > train["year"].min()]
        self.num_environments = len(self.period_edges) + 2

    def encode(self, table, rows, shifted):
        """Returns `(features, labels)`, dicts of arrays for `rows`.

        Args:
            table: dict. The ratings table.
            rows: int array. The rows to encode.
            shifted: bool array. Which of `rows` are shifted.

        Returns:
            The feature dict (`user_id`, `movie_id`, `genres`, `year`,
            `env`) and the label dict (`rating`, `liked`).
        """
        years = table["year"][rows]
        env = np.searchsorted(self.period_edges, years, side="right")
        env[shifted] = self.num_environments - 1
        rating = table["rating"][rows]
        features = {
            "user_id": _lookup(self.users, table["user"][rows]),
            "movie_id": _lookup(self.movies, table["movie"][rows]),
            "genres": self._multi_hot(table["genres"][rows]),
            "year": ((years - self.year_mean) / self.year_std).astype(
                np.float32
            ),
            "env": env.astype(np.int32),
        }
        labels = {
            "rating": rating.astype(np.float32),
            "liked": (rating >= LIKED_THRESHOLD).astype(np.float32),
        }
        return features, labels

    def metadata(self, source, shift_year):
        """Returns what a model needs to size its inputs, as a dict."""
        return {
            "vocabulary_sizes": {
                "user_id": len(self.users) + 1,
                "movie_id": len(self.movies) + 1,
                "genres": len(self.genres),
            },
            "genres": tuple(self.genres),
            "shift_year": int(shift_year),
            "period_edges": tuple(int(e) for e in self.period_edges),
            "year_mean": self.year_mean,
            "year_std": self.year_std,
            "source": source,
        }

    def _multi_hot(self, genres):
        # Encode each distinct genre string once; movies repeat a lot.
        unique, inverse = np.unique(genres, return_inverse=True)
        position = {genre: i for i, genre in enumerate(self.genres)}
        rows = np.zeros((len(unique), len(self.genres)), np.float32)
        for row, names in zip(rows, unique):
            for name in names.split("|"):
                if name in position:
                    row[position[name]] = 1.0
        return rows[inverse.ravel()]


def _lookup(vocabulary, ids):
    """Index of each id in the sorted `vocabulary`, plus one; 0 if absent."""
    if len(vocabulary) == 0:
        return np.zeros(len(ids), np.int32)
    position = np.searchsorted(vocabulary, ids)
    position = np.minimum(position, len(vocabulary) - 1)
    found = vocabulary[position] == ids
    return np.where(found, position + 1, 0).astype(np.int32)
