"""``--target aws``: real AWS (the default credential chain) and core devices the user registered.

The harness runs nothing here but its Kafka reader: the devices run on their own, somewhere the
harness cannot reach, so the only things it can do to them are what AWS lets any operator do —
publish, deploy, read states. No device capability at all; a scenario that reads device logs,
injects a device or service fault, or reads IoT Core's MQTT messages (``expect_iot_core``: that
takes a client certificate and a policy of the account's IoT Core, which the harness does not
make) is refused for this target when it loads.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from harness.errors import HarnessError
from harness.targets.capabilities import Capability, CoreDevice
from harness.targets.target import Progress, TargetServices

if TYPE_CHECKING:
    from harness.scenario import model as m

__all__ = ["AwsTarget", "RegisteredDevice", "default_aws_client", "registered_devices"]

AWS_CAPABILITIES: frozenset[Capability] = frozenset()


def default_aws_client() -> Callable[..., Any]:
    """boto3 clients from the default credential chain (real AWS, or AWS_ENDPOINT_URL if set)."""
    import boto3

    session = boto3.session.Session()
    lock = threading.Lock()

    def client(service_name: str, **kwargs: Any) -> Any:
        with lock:  # a boto3 session is not thread-safe when creating clients
            return session.client(service_name, **kwargs)

    return client


class RegisteredDevice:
    """A core device that runs on its own, known by its thing name (and group) only."""

    def __init__(self, thing: str, group: str) -> None:
        self._thing = thing
        self._group = group

    @property
    def thing(self) -> str:
        return self._thing

    @property
    def group(self) -> str:
        return self._group

    def start(self) -> None:
        return None

    def wait_booted(self, timeout: float = 60.0) -> None:
        return None

    def stop(self) -> None:
        return None

    def exit_status(self) -> str | None:
        return None


def registered_devices(scenario: m.Scenario, client: Callable[..., Any], target: str) -> dict[str, str]:
    """Thing → thing group of the scenario's devices; each must be in its group already."""
    from harness.scenario.fleet import FleetOperator

    fleet = FleetOperator(client, bucket="unused", create_bucket=False)
    things: dict[str, str] = {}
    for spec in scenario.devices:
        members = set(fleet.things_in_group(spec.thing_group))
        for thing in spec.things:
            if thing not in members:
                raise HarnessError(
                    f"core device {thing} is not in thing group {spec.thing_group}",
                    hint=f"members: {', '.join(sorted(members)) or 'none'}; on --target {target} the "
                    "scenario's devices (name-1 … name-count) must be registered core devices",
                )
            things[thing] = spec.thing_group
    return things


class AwsTarget:
    """Real AWS and registered core devices (see the module docstring)."""

    name = "aws"
    runtime = "aws"
    capabilities = AWS_CAPABILITIES

    def __init__(self, scenario: m.Scenario, *, kafka_bootstrap: str | None = None) -> None:
        self.scenario = scenario
        self.kafka_bootstrap = kafka_bootstrap or scenario.services.kafka_external

    def start_services(self, stack: contextlib.ExitStack, progress: Progress) -> TargetServices:
        from harness.services.kafka import ExternalKafka

        if not self.kafka_bootstrap:
            raise HarnessError(
                "--target aws needs a Kafka broker the devices can reach",
                hint="give --kafka-bootstrap HOST:PORT or services.kafka.external",
            )
        progress("using AWS (default credential chain) and Kafka at " + self.kafka_bootstrap)
        kafka = stack.enter_context(ExternalKafka(self.kafka_bootstrap))
        return TargetServices(client=default_aws_client(), kafka=kafka)

    def devices(
        self,
        stack: contextlib.ExitStack,
        services: TargetServices,
        values: Mapping[str, str],
        environment: Mapping[str, str],
    ) -> dict[str, CoreDevice]:
        found = registered_devices(self.scenario, services.client, self.name)
        return {thing: RegisteredDevice(thing, group) for thing, group in found.items()}

    def boot(self, devices: Mapping[str, CoreDevice], progress: Progress) -> None:
        return None

    def finish(self, devices: Mapping[str, CoreDevice]) -> dict[str, Any]:
        return {}
