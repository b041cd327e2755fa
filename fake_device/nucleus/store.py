"""What a device keeps on disk between runs: the effective configuration and the deployment in
flight.

``config/effectiveConfig.yaml`` has the nucleus's shape (``Kernel.writeEffectiveConfig``):
``system`` (thing name, root path), ``services.<component>`` with ``componentType``,
``configuration``, ``dependencies`` (``Name:HARD``), ``lifecycle`` and ``version``,
``services.main.dependencies`` (the root components), and ``services.DeploymentService``
``GroupToRootComponents`` / ``GroupToLastDeployment`` (``DeploymentService.java``). The
simulator adds ``configurationTimestamps`` per component (the per-leaf modification times the
nucleus keeps in config.tlog, needed for the next configuration merge).

Unlike the nucleus, which appends to a transaction log and can be caught between two entries,
the simulator writes each file whole (temporary file, fsync, rename): a device killed at any
moment finds either the old or the new file, never a mix. ``deployments/current.json`` records
the deployment in flight and how far it got, so that a restarted device finishes or rolls back
what a killed one started.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from fake_device.nucleus.lifecycle import ServiceSpec
from fake_device.nucleus.store_read import read_effective_config_document, read_record_fields

__all__ = ["DeploymentRecord", "EffectiveConfig", "atomic_write", "load_effective_config"]

_SYSTEM_SERVICES = ("main", "DeploymentService")


def atomic_write(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` so that a crash leaves the old or the new content."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as stream:
        stream.write(text)
        stream.flush()
        os.fsync(stream.fileno())
    os.replace(tmp, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _yaml() -> YAML:
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.width = 4096
    return yaml


@dataclass
class EffectiveConfig:
    """The device's committed state: components, root components per target, last deployments."""

    thing_name: str = ""
    root_path: str = ""
    services: dict[str, dict[str, Any]] = field(default_factory=dict)
    group_roots: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)
    group_last_deployment: dict[str, dict[str, Any]] = field(default_factory=dict)

    # -- conversions -------------------------------------------------------------------------
    def specs(self) -> dict[str, ServiceSpec]:
        return {name: spec_of(name, entry) for name, entry in self.services.items()}

    def root_components(self) -> list[str]:
        return sorted({name for roots in self.group_roots.values() for name in roots})

    def to_document(self) -> dict[str, Any]:
        services: dict[str, Any] = {
            name: {**entry, "dependencies": [f"{d}:{k}" for d, k in entry.get("dependencies", {}).items()]}
            for name, entry in sorted(self.services.items())
        }
        services["main"] = {"dependencies": self.root_components(), "lifecycle": {}}
        services["DeploymentService"] = {
            "GroupToRootComponents": self.group_roots,
            "GroupToLastDeployment": self.group_last_deployment,
        }
        return {"system": {"rootpath": self.root_path, "thingName": self.thing_name}, "services": services}

    def to_yaml(self) -> str:
        buffer = io.StringIO()
        _yaml().dump(json.loads(json.dumps(self.to_document())), buffer)
        return buffer.getvalue()

    def copy(self) -> EffectiveConfig:
        return from_document(json.loads(json.dumps(self.to_document())))

    def save(self, path: Path) -> None:
        atomic_write(path, self.to_yaml())


def spec_of(name: str, entry: Mapping[str, Any]) -> ServiceSpec:
    return ServiceSpec(
        name=name,
        version=str(entry.get("version", "")),
        lifecycle=dict(entry.get("lifecycle") or {}),
        dependencies=dict(entry.get("dependencies") or {}),
        component_type=str(entry.get("componentType") or "aws.greengrass.generic"),
        configuration=dict(entry.get("configuration") or {}),
    )


def from_document(document: Mapping[str, Any]) -> EffectiveConfig:
    system = document.get("system") or {}
    services = dict(document.get("services") or {})
    deployment_service = services.get("DeploymentService") or {}
    config = EffectiveConfig(
        thing_name=str(system.get("thingName") or ""),
        root_path=str(system.get("rootpath") or ""),
        group_roots=dict(deployment_service.get("GroupToRootComponents") or {}),
        group_last_deployment=dict(deployment_service.get("GroupToLastDeployment") or {}),
    )
    for name, entry in services.items():
        if name in _SYSTEM_SERVICES:
            continue
        entry = dict(entry)
        deps = entry.get("dependencies") or []
        if isinstance(deps, list):
            entry["dependencies"] = dict(d.split(":", 1) if ":" in d else (d, "HARD") for d in deps)
        config.services[name] = entry
    return config


def load_effective_config(path: Path) -> EffectiveConfig:
    """The committed configuration, or an empty one for a device that never deployed.

    A file that is not what the device wrote (hand-edited, damaged, hostile) is a located
    :class:`~harness.errors.ValidationError`: the boot stops before anything is started.
    """
    if not path.exists() and not path.is_symlink():
        return EffectiveConfig()
    return from_document(read_effective_config_document(path))


@dataclass
class DeploymentRecord:
    """``deployments/current.json``: the deployment being applied and its stage.

    Stages: ``prepare`` (resolving, downloading — nothing changed yet), ``merged`` (the new
    configuration is committed; components are being started), ``rollback`` (the previous
    configuration is committed again), ``report`` (the result is known, not yet reported).
    A deployment with bootstrap steps (``KernelUpdateActivator``) goes through ``bootstrap``
    (the new configuration is committed, components stay stopped, ``bootstrap`` lists each
    task's ``component``, ``status`` PENDING/DONE and ``exitCode``), ``activation`` (the
    nucleus restarted into the new configuration) and ``kernel-rollback`` (it restarted into
    the previous one).
    """

    job_id: str
    document: dict[str, Any]
    stage: str = "prepare"
    previous: dict[str, Any] | None = None  # EffectiveConfig document before the merge
    #: the EffectiveConfig document the stage commits, saved before the commit: a device killed
    #: between the two finishes the commit at its next boot instead of resuming on the old one
    target: dict[str, Any] | None = None
    tracked: list[str] = field(default_factory=list)
    merge_time: float = 0.0
    result: dict[str, Any] | None = None  # {status, detailed, failure_cause, error_stack, error_types}
    failure: dict[str, Any] | None = None  # the failure that started a rollback
    bootstrap: list[dict[str, Any]] = field(default_factory=list)  # the bootstrap tasks and their status

    def save(self, path: Path) -> None:
        atomic_write(path, json.dumps(self.__dict__, indent=1, sort_keys=True))

    @staticmethod
    def load(path: Path) -> DeploymentRecord | None:
        """The record at ``path``, None when there is none; a damaged one is a located error
        (forgetting it silently would lose the deployment in flight)."""
        data = read_record_fields(path)
        return None if data is None else DeploymentRecord(**data)
