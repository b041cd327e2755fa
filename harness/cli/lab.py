"""``edge-harness lab``: lab Jetsons for ``--target lab`` (docs/hil.md)."""

from __future__ import annotations

import signal
import tempfile
import threading
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from harness.cli import HarnessGroup
from harness.errors import EXIT_FAILED


@click.group(cls=HarnessGroup)
def lab() -> None:
    """Lab Jetsons reached through labgrid: check a lab, or simulate one on this host."""


@lab.command("check")
@click.option(
    "--lab",
    "lab_file",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="The lab description (docs/hil.md).",
)
def check(lab_file: Path) -> None:
    """Say what of the lab is reachable: the services' address, the labgrid coordinator, and for
    each device its place (reserved and released again), SSH, the nucleus's log, greengrass-cli,
    tegrastats and the power switch. Exits 1 if anything is not."""
    from harness.targets.lab.check import check_lab
    from harness.targets.lab.description import load_lab

    description = load_lab(lab_file)
    with tempfile.TemporaryDirectory(prefix="edge-harness-lab-check-") as work:
        report = check_lab(description, Path(work))
    table = Table(title=f"lab {lab_file}")
    for column in ("device", "check", "", "detail"):
        table.add_column(column, overflow="fold")
    for finding in report.findings:
        table.add_row(
            finding.subject,
            finding.check,
            "[green]ok[/]" if finding.ok else "[red]NO[/]",
            finding.detail,
        )
    Console().print(table)
    if not report.ok:
        raise SystemExit(EXIT_FAILED)


@lab.command("simulate")
@click.option(
    "--folder",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="Where the lab keeps its hosts, keys and lab.yaml (every user must be able to enter it).",
)
@click.option(
    "--device",
    "devices",
    multiple=True,
    required=True,
    metavar="THING:GROUP[:PROFILE]",
    help="A simulated Jetson (repeatable), e.g. jetson-1:traffic-cams:jetson-agx-xavier.",
)
@click.option("--aws-port", type=int, help="Port of the harness's AWS endpoint on the lab address.")
def simulate(folder: Path, devices: tuple[str, ...], aws_port: int | None) -> None:
    """Run a simulated lab on this host until Ctrl-C (root: network namespaces, sshd, labgrid);
    prints the lab file to give to --lab."""
    from harness.targets.lab.simulated import SimulatedLab

    specs = []
    for item in devices:
        parts = item.split(":")
        if len(parts) not in (2, 3) or not all(parts):
            raise click.BadParameter(f"{item!r} is not THING:GROUP[:PROFILE]", param_hint="--device")
        specs.append((parts[0], parts[1], parts[2] if len(parts) == 3 else "jetson-agx-xavier"))
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with SimulatedLab(folder.resolve(), specs, aws_port=aws_port) as simulated:
        click.echo(f"lab file: {simulated.lab_file}")
        click.echo("Ctrl-C stops the lab (hosts, namespaces, labgrid).")
        stop.wait()
