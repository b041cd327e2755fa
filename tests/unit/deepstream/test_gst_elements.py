"""The emulated elements as gst-inspect-1.0 sees them: factory names, ranks, properties, errors."""

from __future__ import annotations

import pytest

from fake_device.deepstream.gst.registry import register_all
from fake_device.deepstream.gst.runtime import GLib, GObject, Gst

register_all()

MINE = (
    "nvstreammux",
    "nvstreamdemux",
    "nvmultistreamtiler",
    "nvvideoconvert",
    "nvv4l2decoder",
    "nvurisrcbin",
    "nvv4l2h264enc",
    "nvv4l2h265enc",
    "nveglglessink",
    "nv3dsink",
    "nvdslogger",
)

# (factory, property, GType name, default) as DeepStream 6/7 declares them
PROPERTY_TABLE = [
    ("nvstreammux", "batch-size", "guint", 0),
    ("nvstreammux", "batched-push-timeout", "gint", -1),
    ("nvstreammux", "width", "guint", 0),
    ("nvstreammux", "height", "guint", 0),
    ("nvstreammux", "live-source", "gboolean", False),
    ("nvstreammux", "enable-padding", "gboolean", False),
    ("nvstreammux", "attach-sys-ts", "gboolean", True),
    ("nvstreammux", "nvbuf-memory-type", "GstNvBufMemoryType", 0),
    ("nvstreammux", "interpolation-method", "GstNvInterpolationMethod", 1),
    ("nvstreammux", "frame-num-reset-on-eos", "gboolean", False),
    ("nvstreammux", "buffer-pool-size", "guint", 4),
    ("nvmultistreamtiler", "rows", "guint", 1),
    ("nvmultistreamtiler", "columns", "guint", 1),
    ("nvmultistreamtiler", "width", "guint", 1920),
    ("nvmultistreamtiler", "height", "guint", 1080),
    ("nvmultistreamtiler", "show-source", "gint", -1),
    ("nvvideoconvert", "src-crop", "gchararray", "0:0:0:0"),
    ("nvvideoconvert", "flip-method", "GstNvVideoFlipMethod", 0),
    ("nvvideoconvert", "compute-hw", "GstNvComputeHWType", 0),
    ("nvv4l2decoder", "drop-frame-interval", "guint", 0),
    ("nvv4l2decoder", "cudadec-memtype", "CudaDecMemType", 0),
    ("nvv4l2decoder", "skip-frames", "SkipFrame", 0),
    ("nvurisrcbin", "dec-skip-frames", "SkipFrames", 0),
    ("nvurisrcbin", "drop-frame-interval", "guint", 0),
    ("nvurisrcbin", "file-loop", "gboolean", False),
    ("nvurisrcbin", "uri", "gchararray", None),
    ("nvv4l2h264enc", "bitrate", "guint", 4000000),
    ("nvv4l2h264enc", "iframeinterval", "guint", 30),
    ("nvv4l2h264enc", "preset-level", "GstV4L2VideoEncHwPreset", 1),
    ("nvv4l2h264enc", "insert-sps-pps", "gboolean", False),
    ("nvv4l2h264enc", "profile", "GstV4l2VideoEncProfileType", 0),
    ("nvv4l2h265enc", "bitrate", "guint", 4000000),
    ("nveglglessink", "window-x", "guint", 10),
    ("nv3dsink", "window-width", "guint", 0),
    ("nvdslogger", "fps-measurement-interval-sec", "guint", 5),
]


@pytest.mark.parametrize("factory", MINE)
def test_the_factory_is_registered_under_deepstreams_name(factory: str) -> None:
    assert Gst.ElementFactory.find(factory) is not None
    assert Gst.ElementFactory.make(factory) is not None


