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
from pathlib import Path
from typing import Any

import nodesemver
from botocore.exceptions import BotoCoreError, ClientError

from fake_device.nucleus import DeploymentError
from fake_device.nucleus.artifacts import prepare_artifacts
from fake_device.nucleus.configuration import (
    ConfigurationUpdate,
    ConfigurationUpdateError,
    resolve_configuration,
)
from fake_device.nucleus.errorcodes import save_recipe_metadata
from fake_device.nucleus.interpolation import ResolvedService, ResolverContext, interpolate
from fake_device.nucleus.paths import NucleusPaths
from fake_device.nucleus.platform import select_manifest
from fake_device.nucleus.store import EffectiveConfig, atomic_write
from harness.lint.recipe import Recipe, RecipeError, parse_recipe
from harness.lint.semver import Version, parse_version, version_satisfies

__all__ = [
    "NUCLEUS_COMPONENT",
    "DeploymentDocument",
    "ResolvedComponent",
    "nucleus_recipe",
    "prepare_components",
    "resolve_components",
]


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


NUCLEUS_COMPONENT = "aws.greengrass.Nucleus"
#: DeploymentDocumentConverter.LOCAL_DEPLOYMENT_GROUP_NAME: the requirements of local deployments
LOCAL_DEPLOYMENT_GROUP = "LOCAL_DEPLOYMENT"
#: ComponentManager.VERSION_NOT_FOUND_FAILURE_MESSAGE (no period: the nucleus appends its advice)
VERSION_NOT_FOUND = "No local or cloud component version satisfies the requirements"
#: what the nucleus says when a ResolveComponentCandidates error is not one it names
NEGOTIATION_FAILED = "An error occurred while negotiating component version with cloud"


def requirement_text(requirement: str) -> str:
    """A version requirement as the nucleus prints it (semver4j's ``Requirement.toString`` of
    ``Requirement.buildNPM``): ``1.0.0`` → ``=1.0.0``, ``^1.0.0`` → ``>=1.0.0 <2.0.0``."""
    try:
        comparator_sets = nodesemver.make_range(requirement, False).set
    except (ValueError, TypeError, AttributeError, IndexError):
        return requirement
    texts = []
    for comparators in comparator_sets:
        parts = []
        for comparator in comparators:
            value = str(comparator.value)
            parts.append(">=0.0.0" if not value else value if value[0] in "<>=" else f"={value}")
        texts.append(" ".join(parts))
    return " || ".join(texts)


def no_available_version(name: str, requirements: Mapping[str, str], message: str = VERSION_NOT_FOUND) -> str:
    """``NoAvailableComponentVersionException``'s message: the nucleus's advice and every
    requirement on the component with its owner."""
    constraints = ", ".join(
        f"{owner} requires {requirement_text(req)}" for owner, req in requirements.items()
    )
    return (
        f"{message.strip()} Check whether the version constraints conflict and that the component exists "
        "in your AWS account with a version that matches the version constraints. If the version "
        "constraints conflict, revise deployments to resolve the conflict. Component "
        f"{name} version constraints: {constraints}."
    )


def cloud_resolution_error(
    err: Exception, name: str, requirements: Mapping[str, str], platform: Mapping[str, str]
) -> DeploymentError:
    """What ``ComponentManager.negotiateVersionWithCloud`` raises when the cloud does not resolve
    ``name`` and no local version can stand in (messages and code stacks of the nucleus)."""
    hint = (
        "check the component versions in the cloud (ListComponentVersions) and the version "
        "requirements of every deployment and dependent component on this device"
    )
    if not isinstance(err, ClientError):
        return DeploymentError(
            "NETWORK_ERROR",
            f"{NEGOTIATION_FAILED}. {err}",
            error_stack=["DEPLOYMENT_FAILURE", "NETWORK_ERROR"],
            hint="is the AWS endpoint reachable from the device?",
        )
    code = err.response.get("Error", {}).get("Code", "")
    message = err.response.get("Error", {}).get("Message", str(err))
    status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    requirement_codes = [
        "DEPLOYMENT_FAILURE",
        "NO_AVAILABLE_COMPONENT_VERSION",
        "COMPONENT_VERSION_REQUIREMENTS_NOT_MET",
    ]
    if code == "ResourceNotFoundException" and "claim platform" in message:
        platform_text = ",".join(f" {k}:{v}" for k, v in platform.items())
        return DeploymentError(
            "COMPONENT_VERSION_REQUIREMENTS_NOT_MET",
            f"{NEGOTIATION_FAILED}. The version of component requested does not claim platform "
            "compatibility. Check whether the component platform specifications mentioned in its recipe "
            "match the core device platform constraints. If the component is not supported on the core "
            "device platform with classic runtime, revise deployments to resolve the conflict. Component "
            f"'{name}' is incompatible with the core device(classic) platform requirements - "
            f"{platform_text}.",
            error_stack=requirement_codes,
            hint="the recipe has no manifest whose Platform matches this device",
        )
    if code == "ResourceNotFoundException" or status == 404:
        return DeploymentError(
            "COMPONENT_VERSION_REQUIREMENTS_NOT_MET",
            no_available_version(name, requirements),
            error_stack=requirement_codes,
            hint=hint,
        )
    if code == "AccessDeniedException" or status == 403:
        return DeploymentError(
            "RESOLVE_COMPONENT_CANDIDATES_ACCESS_DENIED",
            "Access denied when calling ResolveComponentCandidates. Ensure certificate policy grants "
            f"greengrass:ResolveComponentCandidates. {message}",
            error_stack=["DEPLOYMENT_FAILURE", "CLOUD_API_ERROR", "ACCESS_DENIED"],
        )
    specific = {
        "ValidationException": "BAD_REQUEST",
        "ThrottlingException": "THROTTLING_ERROR",
        "ConflictException": "CONFLICTED_REQUEST",
        "InternalServerException": "SERVER_ERROR",
    }.get(code, "SERVER_ERROR" if status >= 500 else "BAD_REQUEST" if status == 400 else "")
    return DeploymentError(
        specific or "CLOUD_API_ERROR",
        f"{message} (Service: GreengrassV2Data, Status Code: {status})",
        error_stack=["DEPLOYMENT_FAILURE", "CLOUD_API_ERROR"],
        hint=hint,
    )


