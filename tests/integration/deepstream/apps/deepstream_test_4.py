#!/usr/bin/env python3
"""Detections to Kafka in DeepStream's full message schema, in the manner of deepstream-test4.

    filesrc → h264parse → nvv4l2decoder → nvstreammux → nvinferserver → nvvideoconvert → nvdsosd
        → tee ─┬─ queue → nvmsgconv (payload-type 0) → nvmsgbroker (Kafka adaptor)
               └─ queue → fakesink

A probe on nvdsosd's sink pad labels every object and, on every 30th frame, attaches an
NvDsEventMsgMeta for the first vehicle (a "moving" event with an NvDsVehicleObject) and the first
motorcycle (its rider as an "entry" event with an NvDsPersonObject, as test4 reports its Person
class). The event meta comes from ``pyds.alloc_nvds_event_msg_meta(user_meta)``; the app then
installs its own copy and release callbacks, as the seed app does, and counts what they free.

Every event the probe attached is written as one JSON line to ``--events-out``, so a consumer can
compare what left through Kafka with what the app meant to send.

Only GStreamer and pyds: the same file runs on a Jetson with the DeepStream SDK.
"""

import argparse
import json
import os
import sys

import gi

gi.require_version("Gst", "1.0")
import pyds  # noqa: E402
from common.bus_call import BusWatch  # noqa: E402
from gi.repository import GLib, Gst  # noqa: E402

MAX_TIME_STAMP_LEN = 32
EVENT_INTERVAL = 30
MUXER_WIDTH, MUXER_HEIGHT = 1280, 720
MUXER_BATCH_TIMEOUT_USEC = 33000
MSGCONV_CONFIG_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dstest4_msgconv_config.txt")
KAFKA_PROTO_LIB = "/opt/nvidia/deepstream/deepstream/lib/libnvds_kafka_proto.so"
PERSON_LABELS = ("motorcycle",)  # the detector has no person class: a motorcycle's rider stands in
# what a recognition model would add; fixed strings here, as test4 has them
VEHICLE_DETAILS = {
    "make": "Generic",
    "model": "Sedan-X",
    "color": "grey",
    "license": "WRLD42",
    "region": "SG",
}
PERSON_DETAILS = {"age": 35, "gender": "female", "hair": "black", "cap": "helmet", "apparel": "jacket"}
VEHICLE_STRINGS = ("type", "make", "model", "color", "license", "region")
PERSON_STRINGS = ("gender", "hair", "cap", "apparel")


class EventLog:
    """What the probe attached, and what the release callback freed."""

    def __init__(self, path):
        self.out = open(path, "w", encoding="utf-8") if path else None  # noqa: SIM115
        self.attached = 0
        self.released = 0
        self.copied = 0

    def record(self, **fields):
        self.attached += 1
        if self.out is not None:
            self.out.write(json.dumps(fields) + "\n")
            self.out.flush()

    def close(self):
        if self.out is not None:
            self.out.close()


events = EventLog(None)


def meta_copy_func(data, user_data):
    """A deep copy of an event: the struct, its strings and its vehicle or person object."""
    user_meta = pyds.NvDsUserMeta.cast(data)
    src = pyds.NvDsEventMsgMeta.cast(user_meta.user_meta_data)
    dst = pyds.NvDsEventMsgMeta.cast(pyds.memdup(pyds.get_ptr(src), sys.getsizeof(pyds.NvDsEventMsgMeta)))
    dst.ts = pyds.memdup(src.ts, MAX_TIME_STAMP_LEN + 1)
    dst.sensorStr = pyds.get_string(src.sensorStr)
    dst.videoPath = pyds.get_string(src.videoPath)
    if src.extMsgSize > 0:
        if src.objType == pyds.NvDsObjectType.NVDS_OBJECT_TYPE_VEHICLE:
            old, new = pyds.NvDsVehicleObject.cast(src.extMsg), pyds.alloc_nvds_vehicle_object()
            for name in VEHICLE_STRINGS:
                setattr(new, name, pyds.get_string(getattr(old, name)))
        else:
            old, new = pyds.NvDsPersonObject.cast(src.extMsg), pyds.alloc_nvds_person_object()
            for name in PERSON_STRINGS:
                setattr(new, name, pyds.get_string(getattr(old, name)))
            new.age = old.age
        dst.extMsg = new
        dst.extMsgSize = src.extMsgSize
    events.copied += 1
    return dst


def meta_free_func(data, user_data):
    """Frees what the probe (or meta_copy_func) allocated for one event."""
    user_meta = pyds.NvDsUserMeta.cast(data)
    meta = pyds.NvDsEventMsgMeta.cast(user_meta.user_meta_data)
    pyds.free_buffer(meta.ts)
    pyds.free_buffer(meta.sensorStr)
    pyds.free_buffer(meta.videoPath)
    if meta.extMsgSize > 0:
        if meta.objType == pyds.NvDsObjectType.NVDS_OBJECT_TYPE_VEHICLE:
            obj, names = pyds.NvDsVehicleObject.cast(meta.extMsg), VEHICLE_STRINGS
        else:
            obj, names = pyds.NvDsPersonObject.cast(meta.extMsg), PERSON_STRINGS
        for name in names:
            pyds.free_buffer(getattr(obj, name))
        pyds.free_gbuffer(meta.extMsg)
        meta.extMsgSize = 0
    events.released += 1


