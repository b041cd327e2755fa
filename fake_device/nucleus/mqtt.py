"""The device's MQTT connection to IoT Core: what ``PublishToIoTCore``/``SubscribeToIoTCore`` use.

A real nucleus keeps one MQTT connection to its account's IoT Core data endpoint (its thing name
as client id) and shares it between every component (aws-greengrass-nucleus
``mqttclient/MqttClient``, ``IotCoreTopicValidator``, ``spool/Spool``). The simulator connects to
the harness's broker standing in for IoT Core (``mqtt://127.0.0.1:<port>``) with the same C
client the nucleus's Java client wraps (aws-c-mqtt, through ``awscrt``), without TLS: the
harness's broker is plain MQTT on loopback.

Rules kept from the nucleus:

- a device without an IoT Core endpoint is "configured to run offline": publishing raises
  ``Cannot publish because device is configured to run offline``, subscribing ``Device is not
  configured to connect to AWS``;
- topics are checked before anything is sent (``IotCoreTopicValidator``): not empty, no wildcard
  in a publish topic, at most 7 ``/`` and 256 characters (without the ``$aws/rules/<rule>/``
  prefix of Basic Ingest topics), payloads at most 128 KiB (``maxMessageSizeInBytes``);
- a publish returns once it is queued (the spooler), not when the broker acknowledged it; while
  the connection is down QoS 1 messages wait in the queue (at most 2.5 MB, the spooler's
  default) and QoS 0 messages are refused (``Device is offline. Dropping QoS 0 message.``);
- a subscription that an existing broker subscription already covers is not sent to the broker
  again; incoming messages go to every local subscription whose filter matches (MQTT rules:
  ``+`` one level, ``#`` the rest including the parent, no wildcard matches a ``$`` topic's
  first level);
- the connection is made in the background and retried with a back-off, so a device boots
  whether or not the broker is up.
"""

from __future__ import annotations

import collections
import contextlib
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fake_device.nucleus.logs import NucleusLog
from harness.errors import HarnessError
from harness.mqtt_topics import filter_covers, topic_matches

__all__ = [
    "IotCoreConnection",
    "MqttRequestError",
    "SpoolerStoreError",
    "parse_endpoint",
    "validate_topic",
]

LOGGER = "com.aws.greengrass.mqttclient.MqttClient"
#: MqttClient.DEFAULT_MQTT_MAX_OF_MESSAGE_SIZE_IN_BYTES
MAX_MESSAGE_BYTES = 128 * 1024
#: the spooler's default maxSizeInBytes
SPOOL_MAX_BYTES = int(2.5 * 1024 * 1024)
#: IotCoreTopicValidator
MAX_TOPIC_LENGTH = 256
MAX_SLASHES = 7
SUBSCRIBE_TIMEOUT_S = 30.0
RECONNECT_MAX_S = 8.0

_TOO_LONG = (
    f"The topic size of request must be no larger than {MAX_TOPIC_LENGTH} bytes of UTF-8 encoded characters. "
    "This excludes the first 3 mandatory segments for Basic Ingest topics ($AWS/rules/rule-name/)"
)
_TOO_LONG_SUBSCRIBE = (
    f"{_TOO_LONG} or first 2 mandatory segments for MQTT Shared Subscriptions ($share/share-name/)"
)


class MqttRequestError(Exception):
    """``MqttRequestException``: a request the client refuses before sending anything."""


class SpoolerStoreError(Exception):
    """``SpoolerStoreException``: the message cannot be queued."""


def parse_endpoint(url: str) -> tuple[str, int]:
    """``mqtt://host:port`` (or ``host:port``) → ``(host, port)``; HarnessError for anything else."""
    text = url if "://" in url else f"mqtt://{url}"
    parsed = urllib.parse.urlsplit(text)
    try:
        port = parsed.port
    except ValueError:
        port = None
    if parsed.scheme != "mqtt" or not parsed.hostname or port is None:
        raise HarnessError(
            f"bad IoT Core MQTT endpoint {url!r}",
            hint="expected mqtt://HOST:PORT, e.g. the iot_core broker's url (edge-harness services status)",
        )
    return parsed.hostname, port


