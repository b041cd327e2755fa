"""The video-path elements in real GStreamer pipelines, on videos encoded by real encoders."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from fake_device.deepstream.gst import events
from fake_device.deepstream.gst.carrier import batch_meta_at
from fake_device.deepstream.gst.environment import deepstream_environment
from fake_device.deepstream.gst.registry import register_all
from fake_device.deepstream.gst.runtime import Gst
from fake_device.deepstream.meta import ObjectMeta

register_all()

TIMEOUT_S = 90


def _encode(path: Path, description: str) -> Path:
    pipeline = Gst.parse_launch(f"{description} ! filesink location={path}")
    _run(pipeline)
    return path


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """a: 30 frames H.264 320x240 red/blue halves; b: 20 frames H.265 160x120; c: 12 frames H.264."""
    folder = tmp_path_factory.mktemp("videos")
    return {
        "a": _encode(
            folder / "a.mp4",
            "videotestsrc num-buffers=30 pattern=smpte ! video/x-raw,width=320,height=240,framerate=30/1 "
            "! x264enc key-int-max=10 ! mp4mux",
        ),
        "b": _encode(
            folder / "b.mp4",
            "videotestsrc num-buffers=20 pattern=ball ! video/x-raw,width=160,height=120,framerate=30/1 "
            "! x265enc ! h265parse ! mp4mux",
        ),
        "red": _encode(
            folder / "red.mp4",
            "videotestsrc num-buffers=12 pattern=red ! video/x-raw,width=160,height=120,framerate=30/1 "
            "! x264enc ! mp4mux",
        ),
    }


def _run(pipeline: Gst.Pipeline, on_message: Callable[[Gst.Message], None] | None = None) -> None:
    """Play to EOS; fail with the error of an ERROR message."""
    bus = pipeline.get_bus()
    pipeline.set_state(Gst.State.PLAYING)
    try:
        while True:
            message = bus.timed_pop(TIMEOUT_S * Gst.SECOND)
            assert message is not None, "the pipeline did not end"
            if on_message is not None:
                on_message(message)
            if message.type == Gst.MessageType.ERROR:
                raise AssertionError(message.parse_error())
            if message.type == Gst.MessageType.EOS:
                return
    finally:
        pipeline.set_state(Gst.State.NULL)


def _batches(pipeline: Gst.Pipeline, element: str, pad: str = "src") -> list[list[tuple[int, int, int]]]:
    """(source_id, frame_num, batch_id) of every frame of every batch leaving ``element``."""
    seen: list[list[tuple[int, int, int]]] = []

    def probe(_pad: Gst.Pad, info: Gst.PadProbeInfo) -> Gst.PadProbeReturn:
        meta = batch_meta_at(hash(info.get_buffer()))
        seen.append([(f.source_id, f.frame_num, f.batch_id) for f in meta.frames] if meta else [])
        return Gst.PadProbeReturn.OK

    pipeline.get_by_name(element).get_static_pad(pad).add_probe(Gst.PadProbeType.BUFFER, probe)
    return seen


def test_uridecodebin_picks_nvv4l2decoder_and_the_muxer_numbers_the_frames(videos: dict[str, Path]) -> None:
    pipeline = Gst.parse_launch(
        f"uridecodebin uri=file://{videos['a']} ! m.sink_0 "
        "nvstreammux name=m batch-size=1 width=640 height=480 ! fakesink name=out"
    )
    seen = _batches(pipeline, "m")
    factories: set[str] = set()
    pipeline.connect(
        "deep-element-added", lambda _bin, _sub, element: factories.add(element.get_factory().get_name())
    )
    sizes: list[int] = []
    pipeline.get_by_name("out").get_static_pad("sink").add_probe(
        Gst.PadProbeType.BUFFER,
        lambda _p, info: sizes.append(info.get_buffer().get_size()) or Gst.PadProbeReturn.OK,
    )
    _run(pipeline)
    assert seen == [[(0, n, 0)] for n in range(30)]
    assert set(sizes) == {640 * 480 * 3 // 2}  # one NV12 frame at the muxer's resolution
    assert "nvv4l2decoder" in factories


def test_two_sources_batch_size_two_and_per_source_eos(videos: dict[str, Path]) -> None:
    pipeline = Gst.parse_launch(
        f"uridecodebin uri=file://{videos['a']} ! m.sink_0 "
        f"uridecodebin uri=file://{videos['b']} ! m.sink_1 "
        "nvstreammux name=m batch-size=2 width=320 height=240 ! fakesink name=out"
    )
    seen = _batches(pipeline, "m")
    stream_eos: list[int] = []
    nv_events: list[tuple[int, int]] = []

    def on_event(_pad: Gst.Pad, info: Gst.PadProbeInfo) -> Gst.PadProbeReturn:
        parsed = events.parse_stream_event(info.get_event())
        if parsed is not None:
            nv_events.append(parsed)
        return Gst.PadProbeReturn.OK

    pipeline.get_by_name("out").get_static_pad("sink").add_probe(Gst.PadProbeType.EVENT_DOWNSTREAM, on_event)

    def on_message(message: Gst.Message) -> None:
        structure = message.get_structure()
        if message.type == Gst.MessageType.ELEMENT and structure.has_name("stream-eos"):
            stream_eos.append(structure.get_uint("stream-id")[1])

    _run(pipeline, on_message)
    assert all(len(batch) <= 2 for batch in seen)
    for source, count in ((0, 30), (1, 20)):
        numbers = [n for batch in seen for s, n, _ in batch if s == source]
        assert numbers == list(range(count))  # every frame, in order, numbered per source
    assert all(batch_id == i for batch in seen for i, (_, _, batch_id) in enumerate(batch))
    assert any({s for s, _, _ in batch} == {0, 1} for batch in seen)  # batches of both sources
    assert sorted(stream_eos) == [0, 1]
    assert (events.PAD_ADDED, 0) in nv_events and (events.PAD_ADDED, 1) in nv_events
    assert (events.STREAM_EOS, 1) in nv_events


def _last_rgba(pipeline: Gst.Pipeline, element: str, width: int, height: int) -> np.ndarray:
    """The last frame ``element`` receives (sources start at their own pace: the first may lack one)."""
    frames: list[np.ndarray] = []

    def probe(_pad: Gst.Pad, info: Gst.PadProbeInfo) -> Gst.PadProbeReturn:
        if True:
            buffer = info.get_buffer()
            _ok, mapped = buffer.map(Gst.MapFlags.READ)
            frames.append(
                np.frombuffer(mapped.data, np.uint8)[: width * height * 4].reshape(height, width, 4).copy()
            )
            buffer.unmap(mapped)
        return Gst.PadProbeReturn.OK

    pipeline.get_by_name(element).get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, probe)
    _run(pipeline)
    return frames[-1]


def test_the_muxer_scales_with_padding_and_nvvideoconvert_gives_rgba(videos: dict[str, Path]) -> None:
    pipeline = Gst.parse_launch(
        f"uridecodebin uri=file://{videos['red']} ! m.sink_0 "
        "nvstreammux name=m batch-size=1 width=320 height=60 enable-padding=1 "
        "! nvvideoconvert ! video/x-raw,format=RGBA ! fakesink name=out"
    )
    frame = _last_rgba(pipeline, "out", 320, 60)
    # 160x120 into 320x60 keeping 4:3 gives 80x60 at the left; the rest is black, not green
    assert frame[30, 40, 0] > 200 and frame[30, 40, 1] < 40  # red
    assert frame[30, 200, :3].max() < 20


def test_nvvideoconvert_before_the_tiler_keeps_the_muxers_size(videos: dict[str, Path]) -> None:
    """The tiler accepts any size but GstBaseTransform lists its tiled size first: a probe between
    (deepstream-imagedata-multistream's) must still get whole frames at the muxer's size."""
    pipeline = Gst.parse_launch(
        f"uridecodebin uri=file://{videos['red']} ! m.sink_0 "
        "nvstreammux name=m batch-size=1 width=320 height=240 ! nvvideoconvert "
        "! video/x-raw(memory:NVMM),format=RGBA ! identity name=probe "
        "! nvmultistreamtiler width=320 height=120 ! fakesink"
    )
    sizes: set[tuple[int, int]] = set()

    def probe(pad: Gst.Pad, _info: Gst.PadProbeInfo) -> Gst.PadProbeReturn:
        caps = pad.get_current_caps().get_structure(0)
        sizes.add((caps.get_int("width")[1], caps.get_int("height")[1]))
        return Gst.PadProbeReturn.OK

    pipeline.get_by_name("probe").get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, probe)
    _run(pipeline)
    assert sizes == {(320, 240)}


def test_the_timeout_pushes_partial_batches_of_live_sources(videos: dict[str, Path]) -> None:
    pipeline = Gst.parse_launch(
        f"uridecodebin uri=file://{videos['red']} ! m.sink_0 "
        "nvstreammux name=m batch-size=4 live-source=1 batched-push-timeout=20000 width=160 height=120 "
        "! fakesink sync=false"
    )
    seen = _batches(pipeline, "m")
    _run(pipeline)
    # one source can give one frame per batch: without the timeout no batch would ever be pushed
    assert seen == [[(0, n, 0)] for n in range(12)]


def test_demux_gives_each_source_its_own_stream(videos: dict[str, Path]) -> None:
    pipeline = Gst.parse_launch(
        f"uridecodebin uri=file://{videos['a']} ! m.sink_0 "
        f"uridecodebin uri=file://{videos['b']} ! m.sink_1 "
        "nvstreammux name=m batch-size=2 width=320 height=240 ! nvstreamdemux name=d "
        "d.src_0 ! queue ! nvvideoconvert ! video/x-raw,format=I420 ! x264enc ! fakesink "
        "d.src_1 ! queue ! identity name=one ! fakesink"
    )
    zero = _batches(pipeline, "d", "src_0")
    one = _batches(pipeline, "one")
    _run(pipeline)
    assert zero == [[(0, n, 0)] for n in range(30)]
    assert one == [[(1, n, 0)] for n in range(20)]


def test_the_tiler_places_sources_and_scales_their_boxes(videos: dict[str, Path]) -> None:
    pipeline = Gst.parse_launch(
        f"uridecodebin uri=file://{videos['red']} ! m.sink_0 "
        "videotestsrc num-buffers=12 pattern=blue ! video/x-raw,width=160,height=120 ! nvvideoconvert "
        "! video/x-raw(memory:NVMM),format=NV12 ! m.sink_1 "
        "nvstreammux name=m batch-size=2 width=320 height=240 "
        "! nvmultistreamtiler name=t rows=2 columns=2 width=320 height=240 "
        "! nvvideoconvert ! video/x-raw,format=RGBA ! fakesink name=out"
    )

    def add_box(_pad: Gst.Pad, info: Gst.PadProbeInfo) -> Gst.PadProbeReturn:
        for frame in batch_meta_at(hash(info.get_buffer())).frames:
            frame.objects.append(ObjectMeta(class_id=2, confidence=0.5, left=32, top=24, width=64, height=48))
        return Gst.PadProbeReturn.OK

    pipeline.get_by_name("t").get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, add_box)
    out = _batches(pipeline, "t")
    boxes: list[list[tuple[float, float, float, float]]] = []
    pipeline.get_by_name("t").get_static_pad("src").add_probe(
        Gst.PadProbeType.BUFFER,
        lambda _p, info: (
            boxes.append(
                [
                    (o.left, o.top, o.width, o.height)
                    for f in batch_meta_at(hash(info.get_buffer())).frames
                    for o in f.objects
                ]
            )
            or Gst.PadProbeReturn.OK
        ),
    )
    frame = _last_rgba(pipeline, "out", 320, 240)
    # the batch meta is transformed, not replaced: each source's frame meta stays, on the one surface
    assert {source for frames in out for source, _, _ in frames} == {0, 1}
    assert all(frames and {batch_id for _, _, batch_id in frames} == {0} for frames in out)
    # boxes halved with the frames, in tiles 0 and 1
    assert [(16.0, 12.0, 32.0, 24.0), (176.0, 12.0, 32.0, 24.0)] in [sorted(b) for b in boxes]
    assert frame[60, 80, 0] > 200 and frame[60, 80, 2] < 40  # tile 0: red source
    assert frame[60, 240, 2] > 200 and frame[60, 240, 0] < 40  # tile 1: blue source
    assert frame[180, 80, :3].max() < 20  # tile 2: no source


def test_the_encoder_round_trips_with_keyframes_every_iframeinterval(tmp_path: Path) -> None:
    encoded = tmp_path / "out.h264"
    pipeline = Gst.parse_launch(
        "videotestsrc num-buffers=30 ! video/x-raw,width=320,height=240,framerate=30/1 ! nvvideoconvert "
        "! video/x-raw(memory:NVMM),format=I420 "
        "! nvv4l2h264enc bitrate=1000000 iframeinterval=10 insert-sps-pps=1 "
        f"! identity name=enc ! filesink location={encoded}"
    )
    keyframes: list[int] = []
    pipeline.get_by_name("enc").get_static_pad("src").add_probe(
        Gst.PadProbeType.BUFFER,
        lambda _p, info: (
            keyframes.append(not info.get_buffer().has_flags(Gst.BufferFlags.DELTA_UNIT))
            or Gst.PadProbeReturn.OK
        ),
    )
    _run(pipeline)
    assert len(keyframes) == 30 and sum(keyframes) == 3
    decoded = Gst.parse_launch(f"filesrc location={encoded} ! h264parse ! nvv4l2decoder ! fakesink name=out")
    count: list[int] = []
    decoded.get_by_name("out").get_static_pad("sink").add_probe(
        Gst.PadProbeType.BUFFER, lambda _p, _i: count.append(1) or Gst.PadProbeReturn.OK
    )
    _run(decoded)
    assert len(count) == 30


def test_nvurisrcbin_loops_a_file_with_frame_numbers_and_time_going_on(videos: dict[str, Path]) -> None:
    pipeline = Gst.Pipeline()
    source = Gst.ElementFactory.make("nvurisrcbin", "uri-decode-bin")
    source.set_property("file-loop", 1)
    source.set_property("uri", f"file://{videos['red']}")
    mux = Gst.ElementFactory.make("nvstreammux", "m")
    for name, value in (("batch-size", 1), ("width", 160), ("height", 120)):
        mux.set_property(name, value)
    sink = Gst.ElementFactory.make("fakesink")
    sink.set_property("sync", False)
    for element in (source, mux, sink):
        pipeline.add(element)
    mux.link(sink)
    features: list[bool] = []

    def on_pad(_bin: Gst.Element, pad: Gst.Pad) -> None:
        features.append(pad.query_caps(None).get_features(0).contains("memory:NVMM"))
        pad.link(mux.request_pad_simple("sink_0"))

    source.connect("pad-added", on_pad)
    seen: list[tuple[int, int]] = []

    def probe(_pad: Gst.Pad, info: Gst.PadProbeInfo) -> Gst.PadProbeReturn:
        seen.append((batch_meta_at(hash(info.get_buffer())).frames[0].frame_num, info.get_buffer().pts))
        if len(seen) == 30:  # 2.5 times the file: enough, end it
            mux.post_message(Gst.Message.new_application(mux, Gst.Structure.new_empty("enough")))
        return Gst.PadProbeReturn.OK

    mux.get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, probe)
    pipeline.set_state(Gst.State.PLAYING)
    message = pipeline.get_bus().timed_pop_filtered(
        TIMEOUT_S * Gst.SECOND, Gst.MessageType.APPLICATION | Gst.MessageType.ERROR | Gst.MessageType.EOS
    )
    pipeline.set_state(Gst.State.NULL)
    assert message is not None and message.type == Gst.MessageType.APPLICATION
    assert features == [True]
    assert [n for n, _ in seen[:30]] == list(range(30))  # past the file's 12 frames, still counting
    pts = [p for _, p in seen[:30]]
    assert pts == sorted(pts) and len(set(pts)) == 30


def _deepstream_env() -> dict[str, str]:
    return deepstream_environment(os.environ)


def test_a_gst_launch_line_with_nv_elements(videos: dict[str, Path]) -> None:
    result = subprocess.run(
        [
            "gst-launch-1.0",
            "uridecodebin",
            f"uri=file://{videos['a']}",
            "!",
            "m.sink_0",
            "nvstreammux",
            "name=m",
            "batch-size=1",
            "width=320",
            "height=240",
            "!",
            "nvvideoconvert",
            "!",
            "video/x-raw(memory:NVMM),format=RGBA",
            "!",
            "nvdslogger",
            "fps-measurement-interval-sec=1",
            "!",
            "nv3dsink",
            "sync=false",
        ],
        env=_deepstream_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    assert result.returncode == 0, result.stderr
    assert 'Got EOS from element "pipeline0".' in result.stdout


def test_deepstream_exec_runs_an_app_that_knows_nothing_of_the_harness(
    videos: dict[str, Path], tmp_path: Path
) -> None:
    app = tmp_path / "app.py"
    app.write_text(
        textwrap.dedent(
            f"""
            import sys
            import gi
            gi.require_version("Gst", "1.0")
            from gi.repository import Gst

            Gst.init(None)
            pipeline = Gst.Pipeline()
            names = ("filesrc", "qtdemux", "h264parse", "nvv4l2decoder", "nvstreammux", "fakesink")
            src, demux, parse, decoder, mux, sink = (Gst.ElementFactory.make(n, n) for n in names)
            src.set_property("location", "{videos["a"]}")
            mux.set_property("batch-size", 1)
            mux.set_property("width", 320)
            mux.set_property("height", 240)
            for element in (src, demux, parse, decoder, mux, sink):
                pipeline.add(element)
            src.link(demux)
            demux.connect("pad-added", lambda _d, pad: pad.link(parse.get_static_pad("sink")))
            parse.link(decoder)
            decoder.get_static_pad("src").link(mux.get_request_pad("sink_0"))
            mux.link(sink)
            count = []
            sink.get_static_pad("sink").add_probe(
                Gst.PadProbeType.BUFFER, lambda pad, info: count.append(1) or Gst.PadProbeReturn.OK
            )
            pipeline.set_state(Gst.State.PLAYING)
            msg = pipeline.get_bus().timed_pop_filtered(
                60 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR
            )
            pipeline.set_state(Gst.State.NULL)
            print("batches", len(count))
            sys.exit(3 if msg.type == Gst.MessageType.EOS else 1)
            """
        )
    )
    result = subprocess.run(
        [sys.executable, "-m", "harness", "deepstream", "exec", "--", "python3", str(app)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    assert result.returncode == 3, result.stderr  # the app's own exit code
    assert result.stdout.split() == ["batches", "30"]


def test_sources_are_added_and_removed_while_playing(videos: dict[str, Path]) -> None:
    """What deepstream_python_apps' runtime_source_add_delete does: request a pad while PLAYING,
    and at the source's stream-eos set its bin to NULL, flush-stop and release the pad."""
    pipeline = Gst.Pipeline()
    mux = Gst.ElementFactory.make("nvstreammux", "m")
    for name, value in (("batch-size", 4), ("live-source", 1), ("batched-push-timeout", 25000)):
        mux.set_property(name, value)
    mux.set_property("width", 160)
    mux.set_property("height", 120)
    sink = Gst.ElementFactory.make("fakesink", "out")
    sink.set_property("sync", True)  # paced: the added source joins while the first still plays
    pipeline.add(mux)
    pipeline.add(sink)
    mux.link(sink)
    sources: dict[int, Gst.Element] = {}

    def add_source(index: int, video: Path) -> None:
        source = Gst.ElementFactory.make("nvurisrcbin", f"source-bin-{index:02d}")
        source.set_property("uri", f"file://{video}")
        source.connect("pad-added", lambda _b, pad: pad.link(mux.request_pad_simple(f"sink_{index}")))
        sources[index] = source
        pipeline.add(source)
        source.sync_state_with_parent()

    seen = _batches(pipeline, "m")
    deleted: list[int] = []

    def on_event(_pad: Gst.Pad, info: Gst.PadProbeInfo) -> Gst.PadProbeReturn:
        parsed = events.parse_stream_event(info.get_event())
        if parsed is not None and parsed[0] == events.PAD_DELETED:
            deleted.append(parsed[1])
        return Gst.PadProbeReturn.OK

    sink.get_static_pad("sink").add_probe(Gst.PadProbeType.EVENT_DOWNSTREAM, on_event)

    def ask_for_second(_pad: Gst.Pad, info: Gst.PadProbeInfo) -> Gst.PadProbeReturn:
        if len(seen) == 5:
            mux.post_message(Gst.Message.new_application(mux, Gst.Structure.new_empty("add")))
        return Gst.PadProbeReturn.OK

    mux.get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, ask_for_second)
    add_source(0, videos["a"])

    def on_message(message: Gst.Message) -> None:
        structure = message.get_structure()
        if message.type == Gst.MessageType.APPLICATION and structure.has_name("add"):
            add_source(1, videos["red"])
        elif message.type == Gst.MessageType.ELEMENT and structure.has_name("stream-eos"):
            stream_id = structure.get_uint("stream-id")[1]
            if stream_id == 1:
                sources[1].set_state(Gst.State.NULL)
                pad = mux.get_static_pad("sink_1")
                pad.send_event(Gst.Event.new_flush_stop(False))
                mux.release_request_pad(pad)
                pipeline.remove(sources[1])

    _run(pipeline, on_message)
    assert [n for batch in seen for s, n, _ in batch if s == 1] == list(range(12))
    assert [n for batch in seen for s, n, _ in batch if s == 0] == list(range(30))
    assert any(len(batch) == 2 for batch in seen)  # the added source was batched with the first
    assert deleted == [1]
    assert mux.get_static_pad("sink_1") is None
