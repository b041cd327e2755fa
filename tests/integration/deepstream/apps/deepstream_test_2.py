#!/usr/bin/env python3
"""Detect, track and classify, in the manner of deepstream-test1 and deepstream-test2.

    filesrc → h264parse → nvv4l2decoder → nvstreammux → nvinfer (primary detector, ONNX)
        → nvtracker (NvSORT, past-frame output) → nvinfer (secondary colour classifier on cars)
        → nvvideoconvert → nvdsosd → fakesink

The probe on nvdsosd's sink pad counts the objects of each class per frame (test1), puts the
counts on screen with a display meta, reads each object's tracker id and classifier labels, and
reads the tracker's past-frame meta from the batch user metas (test2). Run it from the folder that
holds the configs, as NVIDIA's samples are run.

``--objects-out`` gets one JSON line per frame: its objects (id, class, box, classifier labels) and
the past-frame data of the batch, so a test can compare them with the truth.
"""

import argparse
import configparser
import itertools
import json
import os
import sys

import gi

gi.require_version("Gst", "1.0")
import pyds  # noqa: E402
from common.bus_call import BusWatch  # noqa: E402
from gi.repository import GLib, Gst  # noqa: E402

MUXER_WIDTH, MUXER_HEIGHT = 1280, 720
MUXER_BATCH_TIMEOUT_USEC = 33000
PGIE_CONFIG_FILE = "config_infer_primary_rtdetr.txt"
SGIE_CONFIG_FILE = "dstest2_sgie1_config.txt"
TRACKER_CONFIG_FILE = "dstest2_tracker_config.txt"
CLASS_NAMES = ("car", "truck", "bus", "motorcycle")


class FrameLog:
    def __init__(self, path):
        self.out = open(path, "w", encoding="utf-8") if path else None  # noqa: SIM115

    def write(self, record):
        if self.out is not None:
            self.out.write(json.dumps(record) + "\n")

    def close(self):
        if self.out is not None:
            self.out.close()


log = FrameLog(None)


def classifier_labels(obj_meta):
    """(unique_component_id, result_label) of every label of every classifier meta of an object."""
    labels = []
    l_class = obj_meta.classifier_meta_list
    while l_class is not None:
        try:
            class_meta = pyds.NvDsClassifierMeta.cast(l_class.data)
        except StopIteration:
            break
        l_label = class_meta.label_info_list
        while l_label is not None:
            try:
                label_info = pyds.NvDsLabelInfo.cast(l_label.data)
            except StopIteration:
                break
            labels.append([class_meta.unique_component_id, label_info.result_label, label_info.result_prob])
            try:
                l_label = l_label.next
            except StopIteration:
                break
        try:
            l_class = l_class.next
        except StopIteration:
            break
    return labels


def past_frame_data(batch_meta):
    """The tracker's past-frame meta, read the way deepstream-test2 reads it."""
    targets = []
    l_user = batch_meta.batch_user_meta_list
    while l_user is not None:
        try:
            user_meta = pyds.NvDsUserMeta.cast(l_user.data)
        except StopIteration:
            break
        if user_meta and user_meta.base_meta.meta_type == pyds.NvDsMetaType.NVDS_TRACKER_PAST_FRAME_META:
            try:
                past_batch = pyds.NvDsTargetMiscDataBatch.cast(user_meta.user_meta_data)
            except StopIteration:
                break
            for stream in pyds.NvDsTargetMiscDataBatch.list(past_batch):
                for target in pyds.NvDsTargetMiscDataStream.list(stream):
                    frames = [
                        [
                            f.frameNum,
                            f.tBbox.left,
                            f.tBbox.top,
                            f.tBbox.width,
                            f.tBbox.height,
                            f.confidence,
                            f.age,
                        ]
                        for f in pyds.NvDsTargetMiscDataObject.list(target)
                    ]
                    targets.append(
                        {
                            "stream": stream.streamID, "surface_stream": stream.surfaceStreamID,
                            "id": target.uniqueId, "class_id": target.classId, "label": target.objLabel,
                            "num": target.numObj, "frames": frames,
                        }
                    )  # fmt: skip
        try:
            l_user = l_user.next
        except StopIteration:
            break
    return targets


