import contextlib
import io
import json
import os
import tempfile

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

    def test_train_end_to_end(self):
        folder = tempfile.mkdtemp()
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = cli.main(
                ["train", "synthetic", "--epochs", "1", "--logdir", folder,
                 "--architectures", "mtcrl", "--strategy", "one", "--quiet",
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
