"""``--target lab``: the scenario's things are lab Jetsons, reserved through labgrid.

Services: real AWS (the default credential chain) or the harness's AWS endpoint on the lab
address (``services.aws`` of the lab file); the Kafka broker the lab names, the one given with
``--kafka-bootstrap``, or one the harness starts on the lab address. With its own endpoint the
harness also registers each Jetson's thing in its thing group, as fleet provisioning did for
the real cloud.

Devices: each thing of the scenario must be a device of the lab file; its place is reserved and
acquired (waiting in labgrid's queue if another job holds it) and released at the end, whatever
happens. The first device forwards the scenario's ``${free_port.*}`` ports from 127.0.0.1 here,
so ``rtsp://127.0.0.1:${free_port.rtsp}/…`` reaches the app on the Jetson, as on the simulator.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import HarnessError
from harness.targets.aws import default_aws_client, registered_devices
from harness.targets.capabilities import Capability, CoreDevice
from harness.targets.lab.description import LabDescription
from harness.targets.lab.device import LabJetson
from harness.targets.lab.labgrid import LabgridPlace
from harness.targets.target import Progress, TargetServices

if TYPE_CHECKING:
    from harness.scenario import model as m

__all__ = ["LabTarget"]

#: how long to wait in labgrid's queue for a place another job holds
RESERVE_TIMEOUT_S = 600.0


class LabTarget:
    """Lab Jetsons through labgrid (see the module docstring)."""

    name = "lab"
    runtime = "labgrid"

    def __init__(
        self,
        scenario: m.Scenario,
        work: Path,
        lab: LabDescription,
        *,
        kafka_bootstrap: str | None = None,
    ) -> None:
        self.scenario = scenario
        self.work = work
        self.lab = lab
        self.kafka_bootstrap = kafka_bootstrap or scenario.services.kafka_external or lab.kafka
        self._forwarded: tuple[LabJetson, list[int]] | None = None
        missing = [thing for thing in scenario.things if thing not in lab.devices]
        if missing:
            raise HarnessError(
                f"the lab {lab.path} has no device {missing[0]!r} (the scenario's things: "
                f"{', '.join(scenario.things)})",
                hint=f"lab devices: {', '.join(lab.devices)}; name them after the scenario's things "
                "(<devices.name>-<n>)",
            )

    @property
    def capabilities(self) -> frozenset[Capability]:
        return self.lab.capabilities(external_kafka=bool(self.kafka_bootstrap))

    def start_services(self, stack: contextlib.ExitStack, progress: Progress) -> TargetServices:
        from harness.services.kafka import ExternalKafka
        from harness.targets.lab.services import LabAwsEndpoint, LabKafkaBroker

        aws = None
        kafka: Any
        if self.lab.aws == "endpoint":
            progress(f"starting the AWS endpoint on {self.lab.address}:{self.lab.aws_port} (lab network)")
            aws = stack.enter_context(LabAwsEndpoint(self.lab.address, self.lab.aws_port))
            client = aws.client
        else:
            progress("using AWS (default credential chain)")
            client = default_aws_client()
        if self.kafka_bootstrap:
            progress(f"using Kafka at {self.kafka_bootstrap}")
            kafka = stack.enter_context(ExternalKafka(self.kafka_bootstrap))
        else:
            progress(f"starting a Kafka broker on {self.lab.address} (lab network)")
            kafka = stack.enter_context(LabKafkaBroker(self.lab.address))
        return TargetServices(client=client, kafka=kafka, aws=aws)

    def _provision(self, services: TargetServices) -> dict[str, str]:
        """Thing → group; with the harness's endpoint, each thing is created in its group."""
        if services.aws is None:
            return registered_devices(self.scenario, services.client, self.name)
        iot = services.client("iot")
        things: dict[str, str] = {}
        for spec in self.scenario.devices:
            with contextlib.suppress(Exception):  # it exists already
                iot.create_thing_group(thingGroupName=spec.thing_group)
            for thing in spec.things:
                with contextlib.suppress(Exception):  # the device registered itself first
                    iot.create_thing(thingName=thing)
                iot.add_thing_to_thing_group(thingGroupName=spec.thing_group, thingName=thing)
                things[thing] = spec.thing_group
        return things

    def devices(
        self,
        stack: contextlib.ExitStack,
        services: TargetServices,
        values: Mapping[str, str],
        environment: Mapping[str, str],
    ) -> dict[str, CoreDevice]:
        """Reserve and acquire each device's place (released when the run ends). ``environment``
        is not passed on: a lab Jetson's nucleus runs with the environment its service has."""
        groups = self._provision(services)
        ports = sorted(int(v) for k, v in values.items() if k.startswith("free_port."))
        devices: dict[str, CoreDevice] = {}
        for thing, group in groups.items():
            spec = self.lab.devices[thing]
            place = LabgridPlace(
                self.lab.coordinator,
                spec.place,
                self.work / "lab",
                keyfile=spec.keyfile,
                username=spec.username,
                power=spec.power,
            )
            stack.callback(place.release)
            place.reserve(RESERVE_TIMEOUT_S)
            device = LabJetson(spec, group, place)
            stack.callback(device.stop)
            if not devices:
                self._forwarded = (device, ports)
            devices[thing] = device
        return devices

    def boot(self, devices: Mapping[str, CoreDevice], progress: Progress) -> None:
        """The devices run already: wait for SSH and the nucleus, start sampling, forward ports."""
        progress(f"reaching {len(devices)} lab device(s) through labgrid")
        for device in devices.values():
            device.wait_booted()
        if self._forwarded is not None:
            first, ports = self._forwarded
            for port in ports:
                first.forward(port)

    def finish(self, devices: Mapping[str, CoreDevice]) -> dict[str, Any]:
        return {thing: device.report() for thing, device in devices.items() if isinstance(device, LabJetson)}
