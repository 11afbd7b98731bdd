"""The benchmark models in PyTorch (CPU), for a step-time comparison.

Same sizes as `benchmarks.speed`: K MLP experts (64 hidden, 16 out) or a
two-layer CNN whose last Dense layer is read as K channel groups, heads
with 32 hidden units, Adam, the same batch. Models:

- plain PyTorch shared-bottom (the sum of the task losses);
- LibMTL 1.1.5 `HPS` and (MLP) `MMoE` architectures with LibMTL's `EW`
  weighting, when LibMTL imports;
- MT-CRL written directly in PyTorch: sigmoid gates, cross-correlation,
  sparsity and the grad_var invariance penalty, whose inner gradient is
  `torch.autograd.grad(..., create_graph=True)`.

This file has two halves. `run_peer` runs in the Keras process and starts
this module as `python -m benchmarks.torch_peer REQUEST_JSON` with an
interpreter that has torch (torch and TensorFlow need not share a
virtual environment); the subprocess prints one JSON line of results.
Nothing here imports TensorFlow or keras_mtcrl.
"""

import json
import os
import statistics
import subprocess
import sys
import time
import types

MARKER = "TORCH_PEER_RESULT "
MLP_FEATURES_HIDDEN, MODULE_UNITS, HEAD_HIDDEN = 64, 16, 32


# ---- Keras side: start the peer -------------------------------------------
def find_python(explicit=None):
    """Returns an interpreter with torch, or None.

    Looks at `explicit`, then `$MTCRL_TORCH_PYTHON`, then this interpreter.
    """
    candidates = [explicit, os.environ.get("MTCRL_TORCH_PYTHON")]
    candidates.append(sys.executable)
    for python in candidates:
        if python and _has_torch(python):
            return python
    return None


def _has_torch(python):
    probe = [python, "-c", "import torch"]
    try:
        return (
            subprocess.run(probe, capture_output=True, timeout=120).returncode
            == 0
        )
    except (OSError, subprocess.TimeoutExpired):
        return False


