#!/usr/bin/env python3
"""Traffic monitoring with DeepStream: the seed's app (jastinjn/deepstream-greengrass-app).

A DeepStream Python app written with GStreamer and NVIDIA's ``pyds`` bindings only — the same
file runs on a Jetson with the DeepStream SDK and on any machine that provides DeepStream's
elements and ``pyds``. Pipeline, as the seed's::

    source bin(s) → nvstreammux (1280x720) → queue → primary GIE (nvinferserver | nvinfer) → queue
    → nvtracker (NvSORT) → queue → nvdsanalytics → [probe] → nvmultistreamtiler → nvvideoconvert
    → nvdsosd → tee ─┬─ queue → nvmsgconv (minimal schema) → nvmsgbroker (Kafka)
                     └─ queue → sink (RTSP | nv3dsink | fakesink)

The probe on nvdsanalytics' src pad does what the seed's ``nvanalytics_src_pad_buffer_probe``
does: on every 30th frame it attaches an event message for each object inside ROI ``TL1``
(timestamped by ``pyds.generate_ts_rfc3339`` in the probe, so a consumer measures probe → Kafka
latency; ``NVDS_ENABLE_LATENCY_MEASUREMENT=1`` adds decoder → probe), and it removes the objects
outside the ROI, so the OSD draws only those. One addition to the seed's events: a vehicle object
whose type is the detector's label.

Run from the folder that holds the configs, as the seed's recipe does::

    python3 deepstream_app.py -g nvinferserver -c config_infer_primary_rtdetr_triton.yml \\
        -i file://$(pwd)/awsgg-example.mp4 --conn-str='localhost;9092;quickstart-events' --silent -d rtsp

The options after the seed's own are additions (repeatable ``-i``, RTSP ports, ``--live``,
``--file-loop``, ``--track-output``, ``--stats-json``, ``--check``); the seed's command line works
unchanged. Exit status: 0 at end of stream or after SIGTERM/SIGINT (the pipeline is drained with
an end-of-stream, so every message is handed to the broker), 1 on a pipeline error.
"""

import argparse
import itertools
import json
import os
import signal
import socket
import sys
import time

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
import pyds  # noqa: E402
from common.bus_call import BusWatch  # noqa: E402
from common.perf import PerfData  # noqa: E402
from common.tracks import TrackFile  # noqa: E402
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

MUXER_WIDTH, MUXER_HEIGHT = 1280, 720
ROI_LABEL = "TL1"
EVENT_FRAME_INTERVAL = 30
SENSOR_STR = "sensor-0"
MAX_TIME_STAMP_LEN = 32
TRACKER_LIB = "/opt/nvidia/deepstream/deepstream/lib/libnvds_nvmultiobjecttracker.so"
KAFKA_PROTO_LIB = "/opt/nvidia/deepstream/deepstream/lib/libnvds_kafka_proto.so"
TRACKER_CONFIG = "config_tracker_NvSORT.yml"
ANALYTICS_CONFIG = "config_nvdsanalytics.txt"
MSGCONV_CONFIG = "msgconv_config.txt"
DEFAULT_PGIE_CONFIG = "config_infer_primary_rtdetr.txt"
DEFAULT_CONN_STR = "localhost;9092;quickstart-events"
ANALYTICS_OBJ_META = "NVIDIA.DSANALYTICSOBJ.USER_META"


