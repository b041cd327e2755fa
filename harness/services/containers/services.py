"""Triton, the Kafka broker, the AWS endpoint and IoT Core's MQTT broker as containers of a
:class:`ContainerSession`.

Each class is its process counterpart with :class:`ContainerRunner`'s life cycle: clients, probes
and smoke checks are shared, so a test or scenario does not care which backend it got. Inside the
container every service listens on its usual port (Triton 8000/8001/8002, Kafka 9092, the AWS
endpoint 5000, MQTT 1883); on the host those are published on 127.0.0.1 at free ports.
"""

from __future__ import annotations

import base64
import json
import uuid
from pathlib import Path
from typing import Any

from harness.services.aws import AwsEndpoint
from harness.services.containers.runner import ContainerRunner
from harness.services.kafka import KafkaBroker
from harness.services.mqtt import IOT_CORE_ENV, IotCoreBroker
from harness.services.ports import free_ports
from harness.services.smoke_model import write_smoke_repository
from harness.services.triton import TritonServer
from harness.services.triton_repository import stage_model_repository

KAFKA_PORT = 9092
#: the KRaft controller listener of an upstream (Apache) broker, inside its container only
KAFKA_CONTROLLER_PORT = 9093
AWS_PORT = 5000
#: MQTT's registered port (plain TCP), where the IoT Core broker listens inside its container
MQTT_PORT = 1883
#: where the broker's configuration (written on the host, bind-mounted) is inside its container
MQTT_CONFIG = "/etc/amqtt/broker.json"
TRITON_PORTS = {"http": 8000, "grpc": 8001, "metrics": 8002}
#: the python backend keeps tensors in /dev/shm; docker's default of 64 MB is too small for a
#: batch of four 640×640 frames plus the backend's own arena
SHM_SIZE = "1g"


class KafkaContainer(ContainerRunner, KafkaBroker):
    """tansu in the ``kafka`` image, advertising its fixed session address.

    Kafka clients connect to whatever address the broker advertises, so one advertised address
    must work both on the session network and on the host: the broker's own address on the bridge
    does (the host routes the session subnet). 127.0.0.1 at :attr:`port` is published too, for
    clients that bootstrap there.
    """

    image_name = "kafka"

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.address}:{KAFKA_PORT}"

    @property
    def endpoints(self) -> dict[str, str]:
        if self.port is None:
            return {}
        return {"bootstrap": self.bootstrap_servers, "published": f"127.0.0.1:{self.port}"}

    def network_endpoints(self) -> dict[str, str]:
        return {"bootstrap": self.bootstrap_servers}

    def prepare(self) -> None:
        """The binary is in the image. Apache Kafka wants its cluster id as a base64 UUID."""
        if self.flavour == "upstream":
            self.cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")

    def container_command(self) -> list[str]:
        if self.flavour == "upstream":
            return []  # the image's own start script, configured by the environment
        return [
            "--listener-url", f"tcp://0.0.0.0:{KAFKA_PORT}",
            "--advertised-listener-url", f"tcp://{self.address}:{KAFKA_PORT}",
            "--storage-engine", "memory://tansu/",
            "--cluster-id", self.cluster_id,
        ]  # fmt: skip

    def container_environment(self) -> dict[str, str]:
        if self.flavour == "upstream":
            return apache_kafka_environment(self.address, self.cluster_id)
        return {"NO_COLOR": "1"}

    def container_ports(self) -> dict[int, int]:
        assert self.port is not None
        return {KAFKA_PORT: self.port}


class AwsContainer(ContainerRunner, AwsEndpoint):
    """moto plus the harness's Greengrass V2 / IoT Jobs emulation in the ``aws`` image."""

    image_name = "aws"

    def prepare(self) -> None:
        return None

    def network_url(self) -> str:
        """The endpoint as devices on the session network reach it (an IP: boto3 then uses
        path-style S3 addressing, as it does for 127.0.0.1)."""
        return f"http://{self.address}:{AWS_PORT}"

    def network_endpoints(self) -> dict[str, str]:
        return {"url": self.network_url()}

    def network_environment(self) -> dict[str, str]:
        """:meth:`environment` for a process in a container of the session."""
        return {**self.environment(), "AWS_ENDPOINT_URL": self.network_url()}

    def container_command(self) -> list[str]:
        cmd = ["--host", "0.0.0.0", "--port", str(AWS_PORT), "--instance-id", self._instance_id]
        for spec in self.extensions:
            cmd += ["--extension", spec]
        return cmd

    def container_environment(self) -> dict[str, str]:
        return self.process_environment()

    def container_ports(self) -> dict[int, int]:
        assert self.port is not None
        return {AWS_PORT: self.port}


