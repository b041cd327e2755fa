"""Running a service in a container instead of a local process, behind the same interface.

:class:`ContainerRunner` is mixed in before a process service class (``class KafkaContainer(
ContainerRunner, KafkaBroker)``): the service keeps its clients, its readiness probe and its smoke
check, and only its life cycle changes — a testcontainers ``DockerContainer`` on the session
network, ports published on 127.0.0.1 at host ports chosen here (so they survive a restart), the
container's output copied into the service's log file, and the faults a scenario injects (pause,
kill, restart) done to the container.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from harness.services.base import LOOPBACK, Service, ServiceError, log_tail
from harness.services.containers.session import ContainerSession
from harness.services.workdirs import OwnedFolder

if TYPE_CHECKING:
    from testcontainers.core.container import DockerContainer

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 5


def follow_logs(container: Any, path: Path, since: float | None, *, name: str) -> threading.Thread:
    """A daemon thread that appends the container's output (from ``since``, else all of it) to
    ``path`` until the container stops; after a restart, start another one from the restart."""

    def copy() -> None:
        with contextlib.suppress(Exception), path.open("ab") as fh:
            kwargs: dict[str, Any] = {"stream": True, "follow": True}
            if since is not None:
                kwargs["since"] = int(since)
            for chunk in container.logs(**kwargs):
                fh.write(chunk)
                fh.flush()

    thread = threading.Thread(target=copy, name=name, daemon=True)
    thread.start()
    return thread


def _probe_wait_strategy(service: ContainerRunner, timeout: float) -> Any:
    """A testcontainers wait strategy that asks the service's own readiness probe.

    The probe is the one the process backend uses (Triton's strict readiness, the AWS endpoint's
    health route echoing its instance id, Kafka metadata with the broker's cluster id), so "ready"
    means the same on both backends. A container that exits while starting fails at once.
    """
    from testcontainers.core.wait_strategies import WaitStrategy

    class ProbeWaitStrategy(WaitStrategy):
        def wait_until_ready(self, container: Any) -> None:
            deadline = time.monotonic() + timeout
            delay = 0.05
            while True:
                wrapped = container.get_wrapped_container()
                wrapped.reload()
                if wrapped.status in ("exited", "dead"):
                    code = wrapped.attrs.get("State", {}).get("ExitCode")
                    raise service.container_failure(f"exited with code {code} before it was ready")
                if service.probe_ready():
                    return
                if time.monotonic() > deadline:
                    raise service.container_failure(f"not ready after {timeout:.0f} s")
                time.sleep(delay)
                delay = min(delay * 1.5, 0.5)

    return ProbeWaitStrategy()


class ContainerRunner(Service):
    """Life cycle of a service as a container; mix in before the process service class."""

    #: which image of :mod:`harness.images` runs the service
    image_name: str = ""

    def __init__(
        self,
        *args: Any,
        session: ContainerSession,
        image: str | None = None,
        image_policy: str | None = None,
        **kwargs: Any,
    ) -> None:
        """``image``: run this image (a scenario's ``services.images.<name>``); ``image_policy``:
        auto / upstream / built when none is named (:func:`harness.images.choice.choose_image`)."""
        self.session = session
        self.image_request = image
        self.image_policy = image_policy
        #: how the chosen image is started: "edge-harness" (the harness's entry points) or
        #: "upstream" (the project's own image: Triton's or Kafka's command line and settings)
        self.flavour = "edge-harness"
        self.container: DockerContainer | None = None
        self._follower: threading.Thread | None = None
        super().__init__(*args, **kwargs)

    def choose_image(self) -> str:
        """Pick the image (see :mod:`harness.images.choice`), note its flavour, return its ref."""
        from harness.images.choice import choose_image

        choice = choose_image(
            self.image_name,
            self.image_request,
            policy=self.image_policy,
            client=self.session.client,
            progress=log.info,
        )
        self.flavour = choice.flavour
        log.info("%s: image %s (%s)", self.name, choice.ref, choice.reason)
        return choice.ref

    # -- hooks -----------------------------------------------------------------------------
    def container_command(self) -> list[str]:
        """Arguments after the image's entry point."""
        return []

    def container_ports(self) -> dict[int, int]:
        """Container port → host port on 127.0.0.1."""
        return {}

    def container_environment(self) -> dict[str, str]:
        return {}

    def container_volumes(self) -> list[tuple[str, str, str]]:
        """(host path, container path, mode) bind mounts."""
        return []

    def container_options(self) -> dict[str, Any]:
        """Extra ``docker create`` options (shm_size, resource limits, …)."""
        return {}

    @property
    def address(self) -> str:
        """The service's fixed address on the session network."""
        return self.session.address(self.name)

    def network_endpoints(self) -> dict[str, str]:
        """Endpoints as seen from other containers on the session network."""
        return {}

    # -- life cycle ------------------------------------------------------------------------
    @property
    def log_path(self) -> Path | None:
        return getattr(self, "_log_file", None)

    def start(self) -> Self:
        if self._started:
            return self
        from docker.types import EndpointConfig
        from testcontainers.core.container import DockerContainer

        own = getattr(self, "_own_workdir", True)
        workdir = getattr(self, "workdir", None)
        if own or workdir is None:
            # locked while this process lives: a later run removes it if this one is SIGKILLed
            self._owned_workdir = OwnedFolder.create(f"edge-harness-{self.name}-")
            self.workdir = self._owned_workdir.path
            self._own_workdir = True
        else:
            self.workdir.mkdir(parents=True, exist_ok=True)
        self._log_file = self.workdir / f"{self.name}.log"
        try:
            image = self.choose_image()  # first: how the service is prepared depends on it
            self.prepare()  # type: ignore[attr-defined]
            self.allocate_ports()  # type: ignore[attr-defined]
            container = DockerContainer(
                image,
                command=self.container_command(),
                env=self.container_environment(),
                name=f"edge-harness-{self.session.id}-{self.name}",
            )
            for container_port, host_port in self.container_ports().items():
                container.ports[f"{container_port}/tcp"] = (LOOPBACK, host_port)  # type: ignore[assignment]
            for host_path, container_path, mode in self.container_volumes():
                container.with_volume_mapping(host_path, container_path, mode)
            network = self.session.network_name
            container.with_kwargs(
                hostname=self.name,
                labels=self.session.labels_for(self.name),
                network=network,
                networking_config={
                    network: EndpointConfig(
                        self.session.client.api.api_version, aliases=[self.name], ipv4_address=self.address
                    )
                },
                **self.container_options(),
            )
            container.waiting_for(_probe_wait_strategy(self, self.startup_timeout))
            self.container = container
            self._log_file.write_text(f"--- edge-harness: {image} {' '.join(self.container_command())}\n")
            try:
                container.start()
            finally:
                if container._container is not None:
                    self._follow_logs()
        except BaseException:
            self._remove()
            with contextlib.suppress(Exception):
                self.cleanup()  # type: ignore[attr-defined]
            raise
        self._started = True
        log.info("%s: ready in container %s %s", self.name, container.get_wrapped_container().short_id,
                 self.endpoints)  # fmt: skip
        return self

    def stop(self) -> None:
        self._remove()
        with contextlib.suppress(Exception):
            self.cleanup()  # type: ignore[attr-defined]
        self._started = False
        owned = getattr(self, "_owned_workdir", None)
        if owned is not None:
            import os

            if os.environ.get("EDGE_HARNESS_KEEP_WORKDIR"):
                owned.keep()
            else:
                owned.remove()
            self._owned_workdir = None

    def _remove(self) -> None:
        container = self.container
        if container is None:
            return
        self.container = None
        wrapped = container._container
        if wrapped is not None:
            with contextlib.suppress(Exception):
                wrapped.stop(timeout=STOP_TIMEOUT_S)
            self._join_follower()
            with contextlib.suppress(Exception):
                wrapped.remove(force=True, v=True)

    # -- faults ----------------------------------------------------------------------------
    def _wrapped(self) -> Any:
        if self.container is None or self.container._container is None:
            raise ServiceError(f"{self.name}: not running in a container")
        return self.container.get_wrapped_container()

    def pause(self) -> None:
        """Freeze every process of the container (docker pause): connections hang, nothing answers."""
        self._wrapped().pause()

    def resume(self) -> None:
        self._wrapped().unpause()

    def kill(self) -> None:
        """SIGKILL the container (it stays, with its configuration, for :meth:`restart`)."""
        wrapped = self._wrapped()
        wrapped.reload()
        if wrapped.status == "paused":
            wrapped.unpause()
        if wrapped.status in ("running", "paused", "restarting"):
            wrapped.kill()
        wrapped.wait(timeout=30)
        self._join_follower()

    def halt(self) -> None:
        """Stop the container gracefully (SIGTERM, then SIGKILL), keeping it for :meth:`restart`."""
        wrapped = self._wrapped()
        wrapped.stop(timeout=STOP_TIMEOUT_S)
        self._join_follower()

    def restart(self) -> None:
        """Start the stopped or killed container again, on the same address and host ports."""
        wrapped = self._wrapped()
        wrapped.reload()
        if wrapped.status == "paused":
            wrapped.unpause()
            return
        if wrapped.status != "running":
            self._append_log("--- edge-harness: restarting the container\n")
            wrapped.start()
            self._follow_logs(since=time.time() - 1)
        strategy = _probe_wait_strategy(self, self.startup_timeout)
        assert self.container is not None
        strategy.wait_until_ready(self.container)

    # -- logs ------------------------------------------------------------------------------
    def _append_log(self, text: str) -> None:
        if self.log_path is not None:
            with self.log_path.open("a") as fh:
                fh.write(text)

    def _follow_logs(self, since: float | None = None) -> None:
        """Copy the container's output into the log file until the container stops."""
        assert self.log_path is not None
        self._join_follower()
        self._follower = follow_logs(self._wrapped(), self.log_path, since, name=f"{self.name}-logs")

    def _join_follower(self) -> None:
        follower = self._follower
        if follower is not None and follower is not threading.current_thread():
            follower.join(timeout=5)
        self._follower = None

    def container_failure(self, what: str) -> ServiceError:
        """A start failure with the container's log tail, as the process backend reports one."""
        with contextlib.suppress(Exception):
            if self.container is not None and self.container._container is not None and self.log_path:
                text = self.container._container.logs().decode(errors="replace")
                self.log_path.write_text(text)
        tail = log_tail(self.log_path)
        message = f"{self.name} container {what}; log {self.log_path}"
        if tail:
            message += ":\n" + "\n".join("  | " + line for line in tail.splitlines())
        return ServiceError(message, hint=getattr(self, "start_hint", lambda: None)())
