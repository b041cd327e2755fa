"""State and rules of the Greengrass V2 control plane: components, deployments, core devices.

Facts this follows, and where they come from (API reference unless named):

- **Component versions** are immutable: a second CreateComponentVersion for the same name and
  version is ``ConflictException`` (409). The recipe is checked by :mod:`harness.lint.recipe`,
  the same checker the simulated device uses. For every ``s3://`` artifact the service reads the
  object and writes ``Digest`` (base64 SHA-256) and ``Algorithm: SHA-256`` into the stored recipe,
  replacing anything supplied (developer guide, "Component recipe reference": "AWS IoT Greengrass
  calculates the digest when you create the component version"). Objects that cannot be read
  fail the call with ``ValidationException`` naming each URI.
- **Resolution** (``ResolveComponentCandidates``): the highest version that satisfies every
  ``versionRequirements`` entry and whose recipe has a manifest for the device's platform. The
  nucleus (``ComponentServiceHelper.resolveComponentVersion``) calls it with one candidate and
  reads a ``ResourceNotFoundException`` whose message contains ``no usable version`` (nothing
  satisfies the requirements) or ``claim platform`` (versions exist, none for this platform) —
  the messages here contain exactly those phrases.
- **Deployments**: one per target (thing or thing group) is current; a new one is the next
  revision, and the previous one is canceled with its IoT job (developer guide, "Deploy
  components": "A new deployment to the same target overwrites the previous deployment").
  Each deployment creates one IoT job whose document is the *fleet configuration* the nucleus
  parses — see :func:`deployment_document`. The service does not check that the component
  versions exist: a deployment naming a missing one is created and fails on the device with
  ``NO_AVAILABLE_COMPONENT_VERSION`` (the nucleus's ``DeploymentE2ETest`` deploys such a
  ``XYZPackage-<uuid>`` and waits for the job to fail).
- **Core devices** exist once they publish fleet status; their status, installed components and
  the timestamps come from those messages (:meth:`GreengrassBackend.record_fleet_status`).
  Effective deployments come from the IoT job executions of the deployments that reached the
  device.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.cloud import moto_bridge
from harness.cloud.jobs import Job, JobExecution, JobsBackend
from harness.cloud.protocol import AwsServiceError
from harness.cloud.store import Clock
from harness.lint.recipe import Recipe, RecipeError, parse_recipe
from harness.lint.semver import parse_version, version_problem, version_satisfies

log = logging.getLogger("harness.cloud.greengrass")

#: CreateDeployment defaults (API reference, DeploymentPolicies / DeploymentComponentUpdatePolicy /
#: DeploymentConfigurationValidationPolicy)
DEFAULT_FAILURE_HANDLING = "ROLLBACK"
DEFAULT_UPDATE_ACTION = "NOTIFY_COMPONENTS"
DEFAULT_UPDATE_TIMEOUT = 60
DEFAULT_VALIDATION_TIMEOUT = 30
#: IoT job documents are limited to 32 KB (iot-jobs-data model, JobDocument max)
MAX_JOB_DOCUMENT = 32768
#: configuration schema the nucleus reads (component-common ``SchemaDate.MAY_17_2021``)
CONFIGURATION_SCHEMA_DATE = "2021-05-17"
#: what GetCoreDevice reports as runtime for the Java nucleus the fleet status comes from
NUCLEUS_RUNTIME = "aws_nucleus_classic"
#: presigned artifact URLs stay valid this long (the service documents no value; one hour)
PRESIGNED_URL_SECONDS = 3600


def not_found(message: str, resource_id: str, resource_type: str) -> AwsServiceError:
    return AwsServiceError(
        "ResourceNotFoundException", message, resourceId=resource_id, resourceType=resource_type
    )


def conflict(message: str, resource_id: str, resource_type: str) -> AwsServiceError:
    return AwsServiceError("ConflictException", message, resourceId=resource_id, resourceType=resource_type)


def invalid(message: str, fields: list[tuple[str, str]] | None = None) -> AwsServiceError:
    return AwsServiceError(
        "ValidationException",
        message,
        reason="FIELD_VALIDATION_FAILED" if fields else "OTHER",
        fields=[{"name": name, "message": text} for name, text in fields] if fields else None,
    )


@dataclass
class ComponentVersion:
    name: str
    version: str
    arn: str
    component_arn: str
    recipe: Recipe
    created_at: float

    @property
    def platforms(self) -> list[dict[str, Any]]:
        platforms = []
        for manifest in self.recipe.manifests:
            entry: dict[str, Any] = {"attributes": dict(manifest.platform)}
            if manifest.name:
                entry["name"] = manifest.name
            platforms.append(entry)
        return platforms


@dataclass
class Deployment:
    deployment_id: str
    target_arn: str
    revision: int
    name: str
    components: dict[str, dict[str, Any]]
    policies: dict[str, Any]
    iot_job_configuration: dict[str, Any]
    parent_target_arn: str | None
    created_at: float
    configuration_arn: str
    job_id: str
    job_arn: str
    is_latest: bool = True
    canceled: bool = False


@dataclass
class InstalledComponent:
    name: str
    version: str
    lifecycle_state: str
    is_root: bool
    last_status_change: float
    last_reported: float
    status_codes: list[str] = field(default_factory=list)
    state_details: str | None = None
    fleet_config_arns: list[str] = field(default_factory=list)
    last_installation_source: str | None = None


@dataclass
class CoreDevice:
    thing_name: str
    arn: str
    status: str
    last_status_update: float
    platform: str | None = None
    architecture: str | None = None
    core_version: str | None = None
    components: dict[str, InstalledComponent] = field(default_factory=dict)


class FleetStatusError(ValueError):
    """A fleet status message that cannot be applied (malformed); it is logged and dropped."""


def target_parts(target_arn: str) -> tuple[str, str]:
    """(``thing``|``thinggroup``, name) of an IoT target ARN (already pattern-checked)."""
    resource = target_arn.split(":", 5)[5]
    kind, _, name = resource.partition("/")
    return kind, name


def deployment_document(deployment: Deployment) -> dict[str, Any]:
    """The IoT job document of a deployment: the fleet configuration the nucleus parses.

    The format is aws-greengrass-component-common's ``Configuration`` class (package
    ``com.amazon.aws.iot.greengrass.configuration.common``: ``Configuration``, ``ComponentUpdate``,
    ``ConfigurationUpdate``, ``RunWith``, ``SystemResourceLimits``, ``ComponentUpdatePolicy``,
    ``ConfigurationValidationPolicy``, ``SchemaDate``), which the nucleus reads from the job in
    ``DeploymentService`` and converts in ``DeploymentDocumentConverter
    .convertFromDeploymentConfiguration``; examples in the nucleus's integration tests
    (``FleetConfigWithSimpleAppv1.json``, ``FleetConfigWithComponentConfigTestService.json``).
    Notably ``configurationUpdate.merge`` is a JSON *object* (``JsonNode``), not the string
    CreateDeployment takes; timeouts are ``timeout`` in seconds; ``creationTimestamp`` is in
    milliseconds; the group name is the resource part of ``configurationArn``
    (``configuration:thinggroup/<group>:<revision>``).
    """
    components: dict[str, Any] = {}
    for name, spec in deployment.components.items():
        entry: dict[str, Any] = {"version": spec["componentVersion"]}
        update = spec.get("configurationUpdate")
        if update:
            converted: dict[str, Any] = {}
            if update.get("merge") is not None:
                converted["merge"] = json.loads(update["merge"])
            if update.get("reset") is not None:
                converted["reset"] = list(update["reset"])
            entry["configurationUpdate"] = converted
        run_with = spec.get("runWith")
        if run_with:
            entry["runWith"] = dict(run_with)
        components[name] = entry
    policies = deployment.policies
    document: dict[str, Any] = {
        "deploymentId": deployment.deployment_id,
        "schemaDate": CONFIGURATION_SCHEMA_DATE,
        "deploymentName": deployment.name,
        "configurationArn": deployment.configuration_arn,
        "creationTimestamp": int(deployment.created_at * 1000),
        "components": components,
        "failureHandlingPolicy": policies["failureHandlingPolicy"],
        "requiredCapabilities": [],
        "componentUpdatePolicy": {
            "timeout": policies["componentUpdatePolicy"]["timeoutInSeconds"],
            "action": policies["componentUpdatePolicy"]["action"],
        },
        "configurationValidationPolicy": {
            "timeout": policies["configurationValidationPolicy"]["timeoutInSeconds"]
        },
    }
    if deployment.parent_target_arn:
        document["parentTargetArn"] = deployment.parent_target_arn
    return document


class GreengrassBackend:
    """Greengrass V2 state of one account and region (call under the region's lock)."""

    def __init__(self, account_id: str, region: str, jobs: JobsBackend, clock: Clock) -> None:
        self.account_id = account_id
        self.region = region
        self.jobs = jobs
        self.clock = clock
        self.components: dict[str, dict[str, ComponentVersion]] = {}
        self.deployments: dict[str, Deployment] = {}
        self.revisions: dict[str, int] = {}
        self.core_devices: dict[str, CoreDevice] = {}
        self.tags: dict[str, dict[str, str]] = {}
        self.client_tokens: dict[tuple[str, str], str] = {}
        #: chunks of fleet status messages not yet complete: thing → sequenceNumber → chunkId → message
        self.pending_chunks: dict[str, dict[int, dict[int, dict[str, Any]]]] = {}

    # -- ARNs -------------------------------------------------------------------------------------

    def _prefix(self) -> str:
        return f"arn:aws:greengrass:{self.region}:{self.account_id}"

    def component_arn(self, name: str) -> str:
        return f"{self._prefix()}:components:{name}"

    def component_version_arn(self, name: str, version: str) -> str:
        return f"{self.component_arn(name)}:versions:{version}"

    def deployment_arn(self, deployment_id: str) -> str:
        return f"{self._prefix()}:deployments:{deployment_id}"

    def core_device_arn(self, thing_name: str) -> str:
        return f"{self._prefix()}:coreDevices:{thing_name}"

    def _split_arn(self, arn: str) -> list[str] | None:
        """The resource fields of one of this account and region's V2 ARNs, else None."""
        fields = arn.split(":")
        if len(fields) < 7 or fields[3] != self.region or fields[4] != self.account_id:
            return None
        return fields[5:]

    # -- components -------------------------------------------------------------------------------

    def create_component_version(
        self, recipe_bytes: bytes, *, tags: Mapping[str, str] | None, client_token: str | None
    ) -> ComponentVersion:
        if client_token and ("component", client_token) in self.client_tokens:
            return self.get_component_version(self.client_tokens[("component", client_token)])
        try:
            recipe = parse_recipe(recipe_bytes, source="inlineRecipe")
        except RecipeError as err:
            problems = [
                (d.location or "/", d.message + (f" (expected {d.expected})" if d.expected else ""))
                for d in err.report.errors
            ]
            raise invalid(
                "The recipe is not valid: " + "; ".join(f"{where}: {what}" for where, what in problems),
                fields=problems,
            ) from err
        existing = self.components.get(recipe.name, {}).get(recipe.version)
        if existing is not None:
            raise conflict(
                f"Component {recipe.name} version {recipe.version} already exists ({existing.arn}); "
                "component versions are immutable: create a new version",
                existing.arn,
                "ComponentVersion",
            )
        recipe = self._with_digests(recipe)
        now = self.clock()
        component = ComponentVersion(
            name=recipe.name,
            version=recipe.version,
            arn=self.component_version_arn(recipe.name, recipe.version),
            component_arn=self.component_arn(recipe.name),
            recipe=recipe,
            created_at=now,
        )
        self.components.setdefault(recipe.name, {})[recipe.version] = component
        if tags:
            self.tags.setdefault(component.arn, {}).update(tags)
        if client_token:
            self.client_tokens[("component", client_token)] = component.arn
        return component

    def _with_digests(self, recipe: Recipe) -> Recipe:
        """The recipe with Digest/Algorithm of every ``s3://`` artifact computed from the object."""
        document = json.loads(json.dumps(recipe.document))
        missing: list[tuple[str, str]] = []
        changed = False
        for m, manifest in enumerate(document.get("Manifests", [])):
            for a, artifact in enumerate(manifest.get("Artifacts", []) or []):
                uri = artifact.get("Uri", "")
                if not uri.startswith("s3://"):
                    continue
                bucket, _, key = uri[len("s3://") :].partition("/")
                pointer = f"/Manifests/{m}/Artifacts/{a}/Uri"
                if not bucket or not key:
                    missing.append((pointer, f"{uri} does not name a bucket and a key"))
                    continue
                try:
                    data = moto_bridge.read_s3_object(self.account_id, bucket, key).data
                except moto_bridge.S3ObjectMissing as err:
                    missing.append((pointer, f"{uri}: {err}"))
                    continue
                artifact["Digest"] = base64.b64encode(hashlib.sha256(data).digest()).decode()
                artifact["Algorithm"] = "SHA-256"
                changed = True
        if missing:
            raise invalid(
                "The recipe's artifacts could not be read from Amazon S3, so their digests cannot be "
                "computed: " + "; ".join(f"{where}: {what}" for where, what in missing),
                fields=missing,
            )
        return recipe.with_document(document, source="inlineRecipe") if changed else recipe

    def get_component_version(self, arn: str) -> ComponentVersion:
        fields = self._split_arn(arn)
        if fields and len(fields) == 4 and fields[0] == "components" and fields[2] == "versions":
            found = self.components.get(fields[1], {}).get(fields[3])
            if found is not None:
                return found
        raise not_found(f"Component version {arn} does not exist", arn, "ComponentVersion")

    def component_versions(self, component_arn: str) -> list[ComponentVersion]:
        """Versions of a component, highest first.

        A component with no version (never created, all deleted, or a public ``aws`` component,
        none of which exist here) has an empty list, not an error: that is how AWS answers, and
        ``gdk component publish`` relies on it for a component's first version.
        """
        fields = component_arn.split(":")
        if len(fields) != 7 or fields[5] != "components" or not fields[6]:
            raise invalid(
                f"{component_arn} is not a component ARN "
                "(arn:aws:greengrass:<region>:<account>:components:<name>)",
                [("arn", "not a component ARN")],
            )
        if fields[3] != self.region or fields[4] != self.account_id:
            return []
        versions = self.components.get(fields[6], {})
        return sorted(versions.values(), key=lambda c: parse_version(c.version), reverse=True)

    def list_components(self) -> list[ComponentVersion]:
        """The latest (highest) version of each private component, by name."""
        latest = []
        for name in sorted(self.components):
            versions = self.components[name]
            if versions:
                latest.append(max(versions.values(), key=lambda c: parse_version(c.version)))
        return latest

    def delete_component(self, arn: str) -> None:
        component = self.get_component_version(arn)
        del self.components[component.name][component.version]
        if not self.components[component.name]:
            del self.components[component.name]
            self.tags.pop(component.component_arn, None)
        self.tags.pop(component.arn, None)

    def resolve(self, platform: Mapping[str, str], candidate: Mapping[str, Any]) -> ComponentVersion:
        name = candidate.get("componentName")
        if not name:
            raise invalid("componentCandidates[].componentName is required", [("componentName", "missing")])
        requirements: dict[str, str] = dict(candidate.get("versionRequirements") or {})
        for owner, requirement in requirements.items():
            try:
                version_satisfies("0.0.0", requirement)
            except ValueError as err:
                raise invalid(
                    f"Version requirement {requirement!r} of {owner} on {name} is not valid: {err}",
                    [(f"versionRequirements.{owner}", str(err))],
                ) from err
        versions = self.components.get(name, {})
        described = ", ".join(f"{owner} requires {req}" for owner, req in requirements.items()) or "none"
        satisfying = sorted(
            (
                c
                for c in versions.values()
                if all(version_satisfies(c.version, r) for r in requirements.values())
            ),
            key=lambda c: parse_version(c.version),
            reverse=True,
        )
        if not satisfying:
            raise not_found(
                f"Component {name} version constraints: {described}; no usable version was found that "
                f"satisfies them (versions in the cloud: {', '.join(sorted(versions)) or 'none'})",
                name,
                "Component",
            )
        for component in satisfying:
            if component.recipe.select_manifest(platform) is not None:
                return component
        raise not_found(
            f"The version of component {name} requested does not claim platform compatibility with "
            f"the platform {dict(platform)} (versions satisfying {described}: "
            f"{', '.join(c.version for c in satisfying)})",
            name,
            "Component",
        )

    def artifact_object(self, arn: str, artifact_name: str) -> tuple[str, str]:
        """(bucket, key) of the ``s3://`` artifact ``artifact_name`` names in a component version.

        The nucleus asks with the artifact URI's scheme-specific part
        (``GreengrassRepositoryDownloader``: ``getArtifactUri().getSchemeSpecificPart()``), so
        ``//bucket/key`` is accepted, as are ``bucket/key`` and the bare file name.
        """
        component = self.get_component_version(arn)
        wanted = artifact_name.lstrip("/")
        for manifest in component.recipe.manifests:
            for artifact in manifest.artifacts:
                if not artifact.uri.startswith("s3://"):
                    continue
                bucket, _, key = artifact.uri[len("s3://") :].partition("/")
                if wanted in (f"{bucket}/{key}", key, artifact.file_name):
                    return bucket, key
        raise not_found(
            f"Component version {arn} has no Amazon S3 artifact named {artifact_name}",
            artifact_name,
            "Artifact",
        )

    # -- deployments ------------------------------------------------------------------------------

    def create_deployment(self, params: Mapping[str, Any]) -> Deployment:
        token = params.get("clientToken")
        if token and ("deployment", token) in self.client_tokens:
            return self.get_deployment(self.client_tokens[("deployment", token)])
        target_arn: str = params["targetArn"]
        kind, target_name = target_parts(target_arn)
        fields = target_arn.split(":")
        if fields[3] != self.region or fields[4] != self.account_id:
            raise invalid(
                f"targetArn {target_arn} is not in this account and region "
                f"({self.account_id}, {self.region})",
                [("targetArn", "another account or region")],
            )
        exists = (
            moto_bridge.thing_arn(self.account_id, self.region, target_name)
            if kind == "thing"
            else moto_bridge.thing_group_arn(self.account_id, self.region, target_name)
        )
        if exists is None:
            what = "Thing" if kind == "thing" else "Thing group"
            raise not_found(
                f"{what} {target_name} ({target_arn}) does not exist in AWS IoT",
                target_arn,
                what.replace(" ", ""),
            )
        components = self._check_components(params.get("components") or {})
        policies = _with_policy_defaults(params.get("deploymentPolicies") or {})
        now = self.clock()
        revision = self.revisions.get(target_arn, 0) + 1
        deployment_id = str(uuid.uuid4())
        job_id = str(uuid.uuid4())
        deployment = Deployment(
            deployment_id=deployment_id,
            target_arn=target_arn,
            revision=revision,
            name=params.get("deploymentName") or target_name,
            components=components,
            policies=policies,
            iot_job_configuration=dict(params.get("iotJobConfiguration") or {}),
            parent_target_arn=params.get("parentTargetArn"),
            created_at=now,
            configuration_arn=f"{self._prefix()}:configuration:{kind}/{target_name}:{revision}",
            job_id=job_id,
            job_arn=f"arn:aws:iot:{self.region}:{self.account_id}:job/{job_id}",
        )
        document = deployment_document(deployment)
        size = len(json.dumps(document, separators=(",", ":")).encode())
        if size > MAX_JOB_DOCUMENT:
            raise invalid(
                f"The deployment document is {size} bytes; IoT job documents are limited to "
                f"{MAX_JOB_DOCUMENT} (AWS would send it as a LARGE_CONFIGURATION, which this endpoint "
                "does not emulate)"
            )
        for previous in self.deployments.values():
            if previous.target_arn == target_arn and previous.is_latest:
                previous.is_latest = False
                if self.deployment_status(previous) == "ACTIVE":
                    previous.canceled = True
                    self.jobs.cancel_job(previous.job_id, comment=f"superseded by deployment {deployment_id}")
        self.revisions[target_arn] = revision
        self.deployments[deployment_id] = deployment
        timeout = (deployment.iot_job_configuration.get("timeoutConfig") or {}).get(
            "inProgressTimeoutInMinutes"
        )
        self.jobs.create_job(
            job_id,
            target_arn,
            document,
            description=f"Greengrass deployment {deployment_id} (revision {revision} of {target_arn})",
            in_progress_timeout_minutes=int(timeout) if timeout else None,
        )
        if params.get("tags"):
            self.tags.setdefault(self.deployment_arn(deployment_id), {}).update(params["tags"])
        if token:
            self.client_tokens[("deployment", token)] = deployment_id
        return deployment

    def _check_components(self, components: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
        problems: list[tuple[str, str]] = []
        checked: dict[str, dict[str, Any]] = {}
        for name, spec in components.items():
            where = f"components.{name}"
            version = spec.get("componentVersion", "")
            problem = version_problem(version)
            if problem:
                problems.append((f"{where}.componentVersion", f"{version!r} {problem}"))
            update = spec.get("configurationUpdate") or {}
            if update.get("merge") is not None:
                try:
                    merge = json.loads(update["merge"])
                except ValueError as err:
                    problems.append((f"{where}.configurationUpdate.merge", f"is not valid JSON: {err}"))
                else:
                    if not isinstance(merge, dict):
                        problems.append((f"{where}.configurationUpdate.merge", "must be a JSON object"))
            for i, pointer in enumerate(update.get("reset") or []):
                if pointer and not pointer.startswith("/"):
                    problems.append(
                        (f"{where}.configurationUpdate.reset.{i + 1}", f"{pointer!r} is not a JSON pointer")
                    )
            checked[name] = {k: v for k, v in spec.items() if v is not None}
        if problems:
            raise invalid(
                "The deployment is not valid: " + "; ".join(f"{where}: {what}" for where, what in problems),
                fields=problems,
            )
        return checked

    def get_deployment(self, deployment_id: str) -> Deployment:
        deployment = self.deployments.get(deployment_id)
        if deployment is None:
            raise not_found(f"Deployment {deployment_id} does not exist", deployment_id, "Deployment")
        return deployment

    def deployment_status(self, deployment: Deployment) -> str:
        """ACTIVE until canceled; a thing's deployment completes or fails with its job execution.

        A thing-group deployment is a continuous job (new members get it), so it stays ACTIVE.
        """
        if deployment.canceled:
            return "CANCELED"
        kind, name = target_parts(deployment.target_arn)
        if kind == "thing":
            execution = self.jobs.execution(deployment.job_id, name)
            if execution is not None and execution.status == "SUCCEEDED":
                return "COMPLETED"
            if execution is not None and execution.terminal:
                return "FAILED"
        return "ACTIVE"

    def list_deployments(
        self, *, target_arn: str | None, history: str, parent_target_arn: str | None
    ) -> list[Deployment]:
        found = [
            d
            for d in self.deployments.values()
            if (target_arn is None or d.target_arn == target_arn)
            and (parent_target_arn is None or d.parent_target_arn == parent_target_arn)
            and (history == "ALL" or d.is_latest)
        ]
        return sorted(found, key=lambda d: (d.created_at, d.revision), reverse=True)

    def cancel_deployment(self, deployment_id: str) -> None:
        """CANCELED from any other status. The API reference: it "cancels the deployment for
        devices that haven't yet received it. If a device already received the deployment, this
        operation doesn't change anything for that device" — so a thing deployment that
        COMPLETED or FAILED can be canceled too (its finished execution stays as it is); the
        Greengrass Testing Framework cancels every deployment it made before deleting it."""
        deployment = self.get_deployment(deployment_id)
        if deployment.canceled:
            raise conflict(f"Deployment {deployment_id} is already CANCELED", deployment_id, "Deployment")
        deployment.canceled = True
        self.jobs.cancel_job(deployment.job_id, comment=f"deployment {deployment_id} canceled")

    def delete_deployment(self, deployment_id: str) -> None:
        deployment = self.get_deployment(deployment_id)
        if self.deployment_status(deployment) == "ACTIVE":
            raise conflict(
                f"Deployment {deployment_id} is ACTIVE: cancel it before deleting it",
                deployment_id,
                "Deployment",
            )
        del self.deployments[deployment_id]
        self.jobs.delete_job(deployment.job_id)
        self.tags.pop(self.deployment_arn(deployment_id), None)

    # -- core devices -----------------------------------------------------------------------------

    def get_core_device(self, thing_name: str) -> CoreDevice:
        device = self.core_devices.get(thing_name)
        if device is None:
            raise not_found(
                f"Core device {thing_name} does not exist: a core device is registered when it first "
                "publishes its status",
                thing_name,
                "CoreDevice",
            )
        return device

    def list_core_devices(self, *, thing_group_arn: str | None, status: str | None) -> list[CoreDevice]:
        members: set[str] | None = None
        if thing_group_arn is not None:
            _, group = target_parts(thing_group_arn)
            members = moto_bridge.thing_group_members(self.account_id, self.region, group)
        return [
            device
            for name, device in sorted(self.core_devices.items())
            if (members is None or name in members) and (status is None or device.status == status)
        ]

    def delete_core_device(self, thing_name: str) -> None:
        self.get_core_device(thing_name)
        del self.core_devices[thing_name]
        self.tags.pop(self.core_device_arn(thing_name), None)

    def effective_deployments(self, thing_name: str) -> list[tuple[Deployment, Job, JobExecution]]:
        """Deployments whose job reached the thing, newest first, with the execution."""
        if thing_name not in self.core_devices and (
            moto_bridge.thing_arn(self.account_id, self.region, thing_name) is None
        ):
            raise not_found(f"Core device {thing_name} does not exist", thing_name, "CoreDevice")
        by_job = {d.job_id: d for d in self.deployments.values()}
        found = [
            (by_job[job.job_id], job, execution)
            for job, execution in self.jobs.executions_for_thing(thing_name)
            if job.job_id in by_job
        ]
        return sorted(found, key=lambda t: (t[0].created_at, t[0].revision), reverse=True)

    def record_fleet_status(self, thing_name: str, message: Mapping[str, Any]) -> None:
        """Apply one fleet status message (``FleetStatusDetails``) published by ``thing_name``.

        Field names and meanings follow the nucleus's ``status/model`` classes and
        ``FleetStatusService.java``: COMPLETE messages list every component, PARTIAL ones only
        those that changed; a message too large for one publish is split into chunks
        (``chunkInfo: {chunkId, totalChunks}``) that share a ``sequenceNumber`` and are applied
        together once all arrived. Raises :class:`FleetStatusError` for a malformed message.
        """
        if not isinstance(message, Mapping):
            raise FleetStatusError("the payload is not a JSON object")
        chunk = message.get("chunkInfo")
        if chunk is not None:
            message = self._collect_chunk(thing_name, message, chunk)
            if message is None:
                return
        kind = message.get("messageType")
        if kind not in ("COMPLETE", "PARTIAL"):
            raise FleetStatusError(f"messageType is {kind!r}, not COMPLETE or PARTIAL")
        overall = message.get("overallDeviceStatus")
        if overall not in ("HEALTHY", "UNHEALTHY"):
            raise FleetStatusError(f"overallDeviceStatus is {overall!r}, not HEALTHY or UNHEALTHY")
        components = message.get("components") or []
        if not isinstance(components, list) or not all(
            isinstance(c, Mapping) and isinstance(c.get("componentName"), str) for c in components
        ):
            raise FleetStatusError("components must be a list of objects with a componentName")
        timestamp = message.get("timestamp")
        when = timestamp / 1000.0 if isinstance(timestamp, (int, float)) and timestamp > 0 else self.clock()
        device = self.core_devices.get(thing_name)
        if device is None:
            device = CoreDevice(thing_name, self.core_device_arn(thing_name), overall, when)
            self.core_devices[thing_name] = device
        device.status = overall
        device.last_status_update = when
        for attribute, key in (
            ("platform", "platform"),
            ("architecture", "architecture"),
            ("core_version", "ggcVersion"),
        ):
            if isinstance(message.get(key), str) and message[key]:
                setattr(device, attribute, message[key])
        info = message.get("deploymentInformation")
        source = info.get("deploymentId") if isinstance(info, Mapping) else None
        listed = set()
        previous = device.components
        current = {} if kind == "COMPLETE" else dict(previous)
        for item in components:
            name = item["componentName"]
            listed.add(name)
            old = previous.get(name)
            state = str(item.get("status") or "NEW")
            details = item.get("componentStatusDetails") or {}
            component = InstalledComponent(
                name=name,
                version=str(item.get("version") or (old.version if old else "")),
                lifecycle_state=state,
                is_root=bool(item.get("isRoot", False)),
                last_status_change=old.last_status_change if old and old.lifecycle_state == state else when,
                last_reported=when,
                status_codes=list(details.get("statusCodes") or []) if isinstance(details, Mapping) else [],
                state_details=details.get("statusReason") if isinstance(details, Mapping) else None,
                fleet_config_arns=list(item.get("fleetConfigArns") or []),
                last_installation_source=old.last_installation_source if old else None,
            )
            if source and component.is_root:
                component.last_installation_source = source
            current[name] = component
        if isinstance(info, Mapping) and source:
            for name in info.get("unchangedRootComponents") or []:
                if name in current and name not in listed:
                    current[name].last_reported = when
                    current[name].last_installation_source = source
        device.components = current

    def _collect_chunk(
        self, thing_name: str, message: Mapping[str, Any], chunk: Any
    ) -> Mapping[str, Any] | None:
        if not isinstance(chunk, Mapping):
            raise FleetStatusError("chunkInfo is not an object")
        chunk_id, total = chunk.get("chunkId"), chunk.get("totalChunks")
        if not isinstance(chunk_id, int) or not isinstance(total, int) or not 1 <= chunk_id <= total:
            raise FleetStatusError(f"chunkInfo {dict(chunk)} is not valid")
        if total == 1:
            return message
        sequence = message.get("sequenceNumber")
        if not isinstance(sequence, int):
            raise FleetStatusError("a chunked message needs a sequenceNumber")
        pending = self.pending_chunks.setdefault(thing_name, {})
        parts = pending.setdefault(sequence, {})
        parts[chunk_id] = dict(message)
        if len(parts) < total:
            return None
        del pending[sequence]
        merged = dict(parts[1])
        merged.pop("chunkInfo", None)
        merged["components"] = [c for i in sorted(parts) for c in (parts[i].get("components") or [])]
        return merged

    # -- tags -------------------------------------------------------------------------------------

    def _tag_target(self, arn: str) -> str:
        """``arn`` if it names an existing V2 resource of this account and region."""
        fields = self._split_arn(arn)
        exists = False
        if fields:
            kind = fields[0]
            if kind == "components" and len(fields) == 2:
                exists = bool(self.components.get(fields[1]))
            elif kind == "components" and len(fields) == 4 and fields[2] == "versions":
                exists = fields[3] in self.components.get(fields[1], {})
            elif kind == "deployments" and len(fields) == 2:
                exists = fields[1] in self.deployments
            elif kind == "coreDevices" and len(fields) == 2:
                exists = fields[1] in self.core_devices
        if not exists:
            raise not_found(f"Resource {arn} does not exist", arn, "Resource")
        return arn

    def tag_resource(self, arn: str, tags: Mapping[str, str]) -> None:
        self.tags.setdefault(self._tag_target(arn), {}).update(tags)

    def untag_resource(self, arn: str, keys: list[str]) -> None:
        tags = self.tags.get(self._tag_target(arn), {})
        for key in keys:
            tags.pop(key, None)

    def list_tags(self, arn: str) -> dict[str, str]:
        return dict(self.tags.get(self._tag_target(arn), {}))

    def tags_of(self, arn: str) -> dict[str, str] | None:
        return dict(self.tags[arn]) if self.tags.get(arn) else None


def _with_policy_defaults(policies: Mapping[str, Any]) -> dict[str, Any]:
    update = dict(policies.get("componentUpdatePolicy") or {})
    validation = dict(policies.get("configurationValidationPolicy") or {})
    return {
        "failureHandlingPolicy": policies.get("failureHandlingPolicy") or DEFAULT_FAILURE_HANDLING,
        "componentUpdatePolicy": {
            "timeoutInSeconds": update.get("timeoutInSeconds", DEFAULT_UPDATE_TIMEOUT),
            "action": update.get("action") or DEFAULT_UPDATE_ACTION,
        },
        "configurationValidationPolicy": {
            "timeoutInSeconds": validation.get("timeoutInSeconds", DEFAULT_VALIDATION_TIMEOUT),
        },
    }


# -- presigned artifact URLs ----------------------------------------------------------------------

_presign_lock = threading.Lock()
_presign_clients: dict[tuple[str | None, str], Any] = {}


def presigned_get(base_url: str, region: str, bucket: str, key: str) -> str:
    """A SigV4-presigned S3 GetObject URL for the object, on the endpoint the client used.

    A client that reached this service on the harness endpoint (``http://127.0.0.1:<port>``) gets
    a URL on the same endpoint, path-style, where moto's S3 serves it; a client that addressed an
    AWS host name (in-process mode, where moto intercepts AWS URLs) gets the usual S3 URL.
    """
    import boto3
    import botocore.session
    from botocore.config import Config

    host = base_url.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
    endpoint = None if host.endswith(".amazonaws.com") or host.endswith(".amazonaws.com.cn") else base_url
    with _presign_lock:
        client = _presign_clients.get((endpoint, region))
        if client is None:
            core = botocore.session.Session(session_vars={"profile": (None, None, None, None)})
            # The service signs with its own credentials: the endpoint's (on an enforcing
            # endpoint the harness's root key, which the endpoint knows), else moto's dummy ones.
            session = boto3.session.Session(
                botocore_session=core,
                aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "testing"),
                aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "testing"),
                region_name=region,
            )
            client = session.client(
                "s3",
                endpoint_url=endpoint,
                config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
            )
            _presign_clients[(endpoint, region)] = client
    return str(
        client.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=PRESIGNED_URL_SECONDS
        )
    )
