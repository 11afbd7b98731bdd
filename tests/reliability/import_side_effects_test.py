"""`import keras_mtcrl` must leave TensorFlow's runtime unconfigured.

MultiWorkerMirroredStrategy (and `tf.config` device settings) can only be
set up before the eager context starts; a module-level eager op anywhere in
the package would start it at import and break `--strategy multiworker`.
"""

import subprocess
import sys

SNIPPET = """
from tensorflow.python.eager import context
import keras_mtcrl
print(context.context()._initialized)
"""


def test_import_does_not_start_the_eager_context():
    result = subprocess.run(
        [sys.executable, "-c", SNIPPET],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "False", (
        "importing keras_mtcrl initialised TensorFlow's eager context "
        "(a module-level tf op?)"
    )
