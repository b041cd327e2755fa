"""Acceptance: a gst-launch-1.0 line with nv* elements through ``edge-harness deepstream exec``.

The line decodes a world clip, runs the traffic app's nvinfer config (detector B's ONNX file),
draws the boxes with nvdsosd and encodes with nvv4l2h264enc into an MP4 file. The file is then
decoded with FFmpeg/OpenCV: every frame is there, it is the world's picture, the detector's red
boxes sit on the world's vehicles, and the encoder kept the GOP it was given.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from acceptance import detector_folder, world_clip

from harness.ffmpeg import find_ffmpeg

pytestmark = pytest.mark.integration

FRAMES, GOP = 90, 15


def edge_harness() -> list[str]:
    script = Path(sys.executable).with_name("edge-harness")
    return [str(script)] if script.exists() else [sys.executable, "-m", "harness"]


def _decoded(path: Path) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, image = capture.read()
        if not ok:
            return frames
        frames.append(image)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("gst-launch")
    clip = world_clip(base / "world", seed=2007)
    detector_folder(base / "detector")
    out = base / "out.mp4"
    line = (
        f"filesrc location={clip} ! qtdemux ! h264parse ! nvv4l2decoder ! m.sink_0 "
        "nvstreammux name=m batch-size=1 width=1280 height=720 "
        "! nvinfer config-file-path=detector/config_infer_primary_rtdetr.txt "
        "! nvvideoconvert ! video/x-raw(memory:NVMM),format=RGBA ! nvdsosd "
        "! nvvideoconvert ! video/x-raw(memory:NVMM),format=I420 "
        f"! nvv4l2h264enc bitrate=6000000 iframeinterval={GOP} ! h264parse ! mp4mux "
        f"! filesink location={out}"
    )
    result = subprocess.run(
        [*edge_harness(), "deepstream", "exec", "--", "gst-launch-1.0", "-e", *line.split()],
        cwd=base, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    truth = [line.split(",") for line in (base / "world" / "gt.txt").read_text().splitlines()]
    return {"result": result, "out": out, "world": _decoded(clip), "encoded": _decoded(out), "truth": truth}


def test_the_line_runs_to_eos_as_the_real_tool_reports_it(run: dict[str, Any]) -> None:
    stdout = run["result"].stdout
    assert "Setting pipeline to PLAYING ..." in stdout
    assert 'Got EOS from element "pipeline0".' in stdout
    assert re.search(r"^Execution ended after \d+:\d\d:\d\d\.\d{9}$", stdout, re.MULTILINE)
    assert "ERROR" not in run["result"].stderr


def test_the_file_holds_every_frame_of_the_world(run: dict[str, Any]) -> None:
    encoded, world = run["encoded"], run["world"]
    assert len(encoded) == len(world) == FRAMES
    assert {image.shape for image in encoded} == {(720, 1280, 3)}
    psnr = [cv2.PSNR(a, b) for a, b in zip(encoded, world, strict=True)]
    assert min(psnr) > 22 and float(np.mean(psnr)) > 25  # the world's picture, boxes drawn on it


def _red(image: np.ndarray) -> np.ndarray:
    return (image[:, :, 2] > 150) & (image[:, :, 1] < 90) & (image[:, :, 0] < 90)


def test_the_detectors_boxes_are_drawn_on_the_worlds_vehicles(run: dict[str, Any]) -> None:
    """nvinfer's default border (red, 3 px) around each clearly visible vehicle, absent in the input."""
    drawn, plain = [], []
    for frame, _, x, y, w, h, _, _, visibility in run["truth"]:
        x, y, w, h = int(x), int(y), int(w), int(h)
        if float(visibility) < 1 or w < 40 or h < 40:
            continue
        index = int(frame) - 1
        ring = np.zeros((720, 1280), bool)
        ring[max(0, y - 6) : y + h + 6, max(0, x - 6) : x + w + 6] = True
        ring[y + 6 : y + h - 6, x + 6 : x + w - 6] = False
        drawn.append(_red(run["encoded"][index])[ring].mean())
        plain.append(_red(run["world"][index])[ring].mean())
    assert len(drawn) >= 50
    assert np.mean(np.array(drawn) > 0.15) >= 0.9, np.percentile(drawn, [0, 10, 50])
    assert max(plain) < 0.05, "the red comes from nvdsosd, not from the world"


def test_the_encoder_kept_the_gop(run: dict[str, Any]) -> None:
    ffmpeg = find_ffmpeg()
    assert ffmpeg is not None
    probe = subprocess.run(
        [ffmpeg, "-hide_banner", "-i", str(run["out"]), "-vf", "showinfo", "-f", "null", "-"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    types = re.findall(r"Parsed_showinfo.* n: *(\d+) .*iskey:(\d)", probe.stderr)
    assert len(types) == FRAMES
    assert [int(n) for n, key in types if key == "1"] == list(range(0, FRAMES, GOP))
