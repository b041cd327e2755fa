"""The Python a component's scripts get: the device's own interpreter, reachable by the component
user.

On a Jetson a recipe's ``python3`` is the system Python, which carries pyds and the DeepStream
SDK; on the simulated device it is the interpreter that runs the device, which carries the
DeepStream emulation and the project's packages (``PATH`` starts with its folder). Scripts without
``RequiresPrivilege`` run as the component user (``nobody`` by default), and that user may not be
able to run it: a pyenv or virtualenv interpreter under ``/root`` (mode 0700) cannot be entered by
anyone else. The shell then skips the unreachable ``python3`` without a word and runs the next one
on ``PATH`` — the distribution's, without the project's packages — and a component fails far from
the cause, or works by accident.

So the device checks, at boot, that the component user can run the interpreter and import the
project from it. When it cannot, the device builds an *interpreter mirror* the user can reach and
puts it first on ``PATH``; when even that does not work, the device refuses to boot and says why.
The mirror (under :data:`MIRROR_ROOT`, shared by every device of the machine and built once):

- ``base/``: the interpreter's executable, its ``libpython`` and its standard library (without
  ``site-packages`` and ``test``), hard-linked where the file system allows, else copied. The
  executable's ``RUNPATH`` naming the original ``lib/`` folder is rewritten in the copy to
  ``$ORIGIN/../lib`` (same bytes, NUL-padded), so the loader finds this ``libpython``, not the
  distribution's one of another patch release.
- ``venv/``: a virtual environment on ``base/`` (``pyvenv.cfg``) whose ``site-packages`` holds one
  ``.pth`` that adds the running interpreter's site-packages folders with ``site.addsitedir``, so
  their own ``.pth`` files (the project's editable install) are read too.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

from fake_device.nucleus.shell import RunAs
from harness.errors import HarnessError

__all__ = ["MIRROR_ROOT", "ComponentPython", "component_python"]

#: where interpreter mirrors live: outside /root, every folder world-searchable
MIRROR_ROOT = Path(os.environ.get("EDGE_HARNESS_INTERPRETER_MIRRORS", "/var/cache/edge-harness/python"))
#: what the probe imports: the project's packages, as a component's DeepStream app needs them
PROBE_IMPORT = "fake_device.deepstream"
_PROBE_TIMEOUT_S = 60.0
_probed: dict[tuple[str, int, str], str] = {}


class ComponentPython:
    """The interpreter folder a device puts first on its components' ``PATH``."""

    def __init__(self, bin_dir: Path, mirrored: bool) -> None:
        self.bin_dir = bin_dir
        self.mirrored = mirrored

    def __repr__(self) -> str:
        return f"ComponentPython({self.bin_dir}, mirrored={self.mirrored})"


def _searchable_by(path: Path, run_as: RunAs, groups: set[int], bit: int) -> bool:
    """Whether ``run_as`` has permission ``bit`` (1 = x, 4 = r) on ``path`` by its mode bits."""
    info = path.stat()
    if info.st_uid == run_as.uid:
        return bool(info.st_mode & (bit << 6))
    if info.st_gid in groups:
        return bool(info.st_mode & (bit << 3))
    return bool(info.st_mode & bit)


def blocked_folder(target: Path, run_as: RunAs) -> Path | None:
    """The first folder on the way to ``target`` (symlinks resolved) that ``run_as`` cannot
    enter, or ``target`` itself if it cannot execute it; None when the way is clear."""
    groups = set(os.getgrouplist(run_as.user, run_as.gid))
    real = Path(os.path.realpath(target))
    for folder in reversed(real.parents):
        if not _searchable_by(folder, run_as, groups, 1):
            return folder
    return None if _searchable_by(real, run_as, groups, 1) else real


def _probe(executable: Path, run_as: RunAs) -> str:
    """Run ``executable`` as ``run_as`` and import the project; "" when it works, else why not."""
    key = (str(executable), run_as.uid, run_as.user)
    if key in _probed:
        return _probed[key]

    def demote() -> None:  # pragma: no cover - runs in the child
        os.setgroups(os.getgrouplist(run_as.user, run_as.gid))
        os.setgid(run_as.gid)
        os.setuid(run_as.uid)

    code = f"import sys, {PROBE_IMPORT}; print(sys.version)"
    try:
        done = subprocess.run(
            [str(executable), "-c", code],
            capture_output=True,
            text=True,
            timeout=_PROBE_TIMEOUT_S,
            preexec_fn=demote,
            env={"PATH": "/usr/bin:/bin", "HOME": "/", "LANG": "C.UTF-8"},
            cwd="/",
        )
    except (OSError, subprocess.SubprocessError) as err:
        problem = str(err)
    else:
        if done.returncode != 0:
            problem = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
        elif done.stdout.strip() != sys.version.strip():
            problem = f"it is Python {done.stdout.strip()!r}, not the device's {sys.version!r}"
        else:
            problem = ""
    _probed[key] = problem
    return problem


