"""Checks on Kafka messages: schema shape, predicates on content, latency, gaps.

Kept apart from the steps so they can be unit-tested on hand-made payloads. The minimal
schema's shape is DeepStream's (eventmsg_payload.cpp generate_event_message_minimal); the full
schema's required keys are those every full payload carries (generate_event_message).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence
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
