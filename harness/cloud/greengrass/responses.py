"""Greengrass V2 operations: input members in, output members out (moto's ``responses.py`` role).

Each method gets the members :class:`~harness.cloud.protocol.ServiceProtocol` parsed and
validated against the operation's input shape and returns the members of its output shape; the
protocol serialises them (and would reject a misspelt member). Each call holds the region's lock
for its whole duration (:meth:`harness.cloud.store.CloudStore.locked`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from harness.cloud.app import RequestContext
from harness.cloud.greengrass.models import (
    NUCLEUS_RUNTIME,
    ComponentVersion,
    CoreDevice,
    Deployment,
    GreengrassBackend,
    InstalledComponent,
    invalid,
    presigned_get,
)
from harness.cloud.jobs import Job, JobExecution
from harness.cloud.pagination import paginate
from harness.cloud.store import CloudStore, default_store

#: coreDeviceExecutionStatus has no REMOVED; a thing that left the group before it started the
#: job no longer runs that deployment
_EFFECTIVE_STATUS = {"REMOVED": "CANCELED"}


class GreengrassResponses:
    def __init__(self, store: CloudStore, context: RequestContext) -> None:
        self.store = store
        self.context = context

    @contextmanager
    def _backend(self) -> Iterator[GreengrassBackend]:
        with self.store.locked(self.context.account_id, self.context.region) as state:
            yield state.greengrass

    # -- components -------------------------------------------------------------------------------

    def create_component_version(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("lambdaFunction") is not None:
            raise invalid(
                "lambdaFunction is not supported by the edge-harness endpoint: create the component "
                "from an inlineRecipe",
                [("lambdaFunction", "not supported")],
            )
        recipe = params.get("inlineRecipe")
        if not recipe:
            raise invalid("Either inlineRecipe or lambdaFunction is required", [("inlineRecipe", "missing")])
        with self._backend() as gg:
            component = gg.create_component_version(
                recipe, tags=params.get("tags"), client_token=params.get("clientToken")
            )
            return {
                "arn": component.arn,
                "componentName": component.name,
                "componentVersion": component.version,
                "creationTimestamp": component.created_at,
                "status": _component_status(),
            }

    def get_component(self, params: dict[str, Any]) -> dict[str, Any]:
        fmt = params.get("recipeOutputFormat") or "JSON"
        with self._backend() as gg:
            component = gg.get_component_version(params["arn"])
            text = component.recipe.to_yaml() if fmt == "YAML" else component.recipe.to_json()
            return {"recipeOutputFormat": fmt, "recipe": text.encode(), "tags": gg.tags_of(component.arn)}

    def describe_component(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._backend() as gg:
            component = gg.get_component_version(params["arn"])
            return {
                "arn": component.arn,
                "componentName": component.name,
                "componentVersion": component.version,
                "creationTimestamp": component.created_at,
                "publisher": component.recipe.publisher,
                "description": component.recipe.description,
                "status": _component_status(),
                "platforms": component.platforms,
                "tags": gg.tags_of(component.arn),
            }

    def list_components(self, params: dict[str, Any]) -> dict[str, Any]:
        scope = params.get("scope") or "PRIVATE"
        with self._backend() as gg:
            # PUBLIC components are the ones AWS publishes (aws.greengrass.Nucleus, …): none here.
            latest = gg.list_components() if scope == "PRIVATE" else []
            page, token = paginate(
                latest,
                next_token=params.get("nextToken"),
                max_results=params.get("maxResults"),
                query=("ListComponents", scope),
            )
            return {"components": [_component_summary(c) for c in page], "nextToken": token}

    def list_component_versions(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._backend() as gg:
            versions = gg.component_versions(params["arn"])
            page, token = paginate(
                versions,
                next_token=params.get("nextToken"),
                max_results=params.get("maxResults"),
                query=("ListComponentVersions", params["arn"]),
            )
            return {
                "componentVersions": [
                    {"componentName": c.name, "componentVersion": c.version, "arn": c.arn} for c in page
                ],
                "nextToken": token,
            }

    def delete_component(self, params: dict[str, Any]) -> None:
        with self._backend() as gg:
            gg.delete_component(params["arn"])

    def resolve_component_candidates(self, params: dict[str, Any]) -> dict[str, Any]:
        platform = (params.get("platform") or {}).get("attributes") or {}
        candidates = params.get("componentCandidates") or []
        with self._backend() as gg:
            resolved = [gg.resolve(platform, candidate) for candidate in candidates]
            return {
                "resolvedComponentVersions": [
                    {
                        "arn": c.arn,
                        "componentName": c.name,
                        "componentVersion": c.version,
                        "recipe": c.recipe.to_json().encode(),
                        "vendorGuidance": "ACTIVE",
                    }
                    for c in resolved
                ]
            }

    def get_component_version_artifact(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._backend() as gg:
            bucket, key = gg.artifact_object(params["arn"], params["artifactName"])
        return {"preSignedUrl": presigned_get(self.context.base_url, self.context.region, bucket, key)}

    # -- deployments ------------------------------------------------------------------------------

    def create_deployment(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._backend() as gg:
            deployment = gg.create_deployment(params)
            return {
                "deploymentId": deployment.deployment_id,
                "iotJobId": deployment.job_id,
                "iotJobArn": deployment.job_arn,
            }

    def get_deployment(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._backend() as gg:
            deployment = gg.get_deployment(params["deploymentId"])
            return {
                "targetArn": deployment.target_arn,
                "revisionId": str(deployment.revision),
                "deploymentId": deployment.deployment_id,
                "deploymentName": deployment.name,
                "deploymentStatus": gg.deployment_status(deployment),
                "iotJobId": deployment.job_id,
                "iotJobArn": deployment.job_arn,
                "components": deployment.components,
                "deploymentPolicies": deployment.policies,
                "iotJobConfiguration": deployment.iot_job_configuration,
                "creationTimestamp": deployment.created_at,
                "isLatestForTarget": deployment.is_latest,
                "parentTargetArn": deployment.parent_target_arn,
                "tags": gg.tags_of(gg.deployment_arn(deployment.deployment_id)),
            }

    def list_deployments(self, params: dict[str, Any]) -> dict[str, Any]:
        history = params.get("historyFilter") or "LATEST_ONLY"
        target, parent = params.get("targetArn"), params.get("parentTargetArn")
        with self._backend() as gg:
            found = gg.list_deployments(target_arn=target, history=history, parent_target_arn=parent)
            page, token = paginate(
                found,
                next_token=params.get("nextToken"),
                max_results=params.get("maxResults"),
                query=("ListDeployments", target, history, parent),
            )
            return {"deployments": [_deployment_summary(gg, d) for d in page], "nextToken": token}

    def cancel_deployment(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._backend() as gg:
            gg.cancel_deployment(params["deploymentId"])
            return {"message": f"Deployment {params['deploymentId']} was canceled"}

    def delete_deployment(self, params: dict[str, Any]) -> None:
        with self._backend() as gg:
            gg.delete_deployment(params["deploymentId"])

    # -- core devices -----------------------------------------------------------------------------

    def get_core_device(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._backend() as gg:
            device = gg.get_core_device(params["coreDeviceThingName"])
            return {
                **_core_device(device),
                "coreVersion": device.core_version,
                "tags": gg.tags_of(device.arn),
            }

    def list_core_devices(self, params: dict[str, Any]) -> dict[str, Any]:
        group, status, runtime = params.get("thingGroupArn"), params.get("status"), params.get("runtime")
        with self._backend() as gg:
            devices = gg.list_core_devices(thing_group_arn=group, status=status)
            if runtime is not None:
                devices = [d for d in devices if runtime == _core_device(d)["runtime"]]
            page, token = paginate(
                devices,
                next_token=params.get("nextToken"),
                max_results=params.get("maxResults"),
                query=("ListCoreDevices", group, status, runtime),
            )
            return {"coreDevices": [_core_device(d) for d in page], "nextToken": token}

    def delete_core_device(self, params: dict[str, Any]) -> None:
        with self._backend() as gg:
            gg.delete_core_device(params["coreDeviceThingName"])

    def list_installed_components(self, params: dict[str, Any]) -> dict[str, Any]:
        thing = params["coreDeviceThingName"]
        # API reference: "Default: ROOT" — only the components deployments named
        topology = params.get("topologyFilter") or "ROOT"
        with self._backend() as gg:
            device = gg.get_core_device(thing)
            components = [c for _, c in sorted(device.components.items()) if topology == "ALL" or c.is_root]
            page, token = paginate(
                components,
                next_token=params.get("nextToken"),
                max_results=params.get("maxResults"),
                query=("ListInstalledComponents", thing, topology),
            )
            return {"installedComponents": [_installed(c) for c in page], "nextToken": token}

    def list_effective_deployments(self, params: dict[str, Any]) -> dict[str, Any]:
        thing = params["coreDeviceThingName"]
        with self._backend() as gg:
            found = gg.effective_deployments(thing)
            page, token = paginate(
                found,
                next_token=params.get("nextToken"),
                max_results=params.get("maxResults"),
                query=("ListEffectiveDeployments", thing),
            )
            return {"effectiveDeployments": [_effective(*item) for item in page], "nextToken": token}

    # -- tags -------------------------------------------------------------------------------------

    def tag_resource(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._backend() as gg:
            gg.tag_resource(params["resourceArn"], params["tags"])
        return {}

    def untag_resource(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._backend() as gg:
            gg.untag_resource(params["resourceArn"], params["tagKeys"])
        return {}

    def list_tags_for_resource(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._backend() as gg:
            return {"tags": gg.list_tags(params["resourceArn"])}


def _component_status() -> dict[str, Any]:
    # The service answers REQUESTED, then moves to DEPLOYABLE once the artifacts are checked; here
    # the checks happen inside the call, so the version is deployable when it returns.
    return {"componentState": "DEPLOYABLE", "message": "NONE", "errors": {}, "vendorGuidance": "ACTIVE"}


def _component_summary(component: ComponentVersion) -> dict[str, Any]:
    return {
        "arn": component.component_arn,
        "componentName": component.name,
        "latestVersion": {
            "arn": component.arn,
            "componentVersion": component.version,
            "creationTimestamp": component.created_at,
            "description": component.recipe.description,
            "publisher": component.recipe.publisher,
            "platforms": component.platforms,
        },
    }


def _deployment_summary(gg: GreengrassBackend, deployment: Deployment) -> dict[str, Any]:
    return {
        "targetArn": deployment.target_arn,
        "revisionId": str(deployment.revision),
        "deploymentId": deployment.deployment_id,
        "deploymentName": deployment.name,
        "creationTimestamp": deployment.created_at,
        "deploymentStatus": gg.deployment_status(deployment),
        "isLatestForTarget": deployment.is_latest,
        "parentTargetArn": deployment.parent_target_arn,
    }


def _core_device(device: CoreDevice) -> dict[str, Any]:
    return {
        "coreDeviceThingName": device.thing_name,
        "status": device.status,
        "lastStatusUpdateTimestamp": device.last_status_update,
        "platform": device.platform,
        "architecture": device.architecture,
        "runtime": NUCLEUS_RUNTIME,
    }


def _installed(component: InstalledComponent) -> dict[str, Any]:
    return {
        "componentName": component.name,
        "componentVersion": component.version,
        "lifecycleState": component.lifecycle_state,
        "lifecycleStateDetails": component.state_details or None,
        "isRoot": component.is_root,
        "lastStatusChangeTimestamp": component.last_status_change,
        "lastReportedTimestamp": component.last_reported,
        "lastInstallationSource": component.last_installation_source,
        "lifecycleStatusCodes": component.status_codes,
    }


def _json_list(text: str | None) -> list[str] | None:
    """A status detail the nucleus wrote as a JSON list (``IotJobsHelper.buildJobStatusDetails``)."""
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return [part.strip() for part in text.split(",") if part.strip()]
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _effective(deployment: Deployment, job: Job, execution: JobExecution) -> dict[str, Any]:
    details = execution.status_details
    # reason: the nucleus's detailed deployment status (SUCCESSFUL, FAILED_ROLLBACK_COMPLETE, …),
    # else its failure cause (DeploymentService: detailed-deployment-status, deployment-failure-cause)
    reason = details.get("detailed-deployment-status") or details.get("deployment-failure-cause")
    stack, types = (
        _json_list(details.get("deployment-error-stack")),
        _json_list(details.get("deployment-error-types")),
    )
    return {
        "deploymentId": deployment.deployment_id,
        "deploymentName": deployment.name,
        "iotJobId": job.job_id,
        "iotJobArn": job.job_arn,
        "targetArn": deployment.target_arn,
        "coreDeviceExecutionStatus": _EFFECTIVE_STATUS.get(execution.status, execution.status),
        "reason": reason,
        "creationTimestamp": deployment.created_at,
        "modifiedTimestamp": execution.last_updated_at,
        "statusDetails": {"errorStack": stack, "errorTypes": types} if (stack or types) else None,
    }


def make_app(store: CloudStore = default_store) -> Any:
    """The WSGI app of the Greengrass V2 control plane on ``store``."""
    from harness.cloud.app import ServiceApp
    from harness.cloud.protocol import ServiceProtocol

    # Operations whose routes moto's Greengrass V1 serves (servicerole, connectivityInfo) are not
    # routed here (see urls.py) and stay out of the route table.
    operations = [
        name
        for name in ServiceProtocol("greengrassv2").model.operation_names
        if name
        not in (
            "AssociateServiceRoleToAccount",
            "DisassociateServiceRoleFromAccount",
            "GetServiceRoleForAccount",
            "GetConnectivityInfo",
            "UpdateConnectivityInfo",
        )
    ]
    return ServiceApp(
        "greengrassv2",
        ServiceProtocol("greengrassv2", operations),
        lambda context: GreengrassResponses(store, context),
    )
