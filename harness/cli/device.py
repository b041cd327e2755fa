"""``edge-harness device``: run a simulated Greengrass core device, or show one's status."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from harness.cli import HarnessGroup
from harness.errors import HarnessError

DEFAULT_ROOT = Path("/greengrass/v2")


@click.group(cls=HarnessGroup)
def device() -> None:
    """Simulated Greengrass V2 core devices (see docs/device.md)."""


def _client_factory(endpoint_url: str | None, region: str | None) -> Any:
    """boto3 clients from the usual environment (AWS_ENDPOINT_URL, AWS_REGION, credentials)."""
    import boto3

    session = boto3.session.Session(region_name=region or os.environ.get("AWS_REGION"))

    def factory(service: str) -> Any:
        options: dict[str, Any] = {}
        if endpoint_url:
            options["endpoint_url"] = endpoint_url
        if service == "s3":
            from botocore.config import Config

            options["config"] = Config(signature_version="s3v4", s3={"addressing_style": "path"})
        return session.client(service, **options)

    return factory


def _override(values: tuple[str, ...]) -> dict[str, str]:
    override = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--platform-override")
        override[key] = value
    return override


@device.command("run")
@click.option("--thing", required=True, help="Thing name of the core device (created if missing).")
@click.option(
    "--group",
    "groups",
    multiple=True,
    help="Thing group to join (created if missing), repeatable.",
)
@click.option("--profile", default="jetson-agx-xavier", show_default=True, help="Profile name or YAML file.")
@click.option(
    "--root",
    type=click.Path(path_type=Path),
    default=DEFAULT_ROOT,
    show_default=True,
    help="The device's Greengrass root folder.",
)
@click.option("--platform-override", multiple=True, help="KEY=VALUE platform attribute (platformOverride).")
@click.option(
    "--poll-interval", type=float, default=1.0, show_default=True, help="Seconds between job polls."
)
@click.option(
    "--component-user",
    default="nobody",
    show_default=True,
    help="User for scripts without RequiresPrivilege when running as root.",
)
@click.option("--endpoint-url", envvar="AWS_ENDPOINT_URL", help="AWS endpoint (default: $AWS_ENDPOINT_URL).")
@click.option("--region", envvar="AWS_REGION", help="AWS region (default: $AWS_REGION).")
@click.option(
    "--iot-core-mqtt",
    envvar="EDGE_HARNESS_IOT_CORE_MQTT",
    help="mqtt://HOST:PORT of the broker standing in for IoT Core (PublishToIoTCore, SubscribeToIoTCore); "
    "without it the device runs offline (default: $EDGE_HARNESS_IOT_CORE_MQTT).",
)
@click.option("--quiet", is_flag=True, help="Do not echo greengrass.log lines.")
@click.option(
    "--parent-pid",
    type=int,
    help="Stop (without reporting to the cloud) once this process is no longer the parent: "
    "what edge-harness run passes, so a device never outlives the run that started it.",
)
@click.option(
    "--give-up-after",
    type=float,
    default=300.0,
    show_default=True,
    help="Stop with an error after this many seconds of failed polls of the IoT Jobs endpoint "
    "(0: retry for ever).",
)
def run(
    thing: str,
    groups: tuple[str, ...],
    profile: str,
    root: Path,
    platform_override: tuple[str, ...],
    poll_interval: float,
    component_user: str,
    endpoint_url: str | None,
    region: str | None,
    iot_core_mqtt: str | None,
    quiet: bool,
    parent_pid: int | None,
    give_up_after: float,
) -> None:
    """Run a core device until Ctrl-C or SIGTERM: take deployments from the IoT Jobs data plane,
    apply them as the nucleus does, log like the nucleus (ROOT/logs/greengrass.log)."""
    from fake_device.deepstream.measure import ENV_PRINT_EVERY
    from fake_device.deepstream.rtsp import BIND_ADDRESS
    from fake_device.nucleus.kernel import CoreDevice
    from fake_device.nucleus.parent_watch import ParentWatch

    echo = None if quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    # What components inherit of the device's own environment (a real nucleus passes its whole
    # environment on, e.g. what its systemd unit sets): the AWS endpoint and credentials, and
    # DeepStream's switches (NVDS_ENABLE_LATENCY_MEASUREMENT …) with the emulation's sampling knob,
    # and where servers listen (a device container listens on all its interfaces: the harness's
    # sinks read EDGE_HARNESS_BIND_ADDRESS, the traffic app its own RTSP_BIND_ADDRESS; the device
    # image sets both).
    local_aws = ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE")
    environment = {
        k: v
        for k, v in os.environ.items()
        if (k.startswith("AWS_") and k not in local_aws)
        or k.startswith("NVDS_")
        or k in (ENV_PRINT_EVERY, BIND_ADDRESS, "RTSP_BIND_ADDRESS")
    }
    if endpoint_url:
        environment["AWS_ENDPOINT_URL"] = endpoint_url
    core = CoreDevice(
        root,
        thing,
        client_factory=_client_factory(endpoint_url, region),
        thing_groups=groups,
        profile=profile,
        platform_override=_override(platform_override),
        poll_interval=poll_interval,
        component_user=component_user,
        echo=echo,
        extra_environment=environment,
        give_up_after=give_up_after or None,
        iot_core_endpoint=iot_core_mqtt or None,
    )
    stopping = threading.Event()
    watch = None
    if parent_pid is not None:
        watch = ParentWatch(parent_pid, lambda: core.request_stop(cloud_gone=True))

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stopping.set()
        if watch is not None and watch.parent_gone:  # PR_SET_PDEATHSIG: the harness died
            watch.fire()
        else:
            core.request_stop()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    if watch is not None:
        watch.start()
    try:
        try:
            core.boot()
        except Exception as err:
            from botocore.exceptions import BotoCoreError, ClientError

            if isinstance(err, (BotoCoreError, ClientError)):
                raise HarnessError(
                    f"the device cannot reach AWS: {err}",
                    hint="set --endpoint-url (or AWS_ENDPOINT_URL) to the harness's AWS endpoint, or "
                    "configure real AWS credentials",
                ) from None
            raise
        core.run()
    finally:
        core.stop()
        if watch is not None:
            watch.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@device.command("status")
@click.option("--root", type=click.Path(path_type=Path), default=DEFAULT_ROOT, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def status(root: Path, fmt: str) -> None:
    """Components of a device (running or not): version, state, and any deployment in flight."""
    from fake_device.nucleus.store import DeploymentRecord, load_effective_config
    from fake_device.nucleus.store_read import read_status_fields

    config_file = root / "config" / "effectiveConfig.yaml"
    status_file = root / "run" / "status.json"
    if not config_file.exists() and not status_file.exists():
        raise HarnessError(
            f"{root} is not a device root: neither config/effectiveConfig.yaml nor run/status.json exists",
            hint="pass the --root a device was started with (edge-harness device run --root DIR)",
        )
    live = read_status_fields(status_file) or {}
    running = _alive(live.get("pid"))
    config = load_effective_config(config_file)
    record = DeploymentRecord.load(root / "deployments" / "current.json")
    components = {}
    for name, entry in config.services.items():
        state = live.get("components", {}).get(name, {})
        components[name] = {
            "version": entry.get("version"),
            "state": state.get("state", "unknown") if running else "not running",
            "statusCode": state.get("statusCode", ""),
            "root": name in config.root_components(),
        }
    report = {
        "root": str(root),
        "thing": config.thing_name or live.get("thing"),
        "deviceRunning": running,
        "components": components,
        "deploymentInFlight": {"jobId": record.job_id, "stage": record.stage} if record else None,
        "groups": sorted(config.group_roots),
    }
    if fmt == "json":
        click.echo(json.dumps(report, indent=2))
        return
    console = Console()
    console.print(
        f"device [bold]{report['thing']}[/] at {root} — "
        + ("running" if running else "[yellow]not running[/]")
    )
    table = Table("component", "version", "state", "root")
    for name, info in sorted(components.items()):
        table.add_row(name, str(info["version"]), str(info["state"]), "yes" if info["root"] else "")
    console.print(table)
    if record:
        console.print(f"deployment {record.job_id} in flight (stage {record.stage})")


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
