"""``edge-harness deepstream-app`` and ``edge-harness deepstream exec``: DeepStream on the CPU emulation.

``deepstream-app`` plays a deepstream-app config; ``deepstream exec`` runs a team's own DeepStream
app (or a gst-launch-1.0 line) in the environment a component process gets on the simulated device.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit

import click

from harness.errors import HarnessError
from harness.services.base import _child_setup, _signal_group


@click.command("deepstream-app")
@click.option(
    "-c",
    "--cfg-file",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="The deepstream-app config (deepstream_app_config.txt).",
)
@click.option(
    "-i",
    "--input-uri",
    "--input",
    "input_uri",
    metavar="URI",
    help="Replaces the first source's uri (file://path or rtsp://...).",
)
@click.option("-t", "--tiledtext", is_flag=True, help="Show object labels in tiled mode (several sources).")
@click.pass_context
def deepstream_app(ctx: click.Context, cfg_file: Path, input_uri: str | None, tiledtext: bool) -> None:
    """Play CFG_FILE as `deepstream-app -c CFG_FILE` would on a Jetson, until end of stream.

    Sources, muxer, primary GIE (nvinfer or nvinferserver with a real Triton), tracker,
    nvdsanalytics, OSD, message broker and sinks come from the config. Prints **PERF: lines as
    configured; Ctrl-C or SIGTERM stops cleanly. Exit 0 at end of stream, 1 on an error.
    See docs/deepstream/reference-app.md.
    """
    from fake_device.deepstream.reference_app import run

    ctx.exit(run(cfg_file, input_uri=input_uri, show_bbox_text=tiledtext))


@click.group("deepstream")
def deepstream_group() -> None:
    """Run DeepStream apps and gst-launch-1.0 lines on the CPU emulation."""


@deepstream_group.command(
    "exec",
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
@click.option(
    "--kafka",
    metavar="HOST:PORT",
    help="A Kafka broker the app will use: checked to answer, and {kafka} in COMMAND becomes the "
    "nvmsgbroker conn-str 'HOST;PORT'.",
)
@click.option(
    "--triton",
    metavar="URL",
    help="A Triton server the app will use: checked to answer, and {triton} in COMMAND becomes URL.",
)
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.pass_context
def exec_command(ctx: click.Context, kafka: str | None, triton: str | None, command: tuple[str, ...]) -> None:
    """Run COMMAND as a DeepStream app runs on a Jetson: `python3` with pyds, nv* elements, gst-launch-1.0.

    \b
      edge-harness deepstream exec -- python3 deepstream_test_1.py sample.h264
      edge-harness deepstream exec -- gst-launch-1.0 uridecodebin uri=file:///v.mp4 ! m.sink_0 \\
          nvstreammux name=m batch-size=1 width=1280 height=720 ! nvvideoconvert ! nv3dsink
      edge-harness deepstream exec --kafka 127.0.0.1:9092 -- python3 app.py --conn-str '{kafka}'

    The environment is this one plus the emulation (docs/deepstream/gstreamer.md); --kafka and
    --triton add nothing the app could not know: they only fill {kafka}/{triton} in COMMAND.
    COMMAND's exit code is returned (128+N when it dies of signal N); Ctrl-C and SIGTERM are passed
    on to it, and it dies with this command.
    """
    ctx.exit(run_app(list(command), kafka=kafka, triton=triton))


# -- running the app ---------------------------------------------------------------------------------

_CONNECT_TIMEOUT_S = 3.0


def _host_port(value: str, what: str, default_port: int | None = None) -> tuple[str, int]:
    """``host:port`` (or a URL with one) as a pair; a clear error otherwise."""
    text = value.strip()
    if "://" in text:
        parsed = urlsplit(text)
        host, port = parsed.hostname or "", parsed.port
    else:
        host, _, port_text = text.rpartition(":")
        if not host:
            host, port_text = text, ""
        port = int(port_text) if port_text.isdigit() else None
    if port is None:
        port = default_port
    if not host or port is None or not 0 < port < 65536:
        raise HarnessError(
            f"--{what} {value!r}: expected HOST:PORT" + (" or a URL" if what == "triton" else ""),
            hint="e.g. 127.0.0.1:9092 (the KAFKA_BOOTSTRAP_SERVERS of `edge-harness services up`)"
            if what == "kafka"
            else "e.g. 127.0.0.1:8001 (gRPC) or http://127.0.0.1:8000 (TRITON_GRPC_URL / TRITON_HTTP_URL)",
        )
    return host, port


def _check_reachable(host: str, port: int, what: str) -> None:
    try:
        with socket.create_connection((host, port), timeout=_CONNECT_TIMEOUT_S):
            return
    except OSError as err:
        raise HarnessError(
            f"--{what}: nothing answers on {host}:{port} ({err.strerror or err})",
            hint="start it first (`edge-harness services up`) or pass the address it listens on",
        ) from err


def app_command(command: list[str], *, kafka: str | None, triton: str | None) -> list[str]:
    """COMMAND with {kafka} and {triton} filled in (after checking that those answer)."""
    values: dict[str, str] = {}
    if kafka is not None:
        host, port = _host_port(kafka, "kafka")
        _check_reachable(host, port, "kafka")
        values["{kafka}"] = f"{host};{port}"  # nvmsgbroker's conn-str form
    if triton is not None:
        host, port = _host_port(triton, "triton")
        _check_reachable(host, port, "triton")
        values["{triton}"] = triton
    out = []
    for arg in command:
        for placeholder, value in values.items():
            arg = arg.replace(placeholder, value)
        out.append(arg)
    return out


def run_app(command: list[str], *, kafka: str | None = None, triton: str | None = None) -> int:
    """Run ``command`` in the DeepStream environment; its exit code (128+N for signal N).

    The app gets its own process group (so a signal reaches whatever it starts) and
    PR_SET_PDEATHSIG (so it dies with this process, however this one dies). SIGINT and SIGTERM
    are forwarded to the group; after the app exits, anything left in its group is killed.
    """
    from fake_device.deepstream.gst.environment import deepstream_environment

    argv = app_command(command, kafka=kafka, triton=triton)
    env = deepstream_environment(os.environ)
    try:
        process = subprocess.Popen(argv, env=env, start_new_session=True, preexec_fn=_child_setup)
    except FileNotFoundError as err:
        raise CommandError(
            f"cannot run {argv[0]}: no such file or command",
            hint="PATH is this shell's, with the emulation's gst-launch-1.0 and python3 first",
            exit_code=EXIT_NOT_FOUND,
        ) from err
    except PermissionError as err:
        raise CommandError(f"cannot run {argv[0]}: permission denied", exit_code=EXIT_NOT_EXECUTABLE) from err

    def forward(signum: int, _frame: FrameType | None) -> None:
        _signal_group(process.pid, signal.Signals(signum))

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        code = process.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        _signal_group(process.pid, signal.SIGKILL)  # what the app left running in its group
    return code if code >= 0 else 128 - code


EXIT_NOT_EXECUTABLE = 126  # the shell's codes for a command that cannot run
EXIT_NOT_FOUND = 127


class CommandError(HarnessError):
    """COMMAND could not be started."""

    def __init__(self, message: str, *, hint: str | None = None, exit_code: int) -> None:
        super().__init__(message, hint=hint)
        self.exit_code = exit_code
