"""Scenarios: declarative YAML tests of core devices, run by ``edge-harness run``.

The format (docs/scenarios.md) is defined by :data:`~harness.scenario.schema.SCENARIO_SCHEMA`;
:func:`load_scenario` checks a file and returns the typed :class:`Scenario` the runner works
from, :func:`lint_scenario` returns the findings without raising. They are imported on first
use, so that ``python -m harness.scenario.schema`` does not load the package's other modules first.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Scenario", "lint_scenario", "load_scenario"]


def __getattr__(name: str) -> Any:
    if name in ("load_scenario", "lint_scenario"):
        from harness.scenario import load

        return getattr(load, name)
    if name == "Scenario":
        from harness.scenario.model import Scenario

        return Scenario
    raise AttributeError(f"module 'harness.scenario' has no attribute {name!r}")
