"""``--target sim``: the emulated services and simulated core devices, as processes or containers.

The runtime (``process``, the default, or ``docker``) says how they run on this host
(:mod:`harness.scenario.backends`); either way the devices reach only the services the harness
started, and their roots are folders here, so their logs are read directly. What differs by
runtime is one capability: a device process shares the host's network, so only a container can
be cut off it (``partition_device``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import HarnessError
from harness.targets.capabilities import Capability, CoreDevice
from harness.targets.local_logs import LocalLogs
from harness.targets.target import Progress, TargetServices

if TYPE_CHECKING:
    from harness.scenario import model as m

__all__ = ["RUNTIMES", "SimDevice", "SimTarget", "sim_capabilities"]

RUNTIMES = ("process", "docker")

_COMMON = frozenset(
    {
        Capability.LOGS,
        Capability.POWER,
        Capability.PAUSE,
        Capability.EMULATED_AWS,
        Capability.TRITON,
        Capability.IOT_CORE,
    }
)


def sim_capabilities(runtime: str, *, external_kafka: bool = False) -> frozenset[Capability]:
    """What the simulated target can do with this runtime (and a broker it runs or not)."""
    found = set(_COMMON)
    if runtime == "docker":
        found.add(Capability.PARTITION)
    if not external_kafka:
        found.add(Capability.OWN_KAFKA)
    return frozenset(found)


class SimDevice:
    """A simulated core device (a process or a container) seen through the capability protocols.

    ``inner`` is a :class:`~harness.scenario.devices.SimulatedDevice` or a
    :class:`~harness.services.containers.device.DeviceContainer`; both keep their root here.
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.logs = LocalLogs(Path(inner.root) / "logs")

    # -- CoreDevice ------------------------------------------------------------------------
    @property
    def thing(self) -> str:
        return str(self.inner.thing)

    @property
    def group(self) -> str:
        return str(self.inner.group)

    @property
    def root(self) -> Path:
        return Path(self.inner.root)

    @property
    def starts(self) -> int:
        return int(self.inner.starts)

    @property
    def paused(self) -> bool:
        return bool(getattr(self.inner, "paused", False))

    def start(self) -> None:
        self.inner.start()

    def wait_booted(self, timeout: float = 60.0) -> None:
        self.inner.wait_booted(timeout)

    def stop(self) -> None:
        self.inner.stop()

    def exit_status(self) -> str | None:
        exited = getattr(self.inner, "exit_status", None)
        return exited() if callable(exited) else None

    def process_log_tail(self, lines: int = 30) -> str:
        return str(self.inner.process_log_tail(lines))

    # -- logs ------------------------------------------------------------------------------
    def component_log(self, component: str) -> Path:
        """The component's log file (the failure causes read its last error lines)."""
        return self.logs.path(component)

    def log_sizes(self) -> dict[str, int]:
        return self.logs.log_sizes()

    def read_log(self, name: str, offset: int = 0) -> bytes:
        return self.logs.read_log(name, offset)

    def log_location(self, name: str) -> str:
        return self.logs.log_location(name)

    # -- faults ----------------------------------------------------------------------------
    def kill(self) -> None:
        self.inner.kill()

    def pause(self) -> None:
        self.inner.pause()

    def resume(self) -> None:
        self.inner.resume()

    def disconnect(self, for_s: float) -> None:
        self.inner.disconnect()

    def reconnect(self) -> None:
        self.inner.reconnect()


class SimTarget:
    """The simulated target (see the module docstring)."""

    name = "sim"

    def __init__(
        self,
        scenario: m.Scenario,
        work: Path,
        *,
        runtime: str = "process",
        kafka_bootstrap: str | None = None,
    ) -> None:
        if runtime not in RUNTIMES:
            raise HarnessError(f"unknown backend {runtime!r}", hint=f"use one of: {', '.join(RUNTIMES)}")
        self.scenario = scenario
        self.work = work
        self.runtime = runtime
        self.external_kafka = kafka_bootstrap or scenario.services.kafka_external
        self._backend: Any = None

    @property
    def capabilities(self) -> frozenset[Capability]:
        return sim_capabilities(self.runtime, external_kafka=bool(self.external_kafka))

    def start_services(self, stack: contextlib.ExitStack, progress: Progress) -> TargetServices:
        from harness.scenario.backends import make_backend
        from harness.services.kafka import ExternalKafka

        services = self.scenario.services
        progress(f"starting the AWS endpoint and the Kafka broker ({self.runtime})")
        backend = make_backend(self.runtime, services.images, services.image_policy)
        self._backend = backend
        stack.callback(backend.close)  # last: after every service and device stopped
        aws = stack.enter_context(backend.aws(enforce=services.aws_enforce))
        kafka = stack.enter_context(
            ExternalKafka(self.external_kafka) if self.external_kafka else backend.kafka()
        )
        started = TargetServices(client=aws.client, kafka=kafka, aws=aws)
        if services.triton is not None:
            progress(f"starting Triton ({self.runtime})")
            started.triton = stack.enter_context(backend.triton(services.triton.models))
            started.values.update(
                {f"triton.{name}": backend.device_endpoint(started.triton, name) for name in ("grpc", "http")}
            )
        # IoT Core's MQTT endpoint: a broker the devices reach (127.0.0.1 for processes, its session
        # address for containers) and the harness reads on 127.0.0.1 (expect_iot_core)
        progress(f"starting the IoT Core MQTT broker ({self.runtime})")
        started.iot_core = stack.enter_context(backend.iot_core())
        return started

    def devices(
        self,
        stack: contextlib.ExitStack,
        services: TargetServices,
        values: Mapping[str, str],
        environment: Mapping[str, str],
    ) -> dict[str, CoreDevice]:
        """The simulated devices, not started yet. The scenario's ``${free_port.*}`` ports (the
        app's RTSP port, …) are published on 127.0.0.1 by the first device of a docker run, so
        URLs such as ``rtsp://127.0.0.1:${free_port.rtsp}/…`` mean the same on both runtimes."""
        assert self._backend is not None, "start_services comes first"
        ports = sorted(int(v) for k, v in values.items() if k.startswith("free_port."))
        devices: dict[str, CoreDevice] = {}
        for spec in self.scenario.devices:
            for thing in spec.things:
                inner = self._backend.device(
                    thing=thing,
                    group=spec.thing_group,
                    profile=spec.profile,
                    root=self.work / "devices" / thing,
                    aws=services.aws,
                    environment=environment,
                    publish=ports if not devices else (),
                    iot_core=services.iot_core,
                )
                stack.callback(inner.stop)
                devices[thing] = SimDevice(inner)
        return devices

    def boot(self, devices: Mapping[str, CoreDevice], progress: Progress) -> None:
        progress(f"booting {len(devices)} simulated core device(s)")
        for device in devices.values():
            device.start()
        for device in devices.values():
            device.wait_booted()

    def finish(self, devices: Mapping[str, CoreDevice]) -> dict[str, Any]:
        return {}
