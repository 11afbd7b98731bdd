"""One MT-CRL ablation run: the driver behind docs/benchmarks.md's tables.

Trains one model on the synthetic or the Multi-MNIST data with the named
changes and prints one JSON line: accuracies and losses on the validation,
test and shifted test splits, `worst_env_loss` (the selection quantity,
on the in-distribution validation split) and the learned graph.

Usage (`key=value` arguments, all optional):

    python -m benchmarks.mtcrl_ablation data=synthetic seed=0 w=100
    python -m benchmarks.mtcrl_ablation data=multi_mnist enc=towers w=0

Arguments: `data` (synthetic | multi_mnist), `arch` (mtcrl | sb:
shared-bottom), `seed`, `w` (invariance weight), `env` (auto | column |
balanced | agreement), `method` (grad_var | irmv1 | vrex), `warm`, `ramp`
(steps), `sp` (sparsity weight), `dis` (disentanglement weight), `db`
(1: disentanglement under the label-balanced weighting), `gate`
(hard_concrete | sigmoid), `norm` (1 | 0: module normalisation), `temp`
(graph temperature), `epochs`; synthetic only: `tagr` (comma-separated
training agreements), `sagr` (shifted agreement), `nf` (features per
task), `noise`, `enc` (experts: 4 over all inputs | fields: one expert
per input column, `fw` units each); Multi-MNIST only: `enc` (groups |
towers | regions: `grid` x `grid` spatial regions of the CNN's map, one
module each, `width` units per module), `K`, `source` (mnist |
fashion_mnist), `shift` (confounded | pairs); `br` (balanced-risk share),
`gbr` (the graph's own share).
"""

import json
import sys
import time

import keras
import numpy as np

from keras_mtcrl import CausalMTLModel
from keras_mtcrl import ChannelGroupEncoder
from keras_mtcrl import DisentanglementPenalty
from keras_mtcrl import ExpertEncoder
from keras_mtcrl import InvariancePenalty
from keras_mtcrl import MultiTaskModel
from keras_mtcrl import SparsityPenalty
from keras_mtcrl import TaskHead
from keras_mtcrl.datasets.confounded_synthetic import build_confounded_synthetic
from keras_mtcrl.datasets.multi_mnist import build_multi_mnist

DEFAULTS = {
    "synthetic": dict(
        epochs=30, lr=3e-3, warm=200, ramp=200, sp=0.05, temp=1.0
    ),
    "multi_mnist": dict(
        epochs=5, lr=2e-3, warm=100, ramp=200, sp=0.05, temp=0.1
    ),
}


