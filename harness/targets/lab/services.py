"""The harness's services for a lab: the same AWS endpoint and Kafka broker as the simulator's,
bound only to the address the lab file names (this host on the lab network), never to every
interface — the lab's Jetsons must reach them, nothing else should.
"""

from __future__ import annotations

from harness.services.aws import AwsEndpoint
from harness.services.kafka import KafkaBroker
from harness.services.ports import port_open

__all__ = ["LabAwsEndpoint", "LabKafkaBroker"]


class LabAwsEndpoint(AwsEndpoint):
    """The AWS endpoint on ``host:port`` (the port the lab's devices are configured with)."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__()
        self.host = host
        self.fixed_port = port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.fixed_port}"

    def allocate_ports(self) -> None:
        self.port = self.fixed_port

    def command(self) -> list[str]:
        command = super().command()
        command[command.index("--host") + 1] = self.host
        return command


class LabKafkaBroker(KafkaBroker):
    """A tansu broker listening on and advertising ``host`` (a free port)."""

    def __init__(self, host: str) -> None:
        super().__init__()
        self.host = host

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    def command(self) -> list[str]:
        return [part.replace("127.0.0.1", self.host) for part in super().command()]

    def probe_ready(self) -> bool:
        from confluent_kafka import KafkaException

        if self.port is None or not port_open(self.host, self.port, timeout=0.2):
            return False
        try:
            meta = self.admin().list_topics(timeout=1.0)
        except KafkaException:
            return False
        return bool(meta.cluster_id == self.cluster_id)
