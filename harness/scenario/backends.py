"""How a scenario's services and simulated devices run: local processes or docker containers.

The runner asks its backend for the AWS endpoint, the Kafka broker, Triton, IoT Core's MQTT
broker and each device and uses them through the same interface either way; only what differs
lives here — which classes, and which addresses a device is given (127.0.0.1 for processes, the
session network for containers).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.errors import HarnessError

BACKENDS = ("process", "docker")


class ProcessBackend:
    """Services and devices as local processes on 127.0.0.1 (the embedded default)."""

    name = "process"

    def aws(self, *, enforce: bool = False) -> Any:
        from harness.services.aws import AwsEndpoint

        return AwsEndpoint(enforce=enforce)

    def kafka(self) -> Any:
        from harness.services.kafka import KafkaBroker

        return KafkaBroker()

    def triton(self, models: Path | None) -> Any:
        from harness.services.triton import TritonServer

        return TritonServer(model_repository=models)

    def iot_core(self) -> Any:
        from harness.services.mqtt import IotCoreBroker

        return IotCoreBroker()

    def device_endpoint(self, service: Any, name: str) -> str:
        """``host:port`` of a service endpoint as a device reaches it."""
        return service.endpoints[name]

    def device(
        self,
        *,
        thing: str,
        group: str,
        profile: str,
        root: Path,
        aws: Any,
        environment: Mapping[str, str] | None = None,
        publish: Sequence[int] = (),
        iot_core: Any = None,
    ) -> Any:
        """``iot_core``: the broker standing in for IoT Core, whose endpoint the device is given
        (without one the device's IoT Core connection stays offline)."""
        from harness.scenario.devices import SimulatedDevice

        return SimulatedDevice(
            thing=thing,
            group=group,
            profile=profile,
            root=root,
            environment={
                **aws.environment(),
                **aws.device_credentials(thing),
                **(iot_core.environment() if iot_core is not None else {}),
                **(environment or {}),
            },
        )

    def close(self) -> None:
        return None


class DockerBackend:
    """Services and devices as containers of one :class:`ContainerSession` (own network)."""

    name = "docker"

    def __init__(self, images: Mapping[str, str] | None = None, image_policy: str | None = None) -> None:
        """``images``: service name → image to run (a scenario's ``services.images``);
        ``image_policy``: auto / upstream / built for the others (docs/containers.md)."""
        from harness.services.containers import ContainerSession

        self.images = dict(images or {})
        self.image_policy = image_policy
        self.session = ContainerSession()

    def _image(self, name: str) -> dict[str, Any]:
        return {"image": self.images.get(name), "image_policy": self.image_policy}

    def aws(self, *, enforce: bool = False) -> Any:
        from harness.services.containers.services import AwsContainer

        return AwsContainer(session=self.session, enforce=enforce, **self._image("aws"))

    def kafka(self) -> Any:
        from harness.services.containers.services import KafkaContainer

        return KafkaContainer(session=self.session, **self._image("kafka"))

    def triton(self, models: Path | None) -> Any:
        from harness.services.containers.services import TritonContainer

        return TritonContainer(models, session=self.session, **self._image("triton"))

    def iot_core(self) -> Any:
        from harness.services.containers.services import IotCoreContainer

        # the runtime image, which scenarios do not name: only the policy applies
        return IotCoreContainer(session=self.session, image_policy=self.image_policy)

    def device_endpoint(self, service: Any, name: str) -> str:
        return service.network_endpoints()[name]

    def device(
        self,
        *,
        thing: str,
        group: str,
        profile: str,
        root: Path,
        aws: Any,
        environment: Mapping[str, str] | None = None,
        publish: Sequence[int] = (),
        iot_core: Any = None,
    ) -> Any:
        from harness.services.containers.device import DeviceContainer

        return DeviceContainer(
            thing=thing,
            group=group,
            profile=profile,
            root=root,
            environment={
                **aws.network_environment(),
                **aws.device_credentials(thing),
                **(iot_core.network_environment() if iot_core is not None else {}),
                **(environment or {}),
            },
            session=self.session,
            publish=publish,
            image=self.images.get("device"),
        )

    def close(self) -> None:
        self.session.close()


def make_backend(
    name: str, images: Mapping[str, str] | None = None, image_policy: str | None = None
) -> ProcessBackend | DockerBackend:
    if name == "process":
        return ProcessBackend()
    if name == "docker":
        return DockerBackend(images, image_policy)
    raise HarnessError(f"unknown backend {name!r}", hint=f"use one of: {', '.join(BACKENDS)}")
