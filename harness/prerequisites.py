"""What a machine needs before edge-harness runs, and the one place that installs it.

Used three ways, all through this module so the lists live once:

* ``python3 harness/prerequisites.py system --for main|tests`` — run by ``./run`` and ``.ci/run``
  *before* the project is installed (this file imports only the standard library, so any Python
  3.11 can run it): installs the missing Debian packages with apt, quietly when nothing is missing.
  They must come first because pip builds PyGObject against ``libgirepository1.0-dev``.
* ``python -m harness.prerequisites python`` — run by every tox environment after the project is
  installed: links Debian's GStreamer overrides for PyGObject into the environment (pip's
  PyGObject lacks them; without them Python elements lose their pad templates — see
  docs/deepstream/gstreamer.md), and opens tox's 0700 work folder for traversal, so the simulated
  device's unprivileged component user can reach the environment's packages.
* ``edge-harness doctor`` — says what is missing and the command that installs it.

Debian packages are preferred only where no wheel serves: FFmpeg comes from the ``imageio-ffmpeg``
wheel, Triton and the Kafka broker from wheels too; GStreamer 1.22 and its introspection data have
no wheel, so they come from Debian 12.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import stat
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

PYTHON_VERSION = (3, 11)

#: Debian packages by purpose; ``for`` profiles pick purposes.
PACKAGES: dict[str, tuple[str, ...]] = {
    # tritonserver's python backend stub links the shared libpython3.11
    "triton": ("libpython3.11",),
    # real GStreamer 1.22 with the plugins DeepStream apps autoplug (decoders, x264, RTP, RTSP server)
    "gstreamer": (
        "gstreamer1.0-tools",
        "gstreamer1.0-plugins-base",
        "gstreamer1.0-plugins-good",
        "gstreamer1.0-plugins-bad",
        "gstreamer1.0-plugins-ugly",
        "gstreamer1.0-libav",
        "gstreamer1.0-rtsp",
        "gir1.2-gstreamer-1.0",
        "gir1.2-gst-plugins-base-1.0",
        "gir1.2-gst-plugins-bad-1.0",
        "gir1.2-gst-rtsp-server-1.0",
        # GStreamer's PyGObject overrides (Gst.py, _gi_gst) — linked into the project's environment
        "python3-gst-1.0",
    ),
    # pip builds PyGObject (and pycairo) from source against girepository-1.0
    "pygobject-build": ("libgirepository1.0-dev", "libcairo2-dev", "pkg-config", "gcc"),
    # the HTML report is checked in a real browser (headless screenshot test)
    "report-browser": ("chromium",),
    # the docker backend: an engine, and debootstrap for the offline base image
    "docker": ("docker.io", "debootstrap"),
    # the simulated lab of --target lab's tests: network namespaces and veth links, an SSH server
    # per simulated Jetson, the SSH client labgrid's SSHDriver runs
    "lab": ("iproute2", "openssh-server", "openssh-client"),
}

PROFILES: dict[str, tuple[str, ...]] = {
    "main": ("triton", "gstreamer", "pygobject-build"),
    "tests": ("triton", "gstreamer", "pygobject-build", "report-browser", "docker", "lab"),
}

#: Debian's GStreamer overrides for PyGObject, and the files of them an environment needs
DEBIAN_OVERRIDES = Path("/usr/lib/python3/dist-packages/gi/overrides")
OVERRIDE_FILES = ("Gst.py", "GstAudio.py", "GstPbutils.py", "GstVideo.py")


@dataclass(frozen=True)
class Finding:
    """One missing prerequisite: what it is for and the command that installs it."""

    what: str
    fix: str


def _dpkg_installed(packages: list[str]) -> set[str]:
    """The subset of ``packages`` dpkg reports as installed (one dpkg-query call)."""
    if not packages or shutil.which("dpkg-query") is None:
        return set()
    done = subprocess.run(
        ["dpkg-query", "-W", "-f=${Package} ${Status}\n", *packages],
        capture_output=True,
        text=True,
        check=False,
    )
    installed = set()
    for line in done.stdout.splitlines():
        name, _, status = line.partition(" ")
        if status.endswith("install ok installed"):
            installed.add(name.split(":")[0])
    return installed


def _python_packages(python: str) -> list[str]:
    """Debian packages the interpreter itself lacks: venv (ensurepip) and the C headers pip needs."""
    probe = (
        "import importlib.util, os, sys, sysconfig;"
        "print(importlib.util.find_spec('ensurepip') is not None);"
        "print(os.path.exists(os.path.join(sysconfig.get_paths()['include'], 'Python.h')));"
        "print(sys.prefix == '/usr')"
    )
    done = subprocess.run([python, "-c", probe], capture_output=True, text=True, check=False)
    lines = done.stdout.split()
    if done.returncode != 0 or len(lines) != 3:
        return []
    has_ensurepip, has_headers, is_debian = (line == "True" for line in lines)
    if not is_debian:  # pyenv, a source build: it carries its own venv and headers
        return []
    needed = [] if has_ensurepip else ["python3.11-venv"]
    return needed if has_headers else [*needed, "python3.11-dev"]


def missing_packages(profile: str, python: str = sys.executable) -> list[str]:
    """Debian packages the profile needs that are not installed, in a stable order."""
    wanted = [name for purpose in PROFILES[profile] for name in PACKAGES[purpose]]
    wanted += _python_packages(python)
    installed = _dpkg_installed(wanted)
    return [name for name in dict.fromkeys(wanted) if name not in installed]


def _as_root(command: list[str]) -> list[str]:
    return command if os.geteuid() == 0 else ["sudo", "-n", *command]


def apt_command(packages: list[str]) -> list[str]:
    return _as_root(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages])


def install_system(profile: str, python: str) -> int:
    """Install what ``profile`` lacks with apt; silent when nothing is missing. Returns an exit code."""
    packages = missing_packages(profile, python)
    if not packages:
        return 0
    if shutil.which("apt-get") is None:
        print(
            "edge-harness needs these Debian packages, and this machine has no apt-get: "
            + " ".join(packages),
            file=sys.stderr,
        )
        return 1
    if os.geteuid() != 0 and shutil.which("sudo") is None:
        print(
            "edge-harness needs these Debian packages and is not root (no sudo either):\n"
            f"  apt-get install -y {' '.join(packages)}",
            file=sys.stderr,
        )
        return 1
    print(f"edge-harness: installing Debian packages: {' '.join(packages)}", file=sys.stderr)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (_as_root(["apt-get", "update", "-qq"]), apt_command(packages)):
        done = subprocess.run(command, env=env, stdout=subprocess.DEVNULL, check=False)
        if done.returncode != 0:
            print(f"edge-harness: {' '.join(command)} failed (exit {done.returncode})", file=sys.stderr)
            return done.returncode
    return 0


def _gi_overrides_dir() -> Path | None:
    spec = importlib.util.find_spec("gi")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "overrides"


def _gi_gst_extension() -> str:
    return f"_gi_gst{sysconfig.get_config_var('EXT_SUFFIX')}"


def link_gst_overrides() -> list[Finding]:
    """Link Debian's GStreamer overrides into this interpreter's PyGObject; what could not be done."""
    overrides = _gi_overrides_dir()
    if overrides is None:
        return [Finding("PyGObject (gi) is not installed in this environment", "pip install -e .")]
    if overrides.resolve() == DEBIAN_OVERRIDES.resolve():
        return []  # Debian's own gi: its overrides are already there
    if sys.version_info[:2] != PYTHON_VERSION:
        return [
            Finding(
                f"Debian 12's GStreamer overrides are built for Python 3.11, not {sys.version.split()[0]}",
                "run edge-harness with Python 3.11",
            )
        ]
    names = [*OVERRIDE_FILES, _gi_gst_extension()]
    absent = [name for name in names if not (DEBIAN_OVERRIDES / name).exists()]
    if absent:
        return [
            Finding(
                f"Debian's GStreamer overrides lack {', '.join(absent)}", "apt-get install python3-gst-1.0"
            )
        ]
    for name in names:
        link = overrides / name
        if link.is_symlink() and link.resolve() == (DEBIAN_OVERRIDES / name).resolve():
            continue
        if link.exists() or link.is_symlink():
            link.unlink()
        link.symlink_to(DEBIAN_OVERRIDES / name)
    return []


def open_tox_dir_to_components() -> None:
    """Let the device's unprivileged component user traverse tox's work folder.

    Component scripts without RequiresPrivilege run as another user (``nobody``); the device gives
    them its own interpreter's packages (fake_device/nucleus/interpreter.py), which live in this
    environment. tox makes its ``.tox`` folder 0700, which closes every environment inside it to
    that user, and the device then refuses to boot. Only ``.tox`` folders that this user owns get
    the search bit for others (nothing is listed or written through it); no other folder is touched.
    """
    for folder in Path(sys.prefix).resolve().parents:
        if folder.name != ".tox":
            continue
        info = folder.stat()
        if info.st_uid == os.geteuid() and not info.st_mode & stat.S_IXOTH:
            folder.chmod(stat.S_IMODE(info.st_mode) | stat.S_IXOTH)


def check_gst_overrides() -> list[Finding]:
    """Whether this interpreter's PyGObject has GStreamer's overrides (doctor: look, don't change)."""
    overrides = _gi_overrides_dir()
    if overrides is None:
        return [Finding("PyGObject (gi) is not installed in this environment", "pip install -e .")]
    names = [*OVERRIDE_FILES, _gi_gst_extension()]
    if all((overrides / name).exists() for name in names):
        return []
    return [
        Finding(
            "PyGObject has no GStreamer overrides (Python elements would lose their pad templates)",
            "python -m harness.prerequisites python",
        )
    ]


def check_system(profile: str) -> list[Finding]:
    packages = missing_packages(profile)
    if not packages:
        return []
    return [Finding(f"Debian packages missing: {' '.join(packages)}", " ".join(apt_command(packages)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="prerequisites", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    system = sub.add_parser("system", help="install the Debian packages a profile needs (apt)")
    system.add_argument("--for", dest="profile", choices=sorted(PROFILES), default="tests")
    system.add_argument("--python", default=sys.executable, help="the interpreter the project will use")
    sub.add_parser("python", help="link GStreamer's PyGObject overrides into this environment")
    args = parser.parse_args(argv)
    if args.what == "system":
        return install_system(args.profile, args.python)
    findings = link_gst_overrides()
    open_tox_dir_to_components()
    for finding in findings:
        print(f"edge-harness: {finding.what}\n  fix: {finding.fix}", file=sys.stderr)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
