"""The nucleus's directory layout under its root (``/greengrass/v2`` on a device).

Names and permissions follow ``util/NucleusPaths.java`` and ``util/Permissions.java``: folders
that hold secrets or state (config, deployments, recipes, logs) are owner-only, folders that
components read (artifacts, work) are readable by everyone. Keeping the exact layout matters
because recipes reach these folders through ``{artifacts:path}``, ``{work:path}`` and
``{kernel:rootPath}``, and the harness verifies through the log files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["NucleusPaths"]

# Permissions.java: OWNER_RWX_ONLY and OWNER_RWX_EVERYONE_RX.
OWNER_ONLY = 0o700
EVERYONE_READ = 0o755


def _segment(kind: str, value: str) -> str:
    """Component names and versions become folder names; refuse the two that would leave the
    folder (the recipe pattern ``[a-zA-Z0-9._-]+`` lets ``..`` through)."""
    if not value or value in (".", "..") or "/" in value or "\\" in value or "\x00" in value:
        raise ValueError(f"{kind} {value!r} cannot be used as a folder name")
    return value


@dataclass(frozen=True)
class NucleusPaths:
    """Paths under one simulated device's root; :meth:`ensure` creates the fixed folders."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root).absolute())

    # -- fixed folders ---------------------------------------------------------------------
    @property
    def config_path(self) -> Path:
        return self.root / "config"

    @property
    def effective_config_file(self) -> Path:
        return self.config_path / "effectiveConfig.yaml"

    @property
    def component_store_path(self) -> Path:
        return self.root / "packages"

    @property
    def recipes_path(self) -> Path:
        return self.component_store_path / "recipes"

    @property
    def artifacts_path(self) -> Path:
        return self.component_store_path / "artifacts"

    @property
    def unarchive_path(self) -> Path:
        return self.component_store_path / "artifacts-unarchived"

    @property
    def work_root(self) -> Path:
        return self.root / "work"

    @property
    def deployments_path(self) -> Path:
        return self.root / "deployments"

    @property
    def logs_path(self) -> Path:
        return self.root / "logs"

    @property
    def greengrass_log(self) -> Path:
        return self.logs_path / "greengrass.log"

    # -- per component ---------------------------------------------------------------------
    def artifact_path(self, component: str, version: str) -> Path:
        """``{artifacts:path}``: where the artifacts of one component version are stored."""
        return self.artifacts_path / _segment("component", component) / _segment("version", version)

    def unarchive_artifact_path(self, component: str, version: str) -> Path:
        """``{artifacts:decompressedPath}``: the PARENT of the per-archive folders."""
        return self.unarchive_path / _segment("component", component) / _segment("version", version)

    def work_path(self, component: str) -> Path:
        """``{work:path}`` and the current directory of every lifecycle script."""
        return self.work_root / _segment("component", component)

    def component_log(self, component: str) -> Path:
        return self.logs_path / f"{_segment('component', component)}.log"

    # -- creation --------------------------------------------------------------------------
    def ensure(self) -> NucleusPaths:
        """Create the fixed folders with the nucleus's permissions (idempotent)."""
        for path, mode in (
            (self.root, EVERYONE_READ),
            (self.config_path, OWNER_ONLY),
            (self.deployments_path, OWNER_ONLY),
            (self.work_root, EVERYONE_READ),
            (self.component_store_path, EVERYONE_READ),
            (self.artifacts_path, EVERYONE_READ),
            (self.unarchive_path, EVERYONE_READ),
            (self.recipes_path, OWNER_ONLY),
            (self.logs_path, OWNER_ONLY),
        ):
            path.mkdir(parents=True, exist_ok=True)
            os.chmod(path, mode)
        return self

    def ensure_artifact_path(self, component: str, version: str) -> Path:
        path = self.artifact_path(component, version)
        _make(path.parent, EVERYONE_READ)
        return _make(path, EVERYONE_READ)

    def ensure_unarchive_artifact_path(self, component: str, version: str) -> Path:
        path = self.unarchive_artifact_path(component, version)
        _make(path.parent, EVERYONE_READ)
        return _make(path, EVERYONE_READ)

    def ensure_work_path(self, component: str) -> Path:
        """``NucleusPaths.workPath``: a component's work folder is owner-only."""
        return _make(self.work_path(component), OWNER_ONLY)


def _make(path: Path, mode: int) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, mode)
    return path
