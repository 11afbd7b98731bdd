"""MovieLens rating prediction with a shift in movie release time."""

import numpy as np
import tensorflow as tf

from keras_mtcrl.datasets.movielens_dslabs import fetch_dslabs_movielens
from keras_mtcrl.datasets.movielens_encoder import MovieLensEncoder
from keras_mtcrl.datasets.movielens_files import read_movielens
from keras_mtcrl.datasets.multi_task_data import MultiTaskData
from keras_mtcrl.datasets.multi_task_data import TaskSpec

TASKS = (TaskSpec("rating", "regression", 1), TaskSpec("liked", "binary", 1))


def build_movielens(
    data_dir=None,
    shift_year=None,
    shifted_fraction=0.2,
    num_periods=4,
    validation_fraction=0.1,
    test_fraction=0.1,
    seed=0,
):
    """Builds MovieLens as a two-task problem shifted by release year.

    As in the MT-CRL paper, the shift is movie release time: ratings of
    movies released before `shift_year` are split at random into `train`,
    `validation` and `test`; ratings of movies released in or after it
    are split at random, half and half, into `validation_shifted` and
    `test_shifted`. Ratings of movies without a known year are dropped.

    Features (all from the ratings table; vocabularies and statistics come
    from the `train` split only):

    - `user_id`, `movie_id`: int32 indices, `0` for ids unseen in `train`
      (so every movie of the shifted splits is `0`: a cold start that the
      model must answer from `genres` and `year`).
    - `genres`: float32 multi-hot over the genre vocabulary (placeholders
      such as `"(no genres listed)"` set no bit).
    - `year`: float32 release year, standardized.
    - `env`: int32 release period. The training period is cut into
      `num_periods` quantile buckets of release year (over training
      ratings); every shifted rating has id `num_environments - 1`.

    Tasks: `rating` (regression, the star rating, float32) and `liked`
    (binary, `rating >= 4`, float32 0/1), the usual pair of rating
    regression and like classification. No third task is defined: the
    ratings table has no other per-rating target (timestamp, genres and
    year are inputs or the shift attribute), and a task derived from the
    inputs could be read straight off the features.

    The returned object also carries `metadata`, a dict with
    `vocabulary_sizes` (`user_id`, `movie_id`, `genres`: the `input_dim`
    of an embedding, OOV index included), `genres`, `shift_year`,
    `period_edges`, `year_mean`, `year_std` and `source`.

    Args:
        data_dir: str or path-like. A folder with GroupLens files
            (ml-latest-small, ml-100k or ml-1m; see
            `keras_mtcrl.datasets.movielens_files`). Defaults to `None`:
            dslabs' ml-latest-small snapshot, fetched with apt-get and
            cached (`keras_mtcrl.datasets.movielens_dslabs`).
        shift_year: int. First release year of the shifted splits.
            Defaults to `None`: the year that puts closest to
            `shifted_fraction` of the ratings in the shifted splits (2003
            for dslabs' snapshot, 18.9%).
        shifted_fraction: float. Target share of shifted ratings when
            `shift_year` is `None`. Defaults to `0.2`.
        num_periods: int. Number of release-period environments in the
            training period (fewer when years tie). Defaults to `4`.
        validation_fraction: float. Share of in-distribution ratings in
            `validation`. Defaults to `0.1`.
        test_fraction: float. Share of in-distribution ratings in `test`.
            Defaults to `0.1`.
        seed: int. Seed of the random splits. Defaults to `0`.

    Returns:
        A `MultiTaskData` with the five splits of `SPLIT_NAMES`.

    Example:

    >>> import os, tempfile
    >>> root = tempfile.mkdtemp()
    >>> with open(os.path.join(root, "movies.csv"), "w") as f:
    ...     _ = f.write("movieId,title,genres\\n1,Old (1990),Drama\\n"
    ...                 "2,New (2010),Comedy|Drama\\n")
    >>> rows = [f"{u},{m},{r},0" for u in range(1, 11)
    ...         for m, r in ((1, 4.0), (2, 2.5))]
    >>> with open(os.path.join(root, "ratings.csv"), "w") as f:
    ...     _ = f.write("userId,movieId,rating,timestamp\\n")
    ...     _ = f.write("\\n".join(rows))
    >>> data = build_movielens(root, shift_year=2000, num_periods=1)
    >>> data.sizes["train"], data.sizes["test_shifted"]
    (8, 5)
    >>> features, labels = next(iter(data.split("test_shifted")))
    >>> int(features["movie_id"]), int(features["env"]), data.num_environments
    (0, 1, 2)
    """
    _check_args(
        shifted_fraction, num_periods, validation_fraction, test_fraction
    )
    if data_dir is None:
        table, source = fetch_dslabs_movielens(), "dslabs ml-latest-small"
    else:
        table, source = read_movielens(data_dir), str(data_dir)
    return _build_from_table(
        table,
        source,
        shift_year,
        shifted_fraction,
        num_periods,
        validation_fraction,
        test_fraction,
        seed,
    )


