"""Greengrass CLI operations over IPC: components (details, list, restart, stop) and local deployments.

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

- **CreateLocalDeployment**: queues a local deployment (:mod:`fake_device.nucleus.local_deployments`)
  and answers its UUID; authorized on ``*``. A thing group name with ``:`` is
  ``InvalidArgumentsError``; an artifacts folder that contains the device's own artifact store
  is ``InvalidArtifactsDirectoryPathError``;
- **GetLocalDeploymentStatus**: ``deploymentId`` must be a UUID (``InvalidArgumentsError``
  "Invalid deploymentId format received. DeploymentId is a UUID"), authorized on that id; an
  unknown one is ``ResourceNotFoundError`` "Cannot find deployment";
- **ListLocalDeployments**: every local deployment with its status and creation time;
- **CancelLocalDeployment**: ``deploymentId`` must be a UUID (checked before authorization, on
  ``*``); an unknown one is ``ResourceNotFoundError`` "Cannot find the deployment id provided
  <id>"; one that is neither QUEUED nor IN_PROGRESS answers "Cancellation request is not processed
  because deployment is already finished"; otherwise "Cancel request submitted. Deployment ID:
  <id>" — a queued deployment is CANCELED at once, one in progress when the device reaches its
  next cancellation point (see :mod:`fake_device.nucleus.kernel`).

``CreateDebugPassword`` is not simulated: the device answers it as a nucleus without the
providing component does ("not supported").
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from fake_device.nucleus.ipc.authorization import ANY, CLI, AuthorizationError, Authorizer
from fake_device.nucleus.ipc.model import (
    InvalidArgumentsError,
    InvalidArtifactsDirectoryPathError,
    ResourceNotFoundError,
    ServiceError,
    UnauthorizedError,
    field,
    shape,
)
from fake_device.nucleus.ipc.server import Call, IpcServer, Reply
from fake_device.nucleus.lifecycle import ComponentService
from fake_device.nucleus.local_deployments import LocalDeployments, created_on_text
from fake_device.nucleus.paths import NucleusPaths
from fake_device.nucleus.store import EffectiveConfig

__all__ = ["CliAgent", "CliHost"]

#: CLIService.GREENGRASS_CLI_CLIENT_ID_PREFIX: the greengrass-cli command's own clients
CLI_CLIENT_PREFIX = "greengrass-cli#"


class CliHost(Protocol):
    paths: NucleusPaths
    local_deployments: LocalDeployments

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
        server.register(shape("CreateLocalDeployment"), self.create_local_deployment)
        server.register(shape("GetLocalDeploymentStatus"), self.get_local_deployment_status)
        server.register(shape("ListLocalDeployments"), self.list_local_deployments)
        server.register(shape("CancelLocalDeployment"), self.cancel_local_deployment)

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

    # -- local deployments -----------------------------------------------------------------------
    def create_local_deployment(self, call: Call) -> Reply:
        self._serving(call)
        self._authorize(call, ANY)
        request: dict[str, Any] = {}
        for key, kind in (
            ("groupName", str),
            ("rootComponentVersionsToAdd", dict),
            ("rootComponentsToRemove", list),
            ("componentToConfiguration", dict),
            ("componentToRunWithInfo", dict),
            ("recipeDirectoryPath", str),
            ("artifactsDirectoryPath", str),
            ("failureHandlingPolicy", str),
        ):
            value = field(call.request, key, kind)
            if value is not None:
                request[key] = value
        artifacts = request.get("artifactsDirectoryPath")
        if artifacts:
            store = (self.host.paths.root / "packages" / "artifacts").resolve()
            if store == Path(artifacts).resolve() or Path(artifacts).resolve() in store.parents:
                raise InvalidArtifactsDirectoryPathError(
                    "Requested artifacts directory path is parent of kernel artifacts directory path. "
                    "Specify another path to avoid recursive copy"
                )
        if ":" in str(request.get("groupName") or ""):
            raise InvalidArgumentsError("Thing group name cannot contain colon characters")
        deployment_id = self.host.local_deployments.create(request)
        return Reply(shape("CreateLocalDeploymentResponse"), {"deploymentId": deployment_id})

    def get_local_deployment_status(self, call: Call) -> Reply:
        self._serving(call)
        deployment_id = _deployment_id(call)
        self._authorize(call, deployment_id)
        entry = self.host.local_deployments.get(str(deployment_id))
        if entry is None:
            raise ResourceNotFoundError(
                "Cannot find deployment", resource_type="LocalDeployment", resource_name=deployment_id
            )
        deployment = _local_deployment(entry)
        details = entry.get("statusDetails")
        if details:
            deployment["deploymentStatusDetails"] = {
                k: v
                for k, v in (
                    ("detailedDeploymentStatus", details.get("detailed")),
                    ("deploymentErrorStack", details.get("errorStack") or None),
                    ("deploymentErrorTypes", details.get("errorTypes") or None),
                    ("deploymentFailureCause", details.get("failureCause") or None),
                )
                if v is not None
            }
        return Reply(shape("GetLocalDeploymentStatusResponse"), {"deployment": deployment})

    def cancel_local_deployment(self, call: Call) -> Reply:
        """``CancelLocalDeploymentHandler``."""
        self._serving(call)
        deployment_id = _deployment_id(call)
        self._authorize(call, ANY)
        status = self.host.local_deployments.cancel(deployment_id)
        if status is None:
            raise ResourceNotFoundError(
                f"Cannot find the deployment id provided {deployment_id}",
                resource_type="LocalDeployment",
                resource_name=deployment_id,
            )
        if status not in ("QUEUED", "IN_PROGRESS"):
            message = "Cancellation request is not processed because deployment is already finished"
        else:
            message = f"Cancel request submitted. Deployment ID: {deployment_id}"
        return Reply(shape("CancelLocalDeploymentResponse"), {"message": message})

    def list_local_deployments(self, call: Call) -> Reply:
        self._serving(call)
        self._authorize(call, ANY)
        deployments = [_local_deployment(e) for e in self.host.local_deployments.all()]
        return Reply(shape("ListLocalDeploymentsResponse"), {"localDeployments": deployments})


def _deployment_id(call: Call) -> str:
    """The request's ``deploymentId``, which must be a UUID (``UUID.fromString``)."""
    deployment_id = field(call.request, "deploymentId", str)
    try:
        uuid.UUID(str(deployment_id))
    except ValueError:
        raise InvalidArgumentsError("Invalid deploymentId format received. DeploymentId is a UUID") from None
    return str(deployment_id)


def _local_deployment(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The model's ``LocalDeployment`` shape."""
    return {
        "deploymentId": entry["deploymentId"],
        "status": entry["status"],
        "createdOn": created_on_text(int(entry["createdOn"])),
    }
