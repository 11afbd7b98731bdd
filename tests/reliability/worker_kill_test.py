"""A killed worker: the survivor stops, a restart resumes, results agree.

Two `keras-mtcrl train synthetic --strategy multiworker` workers on
127.0.0.1; worker 1 is SIGKILLed during epoch 2. Worker 0 must stop
within `SURVIVOR_LIMIT` seconds with a message that names the lost
worker, instead of waiting forever (`--worker-timeout`). Both workers
are then started again, as a cluster manager would; they resume from the
checkpoint of epoch 1 and finish with the scores and weights of an
uninterrupted single-process run.
"""

import json
import os
import signal
import sys
import tempfile
import time

import keras
import pytest

from keras_mtcrl.testing import TestCase
from keras_mtcrl_cli import local_cluster

sys.path.insert(0, os.path.dirname(__file__))
import subprocess_helpers as helpers  # noqa: E402

#: --worker-timeout: one collective's limit. It also bounds how far apart
#: the workers may reach a collective (the first step's tracing on a busy
#: 2-core machine), so it cannot be small. A killed peer's closed
#: connection is usually reported at once (0.2 s here).
WORKER_TIMEOUT = 120
#: The survivor must exit this long after the kill: the timeout plus time
#: to abort the collectives and end the process.
SURVIVOR_LIMIT = WORKER_TIMEOUT + 30
RUN_LIMIT = 400
#: Scores (accuracy, AUC, losses) and weights of the resumed two-worker
#: run against one device: same global batches, only the order of the
#: all-reduce sums differs (float32 round-off).
ATOL = 1e-4
TRAIN = [
    "train", "synthetic", "--epochs", "2", "--architectures", "mtcrl",
    "--data-arg", "num_train=2048", "--data-arg", "num_eval=512",
    "--batch-size", "64", "--quiet",
]  # fmt: skip


def _cli(*args):
    return ["-m", "keras_mtcrl_cli", *TRAIN, *args]


def _finish(process, limit):
    output, _ = process.communicate(timeout=limit)
    return process.returncode, output


def _workers(logdir, ports):
    configs = local_cluster.tf_configs(ports)
    args = _cli(
        "--strategy", "multiworker", "--logdir", logdir,
        "--worker-timeout", str(WORKER_TIMEOUT),
    )  # fmt: skip
    # --quiet hides the epoch lines: the kill waits for the checkpoint.
    args.remove("--quiet")
    return [
        helpers.start(args, TF_CONFIG=json.dumps(config))
        for config in configs
    ]


def _weights(logdir):
    import keras_mtcrl  # noqa: F401  (registers the classes)

    path = os.path.join(logdir, "seed_0", "mtcrl", "final.keras")
    return keras.saving.load_model(path).get_weights()


def _scores(logdir):
    path = os.path.join(logdir, "seed_0", "mtcrl", "result.json")
    with open(path) as handle:
        return json.load(handle)["scores"]


@pytest.mark.slow
class WorkerKillTest(TestCase):
    def test_kill_fail_fast_restart_resume(self):
        root = tempfile.mkdtemp()
        single, cluster = os.path.join(root, "one"), os.path.join(root, "mw")
        reference = helpers.start(
            _cli("--strategy", "one", "--logdir", single)
        )
        ports = local_cluster.free_ports(2)
        workers = _workers(cluster, ports)
        try:
            # Epoch 1 is checkpointed when its line prints; kill at once.
            _read_until(workers[0], "Epoch 1/2", RUN_LIMIT)
            os.killpg(workers[1].pid, signal.SIGKILL)
            killed = time.monotonic()
            code, output = _finish(workers[0], SURVIVOR_LIMIT)
            waited = time.monotonic() - killed
        finally:
            for process in workers:
                helpers.stop(process)
        self.assertNotEqual(code, 0, output[-3000:])
        self.assertIn("a worker is probably gone", output, output[-3000:])
        self.assertIn("Restart every worker", output)
        self.assertLess(waited, SURVIVOR_LIMIT)
        print(f"survivor stopped {waited:.1f}s after the kill")
        workers = _workers(cluster, ports)
        try:
            outputs = [_finish(p, RUN_LIMIT) for p in workers]
        finally:
            for process in workers:
                helpers.stop(process)
        for code, output in outputs:
            self.assertEqual(code, 0, output[-3000:])
        # Resumed: epoch 1 is not trained again.
        self.assertIn("Epoch 2/2", outputs[0][1])
        self.assertNotIn("Epoch 1/2", outputs[0][1])
        code, output = _finish(reference, RUN_LIMIT)
        self.assertEqual(code, 0, output[-3000:])
        want, got = _scores(single), _scores(cluster)
        self.assertEqual(sorted(want), sorted(got))
        for split in want:
            for name, value in want[split].items():
                self.assertAllClose(
                    got[split][name], value, atol=ATOL, msg=f"{split} {name}"
                )
        for a, b in zip(_weights(cluster), _weights(single)):
            self.assertAllClose(a, b, atol=ATOL, rtol=0)


def _read_until(process, text, limit):
    """Reads the child's output until a line holds `text`."""
    deadline = time.monotonic() + limit
    seen = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            raise AssertionError("The worker ended:\n" + "".join(seen)[-3000:])
        seen.append(line)
        if text in line:
            return
    raise AssertionError(f"No {text!r} in {limit}s:\n" + "".join(seen)[-3000:])
