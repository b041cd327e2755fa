"""The render sinks of a Jetson (nveglglessink, nv3dsink) on a machine without a display.

Apps pick them when they want a window; in CI there is none, so the sink consumes frames like
fakesink while keeping what an app relies on: ``sync`` (frames are held until their running time,
so a file plays at its frame rate as on screen), ``qos`` (on by default, as for any video sink) and
the window properties, accepted and kept but with nothing to draw into.
"""

from __future__ import annotations

from typing import ClassVar

from fake_device.deepstream.gst.caps import nvmm_or_system_caps
from fake_device.deepstream.gst.element import PropertyStore
from fake_device.deepstream.gst.runtime import Gst, GstBase


def sink_template() -> Gst.PadTemplate:
    """NVMM or system-memory raw video, any of the emulated formats."""
    return Gst.PadTemplate.new("sink", Gst.PadDirection.SINK, Gst.PadPresence.ALWAYS, nvmm_or_system_caps())


class DisplaySink(PropertyStore, GstBase.BaseSink):
    """Consumes frames; GstBaseSink does the clock synchronisation and QoS."""

    FACTORY_NAME: ClassVar[str] = ""
    RANK: ClassVar[int] = Gst.Rank.SECONDARY

    def __init__(self) -> None:
        super().__init__()
        self.init_properties()
        self.set_qos_enabled(True)  # GstVideoSink's default: video sinks send QoS events
        self.rendered = 0

    def do_change_state(self, transition: Gst.StateChange) -> Gst.StateChangeReturn:
        if self.refuses_to_start(transition):
            return Gst.StateChangeReturn.FAILURE
        return GstBase.BaseSink.do_change_state(self, transition)

    def do_render(self, buffer: Gst.Buffer) -> Gst.FlowReturn:
        self.rendered += 1
        return Gst.FlowReturn.OK
