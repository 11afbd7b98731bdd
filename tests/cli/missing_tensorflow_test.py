"""Without TensorFlow the error names the extra to install."""

from cli_subprocess import run_python

# `None` in sys.modules makes `import tensorflow` fail as if absent.
_BLOCK = "import sys; sys.modules['tensorflow'] = None; "


def test_import_names_the_extras(tmp_path):
    done = run_python(["-c", _BLOCK + "import keras_mtcrl"], cwd=tmp_path)
    assert done.returncode == 1
    assert 'pip install "keras-mtcrl[cpu]"' in done.stderr
    assert 'pip install "keras-mtcrl[gpu]"' in done.stderr


def test_cli_reports_it_in_one_line(tmp_path):
    done = run_python(
        ["-c", _BLOCK + "from keras_mtcrl_cli import main; "
         "sys.exit(main(['train', 'synthetic']))"],
        cwd=tmp_path,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("keras-mtcrl: keras_mtcrl needs TensorFlow")
    assert "Traceback" not in done.stderr


def test_list_still_answers(tmp_path):
    done = run_python(
        ["-c", _BLOCK + "from keras_mtcrl_cli import main; "
         "sys.exit(main(['list']))"],
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "synthetic " in done.stdout
