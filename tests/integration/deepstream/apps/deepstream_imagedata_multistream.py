#!/usr/bin/env python3
"""Frames as numpy arrays from several streams, in the manner of deepstream-imagedata-multistream.

    uridecodebin × N → nvstreammux (batch-size N) → nvvideoconvert → capsfilter RGBA
        → [probe] → nvmultistreamtiler → nvvideoconvert → nvv4l2h264enc → h264parse → mp4mux → filesink

The probe on the tiler's sink pad gets each frame with ``pyds.get_nvds_buf_surface`` as a numpy
array, saves every 30th frame of each stream as ``<folder>/stream_<N>/frame_<F>.jpg`` (a copy,
converted for OpenCV, as the sample saves its frames) and then writes into the frame itself, as the
redaction sample does: a filled green block whose place depends on the stream. The tiled video
downstream therefore shows the blocks. Instead of a display, the tiled output is encoded to
``--tiled-output``.

Usage: deepstream_imagedata_multistream.py URI [URI ...] FOLDER --tiled-output FILE.mp4
"""

import argparse
import itertools
import json
import math
import os
import sys

import gi

gi.require_version("Gst", "1.0")
import cv2  # noqa: E402
import numpy as np  # noqa: E402
import pyds  # noqa: E402
from common.bus_call import BusWatch  # noqa: E402
from gi.repository import GLib, Gst  # noqa: E402

MUXER_WIDTH, MUXER_HEIGHT = 1280, 720
MUXER_BATCH_TIMEOUT_USEC = 33000
TILED_WIDTH, TILED_HEIGHT = 1280, 360
SAVE_INTERVAL = 30
BLOCK_SIZE = (160, 120)  # width, height of the block written into every frame
BLOCK_COLOUR = (0, 255, 0, 255)  # RGBA


def block_origin(pad_index):
    """Where the block goes in a frame of stream N: a different corner per stream."""
    return (
        (80, 80)
        if pad_index % 2 == 0
        else (MUXER_WIDTH - 80 - BLOCK_SIZE[0], MUXER_HEIGHT - 80 - BLOCK_SIZE[1])
    )


class Frames:
    def __init__(self, folder, log_path):
        self.folder = folder
        self.log = open(log_path, "w", encoding="utf-8") if log_path else None  # noqa: SIM115
        self.count = {}

    def close(self):
        if self.log is not None:
            self.log.close()


frames = None


def tiler_sink_pad_buffer_probe(pad, info, u_data):
    gst_buffer = info.get_buffer()
    if not gst_buffer:
        print("Unable to get GstBuffer ")
        return Gst.PadProbeReturn.OK
    batch_meta = pyds.gst_buffer_get_nvds_batch_meta(hash(gst_buffer))
    batch = []
    l_frame = batch_meta.frame_meta_list
    while l_frame is not None:
        try:
            frame_meta = pyds.NvDsFrameMeta.cast(l_frame.data)
        except StopIteration:
            break
        stream = frame_meta.pad_index
        n_frame = pyds.get_nvds_buf_surface(hash(gst_buffer), frame_meta.batch_id)
        record = {
            "source": stream, "frame": frame_meta.frame_num, "batch_id": frame_meta.batch_id,
            "shape": list(n_frame.shape), "dtype": str(n_frame.dtype),
            "mean_rgba": [round(float(v), 2) for v in n_frame.reshape(-1, n_frame.shape[-1]).mean(axis=0)],
        }  # fmt: skip
        batch.append(record)
        if frames.log is not None:
            frames.log.write(json.dumps(record) + "\n")
        count = frames.count.get(stream, 0)
        if count % SAVE_INTERVAL == 0:
            frame_copy = np.array(n_frame, copy=True, order="C")
            frame_copy = cv2.cvtColor(frame_copy, cv2.COLOR_RGBA2BGRA)
            cv2.imwrite(
                os.path.join(frames.folder, f"stream_{stream}", f"frame_{frame_meta.frame_num}.jpg"),
                frame_copy,
            )
        frames.count[stream] = count + 1
        x, y = block_origin(stream)
        n_frame[y : y + BLOCK_SIZE[1], x : x + BLOCK_SIZE[0]] = BLOCK_COLOUR
        pyds.unmap_nvds_buf_surface(hash(gst_buffer), frame_meta.batch_id)
        try:
            l_frame = l_frame.next
        except StopIteration:
            break
    # one write per line: other threads print too
    sys.stdout.write("Batch " + " ".join(f"stream{r['source']}:frame{r['frame']}" for r in batch) + "\n")
    return Gst.PadProbeReturn.OK


def cb_newpad(decodebin, decoder_src_pad, source_bin):
    caps = decoder_src_pad.get_current_caps()
    gstname = caps.get_structure(0).get_name()
    features = caps.get_features(0)
    if gstname.find("video") != -1:
        if features.contains("memory:NVMM"):
            if not source_bin.get_static_pad("src").set_target(decoder_src_pad):
                sys.stderr.write("Failed to link decoder src pad to source bin ghost pad\n")
        else:
            sys.stderr.write(" Error: Decodebin did not pick nvidia decoder plugin.\n")


