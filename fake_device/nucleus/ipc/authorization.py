"""IPC authorization: the ``accessControl`` policies of component configurations.

A component is allowed an operation on a resource of an IPC service only if some component
configuration grants it (aws-greengrass-nucleus ``authorization/AuthorizationHandler``,
``AuthorizationPolicyParser``, ``AuthorizationModule``, ``WildcardTrie``)::

    accessControl:
      aws.greengrass.ipc.pubsub:            # the destination service
        com.example.Camera:pubsub:1:         # a policy id
          policyDescription: publish detections
          operations: [aws.greengrass#PublishToTopic]
          resources: [detections/*]

Rules, as the nucleus applies them:

- a policy belongs to the component whose configuration holds it (its principal); policies of
  every component in the effective configuration count, whether it runs or not;
- destinations are the registered IPC services (:data:`OPERATIONS`); a policy for an unknown one
  is ignored; an operation the destination does not register fails the check ("Component X not
  registered for operation Y"); ``*`` as an operation grants all of them;
- a policy without ``operations`` is ignored; a resource that is empty, holds an unescaped ``?`` or
  an escape other than ``${*}``, ``${$}``, ``${?}`` is ignored (the nucleus logs it);
- resources: ``*`` matches any characters (``/`` included); ``${c}`` is a literal ``c``. Services
  that match MQTT-style (``aws.greengrass.ipc.mqttproxy``) also honour ``#`` as a whole last
  level (``a/#`` matches ``a``, ``a/`` and ``a/b/c``; ``#`` alone matches everything) and ``+`` as
  a whole level (one level, no ``/``); elsewhere ``#`` and ``+`` are ordinary characters — local
  pub/sub matches STANDARD, as ``PubSubIPCEventStreamAgent`` asks;
- a denied request names principal, destination, operation and resource in the nucleus's words.

The table is rebuilt when the committed configuration changes (the nucleus reloads on any
``accessControl`` change).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from fake_device.nucleus.ipc.model import shape
from fake_device.nucleus.store import EffectiveConfig

__all__ = [
    "ANY",
    "OPERATIONS",
    "AuthorizationError",
    "Authorizer",
    "ResourceLookup",
    "resource_pattern",
    "validate_resource",
]

ANY = "*"
PUBSUB = "aws.greengrass.ipc.pubsub"
MQTT_PROXY = "aws.greengrass.ipc.mqttproxy"
SECRET_MANAGER = "aws.greengrass.SecretManager"
SHADOW_MANAGER = "aws.greengrass.ShadowManager"
LIFECYCLE = "aws.greengrass.ipc.lifecycle"
CLIENT_DEVICES_AUTH = "aws.greengrass.clientdevices.Auth"
CLI = "aws.greengrass.Cli"
COMPONENT_METRIC = "aws.greengrass.ipc.componentmetric"


def _ops(*names: str) -> frozenset[str]:
    return frozenset({ANY, *(shape(n) for n in names)})


#: the destinations the nucleus registers and their operations (AuthorizationHandler constructor)
OPERATIONS: dict[str, frozenset[str]] = {
    PUBSUB: _ops("PublishToTopic", "SubscribeToTopic"),
    MQTT_PROXY: _ops("PublishToIoTCore", "SubscribeToIoTCore"),
    SECRET_MANAGER: _ops("GetSecretValue"),
    SHADOW_MANAGER: _ops(
        "GetThingShadow", "UpdateThingShadow", "DeleteThingShadow", "ListNamedShadowsForThing"
    ),
    LIFECYCLE: _ops("PauseComponent", "ResumeComponent"),
    CLIENT_DEVICES_AUTH: _ops(
        "SubscribeToCertificateUpdates",
        "VerifyClientDeviceIdentity",
        "GetClientDeviceAuthToken",
        "AuthorizeClientDeviceAction",
    ),
    CLI: _ops(
        "GetComponentDetails",
        "ListComponents",
        "RestartComponent",
        "StopComponent",
        "CreateLocalDeployment",
        "GetLocalDeploymentStatus",
        "ListLocalDeployments",
        "CreateDebugPassword",
    ),
    COMPONENT_METRIC: _ops("PutComponentMetric"),
}


class ResourceLookup(Enum):
    """``AuthorizationHandler.ResourceLookupPolicy``."""

    STANDARD = "STANDARD"
    MQTT_STYLE = "MQTT_STYLE"


class AuthorizationError(Exception):
    """``AuthorizationException``: the handlers turn it into ``UnauthorizedError``."""


_SPECIAL = "*$?"


def validate_resource(resource: str) -> str | None:
    """``AuthorizationModule.validateResource``: why a policy resource is not valid, or ``None``."""
    if resource == "":
        return "Resource cannot be empty"
    i = 0
    while i < len(resource):
        char = resource[i]
        if char == "$" and resource[i + 1 : i + 2] == "{":
            if len(resource) - i < 4 or resource[i + 3] != "}":
                return "Resource contains an invalid escape sequence. You can use ${*}, ${$}, or ${?}"
            if resource[i + 2] not in _SPECIAL:
                return (
                    f"Resource contains an invalid escape sequence: ${{{resource[i + 2]}}}. "
                    "You can use ${*}, ${$}, or ${?}"
                )
            i += 4
            continue
        if char == "?":
            return (
                "Resource contains invalid character: '?'. Use an escape sequence: ${?}. "
                "The '?' character isn't supported as a wildcard"
            )
        i += 1
    return None


def resource_pattern(resource: str, lookup: ResourceLookup) -> re.Pattern[str]:
    """The regular expression equivalent to ``WildcardTrie`` matching of one policy resource."""
    tokens: list[tuple[str, str]] = []  # ("lit", char) | ("wild", char)
    i = 0
    while i < len(resource):
        char = resource[i]
        escaped = resource[i + 1 : i + 2] == "{" and len(resource) - i >= 4 and resource[i + 3] == "}"
        if char == "$" and escaped:
            tokens.append(("lit", resource[i + 2]))
            i += 4
            continue
        tokens.append(("wild", char) if char in "*#+" else ("lit", char))
        i += 1
    mqtt = lookup == ResourceLookup.MQTT_STYLE
    out: list[str] = []
    last = len(tokens) - 1
    for index, (kind, char) in enumerate(tokens):
        before = tokens[index - 1] if index > 0 else None
        after = tokens[index + 1] if index < last else None
        after_slash = before == ("lit", "/")
        if kind == "lit":
            out.append(re.escape(char))
        elif char == "*":
            out.append(".*")
        elif mqtt and char == "#" and index == last and (index == 0 or after_slash):
            if after_slash:
                out.pop()  # "a/#" also matches "a"
                out.append("(?:/.*)?")
            else:
                out.append(".*")
        elif mqtt and char == "+" and (index == 0 or after_slash) and after in (None, ("lit", "/")):
            out.append("[^/]*")
        else:
            out.append(re.escape(char))
    return re.compile("".join(out), re.DOTALL)


@dataclass
class _Table:
    """destination → principal → operation → resource patterns (``None``: a policy without
    resources, which grants nothing a resource is checked against)."""

    entries: dict[str, dict[str, dict[str, list[str | None]]]] = field(default_factory=dict)
    compiled: dict[tuple[str, ResourceLookup], re.Pattern[str]] = field(default_factory=dict)

    def add(self, destination: str, principal: str, operation: str, resource: str | None) -> None:
        by_principal = self.entries.setdefault(destination, {}).setdefault(principal, {})
        by_principal.setdefault(operation, []).append(resource)

    def matches(
        self, destination: str, principal: str, operation: str, resource: str | None, lookup: ResourceLookup
    ) -> bool:
        resources = self.entries.get(destination, {}).get(principal, {}).get(operation)
        if resources is None:
            return False
        if resource is None:
            return True  # WildcardTrie.matches(null)
        for pattern in resources:
            if pattern is None:
                continue
            key = (pattern, lookup)
            if key not in self.compiled:
                self.compiled[key] = resource_pattern(pattern, lookup)
            if self.compiled[key].fullmatch(resource):
                return True
        return False


def _strings(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(v) for v in value]
    return None


def _key(mapping: Mapping[str, Any], name: str) -> Any:
    """Policy fields are read case-insensitively (``ACCEPT_CASE_INSENSITIVE_PROPERTIES``)."""
    return next((v for k, v in mapping.items() if str(k).lower() == name.lower()), None)


class Authorizer:
    """Answers "may this component do this?" from the committed configuration."""

    def __init__(self, config: Callable[[], EffectiveConfig], *, warn: Callable[[str], None] | None = None):
        self._config = config
        self._warn = warn or (lambda _message: None)
        self._lock = threading.Lock()
        self._source: EffectiveConfig | None = None
        self._table = _Table()

    def _current(self) -> _Table:
        config = self._config()
        with self._lock:
            if config is not self._source:
                self._table = self._load(config)
                self._source = config
            return self._table

    def _load(self, config: EffectiveConfig) -> _Table:
        table = _Table()
        for principal, entry in sorted(config.services.items()):
            configuration = entry.get("configuration")
            access = _key(configuration, "accessControl") if isinstance(configuration, Mapping) else None
            if not isinstance(access, Mapping):
                continue
            for destination, policies in access.items():
                if destination not in OPERATIONS:
                    self._warn(f"{principal}: accessControl names {destination}, which is not an IPC service")
                    continue
                for policy_id, policy in policies.items() if isinstance(policies, Mapping) else ():
                    if isinstance(policy, Mapping):
                        self._load_policy(table, principal, destination, str(policy_id), policy)
        return table

    def _load_policy(
        self, table: _Table, principal: str, destination: str, policy_id: str, policy: Mapping[str, Any]
    ) -> None:
        where = f"{principal}: policy {policy_id} for {destination}"
        operations = _strings(_key(policy, "operations"))
        if not operations:
            self._warn(f"{where} has no operations")
            return
        unknown = [o for o in operations if o not in OPERATIONS[destination]]
        if unknown:  # logged by the nucleus, the policy is still loaded
            self._warn(f"{where}: {destination} registers no operation {', '.join(unknown)}")
        resources = _strings(_key(policy, "resources"))
        for operation in operations:
            if not resources:
                table.add(destination, principal, operation, None)
            for resource in resources or ():
                problem = validate_resource(resource)
                if problem is not None:
                    self._warn(f"{where}: resource {resource!r} ignored: {problem}")
                    continue
                table.add(destination, principal, operation, resource)

    def check(
        self,
        destination: str,
        principal: str,
        operation: str,
        resource: str | None,
        lookup: ResourceLookup = ResourceLookup.STANDARD,
    ) -> None:
        """``AuthorizationHandler.isAuthorized``: returns, or raises :class:`AuthorizationError`."""
        if destination not in OPERATIONS:
            raise AuthorizationError(f"Component not registered: {destination}")
        if operation not in OPERATIONS[destination]:
            raise AuthorizationError(f"Component {destination} not registered for operation {operation}")
        if resource == "":
            raise AuthorizationError("Resource cannot be empty")
        table = self._current()
        for who, what in ((principal, operation), (principal, ANY), (ANY, operation), (ANY, ANY)):
            if table.matches(destination, who, what, resource, lookup):
                return
        raise AuthorizationError(
            f"Principal {principal} is not authorized to perform {destination}:{operation} "
            f"on resource {resource}"
        )
