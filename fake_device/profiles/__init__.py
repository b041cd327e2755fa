"""Device profiles: what a simulated core device claims to be.

A profile gives the platform attributes the nucleus would detect (``os``, ``architecture``,
plus any other key a recipe's manifests may test), a CPU and memory budget for component
limits, and environment variables every component process gets. Profiles are YAML files
(``<name>.yaml`` in this folder, or any path); :func:`load_profile` checks them against
:data:`PROFILE_SCHEMA` and reports every problem with the file and a JSON pointer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from harness.errors import Diagnostic, DiagnosticReport, HarnessError, ValidationError
from harness.yamldoc import YAML_SYNTAX_HINT, YamlLimitError, check_yaml, read_text

__all__ = ["PROFILE_DIR", "PROFILE_SCHEMA", "DeviceProfile", "ProfileError", "load_profile", "profile_names"]

PROFILE_DIR = Path(__file__).parent

_MEMORY = re.compile(r"^([0-9]+)(|B|KiB|MiB|GiB|TiB)$")
_UNITS = {"": 1, "B": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}

PROFILE_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["name", "platform", "resources"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "pattern": "^[A-Za-z0-9._-]+$"},
        "description": {"type": "string"},
        "platform": {
            "type": "object",
            "required": ["os", "architecture"],
            "properties": {
                # PlatformResolver's detected values
                "os": {"enum": ["linux", "windows", "darwin"]},
                "architecture": {"enum": ["amd64", "x86", "arm", "aarch64"]},
                "architecture.detail": {"enum": ["armv6l", "armv7l", "armv8l", "armv6b", "armv7b", "armv8b"]},
            },
            "additionalProperties": {"type": "string"},
        },
        "resources": {
            "type": "object",
            "required": ["cpus", "memory"],
            "additionalProperties": False,
            "properties": {
                "cpus": {"type": "number", "exclusiveMinimum": 0},
                "memory": {
                    "oneOf": [
                        {"type": "integer", "minimum": 1},
                        {"type": "string", "pattern": _MEMORY.pattern},
                    ]
                },
            },
        },
        "env": {"type": "object", "additionalProperties": {"type": "string"}},
        # the device's link (docker backend only: shaped with tc inside the device's container)
        "network": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "downlink_mbit": {"type": "number", "exclusiveMinimum": 0},
                "uplink_mbit": {"type": "number", "exclusiveMinimum": 0},
            },
        },
    },
}


class ProfileError(ValidationError):
    """A profile that cannot be read or does not match :data:`PROFILE_SCHEMA`."""


@dataclass(frozen=True)
class DeviceProfile:
    name: str
    platform: dict[str, str]
    cpus: float
    memory_bytes: int
    env: dict[str, str] = field(default_factory=dict)
    description: str = ""
    source: Path | None = None
    #: link speed limits in Mbit/s (None: unlimited); applied by the docker backend only
    downlink_mbit: float | None = None
    uplink_mbit: float | None = None


def profile_names() -> list[str]:
    return sorted(p.stem for p in PROFILE_DIR.glob("*.yaml"))


def _pointer(path: Any) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


def load_profile(name_or_path: str | Path) -> DeviceProfile:
    """A profile by name (a file in this folder) or by path; raises :class:`ProfileError`."""
    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml") and not path.exists():
        path = PROFILE_DIR / f"{name_or_path}.yaml"
    report = DiagnosticReport()
    source = str(path)
    try:
        text = read_text(path, "device profile")
        check_yaml(text)
        data = YAML(typ="safe", pure=True).load(text)
    except ValidationError as err:  # not UTF-8: located already
        report.extend(err.report)
        raise ProfileError(report, what=f"{source} is not a device profile") from None
    except YamlLimitError as err:
        report.add(err.diagnostic(source))
        raise ProfileError(report, what=f"{source} is not a device profile") from None
    except HarnessError as err:
        known = ", ".join(profile_names())
        missing = "does not exist" in err.message
        report.add(
            Diagnostic(
                "error",
                source,
                "no such device profile" if missing else err.message,
                hint=f"built-in profiles: {known}" if missing else err.hint or "",
            )
        )
        raise ProfileError(report, what=f"{source} is not a device profile") from None
    except (YAMLError, ValueError, TypeError) as err:
        report.add(
            Diagnostic(
                "error",
                source,
                f"cannot read the profile: {str(err).splitlines()[0] if str(err) else type(err).__name__}",
                hint=YAML_SYNTAX_HINT,
            )
        )
        raise ProfileError(report, what=f"{source} is not a device profile") from None
    validator = jsonschema.Draft202012Validator(PROFILE_SCHEMA)
    for error in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path))):
        report.add(Diagnostic("error", source, error.message, location=_pointer(error.absolute_path) or "/"))
    if not report.ok:
        raise ProfileError(report, what=f"{source} is not a valid device profile")
    memory = data["resources"]["memory"]
    if isinstance(memory, str):
        match = _MEMORY.match(memory)
        assert match is not None
        memory = int(match.group(1)) * _UNITS[match.group(2)]
    return DeviceProfile(
        name=data["name"],
        platform=dict(data["platform"]),
        cpus=data["resources"]["cpus"],
        memory_bytes=int(memory),
        env=dict(data.get("env") or {}),
        description=data.get("description", ""),
        source=path,
        downlink_mbit=(data.get("network") or {}).get("downlink_mbit"),
        uplink_mbit=(data.get("network") or {}).get("uplink_mbit"),
    )
