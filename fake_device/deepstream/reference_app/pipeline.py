"""deepstream-app's pipeline, built on real GStreamer from a parsed config (create_pipeline).

The same structure as NVIDIA's deepstream-app (deepstream_app.c), with the emulated nv* elements
registered under DeepStream's factory names::

    multi_src_bin (sources → nvstreammux)
      → primary_gie_bin → tracking_bin → dsanalytics_bin      (the "common elements")
      → [common_msg_conv] → common_analytics_tee
          ├→ sink_sub_bin (queue → nvmsgconv → nvmsgbroker), one per type-6 sink
          └→ tiled:   tiler_tee → tiled_display_bin → processing_bin_0
             untiled: demuxer → processing_bin_<N> per source that has a sink
    processing_bin = [osd_bin] → sink_bin (queue → tee → the display sinks of that source)

and deepstream-app's probes on the same pads: the gie KITTI dump on the primary GIE's src, the
tracker KITTI dump (and deepstream-test5's events, when an old-API nvmsgconv will read them) on
the last common element's src, ``process_meta`` in front of the OSD (or the sink bin), the
``**PERF:`` counter on the tiler's (or demuxer's) sink pad, latency on the first sink's. Only the
bins are built here; each kind of bin has its module (``source_bin``, ``primary_gie_bin`` …).

:meth:`ReferencePipeline.run` plays the pipeline in a GLib main loop on the default context (the
RTSP servers live there) until end of stream, an ERROR message, or :meth:`ReferencePipeline.stop`,
which sends EOS so that files are finalised and messages delivered before the pipeline stops.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from fake_device.deepstream.gst.carrier import batch_meta_of
from fake_device.deepstream.gst.element import post_error
from fake_device.deepstream.gst.registry import register_all
from fake_device.deepstream.gst.runtime import GLib, Gst
from fake_device.deepstream.measure import LatencyRecorder, PerfMeter, Printer
from fake_device.deepstream.meta import BatchMeta, nvds_acquire_meta_lock, nvds_release_meta_lock
from fake_device.deepstream.msgbroker import NvMsgBroker
from fake_device.deepstream.reference_app import building
from fake_device.deepstream.reference_app.analytics_bin import create_dsanalytics_bin
from fake_device.deepstream.reference_app.config import AppConfig, SinkConfig, SinkType, SourceSpec
from fake_device.deepstream.reference_app.osd_bin import create_osd_bin
from fake_device.deepstream.reference_app.primary_gie_bin import create_primary_gie_bin
from fake_device.deepstream.reference_app.probes import KittiWriter, ObjectDisplay, ObjectEventProbe
from fake_device.deepstream.reference_app.sink_bin import (
    SinkBins,
    configure_msgconv,
    create_msg_conv_broker_bin,
    create_sink_bin,
)
from fake_device.deepstream.reference_app.source_bin import MultiSourceBin, create_multi_source_bin
from fake_device.deepstream.reference_app.tiled_display_bin import create_tiled_display_bin
from fake_device.deepstream.reference_app.tracker_bin import create_tracking_bin
from fake_device.deepstream.source import SourceError, parse_uri
from harness.errors import HarnessError

log = logging.getLogger(__name__)

#: how long a stop waits for EOS to reach the sinks (files finalised, messages delivered: the
#: broker alone may wait 10 s for librdkafka) before the pipeline is stopped anyway
STOP_TIMEOUT_S = 30.0


class PipelineError(HarnessError):
    """An ERROR message on the bus: ``element`` posted ``text`` (``debug``: its details)."""

    def __init__(self, element: str, text: str, debug: str = "") -> None:
        super().__init__(f"{element}: {text}")
        self.element = element
        self.text = text
        self.debug = debug


@dataclass
class RunResult:
    """What a run did: frames per source at the tiler's (or demuxer's) input, wall time."""

    frames_per_source: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0
    stopped: bool = False  # ended by stop() (a signal) rather than end of stream

    @property
    def frames(self) -> int:
        return sum(self.frames_per_source.values())

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def _stderr(text: str) -> None:
    sys.stderr.write(text)
    sys.stderr.flush()


def check_sources(specs: Sequence[SourceSpec]) -> None:
    """Fail on a bad URI or a missing file before anything is started (Triton takes seconds)."""
    for spec in specs:
        try:
            scheme, target = parse_uri(spec.uri)
        except SourceError as err:
            raise SourceError(f"[{spec.group}] {err.message}", hint=err.hint) from None
        if scheme == "file" and not Path(target).is_file():
            raise SourceError(
                f"[{spec.group}] source {spec.uri}: no such file {target}",
                hint="a relative file:// URI is relative to the config file's folder, as in deepstream-app",
            )


def add_batch_probe(pad: Gst.Pad, callback: Callable[[BatchMeta], None], owner: Gst.Element) -> None:
    """A buffer probe calling ``callback`` with each buffer's batch meta, under the meta lock
    (tee branches share it). An exception fails the pipeline with an ERROR from ``owner``."""

    def probe(_pad: Gst.Pad, info: Gst.PadProbeInfo) -> Gst.PadProbeReturn:
        buffer = info.get_buffer()
        batch = batch_meta_of(buffer) if buffer is not None else None
        if batch is None:
            return Gst.PadProbeReturn.OK
        nvds_acquire_meta_lock(batch)
        try:
            callback(batch)
        except Exception as err:  # a probe must end the run with a message, not kill the thread
            post_error(owner, f"{owner.get_name()}: probe {callback!r} failed: {err}", domain=Gst.StreamError)
        finally:
            nvds_release_meta_lock(batch)
        return Gst.PadProbeReturn.OK

    pad.add_probe(Gst.PadProbeType.BUFFER, probe)


class ReferencePipeline:
    """The GStreamer pipeline deepstream-app builds for a config, and how it runs.

    ``pipeline`` is the Gst.Pipeline (elements by deepstream-app's names:
    ``pipeline.get_by_name("primary_gie")``); ``sources`` the streams; ``broker_elements`` the
    nvmsgbroker of each type-6 sink and ``brokers`` their Kafka adaptors (once started);
    ``sinks`` the last element of every sink sub-bin; ``rtsp`` the RTSP servers; ``event_probe``,
    ``kitti`` and ``perf`` the probes. ``warnings`` collects WARNING messages (``element: text``).
    """

    def __init__(
        self,
        config: AppConfig,
        sources: list[SourceSpec],
        *,
        printer: Printer | None = None,
        on_batch: Callable[[BatchMeta], None] | None = None,
        show_bbox_text: bool = False,
    ) -> None:
        self.app_config = config
        self.sources = sources
        self.pipeline = Gst.Pipeline.new("pipeline")
        self.sink_bins = SinkBins()
        self.event_probe: ObjectEventProbe | None = None
        self.kitti: list[KittiWriter] = []
        app = config.application
        self.perf = PerfMeter(
            len(sources),
            interval=app.perf_measurement_interval_sec,
            enabled=app.enable_perf_measurement,
            style="deepstream-app",
            **({"printer": printer} if printer is not None else {}),
        )
        self.latency = LatencyRecorder.from_environment()
        self.brokers: list[NvMsgBroker] = []
        self.warnings: list[str] = []
        self.on_batch = on_batch
        self.show_bbox_text = show_bbox_text
        self.src_bin: MultiSourceBin | None = None
        self._frames: dict[int, int] = {}
        self._frames_lock = threading.Lock()
        self._loop: GLib.MainLoop | None = None
        self._error: PipelineError | None = None
        self._stopping = False
        self._closed = False

    # -- parts --------------------------------------------------------------------------------------
    @property
    def broker_elements(self) -> list[Gst.Element]:
        return self.sink_bins.brokers

    @property
    def sinks(self) -> list[Gst.Element]:
        return self.sink_bins.sinks

    @property
    def rtsp(self) -> list[Any]:
        return self.sink_bins.rtsp

    def element(self, name: str) -> Gst.Element | None:
        """An element anywhere in the pipeline, by its deepstream-app name."""
        return self.pipeline.get_by_name(name)

    # -- running ------------------------------------------------------------------------------------
    def run(self) -> RunResult:
        """Play until end of stream or :meth:`stop`; a :class:`PipelineError` on an ERROR message."""
        started = time.monotonic()
        loop = GLib.MainLoop.new(None, False)
        self._loop = loop
        bus = self.pipeline.get_bus()
        watch = bus.add_watch(GLib.PRIORITY_DEFAULT, self._on_message)
        timer = GLib.timeout_add(int(self.perf.interval * 1000), self._perf_tick)
        try:
            if self.pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
                self._drain(bus)
                if self._error is None:
                    self._error = PipelineError("pipeline", "can't set pipeline to playing state.")
            elif not self._stopping or self._error is None:
                loop.run()
        finally:
            GLib.Source.remove(timer)
            GLib.Source.remove(watch)
            self._loop = None
        if self._error is not None:
            raise self._error
        with self._frames_lock:
            frames = dict(self._frames)
        return RunResult(frames_per_source=frames, seconds=time.monotonic() - started, stopped=self._stopping)

    def stop(self) -> None:
        """End the run cleanly (from any thread or a signal handler): EOS through the pipeline."""
        GLib.idle_add(self._begin_stop)

    def close(self) -> None:
        """Stop every element (Triton, the brokers' last deliveries) and the RTSP servers."""
        if self._closed:
            return
        self._closed = True
        self.pipeline.set_state(Gst.State.NULL)
        self.pipeline.get_state(Gst.CLOCK_TIME_NONE)
        for server in self.rtsp:
            server.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- the main loop ------------------------------------------------------------------------------
    def _begin_stop(self) -> bool:
        if self._stopping or self._loop is None:
            self._stopping = True
            return False
        self._stopping = True
        if self.src_bin is not None:
            self.src_bin.stop_looping()
        self.pipeline.send_event(Gst.Event.new_eos())
        GLib.timeout_add(int(STOP_TIMEOUT_S * 1000), self._give_up)
        return False

    def _give_up(self) -> bool:
        log.warning("end of stream did not reach the sinks within %g s: stopping anyway", STOP_TIMEOUT_S)
        if self._loop is not None:
            self._loop.quit()
        return False

    def _perf_tick(self) -> bool:
        self.perf.poll()
        return True

    def _on_message(self, _bus: Gst.Bus, message: Gst.Message) -> bool:
        kind = message.type
        if kind == Gst.MessageType.EOS:
            if self._loop is not None:
                self._loop.quit()
        elif kind == Gst.MessageType.ERROR:
            self._record_error(message)
            if self._loop is not None:
                self._loop.quit()
        elif kind in (Gst.MessageType.WARNING, Gst.MessageType.INFO):
            self._report(message)
        elif kind == Gst.MessageType.STATE_CHANGED and message.src == self.pipeline:
            _old, new, _pending = message.parse_state_changed()
            if new in (Gst.State.PAUSED, Gst.State.PLAYING):
                self.brokers = [e.broker for e in self.broker_elements if getattr(e, "broker", None)]
        return True

    def _drain(self, bus: Gst.Bus) -> None:
        """After a failed state change: what the elements posted (the watch never ran)."""
        while (message := bus.pop_filtered(Gst.MessageType.ERROR | Gst.MessageType.WARNING)) is not None:
            if message.type == Gst.MessageType.ERROR:
                self._record_error(message)
            else:
                self._report(message)

    def _record_error(self, message: Gst.Message) -> None:
        error, debug = message.parse_error()
        if self._error is None:  # the first error is the cause; the rest follow from it
            self._error = PipelineError(message.src.get_name(), error.message, debug or "")

    def _report(self, message: Gst.Message) -> None:
        """bus_callback's WARNING/INFO lines on stderr; a lost message counts as a failure."""
        if message.type == Gst.MessageType.WARNING:
            error, debug = message.parse_warning()
            what = "WARNING"
            self.warnings.append(f"{message.src.get_name()}: {error.message}")
        else:
            error, debug = message.parse_info()
            what = "INFO"
        text = f"{what} from {message.src.get_name()}: {error.message}\n"
        if debug:
            text += f"Debug info: {debug}\n"
        _stderr(text)

    @property
    def undelivered(self) -> list[str]:
        """The brokers' warnings about messages that did not reach Kafka."""
        names = {e.get_name() for e in self.broker_elements}
        return [w for w in self.warnings if w.split(":", 1)[0] in names]

    # -- probes -------------------------------------------------------------------------------------
    def _count_frames(self, batch: BatchMeta) -> None:
        """sink_bin_buf_probe: frames per stream for ``**PERF:`` and the run's result."""
        with self._frames_lock:
            for frame in batch.frames:
                self._frames[frame.pad_index] = self._frames.get(frame.pad_index, 0) + 1
        for frame in batch.frames:
            self.perf.tick(frame.pad_index)

    def _analytics_done(self, batch: BatchMeta) -> None:
        """analytics_done_buf_prob: KITTI track output, then deepstream-test5's events."""
        for writer in self.kitti:
            if writer.track:
                writer(batch)
        if self.event_probe is not None:
            self.event_probe(batch)
        if self.on_batch is not None:
            self.on_batch(batch)

    def _measure_latency(self, batch: BatchMeta) -> None:
        self.latency.measure(batch)


def _display_sinks(config: AppConfig, source_id: int) -> list[SinkConfig]:
    return [s for s in config.sinks if s.type != SinkType.MSG_CONV_BROKER and s.source_id == source_id]


def _create_processing_instance(
    pipeline: ReferencePipeline, index: int, display: ObjectDisplay
) -> tuple[Gst.Bin, Gst.Element | None]:
    """create_processing_instance: ``processing_bin_<index>`` = [osd_bin] → sink_bin; the
    process_meta probe in front of the OSD (or of the sinks). Returns the bin and its first sink."""
    config = pipeline.app_config
    bin_ = building.new_bin(f"processing_bin_{index}")
    made = pipeline.sink_bins
    first_sink = len(made.sinks)
    sink_bin = create_sink_bin(_display_sinks(config, index), made)
    building.add(bin_, sink_bin)
    head: Gst.Element = sink_bin
    probe_pad = sink_bin.get_static_pad("sink")
    if config.osd.enable:
        osd_bin, nvosd = create_osd_bin(config.osd)
        building.add(bin_, osd_bin)
        building.link(osd_bin, sink_bin)
        head = osd_bin
        probe_pad = nvosd.get_static_pad("sink")
    add_batch_probe(probe_pad, display, bin_)
    building.ghost(bin_, head, "sink")
    sink = made.sinks[first_sink] if len(made.sinks) > first_sink else None
    return bin_, sink


def _create_common_elements(
    pipeline: ReferencePipeline, bin_: Gst.Pipeline
) -> tuple[Gst.Element | None, Gst.Element | None]:
    """create_common_elements: (first, last) of primary GIE → tracker → nvdsanalytics → [common
    msgconv] → ``common_analytics_tee``; (None, None) when none of them is enabled."""
    config = pipeline.app_config
    chain: list[Gst.Element] = []
    if config.primary_gie.enable:
        gie_bin, _gie = create_primary_gie_bin(config.primary_gie)
        chain.append(gie_bin)
        if config.application.gie_kitti_output_dir is not None:
            writer = KittiWriter(config.application.gie_kitti_output_dir, track=False)
            pipeline.kitti.append(writer)
            add_batch_probe(gie_bin.get_static_pad("src"), writer, gie_bin)
    if config.tracker.enable:
        chain.append(create_tracking_bin(config.tracker)[0])
    if config.analytics.enable:
        chain.append(create_dsanalytics_bin(config.analytics)[0])
    if not chain:
        return None, None
    building.add(bin_, *chain)
    building.link(*chain)
    last = chain[-1]
    if config.application.kitti_track_output_dir is not None:
        pipeline.kitti.append(KittiWriter(config.application.kitti_track_output_dir, track=True))
    add_batch_probe(last.get_static_pad("src"), pipeline._analytics_done, last)
    if config.message_converter is not None:
        common = building.make("nvmsgconv", "common_msg_conv")
        configure_msgconv(common, config.message_converter)
        pipeline.sink_bins.converters.append(common)
        building.add(bin_, common)
        building.link(last, common)
        last = common
    tee = building.make(building.TEE, "common_analytics_tee")
    building.add(bin_, tee)
    building.link(last, tee)
    return chain[0], tee


def _old_api_converters(config: AppConfig) -> bool:
    """Whether an nvmsgconv will convert events a probe attached (``msg-conv-msg2p-new-api=0``)."""
    settings = [
        s.msgconv for s in config.sinks if s.type == SinkType.MSG_CONV_BROKER and not s.disable_msgconv
    ]
    if config.message_converter is not None:
        settings.append(config.message_converter)
    return any(not s.msg2p_new_api for s in settings)


def build_reference_pipeline(
    config: AppConfig,
    *,
    input_uri: str | None = None,
    show_bbox_text: bool = False,
    printer: Printer | None = None,
    on_batch: Callable[[BatchMeta], None] | None = None,
) -> ReferencePipeline:
    """create_pipeline: every bin of ``config``'s pipeline, made and linked (nothing started).

    ``input_uri`` replaces the first source's URI (``-i``); ``show_bbox_text`` is ``-t`` (labels
    in tiled mode with several sources); ``printer`` receives the ``**PERF:`` text (stdout by
    default); ``on_batch`` sees each batch after the last common element (tracker/analytics).
    Element start-up (broker connect, model load, Triton) happens in :meth:`ReferencePipeline.run`,
    sinks first, so a broker that cannot be reached fails before Triton is started.
    """
    register_all()
    specs = config.sources(input_uri)
    check_sources(specs)
    mux = config.streammux
    if mux.batch_size and mux.batch_size != len(specs):
        log.warning("[streammux] batch-size=%d with %d sources", mux.batch_size, len(specs))
    pipeline = ReferencePipeline(
        config, specs, printer=printer, on_batch=on_batch, show_bbox_text=show_bbox_text
    )
    try:
        _build(pipeline)
    except BaseException:
        pipeline.close()
        raise
    return pipeline


def _build(pipeline: ReferencePipeline) -> None:
    config, specs, top = pipeline.app_config, pipeline.sources, pipeline.pipeline
    src_bin = create_multi_source_bin(specs, config.streammux)
    pipeline.src_bin = src_bin
    building.add(top, src_bin.bin)

    tiled = config.tiled_display
    show_text = pipeline.show_bbox_text or not tiled.enable or len(specs) == 1
    display = ObjectDisplay.from_config(config, show_text=show_text)
    first_sinks: list[Gst.Element] = []
    if tiled.enable:
        instance, sink = _create_processing_instance(pipeline, 0, display)
        tiler_bin, _tiler = create_tiled_display_bin(tiled, len(specs))
        tiler_tee = building.make(building.TEE, "tiler_tee")
        building.add(top, instance, tiler_bin, tiler_tee)
        building.link(tiler_bin, instance)
        building.link_to_tee(tiler_tee, tiler_bin)
        last_elem = tiler_tee
        fps_pad = tiler_bin.get_static_pad("sink")
        first_sinks += [sink] if sink is not None else []
    else:
        demuxer = building.make("nvstreamdemux", "demuxer")
        building.add(top, demuxer)
        for spec in specs:
            if not any(s.source_id == spec.source_id for s in config.sinks):
                continue  # is_sink_available_for_source_id: nothing shows this stream
            instance, sink = _create_processing_instance(pipeline, spec.source_id, display)
            building.add(top, instance)
            source = demuxer.request_pad_simple(f"src_{spec.source_id}")
            if source is None or source.link(instance.get_static_pad("sink")) != Gst.PadLinkReturn.OK:
                raise building.BuildError(f"Failed to link 'demuxer' and '{instance.get_name()}'")
            first_sinks += [sink] if sink is not None else []
        last_elem = demuxer
        fps_pad = demuxer.get_static_pad("sink")

    if _old_api_converters(config):
        camera_ids = {spec.source_id: spec.camera_id for spec in specs}
        pipeline.event_probe = ObjectEventProbe(camera_ids, config.streammux.width, config.streammux.height)
    first_common, common_tee = _create_common_elements(pipeline, top)
    for sink in config.sinks:  # add_and_link_broker_sink
        if sink.type != SinkType.MSG_CONV_BROKER:
            continue
        if common_tee is None:
            raise building.BuildError(
                f"[{sink.group}] type=6: broker added without analytics; check config file",
                hint="a message sink needs [primary-gie], [tracker] or [nvds-analytics] enabled",
            )
        broker_bin = create_msg_conv_broker_bin(sink, pipeline.sink_bins)
        building.add(top, broker_bin)
        building.link_to_tee(common_tee, broker_bin)
    if common_tee is not None and first_common is not None:
        building.link(common_tee, last_elem)
        last_elem = first_common
    building.link(src_bin.bin, last_elem)

    add_batch_probe(fps_pad, pipeline._count_frames, fps_pad.get_parent_element())
    if pipeline.latency.print_frames:
        for sink in first_sinks:
            add_batch_probe(sink.get_static_pad("sink"), pipeline._measure_latency, sink)
