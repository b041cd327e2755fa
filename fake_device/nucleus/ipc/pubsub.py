"""Local publish/subscribe between the device's components (``aws.greengrass.ipc.pubsub``).

Follows aws-greengrass-nucleus ``builtin/services/pubsub/PubSubIPCEventStreamAgent`` and
``SubscriptionTrie``:

- both operations are authorized first (:mod:`.authorization`, destination
  ``aws.greengrass.ipc.pubsub``, the topic as resource, STANDARD matching): a denied request gets
  ``UnauthorizedError`` with the nucleus's message;
- **PublishToTopic**: the topic must be given and hold no ``+``, ``#`` or ``*``
  (``InvalidArgumentsError``); the ``jsonMessage`` or ``binaryMessage`` (base64 on the wire) goes to
  every subscription whose filter matches, each once, with ``context.topic`` set; nobody subscribed
  is still a success;
- **SubscribeToTopic**: the topic filter must not be empty; ``+`` matches one level and ``#`` the
  remaining levels (at least one: ``a/#`` does not match ``a`` here, unlike MQTT and unlike the
  authorization rules); levels split as Java's ``String.split`` does (trailing empty levels
  dropped); ``receiveMode`` defaults to ``RECEIVE_MESSAGES_FROM_OTHERS`` for a wildcard filter and
  ``RECEIVE_ALL_MESSAGES`` otherwise — with the former a component does not get its own messages.
  The stream stays open for ``SubscriptionResponseMessage`` events until either side closes it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fake_device.nucleus.ipc.authorization import PUBSUB, AuthorizationError, Authorizer
from fake_device.nucleus.ipc.model import InvalidArgumentsError, ShapeError, UnauthorizedError, field, shape
from fake_device.nucleus.ipc.server import Call, IpcServer, Reply, Stream

__all__ = ["PubSubAgent", "filter_matches", "is_wildcard"]

RECEIVE_ALL = "RECEIVE_ALL_MESSAGES"
RECEIVE_FROM_OTHERS = "RECEIVE_MESSAGES_FROM_OTHERS"


def _levels(topic: str) -> list[str]:
    """``topic.split("/")`` as Java splits: trailing empty strings removed."""
    levels = topic.split("/")
    if len(levels) > 1:
        while levels and levels[-1] == "":
            levels.pop()
    return levels


def filter_matches(topic_filter: str, topic: str) -> bool:
    """Whether a published ``topic`` reaches a subscription to ``topic_filter``
    (``SubscriptionTrie.get``)."""
    levels, wanted = _levels(topic_filter), _levels(topic)

    def match(i: int, j: int) -> bool:
        if i == len(levels):
            return j == len(wanted)
        if j == len(wanted):
            return False
        level = levels[i]
        if level == "#" and i == len(levels) - 1:
            return True
        if level in ("+", "#") or level == wanted[j]:
            return match(i + 1, j + 1)
        return False

    return match(0, 0)


def is_wildcard(topic: str) -> bool:
    """``SubscriptionTrie.isWildcard``: a whole ``+`` level, or ``#`` as the last level."""
    levels = _levels(topic)
    return any(level == "+" or (level == "#" and i == len(levels) - 1) for i, level in enumerate(levels))


@dataclass(eq=False)
class _Subscription:
    stream: Stream
    component: str
    topic: str
    receive_mode: str


class PubSubAgent:
    """The local pub/sub operations of one device's IPC server."""

    def __init__(self, authorizer: Authorizer) -> None:
        self.authorizer = authorizer
        self._lock = threading.Lock()
        self._subscriptions: list[_Subscription] = []

    def register(self, server: IpcServer) -> None:
        server.register(shape("PublishToTopic"), self.publish_to_topic)
        server.register(shape("SubscribeToTopic"), self.subscribe_to_topic)

    def _authorize(self, call: Call, topic: str | None) -> None:
        try:
            self.authorizer.check(PUBSUB, call.component, call.operation, topic)
        except AuthorizationError as err:
            raise UnauthorizedError(str(err)) from None

    def publish_to_topic(self, call: Call) -> Reply:
        topic = field(call.request, "topic", str)
        self._authorize(call, topic)
        if topic is None:
            raise InvalidArgumentsError("Publish topic must not be null")
        if any(c in topic for c in "+#*"):
            raise InvalidArgumentsError("Publish topic must not contain a wildcard.")
        message = field(call.request, "publishMessage", dict) or {}
        event: dict[str, Any] = {}
        for kind in ("jsonMessage", "binaryMessage"):
            body = field(message, kind, dict)
            if body is not None:
                if kind == "binaryMessage" and not isinstance(body.get("message", ""), str):
                    raise ShapeError("binaryMessage.message must be base64 text")
                event[kind] = {"message": body.get("message"), "context": {"topic": topic}}
        self.publish(topic, event, call.component)
        return Reply(shape("PublishToTopicResponse"))

    def publish(self, topic: str, event: dict[str, Any], publisher: str) -> None:
        """Deliver a ``SubscriptionResponseMessage`` to every matching subscription, once each."""
        with self._lock:
            targets = [
                s
                for s in self._subscriptions
                if filter_matches(s.topic, topic)
                and not (s.component == publisher and s.receive_mode == RECEIVE_FROM_OTHERS)
            ]
        for subscription in targets:
            subscription.stream.send_event(shape("SubscriptionResponseMessage"), event)

    def subscribe_to_topic(self, call: Call) -> Reply:
        topic = field(call.request, "topic", str)
        self._authorize(call, topic)
        if not topic:
            raise InvalidArgumentsError("Subscribe topic must not be empty")
        mode = field(call.request, "receiveMode", str)
        if mode not in (None, RECEIVE_ALL, RECEIVE_FROM_OTHERS):
            raise ShapeError(f"receiveMode {mode!r} is not {RECEIVE_ALL} or {RECEIVE_FROM_OTHERS}")
        if mode is None:
            mode = RECEIVE_FROM_OTHERS if is_wildcard(topic) else RECEIVE_ALL
        subscription = _Subscription(call.stream, call.component, topic, mode)
        with self._lock:
            self._subscriptions.append(subscription)
        call.stream.on_close(self._unsubscriber(subscription))
        return Reply(shape("SubscribeToTopicResponse"), keep_open=True)

    def _unsubscriber(self, subscription: _Subscription) -> Callable[[], None]:
        def unsubscribe() -> None:
            with self._lock:
                if subscription in self._subscriptions:
                    self._subscriptions.remove(subscription)

        return unsubscribe
