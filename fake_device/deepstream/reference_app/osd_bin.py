"""The on-screen display: deepstream-app's ``osd_bin`` (deepstream_osd_bin.c).

``osd_queue`` → nvvideoconvert ``osd_conv`` → ``osd_conv_queue`` → nvdsosd ``nvosd0`` with the
``[osd]`` clock settings (``show-clock``, ``font``, offsets, ``clock-text-size``, ``clock-color``
packed as 0xRRGGBBFF), ``process-mode`` and ``display-text``/``-bbox``/``-mask``. The boxes'
colours and labels are not the OSD's business: deepstream-app writes them into the object metas
just before (:class:`~.probes.ObjectDisplay`).
"""

from __future__ import annotations

from fake_device.deepstream.gst.runtime import Gst
from fake_device.deepstream.reference_app import building
from fake_device.deepstream.reference_app.config import Color, OsdConfig


def clock_color(color: Color | None) -> int:
    """create_osd_bin's ``clk_color``: 0xRRGGBB from the config's fractions, alpha always 0xFF."""
    red, green, blue = (
        int(c * 255) & 0xFF for c in ((color.red, color.green, color.blue) if color else (0, 0, 0))
    )
    return (red << 24) | (green << 16) | (blue << 8) | 0xFF


def create_osd_bin(osd: OsdConfig) -> tuple[Gst.Bin, Gst.Element]:
    """(``osd_bin`` with ``sink``/``src`` ghost pads, the nvdsosd)."""
    bin_ = building.new_bin("osd_bin")
    queue = building.make(building.QUEUE, "osd_queue")
    convert = building.make(building.VIDEO_CONV, "osd_conv")
    conv_queue = building.make(building.QUEUE, "osd_conv_queue")
    nvosd = building.make(
        "nvdsosd",
        "nvosd0",
        display_clock=osd.show_clock,
        x_clock_offset=osd.clock_x_offset,
        y_clock_offset=osd.clock_y_offset,
        clock_color=clock_color(osd.clock_color),
        clock_font_size=osd.clock_text_size,
        process_mode=osd.process_mode,
        display_text=osd.display_text,
        display_bbox=osd.display_bbox,
        display_mask=osd.display_mask,
    )
    if osd.font is not None:
        nvosd.set_property("clock-font", osd.font)
    building.add(bin_, queue, convert, conv_queue, nvosd)
    building.link(queue, convert, conv_queue, nvosd)
    building.ghost(bin_, queue, "sink")
    building.ghost(bin_, nvosd, "src")
    return bin_, nvosd
