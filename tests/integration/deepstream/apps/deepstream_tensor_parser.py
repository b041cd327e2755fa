#!/usr/bin/env python3
"""Parse a detector's raw output tensors in Python, in the manner of deepstream-ssd-parser.

    filesrc → h264parse → nvv4l2decoder → nvstreammux → nvinfer (the detector, parsing itself)
        → nvinferserver (the same detector on Triton, postprocess { other {} }, output tensor meta)
        → nvvideoconvert → nvdsosd → fakesink

The probe on nvinferserver's src pad finds each frame's NVDSINFER_TENSOR_OUTPUT_META user meta,
takes the output layers with pyds.get_nvds_LayerInfo, reads the RT-DETR rows
(x1, y1, x2, y2, score, class in network pixels, DeepStream-Yolo's export) through ctypes and
numpy at pyds.get_ptr(layer.buffer), parses them as DeepStream-Yolo's NvDsInferParseYolo does
into NvDsInferObjectDetectionInfo, and adds one object meta per detection, scaled to the frame.
nvinfer's own parser runs on the same frames first, so each frame carries both sets; the probe on
nvdsosd's sink pad writes them per frame (``--objects-out``), by the unique id that made them;
the tensor probe writes what it read of each frame's tensor meta there too.
Run it from the folder that holds the configs and ./models.
"""

import argparse
import ctypes
import itertools
import json
import sys

import gi
import numpy as np

gi.require_version("Gst", "1.0")
import pyds  # noqa: E402
from common.bus_call import BusWatch  # noqa: E402
from gi.repository import GLib, Gst  # noqa: E402

MUXER_WIDTH, MUXER_HEIGHT = 1280, 720
MUXER_BATCH_TIMEOUT_USEC = 33000
UNTRACKED_OBJECT_ID = 0xFFFFFFFFFFFFFFFF
PGIE_CONFIG_FILE = "config_infer_primary_rtdetr.txt"
RAW_CONFIG_FILE = "dstest_rtdetr_nopostprocess.txt"
CLASS_NAMES = ("car", "truck", "bus", "motorcycle")
THRESHOLD = 0.5


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


def layer_rows(layer):
    """The layer's [N, 6] float rows, read in place through the buffer's address."""
    dims = layer.inferDims
    if layer.dataType != pyds.NvDsInferDataType.FLOAT or dims.numDims != 2 or dims.d[1] != 6:
        return None
    pointer = ctypes.cast(pyds.get_ptr(layer.buffer), ctypes.POINTER(ctypes.c_float))
    return np.ctypeslib.as_array(pointer, shape=(int(dims.d[0]), int(dims.d[1])))


def parse_rows(rows, network):
    """NvDsInferParseYolo: drop rows under the threshold, clamp the corners to the network, drop
    boxes under one pixel. Boxes stay in network pixels, as a custom parser returns them."""
    objects = []
    width, height = np.float32(network.width), np.float32(network.height)
    for x1, y1, x2, y2, score, label in rows:
        if score < np.float32(THRESHOLD):
            continue
        x1, x2 = np.clip(x1, 0, width), np.clip(x2, 0, width)
        y1, y2 = np.clip(y1, 0, height), np.clip(y2, 0, height)
        if x2 - x1 < 1 or y2 - y1 < 1:
            continue
        info = pyds.NvDsInferObjectDetectionInfo()
        info.classId = int(label)
        info.left, info.top = float(x1), float(y1)
        info.width, info.height = float(x2 - x1), float(y2 - y1)
        info.detectionConfidence = float(score)
        objects.append(info)
    return objects


def add_obj_meta_to_frame(info, batch_meta, frame_meta, network, unique_id):
    """An object for a parsed detection, scaled from the network to the frame (plain resize)."""
    obj_meta = pyds.nvds_acquire_obj_meta_from_pool(batch_meta)
    sx, sy = MUXER_WIDTH / network.width, MUXER_HEIGHT / network.height
    rect_params = obj_meta.rect_params
    rect_params.left = info.left * sx
    rect_params.top = info.top * sy
    rect_params.width = info.width * sx
    rect_params.height = info.height * sy
    rect_params.border_width = 3
    rect_params.border_color.set(0, 1, 0, 1)
    obj_meta.confidence = info.detectionConfidence
    obj_meta.class_id = info.classId
    obj_meta.unique_component_id = unique_id
    obj_meta.object_id = UNTRACKED_OBJECT_ID
    obj_meta.obj_label = CLASS_NAMES[info.classId] if info.classId < len(CLASS_NAMES) else "unknown"
    text = obj_meta.text_params
    text.x_offset = int(rect_params.left)
    text.y_offset = max(0, int(rect_params.top) - 10)
    text.display_text = f"{obj_meta.obj_label} {info.detectionConfidence:04.3f}"
    text.font_params.font_name = "Serif"
    text.font_params.font_size = 10
    text.font_params.font_color.set(1.0, 1.0, 1.0, 1.0)
    text.set_bg_clr = 1
    text.text_bg_clr.set(0.0, 0.0, 0.0, 1.0)
    pyds.nvds_add_obj_meta_to_frame(frame_meta, obj_meta, None)