@pytest.mark.parametrize(("factory", "name", "type_name", "default"), PROPERTY_TABLE)
def test_properties_have_deepstreams_names_types_and_defaults(
    factory: str, name: str, type_name: str, default: object
) -> None:
    element = Gst.ElementFactory.make(factory)
    spec = element.find_property(name)
    assert spec is not None, f"{factory} has no property {name}"
    assert GObject.type_name(spec.value_type) == type_name
    value = element.get_property(name)
    assert (int(value) if type_name.startswith(("Gst", "Cuda")) else value) == default


def test_the_decoder_wins_decodebins_autoplugging() -> None:
    factory = Gst.ElementFactory.find("nvv4l2decoder")
    assert factory.get_rank() == Gst.Rank.PRIMARY + 100
    assert "Decoder" in factory.get_metadata("klass")
    best = max(
        (
            f
            for f in Gst.ElementFactory.list_get_elements(Gst.ELEMENT_FACTORY_TYPE_DECODER, Gst.Rank.MARGINAL)
            if f.can_sink_all_caps(
                Gst.Caps.from_string("video/x-h264, stream-format=byte-stream, alignment=au")
            )
        ),
        key=lambda f: f.get_rank(),
    )
    assert best.get_name() == "nvv4l2decoder"


def test_apps_set_enums_with_integers_and_names_with_underscores() -> None:
    mux = Gst.ElementFactory.make("nvstreammux")
    mux.set_property("nvbuf-memory-type", 3)
    mux.set_property("gpu_id", 0)
    mux.set_property("live-source", 1)
    assert int(mux.get_property("nvbuf-memory-type")) == 3
    assert mux.get_property("live-source") is True


def test_register_all_is_idempotent() -> None:
    assert register_all() == register_all()


def _start(pipeline: Gst.Pipeline) -> tuple[Gst.StateChangeReturn, str]:
    result = pipeline.set_state(Gst.State.PAUSED)
    message = pipeline.get_bus().pop_filtered(Gst.MessageType.ERROR)
    pipeline.set_state(Gst.State.NULL)
    return result, message.parse_error()[0].message if message else ""


def test_a_value_that_is_not_emulated_fails_the_start_naming_property_and_docs() -> None:
    pipeline = Gst.parse_launch("videotestsrc ! nvvideoconvert name=conv flip-method=clockwise ! fakesink")
    result, message = _start(pipeline)
    assert result == Gst.StateChangeReturn.FAILURE
    assert message.startswith("conv: not emulated on this device: flip-method=3")
    assert "docs/deepstream/supported.md" in message


def test_the_muxer_without_an_output_size_refuses_to_start() -> None:
    pipeline = Gst.parse_launch("nvstreammux name=m batch-size=1 ! fakesink")
    result, message = _start(pipeline)
    assert result == Gst.StateChangeReturn.FAILURE
    assert "Output width and height must be set" in message


def test_a_filter_without_batch_meta_upstream_says_where_nvstreammux_belongs() -> None:
    pipeline = Gst.parse_launch(
        "videotestsrc num-buffers=1 ! nvvideoconvert ! video/x-raw(memory:NVMM),format=NV12 "
        "! nvdslogger ! fakesink"
    )
    pipeline.set_state(Gst.State.PLAYING)
    message = pipeline.get_bus().timed_pop_filtered(
        30 * Gst.SECOND, Gst.MessageType.ERROR | Gst.MessageType.EOS
    )
    pipeline.set_state(Gst.State.NULL)
    assert message.type == Gst.MessageType.ERROR
    error, debug = message.parse_error()
    assert "NvDsBatchMeta not found for input buffer" in error.message
    assert "nvstreammux upstream" in debug


def test_an_encoder_does_not_take_nvmm_as_on_a_jetson() -> None:
    with pytest.raises(GLib.Error, match=r"x264enc\d+ can.t handle caps video/x-raw\(memory:NVMM\)"):
        Gst.parse_launch(
            "videotestsrc ! nvvideoconvert ! video/x-raw(memory:NVMM),format=I420 ! x264enc ! fakesink"
        )