def run_peer(python, workloads, timing, timeout=900):
    """Times the PyTorch models in a subprocess.

    Args:
        python: str. Interpreter with torch (see `find_python`).
        workloads: list of dicts with `kind`, `num_tasks`, `num_modules`,
            `batch_size`, `features`, `label`.
        timing: dict with `warmup`, `rounds`, `window_s`, `min_steps`.
        timeout: float. Seconds before the subprocess is stopped.

    Returns:
        Dict with `versions`, `libmtl_error` and `results` (workload label
        -> model label -> `{"ms": median step ms, "p5": 5th percentile,
        "threads": n}`, the faster (by median) of one and the default
        number of intra-op threads).
    """
    request = json.dumps({"workloads": workloads, "timing": timing})
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    done = subprocess.run(
        [python, "-m", "benchmarks.torch_peer", request],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    for line in done.stdout.splitlines():
        if line.startswith(MARKER):
            return json.loads(line[len(MARKER) :])
    raise RuntimeError(
        f"The PyTorch peer failed (exit {done.returncode}): "
        f"{done.stderr[-2000:]}"
    )


# Each PyTorch model and the keras_mtcrl model it is compared with.
COUNTERPARTS = {
    "PyTorch shared-bottom": "plain Keras shared-bottom",
    "LibMTL HPS + EW": "MultiTaskModel (shared)",
    "LibMTL MMoE + EW": "MultiTaskModel (MMoE router)",
    "PyTorch MT-CRL (all terms)": "CausalMTLModel, all terms",
}


def comparison_table(workload, peer_ms, keras_by_mode):
    """Keras step time over PyTorch step time, per XLA mode.

    Args:
        workload: `benchmarks.speed.Workload`.
        peer_ms: dict PyTorch label -> `{"ms", "p5", "threads"}`.
        keras_by_mode: dict jit_compile -> label -> `StepStats`.

    Returns:
        `benchmarks.report.Table`.
    """
    from benchmarks import report

    modes = {False: "graph", True: "XLA"}
    columns = [
        "PyTorch model",
        "PyTorch ms/step",
        "PyTorch p5 ms",
        "PyTorch threads",
        "keras_mtcrl model",
    ]
    for jit in keras_by_mode:
        mode = modes[jit]
        columns += [
            f"Keras {mode} ms/step",
            f"{mode} x PyTorch",
            f"{mode} x PyTorch (p5)",
        ]
    rows = []
    for label, timed in peer_ms.items():
        keras_label = COUNTERPARTS[label]
        row = [label, timed["ms"], timed["p5"], timed["threads"], keras_label]
        for stats in keras_by_mode.values():
            if keras_label not in stats:
                row += [None] * 3
                continue
            own = stats[keras_label]
            row += [
                own.step_ms,
                own.step_ms / timed["ms"],
                own.low_ms / timed["p5"],
            ]
        rows.append(row)
    return report.Table(
        f"{workload.label}: keras_mtcrl against PyTorch", columns, rows
    )


# ---- PyTorch side ---------------------------------------------------------
def import_libmtl():
    """Imports LibMTL's pieces used here; returns `(HPS, MMoE, EW)`.

    LibMTL 1.1.5 imports `torchvision.models.utils.load_state_dict_from_url`
    when the package loads (for its ResNet backbones). No torchvision
    release installs beside the CPU torch wheel without replacing it, and
    torchvision >= 0.13 removed that module anyway, so when torchvision is
    missing the import is served by torch's own function of that name
    (`torch.hub.load_state_dict_from_url`, which it was an alias of).
    """
    import torch.hub

    try:
        import torchvision.models.utils  # noqa: F401
    except ImportError:
        names = (
            "torchvision",
            "torchvision.models",
            "torchvision.models.utils",
        )
        for name in names:
            sys.modules.setdefault(name, types.ModuleType(name))
        sys.modules[
            "torchvision.models.utils"
        ].load_state_dict_from_url = torch.hub.load_state_dict_from_url
    from LibMTL.architecture import HPS
    from LibMTL.architecture import MMoE
    from LibMTL.weighting import EW

    return HPS, MMoE, EW


def _modules(torch):
    nn = torch.nn

    class Experts(nn.Module):
        """K MLP experts side by side: `(batch, K * 16)`."""

        def __init__(self, features, num_modules):
            super().__init__()
            self.experts = nn.ModuleList(
                [expert(features) for _ in range(num_modules)]
            )

        def forward(self, x):
            return torch.cat([e(x) for e in self.experts], dim=-1)

    def expert(features):
        return nn.Sequential(
            nn.Linear(features, MLP_FEATURES_HIDDEN),
            nn.ReLU(),
            nn.Linear(MLP_FEATURES_HIDDEN, MODULE_UNITS),
        )

    def cnn(num_modules):
        return nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(32 * 7 * 7, MODULE_UNITS * num_modules),
            nn.ReLU(),
        )

    def head(width, outputs):
        return nn.Sequential(
            nn.Linear(width, HEAD_HIDDEN),
            nn.ReLU(),
            nn.Linear(HEAD_HIDDEN, outputs),
        )

    return Experts, expert, cnn, head


class _Workload:
    """The torch pieces of one workload: data, encoder, heads, loss."""

    def __init__(self, torch, spec, num_batches=8):
        self.torch, self.spec = torch, spec
        self.Experts, self.expert, self.cnn, self.head = _modules(torch)
        self.tasks = [f"t{i}" for i in range(spec["num_tasks"])]
        self.num_modules = spec["num_modules"]
        self.outputs = 1 if spec["kind"] == "mlp" else 10
        gen = torch.Generator().manual_seed(0)
        batch = spec["batch_size"]
        shape = (spec["features"],) if spec["kind"] == "mlp" else (1, 28, 28)
        self.batches = []
        for _ in range(num_batches):
            x = torch.randn((batch,) + shape, generator=gen)
            if spec["kind"] == "mlp":
                y = torch.randint(0, 2, (batch, len(self.tasks)), generator=gen)
                y = y.float()
            else:
                y = torch.randint(
                    0, 10, (batch, len(self.tasks)), generator=gen
                )
            self.batches.append((x, y))

    def encoder(self):
        if self.spec["kind"] == "mlp":
            return self.Experts(self.spec["features"], self.num_modules)
        return self.cnn(self.num_modules)

    def heads(self, width):
        nn = self.torch.nn
        return nn.ModuleDict(
            {t: self.head(width, self.outputs) for t in self.tasks}
        )

    def per_sample_loss(self, logits, labels):
        f = self.torch.nn.functional
        if self.outputs == 1:
            return f.binary_cross_entropy_with_logits(
                logits[:, 0], labels, reduction="none"
            )
        return f.cross_entropy(logits, labels, reduction="none")

    def environments(self, labels, task_index, cap=32):
        """Environment ids for a task from the other tasks' labels."""
        env, radix = None, 1
        for other in range(len(self.tasks)):
            if other == task_index:
                continue
            code = labels[:, other].long()
            base = 2 if self.outputs == 1 else 10
            env = code if env is None else env * base + code
            radix *= base
            if radix > cap:
                env, radix = env % cap, cap
        return env, radix


