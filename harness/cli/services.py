"""``edge-harness services``: start the real services for manual use or a smoke check."""

from __future__ import annotations

import contextlib
import shlex
import signal
import threading
from pathlib import Path

import click
from rich.console import Console

from harness.errors import EXIT_FAILED, HarnessError
from harness.services.base import Service

console = Console(stderr=True)


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def build_services(
    *, triton: bool, kafka: bool, aws: bool, models: Path | None, kafka_bootstrap: str | None
) -> list[Service]:
    """The services selected on the command line, not started yet."""
    services: list[Service] = []
    if aws:
        from harness.services.aws import AwsEndpoint

        services.append(AwsEndpoint())
    if kafka:
        from harness.services.kafka import ExternalKafka, KafkaBroker

        services.append(ExternalKafka(kafka_bootstrap) if kafka_bootstrap else KafkaBroker())
    if triton:
        from harness.services.triton import TritonServer

        services.append(TritonServer(model_repository=models))
    return services


@click.group()
def services() -> None:
    """Run the real services (Triton, Kafka broker, AWS endpoint) on 127.0.0.1."""


@services.command("up")
@click.option("--triton", is_flag=True, help="Start tritonserver (python backend, ONNX emulated).")
@click.option("--kafka", is_flag=True, help="Start the tansu Kafka broker (or check --kafka-bootstrap).")
@click.option("--aws", is_flag=True, help="Start the AWS endpoint (moto + Greengrass emulation).")
@click.option(
    "--models",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Triton model repository to serve (default: ./models_repo if present, else a smoke model).",
)
@click.option("--kafka-bootstrap", metavar="HOST:PORT", help="Use this external broker instead of tansu.")
@click.option("--check", is_flag=True, help="Smoke-test each service through its real client, then stop.")
def up(
    triton: bool, kafka: bool, aws: bool, models: Path | None, kafka_bootstrap: str | None, check: bool
) -> None:
    """Start services and print their endpoints as shell `export` lines.

    With no service flag, all three start. Without --check it runs until Ctrl-C (or SIGTERM) and
    then stops everything it started. Exit 0 when every check passes, 1 when one fails, 3 when a
    service cannot start.
    """
    if not (triton or kafka or aws):
        triton = kafka = aws = True
    if models is None and Path("models_repo").is_dir() and any(Path("models_repo").glob("*/config.pbtxt")):
        models = Path("models_repo")
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_interrupt)
    selected = build_services(
        triton=triton, kafka=kafka, aws=aws, models=models, kafka_bootstrap=kafka_bootstrap
    )
    failures = 0
    serving = False  # True once every service is up and we only wait for Ctrl-C / SIGTERM
    try:
        with contextlib.ExitStack() as stack:
            for service in selected:
                with console.status(f"starting {service.name} …"):
                    stack.enter_context(service)
                console.print(f"[green]✓[/] {service.name} ready: {_describe(service)}", highlight=False)
            for service in selected:
                for key, value in service.environment().items():
                    click.echo(f"export {key}={shlex.quote(value)}")
            if check:
                for service in selected:
                    try:
                        summary = service.check()
                    except HarnessError as err:
                        failures += 1
                        console.print(f"[red]✗[/] {service.name} check failed: {err}", highlight=False)
                    else:
                        console.print(f"[green]✓[/] {service.name} check: {summary}", highlight=False)
            else:
                serving = True
                console.print("services running; press Ctrl-C to stop")
                threading.Event().wait()
    except KeyboardInterrupt:
        if not serving:
            raise  # interrupted while starting or checking: exit 130
        console.print("stopped")
    if failures:
        raise SystemExit(EXIT_FAILED)


def _describe(service: Service) -> str:
    parts = [f"{name}={value}" for name, value in service.endpoints.items()]
    if service.log_path:
        parts.append(f"log={service.log_path}")
    return " ".join(parts)
