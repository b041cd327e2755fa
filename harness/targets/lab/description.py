"""The lab description file: which Jetsons, how the lab manager reaches them, where services go.

```yaml
lab_manager:
  kind: labgrid                    # the only one supported (docs/hil.md says why)
  coordinator: 192.0.2.10:20408    # labgrid-coordinator's gRPC address
services:
  address: 192.0.2.1               # the harness binds its AWS endpoint and Kafka broker here only
  aws: endpoint                    # endpoint: the harness's, on address:aws_port; real: AWS itself
  aws_port: 4566
  kafka: null                      # host:port of a broker the devices reach; null: start one
devices:
  jetson-1:                        # the core device's thing name (a scenario's <name>-<n>)
    place: lab-jetson-xavier-1     # its labgrid place (NetworkService + power port)
    greengrass_root: /greengrass/v2
    keyfile: ~/.ssh/lab_ed25519    # SSH key (else the agent's / labgrid's defaults)
    interface: eth0                # the link partition_device takes down
    power: true                    # the place has a power port the harness may switch
    commands:                      # how to do things on this device (defaults shown)
      reboot: sudo systemctl reboot
      tegrastats: tegrastats
      greengrass_cli: /greengrass/v2/bin/greengrass-cli
      ip: sudo ip
```

Relative paths (keyfile) are relative to the file. Every problem is reported with its line, as
for scenario files.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import DiagnosticReport, ValidationError
from harness.targets.capabilities import Capability
from harness.yamldoc import diagnostic, parse_mapping, plain, read_text, schema_errors

__all__ = ["DEFAULT_COMMANDS", "LabDescription", "LabDevice", "load_lab"]

DEFAULT_COMMANDS = {
    "reboot": "sudo systemctl reboot",
    "tegrastats": "tegrastats",
    "greengrass_cli": "{root}/bin/greengrass-cli",
    "ip": "sudo ip",
}

_ADDITIONAL = re.compile(r"^Additional properties are not allowed \((.*) (?:was|were) unexpected\)$")
_ADDRESS = {"type": "string", "pattern": r"^[^\s:]+:[0-9]{1,5}$", "description": "host:port"}
LAB_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["lab_manager", "devices"],
    "properties": {
        "lab_manager": {
            "type": "object",
            "additionalProperties": False,
            "required": ["coordinator"],
            "properties": {
                "kind": {"enum": ["labgrid"]},
                "coordinator": _ADDRESS,
            },
        },
        "services": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "address": {"type": "string", "description": "an IPv4 address of this host"},
                "aws": {"enum": ["endpoint", "real"]},
                "aws_port": {"type": "integer", "minimum": 1, "maximum": 65535},
                "kafka": {"oneOf": [_ADDRESS, {"type": "null"}]},
            },
        },
        "devices": {
            "type": "object",
            "minProperties": 1,
            "additionalProperties": {
                "type": "object",
                "additionalProperties": False,
                "required": ["place"],
                "properties": {
                    "place": {"type": "string", "minLength": 1},
                    "greengrass_root": {"type": "string", "pattern": "^/"},
                    "keyfile": {"type": "string"},
                    "username": {"type": "string"},
                    "interface": {"type": "string", "minLength": 1},
                    "power": {"type": "boolean"},
                    "commands": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {name: {"type": "string", "minLength": 1} for name in DEFAULT_COMMANDS},
                    },
                },
            },
        },
    },
}


@dataclass(frozen=True)
class LabDevice:
    """One Jetson of the lab, by its thing name."""

    thing: str
    place: str
    greengrass_root: str = "/greengrass/v2"
    keyfile: str = ""
    username: str = ""
    interface: str = "eth0"
    power: bool = True
    commands: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_COMMANDS))

    def command(self, name: str) -> str:
        return self.commands[name].replace("{root}", self.greengrass_root)


@dataclass(frozen=True)
class LabDescription:
    path: Path
    coordinator: str
    devices: dict[str, LabDevice]
    address: str = "127.0.0.1"
    aws: str = "endpoint"
    aws_port: int = 4566
    kafka: str | None = None

    @property
    def aws_endpoint(self) -> str:
        """The URL of the harness's AWS endpoint as the devices reach it."""
        return f"http://{self.address}:{self.aws_port}"

    def capabilities(self, *, external_kafka: bool = False) -> frozenset[Capability]:
        """What a run on this lab can do: the devices' own (logs, states, power if every device
        has a power port …) and the services' (faults only on what the harness runs)."""
        found = {
            Capability.LOGS,
            Capability.COMPONENT_STATES,
            Capability.COMPONENT_CONTROL,
            Capability.PARTITION,
            Capability.RESOURCES,
        }
        if all(device.power for device in self.devices.values()):
            found.add(Capability.POWER)
        if self.aws == "endpoint":
            found.add(Capability.EMULATED_AWS)
        if self.kafka is None and not external_kafka:
            found.add(Capability.OWN_KAFKA)
        return frozenset(found)


