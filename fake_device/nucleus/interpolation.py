"""Recipe variables (``{artifacts:path}``, ``{configuration:/x}``, ``{Dep:work:path}``, …).

Follows ``componentmanager/KernelConfigResolver.java`` step by step, because its quirks are what
recipes in the field rely on:

* two passes over each string: first ``{namespace:key}`` (namespace ``[.\\w-]+``, key without
  ``:`` or ``}``), then ``{Component:namespace:key}`` on the result of the first pass; every
  match is replaced with ``String.replace``, i.e. everywhere it occurs;
* system namespaces: ``artifacts`` (``path``, ``decompressedPath`` — the PARENT of the
  per-archive folders), ``work`` (``path``), ``kernel`` (``rootPath``), ``iot`` (``thingName``);
  an unknown key or namespace is left as written;
* ``configuration`` takes a JSON pointer into the resolved configuration: a scalar gives its
  text (Jackson ``asText``: ``true``, ``null``, ``1.0E7``), an object or list its compact JSON
  with keys sorted (the resolver's mapper sorts map entries), a missing value leaves the
  placeholder as written;
* the cross-component form works only for the component's DIRECT dependencies (recipe
  ``ComponentDependencies``) and only if that dependency is part of the resolved deployment;
  otherwise it is left as written.
"""

from __future__ import annotations

import decimal
import json
import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from fake_device.nucleus.paths import NucleusPaths

__all__ = ["ResolvedService", "ResolverContext", "interpolate", "lookup_configuration", "value_text"]

# KernelConfigResolver.SAME_COMPONENT_INTERPOLATION_REGEX / CROSS_COMPONENT_INTERPOLATION_REGEX
# (Java's \w is ASCII-only).
_SAME = re.compile(r"\{([.\w-]+):([^:}]*)}", re.ASCII)
_CROSS = re.compile(r"\{([.\w-]+):([.\w-]+):([^:}]*)}", re.ASCII)
_MISSING = object()


@dataclass(frozen=True)
class ResolvedService:
    """What the resolver knows of a component in the deployment being applied."""

    version: str
    configuration: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ResolverContext:
    """Everything interpolation reads: the device's paths and thing name, and the resolved
    components of the deployment (name → :class:`ResolvedService`)."""

    paths: NucleusPaths
    thing_name: str
    services: Mapping[str, ResolvedService]


def _java_double(number: float) -> str:
    """``Double.toString``: plain between 1e-3 and 1e7, else ``d.dddE±n``."""
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    if number == 0:
        return "-0.0" if math.copysign(1.0, number) < 0 else "0.0"
    magnitude = abs(number)
    if 1e-3 <= magnitude < 1e7:
        text = repr(number)
        return text if ("." in text or "e" in text) else text + ".0"
    _sign, digits, exponent = decimal.Decimal(repr(magnitude)).as_tuple()
    assert isinstance(exponent, int)
    text_digits = "".join(map(str, digits)).rstrip("0") or "0"
    adjusted = exponent + len(digits) - 1
    mantissa = text_digits[0] + "." + (text_digits[1:] or "0")
    return ("-" if number < 0 else "") + f"{mantissa}E{adjusted}"


def _json(value: Any) -> str:
    """Jackson's compact JSON of a container node, keys sorted."""
    if isinstance(value, Mapping):
        items = sorted((str(k), v) for k, v in value.items())
        return "{" + ",".join(f"{json.dumps(k, ensure_ascii=False)}:{_json(v)}" for k, v in items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_json(v) for v in value) + "]"
    if isinstance(value, float):
        return _java_double(value)
    return json.dumps(value, ensure_ascii=False)


def value_text(value: Any) -> str:
    """The text a configuration value is interpolated as."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _java_double(value)
    if isinstance(value, Mapping | list | tuple):
        return _json(value)
    return str(value)


def lookup_configuration(configuration: Mapping[str, Any], pointer: str) -> Any:
    """``JsonNode.at(pointer)``; returns a private sentinel when nothing is there."""
    if pointer == "":
        return configuration
    if not pointer.startswith("/"):
        return _MISSING
    node: Any = configuration
    for raw in pointer[1:].split("/"):
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, Mapping):
            if token not in node:
                return _MISSING
            node = node[token]
        elif isinstance(node, list):
            if not token.isdigit() or (token != "0" and token.startswith("0")) or int(token) >= len(node):
                return _MISSING
            node = node[int(token)]
        else:
            return _MISSING
    return node


def _system(context: ResolverContext, component: str, version: str, namespace: str, key: str) -> str | None:
    paths = context.paths
    if namespace == "artifacts":
        if key == "path":
            return str(paths.artifact_path(component, version))
        if key == "decompressedPath":
            return str(paths.unarchive_artifact_path(component, version))
    elif namespace == "work" and key == "path":
        return str(paths.work_path(component))
    elif namespace == "kernel" and key == "rootPath":
        return str(paths.root)
    elif namespace == "iot" and key == "thingName":
        return context.thing_name
    return None


_SYSTEM_NAMESPACES = ("artifacts", "work", "kernel", "iot")


def _configuration_text(context: ResolverContext, component: str, pointer: str) -> str | None:
    service = context.services.get(component)
    if service is None:
        return None
    found = lookup_configuration(service.configuration, pointer)
    return None if found is _MISSING else value_text(found)


def _replace(
    text: str,
    context: ResolverContext,
    component: str,
    version: str,
    dependencies: Collection[str],
    with_configuration: bool,
) -> str:
    result = text
    for match in list(_SAME.finditer(result)):
        namespace, key = match.group(1), match.group(2)
        if with_configuration and namespace == "configuration":
            replacement = _configuration_text(context, component, key)
        elif namespace in _SYSTEM_NAMESPACES:
            replacement = _system(context, component, version, namespace, key)
        else:
            replacement = None
        if replacement is not None:
            result = result.replace(match.group(0), replacement)
    for match in list(_CROSS.finditer(result)):
        target, namespace, key = match.group(1), match.group(2), match.group(3)
        if target not in dependencies or target not in context.services:
            continue
        if with_configuration and namespace == "configuration":
            replacement = _configuration_text(context, target, key)
        elif namespace in _SYSTEM_NAMESPACES:
            replacement = _system(context, target, context.services[target].version, namespace, key)
        else:
            replacement = None
        if replacement is not None:
            result = result.replace(match.group(0), replacement)
    return result


def interpolate(
    value: Any,
    context: ResolverContext,
    component: str,
    *,
    dependencies: Collection[str] = (),
    with_configuration: bool = True,
) -> Any:
    """Interpolate every string in ``value`` (a lifecycle, a script, or a configuration) for
    ``component``, whose direct dependencies are ``dependencies``.

    ``with_configuration=False`` is the nucleus's ``interpolateSystemParametersOnly``, used on
    component configuration when ``interpolateComponentConfiguration`` is set. Returns a new
    object; ``value`` is not changed.
    """
    service = context.services.get(component)
    if service is None:
        raise KeyError(f"{component} is not among the resolved components")
    if isinstance(value, str):
        return _replace(value, context, component, service.version, dependencies, with_configuration)
    options = {"dependencies": dependencies, "with_configuration": with_configuration}
    if isinstance(value, Mapping):
        return {k: interpolate(v, context, component, **options) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, context, component, **options) for v in value]
    return value
