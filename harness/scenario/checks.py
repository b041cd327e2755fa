"""Checks on Kafka messages: schema shape, predicates on content, latency, gaps, sequences.

Kept apart from the steps so they can be unit-tested on hand-made payloads. The minimal
schema's shape is DeepStream's (eventmsg_payload.cpp generate_event_message_minimal); the full
schema's required keys are those every full payload carries (generate_event_message).
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.eval.pipeline import parse_object_string, parse_rfc3339_ns

MINIMAL_KEYS = {"version", "id", "@timestamp", "sensorId", "objects"}
FULL_KEYS = {"messageid", "mdsversion", "@timestamp", "place", "sensor", "analyticsModule", "object", "event"}


def schema_problem(payload: Any, schema: str) -> str | None:
    """Why ``payload`` is not a DeepStream ``schema`` ("minimal" | "full" | "none") payload, or None."""
    if schema == "none":
        return None
    if not isinstance(payload, dict):
        return f"not a JSON object but {type(payload).__name__}"
    if schema == "minimal":
        keys = set(payload)
        if keys != MINIMAL_KEYS:
            missing, extra = sorted(MINIMAL_KEYS - keys), sorted(keys - MINIMAL_KEYS)
            return f"keys differ from the minimal schema (missing {missing}, unexpected {extra})"
        if payload["version"] != "4.0":
            return f'version is {payload["version"]!r}, the minimal schema says "4.0"'
        if not isinstance(payload["id"], str) or not payload["id"].isdigit():
            return f"id {payload['id']!r} is not a frame number string"
        try:
            parse_rfc3339_ns(str(payload["@timestamp"]))
        except ValueError as err:
            return f"@timestamp: {err}"
        if not isinstance(payload["objects"], list):
            return "objects is not a list"
        for text in payload["objects"]:
            try:
                parse_object_string(str(text))
            except ValueError as err:
                return f"object {text!r}: {err}"
        return None
    missing = sorted(FULL_KEYS - set(payload))
    if missing:
        return f"keys of the full schema missing: {missing}"
    return None


_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+|\*)\]")


def select(payload: Any, path: str) -> list[Any]:
    """Values at a dotted path with ``[n]`` and ``[*]`` (``objects[*]``, ``sensor.id``)."""
    values = [payload]
    for name, index in _TOKEN.findall(path):
        nxt: list[Any] = []
        for value in values:
            if name:
                if isinstance(value, dict) and name in value:
                    nxt.append(value[name])
            elif index == "*":
                if isinstance(value, list):
                    nxt.extend(value)
            elif isinstance(value, list) and int(index) < len(value):
                nxt.append(value[int(index)])
        values = nxt
    return values


def predicate_problem(payload: Any, predicate: Any) -> str | None:
    """Why ``payload`` fails one ``where`` predicate of a scenario, or None.

    A predicate has ``path`` plus one of ``equals``, ``matches`` (regex, every selected string),
    ``min_items``; or ``object_label_in`` (labels of minimal-schema objects).
    """
    labels = getattr(predicate, "object_label_in", None)
    if labels:
        for text in payload.get("objects", []) if isinstance(payload, dict) else []:
            obj = parse_object_string(str(text))
            if obj is not None and obj.label not in labels:
                return f"object label {obj.label!r} not in {sorted(labels)}"
        return None
    path = predicate.path
    values = select(payload, path)
    if getattr(predicate, "equals", None) is not None and (
        not values or any(v != predicate.equals for v in values)
    ):
        return f"{path} is {values[0] if values else 'missing'!r}, expected {predicate.equals!r}"
    if getattr(predicate, "matches", None):
        pattern = re.compile(predicate.matches)
        for v in values:
            if not isinstance(v, str) or not pattern.search(v):
                return f"{path} value {v!r} does not match /{predicate.matches}/"
        if not values:
            return f"{path} is missing"
    if getattr(predicate, "min_items", None) is not None:
        items = values[0] if values else None
        if not isinstance(items, list) or len(items) < predicate.min_items:
            count = len(items) if isinstance(items, list) else "no"
            return f"{path} has {count} items, expected at least {predicate.min_items}"
    return None


def latency_ms(payloads: Iterable[tuple[int, Any]]) -> list[float]:
    """Frame → Kafka latency per message: receipt (ns) − ``@timestamp`` (the capture time)."""
    out = []
    for received_ns, payload in payloads:
        if isinstance(payload, dict) and "@timestamp" in payload:
            try:
                out.append((received_ns - parse_rfc3339_ns(str(payload["@timestamp"]))) / 1e6)
            except ValueError:
                continue
    return out


def largest_gap_s(received_ns: Sequence[int], start_ns: int, end_ns: int) -> float:
    """Longest time without a message in [start, end], counting the edges of the window."""
    points = [start_ns, *sorted(received_ns), end_ns]
    return max((b - a for a, b in itertools.pairwise(points)), default=0) / 1e9


#: how many duplicates and gaps per group a failure lists (the rest are counted)
SEQUENCE_EXAMPLES = 5

Number = int | float


def number_at(payload: Any, path: str) -> Number | None:
    """The number at ``path`` (the first value there): an int or float, or a string of one —
    DeepStream's minimal schema writes the frame number as text (``"id": "120"``)."""
    values = select(payload, path)
    if not values:
        return None
    value = values[0]
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            try:
                return float(text)
            except ValueError:
                return None
    return None


