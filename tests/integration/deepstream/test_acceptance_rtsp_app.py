"""Acceptance: a deepstream-test1-rtsp-out style app (apps/deepstream_test1_rtsp_out.py) watched over RTSP.

The app runs nvinfer (detector B's ONNX file) and nvdsosd on a world clip and streams the result
through nvv4l2h264enc → rtph264pay → udpsink into its GstRtspServer. FFmpeg (the project's
``find_ffmpeg()``) connects as a viewer while the app plays and decodes what it gets; the frames
must be the world's picture with the detector's boxes drawn on it.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from acceptance import (
    APPS,
    detector_folder,
    elementary_stream,
    finish,
    imported_top_level,
    start_app,
    world_clip,
)

from harness.ffmpeg import find_ffmpeg
from harness.services.ports import free_ports

pytestmark = pytest.mark.integration

WIDTH, HEIGHT = 1280, 720
WANTED = 40


def _decoded(path: Path) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, image = capture.read()
        if not ok:
            return frames
        frames.append(image)


def _watch(url: str, deadline: float) -> bytes:
    """Raw BGR frames ffmpeg decoded from ``url`` (retried until the server answers)."""
    ffmpeg = find_ffmpeg()
    assert ffmpeg is not None, "ffmpeg (imageio-ffmpeg) is a project dependency"
    data = b""
    while time.monotonic() < deadline and not data:
        viewer = subprocess.run(
            [ffmpeg, "-hide_banner", "-loglevel", "error", "-rtsp_transport", "tcp", "-i", url,
             "-frames:v", str(WANTED), "-f", "rawvideo", "-pix_fmt", "bgr24", "-"],
            capture_output=True, timeout=max(1.0, deadline - time.monotonic()),
        )  # fmt: skip
        data = viewer.stdout
        if not data:
            time.sleep(0.3)
    return data


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("rtsp-app")
    mp4 = world_clip(base / "world", seed=2008)
    clip = elementary_stream(mp4)
    work = detector_folder(base / "work")
    rtsp_port, udp_port = free_ports(2)
    app = start_app(
        [str(APPS / "deepstream_test1_rtsp_out.py"), "-i", str(clip), "--rtsp-port", str(rtsp_port),
         "--udp-port", str(udp_port)],
        cwd=work,
    )  # fmt: skip
    try:
        raw = _watch(f"rtsp://127.0.0.1:{rtsp_port}/ds-test", time.monotonic() + 120)
    finally:
        result = finish(app, timeout=300)
    assert result.returncode == 0, result.tail()
    frame_bytes = WIDTH * HEIGHT * 3
    frames = [
        np.frombuffer(raw[i : i + frame_bytes], np.uint8).reshape(HEIGHT, WIDTH, 3)
        for i in range(0, len(raw) - frame_bytes + 1, frame_bytes)
    ]
    return {"result": result, "port": rtsp_port, "frames": frames, "world": _decoded(mp4)}


def test_the_app_announces_its_stream_and_plays_to_the_end(run: dict[str, Any]) -> None:
    out = run["result"].output
    assert f"Launched RTSP Streaming at rtsp://localhost:{run['port']}/ds-test" in out
    numbers = [int(n) for n in re.findall(r"^Frame Number=(\d+) Number of Objects=\d+$", out, re.MULTILINE)]
    assert numbers == list(range(90))
    assert "End-of-stream" in out


def test_a_viewer_decodes_the_worlds_frames_with_the_boxes_drawn(run: dict[str, Any]) -> None:
    frames, world = run["frames"], run["world"]
    assert len(frames) >= 20, f"the viewer decoded {len(frames)} frames"
    matched = []
    for image in frames:
        scores = [cv2.PSNR(image, candidate) for candidate in world]
        best = int(np.argmax(scores))
        assert scores[best] > 22, "a frame that is not the world's picture"
        matched.append(best)
    assert matched == sorted(matched), "frames arrive in order"
    assert len(set(matched)) >= len(frames) - 2, "distinct frames, not one picture repeated"
    red = [((f[:, :, 2] > 150) & (f[:, :, 1] < 90) & (f[:, :, 0] < 90)).sum() for f in frames]
    plain = [
        ((world[i][:, :, 2] > 150) & (world[i][:, :, 1] < 90) & (world[i][:, :, 0] < 90)).sum()
        for i in matched
    ]
    # nvinfer's red 3-px borders: thousands of red pixels the world frame does not have
    assert np.median(np.array(red) - np.array(plain)) > 1500, (np.median(red), np.median(plain))


def test_the_app_imports_nothing_of_edge_harness() -> None:
    imported = imported_top_level(APPS / "deepstream_test1_rtsp_out.py")
    assert {"gi", "pyds"} <= imported and not imported & {"harness", "fake_device"}
