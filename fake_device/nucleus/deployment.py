"""A deployment before it touches the running device: document, resolution, downloads, config.

This is the first half of the nucleus's ``DefaultDeploymentTask`` — everything that happens
before ``DeploymentConfigMerger`` merges the new configuration. A failure here leaves the device
exactly as it was (``FAILED_NO_STATE_CHANGE``):

1. the job document (component-common ``Configuration``, see ``harness.cloud.greengrass``) is
   read into :class:`DeploymentDocument`;
2. :func:`resolve_components` finds the version of every component: root components of every
   target the device belongs to (``GroupToRootComponents``, with this deployment's target
   replaced), then their dependencies, intersecting version requirements from every dependent,
   through ``ResolveComponentCandidates`` (``DependencyResolver.java``,
   ``ComponentManager.resolveComponentVersion``);
3. :func:`prepare_components` stores each recipe, picks the manifest for the device platform,
   downloads and checks the artifacts, and computes the component's new configuration (reset →
   defaults → merge) and interpolated lifecycle (``KernelConfigResolver.resolve``).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from fake_device.nucleus import DeploymentError
from fake_device.nucleus.artifacts import prepare_artifacts
from fake_device.nucleus.configuration import (
    ConfigurationUpdate,
    ConfigurationUpdateError,
    resolve_configuration,
)
from fake_device.nucleus.interpolation import ResolvedService, ResolverContext, interpolate
from fake_device.nucleus.paths import NucleusPaths
from fake_device.nucleus.platform import select_manifest
from fake_device.nucleus.store import EffectiveConfig, atomic_write
from harness.lint.recipe import Recipe, RecipeError, parse_recipe
from harness.lint.semver import version_satisfies

__all__ = ["DeploymentDocument", "ResolvedComponent", "prepare_components", "resolve_components"]


@dataclass(frozen=True)
class DeploymentDocument:
    """The fields of a fleet configuration the device acts on (``DeploymentDocument.java``)."""

    deployment_id: str
    configuration_arn: str
    group_name: str  # "thinggroup/<name>" or "thing/<name>"
    timestamp: int  # creationTimestamp, ms
    components: dict[str, dict[str, Any]]
    failure_handling_policy: str = "ROLLBACK"
    update_policy_action: str = "NOTIFY_COMPONENTS"
    update_policy_timeout: int = 60
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def is_group_deployment(self) -> bool:
        return self.group_name.startswith("thinggroup/")

    @staticmethod
    def parse(document: Any) -> DeploymentDocument:
        """Raises ``DeploymentError`` ``DEPLOYMENT_DOCUMENT_NOT_VALID`` naming the bad field."""

        def bad(message: str) -> DeploymentError:
            return DeploymentError(
                "DEPLOYMENT_DOCUMENT_NOT_VALID",
                f"The deployment document is not valid: {message}",
                error_stack=["DEPLOYMENT_FAILURE", "DEPLOYMENT_DOCUMENT_NOT_VALID"],
                hint="the job was not created by Greengrass CreateDeployment",
            )

        if not isinstance(document, Mapping):
            raise bad("it is not a JSON object")
        for key in ("deploymentId", "configurationArn", "components"):
            if key not in document:
                raise bad(f"/{key} is missing")
        components = document["components"]
        if not isinstance(components, Mapping):
            raise bad("/components is not an object")
        arn = str(document["configurationArn"])
        # arn:aws:greengrass:<region>:<account>:configuration:thinggroup/<group>:<revision>
        resource = arn.split(":configuration:", 1)[-1]
        group = resource.rsplit(":", 1)[0] if resource.count(":") else resource
        update = document.get("componentUpdatePolicy") or {}
        return DeploymentDocument(
            deployment_id=str(document["deploymentId"]),
            configuration_arn=arn,
            group_name=group,
            timestamp=int(document.get("creationTimestamp") or 0),
            components={str(k): dict(v or {}) for k, v in components.items()},
            failure_handling_policy=str(document.get("failureHandlingPolicy") or "ROLLBACK"),
            update_policy_action=str(update.get("action") or "NOTIFY_COMPONENTS"),
            update_policy_timeout=int(update.get("timeout") or 60),
            raw=dict(document),
        )


@dataclass
class ResolvedComponent:
    name: str
    version: str
    recipe: Recipe
    arn: str = ""


def _cloud_error(err: Exception, what: str) -> DeploymentError:
    if isinstance(err, ClientError):
        code = err.response.get("Error", {}).get("Code", "")
        message = err.response.get("Error", {}).get("Message", str(err))
        specific = {
            "ResourceNotFoundException": "NO_AVAILABLE_COMPONENT_VERSION",
            "AccessDeniedException": "RESOLVE_COMPONENT_CANDIDATES_ACCESS_DENIED",
            "ThrottlingException": "THROTTLING_ERROR",
            "ValidationException": "BAD_REQUEST",
        }.get(code, "CLOUD_API_ERROR")
        return DeploymentError(
            specific,
            f"{what}: {message}",
            error_stack=["DEPLOYMENT_FAILURE", "NO_AVAILABLE_COMPONENT_VERSION", specific]
            if specific != "NO_AVAILABLE_COMPONENT_VERSION"
            else ["DEPLOYMENT_FAILURE", "NO_AVAILABLE_COMPONENT_VERSION"],
            hint="check the component versions in the cloud (ListComponentVersions) and the "
            "version requirements of every deployment to this device",
        )
    return DeploymentError(
        "NETWORK_ERROR",
        f"{what}: {err}",
        error_stack=["DEPLOYMENT_FAILURE", "NETWORK_ERROR"],
        hint="is the AWS endpoint reachable from the device?",
    )


def resolve_components(
    document: DeploymentDocument,
    current: EffectiveConfig,
    platform: Mapping[str, str],
    greengrass: Any,
    *,
    member_groups: set[str] | None = None,
) -> dict[str, ResolvedComponent]:
    """Every component the device must run after this deployment, with its recipe.

    ``member_groups`` (``thinggroup/<name>``) drops root components of groups the device has
    left; ``None`` keeps them all.
    """
    requirements: dict[str, dict[str, str]] = {}
    roots: list[str] = []
    for group, components in current.group_roots.items():
        if group == document.group_name:
            continue
        if member_groups is not None and group.startswith("thinggroup/") and group not in member_groups:
            continue
        for name, details in components.items():
            requirements.setdefault(name, {})[group] = str(details.get("version", "*"))
            roots.append(name)
    for name, spec in document.components.items():
        version = spec.get("version")
        requirements.setdefault(name, {})[document.group_name] = f"={version}" if version else "*"
        roots.append(name)

    resolved: dict[str, ResolvedComponent] = {}
    pending = list(dict.fromkeys(roots))
    guard = 0
    while pending:
        guard += 1
        if guard > 1000:
            raise DeploymentError(
                "COMPONENT_CIRCULAR_DEPENDENCY_ERROR",
                "Dependency resolution does not converge: " + ", ".join(sorted(requirements)),
                error_stack=["DEPLOYMENT_FAILURE", "COMPONENT_CIRCULAR_DEPENDENCY_ERROR"],
            )
        name = pending.pop(0)
        wanted = requirements.get(name, {})
        chosen = resolved.get(name)
        if chosen is not None and all(version_satisfies(chosen.version, r) for r in wanted.values()):
            continue
        candidate: dict[str, Any] = {"componentName": name, "versionRequirements": wanted}
        installed = current.services.get(name, {}).get("version")
        candidate["componentVersion"] = str(installed or chosen.version if chosen else installed or "0.0.0")
        try:
            answer = greengrass.resolve_component_candidates(
                platform={"name": "linux", "attributes": dict(platform)}, componentCandidates=[candidate]
            )
        except (ClientError, BotoCoreError) as err:
            error = _cloud_error(err, f"Failed to negotiate version with cloud for {name}")
            if isinstance(err, ClientError) and len(wanted) > 1:
                error = DeploymentError(
                    "COMPONENT_VERSION_REQUIREMENTS_NOT_MET",
                    f"{error.message} (requirements: "
                    + ", ".join(f"{owner} requires {req}" for owner, req in wanted.items())
                    + ")",
                    error_stack=["DEPLOYMENT_FAILURE", "COMPONENT_VERSION_REQUIREMENTS_NOT_MET"],
                    hint="the version requirements of two deployments or dependents conflict",
                )
            raise error from None
        entry = answer["resolvedComponentVersions"][0]
        recipe = _recipe_of(entry)
        resolved[name] = ResolvedComponent(name, recipe.version, recipe, entry.get("arn", ""))
        for dependency, spec in recipe.dependencies.items():
            requirements.setdefault(dependency, {})[name] = spec.version_requirement
            pending.append(dependency)
    # drop components nothing requires any more (a dependency of a replaced version)
    needed: set[str] = set()
    stack = list(dict.fromkeys(roots))
    while stack:
        name = stack.pop()
        if name in needed or name not in resolved:
            continue
        needed.add(name)
        stack.extend(resolved[name].recipe.dependencies)
    _check_cycles(resolved, needed)
    return {name: resolved[name] for name in resolved if name in needed}


def _check_cycles(resolved: Mapping[str, ResolvedComponent], names: set[str]) -> None:
    state: dict[str, int] = {}

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == 2 or name not in names:
            return
        if state.get(name) == 1:
            cycle = " -> ".join([*path[path.index(name) :], name])
            raise DeploymentError(
                "COMPONENT_CIRCULAR_DEPENDENCY_ERROR",
                f"Circular dependency between components: {cycle}",
                error_stack=["DEPLOYMENT_FAILURE", "COMPONENT_CIRCULAR_DEPENDENCY_ERROR"],
            )
        state[name] = 1
        for dependency in resolved[name].recipe.dependencies:
            visit(dependency, [*path, name])
        state[name] = 2

    for name in sorted(names):
        visit(name, [])


def _recipe_of(entry: Mapping[str, Any]) -> Recipe:
    blob = entry.get("recipe") or b""
    if isinstance(blob, str):
        blob = blob.encode()
    source = f"{entry.get('componentName')}-{entry.get('componentVersion')} (from ResolveComponentCandidates)"
    try:
        return parse_recipe(blob, source=source)
    except RecipeError as err:
        raise DeploymentError(
            "RECIPE_PARSE_ERROR",
            f"The recipe of {source} cannot be used: {err.message}",
            error_stack=["DEPLOYMENT_FAILURE", "COMPONENT_PACKAGE_LOADING_ERROR", "RECIPE_PARSE_ERROR"],
        ) from None


def recipe_file_name(name: str, version: str) -> str:
    """``ComponentStore``: ``<hash of the name>@<version>.recipe.yaml``, the hash being the
    URL-safe Base64 SHA-256 of the component name without padding."""
    digest = base64.urlsafe_b64encode(hashlib.sha256(name.encode()).digest()).decode().rstrip("=")
    return f"{digest}@{version}.recipe.yaml"


@dataclass
class PreparedDeployment:
    """The configuration to merge, and what changed against the running one."""

    config: EffectiveConfig
    resolved: dict[str, ResolvedComponent]


def prepare_components(
    document: DeploymentDocument,
    resolved: Mapping[str, ResolvedComponent],
    current: EffectiveConfig,
    paths: NucleusPaths,
    platform: Mapping[str, str],
    thing_name: str,
    *,
    s3_client: Any,
    check_cancelled: Callable[[], None] = lambda: None,
    artifact_options: Mapping[str, Any] | None = None,
) -> PreparedDeployment:
    """Download and check everything, compute the new effective configuration; nothing running
    is touched. Raises :class:`DeploymentError` (the deployment is FAILED_NO_STATE_CHANGE)."""
    manifests = {}
    for name, component in resolved.items():
        manifest = select_manifest(component.recipe, platform)
        manifests[name] = manifest
        recipe_file = paths.recipes_path / recipe_file_name(name, component.version)
        atomic_write(recipe_file, component.recipe.to_yaml())
    for name, component in resolved.items():
        check_cancelled()
        prepare_artifacts(
            paths,
            name,
            component.version,
            manifests[name].artifacts,
            s3_client=s3_client,
            **dict(artifact_options or {}),
        )
    check_cancelled()

    new = current.copy()
    new.services = {}
    for name, component in resolved.items():
        old = current.services.get(name, {})
        update = None
        spec = document.components.get(name, {}).get("configurationUpdate")
        if spec:
            update = ConfigurationUpdate(merge=spec.get("merge"), reset=tuple(spec.get("reset") or ()))
        timestamps = {pointer_path(k): int(v) for k, v in (old.get("configurationTimestamps") or {}).items()}
        try:
            configuration = resolve_configuration(
                old.get("configuration") if old else None,
                component.recipe.default_configuration,
                update,
                timestamp=document.timestamp or 3,
                timestamps=timestamps,
            )
        except ConfigurationUpdateError as err:
            raise DeploymentError(
                "COMPONENT_CONFIGURATION_NOT_VALID",
                f"The configurationUpdate of {name} is not valid: {err.message}",
                error_stack=["DEPLOYMENT_FAILURE", "COMPONENT_CONFIGURATION_NOT_VALID"],
                hint=err.hint,
            ) from None
        new.services[name] = {
            "componentType": component.recipe.component_type,
            "version": component.version,
            "configuration": configuration.values,
            "configurationTimestamps": {path_pointer(k): v for k, v in configuration.timestamps.items()},
            "dependencies": {d: s.dependency_type for d, s in component.recipe.dependencies.items()},
            "lifecycle": manifests[name].effective_lifecycle,
        }
    context = ResolverContext(
        paths,
        thing_name,
        {n: ResolvedService(e["version"], e["configuration"]) for n, e in new.services.items()},
    )
    for name, entry in new.services.items():
        paths.ensure_work_path(name)
        entry["lifecycle"] = interpolate(
            entry["lifecycle"], context, name, dependencies=tuple(entry["dependencies"])
        )
    return PreparedDeployment(new, dict(resolved))


def path_pointer(path: tuple[str, ...]) -> str:
    return "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in path)


def pointer_path(pointer: str) -> tuple[str, ...]:
    return tuple(p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:])


def json_list(values: list[str]) -> str:
    """Job status details are strings; the nucleus serialises lists as JSON."""
    return json.dumps(values, separators=(",", ":"))
