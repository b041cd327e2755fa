"""IoT Core MQTT over IPC: ``PublishToIoTCore`` and ``SubscribeToIoTCore`` (``aws.greengrass.ipc.mqttproxy``).

Follows aws-greengrass-nucleus ``builtin/services/mqttproxy/MqttProxyIPCAgent``; the messages go
through the device's one MQTT connection (:mod:`fake_device.nucleus.mqtt`):

- the topic is required (``InvalidArgumentsError`` "Topic is required"), then authorized with
  MQTT-style resource matching (``a/#`` covers ``a``; ``+`` one level): a denial is
  ``UnauthorizedError`` "Not Authorized" (the full reason is logged, not returned — unlike the
  other services);
- **PublishToIoTCore**: ``payload`` required ("Payload is required"), ``qos`` ``"0"`` or ``"1"``
  ("QoS is required", "Invalid QoS value: 2"); the message is queued on the connection and the
  call returns (it does not wait for the broker's PUBACK, as the nucleus's spooler does not); a
  request the connection refuses is a ``ServiceError`` "Publish to topic X failed: <why>";
- **SubscribeToIoTCore**: answers once the broker acknowledged the subscription (a failure is a
  ``ServiceError`` "Subscribe to topic X failed with error …"), then every matching message is
  an ``IoTCoreMessage`` event ``{message: {topicName, payload}}`` (payload base64) until the
  stream closes, which drops the subscription.

The ``retain`` flag of a publish is not passed on: the stand-in broker would keep the message
and deliver it to later subscribers, which the tests of a CI run share (docs/ipc.md).
"""

from __future__ import annotations

import base64
import binascii
import threading

from fake_device.nucleus.ipc.authorization import MQTT_PROXY, AuthorizationError, Authorizer, ResourceLookup
from fake_device.nucleus.ipc.model import (
    InvalidArgumentsError,
    ServiceError,
    ShapeError,
    UnauthorizedError,
    field,
    shape,
)
from fake_device.nucleus.ipc.server import Call, IpcServer, Reply
from fake_device.nucleus.logs import NucleusLog
from fake_device.nucleus.mqtt import IotCoreConnection, MqttRequestError, SpoolerStoreError

__all__ = ["MqttProxyAgent"]

LOGGER = "com.aws.greengrass.builtin.services.mqttproxy.MqttProxyIPCAgent"
QOS = {"0": 0, "1": 1}  # model.QOS: AT_MOST_ONCE, AT_LEAST_ONCE


class MqttProxyAgent:
    """The IoT Core MQTT operations of one device's IPC server."""

    def __init__(self, connection: IotCoreConnection, authorizer: Authorizer, log: NucleusLog) -> None:
        self.connection = connection
        self.authorizer = authorizer
        self.log = log

    def register(self, server: IpcServer) -> None:
        server.register(shape("PublishToIoTCore"), self.publish_to_iot_core)
        # waits for the broker's SUBACK: off the server's loop
        server.register(shape("SubscribeToIoTCore"), self.subscribe_to_iot_core, blocking=True)

    def _topic(self, call: Call) -> str:
        topic = field(call.request, "topicName", str)
        if topic is None:
            self.log.error(LOGGER, "", "Topic is required", componentName=call.component)
            raise InvalidArgumentsError("Topic is required")
        try:
            self.authorizer.check(
                MQTT_PROXY, call.component, call.operation, topic, ResourceLookup.MQTT_STYLE
            )
        except AuthorizationError as err:
            self.log.info(LOGGER, "", "Not Authorized", error=str(err))
            raise UnauthorizedError("Not Authorized") from None
        return topic

    def _qos(self, call: Call) -> int:
        qos = field(call.request, "qos", str)
        if qos is None:
            self.log.error(LOGGER, "", "QoS is required", componentName=call.component)
            raise InvalidArgumentsError("QoS is required")
        if qos not in QOS:
            self.log.error(LOGGER, "", "Invalid QoS value", componentName=call.component, QoS=qos)
            raise InvalidArgumentsError(f"Invalid QoS value: {qos}")
        return QOS[qos]

    def publish_to_iot_core(self, call: Call) -> Reply:
        topic = self._topic(call)
        encoded = field(call.request, "payload", str)
        if encoded is None:
            self.log.error(LOGGER, "", "Payload is required", componentName=call.component)
            raise InvalidArgumentsError("Payload is required")
        try:
            payload = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise ShapeError("payload must be base64 text") from None
        qos = self._qos(call)
        field(call.request, "retain", bool)  # read (a wrong type is unreadable), not passed on
        try:
            self.connection.publish(topic, payload, qos)
        except (MqttRequestError, SpoolerStoreError) as err:
            self.log.error(LOGGER, "", "Invalid publish request", topic=topic, error=str(err))
            raise ServiceError(f"Publish to topic {topic} failed: {err}") from None
        return Reply(shape("PublishToIoTCoreResponse"))

    def subscribe_to_iot_core(self, call: Call) -> Reply:
        topic = self._topic(call)
        qos = self._qos(call)
        stream = call.stream
        ready = threading.Event()  # set once the response is out: events before it are dropped

        def deliver(topic_name: str, payload: bytes, _retain: bool) -> None:
            if not ready.is_set():
                self.log.warn(
                    LOGGER,
                    "",
                    f"Not forwarding message on topic {topic_name} to {call.component} because "
                    "subscription response is not yet sent",
                )
                return
            message = {"topicName": topic_name, "payload": base64.b64encode(payload).decode()}
            stream.send_event(shape("IoTCoreMessage"), {"message": message})

        try:
            subscription = self.connection.subscribe(topic, qos, deliver)
        except MqttRequestError as err:
            self.log.error(
                LOGGER, "", "Unable to subscribe to topic", topic=topic, componentName=call.component
            )
            if not self.connection.configured:
                raise ServiceError(
                    f"Subscribe to topic {topic} failed with error "
                    f"com.aws.greengrass.mqttclient.MqttRequestException: {err}"
                ) from None
            raise ServiceError(f"Subscribe to topic {topic} failed with error {err}") from None
        except Exception as err:  # the broker did not answer in time, the connection closed
            raise ServiceError(f"Subscribe to topic {topic} failed with error {err}") from None
        stream.on_close(lambda: self.connection.unsubscribe(subscription))  # does not wait for the broker
        return Reply(shape("SubscribeToIoTCoreResponse"), keep_open=True, on_sent=ready.set)
