"""Greengrass CLI operations over IPC: component details, list, restart, stop.

A real device serves these only while the ``aws.greengrass.Cli`` component (a nucleus plugin) is
deployed (aws-greengrass-cli ``server/…/CLIEventStreamAgent``); without it they are model
operations the nucleus does not serve (``ServiceError`` "Operation … is not supported by
Greengrass"). The simulator serves them while a component of that name is in the device's
configuration. Every call is authorized against ``aws.greengrass.Cli`` policies (the component
name as resource; ``*`` for ListComponents); the CLI itself is always allowed.

- **GetComponentDetails** / **ListComponents**: name, version, state and configuration of the
  device's components (a device also lists the nucleus's own services; the simulator has none);
- **RestartComponent** / **StopComponent**: ask the component's lifecycle to restart or stop;
  ``SUCCEEDED`` means the request was taken, as on the device.

Local deployments (``CreateLocalDeployment``, ``GetLocalDeploymentStatus``,
``ListLocalDeployments``, ``CancelLocalDeployment``) and ``CreateDebugPassword`` are not
simulated: the device answers them as a nucleus without the CLI does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from fake_device.nucleus.ipc.authorization import ANY, CLI, AuthorizationError, Authorizer
from fake_device.nucleus.ipc.model import (
    InvalidArgumentsError,
    ResourceNotFoundError,
    ServiceError,
    UnauthorizedError,
    field,
    shape,
)
from fake_device.nucleus.ipc.server import Call, IpcServer, Reply
from fake_device.nucleus.lifecycle import ComponentService
from fake_device.nucleus.store import EffectiveConfig

__all__ = ["CliAgent", "CliHost"]

#: CLIService.GREENGRASS_CLI_CLIENT_ID_PREFIX: the greengrass-cli command's own clients
CLI_CLIENT_PREFIX = "greengrass-cli#"


class CliHost(Protocol):
    @property
    def config(self) -> EffectiveConfig: ...

    @property
    def services(self) -> Mapping[str, ComponentService]: ...


class CliAgent:
    """The CLI operations of one device's IPC server."""

    def __init__(self, host: CliHost, authorizer: Authorizer) -> None:
        self.host = host
        self.authorizer = authorizer

    def register(self, server: IpcServer) -> None:
        server.register(shape("GetComponentDetails"), self.get_component_details)
        server.register(shape("ListComponents"), self.list_components)
        server.register(shape("RestartComponent"), self.restart_component)
        server.register(shape("StopComponent"), self.stop_component)

    def _serving(self, call: Call) -> None:
        if CLI not in self.host.config.services:
            raise ServiceError(f"Operation {call.operation} is not supported by Greengrass")

    def _authorize(self, call: Call, resource: str) -> None:
        """``CLIEventStreamAgent.authorizeRequest``."""
        if call.component == CLI or call.component.startswith(CLI_CLIENT_PREFIX):
            return
        try:
            self.authorizer.check(CLI, call.component, call.operation, resource)
        except AuthorizationError as err:
            raise UnauthorizedError(str(err)) from None

    def _named(self, call: Call) -> tuple[str, ComponentService]:
        self._serving(call)
        name = field(call.request, "componentName", str)
        if not name:
            raise InvalidArgumentsError("Component name cannot be empty")
        self._authorize(call, name)
        service = self.host.services.get(name)
        if service is None:
            raise ResourceNotFoundError(f"Component with name {name} not found in Greengrass")
        return name, service

    def _details(self, service: ComponentService) -> dict[str, Any]:
        entry = self.host.config.services.get(service.name, {})
        details: dict[str, Any] = {
            "componentName": service.name,
            "version": service.spec.version,
            "state": str(service.state),
        }
        if isinstance(entry.get("configuration"), Mapping):
            details["configuration"] = entry["configuration"]
        return details

    def get_component_details(self, call: Call) -> Reply:
        _, service = self._named(call)
        return Reply(shape("GetComponentDetailsResponse"), {"componentDetails": self._details(service)})

    def list_components(self, call: Call) -> Reply:
        self._serving(call)
        self._authorize(call, ANY)
        components = [self._details(s) for _, s in sorted(self.host.services.items())]
        return Reply(shape("ListComponentsResponse"), {"components": components})

    def restart_component(self, call: Call) -> Reply:
        _, service = self._named(call)
        service.request_restart()
        return Reply(shape("RestartComponentResponse"), {"restartStatus": "SUCCEEDED"})

    def stop_component(self, call: Call) -> Reply:
        _, service = self._named(call)
        service.request_stop()
        return Reply(shape("StopComponentResponse"), {"stopStatus": "SUCCEEDED"})
