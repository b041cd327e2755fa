"""nvv4l2h265enc: the Jetson H.265 encoder, as x265enc (see :mod:`._video_encoder`)."""

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
    (0, "GST_V4L2_H265_VIDENC_MAIN_PROFILE", "Main"),
    (1, "GST_V4L2_H265_VIDENC_MAIN10_PROFILE", "Main10"),
)
PROPERTIES = (
    *common_properties(),
    profile_property(
        "GstV4l2VideoEncProfileTypeH265",
        PROFILES,
        supported=lambda v: v == 0,
        unsupported="8-bit I420 input encodes Main",
    ),
)


class NvV4l2H265Enc(VideoEncoderBin):
    __gtype_name__ = "nvv4l2h265enc"
    __gstmetadata__ = (
        "V4L2 H.265 Encoder",
        "Codec/Encoder/Video",
        "Encode H.265 video streams via V4L2 API (edge-harness: x265 on CPU)",
        "edge-harness",
    )
    __gsttemplates__ = encoder_templates("video/x-h265")
    FACTORY_NAME = "nvv4l2h265enc"
    RANK = Gst.Rank.PRIMARY + 100
    PROPERTIES = PROPERTIES
    __gproperties__ = gproperties(PROPERTIES)
    ENCODER = "x265enc"
    PARSER = "h265parse"
    MEDIA = "video/x-h265"
    PROFILES = {0: "main"}  # noqa: RUF012

    def encoder_property_changed(self, name: str, value: Any) -> None:
        if name == "num-B-frames":
            self.encoder.set_property("option-string", f"bframes={value}")


ELEMENT = NvV4l2H265Enc
