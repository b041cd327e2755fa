"""Reading the device's store files back, with every problem located.

The device writes ``config/effectiveConfig.yaml``, ``deployments/current.json`` and
``run/status.json`` itself, whole and atomically (:func:`fake_device.nucleus.store.atomic_write`:
a reader sees the old or the new file, never half of one), so a problem in any of them means the
file was edited by hand, copied from elsewhere or damaged on disk. The first two are read at every
boot, the third by ``edge-harness device status``; a bad one must stop the boot with the file, the line
or JSON pointer and a way out, never with a traceback from deep inside the kernel, and never hang:
the effective configuration goes through the same YAML gate as every other YAML input
(:func:`harness.yamldoc.check_yaml`: control characters, size, depth, alias expansion).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from harness.errors import Diagnostic, DiagnosticReport, ValidationError
from harness.yamldoc import diagnostic, parse_mapping, plain, read_text

__all__ = ["read_effective_config_document", "read_record_fields", "read_status_fields"]

_CONFIG_HINT = (
    "the device writes this file itself: restore it from a backup, or delete it and the device "
    "starts with no components (its next deployment installs them again)"
)
_STATUS_HINT = (
    "the running device rewrites this file at each component state change: delete it and restart "
    "the device (edge-harness device run) to have it written again"
)
_RECORD_HINT = (
    "the device writes this file itself: delete it and the device forgets the deployment in flight "
    "and boots on its committed configuration"
)


def read_effective_config_document(path: Path) -> dict[str, Any]:
    """The plain document of ``effectiveConfig.yaml``; :class:`HarnessError` when it is unusable."""
    file = str(path)
    what = f"{file} is not a valid effective configuration"
    doc = parse_mapping(read_text(path, "device configuration"), file, what, expected="system: and services:")
    report = DiagnosticReport()

    def bad(where: list[str | int], message: str) -> None:
        report.add(diagnostic(doc, file, where, message, hint=_CONFIG_HINT))

    for key in ("system", "services"):
        if doc.get(key) is not None and not isinstance(doc[key], Mapping):
            bad([key], f"{key} must be a mapping{' of component names' if key == 'services' else ''}")
    services = doc.get("services")
    if isinstance(services, Mapping):
        for name, entry in services.items():
            _check_service(str(name), entry, bad)
    if not report.ok:
        raise ValidationError(report, what=what)
    document: dict[str, Any] = plain(doc)
    return document


def _check_service(name: str, entry: Any, bad: Callable[[list[str | int], str], None]) -> None:
    """The fields :func:`fake_device.nucleus.store.from_document` reads, each of the type it reads."""
    where: list[str | int] = ["services", name]
    if entry is None:
        return
    if not isinstance(entry, Mapping):
        bad(where, "a component's entry must be a mapping (version:, lifecycle:, configuration: …)")
        return
    for key in ("lifecycle", "configuration", "GroupToRootComponents", "GroupToLastDeployment"):
        value = entry.get(key)
        if value is not None and not isinstance(value, Mapping):
            bad([*where, key], f"{key} must be a mapping")
    for key in ("version", "componentType"):
        value = entry.get(key)
        if isinstance(value, Mapping | list):
            bad([*where, key], f"{key} must be a single value")
    dependencies = entry.get("dependencies")
    if isinstance(dependencies, list):
        for index, dependency in enumerate(dependencies):
            if not isinstance(dependency, str):
                bad([*where, "dependencies", index], "a dependency must be a string such as Name:HARD")
    elif dependencies is not None and not isinstance(dependencies, Mapping):
        bad([*where, "dependencies"], "dependencies must be a list such as [Name:HARD]")
    if name == "DeploymentService":
        for key in ("GroupToRootComponents", "GroupToLastDeployment"):
            groups = entry.get(key)
            for group, value in groups.items() if isinstance(groups, Mapping) else ():
                if value is not None and not isinstance(value, Mapping):
                    bad([*where, key, str(group)], "each thing group's entry must be a mapping")


#: field of ``deployments/current.json`` → (types it may have, whether it must be there)
_RECORD_FIELDS: dict[str, tuple[tuple[type, ...], bool]] = {
    "job_id": ((str,), True),
    "document": ((dict,), True),
    "stage": ((str,), False),
    "previous": ((dict, type(None)), False),
    "target": ((dict, type(None)), False),
    "tracked": ((list,), False),
    "merge_time": ((int, float), False),
    "result": ((dict, type(None)), False),
    "failure": ((dict, type(None)), False),
    "bootstrap": ((list,), False),
}
_TYPE_NAMES = {
    str: "a string",
    dict: "an object",
    list: "a list",
    type(None): "null",
    int: "a number",
    float: "a number",
}


def read_record_fields(path: Path) -> dict[str, Any] | None:
    """The fields of ``deployments/current.json``, None when there is none; :class:`HarnessError`
    (file, line or JSON pointer, hint) when it cannot be the record the device wrote."""
    file = str(path)
    if not path.exists() and not path.is_symlink():
        return None
    text = read_text(path, "deployment record")
    report = DiagnosticReport()

    def bad(message: str, location: str = "") -> ValidationError:
        report.add(Diagnostic("error", file, message, location=location, hint=_RECORD_HINT))
        return ValidationError(report, what=f"{file} is not a valid deployment record")

    data = _json(text, bad)
    if not isinstance(data, dict):
        raise bad("a deployment record must be a JSON object")
    for key in data:
        if key not in _RECORD_FIELDS:
            report.add(Diagnostic("error", file, f"at /{key}: unknown key {key}", hint=_RECORD_HINT))
    for key, (types, required) in _RECORD_FIELDS.items():
        if key not in data:
            if required:
                report.add(Diagnostic("error", file, f"at /{key}: {key} is missing", hint=_RECORD_HINT))
            continue
        value = data[key]
        if isinstance(value, bool) or not isinstance(value, types):
            names = " or ".join(dict.fromkeys(_TYPE_NAMES.get(t, t.__name__) for t in types))
            report.add(Diagnostic("error", file, f"at /{key}: {key} must be {names}", hint=_RECORD_HINT))
    if not report.ok:
        raise ValidationError(report, what=f"{file} is not a valid deployment record")
    return data


def _json(text: str, bad: Callable[[str, str], Exception]) -> Any:
    """``text`` parsed, or ``bad(message, line:col)`` raised for what :func:`json.loads` refuses."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise bad(f"malformed JSON: {err.msg}", f"{err.lineno}:{err.colno}") from None
    except RecursionError:
        raise bad("the JSON is nested more than the reader allows", "") from None
    except ValueError:  # an integer of more digits than Python converts (sys.int_info)
        raise bad("a number too long to read (thousands of digits)", "") from None


