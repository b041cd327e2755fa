"""nvv4l2h264enc: the Jetson H.264 encoder, as x264enc (see :mod:`._video_encoder`)."""

from __future__ import annotations

from typing import Any

from fake_device.deepstream.elements._video_encoder import (
    VideoEncoderBin,
    common_properties,
    encoder_templates,
    profile_property,
)
from fake_device.deepstream.gst.element import gproperties
from fake_device.deepstream.gst.runtime import Gst

PROFILES = (
    (0, "GST_V4L2_H264_VIDENC_BASELINE_PROFILE", "Baseline"),
    (2, "GST_V4L2_H264_VIDENC_MAIN_PROFILE", "Main"),
    (4, "GST_V4L2_H264_VIDENC_HIGH_PROFILE", "High"),
    (7, "GST_V4L2_H264_VIDENC_HIGH_444_PREDICTIVE", "High444"),
)
PROPERTIES = (
    *common_properties(),
    profile_property(
        "GstV4l2VideoEncProfileType",
        PROFILES,
        supported=lambda v: v in (0, 2, 4),
        unsupported="x264 in I420 encodes Baseline, Main or High",
    ),
)


class NvV4l2H264Enc(VideoEncoderBin):
    __gtype_name__ = "nvv4l2h264enc"
    __gstmetadata__ = (
        "V4L2 H.264 Encoder",
        "Codec/Encoder/Video",
        "Encode H.264 video streams via V4L2 API (edge-harness: x264 on CPU)",
        "edge-harness",
    )
    __gsttemplates__ = encoder_templates("video/x-h264")
    FACTORY_NAME = "nvv4l2h264enc"
    RANK = Gst.Rank.PRIMARY + 100
    PROPERTIES = PROPERTIES
    __gproperties__ = gproperties(PROPERTIES)
    ENCODER = "x264enc"
    PARSER = "h264parse"
    MEDIA = "video/x-h264"
    PROFILES = {0: "constrained-baseline", 2: "main", 4: "high"}  # noqa: RUF012

    def encoder_property_changed(self, name: str, value: Any) -> None:
        if name == "num-B-frames":
            self.encoder.set_property("bframes", value)
        elif name == "control-rate":
            self.encoder.set_property("pass", "cbr" if value == 1 else "pass1")
        elif name == "insert-aud":
            self.encoder.set_property("aud", value)
        elif name == "insert-vui":
            self.encoder.set_property("insert-vui", value)


ELEMENT = NvV4l2H264Enc
