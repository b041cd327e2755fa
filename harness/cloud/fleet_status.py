"""Greengrass fleet status: the core device's MQTT health messages, seen by the control plane.

A core device reports its health by publishing to ``$aws/things/<thing>/greengrassv2/health/json``
(``FleetStatusService.DEFAULT_FLEET_STATUS_SERVICE_PUBLISH_TOPIC``); the Greengrass service
subscribes to it and answers GetCoreDevice, ListCoreDevices and ListInstalledComponents from it.
The simulated device publishes through the iot-data HTTPS API (``Publish``, signing name
``iotdata``, ``POST /topics/{topic}``), which moto serves. This module sits in front of moto for
those requests: it decodes the publish with botocore's iot-data model, applies a health message
to the Greengrass state (:meth:`GreengrassBackend.record_fleet_status`), then passes the request
on unchanged so moto still records it (``published_payloads``) and answers it.

A malformed health message is logged and dropped; the publish itself still succeeds, as an MQTT
publish to a topic whose subscriber cannot read the message would. The one publish refused is,
on an enforcing endpoint, a device's publish to *another* thing's health topic (403
``ForbiddenException``, :func:`foreign_health_topic`): its credentials reach its own thing only.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable
from typing import Any

from harness.cloud.app import RequestContext, http_request, read_body, request_context
from harness.cloud.greengrass.models import FleetStatusError
from harness.cloud.protocol import AwsServiceError, HttpRequest, ServiceProtocol
from harness.cloud.store import CloudStore, default_store
from harness.services.aws_server import aws_error, signing_name

log = logging.getLogger("harness.cloud.fleet_status")

HEALTH_TOPIC = re.compile(r"^\$aws/things/(?P<thing>[^/]+)/greengrassv2/health/json$")

_publish_protocol: ServiceProtocol | None = None


def _protocol() -> ServiceProtocol:
    global _publish_protocol
    if _publish_protocol is None:
        _publish_protocol = ServiceProtocol("iot-data", ["Publish"])
    return _publish_protocol


def is_publish(environ: dict[str, Any]) -> bool:
    """An iot-data Publish request (the only ones this module looks at)."""
    return (
        environ.get("REQUEST_METHOD") == "POST"
        and environ.get("PATH_INFO", "").startswith("/topics/")
        and signing_name(environ) == "iotdata"
    )


def foreign_health_topic(request: HttpRequest, context: RequestContext) -> str | None:
    """Why a device may not publish this fleet status (another thing's topic), or None."""
    if context.caller_thing is None:
        return None
    try:
        topic = _protocol().parse(request).params.get("topic", "")
    except AwsServiceError:
        return None
    found = HEALTH_TOPIC.match(topic)
    if found is None or found.group("thing") == context.caller_thing:
        return None
    resource = f"arn:aws:iot:{context.region}:{context.account_id}:topic/{topic}"
    try:
        context.check_thing(found.group("thing"), "iot:Publish", resource)
    except AwsServiceError as err:
        return err.message
    return None


def record_publish(request: HttpRequest, context: RequestContext, store: CloudStore) -> str | None:
    """Apply ``request`` if it publishes a fleet status message; never raises.

    Returns what happened (for logs and tests): ``None`` for a publish to another topic,
    ``"recorded"`` or ``"ignored: <why>"``.
    """
    try:
        parsed = _protocol().parse(request)
    except AwsServiceError:
        return None  # moto answers the malformed publish with its own error
    topic = parsed.params.get("topic", "")
    found = HEALTH_TOPIC.match(topic)
    if found is None:
        return None
    thing = found.group("thing")
    try:
        payload = parsed.params.get("payload") or b""
        message = json.loads(payload)
        if isinstance(message, dict) and message.get("thing") not in (None, thing):
            log.warning(
                "fleet status on %s names thing %r: the topic's thing wins", topic, message.get("thing")
            )
        with store.locked(context.account_id, context.region) as state:
            state.greengrass.record_fleet_status(thing, message)
    except (ValueError, FleetStatusError) as err:
        log.warning("fleet status from %s ignored: %s", thing, err)
        return f"ignored: {err}"
    except Exception as err:  # a bug must not fail the device's publish
        log.exception("fleet status from %s could not be applied", thing)
        return f"ignored: {err!r}"
    return "recorded"


class FleetStatusTap:
    """WSGI app: record a fleet status publish, then let ``pass_on`` (moto) answer it."""

    def __init__(self, pass_on: Callable[..., Iterable[bytes]], store: CloudStore = default_store) -> None:
        self.pass_on = pass_on
        self.store = store

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        read_body(environ)  # keeps the body and rewinds wsgi.input for moto
        request, context = http_request(environ), request_context(environ)
        refusal = foreign_health_topic(request, context)
        if refusal is not None:
            log.warning("fleet status publish refused: %s", refusal)
            return aws_error(start_response, 403, "ForbiddenException", refusal)
        record_publish(request, context, self.store)
        return self.pass_on(environ, start_response)
