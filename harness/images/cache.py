"""Where image building keeps what is slow to make again: rootfs tarballs, wheelhouses, logs.

The docker images themselves are the main cache (they stay in the engine under their tags); this
folder holds what lets an image be rebuilt without repeating the slow or networked steps:
debootstrap's root filesystem as a tarball, the wheels of the Python dependencies, and the build
logs the errors point at.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path


def cache_root() -> Path:
    """``$EDGE_HARNESS_CACHE``, else ``$XDG_CACHE_HOME/edge-harness``, else ``~/.cache/edge-harness``."""
    explicit = os.environ.get("EDGE_HARNESS_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "edge-harness"


def images_cache() -> Path:
    """The ``images/`` folder of the cache (created on first use by the builders)."""
    return cache_root() / "images"


def rootfs_dir() -> Path:
    return images_cache() / "rootfs"


def wheelhouses_dir() -> Path:
    return images_cache() / "wheelhouses"


def logs_dir() -> Path:
    return images_cache() / "logs"


def scratch_dir() -> Path:
    """Temporary build contexts: inside the cache so wheels can be hard-linked, not copied."""
    return images_cache() / "tmp"


@contextlib.contextmanager
def build_lock(name: str) -> Iterator[None]:
    """Hold an exclusive lock for building image ``name``.

    Two processes that need the same missing image (two pytest workers, a test and the CLI) then
    build it once: the second waits and finds the image present.
    """
    folder = images_cache() / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"{name}.lock", "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