def osd_sink_pad_buffer_probe(pad, info, u_data):
    gst_buffer = info.get_buffer()
    if not gst_buffer:
        print("Unable to get GstBuffer ")
        return Gst.PadProbeReturn.OK
    batch_meta = pyds.gst_buffer_get_nvds_batch_meta(hash(gst_buffer))
    past = past_frame_data(batch_meta)
    l_frame = batch_meta.frame_meta_list
    while l_frame is not None:
        try:
            frame_meta = pyds.NvDsFrameMeta.cast(l_frame.data)
        except StopIteration:
            break
        frame_number = frame_meta.frame_num
        num_rects = frame_meta.num_obj_meta
        obj_counter = dict.fromkeys(range(len(CLASS_NAMES)), 0)
        objects = []
        l_obj = frame_meta.obj_meta_list
        while l_obj is not None:
            try:
                obj_meta = pyds.NvDsObjectMeta.cast(l_obj.data)
            except StopIteration:
                break
            obj_counter[obj_meta.class_id] += 1
            rect = obj_meta.rect_params
            objects.append(
                {
                    "id": obj_meta.object_id, "class_id": obj_meta.class_id, "label": obj_meta.obj_label,
                    "box": [rect.left, rect.top, rect.width, rect.height],
                    "confidence": obj_meta.confidence, "tracker_confidence": obj_meta.tracker_confidence,
                    "text": pyds.get_string(obj_meta.text_params.display_text),
                    "classifier": classifier_labels(obj_meta),
                }
            )  # fmt: skip
            try:
                l_obj = l_obj.next
            except StopIteration:
                break
        display_meta = pyds.nvds_acquire_display_meta_from_pool(batch_meta)
        display_meta.num_labels = 1
        text = display_meta.text_params[0]
        counts = " ".join(f"{name}_count={obj_counter[i]}" for i, name in enumerate(CLASS_NAMES))
        text.display_text = f"Frame Number={frame_number} Number of Objects={num_rects} {counts}"
        text.x_offset = 10
        text.y_offset = 12
        text.font_params.font_name = "Serif"
        text.font_params.font_size = 10
        text.font_params.font_color.set(1.0, 1.0, 1.0, 1.0)
        text.set_bg_clr = 1
        text.text_bg_clr.set(0.0, 0.0, 0.0, 1.0)
        sys.stdout.write(pyds.get_string(text.display_text) + "\n")  # one write: other threads print too
        pyds.nvds_add_display_meta_to_frame(frame_meta, display_meta)
        log.write({"frame": frame_number, "source": frame_meta.source_id, "objects": objects, "past": past})
        past = []  # batch-level: reported with the batch's first frame
        try:
            l_frame = l_frame.next
        except StopIteration:
            break
    return Gst.PadProbeReturn.OK


def configure_tracker(tracker, path):
    """Every key of the [tracker] group onto the element, as deepstream-test2 does."""
    config = configparser.ConfigParser()
    if not config.read(path):
        sys.stderr.write(f"Unable to read the tracker config {path}\n")
        return False
    folder = os.path.dirname(os.path.abspath(path))
    for key in config["tracker"]:
        value = config.get("tracker", key)
        if key in ("tracker-width", "tracker-height", "gpu-id"):
            tracker.set_property(key, config.getint("tracker", key))
        elif key == "ll-lib-file":
            tracker.set_property(key, value)
        elif key == "ll-config-file":
            tracker.set_property(key, os.path.join(folder, value))
    return True


def make(factory, name):
    element = Gst.ElementFactory.make(factory, name)
    if not element:
        sys.stderr.write(f" Unable to create {factory}\n")
        sys.exit(1)
    return element


def main(options):
    global log
    log = FrameLog(options.objects_out)
    Gst.init(None)

    print("Creating Pipeline")
    pipeline = Gst.Pipeline()
    source = make("filesrc", "file-source")
    h264parser = make("h264parse", "h264-parser")
    decoder = make("nvv4l2decoder", "nvv4l2-decoder")
    streammux = make("nvstreammux", "Stream-muxer")
    pgie = make("nvinfer", "primary-inference")
    tracker = make("nvtracker", "tracker")
    sgie1 = make("nvinfer", "secondary1-nvinference-engine")
    nvvidconv = make("nvvideoconvert", "convertor")
    nvosd = make("nvdsosd", "onscreendisplay")
    sink = make("fakesink", "fakesink")

    source.set_property("location", options.input_file)
    streammux.set_property("width", MUXER_WIDTH)
    streammux.set_property("height", MUXER_HEIGHT)
    streammux.set_property("batch-size", 1)
    streammux.set_property("batched-push-timeout", MUXER_BATCH_TIMEOUT_USEC)
    pgie.set_property("config-file-path", options.pgie_config)
    sgie1.set_property("config-file-path", options.sgie_config)
    if not configure_tracker(tracker, options.tracker_config):
        return 1
    sink.set_property("sync", False)

    elements = (source, h264parser, decoder, streammux, pgie, tracker, sgie1, nvvidconv, nvosd, sink)
    for element in elements:
        pipeline.add(element)
    source.link(h264parser)
    h264parser.link(decoder)
    sinkpad = streammux.request_pad_simple("sink_0")
    if not sinkpad:
        sys.stderr.write(" Unable to get the sink pad of streammux\n")
        return 1
    decoder.get_static_pad("src").link(sinkpad)
    for upstream, downstream in itertools.pairwise(elements[3:]):
        if not upstream.link(downstream):
            sys.stderr.write(f"Unable to link {upstream.get_name()} to {downstream.get_name()}\n")
            return 1

    loop = GLib.MainLoop()
    watch = BusWatch()
    bus = pipeline.get_bus()
    bus.add_signal_watch()
    bus.connect("message", watch, loop)
    nvosd.get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, osd_sink_pad_buffer_probe, 0)

    print("Starting pipeline")
    if pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
        message = bus.timed_pop_filtered(0, Gst.MessageType.ERROR)
        if message is not None:
            watch(bus, message, loop)
        watch.failed = True
    else:
        loop.run()
    pipeline.set_state(Gst.State.NULL)
    log.close()
    return 1 if watch.failed else 0


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="deepstream-test1/test2 style: detect, track, classify")
    parser.add_argument("input_file", help="H.264 elementary stream")
    parser.add_argument("--pgie-config", default=PGIE_CONFIG_FILE)
    parser.add_argument("--sgie-config", default=SGIE_CONFIG_FILE)
    parser.add_argument("--tracker-config", default=TRACKER_CONFIG_FILE)
    parser.add_argument("--objects-out", help="write each frame's objects as a JSON line here")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main(parse_args()))