def validate_topic(topic: str | None, *, publish: bool) -> None:
    """``IotCoreTopicValidator.validateTopic`` for MQTT 3: raises :class:`MqttRequestError`."""
    if not topic:
        raise MqttRequestError("Topic must not be empty")
    if publish and ("#" in topic or "+" in topic):
        raise MqttRequestError("Publish topics must not contain wildcard characters of '#' or '+'")
    effective = topic
    parts = topic.split("/", 3)
    if topic.startswith("$aws/rules/") and len(parts) == 4 and parts[2] and parts[3]:
        effective = parts[3]  # Basic Ingest: $aws/rules/<rule>/<topic>
    if effective.count("/") > MAX_SLASHES:
        raise MqttRequestError(f"The request topic must have no more than {MAX_SLASHES} forward slashes (/)")
    if len(effective) > MAX_TOPIC_LENGTH:
        raise MqttRequestError(_TOO_LONG if publish else _TOO_LONG_SUBSCRIBE)


@dataclass(eq=False)
class Subscription:
    """One local subscription: its filter, QoS and where its messages go."""

    topic_filter: str
    qos: int
    deliver: Callable[[str, bytes, bool], None]


@dataclass
class _Spooled:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    size: int = field(init=False)

    def __post_init__(self) -> None:
        self.size = len(self.payload)


