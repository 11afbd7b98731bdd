import pytest

from keras_mtcrl.metrics.delta_m import delta_m
from keras_mtcrl.metrics.delta_m import delta_m_table
from keras_mtcrl.testing import TestCase


class DeltaMTest(TestCase):
    def test_flat_metrics_by_hand(self):
        results = {"acc": 0.88, "rmse": 0.9, "mae": 2.2}
        baselines = {"acc": 0.80, "rmse": 1.0, "mae": 2.0}
        better = {"acc": True, "rmse": False, "mae": False}
        # acc +10%, rmse -10% (better) -> +10%, mae +10% (worse) -> -10%.
        self.assertAllClose(delta_m(results, baselines, better), 10.0 / 3)

    def test_positive_means_better(self):
        self.assertGreater(delta_m({"acc": 0.9}, {"acc": 0.8}, True), 0)
        self.assertLess(delta_m({"err": 0.9}, {"err": 0.8}, False), 0)
        self.assertEqual(delta_m({"acc": 0.8}, {"acc": 0.8}), 0.0)

    def test_nested_tasks_count_equally(self):
        results = {
            "seg": {"miou": 0.60, "pix_acc": 0.80},
            "depth": {"abs_err": 0.5},
        }
        baselines = {
            "seg": {"miou": 0.50, "pix_acc": 0.80},
            "depth": {"abs_err": 0.4},
        }
        better = {"seg": True, "depth": {"abs_err": False}}
        # seg: mean(+20%, 0%) = +10%; depth: -(0.5-0.4)/0.4 = -25%.
        self.assertAllClose(
            delta_m(results, baselines, better), (10.0 - 25.0) / 2
        )

    def test_runs_are_averaged_and_extra_metrics_ignored(self):
        results = {"acc": [0.7, 0.9], "loss": 3.0}
        self.assertAllClose(delta_m(results, {"acc": 0.5}), 60.0)

    def test_table_per_recipe_and_mean(self):
        results = {
            "mnist": {"mtl": {"acc": 0.99}, "mtcrl": {"acc": 0.90}},
            "census": {"mtl": {"auc": 0.80}},
        }
        baselines = {"mnist": {"acc": 0.90}, "census": {"auc": 1.0}}
        table = delta_m_table(results, baselines)
        self.assertAllClose(table["mtl"]["mnist"], 10.0)
        self.assertAllClose(table["mtl"]["census"], -20.0)
        self.assertAllClose(table["mtl"]["mean"], -5.0)
        self.assertEqual(table["mtcrl"], {"mnist": 0.0, "mean": 0.0})
        per_recipe = delta_m_table(
            {"r1": {"m": {"e": 0.5}}}, {"r1": {"e": 1.0}}, {"r1": False}
        )
        self.assertAllClose(per_recipe["m"]["r1"], 50.0)

    def test_errors_name_the_metric(self):
        with pytest.raises(ValueError, match="'acc' is 0"):
            delta_m({"acc": 0.5}, {"acc": 0.0})
        with pytest.raises(ValueError, match="lacks metric 'seg/miou'"):
            delta_m({"seg": {}}, {"seg": {"miou": 0.5}})
        with pytest.raises(ValueError, match="lacks metric 'rmse'"):
            delta_m({"rmse": 1.0}, {"rmse": 1.0}, {"acc": True})
        with pytest.raises(ValueError, match="not finite"):
            delta_m({"acc": float("nan")}, {"acc": 1.0})
        with pytest.raises(ValueError, match="No baselines for recipe 'x'"):
            delta_m_table({"x": {"m": {"a": 1.0}}}, {})
