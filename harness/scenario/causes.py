"""Why a step failed, when the reason lies outside the step: a broken component, a dead process.

A step sees only its own symptom — ``quickstart-events: 0 messages in 20.0 s`` — while the cause
is elsewhere: the app went BROKEN three retries ago because ffmpeg is missing, or the broker died.
When a step fails, the runner asks here what is wrong with the run and appends it to the step's
message, so that the terminal summary, the HTML report and the JUnit failure all name the cause.

Everything is read through the interfaces a real fleet offers as well (design rule 1): component
states and status details from ``ListInstalledComponents`` (what the devices reported as fleet
status), the states the timeline saw since the step started (from the same API), the devices'
component logs, and the exit of processes the harness itself started (devices, services).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from harness.scenario.result import TimelineEvent

#: lifecycle states that mean a component is not doing its job
BAD_STATES = ("ERRORED", "BROKEN")
#: how many of the last error lines of a component log a cause quotes
ERROR_LINES = 3
_TAIL_BYTES = 64 * 1024

# <time> [LEVEL] (thread) logger: event. message. {context} — fake_device.nucleus.logs.format_line
_LOG_LINE = re.compile(r"^\S+ \[(?P<level>[A-Z]+)\] \(.*?\) \S+?: (?P<rest>.*)$")
_CONTEXT = re.compile(r"\. \{[^{}]*\}$|\{[^{}]*\}$")


def last_error_lines(path: Path, count: int = ERROR_LINES) -> list[str]:
    """The last ``count`` distinct error lines of a component log, oldest first: what the
    component wrote to stderr and what the nucleus logged at ERROR, without the line prefix
    (time, level, thread) and the ``{key=value}`` context."""
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - _TAIL_BYTES))
            text = fh.read().decode("utf-8", errors="replace")
    except OSError:
        return []
    found: list[str] = []
    for line in text.splitlines():
        match = _LOG_LINE.match(line)
        if match is None:
            continue
        rest = match.group("rest")
        if rest.startswith("stderr. "):
            message = rest[len("stderr. ") :]
        elif match.group("level") == "ERROR":
            message = rest
        else:
            continue
        message = _CONTEXT.sub("", message).strip().rstrip(".").replace("\\n", " ").strip()
        if not message:
            continue
        if message in found:  # a component retried: keep the latest occurrence only
            found.remove(message)
        found.append(message)
    return found[-count:]


def component_cause(
    thing: str, name: str, state: str, installed: Mapping[str, Any] | None, log: Path | None, *, was: bool
) -> str:
    """``component NAME is BROKEN on THING (RUN_ERROR: Run script exited with code 1): <last
    error lines>``; ``was`` for a state the timeline saw earlier in the step."""
    text = f"component {name} {'was' if was else 'is'} {state} on {thing}"
    if installed:
        codes = ", ".join(installed.get("lifecycleStatusCodes") or [])
        reason = installed.get("lifecycleStateDetails") or ""
        if not was and (codes or reason):
            text += f" ({': '.join(part for part in (codes, reason) if part)})"
    lines = last_error_lines(log) if log is not None else []
    if lines:
        text += f"; last error lines of {log.name if log else 'its log'}: " + " | ".join(lines)
    return text


def failure_causes(
    *,
    devices: Mapping[str, Any],
    installed: Mapping[str, Mapping[str, Mapping[str, Any]]],
    components: Iterable[str],
    services: Mapping[str, Any],
    timeline: Iterable[TimelineEvent],
    since: float,
) -> list[str]:
    """What is wrong with the run now, or went wrong since ``since`` (epoch seconds).

    ``installed`` is each device's ``ListInstalledComponents`` answer by component name (empty
    when it could not be read), ``timeline`` what the runner saw change. One line per cause:
    components in ERRORED/BROKEN now, components that were in such a state since ``since``
    (e.g. broken, then rolled back), devices and services that exited on their own.
    """
    names = list(components)
    causes: list[str] = []
    seen_bad: dict[tuple[str, str], str] = {}
    for event in timeline:
        state = str(event.state).split("@")[0]
        if event.kind == "component" and event.time >= since and state in BAD_STATES:
            seen_bad[(event.device, event.name)] = f"{state} at {event.version}" if event.version else state
    for thing, device in devices.items():
        exited = getattr(device, "exit_status", None)
        status = exited() if callable(exited) else None
        if status:
            causes.append(status)
        log_of = getattr(device, "component_log", None) if getattr(device, "root", None) else None
        for name in names:
            comp = installed.get(thing, {}).get(name)
            state = str(comp.get("lifecycleState")) if comp else ""
            log = log_of(name) if log_of is not None else None
            if state in BAD_STATES:
                causes.append(component_cause(thing, name, state, comp, log, was=False))
            elif (thing, name) in seen_bad:
                now = f"{state}@{comp.get('componentVersion')}" if comp else "not installed"
                text = component_cause(thing, name, seen_bad[(thing, name)], None, log, was=True)
                causes.append(text.replace(f" on {thing}", f" on {thing} (now {now})", 1))
    for service in services.values():
        down = service.failure() if service is not None and hasattr(service, "failure") else None
        if down:
            causes.append(down)
    return causes
