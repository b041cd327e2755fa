"""nvv4l2decoder's formats and frame skipping, and nvurisrcbin's decoder settings, in real pipelines.

Clips are made by GStreamer's encoders with B-frames where the codec has them; what each clip holds
(frames, key frames, B-frames) is read independently by FFmpeg's ``showinfo`` filter.
"""

from __future__ import annotations

import math
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from fake_device.deepstream.gst.caps import is_nvmm
from fake_device.deepstream.gst.registry import register_all
from fake_device.deepstream.gst.runtime import Gst
from harness.ffmpeg import require_ffmpeg

register_all()

pytestmark = pytest.mark.integration

TIMEOUT_S = 90
RAW = "videotestsrc num-buffers=20 pattern=ball ! video/x-raw,width=160,height=120,framerate=25/1"

#: name → (encoder … muxer, the CPU decoder nvv4l2decoder runs for it)
FORMATS = {
    "h264": ("x264enc bframes=2 b-pyramid=false key-int-max=10 ! mp4mux", "avdec_h264", "mp4"),
    "h265": (
        'x265enc key-int-max=10 option-string="bframes=2:b-pyramid=0" ! h265parse ! mp4mux',
        "avdec_h265",
        "mp4",
    ),
    "mpeg4": ("avenc_mpeg4 max-bframes=2 gop-size=10 ! mp4mux", "avdec_mpeg4", "mp4"),
    "mpeg2": (
        "mpeg2enc max-gop-size=10 min-gop-size=10 b-per-refframe=2 ! mpegvideoparse ! matroskamux",
        "avdec_mpeg2video",
        "mkv",
    ),
    "vp8": ("vp8enc keyframe-max-dist=10 ! webmmux", "avdec_vp8", "webm"),
    "vp9": ("vp9enc keyframe-max-dist=10 ! webmmux", "avdec_vp9", "webm"),
    "mjpeg": ("jpegenc ! avimux", "jpegdec", "avi"),
    "av1": ("av1enc cpu-used=8 keyframe-max-dist=10 ! av1parse ! matroskamux", "av1dec", "mkv"),
}
#: codecs whose non-reference pictures the emulation finds (the others decode every frame)
NON_REF_KNOWN = {"h264", "h265", "mpeg4", "mpeg2"}


@dataclass(frozen=True)
class Clip:
    path: Path
    frames: int
    keys: int
    b_frames: int


def _run(pipeline: Gst.Pipeline) -> None:
    bus = pipeline.get_bus()
    pipeline.set_state(Gst.State.PLAYING)
    try:
        message = bus.timed_pop_filtered(TIMEOUT_S * Gst.SECOND, Gst.MessageType.ERROR | Gst.MessageType.EOS)
        assert message is not None, "the pipeline did not end"
        if message.type == Gst.MessageType.ERROR:
            raise AssertionError(message.parse_error())
    finally:
        pipeline.set_state(Gst.State.NULL)


