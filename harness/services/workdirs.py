"""Temporary folders the harness makes, and the removal of those whose maker died.

A run's work folder (device roots, artifacts, services' logs) is 50–160 MB; a service's own
folder holds its staged model repository. A process that ends normally removes what it made; a
process that is SIGKILLed (a cancelled CI job, the OOM killer) cannot. So every such folder
carries a lock file that its maker holds an exclusive ``flock`` on for as long as it lives: the
kernel drops the lock when the process dies, however it dies, and a later run tells a dead run's
folder from a live one by trying to take the lock (:func:`sweep_dead_folders`). An ``flock``
rather than a pid file because a pid can be reused, and a lock cannot outlive its holder.

Only folders with the lock file are ever removed, so nothing this code did not make (a folder
given with ``--work``, another tool's files) is touched; a folder that is to be kept loses its
lock file (:meth:`OwnedFolder.keep`) and is left alone from then on.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

log = logging.getLogger(__name__)

#: the lock file inside every folder :class:`OwnedFolder` makes
LOCK_NAME = ".edge-harness.lock"
#: the name every harness temporary folder starts with
PREFIX = "edge-harness-"


class OwnedFolder:
    """A new folder under the temporary directory, locked by this process while it lives.

    The lock's file descriptor is close-on-exec (Python's default), so child processes do not
    hold it and a folder is free to be swept as soon as its maker is gone.
    """

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd = fd

    @classmethod
    def create(cls, prefix: str, parent: Path | None = None) -> OwnedFolder:
        """``mkdtemp(prefix=…)``, then the lock: taken on a temporary name and renamed into place,
        so a sweeper never finds the lock file before it is locked."""
        path = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
        pending = path / f"{LOCK_NAME}.{os.getpid()}"
        fd = os.open(pending, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a new file: nobody else can hold it
        os.write(fd, json.dumps({"pid": os.getpid(), "created": time.time()}).encode())
        os.rename(pending, path / LOCK_NAME)
        return cls(path, fd)

    @property
    def held(self) -> bool:
        return self._fd >= 0

    def _release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # drops the flock
            self._fd = -1

    def remove(self) -> None:
        """Delete the folder (the lock is held until its contents are gone). Safe to call twice."""
        if self._fd >= 0:
            shutil.rmtree(self.path, ignore_errors=True)
        self._release()

    def keep(self) -> None:
        """Leave the folder for the user: without its lock file no sweep will ever remove it."""
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                (self.path / LOCK_NAME).unlink()
        self._release()


def folder_in_use(path: Path) -> bool | None:
    """True when the maker of ``path`` (an :class:`OwnedFolder`) is alive, False when it is dead,
    None when ``path`` is not such a folder (no lock file)."""
    try:
        fd = os.open(path / LOCK_NAME, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def sweep_dead_folders(parent: Path | None = None, prefix: str = PREFIX) -> list[Path]:
    """Remove ``<parent>/<prefix>*`` folders whose maker died; return what was removed.

    A folder is removed only if it has the lock file, belongs to this user and its lock can be
    taken now — the lock is then held while the folder is deleted, so two sweepers never race.
    """
    parent = Path(parent or tempfile.gettempdir())
    removed: list[Path] = []
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.startswith(prefix):
            continue
        try:
            if not entry.is_dir(follow_symlinks=False) or entry.stat().st_uid != os.geteuid():
                continue
            fd = os.open(Path(entry.path) / LOCK_NAME, os.O_RDWR | os.O_CLOEXEC)
        except OSError:
            continue  # no lock file: not ours to judge
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # its maker is alive
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(Path(entry.path))
        finally:
            os.close(fd)
    if removed:
        log.info("removed work folders of runs that died: %s", ", ".join(map(str, removed)))
    return removed
