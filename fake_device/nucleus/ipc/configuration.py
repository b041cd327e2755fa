"""Configuration operations: a component reads, writes and watches configuration over IPC.

Follows aws-greengrass-nucleus ``builtin/services/configstore/ConfigStoreIPCEventStreamAgent``
and ``deployment/DynamicComponentConfigurationValidator``. Every read and write goes to the
device's effective configuration (``services.<component>.configuration`` with its per-leaf
timestamps), the same store deployments merge into, so a value a component writes is what
``{configuration:/…}`` and the next deployment's merge see, and a deployment's change reaches
the component's configuration subscription.

- **GetConfiguration**: any component's configuration (``componentName``, default the caller;
  no authorization, as on a device); ``keyPath`` to a container returns it, to a leaf returns
  ``{leaf: value}``; keys match case-insensitively. Missing component or key →
  ``ResourceNotFoundError`` "Key not found".
- **UpdateConfiguration**: the caller's own configuration only; ``timestamp`` and
  ``valueToMerge`` required, ``accessControl`` may not be written; ``valueToMerge`` is merged into
  the container at ``keyPath`` by the per-leaf timestamp rules
  (:func:`fake_device.nucleus.configuration.merge_at_key_path`); a proposed timestamp older than
  the node's newest write → ``FailedUpdateConditionCheckError`` (what the merge could change
  stays changed, as on the nucleus).
- **SubscribeToConfigurationUpdate**: events ``{componentName, keyPath}`` for every changed leaf
  under the subscribed node, whoever changed it (this component, a deployment, a rollback).
- **SubscribeToValidateConfigurationUpdates** / **SendConfigurationValidityReport**: before a
  deployment changes the configuration of a running component whose version stays the same, the
  component (if subscribed) gets the proposed configuration and the deployment waits for its
  report (``configurationValidationPolicy.timeoutInSeconds``, 20 s without one); a REJECTED report
  or no report in time fails the deployment with ``COMPONENT_CONFIGURATION_NOT_VALID`` before
  anything changed.
"""

from __future__ import annotations

import concurrent.futures
import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from fake_device.nucleus.config_bounds import check_committable
from fake_device.nucleus.configuration import merge_at_key_path
from fake_device.nucleus.deployment import path_pointer, pointer_path
from fake_device.nucleus.ipc.model import (
    FailedUpdateConditionCheckError,
    InvalidArgumentsError,
    ResourceNotFoundError,
    ServiceError,
    ShapeError,
    field,
    shape,
)
from fake_device.nucleus.ipc.server import Call, IpcServer, Reply, Stream
from fake_device.nucleus.store import EffectiveConfig

__all__ = ["ConfigurationAgent", "ConfigurationHost", "ValidationRequest", "changed_paths"]

KEY_NOT_FOUND = "Key not found"
#: top-level configuration keys UpdateConfiguration may not write
RESTRICTED_KEYS = ("accessControl",)
#: DynamicComponentConfigurationValidator.DEFAULT_TIMEOUT_SECOND
DEFAULT_VALIDATION_TIMEOUT = 20


class ConfigurationHost(Protocol):
    """What the configuration operations need from the device."""

    @property
    def config(self) -> EffectiveConfig: ...

    @property
    def config_lock(self) -> AbstractContextManager[Any]: ...

    def commit_configuration(self, config: EffectiveConfig) -> None: ...


def _find_key(node: Mapping[str, Any], key: str) -> str | None:
    """Configuration keys are case-insensitive (``CaseInsensitiveString``)."""
    if key in node:
        return key
    lowered = key.lower()
    return next((k for k in node if k.lower() == lowered), None)


def _service(config: EffectiveConfig, name: str) -> tuple[str, dict[str, Any]] | None:
    key = _find_key(config.services, name)
    return (key, config.services[key]) if key is not None else None


_MISSING = object()


def _node(configuration: Mapping[str, Any], key_path: Sequence[str]) -> tuple[str, Any]:
    """``findNode``: the name and value at ``key_path`` (containers only on the way), or
    ``_MISSING``."""
    name, node = "", configuration
    for token in key_path:
        key = _find_key(node, token) if isinstance(node, Mapping) else None
        if key is None:
            return token, _MISSING
        name, node = key, node[key]
    return name, node


def _key_path(request: Mapping[str, Any]) -> list[str]:
    key_path = field(request, "keyPath", list) or []
    if not all(isinstance(k, str) for k in key_path):
        raise ShapeError(f"keyPath must be a list of strings, got {key_path!r}")
    return key_path


_Leaves = dict[tuple[str, ...], tuple[tuple[str, ...], str]]


