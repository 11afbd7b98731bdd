"""Training logs that read well in a file, and a cwd `recipes/` folder.

The user's working directory holds its own `recipes/` package, as many
projects do; the built-in recipes must still be found.
"""

import re

from cli_subprocess import run_python


def test_piped_training_log_is_clean_and_names_tasks(tmp_path):
    shadow = tmp_path / "recipes"
    shadow.mkdir()
    (shadow / "__init__.py").write_text("")
    done = run_python(
        ["-m", "keras_mtcrl_cli", "train", "synthetic", "--epochs", "1",
         "--architectures", "mtcrl,single_task", "--strategy", "one",
         "--logdir", str(tmp_path / "run"), "--num-modules", "2",
         "--data-arg", "num_train=200", "--data-arg", "num_eval=100"],
        cwd=tmp_path,
    )
    stale = "No module named 'keras_mtcrl.recipes'" in done.stderr
    assert not stale, (
        "The installed keras_mtcrl predates keras_mtcrl.recipes: run "
        "`pip install -e .` again (setup.py maps recipes/ to it)."
    )
    assert done.returncode == 0, done.stderr[-3000:]
    log = done.stdout
    assert "\r" not in log and "\x08" not in log
    headers = [line for line in log.splitlines() if line.startswith("== ")]
    assert headers == [
        "== synthetic | seed 0 | mtcrl",
        "== synthetic | seed 0 | single_task | task a (1 of 2)",
        "== synthetic | seed 0 | single_task | task b (2 of 2)",
    ]
    # verbose=2: one metrics line per epoch of each model (Keras prints no
    # "Epoch 1/1" line for a single epoch).
    assert len(re.findall(r"^\d+/\d+ - .*loss: ", log, re.MULTILINE)) == 3
    # TensorFlow's start-up lines are quiet (TF_CPP_MIN_LOG_LEVEL is set
    # before TensorFlow is imported).
    assert "cpu_feature_guard" not in done.stderr
    assert "absl::InitializeLog" not in done.stderr
