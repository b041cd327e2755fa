"""NvStreamMux: batching, scaling, frame metadata, pacing, stop, threads and errors."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from fake_device.deepstream.meta import BatchMeta
from fake_device.deepstream.source import DecodedFrame, SourceError, UriSource
from fake_device.deepstream.streammux import NvStreamMux, StreamMuxConfig, scale_frame
from harness.world import WorldParams, write_world

FPS = 15
WIDTH, HEIGHT = 320, 180


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``long``: 1 s at 15 fps (15 frames); ``short``: 10 frames of another seed; both 320×180."""
    root = tmp_path_factory.mktemp("streammux-clips")
    write_world(WorldParams(seed=1, seconds=1, width=WIDTH, height=HEIGHT, fps=FPS), root / "long")
    write_world(WorldParams(seed=2, seconds=10 / FPS, width=WIDTH, height=HEIGHT, fps=FPS), root / "short")
    return {"long": root / "long" / "video.mp4", "short": root / "short" / "video.mp4"}


def uri(path: Path) -> str:
    return f"file://{path.resolve()}"


def decode_all(path: Path) -> list[np.ndarray]:
    with UriSource(uri(path)) as src:
        frames = []
        while (frame := src.read()) is not None:
            frames.append(frame.image)
    return frames


def run(mux: NvStreamMux, limit: int = 1000) -> list[BatchMeta]:
    batches = []
    with mux:
        for batch in mux.batches():
            batches.append(batch)
            assert len(batches) < limit, "the muxer did not end"
    return batches


def mux_threads(name: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(name) and t.is_alive()]


# -- config ---------------------------------------------------------------------------------------


def test_config_defaults() -> None:
    config = StreamMuxConfig()
    assert (config.width, config.height, config.batch_size) == (1280, 720, 1)
    assert config.batched_push_timeout_us == 40000
    assert config.attach_sys_ts and not config.live_source and not config.enable_padding


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"width": 0}, "width and height must be positive, not 0x720"),
        ({"height": -2}, "width and height must be positive, not 1280x-2"),
        ({"batch_size": 0}, "batch_size must be between 1 and 64, not 0"),
        ({"batch_size": 65}, "batch_size must be between 1 and 64, not 65"),
        ({"batched_push_timeout_us": -5}, "must be -1 (wait for a full batch)"),
        ({"width": 12.5}, "width must be an integer"),
    ],
)
def test_config_validation(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError) as info:
        StreamMuxConfig(**kwargs)
    assert message in str(info.value)


def test_muxer_arguments_are_checked(clips: dict[str, Path]) -> None:
    with pytest.raises(ValueError, match="at least one source"):
        NvStreamMux([], StreamMuxConfig())
    with pytest.raises(ValueError, match="source ids must be unique"):
        NvStreamMux([UriSource(uri(clips["long"]), 0), UriSource(uri(clips["short"]), 0)], StreamMuxConfig())
    with pytest.raises(ValueError, match="queue_size"):
        NvStreamMux([UriSource(uri(clips["long"]))], StreamMuxConfig(), queue_size=0)


# -- one source -----------------------------------------------------------------------------------


def test_single_source_frames_and_metadata(clips: dict[str, Path]) -> None:
    started_ns = time.time_ns()
    src = UriSource(uri(clips["long"]), source_id=0)
    mux = NvStreamMux([src], StreamMuxConfig(width=640, height=360, batch_size=1))
    batches = run(mux)
    assert len(batches) == FPS
    assert mux.frames_out == {0: FPS}
    assert not src.opened  # closed at the end of the run
    for index, batch in enumerate(batches):
        assert batch.max_frames_in_batch == 1
        (frame,) = batch.frames
        assert frame.source_id == 0 and frame.batch_id == 0
        assert frame.frame_num == index
        assert frame.buf_pts == round(index * 1e9 / FPS)
        assert (frame.source_frame_width, frame.source_frame_height) == (WIDTH, HEIGHT)
        assert frame.image is not None and frame.image.shape == (360, 640, 3)
        assert started_ns <= frame.ntp_timestamp <= time.time_ns()
        (dec_name, dec_in, dec_out), (mux_name, mux_in, mux_out) = frame.latency
        assert dec_name == "source-bin-00_decoder" and mux_name == "stream-muxer"
        assert frame.decode_time == dec_in
        assert dec_in <= dec_out <= mux_in <= mux_out
    pts = [b.frames[0].buf_pts for b in batches]
    assert np.all(np.abs(np.diff(pts) - 1e9 / FPS) <= 1)


