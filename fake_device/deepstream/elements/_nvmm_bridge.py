"""The label change between system memory and NVMM, where a C element meets the emulation.

NVMM is a caps feature on ordinary memory here (:mod:`fake_device.deepstream.gst.caps`), so turning
a decoder's system-memory frames into "NVMM" frames costs nothing: the buffers pass through and
only the caps change. The wrapper bins (nvv4l2decoder, the encoders) put this at their ends.

With ``on_buffer`` the bridge works in place instead of in passthrough, so the callback gets a
writable buffer it may add metadata to (the decoder's latency mark); the buffer is only copied when
something else still holds it, and a copy shares the frame's memory.
"""

from __future__ import annotations

from collections.abc import Callable

from fake_device.deepstream.gst.caps import NVMM_FORMATS, raw_video, with_memory
from fake_device.deepstream.gst.element import element_templates
from fake_device.deepstream.gst.runtime import Gst, GstBase


class NvmmBridge(GstBase.BaseTransform):
    """Passthrough: system memory on one side, NVMM on the other (``to_nvmm`` says which is which)."""

    __gstmetadata__ = (
        "NVMM bridge",
        "Filter/Converter/Video",
        "Relabels raw video between system memory and memory:NVMM (edge-harness)",
        "edge-harness",
    )
    __gsttemplates__ = element_templates(
        Gst.Caps.from_string(f"{raw_video(NVMM_FORMATS)}; {raw_video(NVMM_FORMATS, nvmm=False)}"),
        Gst.Caps.from_string(f"{raw_video(NVMM_FORMATS)}; {raw_video(NVMM_FORMATS, nvmm=False)}"),
    )

    def __init__(self, to_nvmm: bool = True, on_buffer: Callable[[Gst.Buffer], None] | None = None) -> None:
        super().__init__()
        self.to_nvmm = to_nvmm
        self.on_buffer = on_buffer
        if on_buffer is None:
            self.set_passthrough(True)
        else:
            self.set_in_place(True)

    def do_transform_caps(
        self, direction: Gst.PadDirection, caps: Gst.Caps, filter: Gst.Caps | None
    ) -> Gst.Caps:
        towards_src = direction == Gst.PadDirection.SINK
        nvmm = self.to_nvmm if towards_src else not self.to_nvmm
        out = with_memory(caps, nvmm=nvmm)
        if filter is not None:
            out = filter.intersect_full(out, Gst.CapsIntersectMode.FIRST)
        return out

    def do_transform_ip(self, buffer: Gst.Buffer) -> Gst.FlowReturn:
        if self.on_buffer is not None:
            self.on_buffer(buffer)
        return Gst.FlowReturn.OK
