"""The :class:`Target` protocol: where a scenario's services and core devices come from.

A target is chosen on the command line (``--target sim|aws|lab``), never in the scenario file:
the same file runs on the simulator, on real AWS with devices the user registered, and on lab
Jetsons. The runner asks its target for the services (an AWS API to call, a Kafka broker, maybe
Triton), for the devices (one per thing of the scenario) and to boot them; everything else the
runner does — publishing, deploying, reading Kafka, checking — is the same on every target.

What a target can do is a set of :class:`~harness.targets.capabilities.Capability`; a scenario
that needs one its target lacks is refused when it is loaded for that target.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from harness.targets.capabilities import Capability, CoreDevice

__all__ = ["Progress", "Target", "TargetServices"]

#: a line of progress for the user
Progress = Callable[[str], None]


@dataclass
class TargetServices:
    """The services of one run.

    ``aws`` is the AWS endpoint the harness runs (None: real AWS); ``client`` makes boto3
    clients for whichever it is. ``kafka`` is a Kafka client service (started here or external).
    ``values`` are the ``${…}`` values the target adds (``triton.grpc`` …). ``faultable`` maps
    the names an ``inject`` step uses (aws, kafka, triton) to the service it acts on — None where
    the harness does not run it (real AWS).
    """

    client: Callable[..., Any]
    kafka: Any
    aws: Any | None = None
    triton: Any | None = None
    #: the MQTT broker standing in for IoT Core (None: the target's own IoT Core, not readable)
    iot_core: Any | None = None
    values: dict[str, str] = field(default_factory=dict)

    @property
    def faultable(self) -> dict[str, Any]:
        named: dict[str, Any] = {"aws": self.aws, "kafka": self.kafka}
        if self.triton is not None:
            named["triton"] = self.triton
        return named


class Target(Protocol):
    """One place to run a scenario (see the module docstring)."""

    @property
    def name(self) -> str:
        """``sim``, ``aws`` or ``lab``: what reports say the scenario ran on."""

    @property
    def runtime(self) -> str:
        """How it runs here: ``process``/``docker`` for sim, ``aws``, ``labgrid``."""

    @property
    def capabilities(self) -> frozenset[Capability]: ...

    def start_services(self, stack: contextlib.ExitStack, progress: Progress) -> TargetServices:
        """Start (or connect to) the services; ``stack`` stops them at the end of the run."""

    def devices(
        self,
        stack: contextlib.ExitStack,
        services: TargetServices,
        values: Mapping[str, str],
        environment: Mapping[str, str],
    ) -> dict[str, CoreDevice]:
        """One device per thing of the scenario, by thing name, not started yet; ``environment``
        is what the harness asks components to get (a simulated device passes it on)."""

    def boot(self, devices: Mapping[str, CoreDevice], progress: Progress) -> None:
        """Start the devices the target runs and wait until each nucleus is up."""

    def finish(self, devices: Mapping[str, CoreDevice]) -> dict[str, Any]:
        """After the last step, before anything stops: what the target adds to the report
        (device-side component states, resource samples …), as JSON-able data."""