def fill_vehicle(meta, label):
    meta.type = pyds.NvDsEventType.NVDS_EVENT_MOVING
    meta.objType = pyds.NvDsObjectType.NVDS_OBJECT_TYPE_VEHICLE
    vehicle = pyds.NvDsVehicleObject.cast(pyds.alloc_nvds_vehicle_object())
    vehicle.type = label
    for name, value in VEHICLE_DETAILS.items():
        setattr(vehicle, name, value)
    meta.extMsg = vehicle
    meta.extMsgSize = sys.getsizeof(pyds.NvDsVehicleObject)


def fill_person(meta):
    meta.type = pyds.NvDsEventType.NVDS_EVENT_ENTRY
    meta.objType = pyds.NvDsObjectType.NVDS_OBJECT_TYPE_PERSON
    person = pyds.NvDsPersonObject.cast(pyds.alloc_nvds_person_object())
    for name, value in PERSON_DETAILS.items():
        setattr(person, name, value)
    meta.extMsg = person
    meta.extMsgSize = sys.getsizeof(pyds.NvDsPersonObject)


def attach_event(batch_meta, frame_meta, obj_meta, kind, video_path):
    user_event_meta = pyds.nvds_acquire_user_meta_from_pool(batch_meta)
    if not user_event_meta:
        print("Error in attaching event meta to buffer")
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
    msg_meta.sensorId = 0
    msg_meta.placeId = 0
    msg_meta.moduleId = 0
    msg_meta.sensorStr = "sensor-0"
    msg_meta.videoPath = video_path
    msg_meta.ts = pyds.alloc_buffer(MAX_TIME_STAMP_LEN + 1)
    pyds.generate_ts_rfc3339(msg_meta.ts, MAX_TIME_STAMP_LEN)
    if kind == "person":
        fill_person(msg_meta)
    else:
        fill_vehicle(msg_meta, obj_meta.obj_label)
    user_event_meta.user_meta_data = msg_meta
    user_event_meta.base_meta.meta_type = pyds.NvDsMetaType.NVDS_EVENT_MSG_META
    pyds.user_copyfunc(user_event_meta, meta_copy_func)
    pyds.user_releasefunc(user_event_meta, meta_free_func)
    pyds.nvds_add_user_meta_to_frame(frame_meta, user_event_meta)
    rect = obj_meta.rect_params
    events.record(
        frame=frame_meta.frame_num, kind=kind, label=obj_meta.obj_label, class_id=obj_meta.class_id,
        object_id=obj_meta.object_id & 0xFFFFFFFFFFFFFFFF, confidence=obj_meta.confidence,
        left=rect.left, top=rect.top, width=rect.width, height=rect.height,
        ts=pyds.get_string(msg_meta.ts),
    )  # fmt: skip


def osd_sink_pad_buffer_probe(pad, info, video_path):
    gst_buffer = info.get_buffer()
    if not gst_buffer:
        print("Unable to get GstBuffer ")
        return Gst.PadProbeReturn.OK
    batch_meta = pyds.gst_buffer_get_nvds_batch_meta(hash(gst_buffer))
    if not batch_meta:
        return Gst.PadProbeReturn.OK
    l_frame = batch_meta.frame_meta_list
    while l_frame is not None:
        try:
            frame_meta = pyds.NvDsFrameMeta.cast(l_frame.data)
        except StopIteration:
            break
        frame_number = frame_meta.frame_num
        pending = {"vehicle", "person"} if frame_number % EVENT_INTERVAL == 0 else set()
        counts = {}
        l_obj = frame_meta.obj_meta_list
        while l_obj is not None:
            try:
                obj_meta = pyds.NvDsObjectMeta.cast(l_obj.data)
            except StopIteration:
                break
            label = obj_meta.obj_label
            counts[label] = counts.get(label, 0) + 1
            txt_params = obj_meta.text_params
            txt_params.display_text = label
            txt_params.font_params.font_name = "Serif"
            txt_params.font_params.font_size = 10
            txt_params.font_params.font_color.set(1.0, 1.0, 1.0, 1.0)
            txt_params.set_bg_clr = 1
            txt_params.text_bg_clr.set(0.0, 0.0, 0.0, 1.0)
            kind = "person" if label in PERSON_LABELS else "vehicle"
            if kind in pending:
                pending.discard(kind)
                attach_event(batch_meta, frame_meta, obj_meta, kind, video_path)
            try:
                l_obj = l_obj.next
            except StopIteration:
                break
        # one write per line: the bus watch prints from another thread
        counts_text = json.dumps(counts, sort_keys=True)
        sys.stdout.write(f"Frame Number = {frame_number} Object counts = {counts_text}\n")
        try:
            l_frame = l_frame.next
        except StopIteration:
            break
    return Gst.PadProbeReturn.OK


