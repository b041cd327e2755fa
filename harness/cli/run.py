"""``edge-harness run``: one command that stands up everything, runs a scenario and reports."""

from __future__ import annotations

import os
import time
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from harness.cli.interrupts import orderly_stop_on_signals
from harness.errors import EXIT_FAILED
from harness.services.workdirs import OwnedFolder, sweep_dead_folders

_STATUS_STYLE = {"passed": "green", "failed": "red", "error": "red", "skipped": "dim"}


@click.command("run")
@click.argument("scenario_file", metavar="SCENARIO", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--target",
    type=click.Choice(["sim", "aws", "lab"]),
    default="sim",
    show_default=True,
    help="sim: simulated devices and emulated AWS; aws: real AWS and real core devices; "
    "lab: lab Jetsons through the lab manager (--lab FILE, docs/hil.md).",
)
@click.option(
    "--lab",
    "lab_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="--target lab: the lab description (devices, lab manager, service address).",
)
@click.option(
    "--backend",
    type=click.Choice(["process", "docker"]),
    default=None,
    help="How services and devices run on this host: local processes or docker containers "
    "[default: the scenario's services.backend, else process].",
)
@click.option(
    "--report",
    "report_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Write report.html, result.json and metrics.txt here.",
)
@click.option(
    "--junit", "junit_file", type=click.Path(path_type=Path, dir_okay=False), help="Write JUnit XML here."
)
@click.option(
    "--work",
    "work_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Put device roots, artifacts and logs here and keep them (default: a temporary folder "
    "/tmp/edge-harness-SCENARIO-*, removed after a passed or interrupted run, kept and named "
    "after a failed one).",
)
@click.option(
    "--keep-work",
    is_flag=True,
    help="Keep the temporary work folder whatever the outcome (its path is printed).",
)
@click.option("--dry-run", is_flag=True, help="Print the AWS calls the scenario would make and exit.")
@click.option(
    "--kafka-bootstrap",
    help="HOST:PORT of a Kafka broker to use instead of starting one (needed with --target aws).",
)
@click.option("--bucket", help="--target aws: an existing S3 bucket for the artifacts (default: create one).")
def run_command(
    scenario_file: Path,
    target: str,
    backend: str | None,
    report_dir: Path | None,
    junit_file: Path | None,
    work_dir: Path | None,
    keep_work: bool,
    dry_run: bool,
    kafka_bootstrap: str | None,
    bucket: str | None,
    lab_file: Path | None,
) -> None:
    """Run SCENARIO: start the services it needs, run its steps, report, stop everything.

    Exits 0 when every step passed, 1 when an expectation was not met (or the scenario is not
    valid), 3 when a service could not start, 130 on Ctrl-C, 143 on SIGTERM. Ctrl-C and SIGTERM
    stop everything the run started before it exits; if the run is SIGKILLed its processes die
    with it and the next run removes its work folder. A failed run keeps its work folder (device
    roots and logs) and prints where it is; other runs remove it unless --keep-work.
    """
    from harness.scenario.load import load_scenario
    from harness.targets.choice import TargetRequest

    console = Console(stderr=True)
    # refused here when the target cannot do what a step needs (a device fault, device logs …)
    request = TargetRequest(target, backend, kafka_bootstrap, lab_file)
    scenario = load_scenario(scenario_file, request)
    if dry_run:
        from harness.scenario.plan import describe_plan

        for line in describe_plan(scenario, target=target):
            click.echo(line)
        return
    if target == "aws" or (target == "lab" and lab_file is not None and _lab_uses_real_aws(lab_file)):
        from harness.scenario.plan import check_aws_credentials

        check_aws_credentials()
    from harness.scenario.runner import ScenarioRunner

    def progress(text: str, step: object | None) -> None:
        if step is None:
            console.print(f"[dim]{time.strftime('%H:%M:%S')}[/] {text}")
        else:
            status = getattr(step, "status", "")
            console.print(
                f"[dim]{time.strftime('%H:%M:%S')}[/] [{_STATUS_STYLE.get(status, 'white')}]{text}[/]"
            )

    with orderly_stop_on_signals():  # SIGTERM unwinds like Ctrl-C from here on
        sweep_dead_folders()  # what runs that were SIGKILLed left in the temporary directory
        owned: OwnedFolder | None = None
        if work_dir is None:
            owned = OwnedFolder.create(f"edge-harness-{scenario.name}-")
            work = owned.path
        else:
            work = work_dir
            work.mkdir(parents=True, exist_ok=True)
        os.chmod(work, 0o755)  # component users must reach the device roots inside
        console.print(f"scenario [bold]{scenario.name}[/] ({len(scenario.steps)} steps), work folder {work}")
        outcome = "failed"  # until the run says otherwise: an error (a service that cannot start) too
        try:
            with console.status("running…", spinner="dots"):
                result = ScenarioRunner(
                    scenario,
                    work,
                    backend=backend or scenario.services.backend,
                    target=target,
                    kafka_bootstrap=kafka_bootstrap,
                    bucket=bucket,
                    progress=progress,
                    lab=lab_file,
                ).run()
            _summary(console, result)
            _write_reports(console, result, report_dir, junit_file)
            outcome = "passed" if result.passed else "failed"
        except KeyboardInterrupt:
            outcome = "interrupted"
            raise
        finally:
            _finish_work_folder(console, owned, work, outcome, keep=keep_work)
    if outcome != "passed":
        raise SystemExit(EXIT_FAILED)


