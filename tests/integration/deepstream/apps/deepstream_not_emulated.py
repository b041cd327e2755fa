#!/usr/bin/env python3
"""A DeepStream app that asks for what a Jetson has and the CPU emulation does not.

    uridecodebin → nvstreammux → nvvideoconvert → capsfilter (RGBA) → [probe] → fakesink

``--use`` picks what the app relies on:

* ``rotate``: ``nvvideoconvert flip-method=clockwise`` (a camera mounted on its side);
* ``surface-create``: ``pyds.NvBufSurfaceCreate`` at start, to allocate a scratch surface;
* ``surface-gpu``: ``pyds.get_nvds_buf_surface_gpu`` in the probe, as the cupy sample does;
* ``nothing``: none of them (the same app working).

On a Jetson each works; on the simulated device each must fail loudly, naming what is missing.
"""

import argparse
import sys

import gi

gi.require_version("Gst", "1.0")
import pyds  # noqa: E402
from common.bus_call import BusWatch  # noqa: E402
from gi.repository import GLib, Gst  # noqa: E402

FLIP_CLOCKWISE = 3  # GstNvVideoFlipMethod "clockwise"


class FrameProbe:
    def __init__(self, use_gpu_surface, loop, watch):
        self.use_gpu_surface = use_gpu_surface
        self.loop = loop
        self.watch = watch
        self.frames = 0

    def __call__(self, pad, info, u_data):
        gst_buffer = info.get_buffer()
        batch_meta = pyds.gst_buffer_get_nvds_batch_meta(hash(gst_buffer))
        l_frame = batch_meta.frame_meta_list
        while l_frame is not None:
            frame_meta = pyds.NvDsFrameMeta.cast(l_frame.data)
            try:
                if self.use_gpu_surface:
                    # (data_type, shape, strides, data_ptr, size) of the frame in GPU memory, for cupy
                    pyds.get_nvds_buf_surface_gpu(hash(gst_buffer), frame_meta.batch_id)
                else:
                    pyds.get_nvds_buf_surface(hash(gst_buffer), frame_meta.batch_id)
            except AttributeError as err:
                sys.stderr.write(f"probe: {err}\n")
                self.watch.failed = True
                GLib.idle_add(self.loop.quit)
                return Gst.PadProbeReturn.REMOVE
            self.frames += 1
            l_frame = l_frame.next
        return Gst.PadProbeReturn.OK


def cb_newpad(decodebin, pad, streammux):
    if pad.get_current_caps().get_structure(0).get_name().startswith("video"):
        pad.link(streammux.request_pad_simple("sink_0"))


def main(args):
    Gst.init(None)
    if args.use == "surface-create":
        params = pyds.NvBufSurfaceCreateParams()
        params.width, params.height = 1280, 720
        pyds.NvBufSurfaceCreate(params)

    pipeline = Gst.Pipeline()
    source = Gst.ElementFactory.make("uridecodebin", "uri-decode-bin")
    streammux = Gst.ElementFactory.make("nvstreammux", "Stream-muxer")
    convert = Gst.ElementFactory.make("nvvideoconvert", "convertor")
    capsfilter = Gst.ElementFactory.make("capsfilter", "filter")
    sink = Gst.ElementFactory.make("fakesink", "fakesink")
    source.set_property("uri", args.uri)
    source.connect("pad-added", cb_newpad, streammux)
    streammux.set_property("batch-size", 1)
    streammux.set_property("width", 1280)
    streammux.set_property("height", 720)
    if args.use == "rotate":
        convert.set_property("flip-method", FLIP_CLOCKWISE)
    capsfilter.set_property("caps", Gst.Caps.from_string("video/x-raw(memory:NVMM), format=RGBA"))
    for element in (source, streammux, convert, capsfilter, sink):
        pipeline.add(element)
    streammux.link(convert)
    convert.link(capsfilter)
    capsfilter.link(sink)

    loop = GLib.MainLoop()
    watch = BusWatch()
    bus = pipeline.get_bus()
    bus.add_signal_watch()
    bus.connect("message", watch, loop)
    probe = FrameProbe(args.use == "surface-gpu", loop, watch)
    capsfilter.get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, probe, 0)

    if pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
        message = bus.timed_pop_filtered(0, Gst.MessageType.ERROR)
        if message is not None:
            watch(bus, message, loop)
        watch.failed = True
    else:
        loop.run()
    pipeline.set_state(Gst.State.NULL)
    print(f"frames read={probe.frames}")
    return 1 if watch.failed else 0


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="an app that needs what the emulation lacks")
    parser.add_argument("uri")
    parser.add_argument(
        "--use", choices=("rotate", "surface-create", "surface-gpu", "nothing"), required=True
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main(parse_args()))