def _build_from_table(
    table,
    source,
    shift_year,
    shifted_fraction,
    num_periods,
    validation_fraction,
    test_fraction,
    seed,
):
    """`build_movielens` on a ratings table (see `movielens_files`).

    Shared with the TFDS builder `keras_mtcrl_movielens`, which rebuilds
    the table from its prepared records.
    """
    _check_args(
        shifted_fraction, num_periods, validation_fraction, test_fraction
    )
    table = {
        key: value[~np.isnan(table["year"])] for key, value in table.items()
    }
    if shift_year is None:
        shift_year = choose_shift_year(table["year"], shifted_fraction)
    shifted = table["year"] >= shift_year
    if shifted.all() or not shifted.any():
        raise ValueError(
            f"`shift_year`={shift_year} leaves one side empty: release years "
            f"run from {int(table['year'].min())} to "
            f"{int(table['year'].max())}. Pick a year inside that range."
        )
    rows = _split_rows(shifted, validation_fraction, test_fraction, seed)
    if len(rows["train"]) == 0:
        raise ValueError(
            f"No rating is left for `train`: only {int((~shifted).sum())} "
            f"ratings are released before {shift_year}. Choose a later "
            f"`shift_year` or smaller validation/test fractions."
        )
    encoder = MovieLensEncoder(table, rows["train"], num_periods)
    splits, sizes = {}, {}
    for name, index in rows.items():
        splits[name] = tf.data.Dataset.from_tensor_slices(
            encoder.encode(table, index, shifted[index])
        )
        sizes[name] = int(len(index))
    data = MultiTaskData(
        splits=splits,
        tasks=TASKS,
        num_environments=encoder.num_environments,
        description=_describe(source, shift_year, encoder),
        sizes=sizes,
    )
    data.metadata = encoder.metadata(source, shift_year)
    return data


def choose_shift_year(years, shifted_fraction=0.2):
    """Returns the release year that best cuts off `shifted_fraction`.

    Args:
        years: array. Release year of each rating (no NaN).
        shifted_fraction: float. Wanted share of ratings with a year at
            or after the cut. Defaults to `0.2`.

    Returns:
        An int year `y` (never the earliest year) that makes
        `mean(years >= y)` closest to `shifted_fraction`.

    Example:

    >>> choose_shift_year([1990, 1991, 1992, 1993, 1994], 0.4)
    1993
    """
    years = np.asarray(years, dtype=np.float64)
    candidates = np.unique(years)[1:]
    if len(candidates) == 0:
        raise ValueError(
            f"All ratings have release year {years[0]:.0f}: no year can "
            f"split them into in-distribution and shifted parts."
        )
    shares = np.array([np.mean(years >= year) for year in candidates])
    return int(candidates[np.argmin(np.abs(shares - shifted_fraction))])


def _split_rows(shifted, validation_fraction, test_fraction, seed):
    rng = np.random.default_rng(seed)
    in_dist = rng.permutation(np.flatnonzero(~shifted))
    num_val = int(round(validation_fraction * len(in_dist)))
    num_test = int(round(test_fraction * len(in_dist)))
    out = rng.permutation(np.flatnonzero(shifted))
    half = len(out) // 2
    return {
        "train": np.sort(in_dist[num_val + num_test :]),
        "validation": np.sort(in_dist[:num_val]),
        "test": np.sort(in_dist[num_val : num_val + num_test]),
        "validation_shifted": np.sort(out[:half]),
        "test_shifted": np.sort(out[half:]),
    }


def _check_args(
    shifted_fraction, num_periods, validation_fraction, test_fraction
):
    if not 0.0 < shifted_fraction < 1.0:
        raise ValueError(
            f"`shifted_fraction` must be in (0, 1). "
            f"Received: shifted_fraction={shifted_fraction}"
        )
    if int(num_periods) != num_periods or num_periods < 1:
        raise ValueError(
            f"`num_periods` must be a positive int. "
            f"Received: num_periods={num_periods}"
        )
    fractions = (validation_fraction, test_fraction)
    if min(fractions) < 0.0 or sum(fractions) >= 1.0:
        raise ValueError(
            f"`validation_fraction` and `test_fraction` must be >= 0 and "
            f"sum to less than 1. Received: validation_fraction="
            f"{validation_fraction}, test_fraction={test_fraction}"
        )


def _describe(source, shift_year, encoder):
    edges = ", ".join(str(int(e)) for e in encoder.period_edges) or "none"
    return (
        f"MovieLens ratings ({source}; GroupLens, F. M. Harper and J. A. "
        f"Konstan, ACM TiiS 2015; not redistributable, never stored in "
        f"this repository). Tasks: rating (regression) and liked (rating "
        f">= 4). Shift: movies released in or after {shift_year} form the "
        f"shifted splits (env {encoder.num_environments - 1}); earlier "
        f"ones are split at random into train/validation/test, with "
        f"release-period environments cut at years {edges}."
    )