def local_candidate(
    name: str, requirements: Mapping[str, str], recipes_path: Path | None
) -> tuple[str, Path] | None:
    """``ComponentManager.findBestCandidateLocally``: the highest version of ``name`` in the
    device's recipe store that satisfies every requirement, with its recipe file."""
    if recipes_path is None or not recipes_path.is_dir():
        return None
    prefix = recipe_file_name(name, "").split("@", 1)[0] + "@"
    found: list[tuple[Version, str, Path]] = []
    for path in recipes_path.glob(f"{prefix}*.recipe.yaml"):
        version = path.name[len(prefix) : -len(".recipe.yaml")]
        try:
            if all(version_satisfies(version, r) for r in requirements.values()):
                found.append((parse_version(version), version, path))
        except ValueError:
            continue
    if not found:
        return None
    _, version, path = max(found)
    return version, path


def resolve_components(
    document: DeploymentDocument,
    current: EffectiveConfig,
    platform: Mapping[str, str],
    greengrass: Any,
    *,
    member_groups: set[str] | None = None,
    recipes_path: Path | None = None,
    on_local_fallback: Callable[[str, str, str], None] = lambda _n, _v, _e: None,
    nucleus_version: str | None = None,
) -> dict[str, ResolvedComponent]:
    """Every component the device must run after this deployment, with its recipe.

    ``member_groups`` (``thinggroup/<name>``) drops root components of groups the device has
    left; ``None`` keeps them all. ``recipes_path`` is the device's recipe store: a version there
    that satisfies the requirements is offered to the cloud and used when the cloud cannot
    resolve the component (``on_local_fallback(name, version, error)`` is told).
    ``aws.greengrass.Nucleus`` at ``nucleus_version`` (the running one) resolves from the store
    without asking the cloud, as the nucleus does for its own version.
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
        local = local_candidate(name, wanted, recipes_path)
        if local is not None and (
            LOCAL_DEPLOYMENT_GROUP in wanted or (name == NUCLEUS_COMPONENT and local[0] == nucleus_version)
        ):
            # a local deployment takes the device's recipe without asking the cloud
            # (ComponentManager.resolveComponentVersion); so does the running nucleus's own version
            # negotiateVersionWithCloud: "Skipping Nucleus download as the same version is already
            # installed" — the running nucleus's own recipe is in the store since installation
            recipe = _local_recipe(local[1], name, local[0])
            resolved[name] = ResolvedComponent(name, recipe.version, recipe, "")
            for dependency, spec in recipe.dependencies.items():
                requirements.setdefault(dependency, {})[name] = spec.version_requirement
                pending.append(dependency)
            continue
        if local is not None:
            candidate["componentVersion"] = local[0]
        try:
            answer = greengrass.resolve_component_candidates(
                platform={"name": "linux", "attributes": dict(platform)}, componentCandidates=[candidate]
            )
            entry = answer["resolvedComponentVersions"][0]
            recipe = _recipe_of(entry)
            arn = str(entry.get("arn", ""))
        except (ClientError, BotoCoreError) as err:
            if local is None:
                raise cloud_resolution_error(err, name, wanted, platform) from None
            # a version in the store satisfies the requirements: the nucleus falls back to it
            on_local_fallback(name, local[0], str(err))
            recipe = _local_recipe(local[1], name, local[0])
            arn = ""
        resolved[name] = ResolvedComponent(name, recipe.version, recipe, arn)
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


def _local_recipe(path: Path, name: str, version: str) -> Recipe:
    source = f"{name}-{version} (local recipe {path.name})"
    try:
        return parse_recipe(path.read_bytes(), source=source)
    except (OSError, RecipeError) as err:
        raise DeploymentError(
            "LOCAL_RECIPE_CORRUPTED",
            f"The local recipe of {name}-{version} cannot be read: {getattr(err, 'message', err)}",
            error_stack=["DEPLOYMENT_FAILURE", "COMPONENT_PACKAGE_LOADING_ERROR", "LOCAL_RECIPE_CORRUPTED"],
        ) from None


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


def nucleus_recipe(version: str) -> str:
    """The recipe of the running nucleus, as the installer leaves it in the component store: a
    deployment (or a dependency) naming this version resolves to it without the cloud."""
    return (
        "RecipeFormatVersion: '2020-01-25'\n"
        f"ComponentName: {NUCLEUS_COMPONENT}\n"
        f"ComponentVersion: '{version}'\n"
        "ComponentType: aws.greengrass.nucleus\n"
        "ComponentPublisher: AWS\n"
        "ComponentDescription: Core functionality for device side orchestration of deployments and "
        "lifecycle management for execution of Greengrass components and applications.\n"
        "Manifests:\n"
        "  - Platform: {}\n"
        "    Lifecycle: {}\n"
    )


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
        if component.arn:
            save_recipe_metadata(paths.recipes_path, recipe_file.name, component.arn)
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
