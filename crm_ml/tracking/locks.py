"""Inter-process locks on the tracking store, so that concurrent jobs do not interleave.

Two ``crm-ml train`` processes on one store race in two places: creating a fresh SQLite
store (both create its tables; one fails with "table experiments already exists") and moving
registry aliases (both read the champion, both move it). :func:`store_lock` serialises such
sections with an exclusive ``fcntl.flock`` on a file next to the SQLite database
(``<db>.<purpose>.lock``); for any other store (an MLflow server, a database server) the lock
file lives in the temporary folder, keyed by the store URI, and so only serialises the jobs of
one machine.

The lock is re-entrant within a process (a section may call another that takes the same
lock), and the operating system releases it when the process dies. Without ``fcntl``
(Windows) only the threads of one process are serialised.
"""

from __future__ import annotations

import contextlib
import hashlib
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

_guard = threading.Lock()
_held: dict[Path, tuple[threading.RLock, list]] = {}


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI (None for any other store)."""
    if not uri.startswith("sqlite:///"):
        return None
    path = uri.removeprefix("sqlite:///").split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None


def lock_path(uri: str, purpose: str) -> Path:
    """Where the lock file of ``purpose`` for the store at ``uri`` lives."""
    db = sqlite_path(uri)
    if db is not None:
        return db.with_name(f"{db.name}.{purpose}.lock")
    key = hashlib.sha256(uri.encode("utf-8")).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"crm_ml-{key}.{purpose}.lock"


@contextlib.contextmanager
def store_lock(uri: str, purpose: str) -> Iterator[Path]:
    """Hold the exclusive lock of ``purpose`` on the store at ``uri``.

    Parameters
    ----------
    uri : str
        The tracking URI.
    purpose : str
        What is serialised, e.g. ``"init"`` (store creation) or ``"release"`` (alias moves);
        one lock file per purpose.

    Yields
    ------
    Path
        The lock file.
    """
    path = lock_path(uri, purpose).resolve()
    with _guard:
        rlock, depth = _held.setdefault(path, (threading.RLock(), [0]))
    with rlock:  # threads of this process queue here; the outermost one takes the file lock
        if depth[0]:
            depth[0] += 1
            try:
                yield path
            finally:
                depth[0] -= 1
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a+b") as handle:
            if fcntl is not None:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            depth[0] = 1
            try:
                yield path
            finally:
                depth[0] = 0
                if fcntl is not None:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