def parse_args(argv=None):
    """The seed's options (same names, defaults and checks), then the additions."""
    parser = argparse.ArgumentParser(prog="traffic-detector-nvds", description="traffic monitoring")
    parser.add_argument(
        "-i", "--input", metavar="URI", action="append",
        help="input stream URI (file:///abs/path.mp4 or rtsp://…); repeat for several streams",
    )  # fmt: skip
    parser.add_argument(
        "-c", "--configfile", metavar="config_location.txt", default=None,
        help="config file of the primary GIE",
    )  # fmt: skip
    parser.add_argument(
        "-g", "--pgie", default=None, choices=["nvinfer", "nvinferserver"], help="primary inference element"
    )
    parser.add_argument(
        "--conn-str", dest="conn_str", default=DEFAULT_CONN_STR, metavar="STR",
        help="Kafka connection string host;port;topic",
    )  # fmt: skip
    parser.add_argument(
        "-d", "--display", default=None, choices=["osd", "no-display", "rtsp"], help="video output"
    )
    parser.add_argument("-s", "--silent", action="store_true", default=False, help="no **PERF lines")
    extra = parser.add_argument_group("additions to the seed's options")
    extra.add_argument("--rtsp-port", type=int, default=8554, help="RTSP server port (default 8554)")
    extra.add_argument("--rtsp-mount", default="/ds-test", help="RTSP mount point (default /ds-test)")
    extra.add_argument(
        "--udp-port", type=int, default=0,
        help="UDP port between the encoder and the RTSP server (default: a free one)",
    )  # fmt: skip
    extra.add_argument(
        "--live", action="store_true", help="play file sources at their frame rate, like a camera"
    )
    extra.add_argument("--file-loop", action="store_true", help="restart file sources at their end")
    extra.add_argument("--track-output", metavar="FILE", help="write every tracked object (MOT rows) here")
    extra.add_argument("--stats-json", metavar="FILE", help="write frame, event and FPS figures here")
    extra.add_argument(
        "--check",
        action="store_true",
        help="run one frame through the configs and the model, then exit (0 = ready): a preflight "
        "for a recipe's Install step, so a broken update fails before the deployment counts as done",
    )
    extra.add_argument("--perf-interval", type=float, default=1.0, help="seconds between **PERF lines")
    args = parser.parse_args(argv)
    if not args.input and not args.check:
        parser.error("the following arguments are required: -i/--input")
    if bool(args.configfile) != bool(args.pgie):
        parser.print_help(sys.stderr)
        parser.exit(2, "\nEither pgie or configfile is missing. Please specify both! Exiting...\n")
    return args


def make_element(factory, name, **properties):
    element = Gst.ElementFactory.make(factory, name)
    if element is None:
        raise RuntimeError(f"unable to create {factory} ({name})")
    for key, value in properties.items():
        element.set_property(key.replace("_", "-"), value)
    return element


# -- the probe -----------------------------------------------------------------------------------


def meta_copy_func(data, user_data):
    """Deep copy of an event message meta (the seed's callback; used when a buffer is copied)."""
    user_meta = pyds.NvDsUserMeta.cast(data)
    srcmeta = pyds.NvDsEventMsgMeta.cast(user_meta.user_meta_data)
    dstmeta_ptr = pyds.memdup(pyds.get_ptr(srcmeta), sys.getsizeof(pyds.NvDsEventMsgMeta))
    dstmeta = pyds.NvDsEventMsgMeta.cast(dstmeta_ptr)
    dstmeta.ts = pyds.memdup(srcmeta.ts, MAX_TIME_STAMP_LEN + 1)
    dstmeta.sensorStr = pyds.get_string(srcmeta.sensorStr)
    if srcmeta.extMsgSize > 0:
        srcobj = pyds.NvDsVehicleObject.cast(srcmeta.extMsg)
        obj = pyds.alloc_nvds_vehicle_object()
        obj.type = pyds.get_string(srcobj.type)
        obj.make = pyds.get_string(srcobj.make)
        obj.model = pyds.get_string(srcobj.model)
        obj.color = pyds.get_string(srcobj.color)
        obj.license = pyds.get_string(srcobj.license)
        obj.region = pyds.get_string(srcobj.region)
        dstmeta.extMsg = obj
        dstmeta.extMsgSize = sys.getsizeof(pyds.NvDsVehicleObject)
    return dstmeta


def meta_free_func(data, user_data):
    """Frees what meta_copy_func and the probe allocated (the seed's callback)."""
    user_meta = pyds.NvDsUserMeta.cast(data)
    srcmeta = pyds.NvDsEventMsgMeta.cast(user_meta.user_meta_data)
    pyds.free_buffer(srcmeta.ts)
    pyds.free_buffer(srcmeta.sensorStr)
    if srcmeta.extMsgSize > 0:
        obj = pyds.NvDsVehicleObject.cast(srcmeta.extMsg)
        for field in ("type", "color", "make", "model", "license", "region"):
            pyds.free_buffer(getattr(obj, field))
        pyds.free_gbuffer(srcmeta.extMsg)
        srcmeta.extMsgSize = 0


