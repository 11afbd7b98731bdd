import contextlib
import io
import json
import os
import tempfile

import pytest

from keras_mtcrl import cli
from keras_mtcrl.testing import TestCase


class CliTest(TestCase):
    def test_flags_map_onto_config_fields(self):
        args = cli.build_parser().parse_args(
            ["train", "synthetic", "--epochs", "2", "--no-jit",
             "--architectures", "mtcrl,mmoe", "--invariance-weight", "3.5"]
        )
        self.assertEqual(
            cli.config_overrides(args),
            {"epochs": 2, "jit_compile": False,
             "architectures": ("mtcrl", "mmoe"), "invariance_weight": 3.5},
        )

    def test_optional_number_fields_parse_as_numbers(self):
        args = cli.build_parser().parse_args(
            ["train", "synthetic", "--graph-balanced-risk", "0.5",
             "--early-stopping-patience", "3"]
        )
        self.assertEqual(
            cli.config_overrides(args),
            {"graph_balanced_risk": 0.5, "early_stopping_patience": 3},
        )

    # Covered in the default run by tests/cli/tune_cli_test.py's
    # test_tune_then_train_from_its_result (its train step: the same
    # command with --from-tuning, same checks).
    @pytest.mark.slow
    def test_train_end_to_end(self):
        folder = tempfile.mkdtemp()
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = cli.main(
                ["train", "synthetic", "--epochs", "1", "--logdir", folder,
                 "--architectures", "mtcrl", "--strategy", "one", "--quiet",
                 "--num-modules", "2",
                 "--data-arg", "num_train=200", "--data-arg", "num_eval=100"]
            )
        self.assertEqual(code, 0)
        self.assertIn("shifted test", out.getvalue())
        with open(os.path.join(folder, "results.json")) as handle:
            saved = json.load(handle)
        self.assertEqual(saved["config"]["data_args"]["num_train"], 200)
        self.assertEqual(saved["config"]["epochs"], 1)

    def test_list_and_unknown_recipe(self):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            self.assertEqual(cli.main(["list"]), 0)
        self.assertIn("multi_mnist", out.getvalue())
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            self.assertEqual(cli.main(["train", "nope"]), 2)
        self.assertIn("Unknown recipe 'nope'", err.getvalue())

    def _diagnose(self, recipe, num_train, num_eval):
        """`keras-mtcrl diagnose` on a small draw; returns its output."""
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = cli.main(
                ["diagnose", recipe, "--data-arg", f"num_train={num_train}",
                 "--data-arg", f"num_eval={num_eval}"]
            )  # fmt: skip
        self.assertEqual(code, 0)
        return out.getvalue()

    def test_diagnose_flags_the_synthetic_shortcut(self):
        text = self._diagnose("synthetic", 400, 10)
        self.assertIn("| a | b | all | 400 |", text)
        self.assertIn("Likely confounded: a <- b, b <- a.", text)

    def test_diagnose_flags_the_multi_mnist_digit_pair(self):
        text = self._diagnose("multi_mnist", 600, 20)
        # The right digit follows a map of the left one 95% / 85% of the
        # time in the two training environments.
        self.assertIn("Likely confounded: left <- right, right <- left.", text)

    def test_bad_config_value_is_one_line_naming_the_field(self):
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            code = cli.main(["train", "synthetic", "--balanced-risk", "2"])
        self.assertEqual(code, 2)
        self.assertIn("balanced_risk=2.0", err.getvalue())
        self.assertNotIn("Traceback", err.getvalue())

    def test_bad_worker_timeout_is_one_line_naming_the_value(self):
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            code = cli.main(
                ["train", "synthetic", "--strategy", "multiworker",
                 "--worker-timeout", "-5"]
            )  # fmt: skip
        self.assertEqual(code, 2)
        self.assertIn("timeout_seconds=-5.0", err.getvalue())
        self.assertNotIn("Traceback", err.getvalue())

    def test_ood_flags_map_onto_config_fields(self):
        args = cli.build_parser().parse_args(
            ["train", "synthetic", "--architectures", "reweight,gmtl",
             "--ood-groups", "environment", "--dro-step-size", "0.1"]
        )
        self.assertEqual(
            cli.config_overrides(args),
            {"architectures": ("reweight", "gmtl"),
             "ood_groups": "environment", "dro_step_size": 0.1},
        )
