"""Fingerprints of a run's config: saved results never meet another config.

A fingerprint is the JSON form of everything that changes a run's numbers
(config fields and data arguments). It is stored in each `result.json` and
backup; a rerun compares its own and refuses to reuse files made under
another config, naming the fields that differ.
"""

import json


class RunMismatchError(ValueError):
    """Saved results or backups were made under another config."""


def normalise(fingerprint):
    """`fingerprint` as JSON gives it back (tuples become lists, ...).

    Example:

    >>> normalise({"architectures": ("mtcrl",), "lr": 0.1})
    {'architectures': ['mtcrl'], 'lr': 0.1}
    """
    return json.loads(json.dumps(fingerprint, sort_keys=True, default=str))


def differences(stored, current):
    """`field: stored -> current` lines where two fingerprints differ.

    Example:

    >>> differences({"epochs": 2, "seed": 0}, {"epochs": 5, "seed": 0})
    ['epochs: 2 (saved) != 5 (this run)']
    """
    stored, current = normalise(stored), normalise(current)
    lines = []
    for key in sorted(set(stored) | set(current)):
        old = stored.get(key, "<absent>")
        new = current.get(key, "<absent>")
        if old != new:
            lines.append(f"{key}: {old!r} (saved) != {new!r} (this run)")
    return lines


def check_fingerprint(stored, current, path, fix):
    """Raises `RunMismatchError` unless `stored` equals `current`.

    Args:
        stored: dict or None (a file written without a fingerprint).
        current: dict. This run's fingerprint.
        path: str. The file the stored fingerprint comes from.
        fix: str. What the user can do (e.g. "pass --overwrite").
    """
    if stored is None:
        raise RunMismatchError(
            f"{path} has no config fingerprint (written by an older "
            "version or by hand), so it cannot be checked against this "
            f"run's config. Refusing to reuse it: {fix}."
        )
    lines = differences(stored, current)
    if lines:
        raise RunMismatchError(
            f"{path} was made under another config; refusing to mix it "
            "with this run. Differing fields:\n  "
            + "\n  ".join(lines)
            + f"\nTo proceed: {fix}."
        )
