"""IoT Core's MQTT side: a real MQTT broker on 127.0.0.1 that simulated devices connect to.

A core device publishes to and subscribes to its account's IoT Core data endpoint over MQTT
(``PublishToIoTCore``/``SubscribeToIoTCore`` from components go through the nucleus's one
connection). The harness stands in for that endpoint with **amqtt** (PyPI ``amqtt``, MIT, an
asyncio MQTT 3.1.1 broker that is still released): a wheel, so nothing has to come from the
system's package manager, and it starts in about a second as a child process. Mosquitto would be
faster but is a Debian package; the broker's speed does not matter at the message rates of a
scenario. Differences from IoT Core that a test could notice are listed in docs/ipc.md.

The harness's own client is aws-c-mqtt through ``awscrt`` — the C client the nucleus's Java client
wraps — so :class:`IotCoreClient` subscribes (and publishes, for tests) exactly as a device does.
"""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import sys
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from harness.mqtt_topics import topic_matches
from harness.services.base import LOOPBACK, ProcessService, ServiceError
from harness.services.ports import free_ports

__all__ = [
    "IOT_CORE_ENV",
    "IotCoreBroker",
    "IotCoreClient",
    "IotCoreMessage",
    "IotCoreSubscription",
    "parse_url",
]

#: the environment variable that tells a simulated device where IoT Core's MQTT endpoint is
IOT_CORE_ENV = "EDGE_HARNESS_IOT_CORE_MQTT"


def _connack(host: str, port: int, client_id: str, timeout: float = 1.0) -> bool:
    """Whether an MQTT 3.1.1 CONNECT to ``host:port`` is accepted (CONNACK with return code 0)."""
    ident = client_id.encode()
    variable = b"\x00\x04MQTT\x04\x02\x00\x3c"  # protocol name, level 4, clean session, keep-alive 60
    payload = struct.pack("!H", len(ident)) + ident
    body = variable + payload
    packet = bytes([0x10, len(body)]) + body
    try:
        with socket.create_connection((host, port), timeout=timeout) as conn:
            conn.sendall(packet)
            answer = conn.recv(4)
            with contextlib.suppress(OSError):
                conn.sendall(b"\xe0\x00")  # DISCONNECT
    except OSError:
        return False
    return len(answer) == 4 and answer[0] == 0x20 and answer[3] == 0


class IotCoreBroker(ProcessService):
    """amqtt on ``mqtt://127.0.0.1:<free port>``, anonymous, plain TCP (loopback only)."""

    name = "iot_core"
    stop_timeout = 5.0

    def __init__(self, *, workdir: Path | None = None, startup_timeout: float = 30.0) -> None:
        super().__init__(workdir=workdir, startup_timeout=startup_timeout)
        self.port: int | None = None
        self._config: Path | None = None
        self._shared_client: IotCoreClient | None = None
        self._shared_lock = threading.Lock()

    # -- what clients need -----------------------------------------------------------------
    @property
    def host_port(self) -> str:
        if self.port is None:
            raise ServiceError("iot_core: the broker has not been started")
        return f"{LOOPBACK}:{self.port}"

    @property
    def url(self) -> str:
        """``mqtt://127.0.0.1:<port>``: what a device is given as its IoT Core endpoint."""
        return f"mqtt://{self.host_port}"

    @property
    def endpoints(self) -> dict[str, str]:
        return {"mqtt": self.host_port} if self.port is not None else {}

    def environment(self) -> dict[str, str]:
        return {IOT_CORE_ENV: self.url}

    def client(self, client_id: str | None = None) -> IotCoreClient:
        """A connected MQTT client of this broker (close it, or use it as a context manager)."""
        return IotCoreClient(self.url, client_id=client_id)

    def subscribe(self, topic_filter: str, qos: int = 1) -> IotCoreSubscription:
        """Collect what ``topic_filter`` receives from now on, through the broker's own shared
        client (closed with the broker); ``.wait_for(count, timeout)`` reads it."""
        return self._shared().subscribe(topic_filter, qos)

    def publish(self, topic: str, payload: bytes | str, qos: int = 1) -> None:
        """Publish as IoT Core's side would (a cloud application, a rule), through the shared client."""
        self._shared().publish(topic, payload, qos)

    def _shared(self) -> IotCoreClient:
        with self._shared_lock:
            if self._shared_client is None:
                self._shared_client = self.client()
            return self._shared_client

    def cleanup(self) -> None:
        with self._shared_lock:
            client, self._shared_client = self._shared_client, None
        if client is not None:
            client.close()

    # -- ProcessService hooks --------------------------------------------------------------
    def allocate_ports(self) -> None:
        self.port = free_ports(1)[0]

    def command(self) -> list[str]:
        assert self.workdir is not None
        self._config = self.workdir / "broker.json"  # amqtt reads YAML, and JSON is YAML
        config = {
            "listeners": {"default": {"type": "tcp", "bind": self.host_port}},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        }
        self._config.write_text(json.dumps(config, indent=1))
        return [sys.executable, "-m", "amqtt.scripts.broker_script", "-c", str(self._config)]

    def process_environment(self) -> dict[str, str]:
        return {"PYTHONUNBUFFERED": "1", "NO_COLOR": "1"}

    def probe_ready(self) -> bool:
        return self.port is not None and _connack(
            LOOPBACK, self.port, f"edge-harness-probe-{uuid.uuid4().hex[:8]}"
        )

    def start_hint(self) -> str | None:
        return "the broker is amqtt from PyPI: is it installed? (pip install -e .)"

    def check(self) -> str:
        """Subscribe, publish QoS 1 and read it back through the device's MQTT client library."""
        started = time.monotonic()
        topic = f"edge-harness/check/{uuid.uuid4().hex[:10]}"
        with self.client() as client:
            subscription = client.subscribe(topic)
            client.publish(topic, b'{"check": true}', qos=1)
            messages = subscription.wait_for(1, timeout=10)
        if not messages or messages[0].payload != b'{"check": true}':
            raise ServiceError(f"iot_core check: published to {topic} but read back {messages}")
        ms = (time.monotonic() - started) * 1000
        return f"subscribe + QoS 1 publish read back on {topic} at {self.url} ({ms:.0f} ms)"


