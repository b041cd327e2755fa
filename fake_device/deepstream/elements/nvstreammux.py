"""nvstreammux: frames of several sources → batches at one resolution, with the NvDsBatchMeta.

The (legacy, default) Gst-nvstreammux as NVIDIA documents it, on ``GstAggregator``:

* sink pads are requested as ``sink_%u`` (``get_request_pad("sink_0")`` or
  ``request_pad_simple``), also while PLAYING; the number is the source's ``pad_index`` and
  ``source_id``. Releasing a pad (runtime_source_add_delete) sends ``nv-pad-deleted`` downstream;
  a pad's first frame sends ``nv-pad-added``;
* a batch holds up to ``batch-size`` frames, collected round-robin from the pads that have one
  (files: several frames of one source may share a batch, in arrival order); it is pushed when full,
  when ``batched-push-timeout`` µs have passed since its first frame (-1: wait for a full batch),
  or when every source has ended. Sources at end of stream no longer count;
* every frame is scaled to ``width`` × ``height`` in the format of the first source — stretched,
  or with ``enable-padding`` letterboxed with black — with ``interpolation-method``;
* the batch meta has one frame meta per frame: ``source_id``/``pad_index`` (the pad number),
  ``frame_num`` (per source, from 0; back to 0 at a source's end with ``frame-num-reset-on-eos``),
  ``buf_pts`` (the input PTS), ``ntp_timestamp`` (system time at the muxer with ``attach-sys-ts``,
  else 0: no RTCP sender reports here), ``source_frame_width/height`` (before scaling), ``batch_id``;
* output PTS: with ``live-source`` the PTS of the last frame copied in, otherwise batch number ×
  frame duration of the first source's frame rate;
* a source's end posts the ``stream-eos`` element message and sends ``nv-stream-eos`` downstream;
  the pipeline's EOS goes out when every source has ended (not with ``no-pipeline-eos``). RTSP
  sources anywhere in the muxer's pipeline end too when the pipeline is slower than real time
  (:mod:`fake_device.deepstream.gst.jitterbuffer`: the muxer watches the pipeline for them).

The output is an emulated NvBufSurface (:mod:`fake_device.deepstream.gst.surface`): the batch's
frames one after another in one buffer; a batch of one is an ordinary frame.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field

from fake_device.deepstream.gst import events
from fake_device.deepstream.gst.caps import fixed_video_caps, framerate_of, nvmm_caps
from fake_device.deepstream.gst.carrier import attach_batch_meta, attach_surface_layout, latency_marks_of
from fake_device.deepstream.gst.element import (
    BOOL,
    COMPUTE_HW_PROP,
    ENUM,
    GPU_ID,
    INT,
    INT_MAX,
    MEMORY_TYPE,
    UINT,
    UINT64_MAX,
    Prop,
    PropertyStore,
    gproperties,
    interpolation_enum,
    post_error,
    request_pad_index,
)
from fake_device.deepstream.gst.jitterbuffer import top_level_bin, watch_jitterbuffers
from fake_device.deepstream.gst.runtime import GObject, Gst, GstBase
from fake_device.deepstream.gst.scaling import Transform, transform_frame
from fake_device.deepstream.gst.surface import FrameLayout, SurfaceError, map_surface, new_batch_buffer
from fake_device.deepstream.meta import BatchMeta, FrameMeta

MAX_BATCH_SIZE = 1024
NEED_DATA = Gst.FlowReturn.CUSTOM_ERROR  # GST_AGGREGATOR_FLOW_NEED_DATA

PROPERTIES: tuple[Prop, ...] = (
    UINT("batch-size", 0, "Maximum number of buffers in a batch", 0, MAX_BATCH_SIZE),
    INT(
        "batched-push-timeout",
        -1,
        "Timeout in microseconds to wait after the first buffer is available to push the batch even if "
        "the complete batch is not formed. Set to -1 to wait infinitely",
        -1,
        INT_MAX,
    ),
    UINT("width", 0, "Width of each frame in output batched buffer. This property MUST be set."),
    UINT("height", 0, "Height of each frame in output batched buffer. This property MUST be set."),
    BOOL("enable-padding", False, "Maintain input aspect ratio when scaling by padding with black bands."),
    GPU_ID(),
    BOOL("live-source", False, "Boolean property to inform muxer that sources are live."),
    UINT(
        "num-surfaces-per-frame",
        1,
        "Max number of surfaces per frame",
        1,
        4,
        supported=lambda v: v == 1,
        unsupported="one surface per frame only (no 360° dewarped or multi-view sources)",
    ),
    MEMORY_TYPE(),
    UINT("buffer-pool-size", 4, "Maximum number of buffers from muxer's output pool", 1, MAX_BATCH_SIZE),
    COMPUTE_HW_PROP(),
    ENUM("interpolation-method", interpolation_enum(), 1, "Set interpolation methods"),
    BOOL(
        "attach-sys-ts",
        True,
        "If set to TRUE, system timestamp will be attached as ntp timestamp. If set to FALSE, ntp "
        "timestamp from rtspsrc, if available, will be attached.",
    ),
    Prop(
        "max-latency",
        "uint64",
        0,
        "Additional latency in live mode to allow upstream to take longer to produce buffers for the "
        "current position (in nanoseconds)",
        0,
        UINT64_MAX,
    ),
    BOOL(
        "sync-inputs",
        False,
        "Boolean property to force sychronization of input frames.",
        supported=lambda v: not v,
        unsupported="frames are batched as they arrive; synchronising inputs on running time is not emulated",
    ),
    BOOL("frame-num-reset-on-eos", False, "Reset frame numbers to 0 for a source from which EOS is received"),
    BOOL(
        "frame-num-reset-on-stream-reset",
        False,
        "Reset frame numbers to 0 for a source which needs to be reset. (For Debugging only)",
    ),
    Prop(
        "frame-duration",
        "uint64",
        UINT64_MAX,
        "Duration of input frames in milliseconds for use in NTP timestamp correction based on frame "
        "rate. If set to 0, frame duration is inferred automatically from PTS values seen at RTP jitter "
        "buffer. If set to -1, disables frame rate based NTP timestamp correction.",
        0,
        UINT64_MAX,
    ),
    BOOL("async-process", True, "Enable asynchronous processing of buffer"),
    BOOL(
        "no-pipeline-eos",
        False,
        "Boolean property so that EOS is not propagated downstream when all sink pads are at EOS. "
        "(Experimental)",
    ),
)


@dataclass
class _Source:
    """What the muxer knows about one sink pad."""

    index: int
    pad: GstBase.AggregatorPad
    layout: FrameLayout | None = None
    framerate: tuple[int, int] | None = None
    frame_num: int = 0
    announced: bool = False  # nv-pad-added sent


#: a frame taken into a batch: its pad, its buffer, its ntp timestamp, when it was taken
_Taken = tuple[_Source, Gst.Buffer, int, float]


@dataclass
class _Batch:
    """The batch being formed: (source, buffer, ntp, taken) per frame, and when its first frame came.

    ``taken`` is when the frame was taken from its pad (``time.monotonic()``): the start of the
    muxer's latency mark.
    """

    frames: list[_Taken] = field(default_factory=list)
    started_ns: int | None = None  # running time of the first frame's arrival


class NvStreamMux(PropertyStore, GstBase.Aggregator):
    __gtype_name__ = "GstNvStreamMux"
    __gstmetadata__ = (
        "Stream multiplexer",
        "Generic",
        "N-to-1 pipe stream multiplexing (edge-harness: CPU emulation)",
        "edge-harness",
    )
    __gsttemplates__ = (
        Gst.PadTemplate.new_with_gtype(
            "sink_%u",
            Gst.PadDirection.SINK,
            Gst.PadPresence.REQUEST,
            nvmm_caps(),
            GstBase.AggregatorPad.__gtype__,
        ),
        Gst.PadTemplate.new_with_gtype(
            "src", Gst.PadDirection.SRC, Gst.PadPresence.ALWAYS, nvmm_caps(), GstBase.AggregatorPad.__gtype__
        ),
    )
    FACTORY_NAME = "nvstreammux"
    RANK = Gst.Rank.PRIMARY
    PROPERTIES = PROPERTIES
    __gproperties__ = gproperties(PROPERTIES)

    def __init__(self) -> None:
        super().__init__()
        self.init_properties()
        self._lock = threading.RLock()
        self._sources: dict[str, _Source] = {}
        self._batch = _Batch()
        self._next_pad = 0  # round robin: where the next collection starts
        self._batches_out = 0
        self._layout: FrameLayout | None = None
        self._framerate: tuple[int, int] | None = None
        self._caps_sent: Gst.Caps | None = None
        self._pending_events: deque[tuple[int, int]] = deque()
        self._wake = threading.Event()  # cuts a wait in aggregate() short on flush and stop
        self._latency_ns = 0  # the aggregator's latency, from the last latency query
        self._watched: tuple[Gst.Bin, int] | None = None  # the pipeline whose jitterbuffers we fix

    # -- properties --------------------------------------------------------------------------------
    def _batch_size(self) -> int:
        size = self.prop("batch-size")
        if size == 0:  # not set: one frame per source, as DeepStream apps usually configure it
            size = max(1, len(self._sources))
        return size

    def _transform(self) -> Transform:
        return Transform(
            interpolation=self.prop("interpolation-method"), enable_padding=self.prop("enable-padding")
        )

    # -- pads ------------------------------------------------------------------------------------
    def do_request_new_pad(self, templ: Gst.PadTemplate, name: str | None, caps: Gst.Caps | None) -> Gst.Pad:
        pad = GstBase.Aggregator.do_request_new_pad(self, templ, name, caps)
        if pad is not None:
            with self._lock:
                self._sources[pad.get_name()] = _Source(index=request_pad_index(pad), pad=pad)
        return pad

    def do_release_pad(self, pad: Gst.Pad) -> None:
        if not hasattr(self, "_lock"):
            # GstElement's dispose releases request pads after PyGObject has dropped the Python
            # wrapper: this is a fresh wrapper without our state, and nothing is left to tidy
            GstBase.Aggregator.do_release_pad(self, pad)
            return
        with self._lock:
            source = self._sources.pop(pad.get_name(), None)
            if source is not None:
                self._batch.frames = [f for f in self._batch.frames if f[0] is not source]
                self._pending_events.append((events.PAD_DELETED, source.index))
        GstBase.Aggregator.do_release_pad(self, pad)

    def do_sink_event(self, pad: GstBase.AggregatorPad, event: Gst.Event) -> bool:
        kind = event.type
        source = self._sources.get(pad.get_name())
        if kind == Gst.EventType.CAPS and source is not None:
            caps = event.parse_caps()
            try:
                layout = FrameLayout.from_caps(caps)
            except SurfaceError as err:
                self.refuse_caps(caps, str(err))
                return False
            with self._lock:
                source.layout = layout
                source.framerate = framerate_of(caps)
                if self._layout is None:
                    self._adopt_output(layout.format, source.framerate)
        elif kind == Gst.EventType.EOS and source is not None:
            self.post_message(events.stream_eos_message(self, source.index))
            with self._lock:
                self._pending_events.append((events.STREAM_EOS, source.index))
                if self.prop("frame-num-reset-on-eos"):
                    source.frame_num = 0
        elif kind == Gst.EventType.FLUSH_STOP and source is not None:
            with self._lock:  # a released or restarted source: forget its frames in the batch
                self._batch.frames = [f for f in self._batch.frames if f[0] is not source]
        return GstBase.Aggregator.do_sink_event(self, pad, event)

    def _adopt_output(self, fmt: str, framerate: tuple[int, int] | None) -> None:
        self._layout = FrameLayout.of(fmt, self.prop("width"), self.prop("height"))
        self._framerate = framerate if framerate and framerate[0] > 0 else None

    def _output_caps(self) -> Gst.Caps:
        assert self._layout is not None
        caps = fixed_video_caps(self._layout.format, self._layout.width, self._layout.height, self._framerate)
        structure = caps.get_structure(0)
        structure.set_value("batch-size", GObject.Value(GObject.TYPE_INT, self._batch_size()))
        structure.set_value("num-surfaces-per-frame", GObject.Value(GObject.TYPE_INT, 1))
        return caps

    # -- state -------------------------------------------------------------------------------------
    def do_change_state(self, transition: Gst.StateChange) -> Gst.StateChangeReturn:
        if self.refuses_to_start(transition):
            return Gst.StateChangeReturn.FAILURE
        if transition == Gst.StateChange.NULL_TO_READY:
            self._watch_rtsp_sources()
        if transition == Gst.StateChange.READY_TO_PAUSED:
            self._wake.clear()
            if not self.prop("width") or not self.prop("height"):
                post_error(
                    self,
                    f"{self.get_name()}: Output width and height must be set (width={self.prop('width')}, "
                    f"height={self.prop('height')}): the legacy nvstreammux scales every frame to them",
                    domain=Gst.CoreError,
                    code=Gst.CoreError.NEGOTIATION,
                )
                return Gst.StateChangeReturn.FAILURE
            # timeouts need the aggregator's live mode (it waits on the clock only when live)
            self.set_force_live(self.prop("batched-push-timeout") >= 0 or self.prop("live-source"))
            self.set_latency(self.prop("max-latency"), self.prop("max-latency"))
        if transition == Gst.StateChange.PAUSED_TO_READY:
            # before the aggregator deactivates its pads: a wait in aggregate() holds the src pad's
            # stream lock, which stopping the task needs (do_stop only comes after that)
            self._wake.set()
            with self._lock:
                self._batch = _Batch()
                self._batches_out = 0
                self._caps_sent = None
                self._pending_events.clear()
                for source in self._sources.values():
                    source.frame_num = 0
                    source.announced = False
        result = GstBase.Aggregator.do_change_state(self, transition)
        if transition == Gst.StateChange.READY_TO_NULL:
            self._unwatch_rtsp_sources()
        return result

    def _watch_rtsp_sources(self) -> None:
        """RTSP sources anywhere in our pipeline end when their stream ends (see gst/jitterbuffer.py).

        Every DeepStream pipeline batches its sources here, whether the app made them with
        uridecodebin, nvurisrcbin or rtspsrc, so the muxer is where the whole pipeline is watched.
        """
        pipeline = top_level_bin(self)
        if pipeline is not None and self._watched is None:
            self._watched = (pipeline, watch_jitterbuffers(pipeline))

    def _unwatch_rtsp_sources(self) -> None:
        if self._watched is not None:
            pipeline, handler = self._watched
            self._watched = None
            pipeline.disconnect(handler)

    def do_negotiate(self) -> bool:
        return True  # the output caps follow the first source (see _push)

    # -- batching ----------------------------------------------------------------------------------
    def _running_time_now(self) -> int | None:
        clock = self.get_clock()
        if clock is None:
            return None
        return clock.get_time() - self.get_base_time()

    def _deadline(self) -> int | None:
        """Running time at which the batch being formed must go (None: no timeout)."""
        timeout_us = self.prop("batched-push-timeout")
        if timeout_us < 0 or self._batch.started_ns is None:
            return None
        return self._batch.started_ns + timeout_us * 1000

    def do_get_next_time(self) -> int:
        """When a partial batch must go: ``batched-push-timeout`` after its first frame arrived."""
        with self._lock:
            if self._batch.started_ns is None and any(s.pad.has_buffer() for s in self._sources.values()):
                self._batch.started_ns = self._running_time_now()
            deadline = self._deadline()
        if deadline is None:
            return Gst.CLOCK_TIME_NONE  # wait for data
        # the aggregator adds its latency to the deadline: take it off. (Not get_latency(): the
        # aggregator calls this method holding the lock get_latency() takes.)
        return max(0, deadline - self._latency_ns)

    def do_src_query(self, query: Gst.Query) -> bool:
        answered = GstBase.Aggregator.do_src_query(self, query)
        if answered and query.type == Gst.QueryType.LATENCY:
            _live, minimum, _maximum = query.parse_latency()
            self._latency_ns = minimum if minimum != Gst.CLOCK_TIME_NONE else 0
        return answered

    def do_flush(self) -> Gst.FlowReturn:
        self._wake.set()
        return GstBase.Aggregator.do_flush(self)

    def do_stop(self) -> bool:
        self._wake.set()
        return True

    def do_aggregate(self, timeout: bool) -> Gst.FlowReturn:
        try:
            return self._aggregate(timeout)
        except Exception as err:  # fail the pipeline, never the streaming thread
            post_error(self, f"{self.get_name()}: {err}", domain=Gst.StreamError, code=Gst.StreamError.FAILED)
            return Gst.FlowReturn.ERROR

    def _aggregate(self, timeout: bool) -> Gst.FlowReturn:
        live = self.prop("live-source")
        with self._lock:
            batch_size = self._batch_size()
            sources = sorted(self._sources.values(), key=lambda s: s.index)
            self._collect(sources, batch_size, live)
            frames = self._batch.frames
            all_eos = all(s.pad.is_eos() for s in sources)
            push = bool(frames) and (len(frames) >= batch_size or timeout or all_eos)
            wait_until = None
            if frames and not push and live and self._blocked(sources):
                # every source still playing is in the batch and has its next frame waiting: nothing
                # can join before the timeout (the aggregator would call us again at once)
                wait_until = self._deadline()
                push = True
            batch = self._take_batch() if push else None
        if wait_until is not None:
            self._sleep_until(wait_until)
        if batch is not None:
            result = self._push(batch)
            if result != Gst.FlowReturn.OK:
                return result
        self._flush_events()
        with self._lock:
            finished = all_eos and not any(s.pad.has_buffer() for s in self._sources.values())
        if finished:
            if not self.prop("no-pipeline-eos"):
                return Gst.FlowReturn.EOS
            self._wake.wait(0.05)  # every source ended and none may come: poll for a new pad
            self._wake.clear()
            return NEED_DATA
        return Gst.FlowReturn.OK

    def _blocked(self, sources: list[_Source]) -> bool:
        in_batch = {id(s) for s, *_ in self._batch.frames}
        return all(s.pad.is_eos() or id(s) in in_batch for s in sources)

    def _sleep_until(self, running_time: int | None) -> None:
        now = self._running_time_now()
        if running_time is None or now is None or running_time <= now:
            return
        self._wake.wait((running_time - now) / Gst.SECOND)
        self._wake.clear()

    def _collect(self, sources: list[_Source], batch_size: int, live: bool) -> None:
        """Take waiting frames round-robin, one per source per turn, up to the batch size.

        Live sources give at most one frame to a batch; files may give several, in arrival order.
        """
        if not sources:
            return
        start = self._next_pad % len(sources)
        order = sources[start:] + sources[:start]
        in_batch = {id(s) for s, *_ in self._batch.frames}
        progress = True
        while progress and len(self._batch.frames) < batch_size:
            progress = False
            for position, source in enumerate(order):
                if len(self._batch.frames) >= batch_size:
                    break
                if live and id(source) in in_batch:
                    continue
                buffer = source.pad.pop_buffer()
                if buffer is None:
                    continue
                if self._batch.started_ns is None:
                    self._batch.started_ns = self._running_time_now()
                ntp = time.time_ns() if self.prop("attach-sys-ts") else 0
                self._batch.frames.append((source, buffer, ntp, time.monotonic()))
                in_batch.add(id(source))
                self._next_pad = (start + position + 1) % len(sources)
                progress = True

    def _take_batch(self) -> list[_Taken]:
        frames, self._batch = self._batch.frames, _Batch()
        return frames

    def _push(self, frames: list[_Taken]) -> Gst.FlowReturn:
        """Build the batched buffer and its meta, and push it (without holding the lock)."""
        with self._lock:
            out = self._build(frames)
        if out is None:
            return Gst.FlowReturn.NOT_NEGOTIATED
        return self.finish_buffer(out)

    def _build(self, frames: list[_Taken]) -> Gst.Buffer | None:
        if self._layout is None:
            first = next((s.layout for s, *_ in frames if s.layout is not None), None)
            if first is None:
                post_error(
                    self, f"{self.get_name()}: a frame arrived before its caps", domain=Gst.StreamError
                )
                return None
            self._adopt_output(first.format, None)
        layout = self._layout
        assert layout is not None
        caps = self._output_caps()
        if self._caps_sent is None or not caps.is_equal(self._caps_sent):
            self.set_src_caps(caps)
            self._caps_sent = caps
        out = new_batch_buffer(layout, len(frames))
        metas: list[FrameMeta] = []
        transform = self._transform()
        with map_surface(out, layout, write=True) as surface:
            for batch_id, (source, buffer, ntp, _taken) in enumerate(frames):
                if source.layout is None:
                    raise SurfaceError(f"sink_{source.index}: a frame arrived before its caps")
                with map_surface(buffer, source.layout) as incoming:
                    transform_frame(incoming.frames[0], surface.frames[batch_id], transform)
                frame = FrameMeta(
                    source_id=source.index,
                    frame_num=source.frame_num,
                    ntp_timestamp=ntp,
                    source_frame_width=source.layout.width,
                    source_frame_height=source.layout.height,
                    buf_pts=buffer.pts if buffer.pts != Gst.CLOCK_TIME_NONE else 0,
                    batch_id=batch_id,
                )
                if hasattr(type(frame), "num_surfaces_per_frame"):
                    frame.num_surfaces_per_frame = 1
                frame.latency.extend(latency_marks_of(buffer))  # the decoder's, when it measures
                source.frame_num += 1
                metas.append(frame)
                if not source.announced:
                    source.announced = True
                    self._pending_events.append((events.PAD_ADDED, source.index))
        self._timestamp(out, frames)
        # from taking each frame to the finished batch; DeepStream names the muxer's latency
        # component "nvstreammux-<element>" and prints it with the frame's source and number
        built, name = time.monotonic(), f"nvstreammux-{self.get_name()}"
        for frame, (*_, taken) in zip(metas, frames, strict=True):
            frame.latency.append((name, taken, built))
        attach_batch_meta(out, BatchMeta(frames=metas, max_frames_in_batch=self._batch_size()))
        attach_surface_layout(out, layout)
        self._batches_out += 1
        return out

    def _timestamp(self, out: Gst.Buffer, frames: list[_Taken]) -> None:
        duration = Gst.CLOCK_TIME_NONE
        if self._framerate is not None:
            duration = Gst.util_uint64_scale_int(Gst.SECOND, self._framerate[1], self._framerate[0])
        if self.prop("live-source"):
            out.pts = frames[-1][1].pts
        elif duration != Gst.CLOCK_TIME_NONE:
            out.pts = self._batches_out * duration
        else:
            out.pts = frames[-1][1].pts
        out.duration = duration

    def _flush_events(self) -> None:
        """Send the queued nv-* events, once the stream has started (after the first batch)."""
        while True:
            with self._lock:
                if self._caps_sent is None or not self._pending_events:
                    return
                event_type, source_id = self._pending_events.popleft()
            events.push_stream_event(self.srcpad, event_type, source_id)


ELEMENT = NvStreamMux
