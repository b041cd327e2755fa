"""nveglglessink: the EGL render sink of dGPU (and older Jetson) DeepStream apps, with no display."""

from __future__ import annotations

from fake_device.deepstream.elements._display_sink import DisplaySink, sink_template
from fake_device.deepstream.gst.element import BOOL, GPU_ID, STRING, UINT, gproperties


class NvEglGlesSink(DisplaySink):
    __gtype_name__ = "GstEglGlesSink"
    __gstmetadata__ = (
        "EGL/GLES vout Sink",
        "Sink/Video",
        "An EGL/GLES Video Output Sink Implementing the VideoOverlay interface (edge-harness: no display)",
        "edge-harness",
    )
    __gsttemplates__ = (sink_template(),)
    FACTORY_NAME = "nveglglessink"
    PROPERTIES = (
        BOOL(
            "create-window",
            True,
            "If set to true, the sink will attempt to create it's own window to render to if none is "
            "provided. This is currently only supported when the sink is used under X11",
        ),
        BOOL(
            "force-aspect-ratio",
            True,
            "If set to true, the sink will attempt to preserve the incoming frame's geometry while "
            "scaling, taking both the storage's and display's pixel aspect ratio into account",
        ),
        UINT("window-x", 10, "X coordinate of the window"),
        UINT("window-y", 10, "Y coordinate of the window"),
        UINT("window-width", 0, "Width of the window"),
        UINT("window-height", 0, "Height of the window"),
        UINT("rows", 1, "Rows of Display", 1),
        UINT("columns", 1, "Columns of display", 1),
        GPU_ID(),
        UINT("profile", 0, "gsteglglessink jitter information", 0, 1),
        STRING("winsys", "x11", "Window System to use (x11 / wayland)"),
    )
    __gproperties__ = gproperties(PROPERTIES)


ELEMENT = NvEglGlesSink
