"""nvurisrcbin: a URI (file, RTSP, HTTP) decoded to NVMM frames, with DeepStream's looping.

A bin around uridecodebin — which picks the emulated nvv4l2decoder — exposing the decoded video as
a sometimes pad ``vsrc_0`` whose caps carry ``memory:NVMM`` (deepstream-test3's ``pad-added``
callback checks them). The uridecodebin is made when the bin goes to READY, after the app has
connected its ``child-added`` handler, as DeepStream's bin makes its children late too.

``file-loop``: at the end of a file the stream seeks back to the start instead of ending; the
seek's flush stays inside the bin and the segment's base moves on, so downstream (nvstreammux, a
sink with ``sync``) sees one continuous stream whose running time keeps growing.

RTSP: the bin's ``latency``, ``udp-buffer-size`` and ``select-rtp-protocol`` (4: TCP only) are
handed to the rtspsrc the uridecodebin makes, and an RTSP clip that ends reaches nvstreammux as EOS
on a pipeline slower than real time too (:mod:`fake_device.deepstream.gst.jitterbuffer`).

Decoder settings: ``drop-frame-interval``, ``num-extra-surfaces``, ``cudadec-memtype``, ``gpu-id``
and ``dec-skip-frames`` (the decoder's ``skip-frames``) are set on every nvv4l2decoder the
uridecodebin makes, when it is added, as DeepStream's bin configures its decoder child; a change
while the bin runs reaches the decoders it already has.

Audio is not exposed (``vsrc`` pads only); smart recording is not emulated.
"""

from __future__ import annotations

import threading

from fake_device.deepstream.elements.nvv4l2decoder import CODECS, SKIP_FRAMES
from fake_device.deepstream.gst.caps import NVMM_FORMATS, is_nvmm, nvmm_caps, raw_video
from fake_device.deepstream.gst.element import (
    BOOL,
    CUDADEC_MEMTYPE,
    DROP_FRAME_INTERVAL,
    ENUM,
    GPU_ID,
    INT,
    STRING,
    UINT,
    PropertyStore,
    element_templates,
    enum_type,
    gproperties,
    post_error,
)
from fake_device.deepstream.gst.jitterbuffer import watch_jitterbuffers
from fake_device.deepstream.gst.runtime import Gst, GstBase

RTP_PROTOCOLS = ((0, "UDP + UDP Multicast + TCP", "rtp-multi"), (4, "TCP Only", "rtp-tcp"))
RTP_TCP_ONLY = 4
SMART_RECORD = (
    (0, "Disable Smart Record", "disable"),
    (1, "Trigger Smart Record through cloud messages only", "cloud-only"),
    (2, "Trigger Smart Record through cloud and local events", "multi"),
)

#: the bin's decoder settings → the property of nvv4l2decoder each one sets
DECODER_SETTINGS = {
    "drop-frame-interval": "drop-frame-interval",
    "num-extra-surfaces": "num-extra-surfaces",
    "cudadec-memtype": "cudadec-memtype",
    "gpu-id": "gpu-id",
    "dec-skip-frames": "skip-frames",
}

PROPERTIES = (
    STRING("uri", None, "URI of the source"),
    UINT("num-extra-surfaces", 1, "Additional number of surfaces in addition to min decode surfaces", 0, 24),
    GPU_ID(),
    CUDADEC_MEMTYPE("GstNvUriSrcBinCudaDecMemType"),
    DROP_FRAME_INTERVAL(),
    ENUM(
        "dec-skip-frames",
        enum_type("SkipFrames", SKIP_FRAMES),
        0,
        "Type of frames to skip during decoding",
    ),
    UINT(
        "rtsp-reconnect-interval",
        0,
        "Timeout in seconds to wait since last data was received from an RTSP source before forcing a "
        "reconnection. 0=disable timeout",
    ),
    INT("rtsp-reconnect-attempts", -1, "Max number of attempts for reconnection. -1=infinite", -1),
    UINT("latency", 100, "Jitterbuffer size in milliseconds; applicable only for RTSP streams."),
    UINT("udp-buffer-size", 524288, "UDP buffer size in bytes; applicable only for RTSP streams."),
    ENUM(
        "select-rtp-protocol",
        enum_type("GstNvUriSrcBinRtpProtocol", RTP_PROTOCOLS),
        0,
        "Transport Protocol to use for RTP",
    ),
    BOOL(
        "file-loop",
        False,
        "Loop file sources after EOS. Src type must be source-type-uri and uri starting with 'file:/'",
    ),
    ENUM(
        "smart-record",
        enum_type("GstNvUriSrcBinSRType", SMART_RECORD),
        0,
        "Enable Smart Record",
        supported=lambda v: v == 0,
        unsupported="smart recording is not emulated",
    ),
    BOOL("disable-audio", False, "Disable audio path mainly for RTSP streams"),
    INT("source-id", -1, "Unique ID for the input source", -1),
    BOOL(
        "disable-passthrough",
        False,
        "Disable passthrough mode at init time, applicable for nvvideoconvert only.",
    ),
)


