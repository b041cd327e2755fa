"""A deployment's configuration update for one component, as the nucleus computes it.

``KernelConfigResolver.resolveConfigurationToApply`` starts from the component's running
configuration, removes the ``reset`` JSON pointers (``""`` resets everything), merges the recipe's
``DefaultConfiguration`` with timestamp 1, then merges the deployment's ``merge`` object with the
deployment's timestamp. The nucleus configuration store keeps a modification time per leaf
(``config/Topic.withNewerValue``), and that is what makes the rules:

* a value is replaced only by a write at least as new as it — so defaults (timestamp 1) fill in
  missing keys and replace values that themselves came from an older default, but never a value
  a deployment merged; a merge from an older deployment loses to a newer value;
* when a container meets a leaf or the other way round, the new one replaces the old one
  whatever the timestamps (``config/Topics.updateChild``);
* lists are leaves (replaced whole); nulls are values; keys match case-insensitively and keep
  the spelling they were first written with (``config/CaseInsensitiveString``);
* a reset pointer into a list element is ignored (``pointsToArrayElement``).

Everything here is a pure function on JSON data: inputs are never mutated.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.errors import HarnessError

__all__ = [
    "DEFAULT_VALUE_TIMESTAMP",
    "UNKNOWN_TIMESTAMP",
    "ConfigurationUpdate",
    "ConfigurationUpdateError",
    "ResolvedConfiguration",
    "apply_configuration_update",
    "merge_at_key_path",
    "parse_json_pointer",
    "resolve_configuration",
]

#: KernelConfigResolver merges recipe defaults with timestamp 1 "to denote a default"
DEFAULT_VALUE_TIMESTAMP = 1
#: the timestamp given to a running value whose timestamp is not known: newer than a default,
#: older than any deployment (deployment timestamps are epoch milliseconds)
UNKNOWN_TIMESTAMP = 2

Path_ = tuple[str, ...]


class ConfigurationUpdateError(HarnessError):
    """A ``reset`` entry that is not a JSON pointer."""


@dataclass(frozen=True)
class ConfigurationUpdate:
    """The ``configurationUpdate`` of one component in a deployment."""

    merge: Mapping[str, Any] | None = None
    reset: Sequence[str] = ()


@dataclass(frozen=True)
class ResolvedConfiguration:
    """The configuration to apply and the modification time of every leaf (keyed by its path),
    to pass back as ``timestamps`` at the next deployment."""

    values: dict[str, Any]
    timestamps: dict[Path_, int] = field(default_factory=dict)


@dataclass
class _Leaf:
    value: Any
    modtime: int


# A node is either a _Leaf or a dict[str, node] (an interior node).


def parse_json_pointer(pointer: str) -> list[str]:
    """RFC 6901 tokens of ``pointer`` (``""`` → no tokens)."""
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise ConfigurationUpdateError(
            f"{pointer!r} is not a JSON pointer", hint="a reset path starts with '/', e.g. '/mqtt/port'"
        )
    return [token.replace("~1", "/").replace("~0", "~") for token in pointer[1:].split("/")]


def _is_array_index(token: str) -> bool:
    """Jackson ``JsonPointer._parseIndex``: digits, no leading zero, fits an int."""
    if not token or len(token) > 10 or not token.isascii() or not token.isdigit():
        return False
    if token[0] == "0":
        return token == "0"
    return int(token) <= 2**31 - 1


def _find_key(node: dict[str, Any], key: str) -> str | None:
    if key in node:
        return key
    lowered = key.lower()
    return next((k for k in node if k.lower() == lowered), None)


def _same(a: Any, b: Any) -> bool:
    """``Objects.equals`` on the Java values: 1, 1.0 and True are all different."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return bool(a == b)


def _build(values: Mapping[str, Any], timestamps: Mapping[Path_, int], prefix: Path_ = ()) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for key, value in values.items():
        path = (*prefix, key)
        if isinstance(value, Mapping):
            tree[key] = _build(value, timestamps, path)
        else:
            tree[key] = _Leaf(copy.deepcopy(value), timestamps.get(path, UNKNOWN_TIMESTAMP))
    return tree


def _merge(tree: dict[str, Any], update: Mapping[str, Any], timestamp: int) -> None:
    """``Topics.updateFromMap`` with MERGE behaviour."""
    for raw_key, value in update.items():
        key = str(raw_key)
        existing_key = _find_key(tree, key)
        existing = tree.get(existing_key) if existing_key is not None else None
        if isinstance(value, Mapping):
            if not isinstance(existing, dict):
                # a leaf turns into a container (or a new key): the new spelling wins
                _drop(tree, existing_key)
                existing = tree[key] = {}
            _merge(existing, value, timestamp)
            continue
        if not isinstance(existing, _Leaf):
            _drop(tree, existing_key)
            existing = tree[key] = _Leaf(None, 0)
        _write_leaf(existing, copy.deepcopy(value), timestamp)


def _drop(tree: dict[str, Any], key: str | None) -> None:
    if key is not None:
        del tree[key]


