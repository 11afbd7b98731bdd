import math

import pytest

from keras_mtcrl.training import results


def _stats(per_arch):
    """aggregate() of one seed: arch -> split -> metric -> value."""
    return results.aggregate([per_arch])


def test_delta_m_signs_follow_the_metric_direction():
    stats = _stats({
        "single_task": {"test": {"r_rmse": 2.0, "c_accuracy": 0.8}},
        "mtcrl": {"test": {"r_rmse": 1.0, "c_accuracy": 0.6}},
    })
    rows = [("r", "r_rmse"), ("c", "c_accuracy")]
    delta = results.delta_m_by_split(stats, rows, ["test"])
    # rmse halves (+50%), accuracy drops by a quarter (-25%): mean +12.5%.
    assert delta["mtcrl"]["test"] == pytest.approx(12.5)
    assert delta["single_task"]["test"] == 0.0


def test_delta_m_averages_a_tasks_metrics_first():
    stats = _stats({
        "single_task": {"s": {"a_rmse": 1.0, "a_mae": 1.0, "b_auc": 0.5}},
        "mtl": {"s": {"a_rmse": 0.5, "a_mae": 0.5, "b_auc": 0.5}},
    })
    rows = [("a", "a_rmse"), ("a", "a_mae"), ("b", "b_auc")]
    delta = results.delta_m_by_split(stats, rows, ["s"])
    assert delta["mtl"]["s"] == pytest.approx(25.0)  # (50 + 0) / 2 tasks


def test_delta_m_needs_the_baseline_and_every_value():
    stats = _stats({"mtcrl": {"test": {"a_accuracy": 0.5}}})
    rows = [("a", "a_accuracy")]
    assert results.delta_m_by_split(stats, rows, ["test"]) == {}
    stats = _stats({
        "single_task": {"test": {"a_accuracy": 0.5}},
        "mtcrl": {"test": {"a_accuracy": 0.7}},
    })
    rows = [("a", "a_accuracy")]
    delta = results.delta_m_by_split(stats, rows, ["test", "test_shifted"])
    assert "test_shifted" not in delta["mtcrl"]
    assert math.isclose(delta["mtcrl"]["test"], 40.0, rel_tol=1e-6)


def test_delta_m_skips_a_zero_baseline():
    stats = _stats({
        "single_task": {"test": {"a_accuracy": 0.0}},
        "mtcrl": {"test": {"a_accuracy": 0.7}},
    })
    rows = [("a", "a_accuracy")]
    assert results.delta_m_by_split(stats, rows, ["test"]) == {}


def test_table_ends_with_signed_delta_rows():
    stats = _stats({
        "mtcrl": {"test": {"a_accuracy": 0.6}},
        "single_task": {"test": {"a_accuracy": 0.5}},
    })
    rows = [("a", "a_accuracy")]
    delta = results.delta_m_by_split(stats, rows, ["test", "test_shifted"])
    table = results.format_table(
        stats, rows, ["mtcrl", "single_task"], ["test", "test_shifted"], delta
    )
    lines = table.splitlines()
    label = "| all | Δm vs single_task (%) |"
    assert lines[-2] == f"{label} ID test | +20.0 | +0.0 |"
    assert lines[-1] == f"{label} shifted test | - | - |"
