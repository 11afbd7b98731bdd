"""One run per output folder: an exclusive lock naming its holder."""

import os

try:
    import fcntl
except ImportError:  # Not POSIX (Windows): no lock is taken.
    fcntl = None

LOCK_FILE = ".lock"


class LogdirLockedError(RuntimeError):
    """Another process holds the output folder's lock."""


class LogdirLock:
    """Holds `<logdir>/.lock` exclusively while a run writes the folder.

    The lock is an `fcntl.flock` on the file, so the operating system
    releases it when the holder exits, however it dies (a SIGKILL leaves
    no stale lock). The file holds the holder's PID, which the error of a
    second run names.

    Args:
        logdir: str. The folder to lock (made if needed).

    Example:

    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> with LogdirLock(folder):
    ...     LogdirLock(folder).acquire()
    Traceback (most recent call last):
    ...
    keras_mtcrl.training.logdir_lock.LogdirLockedError: Another run ...
    """

    def __init__(self, logdir):
        self.logdir = logdir
        self.path = os.path.join(logdir, LOCK_FILE)
        self._handle = None

    def acquire(self):
        """Takes the lock or raises `LogdirLockedError`; returns self."""
        os.makedirs(self.logdir, exist_ok=True)
        handle = open(self.path, "a+", encoding="utf-8")
        if fcntl is not None:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.seek(0)
                holder = handle.read().strip() or "unknown"
                handle.close()
                raise LogdirLockedError(
                    f"Another run (PID {holder}) is writing {self.logdir}. "
                    "Two runs in one folder would overwrite each other's "
                    "results and backups: wait for it to end, stop it, or "
                    "use another --logdir."
                ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._handle = handle
        return self

    def release(self):
        """Releases the lock (closing the file drops the flock)."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc_info):
        self.release()