class FileLoop(GstBase.BaseTransform):
    """Passthrough that turns the end of a file into a seek back to its start (``loop``)."""

    __gstmetadata__ = ("File loop", "Filter/Video", "Loops a file source (edge-harness)", "edge-harness")
    __gsttemplates__ = element_templates(
        Gst.Caps.from_string(f"{raw_video(NVMM_FORMATS)}; {raw_video(NVMM_FORMATS, nvmm=False)}"),
        Gst.Caps.from_string(f"{raw_video(NVMM_FORMATS)}; {raw_video(NVMM_FORMATS, nvmm=False)}"),
    )

    def __init__(self) -> None:
        super().__init__()
        self.set_passthrough(True)
        self.loop = False
        self._segment: Gst.Segment | None = None
        self._end = 0  # running time at the end of the last buffer
        self._offset = 0  # what the segment base becomes after a loop
        self._seeking = False

    def do_transform_ip(self, buffer: Gst.Buffer) -> Gst.FlowReturn:
        if self._segment is not None and buffer.pts != Gst.CLOCK_TIME_NONE:
            end = buffer.pts + (buffer.duration if buffer.duration != Gst.CLOCK_TIME_NONE else 0)
            running = self._segment.to_running_time(Gst.Format.TIME, end)
            if running != Gst.CLOCK_TIME_NONE:
                self._end = max(self._end, running)
        return Gst.FlowReturn.OK

    def do_sink_event(self, event: Gst.Event) -> bool:
        kind = event.type
        if kind in (Gst.EventType.FLUSH_START, Gst.EventType.FLUSH_STOP) and self._seeking:
            return True  # the loop's own flush: nothing downstream needs to know
        if kind == Gst.EventType.SEGMENT:
            segment = event.parse_segment()
            if self._seeking:
                self._seeking = False
                segment.base = self._offset
                event = Gst.Event.new_segment(segment)
            self._segment = segment
        elif kind == Gst.EventType.EOS and self.loop:
            self._offset = self._end
            self._seeking = True
            threading.Thread(target=self._seek_to_start, name="nvurisrcbin-loop", daemon=True).start()
            return True
        return GstBase.BaseTransform.do_sink_event(self, event)

    def _seek_to_start(self) -> None:
        """From a thread of its own: a flushing seek must not come from the streaming thread."""
        seek = Gst.Event.new_seek(
            1.0,
            Gst.Format.TIME,
            Gst.SeekFlags.FLUSH | Gst.SeekFlags.KEY_UNIT,
            Gst.SeekType.SET,
            0,
            Gst.SeekType.NONE,
            -1,
        )
        if not self.get_static_pad("sink").push_event(seek):
            self._seeking = False
            post_error(self, "file-loop: the source cannot seek back to its start", domain=Gst.StreamError)


