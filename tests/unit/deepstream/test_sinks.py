"""Display-branch sinks: fakesink counting, annotated MP4 files (both codecs) that OpenCV reads
back with the right frame count and size, nvmultistreamtiler-style tiling, make_sink errors."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from fake_device.deepstream.meta import BatchMeta, FrameMeta
from fake_device.deepstream.sinks import FakeSink, FileSink, Tiler, make_sink, tile_grid
from harness.errors import HarnessError
from harness.ffmpeg import find_ffmpeg

needs_ffmpeg = pytest.mark.skipif(find_ffmpeg() is None, reason="needs an ffmpeg binary")


def frame(image: np.ndarray | None, *, source_id: int = 0, n: int = 0) -> FrameMeta:
    h, w = (image.shape[:2]) if image is not None else (0, 0)
    return FrameMeta(
        source_id=source_id,
        frame_num=n,
        ntp_timestamp=0,
        source_frame_width=w,
        source_frame_height=h,
        image=image,
    )


def picture(n: int, w: int = 160, h: int = 120) -> np.ndarray:
    """A frame that differs from its neighbours: a bright square moving right on grey."""
    image = np.full((h, w, 3), 60, np.uint8)
    x = 8 + 6 * n
    image[40:80, x : x + 30] = (40, 200, 240)
    return image


def read_back(path: Path) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    assert capture.isOpened(), f"OpenCV cannot open {path}"
    frames = []
    try:
        for _ in range(1000):  # bounded: the files here are short
            ok, image = capture.read()
            if not ok:
                break
            frames.append(image)
    finally:
        capture.release()
    return frames


def test_fakesink_counts_and_drops() -> None:
    sink = make_sink("no-display", name="fakesink")
    assert isinstance(sink, FakeSink)
    batch = BatchMeta([frame(picture(0)), frame(None, source_id=1)], max_frames_in_batch=2)
    out = sink.process(batch)
    sink.process(BatchMeta([frame(picture(1))]))
    assert out is batch
    assert (sink.frames, sink.batches) == (3, 2)
    assert [f.latency[0][0] for f in batch.frames] == ["fakesink", "fakesink"]
    sink.close()
    sink.close()
    assert isinstance(make_sink("fakesink"), FakeSink)


@pytest.mark.parametrize("codec", [pytest.param("h264", marks=needs_ffmpeg), "mp4v"])
def test_file_sink_writes_an_mp4_opencv_reads_back(tmp_path: Path, codec: str) -> None:
    path = tmp_path / "out" / f"osd-{codec}.mp4"
    sink = make_sink("file", path=path, fps=10, codec=codec, width=160, height=120, name="nv3d-sink")
    assert isinstance(sink, FileSink)
    sources = [picture(n) for n in range(12)]
    for n, image in enumerate(sources):
        batch = BatchMeta([frame(image, n=n)])
        sink.process(batch)
        assert batch.frames[0].latency[-1][0] == "nv3d-sink"
    sink.close()
    sink.close()  # idempotent
    assert sink.frames == 12
    frames = read_back(path)
    assert len(frames) == 12
    assert all(f.shape == (120, 160, 3) for f in frames)
    for got, want in zip(frames, sources, strict=True):
        assert np.abs(got.astype(int) - want.astype(int)).mean() < 8, "the picture survives encoding"
    with pytest.raises(HarnessError, match="already closed"):
        sink.process(BatchMeta([frame(sources[0])]))


def test_file_sink_scales_frames_to_the_output_size(tmp_path: Path) -> None:
    path = tmp_path / "scaled.mp4"
    sink = FileSink(path, fps=5, codec="mp4v", width=80, height=60)
    for n in range(3):
        sink.process(BatchMeta([frame(picture(n, 160, 120))]))
    sink.process(BatchMeta([frame(None)]))  # nothing to draw: no output frame
    sink.close()
    frames = read_back(path)
    assert len(frames) == 3 and frames[0].shape == (60, 80, 3)


def test_tiling_two_sources_side_by_side(tmp_path: Path) -> None:
    red = np.zeros((90, 160, 3), np.uint8)
    red[:] = (0, 0, 255)
    blue = np.zeros((90, 160, 3), np.uint8)
    blue[:] = (255, 0, 0)
    path = tmp_path / "tiled.mp4"
    sink = FileSink(path, fps=5, codec="mp4v", width=320, height=120)
    for n in range(4):
        batch = BatchMeta(
            [frame(red, source_id=0, n=n), frame(blue, source_id=1, n=n)], max_frames_in_batch=2
        )
        sink.process(batch)
    sink.close()
    frames = read_back(path)
    assert len(frames) == 4, "one output frame per batch"
    left, right = frames[0][:, 20:140], frames[0][:, 180:300]
    assert left[..., 2].mean() > 200 and left[..., 0].mean() < 50, "source 0 in the left tile"
    assert right[..., 0].mean() > 200 and right[..., 2].mean() < 50, "source 1 in the right tile"


def test_tiler_keeps_a_missing_sources_last_picture_and_grows() -> None:
    tiler = Tiler(200, 100)
    white = np.full((50, 50, 3), 255, np.uint8)
    grey = np.full((50, 50, 3), 100, np.uint8)
    first = tiler.compose(
        BatchMeta([frame(white, source_id=0), frame(grey, source_id=1)], max_frames_in_batch=2)
    )
    assert first is not None and first[:, :100].min() == 255 and first[:, 100:].max() == 100
    second = tiler.compose(BatchMeta([frame(grey, source_id=0)], max_frames_in_batch=2))
    assert second is not None and second[:, 100:].max() == 100, "source 1 keeps its tile"
    third = tiler.compose(BatchMeta([frame(white, source_id=2)], max_frames_in_batch=2))
    assert third is not None and tiler.sources == 3 and tile_grid(3) == (1, 3)
    assert tiler.compose(BatchMeta([frame(None)])) is None


@pytest.mark.parametrize(
    ("sources", "grid"), [(1, (1, 1)), (2, (1, 2)), (3, (1, 3)), (4, (2, 2)), (5, (2, 3)), (9, (3, 3))]
)
def test_tile_grid_matches_deepstream_app(sources: int, grid: tuple[int, int]) -> None:
    assert tile_grid(sources) == grid


def test_make_sink_rejects_unknown_kinds_with_the_list() -> None:
    with pytest.raises(HarnessError) as info:
        make_sink("screen")
    assert info.value.message == "unknown sink 'screen'"
    assert info.value.hint == "use one of no-display, fakesink, file, rtsp"


def test_file_sink_rejects_bad_settings(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="unknown codec 'vp9'") as info:
        make_sink("file", path=tmp_path / "x.mp4", fps=10, codec="vp9", width=64, height=64)
    assert info.value.hint == "use one of mp4v, h264"
    with pytest.raises(HarnessError, match=r"H\.264 needs an even frame size, got 65x64"):
        FileSink(tmp_path / "x.mp4", fps=10, width=65, height=64)
    with pytest.raises(HarnessError, match="fps must be positive"):
        FileSink(tmp_path / "x.mp4", fps=0, width=64, height=64)