class RoiProbe:
    """The seed's probe on nvdsanalytics' src pad, plus the optional track file."""

    def __init__(self, perf, tracks=None):
        self.perf = perf
        self.tracks = tracks
        self.events = 0
        self.event_frames = 0  # frames that got events: nvmsgconv's minimal schema sends one message each
        self.frames = 0
        self.measure_latency = os.environ.get("NVDS_ENABLE_LATENCY_MEASUREMENT") == "1"
        self.analytics_obj_type = pyds.nvds_get_user_meta_type(ANALYTICS_OBJ_META)

    def __call__(self, pad, info, u_data):
        gst_buffer = info.get_buffer()
        if not gst_buffer:
            print("Unable to get GstBuffer ")
            return Gst.PadProbeReturn.OK
        batch_meta = pyds.gst_buffer_get_nvds_batch_meta(hash(gst_buffer))
        l_frame = batch_meta.frame_meta_list
        while l_frame is not None:
            try:
                frame_meta = pyds.NvDsFrameMeta.cast(l_frame.data)
            except StopIteration:
                break
            self._frame(batch_meta, frame_meta)
            self.perf.update_fps(f"stream{frame_meta.pad_index}")
            self.frames += 1
            try:
                l_frame = l_frame.next
            except StopIteration:
                break
        if self.tracks is not None:
            self.tracks.flush()
        # with NVDS_ENABLE_LATENCY_MEASUREMENT=1 pyds prints each frame's latency, as in deepstream-test3
        if self.measure_latency and pyds.nvds_measure_buffer_latency(hash(gst_buffer)) == 0:
            print("Unable to get number of sources in GstBuffer for latency measurement")
        return Gst.PadProbeReturn.OK

    def _frame(self, batch_meta, frame_meta):
        frame_number = frame_meta.frame_num
        events_before = self.events
        l_obj = frame_meta.obj_meta_list
        while l_obj is not None:
            try:
                obj_meta = pyds.NvDsObjectMeta.cast(l_obj.data)
            except StopIteration:
                break
            rois = self._rois(obj_meta)
            if self.tracks is not None:
                self.tracks.write(frame_number, obj_meta, rois)
            in_roi = ROI_LABEL in rois
            if in_roi and frame_number % EVENT_FRAME_INTERVAL == 0:
                self._attach_event(batch_meta, frame_meta, obj_meta)
            try:
                l_obj = l_obj.next
            except StopIteration:
                l_obj = None
            if not in_roi:  # as the seed: only objects in the ROI are drawn and reported
                pyds.nvds_remove_obj_meta_from_frame(frame_meta, obj_meta)
        if self.events > events_before:
            self.event_frames += 1

    def _rois(self, obj_meta):
        l_user = obj_meta.obj_user_meta_list
        while l_user is not None:
            try:
                user_meta = pyds.NvDsUserMeta.cast(l_user.data)
            except StopIteration:
                break
            if user_meta.base_meta.meta_type == self.analytics_obj_type:
                info = pyds.NvDsAnalyticsObjInfo.cast(user_meta.user_meta_data)
                return list(info.roiStatus)
            try:
                l_user = l_user.next
            except StopIteration:
                break
        return []

    def _attach_event(self, batch_meta, frame_meta, obj_meta):
        user_event_meta = pyds.nvds_acquire_user_meta_from_pool(batch_meta)
        if not user_event_meta:
            print("Error in attaching event meta to buffer\n")
            return
        msg_meta = pyds.alloc_nvds_event_msg_meta(user_event_meta)
        msg_meta.bbox.top = obj_meta.rect_params.top
        msg_meta.bbox.left = obj_meta.rect_params.left
        msg_meta.bbox.width = obj_meta.rect_params.width
        msg_meta.bbox.height = obj_meta.rect_params.height
        msg_meta.frameId = frame_meta.frame_num
        msg_meta.trackingId = obj_meta.object_id & 0xFFFFFFFFFFFFFFFF
        msg_meta.confidence = obj_meta.confidence
        msg_meta.objClassId = obj_meta.class_id
        msg_meta.sensorId = frame_meta.source_id
        msg_meta.placeId = 0
        msg_meta.moduleId = 0
        msg_meta.sensorStr = SENSOR_STR
        msg_meta.ts = pyds.alloc_buffer(MAX_TIME_STAMP_LEN + 1)
        pyds.generate_ts_rfc3339(msg_meta.ts, MAX_TIME_STAMP_LEN)
        msg_meta.type = pyds.NvDsEventType.NVDS_EVENT_MOVING
        msg_meta.objType = pyds.NvDsObjectType.NVDS_OBJECT_TYPE_VEHICLE
        vehicle = pyds.alloc_nvds_vehicle_object()
        vehicle.type = obj_meta.obj_label
        msg_meta.extMsg = vehicle
        msg_meta.extMsgSize = sys.getsizeof(pyds.NvDsVehicleObject)
        user_event_meta.user_meta_data = msg_meta
        user_event_meta.base_meta.meta_type = pyds.NvDsMetaType.NVDS_EVENT_MSG_META
        pyds.user_copyfunc(user_event_meta, meta_copy_func)
        pyds.user_releasefunc(user_event_meta, meta_free_func)
        pyds.nvds_add_user_meta_to_frame(frame_meta, user_event_meta)
        self.events += 1


