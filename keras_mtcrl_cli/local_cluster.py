"""`keras-mtcrl launch`: N local workers with TF_CONFIG, for testing.

Starts the same `keras-mtcrl` command N times on this machine, each with a
`TF_CONFIG` naming all N workers on 127.0.0.1 (free ports) and its own
index, prefixes every output line with `[worker i]`, and returns the first
non-zero exit code (0 when all succeed). When a worker fails, the others
are given `grace` seconds to fail on their own (they report the lost
peer) and are then killed. On a real cluster each machine sets its own
`TF_CONFIG` instead (docs/distributed.md).
"""

import json
import os
import socket
import subprocess
import sys
import threading
import time

#: Seconds the other workers get to end after one failed.
DEFAULT_GRACE = 30.0


def free_ports(count, host="127.0.0.1"):
    """`count` distinct ports that were free on `host` a moment ago.

    Example:

    >>> ports = free_ports(2)
    >>> len(set(ports))
    2
    """
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind((host, 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def tf_configs(ports, host="127.0.0.1"):
    """One `TF_CONFIG` dict per worker of a cluster on `host`.

    Args:
        ports: list of int, one per worker.
        host: str. Defaults to `"127.0.0.1"`.

    Returns:
        list of dict.

    Example:

    >>> tf_configs([5000, 5001])[1]["task"]
    {'type': 'worker', 'index': 1}
    """
    cluster = {"worker": [f"{host}:{port}" for port in ports]}
    return [
        {"cluster": cluster, "task": {"type": "worker", "index": index}}
        for index in range(len(ports))
    ]


def worker_command(argv):
    """The `keras-mtcrl` arguments each worker runs.

    `train` and `tune` get `--strategy multiworker` unless a strategy is
    given.

    Example:

    >>> worker_command(["train", "synthetic"])
    ['train', 'synthetic', '--strategy', 'multiworker']
    """
    argv = list(argv)
    has_strategy = any(
        a == "--strategy" or a.startswith("--strategy=") for a in argv
    )
    if argv and argv[0] in ("train", "tune") and not has_strategy:
        argv += ["--strategy", "multiworker"]
    return argv


def _pump(process, prefix, stream):
    with process.stdout:
        for line in process.stdout:
            stream.write(prefix + line)
            stream.flush()


def launch(argv, workers=2, grace=DEFAULT_GRACE, stream=None):
    """Runs `keras-mtcrl argv` as `workers` local workers; returns the code.

    Args:
        argv: list of str. The command (e.g. `["train", "synthetic"]`).
        workers: int. Number of worker processes. Defaults to `2`.
        grace: float. Seconds the others get after one fails, before they
            are killed. Defaults to `DEFAULT_GRACE`.
        stream: file object for the prefixed output. Defaults to
            `sys.stdout`.

    Returns:
        int: 0 when every worker succeeded, else the first failure's code.
    """
    stream = sys.stdout if stream is None else stream
    command = [sys.executable, "-m", "keras_mtcrl_cli"] + worker_command(argv)
    processes, pumps = [], []
    for index, config in enumerate(tf_configs(free_ports(workers))):
        env = dict(os.environ, TF_CONFIG=json.dumps(config))
        process = subprocess.Popen(
            command,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        pump = threading.Thread(
            target=_pump, args=(process, f"[worker {index}] ", stream)
        )
        pump.start()
        processes.append(process)
        pumps.append(pump)
    code = _wait(processes, grace)
    for pump in pumps:
        pump.join()
    for process in processes:
        process.wait()
    return code


def _wait(processes, grace):
    code, deadline = 0, None
    while any(p.poll() is None for p in processes):
        failed = [p.returncode for p in processes if p.returncode]
        if failed and deadline is None:
            code, deadline = failed[0], time.monotonic() + grace
        if deadline is not None and time.monotonic() > deadline:
            for process in processes:
                if process.poll() is None:
                    process.kill()
        time.sleep(0.1)
    failed = [p.returncode for p in processes if p.returncode]
    return code or (failed[0] if failed else 0)


def main(argv):
    """`keras-mtcrl launch [--workers N] [--grace S] -- COMMAND...`."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="keras-mtcrl launch",
        description="Run a keras-mtcrl command as N local workers with "
        "TF_CONFIG on 127.0.0.1 (for testing multi-worker training).",
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--grace", type=float, default=DEFAULT_GRACE)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command or args.workers < 1:
        parser.error("give --workers N >= 1 and a command after `--`")
    return launch(command, args.workers, args.grace)