def _cnn(filters, width):
    return keras.Sequential(
        [
            keras.layers.Conv2D(filters[0], 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(filters[1], 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dense(width, activation="relu"),
        ]
    )


def _region_cnn(grid, width):
    """The `_cnn` trunk whose 5 x 5 map is cut into `grid` x `grid`
    overlapping regions, each flattened into its own `width` units: module
    k sees only region k (its receptive field), not the whole image."""
    image = keras.Input((28, 28, 1))
    x = keras.layers.Conv2D(32, 3, activation="relu")(image)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Conv2D(64, 3, activation="relu")(x)
    x = keras.layers.MaxPooling2D()(x)
    side = 5
    size = -(-(side + grid - 1) // grid)
    starts = [round(i * (side - size) / max(grid - 1, 1)) for i in range(grid)]
    parts = []
    for r in starts:
        for c in starts:
            crop = keras.layers.Cropping2D(
                ((r, side - r - size), (c, side - c - size))
            )(x)
            parts.append(
                keras.layers.Dense(width, activation="relu")(
                    keras.layers.Flatten()(crop)
                )
            )
    return keras.Model(image, keras.layers.Concatenate()(parts))


def problem(args, seed):
    """Returns `(data, encoder, heads, input_shape, env_tasks)`."""
    if args.get("data", "synthetic") == "synthetic":
        options = {}
        if "tagr" in args:
            options["train_agreement"] = tuple(
                float(v) for v in args["tagr"].split(",")
            )
        if "sagr" in args:
            options["shifted_agreement"] = float(args["sagr"])
        if "nf" in args:
            options["num_features"] = int(args["nf"])
        if "noise" in args:
            options["causal_noise"] = float(args["noise"])
        data = build_confounded_synthetic(seed=seed, **options)
        width = 2 * options.get("num_features", 4)
        heads = {"a": TaskHead("binary"), "b": TaskHead("binary")}
        if args.get("enc", "experts") == "fields":
            # One expert per input column, as the synthetic recipe's.
            encoder = ExpertEncoder(
                width,
                int(args.get("fw", 8)),
                (16,),
                input_groups=[[c] for c in range(width)],
            )
        else:
            encoder = ExpertEncoder(4, 8, (32,))
        return data, encoder, heads, {"x": (None, width), "env": (None,)}
    data = build_multi_mnist(
        num_train=10_000,
        num_eval=2_000,
        seed=seed,
        source=args.get("source", "mnist"),
        shift=args.get("shift", "confounded"),
    )
    k = int(args.get("K", 4))
    if args.get("enc", "groups") == "groups":
        encoder = ChannelGroupEncoder(_cnn((32, 64), k * 16), num_modules=k)
    elif args["enc"] == "regions":
        grid = int(args.get("grid", 2))
        encoder = ChannelGroupEncoder(
            _region_cnn(grid, int(args.get("width", 16))),
            num_modules=grid * grid,
        )
    else:
        encoder = ExpertEncoder(num_modules=k, expert=_cnn((16, 32), 16))
    heads = {
        t: TaskHead("multiclass", 10, hidden_units=(32,))
        for t in ("left", "right")
    }
    return data, encoder, heads, {"image": (None, 28, 28, 1), "env": (None,)}


def run(args):
    """Trains and evaluates one configuration; returns the result dict."""
    seed = int(args.get("seed", 0))
    kind = args.get("data", "synthetic")
    base = DEFAULTS[kind]
    get = lambda key: type(base[key])(args.get(key, base[key]))  # noqa: E731
    data, encoder, heads, shape = problem(args, seed)
    keras.utils.set_random_seed(seed)
    if args.get("arch", "mtcrl") == "mtcrl":
        model = CausalMTLModel(
            encoder,
            heads,
            graph_temperature=get("temp"),
            gate=args.get("gate", "hard_concrete"),
            normalize_modules=args.get("norm", "1") == "1",
            invariance=InvariancePenalty(
                args.get("method", "grad_var"),
                weight=float(args.get("w", 100.0)),
                warmup_steps=get("warm"),
                ramp_steps=get("ramp"),
                min_env_samples=8,
                num_environments=data.num_environments,
                environments=args.get("env", "auto"),
            ),
            sparsity=SparsityPenalty(get("sp")),
            disentanglement=DisentanglementPenalty(
                weight=float(args.get("dis", 0.1)),
                balanced=args.get("db", "0") == "1",
            ),
            balanced_risk=float(args.get("br", 0.0)),
            graph_balanced_risk=(
                float(args["gbr"]) if "gbr" in args else None
            ),
            input_shape=shape,
        )
    else:
        model = MultiTaskModel(encoder, heads, input_shape=shape)
    model.compile(optimizer=keras.optimizers.Adam(base["lr"]))
    start = time.time()
    if kind == "synthetic":
        # In memory: Keras shuffles the arrays every epoch.
        x, y = _arrays(data, "train")
        model.fit(x, y, batch_size=128, epochs=get("epochs"), verbose=0)
    else:
        model.fit(
            data.batched("train", 128, shuffle=True, seed=seed),
            epochs=get("epochs"),
            verbose=0,
        )
    out = {"args": args, "seconds": round(time.time() - start)}
    for split in ("validation", "test", "test_shifted"):
        scores = model.evaluate(
            data.batched(split, 128), verbose=0, return_dict=True
        )
        out[split] = {
            k: round(v, 3)
            for k, v in scores.items()
            if k.endswith("accuracy") or k in ("tasks_loss", "worst_env_loss")
        }
    if isinstance(model, CausalMTLModel):
        out["graph"] = np.round(model.causal_graph(), 2).tolist()
    return out


def _arrays(data, split):
    features, labels = next(iter(data.split(split).batch(1_000_000)))
    return (
        {k: v.numpy() for k, v in features.items()},
        {k: v.numpy() for k, v in labels.items()},
    )


if __name__ == "__main__":
    arguments = dict(a.split("=", 1) for a in sys.argv[1:])
    print(json.dumps(run(arguments)), flush=True)
