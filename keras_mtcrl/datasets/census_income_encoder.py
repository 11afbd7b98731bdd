"""Turns Census-Income columns into one model-ready float vector."""

import numpy as np

from keras_mtcrl.datasets.census_income_files import NUMERIC_COLUMNS

#: Columns that are neither inputs nor labels' sources.
NOT_INPUTS = ("instance_weight", "income", "marital_status", "part")
#: Heavy-tailed money columns, compressed with log1p before scaling.
MONEY_COLUMNS = (
    "wage_per_hour",
    "capital_gains",
    "capital_losses",
    "dividends_from_stocks",
)


class CensusEncoder:
    """Statistics, vocabularies and environments learned on `train` rows.

    The vector is the standardized numeric columns, then one one-hot block
    per nominal column (values sorted; only values seen in `train`). The
    shift attribute gives the environments: quantile bands of a numeric
    attribute, or one environment per value of a nominal one, as seen in
    `train`; the last id is reserved for shifted rows.

    Args:
        table: dict. A table from `read_census_income`.
        train_rows: int array. The rows of the `train` split.
        attribute: str. The shift attribute's column name.
        num_bands: int. Number of quantile bands of a numeric attribute.

    Example:

    >>> table = {"age": np.array([20.0, 30.0, 60.0]),
    ...          "sex": (np.array([0, 1, 0]), ("Male", "Female"))}
    >>> encoder = CensusEncoder(table, np.array([0, 1]), "age", 2)
    >>> encoder.feature_names
    ('age', 'sex=Female', 'sex=Male')
    >>> encoder.environments(table, np.arange(3), np.array([0, 0, 1], bool))
    array([0, 1, 2], dtype=int32)
    """

    def __init__(self, table, train_rows, attribute, num_bands):
        if int(num_bands) != num_bands or num_bands < 1:
            raise ValueError(
                f"`num_bands` must be a positive int. "
                f"Received: num_bands={num_bands}"
            )
        inputs = [name for name in table if name not in NOT_INPUTS]
        self.numeric = [n for n in inputs if n in NUMERIC_COLUMNS]
        self.nominal = [n for n in inputs if n not in NUMERIC_COLUMNS]
        numeric = self._numeric_values(table, train_rows)
        self.mean = numeric.mean(axis=0)
        std = numeric.std(axis=0)
        self.std = np.where(std > 0, std, 1.0)
        names = list(self.numeric)
        # For each nominal column: code -> slot in the one-hot part, or -1.
        self.slot_of_code = {}
        num_slots = 0
        for name in self.nominal:
            codes, values = table[name]
            seen = np.unique(codes[train_rows])
            order = sorted(seen.tolist(), key=lambda code: values[code])
            slots = np.full(len(values), -1, np.int64)
            slots[order] = num_slots + np.arange(len(order))
            self.slot_of_code[name] = slots
            names += [f"{name}={values[code]}" for code in order]
            num_slots += len(order)
        self.num_slots = num_slots
        self.width = len(self.numeric) + num_slots
        self.feature_names = tuple(names)
        self._fit_environments(table, train_rows, attribute, num_bands)

    def dense(self, table, rows):
        """Returns the float32 feature vectors of `rows`, `(n, width)`.

        A value unseen in `train` sets no bit of its column's block.
        """
        one_hot = np.zeros((len(rows), self.num_slots + 1), np.float32)
        for name in self.nominal:
            slots = self.slot_of_code[name][table[name][0][rows]]
            # Unseen values go to one extra slot that is cut off below.
            slots = np.where(slots < 0, self.num_slots, slots)
            one_hot[np.arange(len(rows)), slots] = 1.0
        numeric = (self._numeric_values(table, rows) - self.mean) / self.std
        return np.concatenate(
            [numeric.astype(np.float32), one_hot[:, :-1]], axis=1
        )

    def environments(self, table, rows, shifted):
        """Returns the int32 environment id of each row."""
        column = table[self.attribute]
        if self.numeric_attribute:
            env = np.searchsorted(self.edges, column[rows], side="right")
        else:
            env = self.env_of_code[column[0][rows]]
        env = np.where(shifted, self.num_environments - 1, env)
        # A nominal value unseen in `train` falls back to environment 0.
        return np.maximum(env, 0).astype(np.int32)

    def _numeric_values(self, table, rows):
        values = [np.asarray(table[n], np.float64)[rows] for n in self.numeric]
        if not values:
            return np.zeros((len(rows), 0))
        values = np.stack(values, axis=1)
        for i, name in enumerate(self.numeric):
            if name in MONEY_COLUMNS:
                values[:, i] = np.log1p(np.maximum(values[:, i], 0.0))
        return values

    def _fit_environments(self, table, train_rows, attribute, num_bands):
        self.attribute = attribute
        column = table[attribute]
        self.numeric_attribute = not isinstance(column, tuple)
        if self.numeric_attribute:
            train = np.asarray(column)[train_rows]
            quantiles = np.quantile(
                train, np.arange(1, num_bands) / num_bands, method="higher"
            )
            edges = np.unique(quantiles)
            self.edges = edges[edges > train.min()]
            lows = [train.min(), *self.edges]
            names = [
                f"{attribute} in [{lo:g}, {hi:g})"
                for lo, hi in zip(lows[:-1], lows[1:])
            ]
            names.append(f"{attribute} in [{lows[-1]:g}, {train.max():g}]")
        else:
            codes, values = column
            seen = sorted(
                np.unique(codes[train_rows]).tolist(),
                key=lambda code: values[code],
            )
            self.env_of_code = np.full(len(values), -1, np.int64)
            self.env_of_code[seen] = np.arange(len(seen))
            names = [f"{attribute}={values[code]}" for code in seen]
        self.environment_names = tuple(names) + ("shifted",)
        self.num_environments = len(self.environment_names)
