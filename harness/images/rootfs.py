"""The base image: a Debian root filesystem made by debootstrap, imported into Docker.

No registry is needed: debootstrap fetches .debs from a Debian mirror. The filesystem is packed
into a tarball kept in the cache, so removing the image (``docker image rm``, ``images prune``)
costs a re-import of a few seconds, not another debootstrap.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from harness.images.buildlog import BuildLog
from harness.images.cache import rootfs_dir
from harness.images.engine import inspect_image
from harness.images.errors import ImageError, is_disk_full
from harness.images.spec import BASE_CHANGES, INCLUDE, ROOTFS_FILES, SUITE, VARIANT, ImageSpec

if TYPE_CHECKING:
    import docker


def require_debootstrap() -> str:
    """The debootstrap binary, once it is known that it can run here (installed, and as root)."""
    binary = shutil.which("debootstrap")
    if binary is None:
        raise ImageError(
            "base: debootstrap is not installed (the base image is made from a Debian mirror with it)",
            hint="apt-get install debootstrap",
        )
    if os.geteuid() != 0:
        raise ImageError(
            "base: debootstrap must run as root (it creates device nodes and chowns files), "
            f"and the root filesystem is not cached yet under {rootfs_dir()}",
            hint="run `sudo edge-harness images build base` once; later builds reuse the cached tarball",
        )
    return binary


def debootstrap_command(binary: str, target: Path, mirror: str) -> list[str]:
    return [
        binary,
        f"--variant={VARIANT}",
        f"--include={','.join(INCLUDE)}",
        SUITE,
        str(target),
        mirror,
    ]


def tarball_path(spec: ImageSpec) -> Path:
    return rootfs_dir() / f"{SUITE}-{VARIANT}-{spec.digest[:12]}.tar"


def make_rootfs_tarball(spec: ImageSpec, log: BuildLog, *, fresh: bool = False) -> Path:
    """The cached tarball of the base's root filesystem; runs debootstrap if missing or ``fresh``."""
    path = tarball_path(spec)
    if path.is_file() and not fresh:
        log.write(f"reusing the root filesystem {path}")
        return path
    binary = require_debootstrap()
    mirror = spec.inputs["mirror"]
    rootfs_dir().mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="debootstrap-", dir=rootfs_dir()))
    try:
        target = work / "rootfs"
        status = log.run(debootstrap_command(binary, target, mirror))
        if status != 0:
            if is_disk_full(log.tail()):
                raise OSError(errno.ENOSPC, "debootstrap: no space left on device")
            raise ImageError(
                f"base: debootstrap failed (exit status {status})\n{log.tail()}\nfull log: {log.path}",
                hint=f"check that the mirror answers (curl -sI {mirror}/dists/{SUITE}/Release) or choose "
                "another with --mirror / EDGE_HARNESS_DEBIAN_MIRROR",
            )
        for relative, content in ROOTFS_FILES.items():
            file = target / relative
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_text(content, encoding="utf-8")
            if relative.startswith(("usr/sbin/", "usr/bin/")):
                file.chmod(0o755)
        # Package indexes and downloaded .debs: image builds run apt-get update when they need one.
        for leftovers in (target / "var/lib/apt/lists", target / "var/cache/apt/archives"):
            for entry in leftovers.glob("*"):
                if entry.is_file() and entry.name not in ("lock",):
                    entry.unlink()
        partial = path.with_suffix(".tar.partial")
        status = log.run(["tar", "--numeric-owner", "-C", str(target), "-cf", str(partial), "."])
        if status != 0:
            if is_disk_full(log.tail()):
                raise OSError(errno.ENOSPC, "tar: no space left on device")
            raise ImageError(
                f"base: packing the root filesystem failed\n{log.tail()}\nfull log: {log.path}",
                hint="see the log",
            )
        partial.replace(path)
    except OSError as err:
        if err.errno == errno.ENOSPC:
            raise
        raise ImageError(f"base: making the root filesystem failed: {err}", hint=f"see {log.path}") from err
    finally:
        shutil.rmtree(work, ignore_errors=True)
        path.with_suffix(".tar.partial").unlink(missing_ok=True)
    log.write(f"root filesystem packed into {path} ({path.stat().st_size / 1e6:.0f} MB)")
    return path


def import_base(client: docker.DockerClient, spec: ImageSpec, tarball: Path, log: BuildLog) -> None:
    """``docker import`` the tarball as ``spec.tag`` with the base's configuration and labels."""
    repository, tag = spec.tag.rsplit(":", 1)
    changes = [*BASE_CHANGES, *(f"LABEL {key}={value}" for key, value in spec.labels.items())]
    log.write(f"importing {tarball} as {spec.tag}")
    result = client.api.import_image_from_file(str(tarball), repository=repository, tag=tag, changes=changes)
    log.write(str(result))
    if inspect_image(client, spec.tag) is None:
        raise ImageError(f"base: docker import failed: {result}", hint=f"see {log.path}")
