"""nvv4l2decoder: compressed video → NV12 frames in NVMM, found by uridecodebin/decodebin.

A bin around a CPU decoder chosen by the caps that arrive — FFmpeg's avdec_h264, avdec_h265,
avdec_mpeg4 (MPEG-4 Part 2, DivX), avdec_mpeg2video (MPEG-1/2), avdec_vp8, avdec_vp9, libjpeg's
jpegdec (JPEG/MJPEG) and libaom's av1dec (AV1) — followed by videoconvert to NV12, what the Jetson
decoder outputs, and the NVMM label. The sink caps are the ones a Jetson's nvv4l2decoder advertises
(plus AV1, which Orin decodes); registered as "Codec/Decoder/Video" at rank PRIMARY+100, so decodebin
picks it over the plain CPU decoders for every one of them and an app's ``pad-added`` callback sees
``memory:NVMM`` in the caps, as on a Jetson.

``skip-frames`` acts before the decoder, as the Jetson's driver skips input: ``decode_key`` decodes
only key frames (access units without the DELTA_UNIT flag), ``decode_non_ref`` leaves out
non-reference pictures (:mod:`fake_device.deepstream.gst.reference_frames`); it may change while
playing. ``drop-frame-interval`` N then passes every Nth decoded frame (1st, N+1th …) and drops the
others, as the Jetson decoder does; the other properties are accepted with their defaults' meaning.

With ``NVDS_ENABLE_LATENCY_MEASUREMENT`` set, each decoded frame carries a latency mark (the
element's name, when its access unit entered, when the frame left), which nvstreammux moves into
the frame meta: a frame's latency then counts from the decoder's input, as DeepStream's does, and the
decoder gets its own ``Comp name`` line. Input times are matched to frames by PTS (a decoder
reorders frames), or in order for streams without timestamps.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from fake_device.deepstream.elements._nvmm_bridge import NvmmBridge
from fake_device.deepstream.gst.caps import nvmm_caps
from fake_device.deepstream.gst.carrier import attach_latency_marks
from fake_device.deepstream.gst.element import (
    BOOL,
    CUDADEC_MEMTYPE,
    DROP_FRAME_INTERVAL,
    ENUM,
    GPU_ID,
    STRING,
    SUPPORTED_DOC,
    UINT,
    PropertyStore,
    enum_type,
    gproperties,
    own_templates,
    post_error,
)
from fake_device.deepstream.gst.reference_frames import reference_test
from fake_device.deepstream.gst.runtime import Gst
from fake_device.deepstream.measure import ENV_LATENCY, env_flag

# what decodebin may hand over: a Jetson's sink caps (decodebin puts the parsers in front: h264parse
# and h265parse convert avc to byte-stream, mpeg4videoparse/mpegvideoparse give parsed=true)
SINK_CAPS = (
    "image/jpeg; "
    "video/x-h264, stream-format=(string)byte-stream, alignment=(string)au; "
    "video/x-h265, stream-format=(string)byte-stream, alignment=(string)au; "
    "video/mpeg, mpegversion=(int)4, systemstream=(boolean)false, parsed=(boolean)true, "
    "width=(int)[ 1, 2147483647 ], height=(int)[ 1, 2147483647 ]; "
    "video/mpeg, mpegversion=(int)[ 1, 2 ], systemstream=(boolean)false, parsed=(boolean)true, "
    "width=(int)[ 1, 2147483647 ], height=(int)[ 1, 2147483647 ]; "
    "video/x-divx, divxversion=(int)[ 4, 5 ], width=(int)[ 1, 2147483647 ], height=(int)[ 1, 2147483647 ]; "
    "video/x-vp8; "
    "video/x-vp9, width=(int)[ 1, 2147483647 ], height=(int)[ 1, 2147483647 ]; "
    "video/x-av1"
)
#: the CPU decoder of each input (``video/mpeg`` by its mpegversion: MPEG4_DECODER for 4)
DECODERS = {
    "video/x-h264": "avdec_h264",
    "video/x-h265": "avdec_h265",
    "video/mpeg": "avdec_mpeg2video",
    "video/x-divx": "avdec_mpeg4",
    "video/x-vp8": "avdec_vp8",
    "video/x-vp9": "avdec_vp9",
    "image/jpeg": "jpegdec",
    "video/x-av1": "av1dec",
}
MPEG4_DECODER = "avdec_mpeg4"
#: what the emulation decodes, for error hints
CODECS = "H.264, H.265, MPEG-4 Part 2, MPEG-1/2, VP8, VP9, JPEG/MJPEG, AV1"
#: access units whose input time is kept while their frames are inside the decoder (its reorder
#: window is a few frames; anything older belonged to a frame the decoder never output)
PENDING_INPUTS = 64

DECODE_ALL, DECODE_NON_REF, DECODE_KEY = 0, 1, 2
SKIP_FRAMES = (
    (0, "Decode all frames", "decode_all"),
    (1, "Decode non-ref frames", "decode_non_ref"),
    (2, "decode key frames", "decode_key"),
)

PROPERTIES = (
    STRING("device", "/dev/nvidia0", "Device location"),
    DROP_FRAME_INTERVAL(),
    UINT(
        "num-extra-surfaces",
        0,
        "Additional number of surfaces in addition to min decode surfaces given by the v4l2 driver",
        0,
        24,
    ),
    ENUM(
        "skip-frames",
        enum_type("SkipFrame", SKIP_FRAMES),
        0,
        "Type of frames to skip during decoding",
    ),
    GPU_ID(),
    CUDADEC_MEMTYPE("CudaDecMemType"),
    BOOL("disable-dpb", False, "Set to disable DPB buffer for low latency"),
    BOOL("enable-max-performance", False, "Set to enable max performance"),
    BOOL("enable-full-frame", False, "Whether or not the data is full framed"),
    BOOL("enable-frame-type-reporting", False, "Set to enable frame type reporting"),
    BOOL("enable-error-check", False, "Set to enable error check"),
    BOOL("mjpeg", False, "Set to open MJPEG block"),
    BOOL("low-latency-mode", False, "Set low latency mode for bitstreams having I and IPPP frames"),
)


def _mpegversion(structure: Gst.Structure) -> int:
    found, version = structure.get_int("mpegversion")
    return version if found else 0


def decoder_factory(structure: Gst.Structure) -> str | None:
    """The CPU decoder's factory name for input caps ``structure``; None if nvv4l2decoder has none."""
    media = structure.get_name()
    if media == "video/mpeg" and _mpegversion(structure) == 4:
        return MPEG4_DECODER
    return DECODERS.get(media)


