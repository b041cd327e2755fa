"""The Jetson V4L2 encoders (nvv4l2h264enc, nvv4l2h265enc) as bins around x264enc / x265enc.

NVMM I420/NV12 in, a byte-stream out, with DeepStream's property names mapped onto the software
encoder: ``bitrate`` (bit/s → kbit/s), ``iframeinterval`` → ``key-int-max`` (so an RTSP client
joining late gets a picture within one interval, as from the hardware encoder), ``preset-level`` →
``speed-preset``, ``control-rate`` → constant or variable bitrate, ``num-B-frames`` → ``bframes``,
``profile`` → the caps behind the encoder, ``insert-sps-pps`` → the parser's ``config-interval``
(SPS/PPS before every IDR). The software encoders run with ``tune=zerolatency``: the hardware
encoder has no look-ahead either, and frames come out as they go in.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any, ClassVar

from fake_device.deepstream.elements._nvmm_bridge import NvmmBridge
from fake_device.deepstream.gst.caps import nvmm_caps
from fake_device.deepstream.gst.element import (
    BOOL,
    ENUM,
    GPU_ID,
    STRING,
    UINT,
    UINT_MAX,
    Prop,
    PropertyStore,
    enum_type,
    own_templates,
)
from fake_device.deepstream.gst.runtime import Gst

RATE_CONTROLS = (
    (0, "GST_V4L2_VIDENC_VARIABLE_BITRATE", "variable_bitrate"),
    (1, "GST_V4L2_VIDENC_CONSTANT_BITRATE", "constant_bitrate"),
)
PRESET_LEVELS = (
    (0, "Disable HW-Preset", "DisablePreset"),
    (1, "UltraFastPreset for high perf", "UltraFastPreset"),
    (2, "FastPreset", "FastPreset"),
    (3, "MediumPreset", "MediumPreset"),
    (4, "SlowPreset", "SlowPreset"),
)
# x264/x265 speed-preset names for preset-level
SPEED_PRESETS = {0: "ultrafast", 1: "ultrafast", 2: "veryfast", 3: "medium", 4: "slow"}


def common_properties() -> tuple[Prop, ...]:
    """The properties both encoders share (gst-inspect-1.0 on a Jetson, DeepStream 6/7)."""
    return (
        UINT("bitrate", 4000000, "Set bitrate for v4l2 encode", 0, UINT_MAX),
        ENUM(
            "control-rate",
            enum_type("GstV4l2VideoEncRateControlType", RATE_CONTROLS),
            1,
            "Set control rate for v4l2 encode",
        ),
        UINT("peak-bitrate", 0, "Peak bitrate in variable control-rate", 0, UINT_MAX),
        UINT("iframeinterval", 30, "Encoding Intra Frame occurance frequency", 0, UINT_MAX),
        UINT("idrinterval", 256, "Encoding IDR Frame occurance frequency", 0, UINT_MAX),
        ENUM(
            "preset-level",
            enum_type("GstV4L2VideoEncHwPreset", PRESET_LEVELS),
            1,
            "HW preset level for encoder",
        ),
        BOOL("insert-sps-pps", False, "Insert H.264/H.265 SPS, PPS at every IDR frame"),
        BOOL("insert-vui", False, "Insert H.264/H.265 VUI(Video Usability Information) in SPS"),
        BOOL("insert-aud", False, "Insert H.264/H.265 Access Unit Delimiter(AUD)"),
        BOOL("maxperf-enable", False, "Enable or Disable Max Performance mode"),
        UINT("num-B-frames", 0, "Number of B Frames between two reference frames (not recommended)", 0, 2),
        STRING("qp-range", None, "Qunatization range for P, I and B frame"),
        UINT("vbv-size", 0, "virtual buffer size", 0, UINT_MAX),
        BOOL("EnableTwopassCBR", False, "Enable two pass CBR while encoding"),
        UINT(
            "slice-header-spacing",
            0,
            "Slice Header Spacing number of macroblocks/bits in one packet",
            0,
            UINT_MAX,
        ),
        BOOL("bit-packetization", False, "Whether or not Packet size is based upon Number Of bits"),
        GPU_ID(),
        BOOL("copy-meta", False, "Copy input metadata to output buffer"),
    )


def profile_property(
    enum_name: str,
    profiles: tuple[tuple[int, str, str], ...],
    supported: Callable[[Any], bool],
    unsupported: str,
) -> Prop:
    """``profile``: each encoder declares it alike over its own profile enum; which profiles the
    software encoder behind it can produce from I420 input differs (``supported``)."""
    return ENUM(
        "profile",
        enum_type(enum_name, profiles),
        0,
        "Set profile for v4l2 encode",
        supported=supported,
        unsupported=unsupported,
    )


class VideoEncoderBin(PropertyStore, Gst.Bin):
    """ghost sink → NVMM off → videoconvert → I420 → software encoder → profile caps → parser → ghost src."""

    ENCODER: ClassVar[str] = ""  # x264enc / x265enc
    PARSER: ClassVar[str] = ""  # h264parse / h265parse
    MEDIA: ClassVar[str] = ""  # video/x-h264 / video/x-h265
    PROFILES: ClassVar[dict[int, str]] = {}

    def __init__(self) -> None:
        super().__init__()
        self.init_properties()
        self.encoder = Gst.ElementFactory.make(self.ENCODER)
        self.parser = Gst.ElementFactory.make(self.PARSER)
        self.profile_caps = Gst.ElementFactory.make("capsfilter")
        i420 = Gst.ElementFactory.make("capsfilter")
        i420.set_property("caps", Gst.Caps.from_string("video/x-raw, format=I420"))
        chain = [NvmmBridge(to_nvmm=False), Gst.ElementFactory.make("videoconvert"), i420]
        chain += [self.encoder, self.profile_caps, self.parser]
        for element in chain:
            self.add(element)
        for a, b in itertools.pairwise(chain):
            a.link(b)
        templates = own_templates(self)
        self.add_pad(
            Gst.GhostPad.new_from_template("sink", chain[0].get_static_pad("sink"), templates["sink"])
        )
        self.add_pad(
            Gst.GhostPad.new_from_template("src", self.parser.get_static_pad("src"), templates["src"])
        )
        self.encoder.set_property("tune", "zerolatency")
        for prop in type(self).PROPERTIES:
            self.property_changed(prop.name, self.prop(prop.name))

    def do_change_state(self, transition: Gst.StateChange) -> Gst.StateChangeReturn:
        if self.refuses_to_start(transition):
            return Gst.StateChangeReturn.FAILURE
        return Gst.Bin.do_change_state(self, transition)

    def property_changed(self, name: str, value: Any) -> None:
        encoder = self.encoder
        if name == "bitrate":
            encoder.set_property("bitrate", max(1, value // 1000))
        elif name == "iframeinterval":
            encoder.set_property("key-int-max", value)
        elif name == "preset-level":
            encoder.set_property("speed-preset", SPEED_PRESETS.get(value, "ultrafast"))
        elif name == "insert-sps-pps":
            self.parser.set_property("config-interval", -1 if value else 0)
        elif name == "profile":
            profile = self.PROFILES.get(value)
            caps = f"{self.MEDIA}, stream-format=(string)byte-stream, alignment=(string)au"
            if profile:
                caps += f", profile=(string){profile}"
            self.profile_caps.set_property("caps", Gst.Caps.from_string(caps))
        else:
            self.encoder_property_changed(name, value)

    def encoder_property_changed(self, name: str, value: Any) -> None:
        """Hook for what only one encoder maps."""


def encoder_templates(media: str) -> tuple[Gst.PadTemplate, Gst.PadTemplate]:
    return (
        Gst.PadTemplate.new(
            "sink", Gst.PadDirection.SINK, Gst.PadPresence.ALWAYS, nvmm_caps(("I420", "NV12"))
        ),
        Gst.PadTemplate.new(
            "src",
            Gst.PadDirection.SRC,
            Gst.PadPresence.ALWAYS,
            Gst.Caps.from_string(f"{media}, stream-format=(string)byte-stream, alignment=(string)au"),
        ),
    )