def test_same_size_frames_pass_unchanged(clips: dict[str, Path]) -> None:
    expected = decode_all(clips["long"])
    batches = run(NvStreamMux([UriSource(uri(clips["long"]))], StreamMuxConfig(width=WIDTH, height=HEIGHT)))
    assert all(np.array_equal(b.frames[0].image, e) for b, e in zip(batches, expected, strict=True))


def test_without_attach_sys_ts_ntp_is_zero(clips: dict[str, Path]) -> None:
    config = StreamMuxConfig(width=WIDTH, height=HEIGHT, attach_sys_ts=False)
    batches = run(NvStreamMux([UriSource(uri(clips["short"]))], config))
    assert {b.frames[0].ntp_timestamp for b in batches} == {0}


def test_stretch_scales_to_the_muxer_size(clips: dict[str, Path]) -> None:
    source_frame = decode_all(clips["long"])[0]
    config = StreamMuxConfig(width=200, height=200, interpolation=cv2.INTER_NEAREST)
    batches = run(NvStreamMux([UriSource(uri(clips["long"]))], config))
    image = batches[0].frames[0].image
    assert image is not None and image.shape == (200, 200, 3)
    assert np.array_equal(image, cv2.resize(source_frame, (200, 200), interpolation=cv2.INTER_NEAREST))
    assert image[190:].any()  # the whole picture: no black band at the bottom


def test_padding_keeps_aspect_and_pads_right_and_bottom(clips: dict[str, Path]) -> None:
    source_frame = decode_all(clips["long"])[0]
    # 320×180 into 400×400: scale 1.25 → 400×225 at the top, 175 black rows below
    config = StreamMuxConfig(width=400, height=400, enable_padding=True, interpolation=cv2.INTER_NEAREST)
    image = run(NvStreamMux([UriSource(uri(clips["long"]))], config))[0].frames[0].image
    assert image is not None and image.shape == (400, 400, 3)
    assert not image[225:].any()
    assert image[:225].mean() > 20  # the picture, not black
    assert np.array_equal(image[:225], cv2.resize(source_frame, (400, 225), interpolation=cv2.INTER_NEAREST))

    # 320×180 into 200×400 (taller): width-bound, 200×112 at the top; right side has no padding
    tall = scale_frame(source_frame, StreamMuxConfig(width=200, height=400, enable_padding=True))
    assert tall.shape == (400, 200, 3)
    assert not tall[113:].any()
    assert tall[:112, 190:].any()


def test_padding_pads_the_right_of_a_wider_target() -> None:
    image = np.full((100, 100, 3), 200, np.uint8)
    out = scale_frame(image, StreamMuxConfig(width=300, height=150, enable_padding=True))
    assert out.shape == (150, 300, 3)
    assert (out[:, :150] == 200).all()
    assert not out[:, 150:].any()


# -- several sources ------------------------------------------------------------------------------


def test_two_sources_batched_together(clips: dict[str, Path]) -> None:
    sources = [UriSource(uri(clips["long"]), 0), UriSource(uri(clips["long"]), 1)]
    config = StreamMuxConfig(width=WIDTH, height=HEIGHT, batch_size=2, batched_push_timeout_us=-1)
    batches = run(NvStreamMux(sources, config))
    assert len(batches) == FPS
    for index, batch in enumerate(batches):
        assert batch.max_frames_in_batch == 2
        assert [(f.source_id, f.batch_id, f.frame_num) for f in batch.frames] == [
            (0, 0, index),
            (1, 1, index),
        ]
        # one decoded clip, two pads: the same picture on both
        assert np.array_equal(batch.frames[0].image, batch.frames[1].image)
        # a batch leaves the muxer once: both frames carry the same out time
        assert batch.frames[0].latency[-1][2] == batch.frames[1].latency[-1][2]


