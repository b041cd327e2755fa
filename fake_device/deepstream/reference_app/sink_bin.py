"""The outputs: deepstream-app's ``sink_bin`` and its sub-bins (deepstream_sink_bin.c).

``sink_bin``: ``sink_bin_queue`` → ``sink_bin_tee`` → one ``sink_sub_bin<uid>`` per display sink
of the processing instance (``uid`` counts every sub-bin made, from 1, as deepstream-app's static
counter does), each starting with a queue:

* type 1 fakesink, 2 display (nveglglessink, which has no screen here), 5 overlay (nvdrmvideosink
  is not emulated: a fakesink stands in) — create_render_bin: ``sync``, ``qos``, ``async=false``;
* type 3 file — create_encode_file_bin: nvvideoconvert → ``I420`` (NVMM for the hardware
  encoder) → nvv4l2h264enc / nvv4l2h265enc (``enc-type=0``), x264enc / x265enc (``enc-type=1``) or
  avenc_mpeg4 (``codec=3``) → parser → qtmux (``container=1``) or matroskamux (2) → filesink at
  ``output-file``; with ``NVDS_ENABLE_LATENCY_MEASUREMENT`` set the muxer is an identity, as in
  deepstream-app (the file is then a raw elementary stream);
* type 4 RTSP — create_udpsink_bin: the same encoders (H.264/H.265) → parser with
  ``config-interval=-1`` → rtph264pay / rtph265pay → udpsink to 127.0.0.1:``udp-port``, plus the
  RTSP server (:mod:`.rtsp_streaming`);
* type 6 message broker — create_msg_conv_broker_bin: a leaky queue (20 buffers) → nvmsgconv (a
  queue with ``disable-msgconv``) → nvmsgbroker. These sub-bins are not in a ``sink_bin``: the
  pipeline links them to the tee after the common elements (add_and_link_broker_sink).
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from fake_device.deepstream.gst.runtime import Gst
from fake_device.deepstream.reference_app import building
from fake_device.deepstream.reference_app.config import MsgConvSettings, SinkConfig, SinkType
from fake_device.deepstream.reference_app.rtsp_streaming import RtspStreaming

log = logging.getLogger(__name__)

_HW_ENCODERS = {1: "nvv4l2h264enc", 2: "nvv4l2h265enc"}
_SW_ENCODERS = {1: "x264enc", 2: "x265enc"}
_PARSERS = {
    1: ("h264parse", "h264-parser"),
    2: ("h265parse", "h265-parser"),
    3: ("mpeg4videoparse", "mpeg4-parser"),
}
_PAYLOADERS = {1: "rtph264pay", 2: "rtph265pay"}
_MUXERS = {1: "qtmux", 2: "matroskamux"}
ENC_TYPE_SW = 1


@dataclass
class SinkBins:
    """What the sink builders made: the sinks, the broker elements and the RTSP servers."""

    uid: int = 0
    sinks: list[Gst.Element] = field(default_factory=list)  # every sub-bin's last element
    brokers: list[Gst.Element] = field(default_factory=list)
    converters: list[Gst.Element] = field(default_factory=list)
    rtsp: list[RtspStreaming] = field(default_factory=list)

    def next_uid(self) -> int:
        self.uid += 1
        return self.uid


def _drop_seeking_query(_pad: Gst.Pad, info: Gst.PadProbeInfo) -> Gst.PadProbeReturn:
    """seek_query_drop_prob: the encoder's upstream is not asked whether it can seek."""
    query = info.get_query()
    if query is not None and query.type == Gst.QueryType.SEEKING:
        return Gst.PadProbeReturn.DROP
    return Gst.PadProbeReturn.OK


def _restore_timestamps(encoder: Gst.Element) -> None:
    """avenc_mpeg4 of GStreamer 1.22 with FFmpeg 5 stamps every packet, and its segment, with an
    invalid time (a bug of that pairing, not of DeepStream). Its packets come out in input order
    (no B-frames), so each gets the times of the frame that went in, and its segment is the input's.
    """
    pending: deque[tuple[int, int]] = deque()
    state: dict[str, Any] = {"segment": None, "forwarding": False}

    def frame_in(_pad: Gst.Pad, info: Gst.PadProbeInfo) -> Gst.PadProbeReturn:
        if info.type & Gst.PadProbeType.BUFFER:
            buffer = info.get_buffer()
            pending.append((buffer.pts, buffer.duration))
        else:
            event = info.get_event()
            if event.type == Gst.EventType.SEGMENT:
                state["segment"] = event.parse_segment().copy()
        return Gst.PadProbeReturn.OK

    def packet_out(pad: Gst.Pad, info: Gst.PadProbeInfo) -> Gst.PadProbeReturn:
        if info.type & Gst.PadProbeType.BUFFER:
            if pending:
                pts, duration = pending.popleft()
                buffer = info.get_buffer()  # the encoder's new packet: nothing else holds it yet
                buffer.pts = buffer.dts = pts
                buffer.duration = duration
            return Gst.PadProbeReturn.OK
        event = info.get_event()
        if event.type != Gst.EventType.SEGMENT or state["forwarding"] or state["segment"] is None:
            return Gst.PadProbeReturn.OK
        state["forwarding"] = True  # our own segment passes this probe
        try:
            pad.push_event(Gst.Event.new_segment(state["segment"]))
        finally:
            state["forwarding"] = False
        return Gst.PadProbeReturn.DROP

    both = Gst.PadProbeType.BUFFER | Gst.PadProbeType.EVENT_DOWNSTREAM
    encoder.get_static_pad("sink").add_probe(both, frame_in)
    encoder.get_static_pad("src").add_probe(both, packet_out)


