"""Whether a new effective configuration can be committed: the bounds its own reader enforces.

The device reads ``config/effectiveConfig.yaml`` back at every boot through the YAML gate every
YAML input passes (:func:`harness.yamldoc.check_yaml`: at most :data:`~harness.yamldoc.MAX_YAML_CHARS`
characters, :data:`~harness.yamldoc.MAX_YAML_NODES` values, :data:`~harness.yamldoc.MAX_YAML_DEPTH`
levels). Each recipe and deployment passes that gate on its own, but the effective configuration
holds them all together: a few components with large configurations, or a configuration merge on
top of a large default, add up past a bound. Committed, such a file would make a device that
refuses to boot; so the merge checks the configuration it is about to write, before anything is
committed, and the deployment fails with nothing changed, naming the component and the bound.

The check counts values and levels as the gate counts parser events, on the plain document, and
measures the text :meth:`EffectiveConfig.save` writes; it does not run the gate itself (for a
configuration near 100,000 values that is seconds more per deployment). tests/unit/
test_device_config_bounds.py holds the two to the same edges; the bounds are read from
:mod:`harness.yamldoc` at each call, so they stay one set of numbers.

A real nucleus keeps its configuration in ``config.tlog`` and has no such bound; this is one of the
simulator's documented differences from a real device (docs/device.md).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from typing import Any

from fake_device.nucleus import DeploymentError
from fake_device.nucleus.store import EffectiveConfig
from harness import yamldoc

__all__ = ["CONFIGURATION_TOO_LARGE", "check_committable"]

#: The code of the failure. ``DynamicComponentConfigurationValidator`` fails a deployment whose
#: configuration the nucleus cannot read (``InvalidConfigFormatException``) with
#: FAILED_NO_STATE_CHANGE and COMPONENT_CONFIGURATION_NOT_VALID: the closest case the nucleus has
#: of "this configuration cannot be applied", reported before the merge changes anything.
CONFIGURATION_TOO_LARGE = "COMPONENT_CONFIGURATION_NOT_VALID"

_HINT = (
    "keep large data out of component configuration: ship it as an artifact (or a file the "
    "component downloads) and put its path or URI in the configuration"
)


def check_committable(config: EffectiveConfig, changed: Collection[str] = ()) -> DeploymentError | None:
    """None if ``config`` can be written and read back at boot, else the deployment's failure.

    ``changed`` (the components the deployment adds or changes) decides whom the message names:
    the largest of them by the bound that is crossed, else the largest component overall. Depth
    and values are counted on the plain document without recursion, before it is turned into
    YAML (the YAML emitter recurses per level, so a configuration nested a few hundred levels
    deep would end in RecursionError instead of this message).
    """
    document = config.to_document()
    values, depth = _shape(document)
    shapes = {name: _shape(entry) for name, entry in document["services"].items() if name in config.services}
    if depth > yamldoc.MAX_YAML_DEPTH:
        # a component's entry is the third level (the document, services:, the entry)
        name = _culprit(changed, {n: d for n, (_, d) in shapes.items()})
        levels = shapes.get(name, (0, 0))[1] + 2
        return _failure(
            f"The configuration of component {name} nests {levels} levels deep in the device's "
            f"effective configuration; the device reads at most {yamldoc.MAX_YAML_DEPTH} levels at boot"
        )
    if values > yamldoc.MAX_YAML_NODES:
        name = _culprit(changed, {n: v for n, (v, _) in shapes.items()})
        return _failure(
            f"Component {name} takes {shapes.get(name, (0, 0))[0]:,} values of the device's effective "
            f"configuration, which would hold {values:,}; the device reads at most "
            f"{yamldoc.MAX_YAML_NODES:,} at boot"
        )
    text = config.to_yaml()  # what EffectiveConfig.save writes
    if len(text) > yamldoc.MAX_YAML_CHARS:
        sizes = {n: len(json.dumps(entry)) for n, entry in document["services"].items() if n in shapes}
        name = _culprit(changed, sizes)
        return _failure(
            f"Component {name} takes about {sizes.get(name, 0):,} characters of the device's effective "
            f"configuration, which would be {len(text):,} characters long; the device reads at most "
            f"{yamldoc.MAX_YAML_CHARS:,} at boot"
        )
    return None


def _shape(value: Any) -> tuple[int, int]:
    """(values, nesting depth) of a plain document, counted as the YAML gate counts them: every
    collection and every scalar (mapping keys included) is a value; a scalar adds no depth."""
    values = 0
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, level = stack.pop()
        values += 1
        if isinstance(node, Mapping):
            deepest = max(deepest, level)
            values += len(node)
            stack.extend((child, level + 1) for child in node.values())
        elif isinstance(node, list):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in node)
    return values, deepest


def _culprit(changed: Collection[str], measure: Mapping[str, int]) -> str:
    among = [name for name in measure if name in changed] or list(measure)
    if not among:  # only the device's own entries: nothing a deployment can shrink
        return "(none: the device's own entries)"
    return max(sorted(among), key=lambda name: measure[name])


def _failure(message: str) -> DeploymentError:
    return DeploymentError(
        CONFIGURATION_TOO_LARGE,
        message,
        error_stack=["DEPLOYMENT_FAILURE", CONFIGURATION_TOO_LARGE],
        hint=_HINT,
    )