class NvV4l2Decoder(PropertyStore, Gst.Bin):
    __gtype_name__ = "nvv4l2decoder"
    __gstmetadata__ = (
        "NVIDIA v4l2 video decoder",
        "Codec/Decoder/Video",
        "Decode video streams via V4L2 API (edge-harness: FFmpeg on CPU)",
        "edge-harness",
    )
    __gsttemplates__ = (
        Gst.PadTemplate.new(
            "sink", Gst.PadDirection.SINK, Gst.PadPresence.ALWAYS, Gst.Caps.from_string(SINK_CAPS)
        ),
        Gst.PadTemplate.new("src", Gst.PadDirection.SRC, Gst.PadPresence.ALWAYS, nvmm_caps(("NV12",))),
    )
    FACTORY_NAME = "nvv4l2decoder"
    RANK = Gst.Rank.PRIMARY + 100
    PROPERTIES = PROPERTIES
    __gproperties__ = gproperties(PROPERTIES)

    def __init__(self) -> None:
        super().__init__()
        self.init_properties()
        templates = own_templates(self)
        self.sinkpad = Gst.GhostPad.new_no_target_from_template("sink", templates["sink"])
        self.srcpad = Gst.GhostPad.new_no_target_from_template("src", templates["src"])
        self.add_pad(self.sinkpad)
        self.add_pad(self.srcpad)
        self.sinkpad.add_probe(Gst.PadProbeType.EVENT_DOWNSTREAM, self._on_event)
        self._decoder: Gst.Element | None = None
        self._is_reference: Callable[[bytes], bool] | None = None
        self._frames = 0
        self._inputs: OrderedDict[int, float] = OrderedDict()  # PTS (or input count) → input time
        self._inputs_lock = threading.Lock()
        self._unstamped = 0

    def do_change_state(self, transition: Gst.StateChange) -> Gst.StateChangeReturn:
        if self.refuses_to_start(transition):
            return Gst.StateChangeReturn.FAILURE
        if transition == Gst.StateChange.READY_TO_PAUSED:
            self._frames = 0
            with self._inputs_lock:
                self._inputs.clear()
        return Gst.Bin.do_change_state(self, transition)

    def _on_event(self, pad: Gst.Pad, info: Gst.PadProbeInfo) -> Gst.PadProbeReturn:
        event = info.get_event()
        if event.type == Gst.EventType.CAPS and self._decoder is None:
            caps = event.parse_caps()
            if not self._build(caps.get_structure(0)):
                post_error(
                    self,
                    f"{self.get_name()}: cannot decode {caps.to_string()}",
                    f"nvv4l2decoder emulates {CODECS} (see {SUPPORTED_DOC})",
                    domain=Gst.StreamError,
                    code=Gst.StreamError.CODEC_NOT_FOUND,
                )
                return Gst.PadProbeReturn.DROP
        return Gst.PadProbeReturn.OK

    def _build(self, structure: Gst.Structure) -> bool:
        """decoder → videoconvert → NV12 → NVMM label, linked to the ghost pads."""
        factory = decoder_factory(structure)
        decoder = Gst.ElementFactory.make(factory) if factory else None
        if decoder is None:
            return False
        self._is_reference = reference_test(structure.get_name(), _mpegversion(structure))
        convert = Gst.ElementFactory.make("videoconvert")
        nv12 = Gst.ElementFactory.make("capsfilter")
        nv12.set_property("caps", Gst.Caps.from_string("video/x-raw, format=NV12"))
        # the variable is read once, as DeepStream's elements read it when they start
        measure = env_flag(os.environ, ENV_LATENCY)
        bridge = NvmmBridge(to_nvmm=True, on_buffer=self._mark if measure else None)
        chain = [decoder, convert, nv12, bridge]
        for element in chain:
            self.add(element)
        for a, b in itertools.pairwise(chain):
            a.link(b)
        bridge.get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, self._drop_frames)
        self.sinkpad.set_target(decoder.get_static_pad("sink"))
        # before the latency probe: a skipped access unit never entered the decoder
        decoder.get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, self._skip_frames)
        if measure:
            decoder.get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, self._note_input)
        self.srcpad.set_target(bridge.get_static_pad("src"))
        for element in chain:
            element.sync_state_with_parent()
        self._decoder = decoder
        return True

    def _skip_frames(self, pad: Gst.Pad, info: Gst.PadProbeInfo) -> Gst.PadProbeReturn:
        """``skip-frames``: leave out access units before they are decoded (read per buffer: the
        property may change while playing)."""
        mode = self.prop("skip-frames")
        if mode == DECODE_ALL:
            return Gst.PadProbeReturn.OK
        buffer = info.get_buffer()
        if mode == DECODE_KEY:
            keep = not buffer.has_flags(Gst.BufferFlags.DELTA_UNIT)
        elif self._is_reference is None:
            keep = True
        else:
            ok, mapped = buffer.map(Gst.MapFlags.READ)
            if not ok:
                return Gst.PadProbeReturn.OK
            try:
                keep = self._is_reference(bytes(mapped.data))
            finally:
                buffer.unmap(mapped)
        return Gst.PadProbeReturn.OK if keep else Gst.PadProbeReturn.DROP

    def _drop_frames(self, pad: Gst.Pad, info: Gst.PadProbeInfo) -> Gst.PadProbeReturn:
        interval = self.prop("drop-frame-interval")
        index = self._frames
        self._frames += 1
        if interval > 1 and index % interval:
            return Gst.PadProbeReturn.DROP
        return Gst.PadProbeReturn.OK

    def _note_input(self, pad: Gst.Pad, info: Gst.PadProbeInfo) -> Gst.PadProbeReturn:
        buffer = info.get_buffer()
        now = time.monotonic()
        with self._inputs_lock:
            if buffer.pts == Gst.CLOCK_TIME_NONE:
                key = -1 - self._unstamped  # no PTS: matched in order
                self._unstamped += 1
            else:
                key = buffer.pts
            self._inputs[key] = now
            while len(self._inputs) > PENDING_INPUTS:
                self._inputs.popitem(last=False)
        return Gst.PadProbeReturn.OK

    def _mark(self, buffer: Gst.Buffer) -> None:
        """The bridge's callback on each decoded frame (writable there): attach the latency mark."""
        now = time.monotonic()
        with self._inputs_lock:
            entered = self._inputs.pop(buffer.pts, None) if buffer.pts != Gst.CLOCK_TIME_NONE else None
            if entered is None and self._inputs:
                entered = self._inputs.popitem(last=False)[1]  # the oldest input still waiting
        attach_latency_marks(buffer, [(self.get_name(), entered if entered is not None else now, now)])


ELEMENT = NvV4l2Decoder
