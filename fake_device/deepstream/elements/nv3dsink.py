"""nv3dsink: the render sink of Jetson DeepStream apps, with no display."""

from __future__ import annotations

from fake_device.deepstream.elements._display_sink import DisplaySink, sink_template
from fake_device.deepstream.gst.element import INT, UINT, gproperties


class Nv3dSink(DisplaySink):
    __gtype_name__ = "GstNv3dSink"
    __gstmetadata__ = (
        "Nvidia 3D sink",
        "Sink/Video",
        "A videosink based on 3D graphics rendering API (edge-harness: no display)",
        "edge-harness",
    )
    __gsttemplates__ = (sink_template(),)
    FACTORY_NAME = "nv3dsink"
    PROPERTIES = (
        INT("window-x", 0, "X coordinate of window", 0),
        INT("window-y", 0, "Y coordinate of window", 0),
        UINT("window-width", 0, "Width of window"),
        UINT("window-height", 0, "Height of window"),
    )
    __gproperties__ = gproperties(PROPERTIES)


ELEMENT = Nv3dSink