def make(factory, name):
    element = Gst.ElementFactory.make(factory, name)
    if not element:
        sys.stderr.write(f" Unable to create {factory}\n")
        sys.exit(1)
    return element


def main(options):
    global events
    events = EventLog(options.events_out)
    Gst.init(None)

    print("Creating Pipeline")
    pipeline = Gst.Pipeline()
    source = make("filesrc", "file-source")
    h264parser = make("h264parse", "h264-parser")
    decoder = make("nvv4l2decoder", "nvv4l2-decoder")
    streammux = make("nvstreammux", "Stream-muxer")
    pgie = make("nvinferserver", "primary-inference")
    nvvidconv = make("nvvideoconvert", "convertor")
    nvosd = make("nvdsosd", "onscreendisplay")
    tee = make("tee", "nvsink-tee")
    queue1 = make("queue", "nvtee-que1")
    queue2 = make("queue", "nvtee-que2")
    msgconv = make("nvmsgconv", "nvmsg-converter")
    msgbroker = make("nvmsgbroker", "nvmsg-broker")
    sink = make("fakesink", "fakesink")

    source.set_property("location", options.input_file)
    streammux.set_property("width", MUXER_WIDTH)
    streammux.set_property("height", MUXER_HEIGHT)
    streammux.set_property("batch-size", 1)
    streammux.set_property("batched-push-timeout", MUXER_BATCH_TIMEOUT_USEC)
    pgie.set_property("config-file-path", options.pgie_config)
    msgconv.set_property("config", options.msgconv_config)
    msgconv.set_property("payload-type", options.schema_type)
    msgbroker.set_property("proto-lib", options.proto_lib)
    msgbroker.set_property("conn-str", options.conn_str)
    if options.cfg_file:
        msgbroker.set_property("config", options.cfg_file)
    if options.topic:
        msgbroker.set_property("topic", options.topic)
    msgbroker.set_property("sync", False)
    sink.set_property("sync", False)

    for element in (source, h264parser, decoder, streammux, pgie, nvvidconv, nvosd, tee, queue1, queue2):
        pipeline.add(element)
    for element in (msgconv, msgbroker, sink):
        pipeline.add(element)

    print("Linking elements in the Pipeline")
    source.link(h264parser)
    h264parser.link(decoder)
    sinkpad = streammux.request_pad_simple("sink_0")
    if not sinkpad:
        sys.stderr.write(" Unable to get the sink pad of streammux\n")
        return 1
    decoder.get_static_pad("src").link(sinkpad)
    streammux.link(pgie)
    pgie.link(nvvidconv)
    nvvidconv.link(nvosd)
    nvosd.link(tee)
    queue1.link(msgconv)
    msgconv.link(msgbroker)
    queue2.link(sink)
    tee_msg_pad = tee.request_pad_simple("src_%u")
    tee_render_pad = tee.request_pad_simple("src_%u")
    if not tee_msg_pad or not tee_render_pad:
        sys.stderr.write("Unable to get request pads\n")
        return 1
    tee_msg_pad.link(queue1.get_static_pad("sink"))
    tee_render_pad.link(queue2.get_static_pad("sink"))

    loop = GLib.MainLoop()
    watch = BusWatch()
    bus = pipeline.get_bus()
    bus.add_signal_watch()
    bus.connect("message", watch, loop)

    osdsinkpad = nvosd.get_static_pad("sink")
    osdsinkpad.add_probe(Gst.PadProbeType.BUFFER, osd_sink_pad_buffer_probe, options.input_file)

    print("Starting pipeline")
    if pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
        message = bus.timed_pop_filtered(0, Gst.MessageType.ERROR)
        if message is not None:
            watch(bus, message, loop)
        watch.failed = True
    else:
        loop.run()
    pipeline.set_state(Gst.State.NULL)
    events.close()
    print(f"events attached={events.attached} released={events.released} copied={events.copied}")
    return 1 if watch.failed else 0


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="deepstream-test4 style: detections to Kafka")
    parser.add_argument("-i", "--input-file", required=True, help="H.264 elementary stream")
    parser.add_argument("-c", "--pgie-config", required=True, help="nvinferserver config")
    parser.add_argument("--msgconv-config", default=MSGCONV_CONFIG_FILE, help="nvmsgconv config")
    parser.add_argument("-p", "--proto-lib", default=KAFKA_PROTO_LIB, help="protocol adaptor library")
    parser.add_argument("--conn-str", required=True, help="host;port[;topic]")
    parser.add_argument("--cfg-file", help="the adaptor's config file")
    parser.add_argument("-t", "--topic", help="message topic, unless in conn-str")
    parser.add_argument("-s", "--schema-type", type=int, choices=(0, 1), default=0, help="0 full, 1 minimal")
    parser.add_argument("--events-out", help="write each attached event as a JSON line here")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main(parse_args()))