# -- sources ------------------------------------------------------------------------------------


def cb_newpad(decodebin, decoder_src_pad, source_bin):
    caps = decoder_src_pad.get_current_caps() or decoder_src_pad.query_caps()
    name = caps.get_structure(0).get_name()
    features = caps.get_features(0)
    if name.find("video") == -1:
        return
    # as the seed: link only when decodebin picked NVIDIA's decoder (NVMM output)
    if features.contains("memory:NVMM"):
        if not source_bin.get_static_pad("src").set_target(decoder_src_pad):
            sys.stderr.write("Failed to link decoder src pad to source bin ghost pad\n")
    else:
        sys.stderr.write(" Error: Decodebin did not pick nvidia decoder plugin.\n")


def decodebin_child_added(child_proxy, obj, name, user_data):
    if name.find("decodebin") != -1:
        obj.connect("child-added", decodebin_child_added, user_data)


def create_source_bin(index, uri, file_loop):
    """uridecodebin as the seed builds it; nvurisrcbin when the file should loop (as test3)."""
    nbin = Gst.Bin.new(f"source-bin-{index:02d}")
    if file_loop:
        source = make_element("nvurisrcbin", "uri-decode-bin", uri=uri, file_loop=1)
    else:
        source = make_element("uridecodebin", "uri-decode-bin", uri=uri)
        source.connect("child-added", decodebin_child_added, nbin)
    source.connect("pad-added", cb_newpad, nbin)
    nbin.add(source)
    if not nbin.add_pad(Gst.GhostPad.new_no_target("src", Gst.PadDirection.SRC)):
        raise RuntimeError("failed to add ghost pad in source bin")
    return nbin


# -- pipeline -----------------------------------------------------------------------------------


def link_chain(*elements):
    for upstream, downstream in itertools.pairwise(elements):
        if not upstream.link(downstream):
            raise RuntimeError(f"unable to link {upstream.get_name()} to {downstream.get_name()}")


def primary_gie(args):
    factory = "nvinferserver" if args.pgie == "nvinferserver" else "nvinfer"
    return make_element(factory, "primary-gie", config_file_path=args.configfile or DEFAULT_PGIE_CONFIG)