#: Highest process id Linux hands out (PID_MAX_LIMIT on 64-bit); 0 and negative ids name process
#: groups or every process to ``kill``, so a status file must not make ``device status`` probe them.
_PID_MAX = 1 << 22
#: field of ``run/status.json`` → (types it may have, what the message calls them)
_STATUS_FIELDS: dict[str, tuple[tuple[type, ...], str]] = {
    "thing": ((str,), "a string"),
    "platform": ((dict,), "an object"),
    "updated": ((int, float), "a number"),
    "deployment": ((str, type(None)), "a string or null"),
    "components": ((dict,), "an object of component names"),
}
_COMPONENT_FIELDS = ("version", "state", "statusCode", "statusReason")


def read_status_fields(path: Path) -> dict[str, Any] | None:
    """The fields of ``run/status.json``, None when there is none; :class:`HarnessError` (file,
    line or JSON pointer, hint) when it cannot be the file a device wrote.

    Unknown keys are let through (``device status`` ignores them); each key it reads must have the
    type the device writes, and ``pid`` must be a process id it may probe with signal 0.
    """
    file = str(path)
    if not path.exists() and not path.is_symlink():
        return None
    text = read_text(path, "device status")
    what = f"{file} is not a valid device status"
    report = DiagnosticReport()

    def add(message: str, location: str = "") -> None:
        report.add(Diagnostic("error", file, message, location=location, hint=_STATUS_HINT))

    def bad(message: str, location: str = "") -> ValidationError:
        add(message, location)
        return ValidationError(report, what=what)

    data = _json(text, bad)
    if not isinstance(data, dict):
        raise bad("a device status must be a JSON object")
    pid = data.get("pid")
    if "pid" in data and (isinstance(pid, bool) or not isinstance(pid, int) or not 0 < pid <= _PID_MAX):
        add(f"at /pid: pid must be a process id (an integer from 1 to {_PID_MAX}), not {_short(pid)}")
    for key, (types, names) in _STATUS_FIELDS.items():
        value = data.get(key)
        if key in data and (isinstance(value, bool) or not isinstance(value, types)):
            add(f"at /{key}: {key} must be {names}")
    components = data.get("components")
    for name, entry in components.items() if isinstance(components, dict) else ():
        where = f"/components/{_escape(name)}"
        if not isinstance(entry, dict):
            add(f"at {where}: each component's entry must be an object (version, state, statusCode)")
            continue
        for key in _COMPONENT_FIELDS:
            if entry.get(key) is not None and not isinstance(entry[key], str):
                add(f"at {where}/{key}: {key} must be a string")
    if not report.ok:
        raise ValidationError(report, what=what)
    return data


def _escape(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")


def _short(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."
