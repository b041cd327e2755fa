"""The project's source files: what goes into the runtime image, and so into its tag.

The tag must be computable without Docker and without downloading anything (the docker backend
asks for it before every run), and must change whenever the code in the image would. So it hashes
the files the wheel is built from — the same list is used to build the wheel — rather than the
wheel itself (building a wheel takes seconds; hashing ~200 files takes milliseconds).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

from harness.images.errors import ImageError

#: the packages the wheel carries (pyproject.toml, [tool.setuptools.packages.find])
SOURCE_PACKAGES = ("harness", "fake_device")
#: files beside the packages that the wheel's build needs (readme = "README.md" in pyproject.toml)
BUILD_FILES = ("pyproject.toml", "README.md")
_SKIPPED_DIRS = {"__pycache__"}
_SKIPPED_SUFFIXES = (".pyc", ".pyo")


def project_root(explicit: Path | None = None) -> Path:
    """The edge-harness source checkout: ``explicit``, or the one this package was imported from."""
    root = Path(explicit) if explicit is not None else Path(__file__).resolve().parents[2]
    if not (root / "pyproject.toml").is_file() or not (root / "harness").is_dir():
        raise ImageError(
            f"{root} is not an edge-harness source checkout (no pyproject.toml and harness/ there)",
            hint="build the images from a checkout (pip install -e .), or name prebuilt images with "
            "EDGE_HARNESS_IMAGE_<NAME>",
        )
    return root


def _skipped(relative: str) -> bool:
    parts = relative.split("/")
    return any(part in _SKIPPED_DIRS for part in parts) or relative.endswith(_SKIPPED_SUFFIXES)


def _git_files(root: Path) -> list[str] | None:
    """Tracked files plus untracked ones git does not ignore, under the source packages.

    Untracked files count because setuptools packs every file of a package directory whether git
    knows it or not: a new module not yet committed is in the wheel, so it must be in the tag.
    """
    try:
        result = subprocess.run(
            ["git", "-C", str(root), "ls-files", "-z", "--cached", "--others", "--exclude-standard",
             "--", *SOURCE_PACKAGES],
            capture_output=True,
            check=True,
        )  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return None
    names = {name for name in result.stdout.decode("utf-8", "surrogateescape").split("\0") if name}
    # --cached still lists files deleted from the work tree; the wheel will not have them.
    return sorted(n for n in names if not _skipped(n) and (root / n).is_file())


def _walked_files(root: Path) -> list[str]:
    found: list[str] = []
    for package in SOURCE_PACKAGES:
        for folder, dirs, files in os.walk(root / package):
            dirs[:] = sorted(d for d in dirs if d not in _SKIPPED_DIRS and not d.endswith(".egg-info"))
            for name in files:
                relative = (Path(folder) / name).relative_to(root).as_posix()
                if not _skipped(relative):
                    found.append(relative)
    return sorted(found)


def source_files(root: Path) -> list[str]:
    """Paths (relative, POSIX) of the files under the source packages that make up the wheel."""
    if (root / ".git").exists():
        files = _git_files(root)
        if files is not None:
            return files
    return _walked_files(root)


def sources_digest(root: Path) -> str:
    """sha256 over every source file's path and content, in path order."""
    digest = hashlib.sha256()
    for relative in source_files(root):
        content = hashlib.sha256((root / relative).read_bytes()).hexdigest()
        digest.update(f"{relative}\0{content}\n".encode())
    return digest.hexdigest()


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
