"""Smoke tests of `python -m benchmarks.run --quick` (the CI mode).

Each section runs in its own subprocess, as users run it, so the
allocator setting that `benchmarks.run` makes before TensorFlow starts
takes effect. The report must have the expected tables and rows, and
finite positive times, throughputs and memory figures.
"""

import doctest
import math
import pathlib
import subprocess
import sys

import pytest

from benchmarks import accuracy
from benchmarks import report
from benchmarks import scaling
from benchmarks import speed
from benchmarks import torch_peer

ROOT = pathlib.Path(__file__).resolve().parents[2]
# Columns whose numbers must be > 0 (others, e.g. costs, may be negative).
POSITIVE = (
    "ms/step",
    "p5 ms",
    "examples/s",
    "x Keras",
    "MiB",
    "warm-up s",
    "x Multi",
)


def run_quick(tmp_path, section):
    out = tmp_path / "benchmarks.md"
    command = [sys.executable, "-m", "benchmarks.run", "--quick"]
    command += ["--only", section, "--no-torch", "--out", str(out)]
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return out.read_text()


def parse_tables(markdown):
    """Returns title -> (columns, dict row label -> cells)."""
    tables, title, columns = {}, None, None
    for line in markdown.splitlines():
        if line.startswith("#### "):
            title, columns = line[5:], None
        elif line.startswith("|") and title and not line.startswith("|---"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if columns is None:
                columns = cells
                tables[title] = (columns, {})
            else:
                tables[title][1][cells[0]] = cells[1:]
    return tables


def check_numbers(columns, rows, expected_rows):
    assert set(expected_rows) <= set(rows), (expected_rows, list(rows))
    for label in expected_rows:
        for column, cell in zip(columns[1:], rows[label]):
            if cell in ("—", "") or cell[0] not in "-0123456789":
                continue
            value = float(cell)
            assert math.isfinite(value), (label, column, cell)
            if any(key in column for key in POSITIVE):
                assert value > 0, (label, column, cell)


@pytest.mark.slow  # over 40 s on 2 CPU cores
def test_speed_quick(tmp_path):
    markdown = run_quick(tmp_path, "speed")
    assert "<!-- benchmarks:speed:begin -->" in markdown
    assert "- command: `python -m benchmarks.run --quick" in markdown
    tables = parse_tables(markdown)
    columns, rows = tables["MT-CRL overhead against the target"]
    check_numbers(columns, rows, ["mlp, graph", "mlp, XLA", "conv, graph"])
    for workload, modes, labels in _groups(speed.plan(quick=True)):
        for kind in ("throughput", "memory"):
            columns, rows = tables[f"{workload.label}: {kind}"]
            check_numbers(columns, rows, labels)
            assert "—" not in rows[speed.FULL]


@pytest.mark.slow  # over 40 s on 2 CPU cores
def test_scaling_quick(tmp_path):
    markdown = run_quick(tmp_path, "scaling")
    tables = parse_tables(markdown)
    columns, rows = tables["Fitted growth"]
    check_numbers(columns, rows, ["T", "K", "batch"])
    for axis, values in scaling.QUICK_AXES.items():
        name = scaling.AXIS_NAMES[axis]
        title = next(t for t in tables if t.startswith(f"Growing {name} "))
        columns, rows = tables[title]
        check_numbers(columns, rows, [str(v) for v in values])


@pytest.mark.slow  # over 40 s on 2 CPU cores
def test_accuracy_quick(tmp_path):
    markdown = run_quick(tmp_path, "accuracy")
    assert "<!-- benchmarks:accuracy:begin -->" in markdown
    tables = parse_tables(markdown)
    columns, rows = tables["Δm against single-task models (%), all recipes"]
    assert columns == [
        "recipe", "mtcrl ID", "mtcrl shifted",
        "shared_bottom ID", "shared_bottom shifted",
    ]
    check_numbers(columns, rows, ["synthetic", "mean over recipes"])
    assert rows["synthetic"] == rows["mean over recipes"]
    # The recipe's own table: its metrics, then the delta_m rows.
    lines = [line for line in markdown.splitlines() if line.startswith("| a |")]
    assert len(lines) == 2  # accuracy, ID and shifted
    for line in lines:
        cells = [c.strip() for c in line.strip("|").split("|")][3:]
        assert all(0.0 <= float(cell) <= 1.0 for cell in cells), line
    assert "| all | Δm vs single_task (%) | ID test |" in markdown


def _groups(plan):
    """Merges the plan's groups per workload: (workload, modes, labels)."""
    merged = {}
    for workload, jit, labels in plan:
        modes, all_labels = merged.setdefault(workload, ([], []))
        modes.append(jit)
        all_labels.extend(x for x in labels if x not in all_labels)
    return [(w, modes, labels) for w, (modes, labels) in merged.items()]


def _stats(ms, peak=1.0):
    return speed.StepStats(
        steps_ms=[ms, ms], peak_mib=peak, warmup_s=1.0, batch_size=8
    )


def test_profile_table_splits_the_penalty_cost():
    stats = {
        speed.NO_PENALTY: _stats(1.0),
        speed.VREX: _stats(1.5),
        speed.DETACHED: _stats(2.0),
        speed.INVARIANCE: _stats(3.0),
    }
    table = speed.profile_table(speed.Workload("mlp", 2, 2, 8), {True: stats})
    shares = [row[3] for row in table.rows]
    assert shares == [None, "25%", "25%", "50%"]


def test_comparison_table_divides_keras_by_torch():
    keras_stats = {speed.BASELINE: _stats(3.0)}
    table = torch_peer.comparison_table(
        speed.Workload("mlp", 2, 2, 8),
        {"PyTorch shared-bottom": {"ms": 2.0, "p5": 1.0, "threads": 1}},
        {False: keras_stats},
    )
    assert table.rows == [
        ["PyTorch shared-bottom", 2.0, 1.0, 1, speed.BASELINE, 3.0, 1.5, 3.0]
    ]


@pytest.mark.parametrize("module", [accuracy, report, scaling, speed])
def test_docstring_examples(module):
    failures, _ = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert failures == 0


@pytest.mark.parametrize("name", sorted(accuracy.FULL))
def test_train_command_parses_back_to_the_benchmarked_config(name):
    from keras_mtcrl import cli

    changes = dict(accuracy.FULL[name], jit_compile=False, epochs=2)
    words = accuracy.train_command(name, changes, [0, 1, 2]).split()
    args = cli.build_parser().parse_args(words[1:])
    assert args.recipe == name
    assert args.seeds == [0, 1, 2]
    assert cli.config_overrides(args) == changes