def _encoder(sink: SinkConfig, name: str) -> tuple[Gst.Element, str]:
    """(the encoder, the raw caps it takes) for ``codec``/``enc-type``, with its bitrate."""
    if sink.codec == 3:
        # MPEG-4 is software only; avenc_mpeg4 takes bit/s
        return building.make("avenc_mpeg4", name, bitrate=sink.bitrate), "video/x-raw, format=I420"
    if sink.enc_type == ENC_TYPE_SW:
        # x264enc / x265enc take kbit/s
        encoder = building.make(_SW_ENCODERS[sink.codec], name, bitrate=max(1, sink.bitrate // 1000))
        return encoder, "video/x-raw, format=I420"
    encoder = building.make(_HW_ENCODERS[sink.codec], name, bitrate=sink.bitrate)
    if sink.iframeinterval is not None:
        encoder.set_property("iframeinterval", sink.iframeinterval)
    return encoder, "video/x-raw(memory:NVMM), format=I420"


def _render_sub_bin(sink: SinkConfig, uid: int) -> tuple[Gst.Bin, Gst.Element]:
    bin_ = building.new_bin(f"sink_sub_bin{uid}")
    name = f"sink_sub_bin_sink{uid}"
    if sink.type == SinkType.RENDER:
        element = building.make("nveglglessink", name, enable_last_sample=False)
    else:
        if sink.type == SinkType.OVERLAY:
            log.info(
                "[%s] type=5 (overlay, nvdrmvideosink): no display here, a fakesink stands in", sink.group
            )
        element = building.make("fakesink", name, enable_last_sample=False)
    building.configure(element, sync=sink.sync, max_lateness=-1, qos=sink.qos)
    element.set_property("async", False)
    queue = building.make(building.QUEUE, f"render_queue{uid}")
    building.add(bin_, queue, element)
    building.link(queue, element)
    building.ghost(bin_, queue, "sink")
    return bin_, element


def _encode_file_sub_bin(sink: SinkConfig, uid: int) -> tuple[Gst.Bin, Gst.Element]:
    assert sink.output_file is not None
    bin_ = building.new_bin(f"sink_sub_bin{uid}")
    queue = building.make(building.QUEUE, f"sink_sub_bin_queue{uid}")
    transform = building.make(building.VIDEO_CONV, f"sink_sub_bin_transform{uid}")
    encoder, caps = _encoder(sink, f"sink_sub_bin_encoder{uid}")
    cap_filter = building.caps_filter(f"sink_sub_bin_cap_filter{uid}", caps)
    encoder.get_static_pad("sink").add_probe(Gst.PadProbeType.QUERY_UPSTREAM, _drop_seeking_query)
    if sink.codec == 3:
        _restore_timestamps(encoder)
    factory, parser_name = _PARSERS[sink.codec]
    chain = [queue, transform, cap_filter, encoder, building.make(factory, parser_name)]
    if os.environ.get("NVDS_ENABLE_LATENCY_MEASUREMENT") is not None:
        mux = building.make("identity", f"sink_sub_bin_mux{uid}")  # deepstream-app disables the mux then
    else:
        mux = building.make(_MUXERS[sink.container], f"sink_sub_bin_mux{uid}")
    filesink = building.make("filesink", f"sink_sub_bin_sink{uid}", location=sink.output_file, sync=sink.sync)
    filesink.set_property("async", False)
    chain += [mux, filesink]
    building.add(bin_, *chain)
    building.link(*chain)
    building.ghost(bin_, queue, "sink")
    return bin_, filesink


def _udpsink_sub_bin(sink: SinkConfig, uid: int, made: SinkBins) -> tuple[Gst.Bin, Gst.Element]:
    streaming = RtspStreaming(sink.rtsp_port, sink.udp_port, sink.codec, sink.udp_buffer_size)
    bin_ = building.new_bin(f"sink_sub_bin{uid}")
    queue = building.make(building.QUEUE, f"sink_sub_bin_queue{uid}")
    transform = building.make(building.VIDEO_CONV, f"sink_sub_bin_transform{uid}")
    factory, parser_name = _PARSERS[sink.codec]
    parser = building.make(factory, parser_name, config_interval=-1)
    payloader = building.make(_PAYLOADERS[sink.codec], f"sink_sub_bin_rtppay{uid}")
    encoder, caps = _encoder(sink, f"sink_sub_bin_encoder{uid}")
    if sink.enc_type != ENC_TYPE_SW:
        # a Jetson (integrated GPU): the hardware encoder's fastest preset, SPS/PPS at every IDR
        building.configure(encoder, preset_level=1, insert_sps_pps=True)
    cap_filter = building.caps_filter(f"sink_sub_bin_cap_filter{uid}", caps)
    encoder.get_static_pad("sink").add_probe(Gst.PadProbeType.QUERY_UPSTREAM, _drop_seeking_query)
    udpsink = building.make(
        "udpsink", f"sink_sub_bin_udpsink{uid}", host="127.0.0.1", port=sink.udp_port, sync=sink.sync
    )
    udpsink.set_property("async", False)
    building.add(bin_, queue, cap_filter, transform, encoder, parser, payloader, udpsink)
    building.link(queue, transform, cap_filter, encoder, parser, payloader, udpsink)
    building.ghost(bin_, queue, "sink")
    streaming.start()
    made.rtsp.append(streaming)
    return bin_, udpsink


def _on_broker_queue_overrun(_queue: Gst.Element) -> None:
    log.warning(
        "nvmsgbroker queue overrun; Older Message Buffer Dropped; Network bandwidth might be insufficient"
    )


def configure_msgconv(element: Gst.Element, settings: MsgConvSettings) -> None:
    """The nvmsgconv properties deepstream-app sets from the ``msg-conv-*`` keys."""
    building.configure(
        element,
        payload_type=settings.payload_type,
        comp_id=settings.comp_id,
        msg2p_newapi=settings.msg2p_new_api,
        frame_interval=settings.frame_interval,
        dummy_payload=settings.dummy_payload,
    )
    if settings.config_file is not None:
        element.set_property("config", str(settings.config_file))


def create_msg_conv_broker_bin(sink: SinkConfig, made: SinkBins) -> Gst.Bin:
    """``sink_sub_bin<uid>``: leaky queue → nvmsgconv (or a queue) → nvmsgbroker."""
    uid = made.next_uid()
    bin_ = building.new_bin(f"sink_sub_bin{uid}")
    # leaky=2 (downstream): a stuck broker drops old buffers instead of choking the pipeline
    queue = building.make(building.QUEUE, f"sink_sub_bin_queue{uid}", leaky=2, max_size_buffers=20)
    queue.connect("overrun", _on_broker_queue_overrun)
    if sink.disable_msgconv:
        transform = building.make(building.QUEUE, f"sink_sub_bin_transform{uid}")
    else:
        transform = building.make("nvmsgconv", f"sink_sub_bin_transform{uid}")
        configure_msgconv(transform, sink.msgconv)
        made.converters.append(transform)
    broker = building.make(
        "nvmsgbroker",
        f"sink_sub_bin_sink{uid}",
        proto_lib=sink.proto_lib,
        conn_str=sink.conn_str,
        topic=sink.topic,
        sync=sink.sync,
        comp_id=sink.broker_comp_id,
    )
    broker.set_property("async", False)
    if sink.broker_config is not None:
        broker.set_property("config", str(sink.broker_config))
    building.add(bin_, queue, transform, broker)
    building.link(queue, transform, broker)
    building.ghost(bin_, queue, "sink")
    made.sinks.append(broker)
    made.brokers.append(broker)
    return bin_


def create_sink_bin(sinks: Sequence[SinkConfig], made: SinkBins) -> Gst.Bin:
    """``sink_bin`` with a sub-bin per display sink in ``sinks`` (already those of this instance)."""
    bin_ = building.new_bin("sink_bin")
    queue = building.make(building.QUEUE, "sink_bin_queue")
    tee = building.make(building.TEE, "sink_bin_tee", allow_not_linked=True)
    building.add(bin_, queue, tee)
    building.link(queue, tee)
    building.ghost(bin_, queue, "sink")
    for sink in sinks:
        uid = made.next_uid()
        if sink.type == SinkType.ENCODE_FILE:
            sub_bin, last = _encode_file_sub_bin(sink, uid)
        elif sink.type == SinkType.RTSP:
            sub_bin, last = _udpsink_sub_bin(sink, uid, made)
        else:
            sub_bin, last = _render_sub_bin(sink, uid)
        building.add(bin_, sub_bin)
        building.link_to_tee(tee, sub_bin)
        made.sinks.append(last)
    if not sinks:  # create_sink_bin: an instance without sinks still ends in a fakesink
        fake = SinkConfig(group="sink", line=0, type=SinkType.FAKE)
        sub_bin, last = _render_sub_bin(fake, made.next_uid())
        building.add(bin_, sub_bin)
        building.link_to_tee(tee, sub_bin)
        made.sinks.append(last)
    return bin_
