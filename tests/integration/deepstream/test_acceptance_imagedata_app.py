"""Acceptance: a deepstream-imagedata-multistream style app (apps/deepstream_imagedata_multistream.py).

Two sources in one batch — a world clip (90 frames) and a videotestsrc SMPTE clip (60 frames) —
converted to RGBA; the app's probe reads every frame with ``pyds.get_nvds_buf_surface`` as numpy,
saves some as JPEG, and writes a green block into each frame; the tiled output is encoded to MP4.
The test checks the arrays (shape, dtype, which source's pixels they hold) and that the blocks
written in the probe are in the video that came out downstream.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from acceptance import APPS, imported_top_level, pattern_clip, run_app, world_clip

pytestmark = pytest.mark.integration

WORLD_FRAMES, PATTERN_FRAMES = 90, 60
BLOCKS = {0: (80, 80), 1: (1040, 520)}  # where the app writes each stream's 160x120 block
BLOCK_W, BLOCK_H = 160, 120


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
    base = tmp_path_factory.mktemp("imagedata-app")
    world = world_clip(base / "world", seed=2005)
    pattern = pattern_clip(base / "smpte.mp4", "smpte", PATTERN_FRAMES)
    result = run_app(
        [str(APPS / "deepstream_imagedata_multistream.py"), f"file://{world}", f"file://{pattern}",
         str(base / "frames"), "--tiled-output", str(base / "tiled.mp4"),
         "--frames-out", str(base / "frames.jsonl")],
        cwd=base, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.tail()
    return {
        "result": result,
        "records": [json.loads(line) for line in (base / "frames.jsonl").read_text().splitlines()],
        "saved": base / "frames",
        "sources": {0: _decoded(world), 1: _decoded(pattern)},
        "tiled": _decoded(base / "tiled.mp4"),
    }


def test_every_frame_of_both_sources_is_a_numpy_rgba_array(run: dict[str, Any]) -> None:
    records = run["records"]
    for source, count in ((0, WORLD_FRAMES), (1, PATTERN_FRAMES)):
        assert [r["frame"] for r in records if r["source"] == source] == list(range(count))
    assert all(r["shape"] == [720, 1280, 4] and r["dtype"] == "uint8" for r in records)
    batches = re.findall(r"^Batch (.*)$", run["result"].output, re.MULTILINE)
    assert sum(len(b.split()) for b in batches) == WORLD_FRAMES + PATTERN_FRAMES
    assert all(len(b.split()) <= 2 for b in batches)
    assert any({"stream0", "stream1"} == {f.split(":")[0] for f in b.split()} for b in batches)
    assert {r["batch_id"] for r in records} == {0, 1}


def test_each_array_holds_its_own_sources_pixels(run: dict[str, Any]) -> None:
    """The probe's per-frame channel means follow the frame of that source, not the other one."""
    sources = run["sources"]
    assert [len(sources[0]), len(sources[1])] == [WORLD_FRAMES, PATTERN_FRAMES]
    for record in run["records"]:
        own = sources[record["source"]][record["frame"]]
        expected = own[:, :, ::-1].reshape(-1, 3).mean(axis=0)  # BGR → RGB
        assert np.abs(np.array(record["mean_rgba"][:3]) - expected).max() < 4, record
        assert record["mean_rgba"][3] == 255.0


def test_saved_frames_are_the_right_sources_pictures(run: dict[str, Any]) -> None:
    sources = run["sources"]
    for source, numbers in ((0, (0, 30, 60)), (1, (0, 30))):
        saved = sorted(p.name for p in (run["saved"] / f"stream_{source}").iterdir())
        assert saved == sorted(f"frame_{n}.jpg" for n in numbers)
        for n in numbers:
            image = cv2.imread(str(run["saved"] / f"stream_{source}" / f"frame_{n}.jpg"))
            assert image.shape == (720, 1280, 3)
            assert cv2.PSNR(image, sources[source][n]) > 30  # the frame itself, through JPEG
            assert cv2.PSNR(image, sources[1 - source][min(n, PATTERN_FRAMES - 1)]) < 15


def _pure_green(region: np.ndarray) -> bool:
    b, g, r = region.reshape(-1, 3).mean(axis=0)
    return g > 200 and r < 60 and b < 60


def test_what_the_probe_wrote_reaches_the_tiled_video(run: dict[str, Any]) -> None:
    tiled = run["tiled"]
    # one output frame per batch: at least one per frame of the longer source's batches
    assert len(tiled) >= WORLD_FRAMES - PATTERN_FRAMES + PATTERN_FRAMES // 2
    checked: set[int] = set()
    for image in tiled:
        assert image.shape == (360, 1280, 3)
        for source, (x, y) in BLOCKS.items():
            if image[:, source * 640 : source * 640 + 640].max() < 20:
                continue  # no frame of this source yet: its tile is still black
            checked.add(source)
            # tile N is the right or left half, each frame scaled by 1/2
            left, top = source * 640 + x // 2, y // 2
            inner = image[top + 5 : top + BLOCK_H // 2 - 5, left + 5 : left + BLOCK_W // 2 - 5]
            assert _pure_green(inner), (source, inner.reshape(-1, 3).mean(axis=0))
            below = image[
                top + BLOCK_H // 2 + 5 : top + BLOCK_H // 2 + 15, left + 5 : left + BLOCK_W // 2 - 5
            ]
            assert not _pure_green(below), "the block has the size the probe wrote"
    assert checked == {0, 1}
    # outside the blocks each tile is its source's picture
    last_world = cv2.resize(run["sources"][0][-1], (640, 360), interpolation=cv2.INTER_AREA)
    tile = tiled[-1][:, :640].copy()
    tile[40:100, 40:120] = last_world[40:100, 40:120]
    assert cv2.PSNR(tile, last_world) > 25


def test_the_app_imports_nothing_of_edge_harness() -> None:
    imported = imported_top_level(APPS / "deepstream_imagedata_multistream.py")
    assert {"gi", "pyds", "cv2", "numpy"} <= imported and not imported & {"harness", "fake_device"}