def load_lab(path: Path) -> LabDescription:
    """Read and check a lab description; ValidationError listing every problem."""
    file = str(path)
    text = read_text(path, "lab description")
    what = f"{path} is not a valid lab description"
    doc = parse_mapping(text, file, what, expected="a mapping with lab_manager and devices")
    report = DiagnosticReport()
    for where, message in schema_errors(doc, LAB_SCHEMA):
        unknown = _ADDITIONAL.match(message)
        if unknown is None:
            report.add(diagnostic(doc, file, where, message, hint=_hint(where)))
            continue
        for key in re.findall(r"'([^']*)'", unknown.group(1)):  # at the key itself, with a guess
            close = difflib.get_close_matches(key, _known_keys(where), n=1)
            guess = f"did you mean {close[0]!r}? " if close else ""
            report.add(
                diagnostic(doc, file, [*where, key], f"unknown key {key!r}", hint=guess + _hint(where))
            )
    data = plain(doc)
    address = (data.get("services") or {}).get("address", "127.0.0.1")
    if report.ok:
        try:
            ipaddress.IPv4Address(address)
        except ValueError:
            report.add(
                diagnostic(
                    doc,
                    file,
                    ["services", "address"],
                    f"{address!r} is not an IPv4 address",
                    hint="the address of this host on the lab network, e.g. 192.0.2.1",
                )
            )
    if not report.ok:
        raise ValidationError(report, what=what)
    services = data.get("services") or {}
    devices = {}
    for thing, spec in data["devices"].items():
        keyfile = spec.get("keyfile", "")
        if keyfile:
            keyfile = str((path.parent / os.path.expanduser(keyfile)).resolve())
        devices[str(thing)] = LabDevice(
            thing=str(thing),
            place=spec["place"],
            greengrass_root=spec.get("greengrass_root", "/greengrass/v2"),
            keyfile=keyfile,
            username=spec.get("username", ""),
            interface=spec.get("interface", "eth0"),
            power=spec.get("power", True),
            commands={**DEFAULT_COMMANDS, **(spec.get("commands") or {})},
        )
    return LabDescription(
        path=path.resolve(),
        coordinator=data["lab_manager"]["coordinator"],
        devices=devices,
        address=address,
        aws=services.get("aws", "endpoint"),
        aws_port=int(services.get("aws_port", 4566)),
        kafka=services.get("kafka"),
    )


def _known_keys(where: list[str | int]) -> list[str]:
    """The keys the schema allows at ``where``."""
    schema = LAB_SCHEMA
    for part in where:
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        schema = properties.get(part) or (extra if isinstance(extra, dict) else {})
    return sorted(schema.get("properties", {}))


def _hint(where: list[str | int]) -> str:
    if where[:1] == ["lab_manager"]:
        return "lab_manager: {kind: labgrid, coordinator: HOST:PORT of labgrid-coordinator}"
    if where[:1] == ["services"]:
        return "services: {address: IP of this host, aws: endpoint|real, aws_port: N, kafka: HOST:PORT|null}"
    if where[:1] == ["devices"]:
        return "devices: {THING: {place: LABGRID PLACE, greengrass_root, keyfile, interface, power}}"
    return "see docs/hil.md: the lab file"
