"""What a run folder already holds, checked against the run's config."""

import dataclasses
import os
import shutil

from keras_mtcrl.callbacks.atomic_backup_and_restore import (
    AtomicBackupAndRestore,
)
from keras_mtcrl.callbacks.run_fingerprint import RunMismatchError
from keras_mtcrl.callbacks.run_fingerprint import check_fingerprint
from keras_mtcrl.callbacks.run_fingerprint import normalise
from keras_mtcrl.training import results as results_io
from keras_mtcrl.training.distributed_loop import read_fingerprint
from keras_mtcrl.training.recipe_config import RecipeConfig

#: Config fields that only change how results are shown, not the numbers.
_NOT_IN_FINGERPRINT = ("description", "primary_metrics", "architectures")

_OOD_PENALTY = (
    "ood_groups", "ood_penalty_weight", "ood_warmup_steps", "ood_ramp_steps"
)
#: Config fields that only some architectures read: a run's fingerprint
#: leaves out those its architecture ignores, so that changing an MT-CRL
#: setting never invalidates a finished shared-bottom run. Every field not
#: listed here is read by all architectures.
ARCHITECTURE_FIELDS = {
    "mtcrl": (
        "disentanglement", "disentanglement_weight", "sparsity_weight",
        "invariance", "invariance_weight", "invariance_environments",
        "warmup_steps", "ramp_steps", "min_env_samples",
        "graph_temperature", "gate", "normalize_modules", "balanced_risk",
        "graph_balanced_risk",
    ),
    "reweight": ("ood_groups", "reweight_share"),
    "groupdro": ("ood_groups", "dro_step_size"),
    "irm": _OOD_PENALTY,
    "vrex": _OOD_PENALTY,
    "fishr": _OOD_PENALTY,
    "gmtl": ("gmtl_alpha",),
}
_SPECIFIC = frozenset(
    field for fields in ARCHITECTURE_FIELDS.values() for field in fields
)
#: The folder of a run that holds the `DistributedLoop`'s checkpoints.
LOOP_CHECKPOINTS = "checkpoints"
OVERWRITE_HINT = (
    "pass --overwrite (Trainer(overwrite=True)) to delete that "
    "architecture's files and train it again, or use a new --logdir"
)


class RunFileError(RuntimeError):
    """A file of the run folder is unreadable; says what to delete."""


def run_fingerprint(config, architecture):
    """The fingerprint of one architecture's run (config, data, seed).

    Example:

    >>> from keras_mtcrl.training import RecipeConfig
    >>> fingerprint = run_fingerprint(RecipeConfig(name="x"), "mtcrl")
    >>> fingerprint["architecture"], fingerprint["epochs"]
    ('mtcrl', 5)
    """
    own = ARCHITECTURE_FIELDS.get(architecture, ())
    values = {
        key: value
        for key, value in config.to_dict().items()
        if key not in _NOT_IN_FINGERPRINT
        and (key not in _SPECIFIC or key in own)
    }
    values["architecture"] = architecture
    return normalise(values)


def comparable(stored, current):
    """`stored` (a fingerprint written by this or an older version) as
    `current` would have been written then.

    Fields `current` does not have (ones its architecture ignores, or that
    are no longer fingerprinted) are dropped; fields added to
    `RecipeConfig` since `stored` was written take their default, the
    behaviour of the code that wrote it.
    """
    if not isinstance(stored, dict):
        return stored
    defaults = normalise(
        {
            field.name: field.default
            for field in dataclasses.fields(RecipeConfig)
            if field.default is not dataclasses.MISSING
        }
    )
    return {
        key: stored[key] if key in stored else defaults.get(key)
        for key in current
    }


def backup_dirs(run_dir, name="backup"):
    """The backup folders under `run_dir` (one per single-task group).

    `name=LOOP_CHECKPOINTS` finds the `DistributedLoop`'s folders instead.
    """
    found = []
    for folder, names, _ in os.walk(run_dir):
        if os.path.basename(folder) == name:
            found.append(folder)
            names[:] = []
        elif "tensorboard" in names:
            names.remove("tensorboard")
    return sorted(found)


def prepare_run_dir(run_dir, fingerprint, overwrite=False):
    """Checks `run_dir` against `fingerprint`; returns a reusable result.

    Returns the saved result when `result.json` was written under the
    same fingerprint, else None (train). Files made under another
    fingerprint raise `RunMismatchError` naming the differing fields, or
    are deleted first with `overwrite=True`. An unreadable `result.json`
    raises `RunFileError` naming it.
    """
    done = os.path.join(run_dir, "result.json")
    try:
        _check(run_dir, done, fingerprint)
    except (RunMismatchError, RunFileError):
        if not overwrite:
            raise
        shutil.rmtree(run_dir)
        return None
    if os.path.exists(done):
        return results_io.read_json(done)
    return None


def _check(run_dir, done, fingerprint):
    if os.path.exists(done):
        try:
            result = results_io.read_json(done)
        except (OSError, ValueError) as error:
            raise RunFileError(
                f"{done} is unreadable ({type(error).__name__}: {error}). "
                f"Delete it to train this architecture again, or "
                f"{OVERWRITE_HINT}."
            ) from None
        stored = result.get("fingerprint") if isinstance(
            result, dict
        ) else None
        check_fingerprint(
            comparable(stored, fingerprint), fingerprint, done,
            OVERWRITE_HINT,
        )
    for folder in backup_dirs(run_dir, LOOP_CHECKPOINTS):
        if os.path.exists(os.path.join(folder, "checkpoint")):
            check_fingerprint(
                comparable(read_fingerprint(folder), fingerprint),
                fingerprint,
                folder,
                OVERWRITE_HINT,
            )
    for folder in backup_dirs(run_dir):
        backup = AtomicBackupAndRestore(folder)
        if backup.committed_state() is None and not any(
            name.endswith(".h5") for name in os.listdir(folder)
        ):
            continue
        check_fingerprint(
            comparable(backup.stored_fingerprint(), fingerprint),
            fingerprint,
            folder,
            OVERWRITE_HINT,
        )
