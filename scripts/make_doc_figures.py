"""Renders the documentation's figures in docs/img/ from a real training run.

The figures come from the event files and `results.json` of

    keras-mtcrl train synthetic --epochs 3 \
        --logdir /tmp/docrun --architectures mtcrl --quiet

(`--train` runs that command first). With `--screenshots`, TensorBoard is
started on 127.0.0.1 and headless Chromium (`apt-get install chromium`)
takes screenshots of its UI; without Chromium only the matplotlib figures
are written.

Usage: python scripts/make_doc_figures.py [--logdir /tmp/docrun]
       [--out docs/img] [--train] [--screenshots]
"""

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
from matplotlib import pyplot as plt  # noqa: E402
from tensorboard.backend.event_processing.event_accumulator import (  # noqa: E402
    EventAccumulator,
)
from tensorboard.util.tensor_util import make_ndarray  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAIN_COMMAND = [
    sys.executable,
    "-m",
    "keras_mtcrl_cli",
    "train",
    "synthetic",
    "--epochs",
    "3",
    "--architectures",
    "mtcrl",
    "--quiet",
]
TERMS = ("loss_dis", "loss_sparse", "loss_inv")
# (file name, TensorBoard URL suffix). `forceSVG` draws charts as SVG:
# headless Chromium leaves TensorBoard's WebGL charts blank.
SCREENSHOTS = (
    (
        "tensorboard_losses.png",
        "?darkMode=false&forceSVG=true&tagFilter=epoch_loss#timeseries",
    ),
    (
        "tensorboard_graph.png",
        "?darkMode=false&forceSVG=true&tagFilter=graph#timeseries",
    ),
    ("tensorboard_hparams.png", "?darkMode=false#hparams"),
)


def read_scalars(folder):
    """Returns tag -> (steps, values) of the scalar summaries in `folder`."""
    events = EventAccumulator(folder, size_guidance={"tensors": 0})
    events.Reload()
    out = {}
    for tag in events.Tags()["tensors"]:
        points = events.Tensors(tag)
        values = [make_ndarray(p.tensor_proto) for p in points]
        if all(v.shape == () and v.dtype.kind == "f" for v in values):
            out[tag] = ([p.step for p in points], [float(v) for v in values])
    return out


def plot_losses(board, tasks, path):
    """Train and validation curves of every logged term of the objective."""
    train = read_scalars(os.path.join(board, "train"))
    valid = read_scalars(os.path.join(board, "validation"))
    names = [f"loss_{t}" for t in tasks] + list(TERMS)
    figure, axes = plt.subplots(1, len(names), figsize=(2.3 * len(names), 2.4))
    for ax, name in zip(axes, names):
        for scalars, label, style in (
            (train, "train", "-o"),
            (valid, "validation", "--s"),
        ):
            steps, values = scalars[f"epoch_{name}"]
            ax.plot(steps, values, style, label=label, markersize=3)
        ax.set_xticks(steps)
        ax.set_title(f"epoch_{name}", fontsize=8)
        ax.set_xlabel("epoch", fontsize=7)
        ax.tick_params(labelsize=6)
    axes[0].legend(fontsize=6)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def plot_graph_edges(board, tasks, path):
    """The `graph/<task>/m<k>` scalars: each edge weight per epoch."""
    scalars = read_scalars(os.path.join(board, "graph"))
    figure, axes = plt.subplots(
        1, len(tasks), figsize=(3.2 * len(tasks), 2.4), sharey=True
    )
    for ax, task in zip(np.atleast_1d(axes), tasks):
        edges = sorted(t for t in scalars if t.startswith(f"graph/{task}/"))
        for tag in edges:
            steps, values = scalars[tag]
            ax.plot(steps, values, "-o", markersize=3, label=tag.split("/")[-1])
        ax.set_xticks(steps)
        ax.set_title(f"graph/{task}/m<k>", fontsize=8)
        ax.set_xlabel("epoch", fontsize=7)
        ax.tick_params(labelsize=6)
        ax.legend(fontsize=6)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def shrink_png(path, colours=64):
    """Re-saves a PNG with a small palette (docs/img stays small)."""
    from PIL import Image

    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colours)
    small.save(path, optimize=True)


def take_screenshots(logdir, out):
    """Screenshots of TensorBoard's UI; returns the files written."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("No chromium on PATH: TensorBoard screenshots skipped.")
        return []
    port = 6006
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tensorboard.main",
            "--logdir",
            logdir,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    written = []
    try:
        base = f"http://127.0.0.1:{port}/"
        for _ in range(120):
            try:
                urllib.request.urlopen(base, timeout=2)
                break
            except OSError:
                time.sleep(1)
        profile = tempfile.mkdtemp()
        for name, suffix in SCREENSHOTS:
            path = os.path.join(out, name)
            subprocess.run(
                [
                    chromium,
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--hide-scrollbars",
                    f"--user-data-dir={profile}",
                    "--window-size=1400,1000",
                    "--virtual-time-budget=15000",
                    f"--screenshot={path}",
                    base + suffix,
                ],
                check=True,
                timeout=180,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            shrink_png(path)
            written.append(path)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--logdir", default="/tmp/docrun")
    parser.add_argument("--out", default=os.path.join(ROOT, "docs", "img"))
    parser.add_argument(
        "--train", action="store_true", help="run the training command first"
    )
    parser.add_argument(
        "--screenshots",
        action="store_true",
        help="also screenshot TensorBoard with chromium",
    )
    args = parser.parse_args(argv)
    if args.train:
        env = dict(os.environ, PYTHONPATH=ROOT)
        subprocess.run(
            TRAIN_COMMAND + ["--logdir", args.logdir],
            check=True,
            cwd=ROOT,
            env=env,
        )
    with open(os.path.join(args.logdir, "results.json")) as handle:
        results = json.load(handle)
    tasks = results["tasks"]
    board = glob.glob(
        os.path.join(args.logdir, "seed_*", "mtcrl", "tensorboard")
    )[0]
    os.makedirs(args.out, exist_ok=True)

    from keras_mtcrl.visualization import save_graph_heatmap

    written = [
        save_graph_heatmap(
            np.asarray(results["graph"]),
            tasks,
            os.path.join(args.out, "synthetic_graph.png"),
            title="synthetic, 3 epochs: learned task-to-module graph",
        ),
        os.path.join(args.out, "synthetic_losses.png"),
        os.path.join(args.out, "synthetic_graph_edges.png"),
    ]
    plot_losses(board, tasks, written[1])
    plot_graph_edges(board, tasks, written[2])
    for path in written:
        shrink_png(path)
    if args.screenshots:
        written += take_screenshots(args.logdir, args.out)
    for path in written:
        print(f"{path}: {os.path.getsize(path) // 1024} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
