"""Wheels for the runtime image, made on the host where pip's configured index is reachable.

Inside an image build there is no index (nor should there be: the image must not depend on what an
index serves on the day), so the host makes the wheels and the image installs them with
``pip install --no-index``. The dependencies' wheelhouse is kept in the cache, keyed by the
dependency list, and reused until pyproject.toml's dependencies change; the harness's own wheel is
built for each runtime build from exactly the files its tag was computed from.
"""

from __future__ import annotations

import errno
import shutil
import sys
import tempfile
from pathlib import Path

from harness.images.buildlog import BuildLog
from harness.images.cache import scratch_dir, wheelhouses_dir
from harness.images.errors import ImageError, is_disk_full
from harness.images.sources import BUILD_FILES, source_files
from harness.images.spec import PYTHON_VERSION, inputs_digest, project_dependencies

#: pip of the running interpreter: its configuration names the index the wheels come from
PIP = (sys.executable, "-m", "pip")
PIP_HINT = (
    "pip reads its index from its configuration (pip config list); every dependency in "
    "pyproject.toml must be available there"
)


def _check_python() -> None:
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    if here != PYTHON_VERSION:
        raise ImageError(
            f"runtime: wheels are built by this Python ({here}) for the image's Python {PYTHON_VERSION} "
            "(Debian bookworm's python3), and compiled wheels of one do not install in the other",
            hint=f"run edge-harness images build with Python {PYTHON_VERSION}",
        )


def _pip_wheel(log: BuildLog, what: str, arguments: list[str]) -> None:
    command = [*PIP, "wheel", "--progress-bar", "off", *arguments]
    status = log.run(command)
    if status != 0:
        if is_disk_full(log.tail()):
            raise OSError(errno.ENOSPC, f"pip wheel ({what}): no space left on device")
        raise ImageError(
            f"runtime: pip could not build the wheels of {what} (exit status {status}):\n"
            f"{log.tail()}\nfull log: {log.path}",
            hint=PIP_HINT,
        )


def dependencies_key(root: Path) -> str:
    return inputs_digest(
        {"python": PYTHON_VERSION, "dependencies": project_dependencies(root / "pyproject.toml")}
    )


def dependencies_wheelhouse(root: Path, log: BuildLog) -> Path:
    """A folder with a wheel for every runtime dependency and a ``requirements.txt`` listing them.

    ``requirements.txt`` is written last and the folder is renamed into place when complete, so a
    failed or interrupted pip never leaves a wheelhouse that looks usable.
    """
    key = dependencies_key(root)
    house = wheelhouses_dir() / f"deps-{key[:16]}"
    if (house / "requirements.txt").is_file():
        log.write(f"reusing the wheelhouse {house}")
        return house
    _check_python()
    wheelhouses_dir().mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f"deps-{key[:16]}.", dir=wheelhouses_dir()))
    try:
        requirements = "\n".join(project_dependencies(root / "pyproject.toml")) + "\n"
        wanted = partial / "requirements.in"
        wanted.write_text(requirements, encoding="utf-8")
        _pip_wheel(log, "the dependencies", ["--wheel-dir", str(partial), "-r", str(wanted)])
        (partial / "requirements.in").rename(partial / "requirements.txt")
        shutil.rmtree(house, ignore_errors=True)  # an incomplete one from an older version
        partial.rename(house)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    count = len(list(house.glob("*.whl")))
    log.write(f"wheelhouse {house}: {count} wheels")
    return house


def project_wheel(root: Path, dest: Path, log: BuildLog) -> Path:
    """Build edge-harness's wheel into ``dest`` from a copy of the files the runtime tag hashes.

    A copy, not the checkout: setuptools would pack whatever lies in the package folders (and
    leave a build/ folder in the checkout), so the wheel could differ from what the tag describes.
    """
    _check_python()
    scratch_dir().mkdir(parents=True, exist_ok=True)
    source = Path(tempfile.mkdtemp(prefix="project-", dir=scratch_dir()))
    try:
        for relative in [*BUILD_FILES, *source_files(root)]:
            if (root / relative).is_file():
                target = source / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(root / relative, target)
        dest.mkdir(parents=True, exist_ok=True)
        _pip_wheel(log, "edge-harness", ["--no-deps", "--wheel-dir", str(dest), str(source)])
    finally:
        shutil.rmtree(source, ignore_errors=True)
    wheels = sorted(dest.glob("edge_harness-*.whl"))
    if not wheels:
        raise ImageError(f"runtime: pip built no edge-harness wheel\n{log.tail()}", hint=PIP_HINT)
    return wheels[-1]
