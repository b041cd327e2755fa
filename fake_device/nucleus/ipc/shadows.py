"""Device shadows over IPC, as the ``aws.greengrass.ShadowManager`` component serves them.

Follows aws-greengrass-shadow-manager ``ipc/*RequestHandler``, ``ListNamedShadowsForThingIPCHandler``,
``AuthorizationHandlerWrapper`` and ``util/Validator``. Served while a component named
``aws.greengrass.ShadowManager`` is in the device's configuration. A real ShadowManager keeps its
shadows in a local database and synchronizes them with IoT Core as configured; the simulator
reads and writes the AWS endpoint's shadows (``iot-data``) directly — a ShadowManager syncing
every shadow both ways at once — so what a component writes is what the harness reads through
boto3, and the other way round.

- **Get/Update/DeleteThingShadow**: ``thingName`` required (``InvalidArgumentsError`` "ThingName
  is missing"), thing and shadow names ``[a-zA-Z0-9:_-]+`` of at most 128/64 characters; the
  caller must be allowed the operation on ``$aws/things/<thing>/shadow`` (classic, no or empty
  ``shadowName``) or ``$aws/things/<thing>/shadow/name/<shadow>`` in an
  ``aws.greengrass.ShadowManager`` policy. A shadow that does not exist is
  ``ResourceNotFoundError`` "No shadow found"; an update with an old ``version`` is
  ``ConflictError`` "Version conflict"; a payload IoT refuses is ``InvalidArgumentsError``.
  Payloads are the shadow documents (JSON bytes, base64 on the wire).
- **ListNamedShadowsForThing**: authorized on the thing name; ``pageSize`` 1–100 (default 25);
  ``nextToken`` as the previous answer gave it.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from fake_device.nucleus.ipc.authorization import SHADOW_MANAGER, AuthorizationError, Authorizer
from fake_device.nucleus.ipc.model import (
    ConflictError,
    InvalidArgumentsError,
    ResourceNotFoundError,
    ServiceError,
    ShapeError,
    UnauthorizedError,
    field,
    shape,
)
from fake_device.nucleus.ipc.server import Call, IpcServer, Reply
from fake_device.nucleus.logs import NucleusLog
from fake_device.nucleus.store import EffectiveConfig

__all__ = ["ShadowHost", "ShadowManagerAgent", "shadow_resource"]

LOGGER = "com.aws.greengrass.shadowmanager.ShadowManager"
NAME_PATTERN = re.compile(r"[a-zA-Z0-9:_-]+")
MAX_THING_NAME = 128
MAX_SHADOW_NAME = 64
PAGE_SIZE = (1, 100, 25)  # min, max, default


class ShadowHost(Protocol):
    log: NucleusLog

    @property
    def config(self) -> EffectiveConfig: ...

    def client(self, service: str) -> Any: ...


def shadow_resource(thing: str, shadow: str | None) -> str:
    """``ShadowRequest.getShadowTopicPrefix``: what a policy names for one shadow."""
    if not shadow:
        return f"$aws/things/{thing}/shadow"
    return f"$aws/things/{thing}/shadow/name/{shadow}"


def _validate_thing(thing: str | None) -> str:
    if not thing:
        raise InvalidArgumentsError("ThingName is missing")
    if len(thing) > MAX_THING_NAME:
        raise InvalidArgumentsError(f"ThingName has a maximum length of {MAX_THING_NAME}")
    if not NAME_PATTERN.fullmatch(thing):
        raise InvalidArgumentsError(f"ThingName must match pattern {NAME_PATTERN.pattern}")
    return thing


def _validate_shadow(shadow: str | None) -> str:
    if not shadow:
        return ""
    if len(shadow) > MAX_SHADOW_NAME:
        raise InvalidArgumentsError(f"ShadowName has a maximum length of {MAX_SHADOW_NAME}")
    if not NAME_PATTERN.fullmatch(shadow):
        raise InvalidArgumentsError(f"ShadowName must match pattern {NAME_PATTERN.pattern}")
    return shadow


class ShadowManagerAgent:
    """The shadow operations of one device's IPC server."""

    def __init__(self, host: ShadowHost, authorizer: Authorizer) -> None:
        self.host = host
        self.authorizer = authorizer

    def register(self, server: IpcServer) -> None:
        # each calls the AWS endpoint: off the server's loop
        for name, handler in (
            ("GetThingShadow", self.get_thing_shadow),
            ("UpdateThingShadow", self.update_thing_shadow),
            ("DeleteThingShadow", self.delete_thing_shadow),
            ("ListNamedShadowsForThing", self.list_named_shadows_for_thing),
        ):
            server.register(shape(name), handler, blocking=True)

    def _serving(self, call: Call) -> None:
        if SHADOW_MANAGER not in self.host.config.services:
            raise ServiceError(f"Operation {call.operation} is not supported by Greengrass")

    def _authorize(self, call: Call, resource: str) -> None:
        """``AuthorizationHandlerWrapper.doAuthorization`` (the ShadowManager itself always may)."""
        if call.component == SHADOW_MANAGER:
            return
        try:
            self.authorizer.check(SHADOW_MANAGER, call.component, call.operation, resource)
        except AuthorizationError as err:
            self.host.log.warn(LOGGER, "", "Not authorized", operation=call.operation, resource=resource)
            raise UnauthorizedError(str(err)) from None

    def _target(self, call: Call) -> tuple[str, str]:
        self._serving(call)
        thing = _validate_thing(field(call.request, "thingName", str))
        shadow = _validate_shadow(field(call.request, "shadowName", str))
        self._authorize(call, shadow_resource(thing, shadow))
        return thing, shadow

    def _call(self, method: str, thing: str, shadow: str, **kwargs: Any) -> dict[str, Any]:
        options: dict[str, Any] = {"thingName": thing, **kwargs}
        if shadow:
            options["shadowName"] = shadow
        try:
            return dict(getattr(self.host.client("iot-data"), method)(**options))
        except ClientError as err:
            code = err.response.get("Error", {}).get("Code", "")
            message = err.response.get("Error", {}).get("Message", str(err))
            if code == "ResourceNotFoundException":
                raise ResourceNotFoundError("No shadow found", resource_type="shadow") from None
            if code == "ConflictException":
                raise ConflictError("Version conflict") from None
            if code in ("InvalidRequestException", "RequestEntityTooLargeException", "ValidationException"):
                raise InvalidArgumentsError(message) from None
            raise ServiceError(message) from None
        except BotoCoreError as err:
            raise ServiceError(str(err)) from None

    @staticmethod
    def _payload(answer: dict[str, Any]) -> str:
        body = answer.get("payload")
        data = body.read() if hasattr(body, "read") else (body or b"")
        return base64.b64encode(data).decode()

    def get_thing_shadow(self, call: Call) -> Reply:
        thing, shadow = self._target(call)
        answer = self._call("get_thing_shadow", thing, shadow)
        return Reply(shape("GetThingShadowResponse"), {"payload": self._payload(answer)})

    def update_thing_shadow(self, call: Call) -> Reply:
        thing, shadow = self._target(call)
        encoded = field(call.request, "payload", str)
        if not encoded:
            raise InvalidArgumentsError("Missing update payload")
        try:
            payload = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise ShapeError("payload must be base64 text") from None
        try:
            json.loads(payload)
        except ValueError as err:
            raise InvalidArgumentsError(f"Invalid JSON: {err}") from None
        answer = self._call("update_thing_shadow", thing, shadow, payload=payload)
        return Reply(shape("UpdateThingShadowResponse"), {"payload": self._payload(answer)})

    def delete_thing_shadow(self, call: Call) -> Reply:
        thing, shadow = self._target(call)
        answer = self._call("delete_thing_shadow", thing, shadow)
        return Reply(shape("DeleteThingShadowResponse"), {"payload": self._payload(answer)})

    def list_named_shadows_for_thing(self, call: Call) -> Reply:
        self._serving(call)
        thing = _validate_thing(field(call.request, "thingName", str))
        self._authorize(call, thing)
        low, high, default = PAGE_SIZE
        size = field(call.request, "pageSize", int)
        size = default if size is None else size
        if not low <= size <= high:
            raise InvalidArgumentsError(f"pageSize argument must be between {low} and {high}")
        offset = 0
        token = field(call.request, "nextToken", str)
        if token:
            try:
                kind, _, value = base64.b64decode(token, validate=True).decode().partition(":")
                if kind != thing:
                    raise ValueError(kind)
                offset = int(value)
            except (binascii.Error, ValueError, UnicodeDecodeError):
                raise InvalidArgumentsError("Invalid nextToken argument") from None
        answer = self._call("list_named_shadows_for_thing", thing, "")
        names = sorted(str(n) for n in answer.get("results") or ())
        page = names[offset : offset + size]
        response: dict[str, Any] = {"results": page, "timestamp": time.time()}
        if len(page) == size:
            response["nextToken"] = base64.b64encode(f"{thing}:{offset + size}".encode()).decode()
        return Reply(shape("ListNamedShadowsForThingResponse"), response)