def _lab_uses_real_aws(lab_file: Path) -> bool:
    from harness.targets.lab.description import load_lab

    return load_lab(lab_file).aws == "real"


def _finish_work_folder(
    console: Console, owned: OwnedFolder | None, work: Path, outcome: str, *, keep: bool
) -> None:
    """Remove the temporary work folder after a passed or interrupted run; keep it (and say
    where) after a failure, with --keep-work, or when it was given with --work."""
    if owned is None:
        console.print(f"work folder (--work): {work}")
    elif keep or outcome == "failed":
        owned.keep()
        why = "--keep-work" if keep else "the run failed"
        console.print(f"work folder kept ({why}): {work}")
    else:
        owned.remove()


def _summary(console: Console, result: object) -> None:
    table = Table(
        title=f"{result.scenario}: {'PASSED' if result.passed else 'FAILED'} in {result.duration_s:.0f} s"
    )
    table.add_column("#", justify="right")
    table.add_column("step")
    table.add_column("status")
    table.add_column("s", justify="right")
    table.add_column("result", overflow="fold")
    for step in result.steps:
        style = _STATUS_STYLE.get(step.status, "white")
        table.add_row(
            str(step.index),
            step.name,
            f"[{style}]{step.status}[/]",
            f"{step.duration_s:.1f}",
            step.message.split("\ncause: ")[0][:300],  # the causes follow the table, in full
        )
    console.print(table)
    for step in result.steps:  # in full: the table cuts long messages
        for cause in step.details.get("causes", []):
            console.print(f"[red]step {step.index}: {step.name}: cause:[/] {cause}", highlight=False)


def _write_reports(
    console: Console, result: object, report_dir: Path | None, junit_file: Path | None
) -> None:
    import json

    from harness.scenario.reports import write_html, write_junit, write_openmetrics

    if report_dir is not None:
        report_dir.mkdir(parents=True, exist_ok=True)
        write_html(result, report_dir / "report.html")
        write_openmetrics(result, report_dir / "metrics.txt")
        (report_dir / "result.json").write_text(json.dumps(result.to_dict(), indent=2) + "\n")
        console.print(f"report: {report_dir / 'report.html'}")
    if junit_file is not None:
        write_junit(result, junit_file)
        console.print(f"JUnit: {junit_file}")