def analysis_elements(args):
    """Inference, tracking and analytics, configured as the seed configures them."""
    pgie = primary_gie(args)
    tracker = make_element(
        "nvtracker", "tracker", ll_lib_file=TRACKER_LIB, ll_config_file=TRACKER_CONFIG, gpu_id=0,
        display_tracking_id=1,
    )  # fmt: skip
    analytics = make_element("nvdsanalytics", "analytics", config_file=ANALYTICS_CONFIG)
    return pgie, tracker, analytics


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def sink_branch(pipeline, args):
    """The video output: RTSP (encoder → RTP → UDP → RTSP server), a display sink or none."""
    if args.display == "no-display":
        sink = make_element("fakesink", "fakesink", enable_last_sample=0, sync=args.live)
        pipeline.add(sink)
        return sink, None
    if args.display != "rtsp":
        sink = make_element("nv3dsink", "nv3d-sink", sync=args.live)
        pipeline.add(sink)
        return sink, None
    udp_port = args.udp_port or free_udp_port()
    convert = make_element("nvvideoconvert", "convertor_postosd")
    caps = make_element(
        "capsfilter", "filter", caps=Gst.Caps.from_string("video/x-raw(memory:NVMM), format=I420")
    )
    encoder = make_element(
        "nvv4l2h264enc", "encoder", bitrate=4000000, preset_level=1, insert_sps_pps=1, iframeinterval=30
    )
    rtppay = make_element("rtph264pay", "rtppay", config_interval=-1)
    # unicast to this host's RTSP server (the seed multicasts to 224.224.255.255:5400; only the
    # local server reads it, and a fixed port would collide when several apps share a host)
    udpsink = make_element("udpsink", "udpsink", host="127.0.0.1", port=udp_port, sync=args.live)
    udpsink.set_property("async", False)
    for element in (convert, caps, encoder, rtppay, udpsink):
        pipeline.add(element)
    link_chain(convert, caps, encoder, rtppay, udpsink)
    server = GstRtspServer.RTSPServer.new()
    server.props.service = str(args.rtsp_port)
    server.props.address = os.environ.get("RTSP_BIND_ADDRESS", "127.0.0.1")
    factory = GstRtspServer.RTSPMediaFactory.new()
    factory.set_launch(
        f'( udpsrc name=pay0 port={udp_port} buffer-size=524288 address=127.0.0.1 caps="application/x-rtp, '
        'media=video, clock-rate=90000, encoding-name=(string)H264, payload=96 " )'
    )
    factory.set_shared(True)
    server.get_mount_points().add_factory(args.rtsp_mount, factory)
    if server.attach(None) == 0:
        raise RuntimeError(f"the RTSP server cannot listen on port {args.rtsp_port}")
    url = f"rtsp://localhost:{args.rtsp_port}{args.rtsp_mount}"
    print(f"\n *** DeepStream: Launched RTSP Streaming at {url} ***\n\n", flush=True)
    return convert, server


def build_pipeline(args, perf, tracks):
    pipeline = Gst.Pipeline()
    streams = len(args.input)
    streammux = make_element(
        "nvstreammux", "streammux", width=MUXER_WIDTH, height=MUXER_HEIGHT, batch_size=streams,
        live_source=int(args.live), batched_push_timeout=40000,
    )  # fmt: skip
    pipeline.add(streammux)
    for index, uri in enumerate(args.input):
        source_bin = create_source_bin(index, uri, args.file_loop)
        pipeline.add(source_bin)
        if not source_bin.get_static_pad("src").link(streammux.request_pad_simple(f"sink_{index}")) == (
            Gst.PadLinkReturn.OK
        ):
            raise RuntimeError(f"unable to link source {index} to the stream muxer")
    pgie, tracker, analytics = analysis_elements(args)
    columns = int(streams**0.5 + 0.999)
    tiler = make_element(
        "nvmultistreamtiler", "nvtiler", rows=(streams + columns - 1) // columns, columns=columns,
        width=MUXER_WIDTH, height=MUXER_HEIGHT,
    )  # fmt: skip
    nvvidconv = make_element("nvvideoconvert", "nvvidconv")
    osd = make_element("nvdsosd", "osd", gpu_id=0, display_clock=0)
    msgconv = make_element("nvmsgconv", "nvmsg-converter", config=MSGCONV_CONFIG, payload_type=1)
    msgbroker = make_element(
        "nvmsgbroker", "nvmsg-broker", proto_lib=KAFKA_PROTO_LIB, conn_str=args.conn_str, sync=False
    )
    queues = [
        make_element("queue", name) for name in ("queue1", "queue2", "queue3", "nvtee-que1", "nvtee-que2")
    ]
    tee = make_element("tee", "nvsink-tee")
    for element in (pgie, tracker, analytics, tiler, nvvidconv, osd, tee, msgconv, msgbroker, *queues):
        pipeline.add(element)
    queue1, queue2, queue3, queue_msg, queue_video = queues
    link_chain(streammux, queue1, pgie, queue2, tracker, queue3, analytics, tiler, nvvidconv, osd, tee)
    tee.request_pad_simple("src_%u").link(queue_msg.get_static_pad("sink"))
    tee.request_pad_simple("src_%u").link(queue_video.get_static_pad("sink"))
    link_chain(queue_msg, msgconv, msgbroker)
    video_head, server = sink_branch(pipeline, args)
    link_chain(queue_video, video_head)
    probe = RoiProbe(perf, tracks)
    analytics.get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, probe, 0)
    return pipeline, probe, server


