"""The sources and the muxer: deepstream-app's ``multi_src_bin`` (deepstream_source_bin.c).

One ``src_sub_bin<N>`` per stream, linked to ``sink_<N>`` of the nvstreammux ``src_bin_muxer``;
the bin's ``src`` pad is the muxer's. A stream's bin is deepstream-app's
create_uridecode_src_bin: the decoder element (``src_elem``) → ``queue`` → nvvideoconvert
(``nvvidconv_elem``) → ``video/x-raw(memory:NVMM)`` (``src_cap_filter_nvvidconv``). The decoder
element is

* ``uridecodebin`` for files and HTTP (types 2 and 3), which picks the emulated nvv4l2decoder;
* ``nvurisrcbin`` for RTSP (type 4) and for files that loop (``[tests] file-loop``):
  deepstream-app loops with a probe on the decoder that turns EOS into a seek back to the start,
  which is what nvurisrcbin's ``file-loop`` does, so the loop has one implementation here.

Whatever decoder the decodebin creates inside gets deepstream-app's decodebin_child_added
settings: ``drop-frame-interval`` and ``skip-frames`` (``dec-skip-frames``, or 2 for
``intra-decode-enable``) on nvv4l2decoder and ``config-interval=-1`` on the H.264/H.265 parsers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from fake_device.deepstream.gst.element import post_error
from fake_device.deepstream.gst.runtime import Gst
from fake_device.deepstream.reference_app import building
from fake_device.deepstream.reference_app.config import SourceSpec, SourceType, StreamMuxSettings

MUXER_NAME = "src_bin_muxer"


@dataclass
class MultiSourceBin:
    """The built ``multi_src_bin``: its bin, the muxer and one decoder element per stream."""

    bin: Gst.Bin
    streammux: Gst.Element
    decoders: list[Gst.Element] = field(default_factory=list)

    def stop_looping(self) -> None:
        """Let looping files end: a stop must reach the sinks as an end of stream."""
        for decoder in self.decoders:
            if decoder.find_property("file-loop") is not None:
                decoder.set_property("file-loop", False)


def _on_decoder_child(bin_: Gst.Bin, _sub_bin: Gst.Bin, element: Gst.Element, spec: SourceSpec) -> None:
    """decodebin_child_added, for every element the decodebin makes, however deep."""
    factory = element.get_factory()
    name = factory.get_name() if factory is not None else ""
    if name == "nvv4l2decoder":
        if spec.drop_frame_interval:
            element.set_property("drop-frame-interval", spec.drop_frame_interval)
        if spec.skip_frames:
            element.set_property("skip-frames", spec.skip_frames)
    elif name in ("h264parse", "h265parse"):
        element.set_property("config-interval", -1)


def _on_pad_added(_decoder: Gst.Element, pad: Gst.Pad, queue: Gst.Element) -> None:
    """cb_newpad: the first video pad goes to the queue; audio is left unlinked."""
    caps = pad.get_current_caps() or pad.query_caps(None)
    if caps is None or caps.is_empty() or not caps.get_structure(0).get_name().startswith("video"):
        return
    sink = queue.get_static_pad("sink")
    if sink.is_linked():
        return
    result = pad.link(sink)
    if result != Gst.PadLinkReturn.OK:
        post_error(
            queue,
            f"Failed to link decodebin to pipeline: {result.value_nick} ({caps.to_string()})",
            domain=Gst.CoreError,
            code=Gst.CoreError.NEGOTIATION,
        )


def create_source_sub_bin(spec: SourceSpec) -> tuple[Gst.Bin, Gst.Element]:
    """``src_sub_bin<N>`` for one stream: (the bin with a ``src`` ghost pad, its decoder element)."""
    bin_ = building.new_bin(f"src_sub_bin{spec.source_id}")
    is_file = spec.uri.startswith("file:")
    if spec.type == SourceType.RTSP or (spec.file_loop and is_file):
        decoder = building.make("nvurisrcbin", "src_elem", uri=spec.uri)
        if spec.file_loop and is_file:
            decoder.set_property("file-loop", True)
        # nvurisrcbin hands these to its own decoder (the deep-element-added below sets them too)
        decoder.set_property("drop-frame-interval", spec.drop_frame_interval)
        decoder.set_property("dec-skip-frames", spec.skip_frames)
    else:
        decoder = building.make("uridecodebin", "src_elem", uri=spec.uri)
    queue = building.make(building.QUEUE, "queue")
    convert = building.make(building.VIDEO_CONV, "nvvidconv_elem")
    nvmm = building.caps_filter("src_cap_filter_nvvidconv", "video/x-raw(memory:NVMM)")
    building.add(bin_, decoder, queue, convert, nvmm)
    building.link(queue, convert, nvmm)
    building.ghost(bin_, nvmm, "src")
    decoder.connect("pad-added", _on_pad_added, queue)
    bin_.connect("deep-element-added", _on_decoder_child, spec)
    return bin_, decoder


def create_multi_source_bin(specs: Sequence[SourceSpec], mux: StreamMuxSettings) -> MultiSourceBin:
    """create_multi_source_bin + set_streammux_properties: every stream into one nvstreammux."""
    parent = building.new_bin("multi_src_bin")
    streammux = building.make("nvstreammux", MUXER_NAME)
    building.configure(
        streammux,
        width=mux.width,
        height=mux.height,
        live_source=mux.live_source,
        batched_push_timeout=mux.batched_push_timeout,
        enable_padding=mux.enable_padding,
        attach_sys_ts=mux.attach_sys_ts_as_ntp,
    )
    if mux.batch_size:  # unset: nvstreammux batches as many frames as there are sources
        streammux.set_property("batch-size", mux.batch_size)
    building.add(parent, streammux)
    result = MultiSourceBin(bin=parent, streammux=streammux)
    for spec in specs:
        sub_bin, decoder = create_source_sub_bin(spec)
        building.add(parent, sub_bin)
        sink = streammux.request_pad_simple(f"sink_{spec.source_id}")
        if sink is None or sub_bin.get_static_pad("src").link(sink) != Gst.PadLinkReturn.OK:
            raise building.BuildError(f"source {spec.source_id} cannot be linked to mux's sink pad")
        result.decoders.append(decoder)
    building.ghost(parent, streammux, "src")
    return result