@dataclass(frozen=True)
class IotCoreMessage:
    """One message a harness subscription received."""

    topic: str
    payload: bytes
    qos: int
    received: float  # time.time()

    def json(self) -> Any:
        return json.loads(self.payload)


class IotCoreSubscription:
    """The messages one topic filter received so far (thread-safe)."""

    def __init__(self, topic_filter: str) -> None:
        self.topic_filter = topic_filter
        self._messages: list[IotCoreMessage] = []
        self._condition = threading.Condition()

    def add(self, message: IotCoreMessage) -> None:
        with self._condition:
            self._messages.append(message)
            self._condition.notify_all()

    @property
    def messages(self) -> list[IotCoreMessage]:
        with self._condition:
            return list(self._messages)

    def wait_for(self, count: int, timeout: float) -> list[IotCoreMessage]:
        """The messages once at least ``count`` arrived, or what arrived when ``timeout`` passed."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while len(self._messages) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._condition.wait(left)
            return list(self._messages)


def parse_url(url: str) -> tuple[str, int]:
    """``mqtt://host:port`` (or ``host:port``) → ``(host, port)``; ServiceError otherwise."""
    text = url if "://" in url else f"mqtt://{url}"
    parsed = urllib.parse.urlsplit(text)
    try:
        port = parsed.port
    except ValueError:
        port = None
    if parsed.scheme != "mqtt" or not parsed.hostname or port is None:
        raise ServiceError(f"iot_core: bad MQTT endpoint {url!r}", hint="expected mqtt://HOST:PORT")
    return parsed.hostname, port


class IotCoreClient:
    """An MQTT 3.1.1 client (aws-c-mqtt via ``awscrt``) of a broker standing in for IoT Core.

    :meth:`subscribe` returns an :class:`IotCoreSubscription` that collects what its filter
    receives from then on; :meth:`publish` sends one message (QoS 1 waits for the PUBACK).
    """

    def __init__(self, url: str, *, client_id: str | None = None, timeout: float = 10.0) -> None:
        from awscrt import io, mqtt

        host, port = parse_url(url)
        self.url = url
        self.timeout = timeout
        self._subscriptions: dict[str, list[IotCoreSubscription]] = {}
        self._lock = threading.Lock()
        group = io.EventLoopGroup(1)
        bootstrap = io.ClientBootstrap(group, io.DefaultHostResolver(group))
        self._connection = mqtt.Connection(
            client=mqtt.Client(bootstrap, None),
            host_name=host,
            port=port,
            client_id=client_id or f"edge-harness-{uuid.uuid4().hex[:12]}",
            clean_session=True,
            keep_alive_secs=30,
        )
        self._connection.on_message(self._message)
        try:
            self._connection.connect().result(timeout=timeout)
        except Exception as err:
            raise ServiceError(
                f"iot_core: cannot connect to {url}: {err}",
                hint="is the iot_core broker running? (edge-harness services status)",
            ) from None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._connection.disconnect().result(timeout=5)

    def subscribe(self, topic_filter: str, qos: int = 1) -> IotCoreSubscription:
        """Start collecting the messages of ``topic_filter`` (waits for the broker's SUBACK)."""
        from awscrt import mqtt

        subscription = IotCoreSubscription(topic_filter)
        with self._lock:
            known = topic_filter in self._subscriptions
            self._subscriptions.setdefault(topic_filter, []).append(subscription)
        if not known:
            future, _packet = self._connection.subscribe(topic_filter, mqtt.QoS(qos))
            try:
                answer = future.result(timeout=self.timeout)
            except Exception as err:
                raise ServiceError(f"iot_core: subscribing to {topic_filter!r} failed: {err}") from None
            if answer.get("qos") is None:
                raise ServiceError(f"iot_core: the broker refused the subscription to {topic_filter!r}")
        return subscription

    def publish(self, topic: str, payload: bytes | str, qos: int = 1) -> None:
        from awscrt import mqtt

        data = payload.encode() if isinstance(payload, str) else payload
        future, _packet = self._connection.publish(topic, data, mqtt.QoS(qos))
        try:
            future.result(timeout=self.timeout)
        except Exception as err:
            raise ServiceError(f"iot_core: publishing to {topic!r} failed: {err}") from None

    def _message(self, topic: str, payload: bytes, dup: bool = False, qos: Any = 0, **_kwargs: Any) -> None:
        message = IotCoreMessage(topic, bytes(payload), int(qos), time.time())
        with self._lock:
            targets = [s for f, subs in self._subscriptions.items() if topic_matches(f, topic) for s in subs]
        for subscription in targets:
            subscription.add(message)
