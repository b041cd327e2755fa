"""nvstreamdemux: a batch back into one stream per source (``src_%u`` request pads).

Frame ``k`` of a batch goes out of ``src_<pad_index>`` — the number of the nvstreammux pad its
source came in on — as a buffer of its own: a view of that frame's memory (no copy), with a batch
meta holding that one frame (``batch_id`` 0). Frames of sources without a requested pad are
dropped, as DeepStream does. A source's ``nv-stream-eos`` becomes an EOS on its pad; the EOS of the
batch stream ends every pad.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from fake_device.deepstream.gst import events
from fake_device.deepstream.gst.caps import nvmm_caps
from fake_device.deepstream.gst.carrier import attach_batch_meta, attach_surface_layout, batch_meta_of
from fake_device.deepstream.gst.element import (
    GPU_ID,
    PropertyStore,
    gproperties,
    own_templates,
    post_missing_batch_meta,
    request_pad_index,
)
from fake_device.deepstream.gst.runtime import GObject, Gst
from fake_device.deepstream.gst.surface import FrameLayout, SurfaceError
from fake_device.deepstream.meta import BatchMeta

PROPERTIES = (GPU_ID(),)


@dataclass
class _Output:
    pad: Gst.Pad
    started: bool = False  # stream-start, caps and segment sent
    ended: bool = False


class NvStreamDemux(PropertyStore, Gst.Element):
    __gtype_name__ = "GstNvStreamDemux"
    __gstmetadata__ = (
        "Stream demultiplexer",
        "Generic",
        "1-to-N pipes stream demultiplexing (edge-harness: CPU emulation)",
        "edge-harness",
    )
    __gsttemplates__ = (
        Gst.PadTemplate.new("sink", Gst.PadDirection.SINK, Gst.PadPresence.ALWAYS, nvmm_caps()),
        Gst.PadTemplate.new("src_%u", Gst.PadDirection.SRC, Gst.PadPresence.REQUEST, nvmm_caps()),
    )
    FACTORY_NAME = "nvstreamdemux"
    RANK = Gst.Rank.PRIMARY
    PROPERTIES = PROPERTIES
    __gproperties__ = gproperties(PROPERTIES)

    def __init__(self) -> None:
        super().__init__()
        self.init_properties()
        templates = own_templates(self)
        self._src_template = templates["src_%u"]
        self.sinkpad = Gst.Pad.new_from_template(templates["sink"], "sink")
        self.sinkpad.set_chain_function_full(self._chain)
        self.sinkpad.set_event_function_full(self._event)
        self.add_pad(self.sinkpad)
        self._lock = threading.Lock()
        self._outputs: dict[int, _Output] = {}
        self._caps: Gst.Caps | None = None
        self._layout: FrameLayout | None = None
        self._segment: Gst.Event | None = None

    def do_change_state(self, transition: Gst.StateChange) -> Gst.StateChangeReturn:
        if self.refuses_to_start(transition):
            return Gst.StateChangeReturn.FAILURE
        if transition == Gst.StateChange.PAUSED_TO_READY:
            with self._lock:
                for output in self._outputs.values():
                    output.started = output.ended = False
        return Gst.Element.do_change_state(self, transition)

    # -- pads ------------------------------------------------------------------------------------
    def do_request_new_pad(self, templ: Gst.PadTemplate, name: str | None, caps: Gst.Caps | None) -> Gst.Pad:
        with self._lock:
            if name is None or name == "src_%u":
                index = max(self._outputs, default=-1) + 1
            else:
                prefix, _, number = name.rpartition("_")
                if prefix != "src" or not number.isdigit():
                    return None
                index = int(number)
            if index in self._outputs:
                return None
            pad = Gst.Pad.new_from_template(self._src_template, f"src_{index}")
            pad.set_query_function_full(self._src_query)
            self._outputs[index] = _Output(pad)
        pad.set_active(True)
        self.add_pad(pad)
        return pad

    def do_release_pad(self, pad: Gst.Pad) -> None:
        if hasattr(self, "_lock"):  # not when dispose releases pads on a fresh wrapper (see nvstreammux)
            with self._lock:
                self._outputs.pop(request_pad_index(pad), None)
        pad.set_active(False)
        self.remove_pad(pad)

    def _src_query(self, pad: Gst.Pad, parent: Gst.Object, query: Gst.Query) -> bool:
        if query.type == Gst.QueryType.CAPS and self._caps is not None:
            caps = self._output_caps()
            _filter = query.parse_caps()
            query.set_caps_result(_filter.intersect(caps) if _filter is not None else caps)
            return True
        return Gst.Pad.query_default(pad, parent, query)

    def _output_caps(self) -> Gst.Caps:
        assert self._caps is not None
        structure = self._caps.get_structure(0).copy()
        if structure.has_field("batch-size"):
            structure.set_value("batch-size", GObject.Value(GObject.TYPE_INT, 1))
        caps = Gst.Caps.new_empty()
        caps.append_structure_full(structure, self._caps.get_features(0).copy())
        return caps

    # -- events ------------------------------------------------------------------------------------
    def _event(self, pad: Gst.Pad, parent: Gst.Object, event: Gst.Event) -> bool:
        kind = event.type
        if kind == Gst.EventType.CAPS:
            caps = event.parse_caps()
            try:
                self._layout = FrameLayout.from_caps(caps)
            except SurfaceError as err:
                self.refuse_caps(caps, str(err))
                return False
            self._caps = caps
            with self._lock:
                for output in self._outputs.values():  # sent again with the next buffer
                    output.started = False
            return True
        if kind == Gst.EventType.SEGMENT:
            self._segment = event
            return True
        if kind == Gst.EventType.STREAM_START:
            return True  # each src pad starts a stream of its own
        parsed = events.parse_stream_event(event)
        if parsed is not None:
            event_type, source_id = parsed
            if event_type == events.STREAM_EOS:
                output = self._outputs.get(source_id)
                if output is not None and output.started and not output.ended:
                    output.ended = True
                    output.pad.push_event(Gst.Event.new_eos())
            return True
        if kind == Gst.EventType.EOS:
            for output in list(self._outputs.values()):
                if not output.ended:
                    output.ended = True
                    self._start(output)
                    output.pad.push_event(Gst.Event.new_eos())
            return True
        return Gst.Pad.event_default(pad, parent, event)

    def _start(self, output: _Output) -> None:
        """stream-start, caps and segment on a pad before its first buffer."""
        if output.started:
            return
        output.started = True
        stream_id = output.pad.create_stream_id(self, output.pad.get_name())
        output.pad.push_event(Gst.Event.new_stream_start(stream_id))
        if self._caps is not None:
            output.pad.push_event(Gst.Event.new_caps(self._output_caps()))
        segment = self._segment
        if segment is None:
            time_segment = Gst.Segment()
            time_segment.init(Gst.Format.TIME)
            segment = Gst.Event.new_segment(time_segment)
        output.pad.push_event(segment)

    # -- data --------------------------------------------------------------------------------------
    def _chain(self, pad: Gst.Pad, parent: Gst.Object, buffer: Gst.Buffer) -> Gst.FlowReturn:
        batch = batch_meta_of(buffer)
        if batch is None or self._layout is None:
            post_missing_batch_meta(
                self, "nvstreamdemux splits nvstreammux batches: put nvstreammux upstream"
            )
            return Gst.FlowReturn.ERROR
        layout = self._layout
        result = Gst.FlowReturn.OK
        for frame in list(batch.frames):
            output = self._outputs.get(getattr(frame, "pad_index", frame.source_id))
            if output is None or output.ended:
                continue  # no pad requested for this source: DeepStream drops its frames
            flags = Gst.BufferCopyFlags.FLAGS | Gst.BufferCopyFlags.MEMORY
            out = buffer.copy_region(flags, frame.batch_id * layout.size, layout.size)  # shares memory
            out.pts = frame.buf_pts
            out.duration = buffer.duration
            frame.batch_id = 0  # its place in the new one-frame batch (get_nvds_buf_surface uses it)
            attach_batch_meta(out, BatchMeta(frames=[frame], max_frames_in_batch=1))
            attach_surface_layout(out, layout)
            self._start(output)
            flow = output.pad.push(out)
            if flow not in (Gst.FlowReturn.OK, Gst.FlowReturn.NOT_LINKED):
                result = flow  # an error or flushing downstream of one pad stops the stream
        return result


ELEMENT = NvStreamDemux
