#!/usr/bin/env python3
"""Detections drawn and streamed over RTSP, in the manner of deepstream-test1-rtsp-out.

    filesrc → h264parse → nvv4l2decoder → nvstreammux → nvinfer → nvvideoconvert → nvdsosd
        → nvvideoconvert → capsfilter (I420) → nvv4l2h264enc | nvv4l2h265enc → rtph26Xpay → udpsink

A GstRtspServer serves ``rtsp://<host>:<rtsp-port>/ds-test`` from a ``udpsrc`` on the UDP port
the encoder's RTP goes to (unicast to this host here: the sample multicasts to 224.224.255.255,
which only the local server reads anyway, and a fixed port would collide when apps share a host).
The probe on nvdsosd's sink pad counts the objects of each frame, as test1 does.
"""

import argparse
import itertools
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
import pyds  # noqa: E402
from common.bus_call import BusWatch  # noqa: E402
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

MUXER_WIDTH, MUXER_HEIGHT = 1280, 720
MUXER_BATCH_TIMEOUT_USEC = 33000
PGIE_CONFIG_FILE = "config_infer_primary_rtdetr.txt"


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
        sys.stdout.write(f"Frame Number={frame_meta.frame_num} Number of Objects={frame_meta.num_obj_meta}\n")
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


def main(args):
    Gst.init(None)
    pipeline = Gst.Pipeline()
    source = make("filesrc", "file-source")
    h264parser = make("h264parse", "h264-parser")
    decoder = make("nvv4l2decoder", "nvv4l2-decoder")
    streammux = make("nvstreammux", "Stream-muxer")
    pgie = make("nvinfer", "primary-inference")
    nvvidconv = make("nvvideoconvert", "convertor")
    nvosd = make("nvdsosd", "onscreendisplay")
    nvvidconv_postosd = make("nvvideoconvert", "convertor_postosd")
    caps = make("capsfilter", "filter")
    caps.set_property("caps", Gst.Caps.from_string("video/x-raw(memory:NVMM), format=I420"))
    if args.codec == "H264":
        encoder = make("nvv4l2h264enc", "encoder")
        rtppay = make("rtph264pay", "rtppay")
    else:
        encoder = make("nvv4l2h265enc", "encoder")
        rtppay = make("rtph265pay", "rtppay")
    encoder.set_property("bitrate", args.bitrate)
    encoder.set_property("preset-level", 1)
    encoder.set_property("insert-sps-pps", 1)
    encoder.set_property("iframeinterval", 15)
    sink = make("udpsink", "udpsink")
    sink.set_property("host", "127.0.0.1")
    sink.set_property("port", args.udp_port)
    sink.set_property("async", False)
    sink.set_property("sync", 1)

    source.set_property("location", args.input)
    streammux.set_property("width", MUXER_WIDTH)
    streammux.set_property("height", MUXER_HEIGHT)
    streammux.set_property("batch-size", 1)
    streammux.set_property("batched-push-timeout", MUXER_BATCH_TIMEOUT_USEC)
    pgie.set_property("config-file-path", args.pgie_config)

    chain = (nvvidconv, nvosd, nvvidconv_postosd, caps, encoder, rtppay, sink)
    for element in (source, h264parser, decoder, streammux, pgie, *chain):
        pipeline.add(element)
    source.link(h264parser)
    h264parser.link(decoder)
    decoder.get_static_pad("src").link(streammux.request_pad_simple("sink_0"))
    streammux.link(pgie)
    pgie.link(nvvidconv)
    for upstream, downstream in itertools.pairwise(chain):
        if not upstream.link(downstream):
            sys.stderr.write(f"Unable to link {upstream.get_name()} to {downstream.get_name()}\n")
            return 1

    loop = GLib.MainLoop()
    watch = BusWatch()
    bus = pipeline.get_bus()
    bus.add_signal_watch()
    bus.connect("message", watch, loop)

    server = GstRtspServer.RTSPServer.new()
    server.props.service = str(args.rtsp_port)
    if server.attach(None) == 0:
        sys.stderr.write(f"The RTSP server cannot listen on port {args.rtsp_port}\n")
        return 1
    factory = GstRtspServer.RTSPMediaFactory.new()
    factory.set_launch(
        f"( udpsrc name=pay0 port={args.udp_port} address=127.0.0.1 buffer-size=524288 "
        f'caps="application/x-rtp, media=video, clock-rate=90000, encoding-name=(string){args.codec}, '
        'payload=96 " )'
    )
    factory.set_shared(True)
    server.get_mount_points().add_factory("/ds-test", factory)
    url = f"rtsp://localhost:{args.rtsp_port}/ds-test"
    sys.stdout.write(f"\n *** DeepStream: Launched RTSP Streaming at {url} ***\n\n")
    sys.stdout.flush()

    nvosd.get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, osd_sink_pad_buffer_probe, 0)
    if pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
        watch.failed = True
    else:
        loop.run()
    pipeline.set_state(Gst.State.NULL)
    return 1 if watch.failed else 0


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="deepstream-test1-rtsp-out style: detections over RTSP")
    parser.add_argument("-i", "--input", required=True, help="H.264 elementary stream")
    parser.add_argument(
        "-c", "--codec", default="H264", choices=["H264", "H265"], help="RTSP streaming codec"
    )
    parser.add_argument("-b", "--bitrate", default=4000000, type=int, help="encoding bitrate")
    parser.add_argument("--pgie-config", default=PGIE_CONFIG_FILE)
    parser.add_argument("--rtsp-port", type=int, default=8554)
    parser.add_argument("--udp-port", type=int, default=5400)
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main(parse_args()))