def test_batch_size_above_the_number_of_sources(clips: dict[str, Path]) -> None:
    sources = [UriSource(uri(clips["long"]), 0), UriSource(uri(clips["short"]), 1)]
    config = StreamMuxConfig(width=WIDTH, height=HEIGHT, batch_size=4)
    mux = NvStreamMux(sources, config)
    batches = run(mux)
    assert mux.frames_out == {0: 15, 1: 10}
    for batch in batches:
        ids = [f.source_id for f in batch.frames]
        assert len(ids) == len(set(ids)) <= 2  # at most one frame per source
        assert batch.max_frames_in_batch == 4
        assert [f.batch_id for f in batch.frames] == list(range(len(ids)))
    for source_id, count in ((0, 15), (1, 10)):
        nums = [f.frame_num for b in batches for f in b.frames if f.source_id == source_id]
        assert nums == list(range(count))


def test_unequal_lengths_the_longer_source_continues(clips: dict[str, Path]) -> None:
    expected_short = decode_all(clips["short"])
    assert len(expected_short) == 10
    sources = [UriSource(uri(clips["short"]), 0), UriSource(uri(clips["long"]), 1)]
    # -1: wait for a full batch; a source at end of stream must not make the muxer wait forever
    config = StreamMuxConfig(width=WIDTH, height=HEIGHT, batch_size=2, batched_push_timeout_us=-1)
    mux = NvStreamMux(sources, config)
    batches = run(mux)
    assert mux.frames_out == {0: 10, 1: 15}
    assert len(batches) == 15
    assert all([f.source_id for f in b.frames] == [0, 1] for b in batches[:10])
    assert all([f.source_id for f in b.frames] == [1] for b in batches[10:])
    short = [f for b in batches for f in b.frames if f.source_id == 0]
    assert [f.frame_num for f in short] == list(range(10))
    assert all(np.array_equal(f.image, e) for f, e in zip(short, expected_short, strict=True))
    assert [f.frame_num for b in batches for f in b.frames if f.source_id == 1] == list(range(15))


def test_push_timeout_sends_partial_batches(clips: dict[str, Path]) -> None:
    """A fast file and a paced one: the timeout pushes the fast source's frames without waiting."""
    fast = UriSource(uri(clips["short"]), 0)
    paced = UriSource(uri(clips["short"]), 1, live=True)
    config = StreamMuxConfig(width=WIDTH, height=HEIGHT, batch_size=2, batched_push_timeout_us=5000)
    mux = NvStreamMux([fast, paced], config, queue_size=1)
    batches = run(mux)
    assert mux.frames_out == {0: 10, 1: 10}
    sizes = [len(b.frames) for b in batches]
    assert 1 in sizes  # partial batches were pushed on the timeout
    for source_id in (0, 1):
        nums = [f.frame_num for b in batches for f in b.frames if f.source_id == source_id]
        assert nums == list(range(10))
    # a lone frame of the fast source waited for the timeout (the paced one was still playing);
    # once the fast source has ended, the paced one's frames are pushed at once: nothing can join
    waits = {0: [], 1: []}
    for batch in batches:
        if len(batch.frames) == 1:
            (frame,) = batch.frames
            _, mux_in, mux_out = frame.latency[-1]
            waits[frame.source_id].append(mux_out - mux_in)
    assert waits[0] and min(waits[0]) >= 0.004
    assert waits[1] and min(waits[1]) < 0.004


def test_live_source_paces_file_sources(clips: dict[str, Path]) -> None:
    sources = [UriSource(uri(clips["long"]), 0), UriSource(uri(clips["short"]), 1)]
    config = StreamMuxConfig(width=WIDTH, height=HEIGHT, batch_size=2, live_source=True)
    mux = NvStreamMux(sources, config)
    started = time.monotonic()
    run(mux)
    elapsed = time.monotonic() - started
    assert all(s.is_live for s in sources)
    assert mux.frames_out == {0: 15, 1: 10}
    assert elapsed >= 0.9  # the 15th frame of the long clip is due 14/15 s after open


