"""The speed section's target table: the issue's step-cost bounds."""

from benchmarks import speed


def _stats(ms):
    return speed.StepStats(
        steps_ms=[ms, ms], peak_mib=None, warmup_s=1.0, batch_size=8
    )


def _group(full, shared=None):
    stats = {speed.BASELINE: _stats(2.0), speed.FULL: _stats(2.0 * full)}
    if shared is not None:
        stats[speed.SHARED] = _stats(2.0 * shared)
    return stats


def test_graph_and_xla_rows_against_their_bounds():
    mlp, conv = speed.Workload("mlp", 2, 2, 8), speed.Workload("conv", 2, 2, 8)
    results = {
        mlp: {False: _group(1.5, shared=1.05), True: _group(1.3)},
        conv: {False: _group(1.12), True: _group(1.04)},
    }
    rows = {row[0]: row[1:] for row in speed.target_table(results).rows}
    assert rows == {
        # At most 1.5x (graph, MLP), 1.1x (graph, conv); under 1.3x (XLA).
        "mlp, graph": [1.05, 1.5, "<= 1.5", "met"],
        "mlp, XLA": [None, 1.3, "< 1.3", "not met"],
        "conv, graph": [None, 1.12, "<= 1.1", "not met"],
        "conv, XLA": [None, 1.04, "< 1.3", "met"],
    }
