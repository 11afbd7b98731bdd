"""Fetches a Debian package's files without installing it (no root needed).

Some public data sets are packaged by Debian (Fashion-MNIST as
`dataset-fashion-mnist`, MovieLens inside R's `r-cran-dslabs`). On a
Debian-based system `apt-get download` fetches the `.deb` as an ordinary
user and `dpkg-deb -x` unpacks it into a folder, so the data loaders can
read the published files without root or an `apt-get install`.
"""

import os
import pathlib
import shutil
import subprocess

_TOOLS = ("apt-get", "dpkg-deb")


def download_and_unpack(package, workdir, fallback):
    """Downloads `package`'s `.deb` into `workdir` and unpacks it there.

    Runs `apt-get download <package>` in `workdir` (and `apt-get update`
    once if that fails: the package lists may be missing or stale on a
    fresh system), then `dpkg-deb -x` into `workdir/unpacked`.

    Args:
        package: str. The Debian package name, e.g.
            `"dataset-fashion-mnist"`.
        workdir: str or path-like. An existing, writable (usually
            temporary) folder.
        fallback: str. What the user can do instead, appended to the
            errors, e.g. "pass a folder of the idx files as `data_dir`".

    Returns:
        `pathlib.Path` of the unpacked file-system root: the package's file
        `/usr/share/x` is at `<returned>/usr/share/x`.

    Raises:
        FileNotFoundError: `apt-get` or `dpkg-deb` is not on the `PATH`.
        RuntimeError: the download failed.

    Example:

    >>> import tempfile
    >>> root = download_and_unpack(  # doctest: +SKIP
    ...     "dataset-fashion-mnist", tempfile.mkdtemp(),
    ...     "pass a folder of the idx files as `data_dir`")
    >>> folder = root / "usr/share/datasets/fashion-mnist"  # doctest: +SKIP
    >>> sorted(p.name for p in folder.iterdir())[0]  # doctest: +SKIP
    't10k-images-idx3-ubyte.gz'
    """
    for tool in _TOOLS:
        if shutil.which(tool) is None:
            raise FileNotFoundError(
                f"`{tool}` not found: fetching the Debian package "
                f"`{package}` needs a Debian-based system. Otherwise "
                f"{fallback}."
            )
    command = ["apt-get", "download", package]
    result = subprocess.run(
        command, cwd=workdir, capture_output=True, text=True
    )
    if result.returncode != 0:
        subprocess.run(["apt-get", "update"], capture_output=True, text=True)
        result = subprocess.run(
            command, cwd=workdir, capture_output=True, text=True
        )
    debs = sorted(pathlib.Path(workdir).glob(f"{package}_*.deb"))
    if result.returncode != 0 or not debs:
        raise RuntimeError(
            f"`{' '.join(command)}` failed ({result.stderr.strip()[-500:]})."
            f" Run it by hand (after `apt-get update`), or {fallback}."
        )
    root = pathlib.Path(workdir, "unpacked")
    subprocess.run(
        ["dpkg-deb", "-x", os.fspath(debs[-1]), os.fspath(root)],
        check=True,
        capture_output=True,
    )
    return root
