"""``edge-harness services``: start the real services for manual use or a smoke check."""

from __future__ import annotations

import contextlib
import shlex
import signal
import threading
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from harness.errors import EXIT_FAILED, HarnessError
from harness.services.base import Service

console = Console(stderr=True)


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def build_services(
    *,
    triton: bool,
    kafka: bool,
    aws: bool,
    models: Path | None,
    kafka_bootstrap: str | None,
    session: Any = None,
    iot_core: bool = False,
) -> list[Service]:
    """The services selected on the command line, not started yet.

    With a :class:`~harness.services.containers.ContainerSession` they are containers of it
    (``--backend docker``); an external broker stays external either way.
    """
    if session is not None:
        from harness.services.containers.services import container_services
        from harness.services.kafka import ExternalKafka

        selected = container_services(
            session,
            triton=triton,
            kafka=kafka and not kafka_bootstrap,
            aws=aws,
            models=models,
            iot_core=iot_core,
        )
        if kafka and kafka_bootstrap:
            selected.insert(1 if aws else 0, ExternalKafka(kafka_bootstrap))
        return selected
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
    if iot_core:
        from harness.services.mqtt import IotCoreBroker

        services.append(IotCoreBroker())
    return services


@click.group()
def services() -> None:
    """Run the real services (Triton, Kafka broker, AWS endpoint, IoT Core MQTT broker) on 127.0.0.1."""


@services.command("up")
@click.option("--triton", is_flag=True, help="Start tritonserver (python backend, ONNX emulated).")
@click.option("--kafka", is_flag=True, help="Start the tansu Kafka broker (or check --kafka-bootstrap).")
@click.option("--aws", is_flag=True, help="Start the AWS endpoint (moto + Greengrass emulation).")
@click.option("--iot-core", is_flag=True, help="Start the MQTT broker standing in for IoT Core (amqtt).")
@click.option(
    "--models",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Triton model repository to serve (default: ./models_repo if present, else a smoke model).",
)
@click.option("--kafka-bootstrap", metavar="HOST:PORT", help="Use this external broker instead of tansu.")
@click.option("--check", is_flag=True, help="Smoke-test each service through its real client, then stop.")
@click.option(
    "--backend",
    type=click.Choice(["process", "docker"]),
    default="process",
    show_default=True,
    help="Local processes, or containers on a network of their own (builds missing images first).",
)
def up(
    triton: bool,
    kafka: bool,
    aws: bool,
    iot_core: bool,
    models: Path | None,
    kafka_bootstrap: str | None,
    check: bool,
    backend: str,
) -> None:
    """Start services and print their endpoints as shell `export` lines.

    With no service flag, all four start. Without --check it runs until Ctrl-C (or SIGTERM) and
    then stops everything it started. Exit 0 when every check passes, 1 when one fails, 3 when a
    service cannot start.
    """
    if not (triton or kafka or aws or iot_core):
        triton = kafka = aws = iot_core = True
    if models is None and Path("models_repo").is_dir() and any(Path("models_repo").glob("*/config.pbtxt")):
        models = Path("models_repo")
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_interrupt)
    failures = 0
    serving = False  # True once every service is up and we only wait for Ctrl-C / SIGTERM
    try:
        with contextlib.ExitStack() as stack:
            session = None
            if backend == "docker":
                from harness.services.containers import ContainerSession

                with console.status("connecting to the Docker engine …"):
                    session = stack.enter_context(ContainerSession())
                console.print(f"[green]✓[/] docker network {session.network_name} ({session.subnet})")
            selected = build_services(
                triton=triton,
                kafka=kafka,
                aws=aws,
                models=models,
                kafka_bootstrap=kafka_bootstrap,
                session=session,
                iot_core=iot_core,
            )
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


@services.command("cleanup")
@click.option(
    "--all", "everything", is_flag=True, help="Also remove the containers of runs that are still going."
)
def cleanup(everything: bool) -> None:
    """Remove containers, networks and volumes that crashed runs of the docker backend left.

    Every run labels what it creates with its session and owner process; a run removes its own
    when it ends, and each new run removes what runs whose process is gone left behind. This
    does the same on demand.
    """
    from harness.services.containers import reap_leftovers

    removed = reap_leftovers(everything=everything)
    for item in removed:
        click.echo(f"removed {item}")
    console.print(f"{len(removed)} leftover(s) removed", highlight=False)