def raw_src_pad_buffer_probe(pad, info, u_data):
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
        seen = {"frame": frame_meta.frame_num, "layers": [], "network": None, "unique_id": None}
        l_user = frame_meta.frame_user_meta_list
        while l_user is not None:
            try:
                user_meta = pyds.NvDsUserMeta.cast(l_user.data)
            except StopIteration:
                break
            if user_meta.base_meta.meta_type == pyds.NvDsMetaType.NVDSINFER_TENSOR_OUTPUT_META:
                tensor_meta = pyds.NvDsInferTensorMeta.cast(user_meta.user_meta_data)
                network = tensor_meta.network_info
                seen["network"] = [network.width, network.height, network.channels]
                seen["unique_id"] = tensor_meta.unique_id
                for i in range(tensor_meta.num_output_layers):
                    layer = pyds.get_nvds_LayerInfo(tensor_meta, i)
                    dims = layer.inferDims
                    seen["layers"].append(
                        {
                            "name": layer.layerName, "data_type": int(layer.dataType),
                            "dims": [int(d) for d in dims.d[: dims.numDims]],
                            "elements": dims.numElements,
                            "first": pyds.get_detections(layer.buffer, 0),
                        }
                    )  # fmt: skip
                    rows = layer_rows(layer)
                    if rows is None:
                        continue
                    unique_id = tensor_meta.unique_id
                    for detection in parse_rows(rows, network):
                        add_obj_meta_to_frame(detection, batch_meta, frame_meta, network, unique_id)
            try:
                l_user = l_user.next
            except StopIteration:
                break
        log.write({"tensor": seen})
        try:
            l_frame = l_frame.next
        except StopIteration:
            break
    return Gst.PadProbeReturn.OK


def osd_sink_pad_buffer_probe(pad, info, u_data):
    gst_buffer = info.get_buffer()
    if not gst_buffer:
        return Gst.PadProbeReturn.OK
    batch_meta = pyds.gst_buffer_get_nvds_batch_meta(hash(gst_buffer))
    l_frame = batch_meta.frame_meta_list
    while l_frame is not None:
        try:
            frame_meta = pyds.NvDsFrameMeta.cast(l_frame.data)
        except StopIteration:
            break
        objects = []
        l_obj = frame_meta.obj_meta_list
        while l_obj is not None:
            try:
                obj_meta = pyds.NvDsObjectMeta.cast(l_obj.data)
            except StopIteration:
                break
            rect = obj_meta.rect_params
            objects.append(
                {
                    "gie": obj_meta.unique_component_id, "class_id": obj_meta.class_id,
                    "box": [rect.left, rect.top, rect.width, rect.height], "confidence": obj_meta.confidence,
                }
            )  # fmt: skip
            try:
                l_obj = l_obj.next
            except StopIteration:
                break
        log.write({"frame": frame_meta.frame_num, "objects": objects})
        sys.stdout.write(f"Frame Number={frame_meta.frame_num} Number of Objects={len(objects)}\n")
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
    raw = make("nvinferserver", "raw-inference")
    nvvidconv = make("nvvideoconvert", "convertor")
    nvosd = make("nvdsosd", "onscreendisplay")
    sink = make("fakesink", "fakesink")

    source.set_property("location", options.input_file)
    streammux.set_property("width", MUXER_WIDTH)
    streammux.set_property("height", MUXER_HEIGHT)
    streammux.set_property("batch-size", 1)
    streammux.set_property("batched-push-timeout", MUXER_BATCH_TIMEOUT_USEC)
    pgie.set_property("config-file-path", options.pgie_config)
    raw.set_property("config-file-path", options.raw_config)
    sink.set_property("sync", False)

    elements = (source, h264parser, decoder, streammux, pgie, raw, nvvidconv, nvosd, sink)
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
    raw.get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, raw_src_pad_buffer_probe, 0)
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
    parser = argparse.ArgumentParser(description="deepstream-ssd-parser style: parse tensors in Python")
    parser.add_argument("input_file", help="H.264 elementary stream")
    parser.add_argument("--pgie-config", default=PGIE_CONFIG_FILE)
    parser.add_argument("--raw-config", default=RAW_CONFIG_FILE)
    parser.add_argument("--objects-out", help="write each frame's objects and tensors as a JSON line here")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main(parse_args()))