def _probe(path: Path) -> tuple[int, int, int]:
    """(frames, key frames, B-frames) of ``path`` as FFmpeg decodes it."""
    ffmpeg = require_ffmpeg("the decoder tests")
    done = subprocess.run(
        [ffmpeg, "-hide_banner", "-i", str(path), "-vf", "showinfo", "-f", "null", "-"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    frames = re.findall(r"iskey:([01]) type:([IPB])", done.stderr)
    return len(frames), sum(k == "1" for k, _ in frames), sum(t == "B" for _, t in frames)


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Clip]:
    folder = tmp_path_factory.mktemp("formats")
    made = {}
    for name, (encode, _decoder, extension) in FORMATS.items():
        path = folder / f"{name}.{extension}"
        _run(Gst.parse_launch(f"{RAW} ! {encode} ! filesink location={path}"))
        made[name] = Clip(path, *_probe(path))
    return made


def _count(pipeline: Gst.Pipeline, sink: str = "out") -> list[int]:
    count: list[int] = []
    pipeline.get_by_name(sink).get_static_pad("sink").add_probe(
        Gst.PadProbeType.BUFFER, lambda _p, _i: count.append(1) or Gst.PadProbeReturn.OK
    )
    return count


def _through_uridecodebin(clip: Clip, **decoder: object) -> tuple[int, list[str], list[bool]]:
    """Frames at the muxer's output, the factories decodebin made, NVMM in the decoder's caps."""
    pipeline = Gst.parse_launch(
        f"uridecodebin uri=file://{clip.path} ! m.sink_0 "
        "nvstreammux name=m batch-size=1 width=160 height=120 ! fakesink name=out"
    )
    factories: list[str] = []

    nvmm: list[bool] = []

    def on_caps(_pad: Gst.Pad, info: Gst.PadProbeInfo) -> Gst.PadProbeReturn:
        if info.get_event().type == Gst.EventType.CAPS:
            nvmm.append(is_nvmm(info.get_event().parse_caps()))
        return Gst.PadProbeReturn.OK

    def added(_bin: Gst.Bin, _parent: Gst.Bin, element: Gst.Element) -> None:
        factory = element.get_factory()
        factories.append(factory.get_name() if factory else "")
        if factories[-1] == "nvv4l2decoder":
            for name, value in decoder.items():
                element.set_property(name, value)
            element.get_static_pad("src").add_probe(Gst.PadProbeType.EVENT_DOWNSTREAM, on_caps)

    pipeline.connect("deep-element-added", added)
    count = _count(pipeline)
    _run(pipeline)
    return len(count), factories, nvmm


@pytest.mark.parametrize("name", FORMATS)
def test_uridecodebin_picks_nvv4l2decoder_for_each_jetson_format(clips: dict[str, Clip], name: str) -> None:
    clip = clips[name]
    frames, factories, nvmm = _through_uridecodebin(clip)
    assert frames == clip.frames == 20
    assert "nvv4l2decoder" in factories
    assert FORMATS[name][1] in factories  # the CPU decoder inside it
    assert nvmm == [True]


@pytest.mark.parametrize("name", ["h264", "mpeg4", "vp9", "mjpeg"])
def test_drop_frame_interval_passes_every_nth_frame(clips: dict[str, Clip], name: str) -> None:
    frames, _factories, _nvmm = _through_uridecodebin(clips[name], **{"drop-frame-interval": 3})
    assert frames == math.ceil(clips[name].frames / 3)


@pytest.mark.parametrize("name", FORMATS)
def test_skip_frames_decode_key_decodes_only_key_frames(clips: dict[str, Clip], name: str) -> None:
    frames, _factories, _nvmm = _through_uridecodebin(clips[name], **{"skip-frames": 2})
    assert frames == clips[name].keys
    assert name == "mjpeg" or frames < clips[name].frames


@pytest.mark.parametrize("name", FORMATS)
def test_skip_frames_decode_non_ref_leaves_out_b_frames(clips: dict[str, Clip], name: str) -> None:
    clip = clips[name]
    frames, _factories, _nvmm = _through_uridecodebin(clip, **{"skip-frames": "decode_non_ref"})
    if name in NON_REF_KNOWN:
        assert clip.b_frames > 0
        assert frames == clip.frames - clip.b_frames
    else:
        assert frames == clip.frames


def _through_nvurisrcbin(clip: Clip, **settings: object) -> tuple[int, list[Gst.Element]]:
    pipeline = Gst.Pipeline()
    source = Gst.ElementFactory.make("nvurisrcbin", "source")
    source.set_property("uri", f"file://{clip.path}")
    for name, value in settings.items():
        source.set_property(name, value)
    mux = Gst.ElementFactory.make("nvstreammux", "m")
    for name, value in (("batch-size", 1), ("width", 160), ("height", 120)):
        mux.set_property(name, value)
    sink = Gst.ElementFactory.make("fakesink", "out")
    for element in (source, mux, sink):
        pipeline.add(element)
    mux.link(sink)
    source.connect("pad-added", lambda _bin, pad: pad.link(mux.request_pad_simple("sink_0")))
    decoders: list[Gst.Element] = []
    source.connect(
        "deep-element-added",
        lambda _bin, _parent, element: (
            decoders.append(element)
            if element.get_factory() and element.get_factory().get_name() == "nvv4l2decoder"
            else None
        ),
    )
    count = _count(pipeline)
    _run(pipeline)
    return len(count), decoders


def test_nvurisrcbin_hands_its_decoder_settings_to_nvv4l2decoder(clips: dict[str, Clip]) -> None:
    clip = clips["h264"]
    frames, decoders = _through_nvurisrcbin(
        clip, **{"drop-frame-interval": 4, "num-extra-surfaces": 5, "cudadec-memtype": 2}
    )
    assert frames == math.ceil(clip.frames / 4)
    assert len(decoders) == 1
    decoder = decoders[0]
    assert decoder.get_property("drop-frame-interval") == 4
    assert decoder.get_property("num-extra-surfaces") == 5
    assert int(decoder.get_property("cudadec-memtype")) == 2


@pytest.mark.parametrize(
    ("skip", "value", "name"), [("decode_key", 2, "vp8"), ("decode_non_ref", 1, "mpeg2")]
)
def test_nvurisrcbin_dec_skip_frames_is_the_decoders_skip_frames(
    clips: dict[str, Clip], skip: str, value: int, name: str
) -> None:
    clip = clips[name]
    pipeline_frames, decoders = _through_nvurisrcbin(clip, **{"dec-skip-frames": skip})
    expected = clip.keys if skip == "decode_key" else clip.frames - clip.b_frames
    assert pipeline_frames == expected < clip.frames
    assert [int(d.get_property("skip-frames")) for d in decoders] == [value]


def test_a_codec_the_jetson_does_not_decode_is_refused_naming_the_formats(tmp_path: Path) -> None:
    path = tmp_path / "theora.ogg"
    _run(Gst.parse_launch(f"{RAW} ! theoraenc ! oggmux ! filesink location={path}"))
    with pytest.raises(AssertionError) as refused:
        _through_nvurisrcbin(Clip(path, 20, 0, 0))
    error, debug = refused.value.args[0]
    assert "did not output NVMM memory" in error.message
    assert "MPEG-4 Part 2, MPEG-1/2, VP8, VP9, JPEG/MJPEG, AV1" in debug
