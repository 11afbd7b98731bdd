"""Reader for the UCI Census-Income (KDD) files.

`census-income.data` (199,523 rows) and `census-income.test` (99,762 rows)
hold one person per line: 42 comma-separated fields (a space follows each
comma), no header, the income label last (`- 50000.` or `50000+.`). The
same reader reads the committed sample, which keeps that layout and adds
comment lines starting with `|` (the comment mark of UCI's `.names`
files); a comment `| part: train` or `| part: test` says which original
file the following lines come from (its first word; the rest of the
comment is free text).
"""

import gzip
import os

import numpy as np

#: The 42 fields of a line, in file order (UCI's census-income.names).
COLUMNS = (
    "age",
    "class_of_worker",
    "detailed_industry_recode",
    "detailed_occupation_recode",
    "education",
    "wage_per_hour",
    "enroll_in_edu_inst_last_wk",
    "marital_status",
    "major_industry_code",
    "major_occupation_code",
    "race",
    "hispanic_origin",
    "sex",
    "member_of_a_labor_union",
    "reason_for_unemployment",
    "full_or_part_time_employment_stat",
    "capital_gains",
    "capital_losses",
    "dividends_from_stocks",
    "tax_filer_stat",
    "region_of_previous_residence",
    "state_of_previous_residence",
    "detailed_household_and_family_stat",
    "detailed_household_summary_in_household",
    "instance_weight",
    "migration_code_change_in_msa",
    "migration_code_change_in_reg",
    "migration_code_move_within_reg",
    "live_in_this_house_1_year_ago",
    "migration_prev_res_in_sunbelt",
    "num_persons_worked_for_employer",
    "family_members_under_18",
    "country_of_birth_father",
    "country_of_birth_mother",
    "country_of_birth_self",
    "citizenship",
    "own_business_or_self_employed",
    "fill_inc_questionnaire_for_veterans_admin",
    "veterans_benefits",
    "weeks_worked_in_year",
    "year",
    "income",
)
#: Columns that UCI lists as continuous; all others are nominal codes.
NUMERIC_COLUMNS = (
    "age",
    "wage_per_hour",
    "capital_gains",
    "capital_losses",
    "dividends_from_stocks",
    "instance_weight",
    "num_persons_worked_for_employer",
    "weeks_worked_in_year",
)
INCOME_LABELS = {"- 50000.": 0, "50000+.": 1}
PART_MARK = "| part:"


def read_census_income(path, part="train"):
    """Reads one Census-Income file (plain or `.gz`) column by column.

    Args:
        path: str or path-like. `census-income.data`, `census-income.test`
            (either gzip-compressed or not) or the committed sample.
        part: str. `"train"` or `"test"`: the original file the lines come
            from, until a `| part: ...` comment says otherwise. Defaults to
            `"train"`.

    Returns:
        A dict: each name of `NUMERIC_COLUMNS` maps to a float64 array;
        each other column of `COLUMNS` (the `income` label included, as
        its text) maps to a pair `(codes, values)`, int32 codes into the
        tuple `values` of distinct strings; `"part"` maps to a str array
        of `"train"`/`"test"`.

    Example:

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "census-income.data")
    >>> fields = ["40"] + ["0"] * 40 + ["50000+."]
    >>> with open(path, "w") as f:
    ...     _ = f.write(", ".join(fields) + "\\n")
    >>> table = read_census_income(path)
    >>> table["age"], table["income"]
    (array([40.]), (array([0], dtype=int32), ('50000+.',)))
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Census-Income file {path} does not exist.")
    numeric = {name: [] for name in NUMERIC_COLUMNS}
    codes = {name: [] for name in COLUMNS if name not in numeric}
    values = {name: {} for name in codes}
    parts = []
    positions = list(enumerate(COLUMNS))
    with _open_text(path) as f:
        for line_number, line in enumerate(f, 1):
            line = line.strip()
            if line.startswith(PART_MARK):
                part = (line[len(PART_MARK) :].split() or [""])[0]
            if not line or line.startswith("|"):
                continue
            fields = line.split(",")
            if len(fields) != len(COLUMNS):
                raise ValueError(
                    f"{path}:{line_number} has {len(fields)} comma-separated "
                    f"fields; Census-Income lines have {len(COLUMNS)}."
                )
            for i, name in positions:
                value = fields[i].strip()
                if name in numeric:
                    numeric[name].append(_to_float(value, path, line_number))
                else:
                    codes[name].append(
                        values[name].setdefault(value, len(values[name]))
                    )
            parts.append(part)
    _check_parts_and_labels(path, parts, values["income"])
    table = {name: np.array(v, np.float64) for name, v in numeric.items()}
    for name in codes:
        table[name] = (np.array(codes[name], np.int32), tuple(values[name]))
    table["part"] = np.array(parts, dtype=str)
    return table


def concatenate_tables(tables):
    """Joins tables read by `read_census_income`, merging the codes.

    Args:
        tables: list of dict. Tables from `read_census_income`.

    Returns:
        One table in the same form, rows in the given order.

    Example:

    >>> a = {"age": [30.0], "sex": (np.array([0]), ("Male",))}
    >>> b = {"age": [50.0], "sex": (np.array([0]), ("Female",))}
    >>> joined = concatenate_tables([a, b])
    >>> joined["sex"]
    (array([0, 1], dtype=int32), ('Male', 'Female'))
    """
    joined = {}
    for name, first in tables[0].items():
        if not isinstance(first, tuple):
            joined[name] = np.concatenate([t[name] for t in tables])
            continue
        merged, parts = {}, []
        for table in tables:
            table_codes, table_values = table[name]
            remap = np.array(
                [merged.setdefault(v, len(merged)) for v in table_values],
                np.int32,
            )
            parts.append(remap[np.asarray(table_codes, np.int64)])
        joined[name] = (np.concatenate(parts).astype(np.int32), tuple(merged))
    return joined


def column_strings(table, name):
    """Returns column `name` of a table as a str array.

    Args:
        table: dict. A table from `read_census_income`.
        name: str. A column name of `COLUMNS`.

    Returns:
        A numpy str array, one entry per row.

    Example:

    >>> column_strings({"sex": (np.array([1, 0]), ("Male", "Female"))}, "sex")
    array(['Female', 'Male'], dtype='<U6')
    """
    if name not in table:
        raise ValueError(
            f"Unknown Census-Income column {name!r}. Known: {list(COLUMNS)}"
        )
    column = table[name]
    if not isinstance(column, tuple):
        return np.asarray(column).astype(str)
    codes, values = column
    return np.array(values, dtype=str)[codes]


def _open_text(path):
    with open(path, "rb") as f:
        compressed = f.read(2) == b"\x1f\x8b"
    if compressed:
        return gzip.open(path, "rt", encoding="latin-1")
    return open(path, encoding="latin-1")


def _to_float(value, path, line_number):
    try:
        return float(value)
    except ValueError:
        raise ValueError(
            f"{path}:{line_number} has {value!r} in a numeric column."
        ) from None


def _check_parts_and_labels(path, parts, income_values):
    unknown_parts = set(parts) - {"train", "test"}
    if unknown_parts:
        raise ValueError(
            f"{path} names part(s) {sorted(unknown_parts)}; a `| part:` "
            f"comment must say `train` or `test`."
        )
    unknown = set(income_values) - set(INCOME_LABELS)
    if unknown:
        raise ValueError(
            f"{path} has income label(s) {sorted(unknown)}; expected "
            f"{sorted(INCOME_LABELS)} in the last field."
        )
    if not parts:
        raise ValueError(f"{path} holds no data lines.")
