"""``edge-harness lab check``: what of a lab is reachable, device by device.

Each finding is one line a person can act on. A device is checked by doing what a run does,
briefly: reserve and acquire its place (a place another job holds is reported as busy, not
waited for), SSH in, look for the nucleus's log, greengrass-cli and tegrastats, read the power
switch, release. The services' address must be one of this host's.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import HarnessError
from harness.targets.lab.description import LabDescription
from harness.targets.lab.labgrid import LabgridPlace, labgrid_client

__all__ = ["Finding", "check_lab"]


@dataclass
class Finding:
    """One thing checked: what, whether it is fine, and the detail."""

    subject: str
    check: str
    ok: bool
    detail: str = ""


@dataclass
class LabReport:
    findings: list[Finding] = field(default_factory=list)

    def add(self, subject: str, check: str, ok: bool, detail: str = "") -> bool:
        self.findings.append(Finding(subject, check, ok, detail))
        return ok

    @property
    def ok(self) -> bool:
        return all(finding.ok for finding in self.findings)


def _host_addresses() -> set[str]:
    done = subprocess.run(["ip", "-4", "-o", "addr", "show"], capture_output=True, text=True, check=False)
    found = set()
    for line in done.stdout.splitlines():
        parts = line.split()
        if "inet" in parts:
            found.add(parts[parts.index("inet") + 1].split("/")[0])
    return found


def check_lab(lab: LabDescription, work: Path, *, reserve_timeout: float = 20.0) -> LabReport:
    report = LabReport()
    if lab.aws == "endpoint" or lab.kafka is None:
        addresses = _host_addresses()
        report.add(
            "services",
            f"address {lab.address} is this host's",
            lab.address in addresses,
            "" if lab.address in addresses else f"this host has {', '.join(sorted(addresses))}",
        )
    try:
        done = subprocess.run(
            [*labgrid_client(), "-x", lab.coordinator, "places"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        places = set(done.stdout.split()) if done.returncode == 0 else set()
        coordinator_ok = done.returncode == 0
        why = (done.stderr.strip().splitlines() or [""])[-1]
    except (subprocess.TimeoutExpired, HarnessError) as err:
        coordinator_ok, places, why = False, set(), str(err)
    if not report.add("lab manager", f"labgrid coordinator at {lab.coordinator}", coordinator_ok, why):
        return report
    for thing, spec in lab.devices.items():
        if not report.add(
            thing,
            f"place {spec.place}",
            spec.place in places,
            "" if spec.place in places else "not a place of the coordinator",
        ):
            continue
        place = LabgridPlace(
            lab.coordinator, spec.place, work, keyfile=spec.keyfile, username=spec.username, power=spec.power
        )
        try:
            try:
                place.reserve(reserve_timeout)
            except HarnessError as err:
                report.add(thing, "reserve and acquire", False, f"busy or refused: {err.message}")
                continue
            report.add(thing, "reserve and acquire", True)
            try:
                place.reconnect(30.0)
            except HarnessError as err:
                report.add(thing, "SSH", False, err.message)
                continue
            _, name, _ = place.run("uname -n -m")
            report.add(thing, "SSH", True, name.strip())
            root = spec.greengrass_root.rstrip("/")
            code, _, _ = place.run(f"test -f {root}/logs/greengrass.log")
            report.add(thing, f"nucleus log {root}/logs/greengrass.log", code == 0)
            for tool in ("greengrass_cli", "tegrastats"):
                command = spec.command(tool).split()[-1]
                code, out, _ = place.run(f"command -v {command}")
                report.add(thing, f"{tool.replace('_', '-')} ({command})", code == 0, out.strip())
            if spec.power:
                try:
                    report.add(thing, "power switch", True, "on" if place.power_state() else "off")
                except Exception as err:  # labgrid's power drivers raise what their HTTP client raises
                    report.add(thing, "power switch", False, str(err))
        finally:
            place.release()
    return report