def _shared_bottom_step(work):
    torch = work.torch
    encoder = work.encoder()
    width = MODULE_UNITS * work.num_modules
    heads = work.heads(width)
    params = list(encoder.parameters()) + list(heads.parameters())
    optimizer = torch.optim.Adam(params, lr=1e-3)

    def step(x, y):
        optimizer.zero_grad(set_to_none=True)
        z = encoder(x)
        loss = sum(
            work.per_sample_loss(heads[t](z), y[:, i]).mean()
            for i, t in enumerate(work.tasks)
        )
        loss.backward()
        optimizer.step()

    return step


def _libmtl_step(work, arch_class, weighting_class, is_mmoe=False):
    """A LibMTL architecture trained with LibMTL's weighting's backward."""
    torch = work.torch
    kwargs = {}
    if is_mmoe:
        features = work.spec["features"]

        def encoder_class():
            return work.expert(features)

        width = MODULE_UNITS
        kwargs = {"img_size": [features], "num_experts": [work.num_modules]}
    else:
        encoder_class = work.encoder
        width = MODULE_UNITS * work.num_modules
    model = arch_class(
        task_name=work.tasks,
        encoder_class=encoder_class,
        decoders=work.heads(width),
        rep_grad=False,
        multi_input=False,
        device=torch.device("cpu"),
        **kwargs,
    )
    weighting = weighting_class()
    weighting.device, weighting.task_num = torch.device("cpu"), len(work.tasks)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step(x, y):
        optimizer.zero_grad(set_to_none=True)
        predictions = model(x)
        losses = torch.stack(
            [
                work.per_sample_loss(predictions[t], y[:, i]).mean()
                for i, t in enumerate(work.tasks)
            ]
        )
        weighting.backward(losses)
        optimizer.step()

    return step


def _cross_correlation(torch, z, num_modules):
    count = z.shape[0]
    mean = z.mean(0)
    covariance = z.T @ z / count - mean[:, None] * mean[None, :]
    std = torch.sqrt(torch.clamp(torch.diagonal(covariance), min=0.0) + 1e-5)
    correlation = covariance / (std[:, None] * std[None, :])
    width = z.shape[1] // num_modules
    block = torch.eye(num_modules).repeat_interleave(width, 0)
    mask = 1.0 - block.repeat_interleave(width, 1)
    return (mask * correlation**2).sum() / mask.sum()


def _grad_var(torch, env, num_envs, gate_grads, min_samples=2):
    membership = torch.nn.functional.one_hot(env, num_envs).float()
    counts = membership.sum(0)
    means = (membership.T @ gate_grads) / torch.clamp(counts, min=1.0)[:, None]
    present = (counts >= min_samples).float()
    num_present = present.sum()
    safe = torch.clamp(num_present, min=1.0)
    center = (present[:, None] * means).sum(0) / safe
    variance = (present[:, None] * (means - center) ** 2).sum(0) / safe
    return torch.where(num_present >= 2, variance.sum(), torch.zeros(()))