class NvUriSrcBin(PropertyStore, Gst.Bin):
    __gtype_name__ = "GstDsNvUriSrcBin"
    __gstmetadata__ = (
        "NvUriSrc Bin",
        "NvUriSrc Bin",
        "Nvidia DeepStreamSDK NvUriSrc Bin (edge-harness: uridecodebin on CPU)",
        "edge-harness",
    )
    __gsttemplates__ = (
        Gst.PadTemplate.new("vsrc_%u", Gst.PadDirection.SRC, Gst.PadPresence.SOMETIMES, nvmm_caps(("NV12",))),
    )
    FACTORY_NAME = "nvurisrcbin"
    RANK = Gst.Rank.PRIMARY
    PROPERTIES = PROPERTIES
    __gproperties__ = gproperties(PROPERTIES)

    def __init__(self) -> None:
        super().__init__()
        self.init_properties()
        self._decodebin: Gst.Element | None = None
        self._decoders: list[Gst.Element] = []
        self._loops: list[FileLoop] = []
        self._video_pads = 0
        # also when the bin runs without nvstreammux (which watches the whole pipeline)
        watch_jitterbuffers(self)

    def property_changed(self, name: str, value: object) -> None:
        if name == "file-loop":
            for loop in self._loops:
                loop.loop = bool(value)
        elif name == "uri" and self._decodebin is not None:
            self._decodebin.set_property("uri", value)
        elif name in DECODER_SETTINGS:
            for decoder in list(self._decoders):
                decoder.set_property(DECODER_SETTINGS[name], value)

    def do_change_state(self, transition: Gst.StateChange) -> Gst.StateChangeReturn:
        if self.refuses_to_start(transition):
            return Gst.StateChangeReturn.FAILURE
        if transition == Gst.StateChange.NULL_TO_READY and self._decodebin is None:
            if not self.prop("uri"):
                post_error(
                    self,
                    f"{self.get_name()}: no uri set",
                    domain=Gst.ResourceError,
                    code=Gst.ResourceError.NOT_FOUND,
                )
                return Gst.StateChangeReturn.FAILURE
            self._make_decodebin()
        return Gst.Bin.do_change_state(self, transition)

    def _make_decodebin(self) -> None:
        decodebin = Gst.ElementFactory.make("uridecodebin", "src_elem")
        decodebin.set_property("uri", self.prop("uri"))
        decodebin.connect("pad-added", self._on_pad_added)
        decodebin.connect("no-more-pads", lambda _element: self.no_more_pads())
        decodebin.connect("source-setup", self._on_source_setup)
        decodebin.connect("deep-element-added", self._on_element_added)
        self.add(decodebin)
        self._decodebin = decodebin

    def _on_element_added(self, _bin: Gst.Bin, _parent: Gst.Bin, element: Gst.Element) -> None:
        """Hand the bin's decoder settings to each nvv4l2decoder, before it sees its first caps."""
        factory = element.get_factory()
        if factory is None or factory.get_name() != "nvv4l2decoder":
            return
        for name, decoder_name in DECODER_SETTINGS.items():
            element.set_property(decoder_name, self.prop(name))
        self._decoders.append(element)

    def _on_source_setup(self, _decodebin: Gst.Element, source: Gst.Element) -> None:
        """The RTSP settings DeepStream's bin gives its rtspsrc (other sources have none of them)."""
        factory = source.get_factory()
        if factory is None or factory.get_name() != "rtspsrc":
            return
        source.set_property("latency", self.prop("latency"))
        source.set_property("udp-buffer-size", self.prop("udp-buffer-size"))
        if self.prop("select-rtp-protocol") == RTP_TCP_ONLY:
            Gst.util_set_object_arg(source, "protocols", "tcp")  # GstRTSPLowerTrans, by its nick

    def _on_pad_added(self, decodebin: Gst.Element, pad: Gst.Pad) -> None:
        caps = pad.get_current_caps() or pad.query_caps(None)
        if caps is None or not caps.get_structure(0).get_name().startswith("video/"):
            return  # audio: not exposed
        if not is_nvmm(caps):
            post_error(
                self,
                f"{self.get_name()}: the decoder did not output NVMM memory ({caps.to_string()})",
                f"the stream's codec is not one nvv4l2decoder emulates ({CODECS})",
                domain=Gst.StreamError,
                code=Gst.StreamError.CODEC_NOT_FOUND,
            )
            return
        loop = FileLoop()
        loop.loop = bool(self.prop("file-loop")) and (self.prop("uri") or "").startswith("file:")
        self.add(loop)
        loop.sync_state_with_parent()
        pad.link(loop.get_static_pad("sink"))
        template = type(self).__gsttemplates__[0]
        ghost = Gst.GhostPad.new_from_template(
            f"vsrc_{self._video_pads}", loop.get_static_pad("src"), template
        )
        self._video_pads += 1
        self._loops.append(loop)
        ghost.set_active(True)
        self.add_pad(ghost)


ELEMENT = NvUriSrcBin
