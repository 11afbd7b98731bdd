"""How the MT-CRL step grows with tasks T, modules K and the batch.

The MLP workload of `benchmarks.speed` is swept one axis at a time around
T=4, K=8, batch 256, XLA off (graph mode: the faster one on CPU, see the
speed section; `JIT_COMPILE` switches it). At each point
`CausalMTLModel` (all terms) and `MultiTaskModel` (shared bottom, no
penalty) are timed in alternating rounds; their difference is the cost of
the MT-CRL terms. A least-squares fit of log(step time) on log(x) gives
the growth exponent (1 = linear); the fit of the cost itself gives its
milliseconds per added task, module or example.
"""

import numpy as np

from benchmarks import report
from benchmarks import speed

AXES = {
    "num_tasks": (2, 4, 8, 16),
    "num_modules": (2, 4, 8, 16, 32),
    "batch_size": (64, 128, 256, 512, 1024),
}
QUICK_AXES = {
    "num_tasks": (2, 3),
    "num_modules": (2, 4),
    "batch_size": (16, 32),
}
CENTER = {"num_tasks": 4, "num_modules": 8, "batch_size": 256}
QUICK_CENTER = {"num_tasks": 2, "num_modules": 2, "batch_size": 16}
AXIS_NAMES = {"num_tasks": "T", "num_modules": "K", "batch_size": "batch"}
MODELS = (speed.SHARED, speed.FULL)
JIT_COMPILE = False


def points(quick):
    """The distinct `Workload`s of the sweep, and each axis' workloads."""
    axes, center = (QUICK_AXES, QUICK_CENTER) if quick else (AXES, CENTER)
    per_axis = {}
    for axis, values in axes.items():
        per_axis[axis] = [
            speed.Workload("mlp", **{**center, axis: value}) for value in values
        ]
    unique = list(dict.fromkeys(w for ws in per_axis.values() for w in ws))
    return unique, per_axis


def measure(quick):
    """Times both models at every point.

    Returns:
        `(per_axis, results)`: axis -> list of workloads, and workload ->
        label -> `speed.StepStats`.
    """
    timing = speed.QUICK_TIMING if quick else speed.Timing()
    unique, per_axis = points(quick)
    results = {
        w: speed.measure_group(list(MODELS), w, JIT_COMPILE, timing)
        for w in unique
    }
    return per_axis, results


def growth_exponent(xs, ys):
    """Slope of log(y) on log(x); None unless every y is positive.

    Example:

    >>> round(growth_exponent([1, 2, 4], [3.0, 6.0, 12.0]), 2)
    1.0
    """
    if min(ys) <= 0:
        return None
    return float(np.polyfit(np.log(xs), np.log(ys), 1)[0])


def linear_slope(xs, ys):
    """Least-squares slope of y on x.

    Example:

    >>> round(linear_slope([1, 2, 3], [1.0, 3.0, 5.0]), 6)
    2.0
    """
    return float(np.polyfit(xs, ys, 1)[0])


def axis_table(axis, workloads, results):
    """Step times and the MT-CRL cost along one axis."""
    rows = []
    for w in workloads:
        shared, full = results[w][speed.SHARED], results[w][speed.FULL]
        rows.append(
            [
                str(getattr(w, axis)),
                shared.step_ms,
                full.step_ms,
                full.step_ms - shared.step_ms,
                full.ratio_to(shared),
                full.step_ms / w.batch_size * 1e3,
            ]
        )
    others = ", ".join(
        f"{AXIS_NAMES[a]}={getattr(workloads[0], a)}"
        for a in AXIS_NAMES
        if a != axis
    )
    columns = [
        AXIS_NAMES[axis],
        "MultiTaskModel ms/step",
        "CausalMTLModel ms/step",
        "MT-CRL cost ms",
        "CausalMTL x MultiTask",
        "CausalMTL us/example",
    ]
    return report.Table(f"Growing {AXIS_NAMES[axis]} ({others})", columns, rows)


def fit_table(per_axis, results):
    """Growth exponents and per-unit costs of every axis."""
    rows = []
    for axis, workloads in per_axis.items():
        xs = [getattr(w, axis) for w in workloads]
        shared = [results[w][speed.SHARED].step_ms for w in workloads]
        full = [results[w][speed.FULL].step_ms for w in workloads]
        cost = [f - s for f, s in zip(full, shared)]
        exponent = growth_exponent(xs, full)
        cost_exponent = growth_exponent(xs, cost)
        linear = exponent is not None and exponent <= 1.1
        if cost_exponent is not None:
            linear = linear and cost_exponent <= 1.1
        rows.append(
            [
                AXIS_NAMES[axis],
                growth_exponent(xs, shared),
                exponent,
                cost_exponent,
                linear_slope(xs, cost),
                "yes" if linear else "no",
            ]
        )
    columns = [
        "axis",
        "MultiTaskModel exponent",
        "CausalMTLModel exponent",
        "MT-CRL cost exponent",
        "MT-CRL cost ms per unit",
        "no worse than linear",
    ]
    notes = [
        "Exponent: least-squares slope of log(step ms) on log(axis value); "
        "1 is linear growth. A cost exponent is left out (—) when some "
        "cost is not positive (within noise). The verdict allows 0.1 of "
        "noise over 1."
    ]
    return report.Table("Fitted growth", columns, rows, notes, digits=3)


def tables(per_axis, results):
    """The fit table, then one table per axis."""
    out = [fit_table(per_axis, results)]
    out += [axis_table(a, ws, results) for a, ws in per_axis.items()]
    return out
