#!/usr/bin/env python3
"""Sources added and removed while the pipeline plays, in the manner of runtime_source_add_delete.

    uridecodebin (source 0) ─┐
    uridecodebin (added)   ──┼→ nvstreammux (live-source, request pads) → nvmultistreamtiler
    uridecodebin (added)   ──┘      → nvvideoconvert → nvdsosd → fakesink (sync)

The pipeline starts with the first URI. Each ``--add URI@N`` adds a uridecodebin once source 0 has
delivered N frames (its pad links to a new ``sink_%u`` request pad of the muxer while PLAYING);
``--remove-after K`` removes an added source after K of its frames, as the sample's random delete
does (bin to NULL, flush-stop on the muxer pad, release the pad, remove the bin). A source that
reaches its end first is removed at its ``stream-eos`` message, as the sample does. Changes to the
pipeline happen on the main loop, never in the streaming thread.

The probe on the tiler's sink pad prints each batch as ``Batch s<source>:f<frame> ...``.
"""

import argparse
import json
import sys

import gi

gi.require_version("Gst", "1.0")
import pyds  # noqa: E402
from gi.repository import GLib, Gst  # noqa: E402

MAX_NUM_SOURCES = 4
MUXER_WIDTH, MUXER_HEIGHT = 1280, 720
TILED_WIDTH, TILED_HEIGHT = 1280, 720