def _mtcrl_step(work):
    """MT-CRL written directly in PyTorch (all three penalty terms)."""
    torch = work.torch
    encoder = work.encoder()
    width = MODULE_UNITS * work.num_modules
    heads = work.heads(width)
    logits = torch.nn.Parameter(
        torch.full((len(work.tasks), work.num_modules), 2.0)
    )
    params = list(encoder.parameters()) + list(heads.parameters()) + [logits]
    optimizer = torch.optim.Adam(params, lr=1e-3)

    def step(x, y):
        optimizer.zero_grad(set_to_none=True)
        z = encoder(x)
        gates = torch.sigmoid(logits)
        channel_gates = gates.repeat_interleave(MODULE_UNITS, dim=1)
        routed = [z * channel_gates[i] for i in range(len(work.tasks))]
        per_sample = [
            work.per_sample_loss(heads[t](routed[i]), y[:, i])
            for i, t in enumerate(work.tasks)
        ]
        grads = torch.autograd.grad(
            sum(p.sum() for p in per_sample), routed, create_graph=True
        )
        penalty = 0.0
        for i in range(len(work.tasks)):
            gate_grads = (
                (grads[i] * z)
                .reshape(-1, work.num_modules, MODULE_UNITS)
                .sum(-1)
            )
            env, num_envs = work.environments(y, i)
            penalty = penalty + _grad_var(torch, env, num_envs, gate_grads)
        loss = (
            sum(p.mean() for p in per_sample)
            + 0.1 * _cross_correlation(torch, z, work.num_modules)
            + 0.01 * gates.mean()
            + penalty
        )
        loss.backward()
        optimizer.step()

    return step


def _time_steps(steps, batches, timing):
    """Times `steps` (label -> fn) in rotating rounds.

    Returns:
        Dict label -> `{"ms": median step ms, "p5": 5th percentile}`.
    """
    count, per_step = len(batches), {}
    for label, step in steps.items():
        ends = []
        for i in range(timing["warmup"]):
            step(*batches[i % count])
            ends.append(time.perf_counter())
        rough = (
            statistics.median(b - a for a, b in zip(ends[:-1], ends[1:]))
            if len(ends) > 2
            else 1e-3
        )
        per_step[label] = int(
            min(
                max(round(timing["window_s"] / rough), timing["min_steps"]), 400
            )
        )
    labels, windows = list(steps), {label: [] for label in steps}
    for r in range(timing["rounds"]):
        shift = r % len(labels)
        for label in labels[shift:] + labels[:shift]:
            times = []
            for i in range(per_step[label]):
                start = time.perf_counter()
                steps[label](*batches[i % count])
                times.append(time.perf_counter() - start)
            windows[label].extend(times)
    return {
        label: {
            "ms": statistics.median(times) * 1e3,
            "p5": statistics.quantiles(times, n=20, method="inclusive")[0]
            * 1e3,
        }
        for label, times in windows.items()
    }


def main(request):
    """Runs the request (see `run_peer`) and prints the JSON result."""
    import torch

    torch.manual_seed(0)
    versions = {
        "torch": torch.__version__,
        "torch default threads": torch.get_num_threads(),
    }
    try:
        hps, mmoe, ew = import_libmtl()
        import importlib.metadata

        versions["LibMTL"] = importlib.metadata.version("LibMTL")
        libmtl_error = None
    except Exception as error:  # report why, keep the plain models
        hps = mmoe = ew = None
        libmtl_error = f"{type(error).__name__}: {error}"
    results = {}
    # On a loaded machine torch's OpenMP pool can be far slower with two
    # threads than with one: time both and keep each model's faster.
    thread_counts = sorted({1, torch.get_num_threads()})
    for spec in request["workloads"]:
        best = {}
        for threads in thread_counts:
            torch.set_num_threads(threads)
            work = _Workload(torch, spec)
            steps = {"PyTorch shared-bottom": _shared_bottom_step(work)}
            if hps is not None:
                steps["LibMTL HPS + EW"] = _libmtl_step(work, hps, ew)
                if spec["kind"] == "mlp":
                    steps["LibMTL MMoE + EW"] = _libmtl_step(
                        work, mmoe, ew, True
                    )
            steps["PyTorch MT-CRL (all terms)"] = _mtcrl_step(work)
            timed = _time_steps(steps, work.batches, request["timing"])
            for label, ms in timed.items():
                if label not in best or ms["ms"] < best[label]["ms"]:
                    best[label] = {**ms, "threads": threads}
        results[spec["label"]] = best
    payload = {
        "versions": versions,
        "libmtl_error": libmtl_error,
        "results": results,
    }
    print(MARKER + json.dumps(payload), flush=True)


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