def decodebin_child_added(child_proxy, obj, name, user_data):
    if name.find("decodebin") != -1:
        obj.connect("child-added", decodebin_child_added, user_data)


def create_source_bin(index, uri):
    nbin = Gst.Bin.new(f"source-bin-{index:02d}")
    uri_decode_bin = Gst.ElementFactory.make("uridecodebin", "uri-decode-bin")
    if not nbin or not uri_decode_bin:
        sys.stderr.write(" Unable to create source bin \n")
        return None
    uri_decode_bin.set_property("uri", uri)
    uri_decode_bin.connect("pad-added", cb_newpad, nbin)
    uri_decode_bin.connect("child-added", decodebin_child_added, nbin)
    nbin.add(uri_decode_bin)
    if not nbin.add_pad(Gst.GhostPad.new_no_target("src", Gst.PadDirection.SRC)):
        sys.stderr.write(" Failed to add ghost pad in source bin \n")
        return None
    return nbin


def make(factory, name, **properties):
    element = Gst.ElementFactory.make(factory, name)
    if not element:
        sys.stderr.write(f" Unable to create {factory}\n")
        sys.exit(1)
    for key, value in properties.items():
        element.set_property(key.replace("_", "-"), value)
    return element


def main(options):
    global frames
    uris, folder = options.inputs[:-1], options.inputs[-1]
    if not uris:
        sys.stderr.write("usage: deepstream_imagedata_multistream.py URI [URI ...] FOLDER\n")
        return 2
    if os.path.exists(folder):
        sys.stderr.write(f"The output folder {folder} already exists. Please remove it first.\n")
        return 1
    os.mkdir(folder)
    for i in range(len(uris)):
        os.mkdir(os.path.join(folder, f"stream_{i}"))
    frames = Frames(folder, options.frames_out)
    print("Frames will be saved in ", folder)
    Gst.init(None)

    pipeline = Gst.Pipeline()
    streammux = make(
        "nvstreammux", "Stream-muxer", width=MUXER_WIDTH, height=MUXER_HEIGHT, batch_size=len(uris),
        batched_push_timeout=MUXER_BATCH_TIMEOUT_USEC,
    )  # fmt: skip
    pipeline.add(streammux)
    for i, uri in enumerate(uris):
        source_bin = create_source_bin(i, uri)
        if not source_bin:
            return 1
        pipeline.add(source_bin)
        sinkpad = streammux.request_pad_simple(f"sink_{i}")
        if not sinkpad:
            sys.stderr.write("Unable to create sink pad bin \n")
            return 1
        source_bin.get_static_pad("src").link(sinkpad)

    nvvidconv1 = make("nvvideoconvert", "convertor1")
    filter1 = make(
        "capsfilter", "filter1", caps=Gst.Caps.from_string("video/x-raw(memory:NVMM), format=RGBA")
    )
    rows = int(math.sqrt(len(uris)))
    tiler = make(
        "nvmultistreamtiler", "nvtiler", rows=rows, columns=math.ceil(len(uris) / rows),
        width=TILED_WIDTH, height=TILED_HEIGHT,
    )  # fmt: skip
    nvvidconv2 = make("nvvideoconvert", "convertor2")
    filter2 = make(
        "capsfilter", "filter2", caps=Gst.Caps.from_string("video/x-raw(memory:NVMM), format=I420")
    )
    encoder = make("nvv4l2h264enc", "encoder", bitrate=8000000, iframeinterval=30)
    parser = make("h264parse", "parser")
    muxer = make("mp4mux", "muxer")
    sink = make("filesink", "filesink", location=options.tiled_output, sync=False)
    chain = (streammux, nvvidconv1, filter1, tiler, nvvidconv2, filter2, encoder, parser, muxer, sink)
    for element in chain[1:]:
        pipeline.add(element)
    for upstream, downstream in itertools.pairwise(chain):
        if not upstream.link(downstream):
            sys.stderr.write(f"Unable to link {upstream.get_name()} to {downstream.get_name()}\n")
            return 1

    loop = GLib.MainLoop()
    watch = BusWatch()
    bus = pipeline.get_bus()
    bus.add_signal_watch()
    bus.connect("message", watch, loop)
    tiler.get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, tiler_sink_pad_buffer_probe, 0)

    print("Now playing...")
    for i, uri in enumerate(uris):
        print(i, ": ", uri)
    if pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
        message = bus.timed_pop_filtered(0, Gst.MessageType.ERROR)
        if message is not None:
            watch(bus, message, loop)
        watch.failed = True
    else:
        loop.run()
    pipeline.set_state(Gst.State.NULL)
    frames.close()
    return 1 if watch.failed else 0


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="deepstream-imagedata-multistream style")
    parser.add_argument("inputs", nargs="+", help="URI [URI ...] FOLDER")
    parser.add_argument("--tiled-output", required=True, help="the tiled video, H.264 in MP4")
    parser.add_argument("--frames-out", help="write what the probe saw of each frame as JSON lines here")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main(parse_args()))
