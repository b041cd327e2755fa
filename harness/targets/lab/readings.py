"""What a Jetson prints, read: ``greengrass-cli component list`` and ``tegrastats`` lines.

Both tools print for people, not programs, so these parsers take what the tools print and skip
what they do not know (the CLI's Java log lines, tegrastats fields of other Jetson models).
"""

from __future__ import annotations

import re
import time
from datetime import datetime

from harness.targets.capabilities import ComponentState, ResourceSample

__all__ = ["parse_component_list", "parse_tegrastats"]

_NAME = re.compile(r"^\s*Component Name:\s*(\S.*?)\s*$")
_FIELD = re.compile(r"^\s*(Version|State):\s*(\S.*?)\s*$")

_STAMP = re.compile(r"^(\d{2}-\d{2}-\d{4} \d{2}:\d{2}:\d{2})\s")
_RAM = re.compile(r"\bRAM (\d+)/(\d+)MB")
_CPU = re.compile(r"\bCPU \[([^\]]*)\]")
_GPU = re.compile(r"\bGR3D_FREQ (\d+)%")
_TEMP = re.compile(r"\b([A-Za-z][\w-]*)@(-?\d+(?:\.\d+)?)C\b")


def parse_component_list(text: str) -> list[ComponentState]:
    """The components of ``greengrass-cli component list`` (aws-greengrass-cli's
    ``ComponentCommand.list``: a header, then ``Component Name: X`` with indented ``Version``,
    ``State`` and ``Configuration`` lines per component)."""
    found: list[ComponentState] = []
    name: str | None = None
    fields: dict[str, str] = {}

    def close() -> None:
        if name is not None:
            found.append(ComponentState(name, fields.get("Version", ""), fields.get("State", "")))

    for line in text.splitlines():
        started = _NAME.match(line)
        if started:
            close()
            name, fields = started.group(1), {}
            continue
        field = _FIELD.match(line)
        if field and name is not None:
            fields[field.group(1)] = field.group(2)
    close()
    return found


def parse_tegrastats(line: str, device: str, received: float | None = None) -> ResourceSample | None:
    """One tegrastats line as a sample; None for a line that is not one.

    The time is the line's own timestamp (JetPack 5 and later print ``MM-DD-YYYY HH:MM:SS``, the
    device's local time, read here as this host's local time) or else ``received``. CPU is the
    mean load of the cores that are on (``off`` cores are left out).
    """
    ram, cpu = _RAM.search(line), _CPU.search(line)
    if ram is None and cpu is None:
        return None
    stamp = _STAMP.match(line)
    when = received if received is not None else time.time()
    if stamp is not None:
        when = datetime.strptime(stamp.group(1), "%m-%d-%Y %H:%M:%S").timestamp()
    cpu_percent = None
    if cpu is not None:
        loads = [float(core.split("%")[0]) for core in cpu.group(1).split(",") if "%" in core]
        cpu_percent = round(sum(loads) / len(loads), 1) if loads else None
    gpu = _GPU.search(line)
    rest = line[cpu.end() :] if cpu is not None else line
    return ResourceSample(
        time=when,
        device=device,
        cpu_percent=cpu_percent,
        gpu_percent=float(gpu.group(1)) if gpu else None,
        ram_used_mb=float(ram.group(1)) if ram else None,
        ram_total_mb=float(ram.group(2)) if ram else None,
        temperature_c={name: float(value) for name, value in _TEMP.findall(rest)},
    )
