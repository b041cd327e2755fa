"""Latency marks on real GStreamer: the decoder's and the muxer's, so a frame's latency starts at decoding.

DeepStream's frame latency runs from the decoder's input to the measuring probe, and its component
lines start with the decoder and the muxer. An H.264 file with B-frames (the decoder outputs frames
in another order than their access units came in) goes through nvv4l2decoder and nvstreammux; the
marks on each frame's meta must be the decoder's then the muxer's, in time order, one decoder input
per frame.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fake_device.deepstream.gst.carrier import batch_meta_at
from fake_device.deepstream.gst.registry import register_all
from fake_device.deepstream.gst.runtime import Gst
from fake_device.deepstream.measure import ENV_LATENCY

register_all()

FRAMES = 24
TIMEOUT_S = 90


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("latency") / "b-frames.mp4"
    encode = Gst.parse_launch(
        f"videotestsrc num-buffers={FRAMES} pattern=ball ! video/x-raw,width=320,height=240,framerate=30/1 "
        f"! x264enc bframes=2 b-adapt=false key-int-max=12 ! mp4mux ! filesink location={path}"
    )
    _play(encode)
    return path


def _play(pipeline: Gst.Pipeline) -> None:
    bus = pipeline.get_bus()
    pipeline.set_state(Gst.State.PLAYING)
    try:
        while True:
            message = bus.timed_pop_filtered(
                TIMEOUT_S * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR
            )
            assert message is not None, "the pipeline did not end"
            if message.type == Gst.MessageType.ERROR:
                raise AssertionError(message.parse_error())
            return
    finally:
        pipeline.set_state(Gst.State.NULL)


def _marks(clip: Path) -> list[list[tuple[str, float, float]]]:
    """The latency marks of every frame leaving the muxer, in frame order."""
    pipeline = Gst.parse_launch(
        f"filesrc location={clip} ! qtdemux ! h264parse ! nvv4l2decoder name=dec ! mux.sink_0 "
        "nvstreammux name=mux batch-size=1 width=320 height=240 ! fakesink"
    )
    seen: list[list[tuple[str, float, float]]] = []

    def probe(_pad: Gst.Pad, info: Gst.PadProbeInfo) -> Gst.PadProbeReturn:
        meta = batch_meta_at(hash(info.get_buffer()))
        seen.extend(list(frame.latency) for frame in meta.frames)
        return Gst.PadProbeReturn.OK

    pipeline.get_by_name("mux").get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, probe)
    _play(pipeline)
    return seen


def test_frames_carry_the_decoder_mark_then_the_muxer_mark(
    clip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_LATENCY, "1")
    frames = _marks(clip)
    assert len(frames) == FRAMES
    for marks in frames:
        assert [name for name, _, _ in marks] == ["dec", "nvstreammux-mux"]
        (_, dec_in, dec_out), (_, mux_in, mux_out) = marks
        assert dec_in <= dec_out <= mux_in <= mux_out
    # every frame has the input time of its own access unit, matched by PTS: a B-frame's access unit
    # comes after the next P-frame's, so in display order the input times are not in order
    entered = [marks[0][1] for marks in frames]
    assert len(set(entered)) == FRAMES
    assert entered != sorted(entered), "no reordering seen: the clip has no B-frames?"


def test_without_the_variable_only_the_muxer_marks(clip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_LATENCY, raising=False)
    frames = _marks(clip)
    assert len(frames) == FRAMES
    assert all([name for name, _, _ in marks] == ["nvstreammux-mux"] for marks in frames)
