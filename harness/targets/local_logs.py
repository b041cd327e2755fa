"""Greengrass logs in a device root on this host (``<root>/logs/<name>.log``).

Shared by the devices whose root the harness can read directly: a simulated device's folder and
a device container's bind-mounted root.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["LocalLogs"]


class LocalLogs:
    """:class:`~harness.targets.capabilities.HasLogs` over a local ``logs`` folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path(self, name: str) -> Path:
        return self.folder / f"{name}.log"

    def log_sizes(self) -> dict[str, int]:
        sizes = {}
        for path in sorted(self.folder.glob("*.log")) if self.folder.is_dir() else []:
            try:
                sizes[path.stem] = path.stat().st_size
            except OSError:  # rotated away between the listing and the stat
                continue
        return sizes

    def read_log(self, name: str, offset: int = 0) -> bytes:
        try:
            with self.path(name).open("rb") as handle:
                handle.seek(offset)
                return handle.read()
        except OSError:
            return b""

    def log_location(self, name: str) -> str:
        return str(self.path(name))
