"""Errors of image building, each carrying the fix as its hint."""

from __future__ import annotations

import shutil
from pathlib import Path

from harness.errors import EXIT_SERVICE, HarnessError


class ImageError(HarnessError):
    """An image of the docker backend could not be found, built or removed.

    Exit code 3 (as a service that cannot start): without its image a container service cannot
    start either, and the docker backend reports both the same way.
    """

    exit_code = EXIT_SERVICE


NO_SPACE_MARKERS = ("no space left on device", "errno 28")


def is_disk_full(text: str) -> bool:
    """True when ``text`` (a build error, a log tail) says a disk filled up."""
    lowered = text.lower()
    return any(marker in lowered for marker in NO_SPACE_MARKERS)


def _free_space(label: str, path: Path | None) -> str:
    if path is None:
        return f"{label}: unknown"
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        usage = shutil.disk_usage(probe)
    except OSError as err:
        return f"{label} {path}: cannot tell ({err.strerror})"
    gib = 1024**3
    return f"{label} {path}: {usage.free / gib:.1f} GiB free of {usage.total / gib:.1f} GiB"


def disk_full_error(image: str, cache: Path, docker_root: Path | None, detail: str = "") -> ImageError:
    """The error for ENOSPC while building ``image``, with the free space where it matters."""
    lines = [
        f"{image}: no space left on device while building the image",
        "  " + _free_space("cache dir", cache),
        "  " + _free_space("docker root", docker_root),
    ]
    if detail:
        lines.append(detail)
    return ImageError(
        "\n".join(lines),
        hint="free some space (edge-harness images prune; docker image prune; docker builder prune) "
        "or point EDGE_HARNESS_CACHE at a larger disk",
    )
