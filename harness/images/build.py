"""Building the images: each only when its tag is missing from the engine (or when forced).

Order: base → runtime (through runtime-deps) → triton, aws, device; kafka on its own. Builds use
the docker SDK and the engine's classic builder with a temporary context holding the Dockerfile
from ``harness/images/dockerfiles/`` and what it copies. Everything a build prints goes to a log
file under the cache; failures quote the failing step and the log's last lines.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.images.buildlog import BuildLog, ImageEvent
from harness.images.cache import build_lock, images_cache, logs_dir, scratch_dir
from harness.images.engine import connect, docker_root, inspect_image
from harness.images.errors import ImageError, disk_full_error, is_disk_full
from harness.images.rootfs import import_base, make_rootfs_tarball
from harness.images.spec import (
    DEPENDENCIES_IMAGE,
    DEPENDENCIES_INSTALL,
    MIRROR_VARIABLE,
    OVERRIDE_PREFIX,
    WHEELHOUSE_MOUNT,
    ImagePlan,
    ImageSpec,
    check_names,
    closure,
    dockerfile_text,
    override,
    tansu_binary,
)
from harness.images.wheelhouse import dependencies_wheelhouse, project_wheel

if TYPE_CHECKING:
    import docker

_STEP = re.compile(r"^Step \d+/\d+ : (?P<instruction>.*)$")
#: how long the dependency install may run (pip installing ~120 wheels takes a minute or two)
DEPENDENCIES_TIMEOUT = 1800


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


class ImageBuilder:
    """Builds what is missing for one :class:`ImagePlan` on one engine."""

    def __init__(
        self,
        client: docker.DockerClient,
        plan: ImagePlan,
        emit: Callable[[ImageEvent], None],
    ) -> None:
        self.client = client
        self.plan = plan
        self._emit = emit

    # -- the one entry point ---------------------------------------------------------------------
    def ensure(self, name: str, *, force: bool = False) -> str:
        """Make sure image ``name`` exists (building it if missing or ``force``); return its ref."""
        replacement = override(name)
        if replacement is not None:
            if inspect_image(self.client, replacement) is None:
                variable = OVERRIDE_PREFIX + name.upper()
                raise ImageError(
                    f"{name}: {variable} names {replacement}, which the Docker engine does not have",
                    hint=f"docker pull or docker load {replacement}, or unset {variable} to build "
                    "edge-harness's own",
                )
            self._emit(ImageEvent(name, "up to date", replacement))
            return replacement
        spec = self.plan.spec(name)
        with build_lock(name):
            if not force and inspect_image(self.client, spec.tag) is not None:
                self._emit(ImageEvent(name, "up to date", spec.tag))
                return spec.tag
            self._emit(ImageEvent(name, "building", spec.tag))
            started = time.monotonic()
            path = logs_dir() / f"{name}-{spec.digest[:12]}.log"
            with BuildLog(path, lambda line: self._emit(ImageEvent(name, "log", spec.tag, line=line))) as log:
                try:
                    getattr(self, "_build_" + name)(spec, log, force)
                except OSError as err:
                    if err.errno == errno.ENOSPC:
                        raise self._disk_full(name, log) from err
                    raise
                if inspect_image(self.client, spec.tag) is None:
                    raise ImageError(
                        f"{name}: the build finished but the engine has no {spec.tag}\n{log.tail()}",
                        hint=f"see the full log: {log.path}",
                    )
            self._emit(ImageEvent(name, "built", spec.tag, seconds=time.monotonic() - started))
            return spec.tag

    # -- one method per image ------------------------------------------------------------------
    def _build_base(self, spec: ImageSpec, log: BuildLog, force: bool) -> None:
        tarball = make_rootfs_tarball(spec, log, fresh=force)
        import_base(self.client, spec, tarball, log)

    def _build_runtime(self, spec: ImageSpec, log: BuildLog, force: bool) -> None:
        dependencies = self._ensure_dependencies(log, force)
        with build_context("runtime") as context:
            project_wheel(self.plan.project_root, context / "project", log)
            self._docker_build("runtime", spec, context, {"DEPENDENCIES_IMAGE": dependencies}, log, force)

    def _build_kafka(self, spec: ImageSpec, log: BuildLog, force: bool) -> None:
        with build_context("kafka") as context:
            _link_or_copy(tansu_binary(), context / "tansu")
            self._docker_build("kafka", spec, context, {}, log, force)

    def _on_runtime(self, name: str, spec: ImageSpec, log: BuildLog, force: bool) -> None:
        with build_context(name) as context:
            self._docker_build(name, spec, context, {"RUNTIME_IMAGE": self.plan.ref("runtime")}, log, force)

    def _build_triton(self, spec: ImageSpec, log: BuildLog, force: bool) -> None:
        self._on_runtime("triton", spec, log, force)

    def _build_aws(self, spec: ImageSpec, log: BuildLog, force: bool) -> None:
        self._on_runtime("aws", spec, log, force)

    def _build_device(self, spec: ImageSpec, log: BuildLog, force: bool) -> None:
        self._on_runtime("device", spec, log, force)

    # -- the dependencies image -------------------------------------------------------------------
    def _ensure_dependencies(self, log: BuildLog, force: bool) -> str:
        """``edge-harness/runtime-deps:<tag>``: the base plus a venv holding every dependency.

        Made by running pip in a container with the host's wheelhouse bind-mounted read-only and
        committing it: the classic builder has no build-time mounts, and a COPY of the wheels would
        stay in a layer (or in a dangling multi-stage image) as ~330 MB of dead weight.
        """
        spec = self.plan.spec(DEPENDENCIES_IMAGE)
        if not force and inspect_image(self.client, spec.tag) is not None:
            log.write(f"reusing {spec.tag}")
            return spec.tag
        house = dependencies_wheelhouse(self.plan.project_root, log)
        base = self.plan.ref("base")
        from docker.errors import APIError, NotFound
        from docker.types import Mount

        name = f"edge-harness-build-{spec.digest[:12]}"
        with contextlib.suppress(NotFound):  # left over from an interrupted build
            self.client.containers.get(name).remove(force=True)
        log.write(f"$ docker run -v {house}:{WHEELHOUSE_MOUNT}:ro {base} sh -c '{DEPENDENCIES_INSTALL}'")
        # Only host settings (a mount, no network): what goes into the container's Config (volumes=,
        # network_disabled=) would be committed into the image and inherited by every image on it.
        container = self.client.containers.create(
            base,
            command=["/bin/sh", "-c", DEPENDENCIES_INSTALL],
            name=name,
            mounts=[Mount(WHEELHOUSE_MOUNT, str(house), type="bind", read_only=True)],
            network_mode="none",
        )
        try:
            container.start()
            pending = ""  # chunks end anywhere, lines are logged whole
            for chunk in container.logs(stream=True, follow=True):
                pending += chunk.decode("utf-8", "replace")
                complete, _, pending = pending.rpartition("\n")
                log.write(complete)
            log.write(pending)
            status = container.wait(timeout=DEPENDENCIES_TIMEOUT).get("StatusCode", 1)
            if status != 0:
                if is_disk_full(log.tail()):
                    raise self._disk_full("runtime", log)
                raise ImageError(
                    f"runtime: installing the dependencies into {spec.tag} failed (exit status {status}):\n"
                    f"{log.tail()}\nfull log: {log.path}",
                    hint=f"the wheelhouse {house} may be incomplete: remove it and build again",
                )
            repository, tag = spec.tag.rsplit(":", 1)
            changes = ['CMD ["/bin/bash"]', *(f"LABEL {k}={v}" for k, v in spec.labels.items())]
            container.commit(repository, tag, changes=changes)
        except APIError as err:
            if is_disk_full(str(err)):
                raise self._disk_full("runtime", log) from err
            raise ImageError(f"runtime: {err}", hint=f"see {log.path}") from err
        finally:
            container.remove(force=True)
        log.write(f"committed {spec.tag}")
        return spec.tag

    # -- docker build ------------------------------------------------------------------------------
    def _docker_build(
        self,
        name: str,
        spec: ImageSpec,
        context: Path,
        buildargs: dict[str, str],
        log: BuildLog,
        nocache: bool,
    ) -> None:
        (context / "Dockerfile").write_text(dockerfile_text(name), encoding="utf-8")
        from docker.errors import APIError, BuildError

        step, error = "", ""
        try:
            stream = self.client.api.build(
                path=str(context),
                tag=spec.tag,
                labels=spec.labels,
                buildargs=buildargs,
                rm=True,
                forcerm=True,
                pull=False,
                nocache=nocache,
                decode=True,
            )
            for chunk in stream:
                text = _chunk_text(chunk)
                if text:
                    log.write(text)
                    for line in text.splitlines():
                        match = _STEP.match(line.strip())
                        if match:
                            step = match.group("instruction")
                if "error" in chunk:
                    error = str(chunk.get("error", "")).strip()
        except (APIError, BuildError) as err:
            error = str(err)
        if not error:
            return
        if is_disk_full(error) or is_disk_full(log.tail()):
            raise self._disk_full(name, log, step)
        where = f" at step `{step}`" if step else ""
        hint = f"fix it, then run: edge-harness images build {name}"
        if "apt-get" in step:
            mirror = self.plan.mirror
            hint = (
                f"apt-get failed inside the build: containers must reach the Debian mirror {mirror} "
                f"(try: docker run --rm {self.plan.ref('base')} apt-get update), or choose another with "
                f"{MIRROR_VARIABLE} / --mirror"
            )
            error = f"apt-get failed: {error}"
        raise ImageError(
            f"{name}: the image build failed{where}: {error}\n"
            f"--- last lines of the build log ---\n{log.tail()}\nfull log: {log.path}",
            hint=hint,
        )

    def _disk_full(self, name: str, log: BuildLog, step: str = "") -> ImageError:
        detail = (f"failing step: {step}\n" if step else "") + f"full log: {log.path}"
        return disk_full_error(name, images_cache(), docker_root(self.client), detail)


def _chunk_text(chunk: dict[str, Any]) -> str:
    if "stream" in chunk:
        return str(chunk["stream"])
    if "status" in chunk:
        return " ".join(str(chunk[k]) for k in ("id", "status", "progress") if chunk.get(k))
    if "error" in chunk:
        return str(chunk["error"])
    return ""


@contextlib.contextmanager
def build_context(name: str) -> Iterator[Path]:
    """A temporary build context folder in the cache (so wheels and binaries hard-link), removed after."""
    scratch_dir().mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=f"context-{name}-", dir=scratch_dir()))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def ensure_images(
    names: Iterable[str],
    *,
    progress: Callable[[str], None] | None = None,
    force: bool = False,
    mirror: str | None = None,
    project_root: Path | None = None,
    events: Callable[[ImageEvent], None] | None = None,
) -> dict[str, str]:
    """Build the images ``names`` that are missing (and their missing parents); return name → ref.

    ``progress`` gets one line per state change ("triton: up to date edge-harness/triton:…",
    "triton: built … in 12 s"); ``events`` gets every :class:`ImageEvent`, build-log lines
    included. ``force`` rebuilds the named images (not their parents) even if present; for the
    base that means a fresh debootstrap. ``mirror`` is the Debian mirror (default
    ``$EDGE_HARNESS_DEBIAN_MIRROR`` or deb.debian.org); it is part of the base's inputs, so it
    changes every tag.
    """
    wanted = list(dict.fromkeys(names))
    check_names(wanted)
    plan = ImagePlan(project_root=project_root, mirror=mirror)
    order = closure(wanted)
    # Compute every tag first: a missing tansu or source checkout fails before anything is built.
    for name in order:
        plan.ref(name)

    def emit(event: ImageEvent) -> None:
        if events is not None:
            events(event)
        if progress is not None and event.kind != "log":
            progress(str(event))

    builder = ImageBuilder(connect(), plan, emit)
    refs = {name: builder.ensure(name, force=force and name in wanted) for name in order}
    return {name: refs[name] for name in wanted}