def group_at(payload: Any, path: str | None) -> str | None:
    """The group of a message: the text of the value at ``path`` ("" for no ``path``: one
    group), None when the message has nothing there."""
    if path is None:
        return ""
    values = select(payload, path)
    return None if not values or values[0] is None else str(values[0])


@dataclass
class SequenceCheck:
    """What :func:`check_sequence` found: ``problems`` (one line each, empty when the sequence
    is whole) and ``groups`` (per group: messages, first, last, the value it continued from or
    restarted below, and the first duplicates and gaps) for the step's details."""

    problems: list[str] = field(default_factory=list)
    groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    duplicates: int = 0
    gaps: int = 0


def _shown(value: Number) -> Number:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def check_sequence(
    payloads: Iterable[Any],
    field_path: str,
    per: str | None = None,
    step: float = 1,
    before: Mapping[str, Number] | None = None,
) -> SequenceCheck:
    """No duplicates and no gap larger than ``step`` in the numbers at ``field_path``, per group.

    Values are sorted first (messages of several partitions arrive in any order). ``before``
    maps a group to its last value received *before* the window: a window that starts with that
    value again has a duplicate, one that starts more than ``step`` above it has a gap — messages
    lost during a fault injected just before the window show up this way. A window that starts
    below it means the sender counts from the start again (the app restarted): it is checked on
    its own. A message without a number at the field, or without a group, is a problem too.
    """
    result = SequenceCheck()
    values: dict[str, list[Number]] = {}
    unreadable: list[str] = []
    for payload in payloads:
        group = group_at(payload, per)
        number = number_at(payload, field_path)
        if group is None or number is None:
            unreadable.append(str(payload)[:120])
            continue
        values.setdefault(group, []).append(number)
    if unreadable:
        what = f"a number at {field_path}" + (f" or a value at {per}" if per else "")
        result.problems.append(f"{len(unreadable)} message(s) without {what} (first: {unreadable[0]})")
    for group, numbers in sorted(values.items()):
        counts = Counter(numbers)
        distinct = sorted(counts)
        anchor = (before or {}).get(group)
        chain = list(distinct)
        info: dict[str, Any] = {
            "messages": len(numbers),
            "first": _shown(distinct[0]),
            "last": _shown(distinct[-1]),
        }
        if anchor is not None:
            if distinct[0] > anchor:
                chain.insert(0, anchor)
                info["continued_from"] = _shown(anchor)
            elif distinct[0] == anchor:
                counts[anchor] += 1  # received before the window, and again in it
                info["continued_from"] = _shown(anchor)
            else:
                info["restarted_below"] = _shown(anchor)
        duplicates = [(value, count) for value, count in sorted(counts.items()) if count > 1]
        gaps = [(a, b) for a, b in itertools.pairwise(chain) if b - a > step * (1 + 1e-9)]
        info["duplicates"] = [{"value": _shown(v), "times": c} for v, c in duplicates[:SEQUENCE_EXAMPLES]]
        info["gaps"] = [
            {"after": _shown(a), "next": _shown(b), "missing": max(1, round((b - a) / step) - 1)}
            for a, b in gaps[:SEQUENCE_EXAMPLES]
        ]
        result.duplicates += len(duplicates)
        result.gaps += len(gaps)
        label = f"{group}: " if per else ""
        result.problems += [f"{label}{_shown(v)} {c} times" for v, c in duplicates[:SEQUENCE_EXAMPLES]]
        result.problems += [
            f"{label}{g['after']} → {g['next']} ({g['missing']} missing)" for g in info["gaps"]
        ]
        result.groups[group if per else "all"] = info
    return result
