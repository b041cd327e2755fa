"""What a target's core devices and services can do, each as a small protocol.

A scenario step asks for a capability (``assert_logs`` reads device logs, ``inject
kill_device`` cuts a device's power); a target says which ones it has. The runner only calls a
device through these protocols, so a simulated device, a container and a lab Jetson reached over
SSH are the same to it; what a target lacks is refused when the scenario is loaded for that
target (:mod:`harness.scenario.requirements`), not halfway through a run.

The protocols are ``runtime_checkable`` so a device's capabilities can also be asked at run time
(``isinstance(device, CanPowerCycle)``), and mypy checks each implementation against them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, runtime_checkable

__all__ = [
    "CanControlComponents",
    "CanPartition",
    "CanPause",
    "CanPowerCycle",
    "Capability",
    "ComponentState",
    "CoreDevice",
    "HasComponentStates",
    "HasLogs",
    "HasResourceSamples",
    "ResourceSample",
]


class Capability(StrEnum):
    """One thing a scenario may need from its target; the value is how messages name it."""

    #: the nucleus's and the components' log files (assert_logs, inject after_log, FPS/latency)
    LOGS = "device logs"
    #: component states as the device itself sees them (greengrass-cli component list)
    COMPONENT_STATES = "component states"
    #: restart or stop one component on the device (greengrass-cli component restart/stop)
    COMPONENT_CONTROL = "component restart/stop"
    #: cut a device's power and give it back (kill_device, restart_device)
    POWER = "power cut"
    #: freeze a device and let it carry on (pause_device)
    PAUSE = "device pause"
    #: cut a device off the network and restore it (partition_device)
    PARTITION = "network partition"
    #: CPU, GPU, memory and temperature samples of the device (tegrastats)
    RESOURCES = "resource samples"
    #: an AWS endpoint the harness runs (s3_outage, aws service faults)
    EMULATED_AWS = "emulated AWS endpoint"
    #: a Kafka broker the harness runs (kafka service faults)
    OWN_KAFKA = "Kafka broker run by the harness"
    #: a Triton server the harness runs and the devices reach (services.triton, triton faults)
    TRITON = "Triton server run by the harness"
    #: an IoT Core MQTT endpoint the harness runs, reads and the devices reach (expect_iot_core)
    IOT_CORE = "IoT Core MQTT broker run by the harness"


@dataclass(frozen=True)
class ComponentState:
    """One component as the device lists it."""

    name: str
    version: str
    state: str


@dataclass(frozen=True)
class ResourceSample:
    """One resource reading of a device (a tegrastats line); None where the line lacks it."""

    time: float  # epoch seconds, as the harness received it
    device: str
    cpu_percent: float | None = None  # mean over the cores that are on
    gpu_percent: float | None = None
    ram_used_mb: float | None = None
    ram_total_mb: float | None = None
    temperature_c: dict[str, float] = field(default_factory=dict)  # zone → °C


@runtime_checkable
class CoreDevice(Protocol):
    """What every target's devices have: a thing name and group, and a life the target runs."""

    @property
    def thing(self) -> str: ...

    @property
    def group(self) -> str: ...

    def start(self) -> None:
        """Start the device if the harness runs it (a real device runs on its own)."""

    def wait_booted(self, timeout: float = 60.0) -> None:
        """Return once the device's nucleus is up; HarnessError after ``timeout``."""

    def stop(self) -> None:
        """Stop what the harness started for the device; safe to call twice."""

    def exit_status(self) -> str | None:
        """Why the device is down although nothing stopped it, or None."""


@runtime_checkable
class HasLogs(Protocol):
    """The device's Greengrass logs: ``greengrass`` (the nucleus) or a component's name.

    Offsets are bytes, so a step can read only what was written after it started, wherever the
    file is (a local folder, a container's bind mount, a Jetson over SSH).
    """

    def log_sizes(self) -> dict[str, int]:
        """The logs the device has now (file names without ``.log``) and their sizes in bytes."""

    def read_log(self, name: str, offset: int = 0) -> bytes:
        """The log from byte ``offset`` on; empty when it does not exist."""

    def log_location(self, name: str) -> str:
        """Where the log is, for messages (a path, or host:path)."""


@runtime_checkable
class HasComponentStates(Protocol):
    def component_states(self) -> list[ComponentState]:
        """Every component the device runs, with its version and lifecycle state."""


@runtime_checkable
class CanControlComponents(Protocol):
    def restart_component(self, name: str) -> None: ...

    def stop_component(self, name: str) -> None: ...


@runtime_checkable
class CanPowerCycle(Protocol):
    """Cut the power (nothing is flushed, nothing shut down) and switch it on again."""

    @property
    def starts(self) -> int:
        """How often the device was switched on by the harness."""

    def kill(self) -> None:
        """Power off now."""

    def start(self) -> None:
        """Power on (boot); :meth:`CoreDevice.wait_booted` waits for the nucleus."""


@runtime_checkable
class CanPause(Protocol):
    def pause(self) -> None: ...

    def resume(self) -> None: ...


@runtime_checkable
class CanPartition(Protocol):
    def disconnect(self, for_s: float) -> None:
        """Cut the device off the network; ``for_s`` is how long the fault should last, which a
        device that cannot be reached while cut off uses to restore its link by itself."""

    def reconnect(self) -> None:
        """Restore the link (or wait until it is back) and return once the device is reachable."""


@runtime_checkable
class HasResourceSamples(Protocol):
    def resource_samples(self) -> list[ResourceSample]:
        """The samples taken since the device was booted (or since the last call)."""