def test_fast_by_default(clips: dict[str, Path]) -> None:
    sources = [UriSource(uri(clips["long"]), 0)]
    mux = NvStreamMux(sources, StreamMuxConfig(width=WIDTH, height=HEIGHT))
    run(mux)
    assert not sources[0].is_live


# -- stop, close, threads, errors -----------------------------------------------------------------


def test_stop_from_another_thread_ends_iteration(clips: dict[str, Path]) -> None:
    name = "mux-stop-test"
    sources = [UriSource(uri(clips["long"]), 0, file_loop=True), UriSource(uri(clips["short"]), 1, live=True)]
    mux = NvStreamMux(sources, StreamMuxConfig(width=WIDTH, height=HEIGHT, batch_size=2), name=name)
    timer = threading.Timer(0.3, mux.stop)
    timer.start()
    count = 0
    try:
        for _ in mux.batches():
            count += 1
            assert count < 100_000, "stop() did not end the iteration"
    finally:
        timer.cancel()
        mux.close()
    assert count > 0
    assert mux_threads(name) == []
    assert not any(s.opened for s in sources)


def test_no_thread_left_after_close_when_leaving_early(clips: dict[str, Path]) -> None:
    name = "mux-early-exit"
    sources = [UriSource(uri(clips["long"]), 0, file_loop=True), UriSource(uri(clips["long"]), 1)]
    mux = NvStreamMux(sources, StreamMuxConfig(width=WIDTH, height=HEIGHT, batch_size=2), name=name)
    iterator = mux.batches()
    next(iterator)
    assert len(mux_threads(name)) == 2  # one decode thread per source, named after the muxer
    assert all(t.daemon for t in mux_threads(name))
    mux.close()
    assert mux_threads(name) == []
    iterator.close()
    mux.close()  # twice is fine


def test_threads_joined_after_a_normal_run(clips: dict[str, Path]) -> None:
    name = "mux-normal-run"
    before = set(threading.enumerate())
    run(NvStreamMux([UriSource(uri(clips["short"]), 0)], StreamMuxConfig(), name=name))
    assert mux_threads(name) == []
    assert set(threading.enumerate()) <= before


def test_batches_plays_once(clips: dict[str, Path]) -> None:
    mux = NvStreamMux([UriSource(uri(clips["short"]))], StreamMuxConfig())
    run(mux)
    with pytest.raises(RuntimeError, match="only once"):
        next(mux.batches())


def test_source_error_in_a_decode_thread_is_raised_in_the_caller(
    clips: dict[str, Path], tmp_path: Path
) -> None:
    name = "mux-missing"
    missing = tmp_path / "missing.mp4"
    sources = [UriSource(uri(clips["long"]), 0), UriSource(f"file://{missing}", 1)]
    mux = NvStreamMux(sources, StreamMuxConfig(batch_size=2), name=name)
    with pytest.raises(SourceError) as info, mux:
        for _ in mux.batches():
            pass
    assert f"no such file {missing}" in info.value.message
    assert mux_threads(name) == []


class ExplodingSource(UriSource):
    """A source whose decoder fails after a few frames."""

    def __init__(self, uri: str, source_id: int, after: int) -> None:
        super().__init__(uri, source_id)
        self.after = after
        self.count = 0

    def read(self) -> DecodedFrame | None:
        self.count += 1
        if self.count > self.after:
            raise RuntimeError("decoder exploded")
        return super().read()


def test_exception_in_a_decode_thread_surfaces(clips: dict[str, Path]) -> None:
    name = "mux-exploding"
    sources = [UriSource(uri(clips["long"]), 0, file_loop=True), ExplodingSource(uri(clips["long"]), 1, 3)]
    mux = NvStreamMux(sources, StreamMuxConfig(width=WIDTH, height=HEIGHT, batch_size=2), name=name)
    delivered = 0
    with pytest.raises(RuntimeError, match="decoder exploded"):
        for batch in mux.batches():
            delivered += len(batch.frames)
            assert delivered < 10_000
    assert mux.frames_out[1] <= 3
    assert mux_threads(name) == []
    assert not any(s.opened for s in sources)