class IotCoreConnection:
    """The device's MQTT connection (see the module docstring). ``endpoint`` None: offline."""

    def __init__(self, endpoint: str | None, client_id: str, log: NucleusLog) -> None:
        self.endpoint = endpoint
        self.client_id = client_id
        self.log = log
        self._address = parse_endpoint(endpoint) if endpoint else None
        self._lock = threading.Lock()
        self._connected = threading.Event()
        self._closed = threading.Event()
        self._connection: Any = None
        self._thread: threading.Thread | None = None
        self._subscriptions: list[Subscription] = []
        self._broker_filters: dict[str, int] = {}  # filter → QoS subscribed at the broker
        self._spool: collections.deque[_Spooled] = collections.deque()
        self._spool_bytes = 0

    @property
    def configured(self) -> bool:
        return self._address is not None

    @property
    def online(self) -> bool:
        return self._connected.is_set()

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        """Connect in the background (retrying until :meth:`close`)."""
        if self._address is None or self._thread is not None:
            return
        from awscrt import io, mqtt

        host, port = self._address
        group = io.EventLoopGroup(1)
        bootstrap = io.ClientBootstrap(group, io.DefaultHostResolver(group))
        self._connection = mqtt.Connection(
            client=mqtt.Client(bootstrap, None),
            host_name=host,
            port=port,
            client_id=self.client_id,
            clean_session=True,
            keep_alive_secs=30,
            on_connection_interrupted=self._interrupted,
            on_connection_resumed=self._resumed,
        )
        self._connection.on_message(self._message)
        self._thread = threading.Thread(target=self._connect_loop, name="iot-core-connect", daemon=True)
        self._thread.start()

    def _connect_loop(self) -> None:
        delay = 0.5
        while not self._closed.is_set():
            try:
                self._connection.connect().result(timeout=10)
            except Exception as err:
                self.log.warn(
                    LOGGER,
                    "mqtt-client-connect-error",
                    f"Cannot connect to IoT Core: {err}",
                    retryInSeconds=delay,
                )
                self._closed.wait(delay)
                delay = min(delay * 2, RECONNECT_MAX_S)
                continue
            self.log.info(
                LOGGER,
                "mqtt-client-connected",
                "Connected to IoT Core",
                endpoint=self.endpoint,
                clientId=self.client_id,
            )
            self._online()
            return

    def _interrupted(self, connection: Any, error: Any, **_kwargs: Any) -> None:
        self._connected.clear()
        self.log.warn(LOGGER, "mqtt-client-interrupted", f"Connection to IoT Core interrupted: {error}")

    def _resumed(self, connection: Any, return_code: Any, session_present: bool, **_kwargs: Any) -> None:
        self.log.info(
            LOGGER, "mqtt-client-resumed", "Connection to IoT Core resumed", sessionPresent=session_present
        )
        if not session_present:  # the broker forgot our subscriptions: make them again
            with self._lock:
                filters = dict(self._broker_filters)
            for topic_filter, qos in filters.items():
                with contextlib.suppress(Exception):
                    self._broker_subscribe(topic_filter, qos)
        self._online()

    def _online(self) -> None:
        self._connected.set()
        while True:
            with self._lock:
                if not self._spool or not self._connected.is_set():
                    return
                message = self._spool.popleft()
                self._spool_bytes -= message.size
            self._send(message)

    def close(self) -> None:
        self._closed.set()
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.disconnect().result(timeout=5)
        if self._thread is not None:
            self._thread.join(timeout=15)
            self._thread = None
        self._connected.clear()

    # -- publish ---------------------------------------------------------------------------------
    def publish(self, topic: str, payload: bytes, qos: int, retain: bool = False) -> None:
        """Queue a message for IoT Core (``MqttClient.publish``): returns once it is queued."""
        if self._address is None:
            raise MqttRequestError("Cannot publish because device is configured to run offline")
        if len(payload) > MAX_MESSAGE_BYTES:
            raise MqttRequestError(
                f"The publishing message size {len(payload)} bytes exceeds the configured limit of "
                f"{MAX_MESSAGE_BYTES} bytes"
            )
        validate_topic(topic, publish=True)
        message = _Spooled(topic, payload, qos, retain)
        with self._lock:
            if not self._connected.is_set():
                if qos == 0:
                    raise SpoolerStoreError("Device is offline. Dropping QoS 0 message.")
                if self._spool_bytes + message.size > SPOOL_MAX_BYTES:
                    raise SpoolerStoreError("Message spool is full. Message could not be added.")
                self._spool.append(message)
                self._spool_bytes += message.size
                return
        self._send(message)

    def _send(self, message: _Spooled) -> None:
        from awscrt import mqtt

        connection = self._connection
        if connection is None:
            return
        try:
            connection.publish(message.topic, message.payload, mqtt.QoS(message.qos), retain=message.retain)
        except Exception as err:
            self.log.error(LOGGER, "mqtt-client-publish-error", str(err), topic=message.topic)

    # -- subscribe -------------------------------------------------------------------------------
    def subscribe(
        self, topic_filter: str, qos: int, deliver: Callable[[str, bytes, bool], None]
    ) -> Subscription:
        """Add a local subscription; subscribe at the broker unless a broker subscription already
        covers the filter. Waits for the broker's SUBACK (and for the connection, if it is down)."""
        if self._address is None:
            raise MqttRequestError("Device is not configured to connect to AWS")
        validate_topic(topic_filter, publish=False)
        subscription = Subscription(topic_filter, qos, deliver)
        with self._lock:
            covered = any(
                filter_covers(f, topic_filter) and q >= qos for f, q in self._broker_filters.items()
            )
            self._subscriptions.append(subscription)
        if not covered:
            try:
                deadline = time.monotonic() + SUBSCRIBE_TIMEOUT_S
                if not self._connected.wait(SUBSCRIBE_TIMEOUT_S):
                    raise MqttRequestError("Timed out waiting for the connection to IoT Core")
                self._broker_subscribe(topic_filter, qos, timeout=max(1.0, deadline - time.monotonic()))
            except BaseException:
                self.unsubscribe(subscription)
                raise
        return subscription

    def _broker_subscribe(self, topic_filter: str, qos: int, timeout: float = SUBSCRIBE_TIMEOUT_S) -> None:
        from awscrt import mqtt

        connection = self._connection
        if connection is None:
            raise MqttRequestError("MQTT client is shut down")
        future, _packet = connection.subscribe(topic_filter, mqtt.QoS(qos))
        answer = future.result(timeout=timeout)
        granted = answer.get("qos")
        if granted is None:  # SUBACK 0x80
            raise MqttRequestError(f"Subscribe to topic {topic_filter} failed with error UNSPECIFIED_ERROR")
        with self._lock:
            self._broker_filters[topic_filter] = max(int(granted), self._broker_filters.get(topic_filter, 0))

    def unsubscribe(self, subscription: Subscription) -> None:
        """Drop a local subscription; unsubscribe at the broker when no local one needs the filter."""
        with self._lock:
            if subscription in self._subscriptions:
                self._subscriptions.remove(subscription)
            still = any(s.topic_filter == subscription.topic_filter for s in self._subscriptions)
            drop = not still and subscription.topic_filter in self._broker_filters
            if drop:
                del self._broker_filters[subscription.topic_filter]
        connection = self._connection
        if drop and connection is not None and self._connected.is_set():
            with contextlib.suppress(Exception):
                connection.unsubscribe(subscription.topic_filter)

    def _message(
        self,
        topic: str,
        payload: bytes,
        dup: bool = False,
        qos: Any = 0,
        retain: bool = False,
        **_kwargs: Any,
    ) -> None:
        with self._lock:
            targets = [s for s in self._subscriptions if topic_matches(s.topic_filter, topic)]
        for subscription in targets:
            try:
                subscription.deliver(topic, bytes(payload), bool(retain))
            except Exception as err:
                self.log.error(LOGGER, "mqtt-client-deliver-error", str(err), topic=topic)
