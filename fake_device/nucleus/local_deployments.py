"""Local deployments: what ``greengrass-cli deployment create`` (``CreateLocalDeployment``) asks for.

A local deployment goes through the device's one deployment machinery, like a cloud one, but
comes from the Greengrass CLI instead of IoT Jobs (aws-greengrass-cli ``CLIEventStreamAgent``,
aws-greengrass-nucleus ``DeploymentService`` + ``converter/DeploymentDocumentConverter``):

- the request (recipe and artifact folders, root components to merge or remove, configuration
  updates ``{component: {MERGE: {...}, RESET: [...]}}``, an optional thing group, a failure
  handling policy) is queued with status QUEUED and a UUID;
- when its turn comes, the recipes of the recipe folder are stored in the component store (each
  parsed: a broken one fails the deployment) and the artifact folder
  (``<component>/<version>/<files>``) is copied over ``packages/artifacts``;
- its document: the root components the target (``LOCAL_DEPLOYMENT``, or ``thinggroup/<group>``)
  has now, minus ``remove``, plus ``merge``; a component that only gets a configuration update
  is not made a root; componentUpdatePolicy SKIP_NOTIFY_COMPONENTS (local deployments never wait
  for components to agree); failureHandlingPolicy ROLLBACK unless the request says DO_NOTHING;
- resolution prefers a local recipe for ``LOCAL_DEPLOYMENT`` requirements
  (``ComponentManager.resolveComponentVersion``), so a recipe that exists only on the device is
  deployed without asking the cloud;
- the status (QUEUED → IN_PROGRESS → SUCCEEDED | FAILED | CANCELED, with the nucleus's status
  details) is kept in ``deployments/local.json`` and read back by ``GetLocalDeploymentStatus`` /
  ``ListLocalDeployments``; creation times print as ``dd-MM-uuuu HH:mm:ss UTC``;
- ``CancelLocalDeployment`` takes a queued deployment off the queue (CANCELED at once) and asks
  the device to stop one in progress; the device does so at its next cancellation point
  (``DeploymentService.cancelCurrentDeployment``, see :mod:`fake_device.nucleus.kernel`) and
  reports CANCELED with no status details, or lets it finish when it is past them.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import shutil
import threading
import time
import uuid
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fake_device.nucleus import DeploymentError
from fake_device.nucleus.deployment import recipe_file_name
from fake_device.nucleus.paths import NucleusPaths
from fake_device.nucleus.store import EffectiveConfig, atomic_write
from harness.lint.recipe import RecipeError, parse_recipe

__all__ = [
    "LOCAL_GROUP",
    "LocalDeployments",
    "copy_recipes_and_artifacts",
    "created_on_text",
    "local_document",
]

#: DeploymentDocumentConverter.LOCAL_DEPLOYMENT_GROUP_NAME
LOCAL_GROUP = "LOCAL_DEPLOYMENT"
#: the marker a local deployment's document carries (the record's document is what a restart resumes)
DEPLOYMENT_TYPE = "LOCAL"
STATUSES = ("QUEUED", "IN_PROGRESS", "SUCCEEDED", "FAILED", "CANCELED")
RECIPE_SUFFIXES = (".yaml", ".yml", ".json")


def created_on_text(millis: int) -> str:
    """``CreatedOn`` as the CLI agent prints it (``dd-MM-uuuu HH:mm:ss z`` in UTC)."""
    when = datetime.datetime.fromtimestamp(millis / 1000, tz=datetime.UTC)
    return when.strftime("%d-%m-%Y %H:%M:%S UTC")


def target_group(request: Mapping[str, Any]) -> str:
    group = request.get("groupName")
    return f"thinggroup/{group}" if group else LOCAL_GROUP


def local_document(
    deployment_id: str, request: Mapping[str, Any], current: EffectiveConfig, timestamp: int
) -> dict[str, Any]:
    """``convertFromLocalOverrideRequestAndRoot``: the deployment document of a local request."""
    group = target_group(request)
    roots = {
        name: str(current.services[name].get("version"))
        for name in current.group_roots.get(group, {})
        if name in current.services
    }
    for name in request.get("rootComponentsToRemove") or ():
        roots.pop(str(name), None)
    for name, version in (request.get("rootComponentVersionsToAdd") or {}).items():
        roots[str(name)] = str(version)
    components: dict[str, dict[str, Any]] = {name: {"version": version} for name, version in roots.items()}
    for name, update in (request.get("componentToConfiguration") or {}).items():
        entry = components.setdefault(str(name), {"version": "*", "rootComponent": False})
        update = update if isinstance(update, Mapping) else {}
        entry["configurationUpdate"] = {
            "merge": update.get("MERGE"),
            "reset": list(update.get("RESET") or ()),
        }
    return {
        "deploymentId": deployment_id,
        "configurationArn": group,
        "deploymentType": DEPLOYMENT_TYPE,
        "creationTimestamp": timestamp,
        "components": components,
        "failureHandlingPolicy": str(request.get("failureHandlingPolicy") or "ROLLBACK"),
        "componentUpdatePolicy": {"action": "SKIP_NOTIFY_COMPONENTS", "timeout": 0},
    }


def is_local(document: Mapping[str, Any]) -> bool:
    return document.get("deploymentType") == DEPLOYMENT_TYPE


def copy_recipes_and_artifacts(request: Mapping[str, Any], paths: NucleusPaths) -> list[str]:
    """``DeploymentService.copyRecipesAndArtifacts``: the recipes into the component store (each
    parsed first), the artifact folder over ``packages/artifacts``. Returns the stored recipes as
    ``name-version``; raises :class:`DeploymentError`."""
    stored = []
    recipe_dir = request.get("recipeDirectoryPath")
    if recipe_dir:
        folder = Path(str(recipe_dir))
        if not folder.is_dir():
            raise DeploymentError(
                "IO_FILE_ATTRIBUTE_ERROR",
                f"The recipe directory {folder} does not exist",
                error_stack=["DEPLOYMENT_FAILURE", "IO_ERROR", "IO_FILE_ATTRIBUTE_ERROR"],
                hint="--recipeDir is read by the device: give a folder on the device",
            )
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            if path.stat().st_size == 0:
                continue
            if path.suffix.lower() not in RECIPE_SUFFIXES:
                raise DeploymentError(
                    "RECIPE_PARSE_ERROR",
                    f"Unable to copy recipe {path}: the file extension must be .yaml, .yml or .json",
                    error_stack=[
                        "DEPLOYMENT_FAILURE",
                        "COMPONENT_PACKAGE_LOADING_ERROR",
                        "RECIPE_PARSE_ERROR",
                    ],
                )
            try:
                recipe = parse_recipe(path.read_bytes(), source=str(path))
            except (OSError, RecipeError) as err:
                raise DeploymentError(
                    "RECIPE_PARSE_ERROR",
                    f"Unable to parse recipe {path}: {getattr(err, 'message', err)}",
                    error_stack=[
                        "DEPLOYMENT_FAILURE",
                        "COMPONENT_PACKAGE_LOADING_ERROR",
                        "RECIPE_PARSE_ERROR",
                    ],
                    hint=getattr(err, "hint", None),
                ) from None
            atomic_write(paths.recipes_path / recipe_file_name(recipe.name, recipe.version), recipe.to_yaml())
            stored.append(f"{recipe.name}-{recipe.version}")
    artifact_dir = request.get("artifactsDirectoryPath")
    if artifact_dir:
        source = Path(str(artifact_dir))
        target = paths.root / "packages" / "artifacts"
        try:
            shutil.copytree(source, target, dirs_exist_ok=True)
        except (OSError, shutil.Error) as err:
            raise DeploymentError(
                "IO_WRITE_ERROR",
                f"Unable to copy artifacts from  {source} due to: {err}",
                error_stack=["DEPLOYMENT_FAILURE", "IO_ERROR", "IO_WRITE_ERROR"],
            ) from None
    return stored


class LocalDeployments:
    """The local deployments of one device: a queue and their persisted statuses."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._queue: deque[str] = deque()
        self._entries: dict[str, dict[str, Any]] = {}
        self._cancel_requested: set[str] = set()
        if path.exists():
            try:
                loaded = json.loads(path.read_text())
            except (OSError, ValueError):
                loaded = {}
            # the nucleus's queue lives in memory: what was still queued is gone (cleanUpQueuedDeployments)
            self._entries = {k: v for k, v in loaded.items() if v.get("status") != "QUEUED"}

    def _save(self) -> None:
        atomic_write(self.path, json.dumps(self._entries, indent=1))

    def create(self, request: Mapping[str, Any]) -> str:
        """Queue a request; its deployment id."""
        deployment_id = str(uuid.uuid4())
        with self._lock:
            self._entries[deployment_id] = {
                "status": "QUEUED",
                "createdOn": int(time.time() * 1000),
                "request": dict(request),
            }
            self._queue.append(deployment_id)
            self._save()
        return deployment_id

    def next(self) -> tuple[str, dict[str, Any]] | None:
        """The oldest queued request, taken off the queue."""
        with self._lock:
            while self._queue:
                deployment_id = self._queue.popleft()
                entry = self._entries.get(deployment_id)
                if entry is not None and entry["status"] == "QUEUED":
                    return deployment_id, dict(entry["request"])
        return None

    def cancel(self, deployment_id: str) -> str | None:
        """Cancel a QUEUED or IN_PROGRESS deployment; its status before, or None if unknown.

        A queued one leaves the queue and is CANCELED now; one in progress is only marked: the
        device sees the mark at its next cancellation point (:meth:`cancel_requested`)."""
        with self._lock:
            entry = self._entries.get(deployment_id)
            if entry is None:
                return None
            status = str(entry["status"])
            if status == "QUEUED":
                with contextlib.suppress(ValueError):
                    self._queue.remove(deployment_id)
                entry["status"] = "CANCELED"
                entry["statusDetails"] = {}
                self._save()
            elif status == "IN_PROGRESS":
                self._cancel_requested.add(deployment_id)
            return status

    def cancel_requested(self, deployment_id: str) -> bool:
        """Whether a cancellation of this deployment waits to be acted on."""
        with self._lock:
            entry = self._entries.get(deployment_id) or {}
            return deployment_id in self._cancel_requested or entry.get("status") == "CANCELED"

    def known(self, deployment_id: str) -> bool:
        with self._lock:
            return deployment_id in self._entries

    def update(self, deployment_id: str, status: str, details: Mapping[str, Any] | None = None) -> None:
        with self._lock:
            entry = self._entries.get(deployment_id)
            if entry is None or (entry["status"] == "CANCELED" and status == "IN_PROGRESS"):
                return  # canceled between leaving the queue and starting: the device drops it
            entry["status"] = status
            if status != "IN_PROGRESS":
                self._cancel_requested.discard(deployment_id)
            if details is not None:
                entry["statusDetails"] = dict(details)
            self._save()

    def get(self, deployment_id: str) -> dict[str, Any] | None:
        with self._lock:
            entry = self._entries.get(deployment_id)
            return None if entry is None else {"deploymentId": deployment_id, **entry}

    def all(self) -> list[dict[str, Any]]:
        with self._lock:
            return [{"deploymentId": k, **v} for k, v in self._entries.items()]