def _leaves(node: Any, prefix: tuple[str, ...], out: _Leaves) -> None:
    """Leaf paths keyed case-insensitively → (spelled path, JSON text of the value)."""
    if isinstance(node, Mapping):
        for key, child in node.items():
            _leaves(child, (*prefix, str(key)), out)
    elif prefix:
        out[tuple(p.lower() for p in prefix)] = (prefix, json.dumps(node, sort_keys=True))


def changed_paths(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> list[tuple[str, ...]]:
    """Paths of the leaves added, removed or changed between two configurations (a value of
    another JSON type counts as a change: 1, 1.0 and true differ, as Java objects do)."""
    before: _Leaves = {}
    after: _Leaves = {}
    _leaves(old or {}, (), before)
    _leaves(new or {}, (), after)
    changed = []
    for key in sorted(before.keys() | after.keys()):
        if before.get(key, (None, None))[1] != after.get(key, (None, None))[1]:
            changed.append((after.get(key) or before[key])[0])
    return changed


@dataclass
class _Subscription:
    stream: Stream
    component: str  # as the request named it (the events carry this spelling)
    service_key: str  # lower-cased component name
    path: tuple[str, ...]  # lower-cased key path of the subscribed node


@dataclass(frozen=True)
class ValidationRequest:
    """A running component asked to validate the configuration a deployment proposes."""

    component: str
    configuration: Mapping[str, Any]


class ConfigurationAgent:
    """The configuration operations of one device's IPC server."""

    def __init__(self, host: ConfigurationHost, *, clock: Callable[[], float] = time.time) -> None:
        self.host = host
        self.clock = clock
        self._lock = threading.Lock()
        self._subscriptions: list[_Subscription] = []
        self._validators: dict[str, Stream] = {}
        self._reports: dict[tuple[str, str], concurrent.futures.Future[Mapping[str, Any]]] = {}

    def register(self, server: IpcServer) -> None:
        server.register(shape("GetConfiguration"), self.get_configuration)
        server.register(shape("UpdateConfiguration"), self.update_configuration)
        server.register(shape("SubscribeToConfigurationUpdate"), self.subscribe_to_configuration_update)
        server.register(
            shape("SubscribeToValidateConfigurationUpdates"), self.subscribe_to_validate_configuration_updates
        )
        server.register(shape("SendConfigurationValidityReport"), self.send_configuration_validity_report)

    # -- operations ------------------------------------------------------------------------------
    def get_configuration(self, call: Call) -> Reply:
        name = field(call.request, "componentName", str) or call.component
        key_path = _key_path(call.request)
        found = _service(self.host.config, name)
        if found is None or not isinstance(found[1].get("configuration"), Mapping):
            raise ResourceNotFoundError(KEY_NOT_FOUND)
        leaf_name, node = _node(found[1]["configuration"], key_path)
        if node is _MISSING:
            raise ResourceNotFoundError(KEY_NOT_FOUND)
        value = node if isinstance(node, Mapping) else {leaf_name: node}
        return Reply(shape("GetConfigurationResponse"), {"componentName": name, "value": value})

    def update_configuration(self, call: Call) -> Reply:
        request = call.request
        timestamp = field(request, "timestamp", (int, float))
        value = field(request, "valueToMerge", dict)
        key_path = _key_path(request)
        if timestamp is None:
            raise InvalidArgumentsError("Timestamp is required")
        if value is None:
            raise InvalidArgumentsError("ValueToMerge is required")
        if (not key_path and any(k in RESTRICTED_KEYS for k in value)) or (
            key_path and key_path[0] in RESTRICTED_KEYS
        ):
            raise InvalidArgumentsError(
                f"Config update is not allowed for following fields [{', '.join(RESTRICTED_KEYS)}]"
            )
        with self.host.config_lock:
            config = self.host.config.copy()
            found = _service(config, call.component)
            if found is None:
                raise InvalidArgumentsError(f"Component config not found for component {call.component}")
            entry = found[1]
            stamps = entry.get("configurationTimestamps") or {}
            timestamps = {pointer_path(k): int(v) for k, v in stamps.items()}
            resolved, stale = merge_at_key_path(
                entry.get("configuration") or {},
                timestamps,
                key_path,
                value,
                timestamp=round(float(timestamp) * 1000),
                now=round(self.clock() * 1000),
            )
            entry["configuration"] = resolved.values
            entry["configurationTimestamps"] = {path_pointer(k): v for k, v in resolved.timestamps.items()}
            # the device reads its effective configuration within bounds at boot: never write one
            # it would refuse (the nucleus has no such bound; a deliberate difference, docs/ipc.md)
            too_big = check_committable(config, [call.component])
            if too_big is not None:
                raise InvalidArgumentsError(str(too_big.message))
            self.host.commit_configuration(config)
        if stale:
            raise FailedUpdateConditionCheckError(
                "Proposed timestamp is older than the config's latest modified timestamp"
            )
        return Reply(shape("UpdateConfigurationResponse"))

    def subscribe_to_configuration_update(self, call: Call) -> Reply:
        name = field(call.request, "componentName", str) or call.component
        key_path = _key_path(call.request)
        found = _service(self.host.config, name)
        if found is None or not isinstance(found[1].get("configuration"), Mapping):
            raise ResourceNotFoundError(KEY_NOT_FOUND)
        if _node(found[1]["configuration"], key_path)[1] is _MISSING:
            raise ResourceNotFoundError(KEY_NOT_FOUND)
        subscription = _Subscription(call.stream, name, found[0].lower(), tuple(k.lower() for k in key_path))
        with self._lock:
            self._subscriptions.append(subscription)
        call.stream.on_close(lambda: self._unsubscribe(subscription))
        return Reply(shape("SubscribeToConfigurationUpdateResponse"), keep_open=True)

    def _unsubscribe(self, subscription: _Subscription) -> None:
        with self._lock:
            if subscription in self._subscriptions:
                self._subscriptions.remove(subscription)

    def subscribe_to_validate_configuration_updates(self, call: Call) -> Reply:
        component = call.component
        with self._lock:
            self._validators.setdefault(component, call.stream)
        # the nucleus drops the component's validator when any of its validate streams closes
        call.stream.on_close(lambda: self._drop_validator(component))
        return Reply(shape("SubscribeToValidateConfigurationUpdatesResponse"), keep_open=True)

    def _drop_validator(self, component: str) -> None:
        with self._lock:
            self._validators.pop(component, None)

    def send_configuration_validity_report(self, call: Call) -> Reply:
        report = field(call.request, "configurationValidityReport", dict)
        if report is None:
            raise ServiceError("configurationValidityReport is required")
        deployment_id = field(report, "deploymentId", str)
        if deployment_id is None:
            raise InvalidArgumentsError(
                "Cannot accept configuration validity report, the deployment ID provided was null"
            )
        with self._lock:
            future = self._reports.pop((call.component, deployment_id), None)
        if future is None:
            raise InvalidArgumentsError("Validation request either timed out or was never made")
        if not future.done():
            future.set_result(dict(report))
        return Reply(shape("SendConfigurationValidityReportResponse"))

    # -- from the device -------------------------------------------------------------------------
    def committed(self, old: EffectiveConfig, new: EffectiveConfig) -> None:
        """Send configuration update events for what changed between two committed
        configurations (components present in both)."""
        with self._lock:
            subscriptions = list(self._subscriptions)
        if not subscriptions or old is new:
            return
        old_services = {k.lower(): v for k, v in old.services.items()}
        for name, entry in new.services.items():
            key = name.lower()
            watching = [s for s in subscriptions if s.service_key == key]
            if not watching or key not in old_services:
                continue
            paths = changed_paths(old_services[key].get("configuration"), entry.get("configuration"))
            for path in paths:
                lowered = tuple(p.lower() for p in path)
                for subscription in watching:
                    if lowered[: len(subscription.path)] == subscription.path:
                        event = {"componentName": subscription.component, "keyPath": list(path)}
                        subscription.stream.send_event(
                            shape("ConfigurationUpdateEvents"), {"configurationUpdateEvent": event}
                        )

    def validate(
        self, deployment_id: str, requests: Sequence[ValidationRequest], timeout: float
    ) -> str | None:
        """Ask the subscribed components to validate their proposed configuration and wait for
        their reports. Returns the failure message, or ``None`` when the deployment may go on."""
        pending: list[tuple[str, concurrent.futures.Future[Mapping[str, Any]]]] = []
        with self._lock:
            for request in requests:
                stream = self._validators.get(request.component)
                if stream is None or stream.closed:
                    continue
                future: concurrent.futures.Future[Mapping[str, Any]] = concurrent.futures.Future()
                self._reports[(request.component, deployment_id)] = future
                pending.append((request.component, future))
                event = {"configuration": dict(request.configuration), "deploymentId": deployment_id}
                stream.send_event(
                    shape("ValidateConfigurationUpdateEvents"), {"validateConfigurationUpdateEvent": event}
                )
        if not pending:
            return None
        try:
            _, not_done = concurrent.futures.wait([f for _, f in pending], timeout=timeout)
            if not_done:
                # the nucleus's message ends with the TimeoutException's (null) message
                return "Error while waiting for validation report for one or more components:null"
            message = "Components reported that their to-be-deployed configuration is invalid"
            valid = True
            for component, future in pending:
                report = future.result()
                if report.get("status") == "REJECTED":
                    valid = False
                    message += f" {{ name = {component}, message = {report.get('message')} }}"
            return None if valid else message
        finally:
            with self._lock:
                for component, _ in pending:
                    self._reports.pop((component, deployment_id), None)