class TritonContainer(ContainerRunner, TritonServer):
    """tritonserver (python backend, ONNX through ONNX Runtime) in the ``triton`` image.

    The model repository is staged on the host exactly as for the process backend and mounted
    read-only at /models.
    """

    image_name = "triton"

    def prepare(self) -> None:
        assert self.workdir is not None
        source = self.model_repository
        if source is None:
            source = write_smoke_repository(self.workdir / "smoke-repository")
        if self.flavour == "upstream":
            # NVIDIA's image has the onnxruntime backend: it serves the repository as written
            self._source = source
            return
        self._staged = stage_model_repository(
            source, self.workdir / "model_repository", intra_op_thread_count=self.intra_op_thread_count
        )

    def allocate_ports(self) -> None:
        self._ports = dict(zip(TRITON_PORTS, free_ports(len(TRITON_PORTS)), strict=True))

    def network_endpoints(self) -> dict[str, str]:
        return {name: f"{self.address}:{port}" for name, port in TRITON_PORTS.items()}

    def container_command(self) -> list[str]:
        if self.flavour == "upstream":  # NVIDIA's entry point runs the command it is given
            return [
                "tritonserver", "--model-repository", "/models",
                *(f"--{name}-port={TRITON_PORTS[name]}" for name in ("http", "grpc", "metrics")),
                *self.server_options(),
            ]  # fmt: skip
        return [
            "--model-repository", "/models",
            "--backend-directory", "/opt/tritonserver/backends",
            "--http-port", str(TRITON_PORTS["http"]),
            "--grpc-port", str(TRITON_PORTS["grpc"]),
            "--metrics-port", str(TRITON_PORTS["metrics"]),
            *self.server_options(),
        ]  # fmt: skip

    def container_ports(self) -> dict[int, int]:
        return {TRITON_PORTS[name]: port for name, port in self._ports.items()}

    def container_volumes(self) -> list[tuple[str, str, str]]:
        served = self._source if self.flavour == "upstream" else self.staged_repository
        return [(str(served), "/models", "ro")]

    def container_options(self) -> dict[str, Any]:
        return {"shm_size": SHM_SIZE}


class IotCoreContainer(ContainerRunner, IotCoreBroker):
    """amqtt standing in for IoT Core's MQTT endpoint, in the harness's ``runtime`` image.

    amqtt is one of the harness's own dependencies, so the runtime image every other harness
    image is built on already carries it: no image of its own, nothing more to build. Devices on
    the session network get ``mqtt://<its session address>:1883``; the harness's own client
    (:meth:`subscribe`, :meth:`publish`, the readiness probe's CONNECT) uses the port published on
    127.0.0.1, exactly as with the process backend.
    """

    image_name = "runtime"

    def prepare(self) -> None:
        """The broker's configuration: every interface of the container, anonymous clients."""
        assert self.workdir is not None
        self._config = self.workdir / "broker.json"  # amqtt reads YAML, and JSON is YAML
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"0.0.0.0:{MQTT_PORT}"}},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        }
        self._config.write_text(json.dumps(config, indent=1))
        self._config.chmod(0o644)

    def network_url(self) -> str:
        """The endpoint as devices on the session network reach it."""
        return f"mqtt://{self.address}:{MQTT_PORT}"

    def network_endpoints(self) -> dict[str, str]:
        return {"mqtt": f"{self.address}:{MQTT_PORT}"}

    def network_environment(self) -> dict[str, str]:
        """:meth:`environment` for a device in a container of the session."""
        return {IOT_CORE_ENV: self.network_url()}

    def container_command(self) -> list[str]:
        # the runtime image has no entry point: the venv's python is first on its PATH
        return ["python", "-m", "amqtt.scripts.broker_script", "-c", MQTT_CONFIG]

    def container_environment(self) -> dict[str, str]:
        return self.process_environment()

    def container_ports(self) -> dict[int, int]:
        assert self.port is not None
        return {MQTT_PORT: self.port}

    def container_volumes(self) -> list[tuple[str, str, str]]:
        assert self._config is not None
        return [(str(self._config), MQTT_CONFIG, "ro")]


def apache_kafka_environment(address: str, cluster_id: str) -> dict[str, str]:
    """A one-node KRaft broker in Apache's ``apache/kafka`` image, configured as its docs show:
    every ``KAFKA_*`` variable is a server property (``.`` → ``_``), ``CLUSTER_ID`` formats the
    storage. The controller listens inside the container only; clients get ``address``."""
    return {
        "CLUSTER_ID": cluster_id,
        "KAFKA_NODE_ID": "1",
        "KAFKA_PROCESS_ROLES": "broker,controller",
        "KAFKA_LISTENERS": f"PLAINTEXT://0.0.0.0:{KAFKA_PORT},CONTROLLER://127.0.0.1:{KAFKA_CONTROLLER_PORT}",
        "KAFKA_ADVERTISED_LISTENERS": f"PLAINTEXT://{address}:{KAFKA_PORT}",
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
        "KAFKA_INTER_BROKER_LISTENER_NAME": "PLAINTEXT",
        "KAFKA_CONTROLLER_QUORUM_VOTERS": f"1@127.0.0.1:{KAFKA_CONTROLLER_PORT}",
        # one broker: internal topics cannot have three replicas
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
        "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
        # as tansu: a producer's first message creates its topic (DeepStream's adaptor relies on it)
        "KAFKA_AUTO_CREATE_TOPICS_ENABLE": "true",
    }


def container_services(
    session: Any, *, triton: bool, kafka: bool, aws: bool, models: Path | None, iot_core: bool = False
) -> list[Any]:
    """The selected services as containers of ``session``, not started yet."""
    services: list[Any] = []
    if aws:
        services.append(AwsContainer(session=session))
    if kafka:
        services.append(KafkaContainer(session=session))
    if triton:
        services.append(TritonContainer(models, session=session))
    if iot_core:
        services.append(IotCoreContainer(session=session))
    return services
