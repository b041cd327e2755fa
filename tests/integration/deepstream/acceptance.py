"""Running the acceptance apps (``apps/``) as a device runs a component: a process of their own.

The apps are DeepStream Python apps that know nothing of edge-harness; they get DeepStream's
elements and ``pyds`` only from the environment a component process gets
(``deepstream_environment``). This module makes their inputs (short world clips, a videotestsrc
clip, an H.264 elementary stream, a work folder holding the detector's configs and models), runs
them with a bounded time, and checks that they import nothing of the harness.
"""

from __future__ import annotations

import ast
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from fake_device.deepstream.gst.environment import deepstream_environment
from harness.ffmpeg import find_ffmpeg
from harness.world import WorldParams, write_world

REPO = Path(__file__).resolve().parents[3]
APPS = Path(__file__).resolve().parent / "apps"
TRAFFIC_APP = REPO / "scenarios" / "traffic" / "app"
DETECTOR_B = REPO / "models_repo" / "B"
TINY_MODELS = REPO / "tests" / "unit" / "deepstream" / "tiny_models.py"
KAFKA_PROTO_LIB = "/opt/nvidia/deepstream/deepstream/lib/libnvds_kafka_proto.so"


@dataclass
class AppRun:
    """A finished app: exit code and what it printed (stdout and stderr interleaved)."""

    returncode: int
    output: str

    def tail(self, chars: int = 4000) -> str:
        return self.output[-chars:]


def start_app(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """Start ``python3 <argv>`` in the component environment, in a process group of its own."""
    return subprocess.Popen(
        ["python3", *argv],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=deepstream_environment({**os.environ, **(env or {})}),
        start_new_session=True,
    )


def finish(proc: subprocess.Popen[str], timeout: float) -> AppRun:
    """Wait for the app; past ``timeout`` kill its whole group and fail the test with its output."""
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        pytest.fail(f"the app did not finish within {timeout} s:\n{out[-4000:]}")
    return AppRun(proc.returncode, out)


def run_app(argv: list[str], cwd: Path, timeout: float = 300, env: dict[str, str] | None = None) -> AppRun:
    return finish(start_app(argv, cwd, env), timeout)


def world_clip(folder: Path, seed: int, seconds: float = 3) -> Path:
    """A short world clip (H.264 in MP4, 1280x720 at 30 fps) with its truth files beside it."""
    write_world(WorldParams(seed=seed, seconds=seconds), folder, codec="h264")
    return folder / "video.mp4"


def elementary_stream(mp4: Path) -> Path:
    """The clip's H.264 as an Annex B elementary stream (what deepstream-test1..4 read with filesrc)."""
    ffmpeg = find_ffmpeg()
    assert ffmpeg is not None, "ffmpeg (imageio-ffmpeg) is a project dependency"
    out = mp4.with_suffix(".h264")
    subprocess.run(
        [ffmpeg, "-v", "error", "-y", "-i", str(mp4), "-c:v", "copy", "-bsf:v", "h264_mp4toannexb",
         "-f", "h264", str(out)],
        check=True, timeout=60,
    )  # fmt: skip
    return out


def pattern_clip(path: Path, pattern: str, frames: int, width: int = 1280, height: int = 720) -> Path:
    """A videotestsrc pattern encoded as H.264 in MP4 by the system's gst-launch-1.0."""
    subprocess.run(
        ["gst-launch-1.0", "-q", "videotestsrc", f"num-buffers={frames}", f"pattern={pattern}", "!",
         f"video/x-raw,width={width},height={height},framerate=30/1", "!", "x264enc", "key-int-max=30",
         "speed-preset=ultrafast", "!", "h264parse", "!", "mp4mux", "!", "filesink", f"location={path}"],
        check=True, timeout=120, capture_output=True,
    )  # fmt: skip
    return path


def detector_folder(folder: Path) -> Path:
    """The traffic app's detector configs with detector B as ``./models`` beside them (as the
    component artifact ships it): ``config_infer_primary_rtdetr_triton.yml`` starts the real
    tritonserver on it, ``config_infer_primary_rtdetr.txt`` runs its ONNX file in ONNX Runtime."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("config_infer_primary_rtdetr_triton.yml", "config_infer_primary_rtdetr.txt",
                 "config_tracker_NvSORT.yml"):  # fmt: skip
        shutil.copy(TRAFFIC_APP / name, folder / name)
    (folder / "models").symlink_to(DETECTOR_B, target_is_directory=True)
    return folder


def tiny_models(folder: Path, *names: str) -> Path:
    """The unit tests' tiny ONNX models (written by a child process, as they are there)."""
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, str(TINY_MODELS), str(folder), *names], check=True, timeout=120)
    return folder


def imported_top_level(path: Path) -> set[str]:
    """Top-level names of every absolute import in a Python file."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names