def _write_leaf(leaf: _Leaf, value: Any, timestamp: int) -> None:
    """``Topic.withNewerValue(timestamp, value, false, true)``."""
    timestamp_would_increase = timestamp > leaf.modtime
    if (_same(value, leaf.value) or timestamp < leaf.modtime) and not timestamp_would_increase:
        return
    leaf.value = value
    leaf.modtime = timestamp


def _reset(tree: dict[str, Any], pointers: Iterable[str]) -> dict[str, Any]:
    """``removeKeysFromConfigWhichAreReset``."""
    for pointer in pointers:
        if pointer == "":
            return {}
        tokens = parse_json_pointer(pointer)
        if any(_is_array_index(token) for token in tokens):
            continue  # the nucleus logs an error and ignores a pointer into a list
        node: Any = tree
        for token in tokens[:-1]:
            key = _find_key(node, token) if isinstance(node, dict) else None
            if key is None:
                node = None
                break
            node = node[key]
        if isinstance(node, dict):
            key = _find_key(node, tokens[-1])
            if key is not None:
                del node[key]
    return tree


def _values(tree: dict[str, Any], prefix: Path_, timestamps: dict[Path_, int]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, node in tree.items():
        path = (*prefix, key)
        if isinstance(node, dict):
            out[key] = _values(node, path, timestamps)
        else:
            out[key] = node.value
            timestamps[path] = node.modtime
    return out


def resolve_configuration(
    current: Mapping[str, Any] | None,
    default_configuration: Mapping[str, Any] | None,
    update: ConfigurationUpdate | None = None,
    *,
    timestamp: int,
    timestamps: Mapping[Path_, int] | None = None,
) -> ResolvedConfiguration:
    """The configuration a component gets from a deployment created at ``timestamp`` (ms).

    ``current`` is the running configuration (``None`` for a new component), ``timestamps`` the
    modification times returned by the previous call (leaves without one count as
    :data:`UNKNOWN_TIMESTAMP`). Raises :class:`ConfigurationUpdateError` for a reset entry that is
    not a JSON pointer.
    """
    tree = _build(current or {}, timestamps or {})
    if update is not None and update.reset:
        tree = _reset(tree, update.reset)
    _merge(tree, default_configuration or {}, DEFAULT_VALUE_TIMESTAMP)
    if update is not None and update.merge is not None:
        _merge(tree, update.merge, timestamp)
    out_timestamps: dict[Path_, int] = {}
    values = _values(tree, (), out_timestamps)
    return ResolvedConfiguration(values, out_timestamps)


def apply_configuration_update(
    current: Mapping[str, Any] | None,
    default_configuration: Mapping[str, Any] | None,
    *,
    reset: Sequence[str] = (),
    merge: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The documented rule on plain data: running values (treated as set by an earlier
    deployment) → reset → defaults fill what is missing → merge wins."""
    resolved = resolve_configuration(
        current,
        default_configuration,
        ConfigurationUpdate(merge=merge, reset=tuple(reset)),
        timestamp=UNKNOWN_TIMESTAMP + 1,
    )
    return resolved.values


def _modtime(node: Any) -> int:
    """``Node.getModtime``: a container's is that of its newest child."""
    if isinstance(node, _Leaf):
        return node.modtime
    return max((_modtime(child) for child in node.values()), default=0)


def merge_at_key_path(
    current: Mapping[str, Any] | None,
    timestamps: Mapping[Path_, int] | None,
    key_path: Sequence[str],
    value: Mapping[str, Any],
    *,
    timestamp: int,
    now: int,
) -> tuple[ResolvedConfiguration, bool]:
    """A component's own ``UpdateConfiguration`` over IPC (aws-greengrass-nucleus
    ``ConfigStoreIPCEventStreamAgent.UpdateConfigurationOperationHandler``): merge ``value`` into
    the container at ``key_path`` with the proposed ``timestamp`` (ms), by the same per-leaf rules
    as a deployment. A ``key_path`` that does not exist yet is created and written at ``now``; one
    that names a leaf turns it into the container. Returns the new configuration and whether the
    proposed timestamp is older than the node's newest write afterwards (the nucleus keeps what
    the merge changed and answers ``FailedUpdateConditionCheckError``).
    """
    tree = _build(current or {}, timestamps or {})
    node: Any = tree
    parent: dict[str, Any] | None = None
    last: str | None = None
    for token in key_path:
        key = _find_key(node, token) if isinstance(node, dict) else None
        if key is None:
            node = None
            break
        parent, last, node = node, key, node[key]
    update_time = timestamp
    if node is None:
        update_time = now  # "Newly created node uses the current timestamp"
        container = tree
        for token in key_path:
            key = _find_key(container, token)
            if key is None or not isinstance(container[key], dict):
                _drop(container, key)
                container[token] = {}
                key = token
            container = container[key]
        _merge(container, value, update_time)
    elif isinstance(node, _Leaf):
        assert parent is not None and last is not None
        _merge(parent, {last: value}, update_time)
    else:
        _merge(node, value, update_time)
    updated: Any = tree
    for token in key_path:
        updated = updated[_find_key(updated, token)]
    out_timestamps: dict[Path_, int] = {}
    values = _values(tree, (), out_timestamps)
    return ResolvedConfiguration(values, out_timestamps), update_time < _modtime(updated)