def say(text):
    """One line in one write: the streaming threads and the main loop print concurrently."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


class App:
    def __init__(self, options):
        self.options = options
        self.pipeline = None
        self.streammux = None
        self.loop = None
        self.source_bins = [None] * MAX_NUM_SOURCES
        self.enabled = [False] * MAX_NUM_SOURCES
        self.frames = [0] * MAX_NUM_SOURCES
        self.pending = sorted(options.add, key=lambda a: a[1])  # (uri, after N frames of source 0)
        self.removing = set()
        self.created = 1  # source 0 is made at start
        self.failed = False
        self.log = []

    # -- sources ---------------------------------------------------------------------------------
    def cb_newpad(self, decodebin, pad, source_id):
        caps = pad.get_current_caps()
        if caps.get_structure(0).get_name().find("video") == -1:
            return
        sinkpad = self.streammux.request_pad_simple(f"sink_{source_id}")
        if not sinkpad:
            sys.stderr.write("Unable to create sink pad bin \n")
        elif pad.link(sinkpad) == Gst.PadLinkReturn.OK:
            say(f"Decodebin linked to pipeline: source {source_id}")
        else:
            sys.stderr.write("Failed to link decodebin to pipeline\n")

    def create_uridecode_bin(self, index, uri):
        source_bin = Gst.ElementFactory.make("uridecodebin", f"source-bin-{index:02d}")
        if not source_bin:
            sys.stderr.write(" Unable to create uri decode bin \n")
            return None
        source_bin.set_property("uri", uri)
        source_bin.connect("pad-added", self.cb_newpad, index)
        self.enabled[index] = True
        return source_bin

    def add_source(self, uri):
        source_id = self.created  # a fresh id, so each source's frames are counted on their own
        say(f"Calling Start {source_id}")
        source_bin = self.create_uridecode_bin(source_id, uri)
        if source_bin is None:
            self.fail("Failed to create source bin.")
            return GLib.SOURCE_REMOVE
        self.source_bins[source_id] = source_bin
        self.created += 1
        self.pipeline.add(source_bin)
        state_return = source_bin.set_state(Gst.State.PLAYING)
        if state_return == Gst.StateChangeReturn.FAILURE:
            self.fail(f"STATE CHANGE FAILURE for source {source_id}")
        return GLib.SOURCE_REMOVE

    def stop_release_source(self, source_id):
        source_bin = self.source_bins[source_id]
        state_return = source_bin.set_state(Gst.State.NULL)
        if state_return == Gst.StateChangeReturn.FAILURE:
            self.fail(f"STATE CHANGE FAILURE while stopping source {source_id}")
            return GLib.SOURCE_REMOVE
        if state_return == Gst.StateChangeReturn.ASYNC:
            source_bin.get_state(Gst.CLOCK_TIME_NONE)
        sinkpad = self.streammux.get_static_pad(f"sink_{source_id}")
        if sinkpad is not None:
            sinkpad.send_event(Gst.Event.new_flush_stop(False))
            self.streammux.release_request_pad(sinkpad)
        self.pipeline.remove(source_bin)
        self.source_bins[source_id] = None
        self.enabled[source_id] = False
        say(f"Released source {source_id} after {self.frames[source_id]} frames")
        return GLib.SOURCE_REMOVE

    def fail(self, why):
        sys.stderr.write(why + "\n")
        self.failed = True
        self.loop.quit()

    # -- probe and bus ---------------------------------------------------------------------------
    def tiler_sink_pad_buffer_probe(self, pad, info, u_data):
        gst_buffer = info.get_buffer()
        batch_meta = pyds.gst_buffer_get_nvds_batch_meta(hash(gst_buffer))
        seen = []
        l_frame = batch_meta.frame_meta_list
        while l_frame is not None:
            try:
                frame_meta = pyds.NvDsFrameMeta.cast(l_frame.data)
            except StopIteration:
                break
            source_id = frame_meta.pad_index
            seen.append((source_id, frame_meta.frame_num))
            self.frames[source_id] += 1
            try:
                l_frame = l_frame.next
            except StopIteration:
                break
        say("Batch " + " ".join(f"s{s}:f{f}" for s, f in seen))
        self.log.append(seen)
        while self.pending and self.frames[0] >= self.pending[0][1]:
            uri, _ = self.pending.pop(0)
            GLib.idle_add(self.add_source, uri)
        for source_id in range(1, MAX_NUM_SOURCES):
            if (
                self.enabled[source_id]
                and source_id not in self.removing
                and self.frames[source_id] >= self.options.remove_after
            ):
                self.removing.add(source_id)
                GLib.idle_add(self.stop_release_source, source_id)
        return Gst.PadProbeReturn.OK

    def bus_call(self, bus, message, loop):
        t = message.type
        if t == Gst.MessageType.EOS:
            say("End-of-stream")
            loop.quit()
        elif t == Gst.MessageType.WARNING:
            err, debug = message.parse_warning()
            sys.stderr.write(f"Warning: {err}: {debug}\n")
        elif t == Gst.MessageType.ERROR:
            err, debug = message.parse_error()
            sys.stderr.write(f"Error: {err}: {debug}\n")
            self.failed = True
            loop.quit()
        elif t == Gst.MessageType.ELEMENT:
            struct = message.get_structure()
            if struct is not None and struct.has_name("stream-eos"):
                parsed, stream_id = struct.get_uint("stream-id")
                if parsed:
                    say(f"Got EOS from stream {stream_id}")
                    if stream_id != 0 and self.enabled[stream_id] and stream_id not in self.removing:
                        self.removing.add(stream_id)
                        GLib.idle_add(self.stop_release_source, stream_id)
        return True

    # -- pipeline --------------------------------------------------------------------------------
    def run(self):
        Gst.init(None)
        self.pipeline = Gst.Pipeline()
        self.streammux = Gst.ElementFactory.make("nvstreammux", "Stream-muxer")
        tiler = Gst.ElementFactory.make("nvmultistreamtiler", "nvtiler")
        nvvideoconvert = Gst.ElementFactory.make("nvvideoconvert", "convertor")
        nvosd = Gst.ElementFactory.make("nvdsosd", "onscreendisplay")
        sink = Gst.ElementFactory.make("fakesink", "fakesink")
        if not all((self.streammux, tiler, nvvideoconvert, nvosd, sink)):
            sys.stderr.write(" Unable to create the pipeline's elements\n")
            return 1
        self.streammux.set_property("batched-push-timeout", 25000)
        self.streammux.set_property("batch-size", MAX_NUM_SOURCES)
        self.streammux.set_property("gpu_id", 0)
        self.streammux.set_property("live-source", 1)
        self.streammux.set_property("width", MUXER_WIDTH)
        self.streammux.set_property("height", MUXER_HEIGHT)
        tiler.set_property("rows", 2)
        tiler.set_property("columns", 2)
        tiler.set_property("width", TILED_WIDTH)
        tiler.set_property("height", TILED_HEIGHT)
        sink.set_property("sync", 1)
        sink.set_property("qos", 0)

        self.pipeline.add(self.streammux)
        first = self.create_uridecode_bin(0, self.options.uri)
        if first is None:
            return 1
        self.source_bins[0] = first
        self.pipeline.add(first)
        for element in (tiler, nvvideoconvert, nvosd, sink):
            self.pipeline.add(element)
        if not (self.streammux.link(tiler) and tiler.link(nvvideoconvert)):
            sys.stderr.write("Unable to link the muxer to the tiler\n")
            return 1
        if not (nvvideoconvert.link(nvosd) and nvosd.link(sink)):
            sys.stderr.write("Unable to link the OSD\n")
            return 1
        tiler.get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, self.tiler_sink_pad_buffer_probe, 0)

        self.loop = GLib.MainLoop()
        bus = self.pipeline.get_bus()
        bus.add_signal_watch()
        bus.connect("message", self.bus_call, self.loop)
        say("Starting pipeline")
        if self.pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
            sys.stderr.write("Unable to set the pipeline to PLAYING\n")
            self.pipeline.set_state(Gst.State.NULL)
            return 1
        self.loop.run()
        pads = [pad.get_name() for pad in self.streammux.sinkpads]
        self.pipeline.set_state(Gst.State.NULL)
        say("Muxer sink pads at the end: " + json.dumps(pads))
        say("Frames per source: " + json.dumps(self.frames))
        return 1 if self.failed else 0


def add_spec(text):
    uri, _, after = text.rpartition("@")
    if not uri or not after.isdigit():
        raise argparse.ArgumentTypeError(f"expected URI@FRAMES, got {text!r}")
    return uri, int(after)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="runtime_source_add_delete style")
    parser.add_argument("uri", help="the first source")
    parser.add_argument("--add", type=add_spec, action="append", default=[], metavar="URI@N",
                        help="add URI once source 0 delivered N frames")  # fmt: skip
    parser.add_argument("--remove-after", type=int, default=30, metavar="K",
                        help="remove an added source after K of its frames")  # fmt: skip
    options = parser.parse_args(argv)
    if len(options.add) >= MAX_NUM_SOURCES:
        parser.error(f"at most {MAX_NUM_SOURCES - 1} sources can be added")
    return options


if __name__ == "__main__":
    sys.exit(App(parse_args()).run())