def run_pipeline(pipeline, *, timeout_s=None):
    """PLAYING until end of stream or an error; SIGTERM/SIGINT drain the pipeline with an EOS."""
    loop = GLib.MainLoop()
    watch = BusWatch()
    bus = pipeline.get_bus()
    bus.add_signal_watch()
    bus.connect("message", watch, loop)

    def stop(signum):
        print(f"received {signal.Signals(signum).name}: draining the pipeline", flush=True)
        pipeline.send_event(Gst.Event.new_eos())
        GLib.timeout_add_seconds(10, loop.quit)  # a pipeline that cannot drain still ends
        return GLib.SOURCE_REMOVE

    for signum in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_HIGH, signum, stop, signum)
    if timeout_s is not None:
        GLib.timeout_add_seconds(timeout_s, loop.quit)
    if pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
        # the element that failed posted why on the bus
        message = bus.timed_pop_filtered(0, Gst.MessageType.ERROR)
        if message is not None:
            watch(bus, message, loop)
        pipeline.set_state(Gst.State.NULL)
        return False
    loop.run()
    pipeline.set_state(Gst.State.NULL)
    return not watch.failed


def check(args):
    """Preflight: one test frame through inference, tracker, analytics and msgconv; nothing is sent.

    Greengrass counts a deployment as done as soon as every Run script has started, so an app
    that fails seconds later does not roll the update back. Running this in the recipe's Install
    step makes a broken model or config fail the install, which the nucleus retries, marks
    BROKEN and rolls back.
    """
    print("check: loading the configs and the model", flush=True)
    pipeline = Gst.Pipeline()
    source = make_element("videotestsrc", "test-source", num_buffers=1)
    convert = make_element("nvvideoconvert", "test-convert")
    caps = make_element(
        "capsfilter", "test-caps", caps=Gst.Caps.from_string("video/x-raw(memory:NVMM), format=NV12")
    )
    streammux = make_element("nvstreammux", "streammux", width=MUXER_WIDTH, height=MUXER_HEIGHT, batch_size=1)
    pgie, tracker, analytics = analysis_elements(args)
    msgconv = make_element("nvmsgconv", "nvmsg-converter", config=MSGCONV_CONFIG, payload_type=1)
    sink = make_element("fakesink", "fakesink")
    for element in (source, convert, caps, streammux, pgie, tracker, analytics, msgconv, sink):
        pipeline.add(element)
    link_chain(source, convert, caps)
    caps.get_static_pad("src").link(streammux.request_pad_simple("sink_0"))
    link_chain(streammux, pgie, tracker, analytics, msgconv, sink)
    ok = run_pipeline(pipeline, timeout_s=300)
    print("check passed: configs parsed and the model loaded" if ok else "check failed", flush=True)
    return 0 if ok else 1


def write_stats(path, probe, perf, started):
    seconds = time.monotonic() - (perf.started or started)
    stats = {
        "frames": probe.frames,
        "seconds": round(seconds, 3),
        "fps": round(probe.frames / seconds, 2) if seconds > 0 else 0.0,
        "frames_per_source": perf.frames_per_source(),
        "events": probe.events,
        "event_frames": probe.event_frames,
        "perf": {"history": perf.history},
    }
    with open(path, "w", encoding="utf-8") as out:
        json.dump(stats, out, indent=2)
        out.write("\n")


def main(argv=None):
    args = parse_args(argv)
    Gst.init(None)
    if args.check:
        try:
            return check(args)
        except RuntimeError as err:
            print(f"ERROR: {err}", file=sys.stderr, flush=True)
            return 1
    print(vars(args), flush=True)  # the seed prints its arguments too
    perf = PerfData(len(args.input), silent=args.silent)
    tracks = TrackFile(args.track_output) if args.track_output else None
    started = time.monotonic()
    try:
        pipeline, probe, _server = build_pipeline(args, perf, tracks)
    except RuntimeError as err:
        print(f"ERROR: {err}", file=sys.stderr, flush=True)
        return 1
    GLib.timeout_add(int(args.perf_interval * 1000), perf.perf_print_callback)
    ok = run_pipeline(pipeline)
    if tracks is not None:
        tracks.close()
    print(f"frames={probe.frames} events={probe.events} event_frames={probe.event_frames}", flush=True)
    if args.stats_json:
        write_stats(args.stats_json, probe, perf, started)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
