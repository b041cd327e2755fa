"""UriSource: file:// and rtsp:// decoding, timestamps, live pacing, looping and error messages."""

from __future__ import annotations

import itertools
import logging
import socket
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from fake_device.deepstream import source as source_module
from fake_device.deepstream.source import DecodedFrame, SourceError, UriSource, parse_uri
from harness.world import WorldParams, write_world

FPS = 15
WIDTH, HEIGHT = 320, 180


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1 s of the world at 320×180, 15 fps: 15 frames."""
    out = tmp_path_factory.mktemp("source-clip")
    write_world(WorldParams(seed=1, seconds=1, width=WIDTH, height=HEIGHT, fps=FPS), out)
    return out / "video.mp4"


def uri(path: Path) -> str:
    return f"file://{path.resolve()}"


def read_all(src: UriSource, limit: int = 1000) -> list[DecodedFrame]:
    frames = []
    while len(frames) < limit:
        frame = src.read()
        if frame is None:
            break
        frames.append(frame)
    return frames


# -- file sources ---------------------------------------------------------------------------------


def test_file_frames_in_order_with_pts_and_times(clip: Path) -> None:
    started_ns = time.time_ns()
    with UriSource(uri(clip), source_id=3) as src:
        assert (src.width, src.height, src.fps) == (WIDTH, HEIGHT, FPS)
        assert src.name == "source-bin-03"
        assert not src.is_live
        frames = read_all(src)
        assert src.read() is None  # stays at end of stream
    assert len(frames) == FPS
    assert [f.pts_ns for f in frames] == [round(i * 1e9 / FPS) for i in range(FPS)]
    steps = np.diff([f.pts_ns for f in frames])
    assert np.all(np.abs(steps - 1e9 / FPS) <= 1)
    for frame in frames:
        assert frame.image.shape == (HEIGHT, WIDTH, 3)
        assert frame.image.dtype == np.uint8
        assert frame.decode_start <= frame.decode_end
        assert started_ns <= frame.capture_ns <= time.time_ns()
    assert [f.capture_ns for f in frames] == sorted(f.capture_ns for f in frames)
    assert [f.decode_start for f in frames] == sorted(f.decode_start for f in frames)


def test_frames_match_a_direct_decode(clip: Path) -> None:
    cap = cv2.VideoCapture(str(clip), cv2.CAP_FFMPEG)
    expected = []
    while True:
        ok, image = cap.read()
        if not ok:
            break
        expected.append(image)
    cap.release()
    with UriSource(uri(clip)) as src:
        frames = read_all(src)
    assert len(frames) == len(expected)
    assert all(np.array_equal(f.image, e) for f, e in zip(frames, expected, strict=True))


def test_percent_encoded_and_localhost_uris(clip: Path, tmp_path: Path) -> None:
    spaced = tmp_path / "my clip.mp4"
    spaced.write_bytes(clip.read_bytes())
    assert parse_uri(f"file://{tmp_path}/my%20clip.mp4") == ("file", str(spaced))
    with UriSource(f"file://{tmp_path}/my%20clip.mp4") as src:
        assert src.read() is not None
    assert parse_uri(f"file://localhost{clip}") == ("file", str(clip))
    assert parse_uri("FILE:///data/x.mp4") == ("file", "/data/x.mp4")


def test_live_file_is_paced_at_its_frame_rate(clip: Path) -> None:
    src = UriSource(uri(clip), live=True)
    assert src.is_live
    with src:
        started = time.monotonic()
        frames = read_all(src)
        elapsed = time.monotonic() - started
    assert len(frames) == FPS
    # frame 14 is released at 14/15 s after open; no upper bound (slow CI machines)
    assert elapsed >= 0.9
    # the wait is before decoding: a frame's decode does not include it
    assert max(f.decode_end - f.decode_start for f in frames) < 0.5


def test_interrupt_ends_a_pacing_wait(clip: Path) -> None:
    with UriSource(uri(clip), live=True) as src:
        assert src.read() is not None
        src.interrupt()
        started = time.monotonic()
        assert src.read() is None
        assert time.monotonic() - started < 0.05


def test_file_loop_restarts_with_increasing_pts(clip: Path) -> None:
    with UriSource(uri(clip), file_loop=True) as src:
        frames = read_all(src, limit=2 * FPS + 5)
    assert len(frames) == 2 * FPS + 5  # did not stop at the end of the file
    pts = [f.pts_ns for f in frames]
    assert pts == [round(i * 1e9 / FPS) for i in range(len(frames))]
    assert np.array_equal(frames[FPS].image, frames[0].image)  # second pass starts over
    assert np.array_equal(frames[2 * FPS + 1].image, frames[1].image)


def test_read_before_open_is_a_programming_error(clip: Path) -> None:
    with pytest.raises(RuntimeError, match="before open"):
        UriSource(uri(clip)).read()


def test_close_twice_and_reopen(clip: Path) -> None:
    src = UriSource(uri(clip)).open()
    assert src.read() is not None
    src.close()
    src.close()
    assert not src.opened
    with src:
        assert src.read().pts_ns == 0  # type: ignore[union-attr]


# -- errors ---------------------------------------------------------------------------------------


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "x.mp4"
    with pytest.raises(SourceError) as info:
        UriSource(f"file://{missing}").open()
    assert f"no such file {missing}" in info.value.message
    assert f"file://{missing}" in info.value.message


def test_http_scheme_is_rejected_with_a_hint() -> None:
    with pytest.raises(SourceError) as info:
        UriSource("http://example.com/x.mp4").open()
    assert "the http:// scheme is not supported" in info.value.message
    assert "file:// and rtsp://" in (info.value.hint or "")
    assert "hint:" in str(info.value)


def test_bare_path_gets_the_file_uri_hint(clip: Path) -> None:
    with pytest.raises(SourceError) as info:
        UriSource(str(clip)).open()
    assert "is not a URI" in info.value.message
    assert f"file://{clip.resolve()}" in (info.value.hint or "")


@pytest.mark.parametrize("relative", ["file:videos/x.mp4", "file://videos/x.mp4", "file:./x.mp4"])
def test_relative_file_uri_is_rejected(relative: str) -> None:
    with pytest.raises(SourceError) as info:
        UriSource(relative).open()
    assert "relative file URI" in info.value.message
    assert "absolute" in (info.value.hint or "")
    assert "file://$(pwd)/" in (info.value.hint or "")


def test_non_video_file_is_not_decodable(tmp_path: Path) -> None:
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n")
    with pytest.raises(SourceError) as info:
        UriSource(f"file://{text}").open()
    assert f"FFmpeg cannot decode {text}" in info.value.message
    assert "ffprobe" in (info.value.hint or "")


def test_directory_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="is not a file"):
        UriSource(f"file://{tmp_path}").open()


def test_rtsp_without_host() -> None:
    with pytest.raises(SourceError, match="has no host"):
        UriSource("rtsp:///stream").open()


def test_rtsp_connection_refused_is_bounded() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    src = UriSource(f"rtsp://127.0.0.1:{port}/stream", timeout_s=2)
    assert src.is_live
    started = time.monotonic()
    with pytest.raises(SourceError) as info:
        src.open()
    assert time.monotonic() - started < 10
    assert f"rtsp://127.0.0.1:{port}/stream: cannot connect" in info.value.message
    assert "reachable" in (info.value.hint or "")


# -- rtsp with a scripted camera ------------------------------------------------------------------


class ScriptedCamera:
    """Stands in for an FFmpeg RTSP capture: ``frames`` pictures, then a failed read."""

    def __init__(self, frames: int, pos_ms: bool = True) -> None:
        self.frames = frames
        self.pos_ms = pos_ms
        self.read_count = 0
        self.released = False

    def isOpened(self) -> bool:  # OpenCV's name
        return True

    def get(self, prop: int) -> float:
        return {
            cv2.CAP_PROP_FRAME_WIDTH: 64.0,
            cv2.CAP_PROP_FRAME_HEIGHT: 48.0,
            cv2.CAP_PROP_FPS: 25.0,
            cv2.CAP_PROP_POS_MSEC: 40.0 * (self.read_count - 1) if self.pos_ms else 0.0,
        }.get(prop, 0.0)

    def read(self) -> tuple[bool, Any]:
        self.read_count += 1
        if self.read_count > self.frames:
            return False, None
        return True, np.full((48, 64, 3), self.read_count, np.uint8)

    def release(self) -> None:
        self.released = True


def test_rtsp_read_failure_is_end_of_stream(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[tuple[str, list[int]]] = []
    camera = ScriptedCamera(frames=3)

    def fake_open(target: str, params: list[int]) -> ScriptedCamera:
        calls.append((target, params))
        return camera

    monkeypatch.setattr(source_module, "_open_capture", fake_open)
    caplog.set_level(logging.WARNING, logger="fake_device.deepstream.source")
    with UriSource("rtsp://camera.local:8554/live", source_id=1, timeout_s=3) as src:
        assert (src.width, src.height, src.fps) == (64, 48, 25.0)
        frames = read_all(src)
        assert src.read() is None
    assert camera.released
    assert calls == [
        (
            "rtsp://camera.local:8554/live",
            [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, 3000, cv2.CAP_PROP_READ_TIMEOUT_MSEC, 3000],
        )
    ]
    assert [int(f.image[0, 0, 0]) for f in frames] == [1, 2, 3]
    # pts from the stream's timestamps, kept strictly increasing (the first is 0 ms → 0)
    assert [f.pts_ns for f in frames] == [0, 40_000_000, 80_000_000]
    assert camera.read_count == 4  # one failed read, no retry loop
    assert any("treating it as end of stream" in r.getMessage() for r in caplog.records)


def test_rtsp_without_timestamps_uses_arrival_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        source_module, "_open_capture", lambda target, params: ScriptedCamera(4, pos_ms=False)
    )
    with UriSource("rtsp://camera.local/live") as src:
        frames = read_all(src)
    pts = [f.pts_ns for f in frames]
    assert len(pts) == 4
    assert all(b > a for a, b in itertools.pairwise(pts))