def component_python(run_as: RunAs | None, mirror_root: Path = MIRROR_ROOT) -> ComponentPython:
    """The interpreter folder for scripts run as ``run_as`` (None: as the device itself).

    Raises :class:`HarnessError` when the component user can run neither the device's
    interpreter nor a mirror of it with the project importable.
    """
    own = Path(sys.executable)
    if run_as is None:
        return ComponentPython(own.parent, mirrored=False)
    blocked = blocked_folder(own, run_as)
    if blocked is None and not _probe(own, run_as):
        return ComponentPython(own.parent, mirrored=False)
    bin_dir = build_mirror(mirror_root)
    problem = _probe(bin_dir / "python3", run_as)
    if problem:
        reason = f"{blocked} is closed to it" if blocked is not None else "it fails to start"
        raise HarnessError(
            f"the component user {run_as.user!r} cannot run the device's Python {own} ({reason}), "
            f"nor the copy at {bin_dir}: {problem}",
            hint="the project's packages must be readable by that user: install the project and its "
            "virtual environment outside /root (e.g. under /opt or /srv), choose another "
            "--component-user, or run the device as that user",
        )
    return ComponentPython(bin_dir, mirrored=True)


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _copy_tree(source: Path, target: Path, skip: set[str]) -> None:
    for folder, dirs, files in os.walk(source):
        dirs[:] = [d for d in dirs if d not in skip or Path(folder) != source]
        destination = target / Path(folder).relative_to(source)
        destination.mkdir(parents=True, exist_ok=True)
        os.chmod(destination, 0o755)
        for name in [d for d in dirs if (Path(folder) / d).is_symlink()]:
            os.symlink(os.readlink(Path(folder) / name), destination / name)
            dirs.remove(name)
        for name in files:
            path = Path(folder) / name
            if path.is_symlink():
                os.symlink(os.readlink(path), destination / name)
            else:
                _link_or_copy(path, destination / name)


def _patched_executable(source: Path, target: Path, old_lib: Path) -> None:
    """A copy of the interpreter whose RUNPATH (if it names ``old_lib``) is ``$ORIGIN/../lib``."""
    data = source.read_bytes()
    old = str(old_lib).encode() + b"\0"
    new = b"$ORIGIN/../lib"
    if old in data and len(new) < len(old):
        data = data.replace(old, new + b"\0" * (len(old) - len(new)))
    target.write_bytes(data)
    os.chmod(target, 0o755)


def build_mirror(mirror_root: Path = MIRROR_ROOT) -> Path:
    """The ``bin`` folder of this interpreter's mirror, built on first use (module docstring)."""
    base_executable = Path(os.path.realpath(getattr(sys, "_base_executable", "") or sys.executable))
    info = base_executable.stat()
    tag = f"python{sys.version_info.major}.{sys.version_info.minor}"
    key = hashlib.sha256(
        f"{base_executable}:{info.st_size}:{info.st_mtime_ns}:{sys.prefix}:{sys.version}".encode()
    ).hexdigest()[:16]
    final = mirror_root / key
    bin_dir = final / "venv" / "bin"
    if (final / "venv" / "pyvenv.cfg").exists():
        return bin_dir
    missing = [f for f in (mirror_root, *mirror_root.parents) if not f.exists()]
    for folder in reversed(missing):  # created world-searchable; existing folders stay as they are
        with contextlib.suppress(FileExistsError):
            folder.mkdir()
            os.chmod(folder, 0o755)
    work = mirror_root / f".{key}.{os.getpid()}.tmp"
    shutil.rmtree(work, ignore_errors=True)
    try:
        base_prefix = Path(sys.base_prefix)
        stdlib = Path(sysconfig.get_paths(vars={"installed_base": str(base_prefix)})["stdlib"])
        (work / "base" / "bin").mkdir(parents=True)
        _patched_executable(base_executable, work / "base" / "bin" / tag, base_prefix / "lib")
        (work / "base" / "lib").mkdir()
        for library in sorted((base_prefix / "lib").glob("libpython*")):
            if library.is_symlink():
                os.symlink(os.readlink(library), work / "base" / "lib" / library.name)
            elif library.is_file():
                _link_or_copy(library, work / "base" / "lib" / library.name)
        _copy_tree(stdlib, work / "base" / "lib" / tag, skip={"site-packages", "test"})
        (work / "base" / "lib" / tag / "site-packages").mkdir(exist_ok=True)
        venv = work / "venv"
        (venv / "bin").mkdir(parents=True)
        for name in ("python3", "python", tag):
            os.symlink(f"../../base/bin/{tag}", venv / "bin" / name)
        (venv / "lib").mkdir()
        for library in (work / "base" / "lib").glob("libpython*"):  # for a loader that keeps the link
            os.symlink(f"../../base/lib/{library.name}", venv / "lib" / library.name)
        (venv / "pyvenv.cfg").write_text(
            f"home = {final / 'base' / 'bin'}\ninclude-system-site-packages = false\n"
            f"version = {'.'.join(map(str, sys.version_info[:3]))}\n"
        )
        packages = venv / "lib" / tag / "site-packages"
        packages.mkdir(parents=True)
        lines = [f"import site; site.addsitedir({folder!r})" for folder in site.getsitepackages()]
        (packages / "_edge_harness_device_site.pth").write_text("\n".join(lines) + "\n")
        for folder, dirs, _files in os.walk(work):
            for name in dirs:
                os.chmod(Path(folder) / name, 0o755)
        os.chmod(work, 0o755)
        try:
            os.replace(work, final)
        except OSError:
            if not (final / "venv" / "pyvenv.cfg").exists():  # another device built it meanwhile
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return bin_dir
