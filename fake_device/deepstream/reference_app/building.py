"""What every bin builder shares: making elements, linking them, ghost pads, tee branches.

deepstream-app builds its pipeline from small bins (``deepstream_*_bin.c``) with the macros of
``deepstream_common.h`` (``NVGSTDS_LINK_ELEMENT``, ``NVGSTDS_BIN_ADD_GHOST_PAD``,
``link_element_to_tee_src_pad``); a failure there prints "Failed to create 'X'" and the app gives
up. Here the same failures raise :class:`BuildError` naming the element and its factory, so the
command reports them like a config error instead of a traceback.
"""

from __future__ import annotations

import itertools
from typing import Any

from fake_device.deepstream.gst.runtime import Gst
from harness.errors import HarnessError

QUEUE = "queue"
TEE = "tee"
CAPS_FILTER = "capsfilter"
VIDEO_CONV = "nvvideoconvert"


class BuildError(HarnessError):
    """An element could not be made, set or linked while building the pipeline."""


def make(factory: str, name: str | None = None, **properties: Any) -> Gst.Element:
    """``gst_element_factory_make`` plus ``g_object_set``; properties by their GStreamer names
    with ``_`` for ``-`` (``max_size_buffers=20``)."""
    element = Gst.ElementFactory.make(factory, name)
    if element is None:
        raise BuildError(
            f"Failed to create '{name or factory}': no GStreamer element '{factory}'",
            hint="the GStreamer plugins of docs/deepstream/reference-app.md are missing "
            "(gstreamer1.0-plugins-good/-bad/-ugly, gstreamer1.0-libav); `edge-harness doctor` checks them",
        )
    configure(element, **properties)
    return element


def configure(element: Gst.Element, **properties: Any) -> None:
    """Set properties; a wrong name or value is a :class:`BuildError` naming both."""
    for key, value in properties.items():
        prop = key.replace("_", "-")
        try:
            element.set_property(prop, value)
        except (TypeError, ValueError, OverflowError) as err:
            raise BuildError(f"{element.get_name()}: cannot set {prop}={value!r}: {err}") from None


def caps_filter(name: str, caps: str) -> Gst.Element:
    return make(CAPS_FILTER, name, caps=Gst.Caps.from_string(caps))


def add(bin_: Gst.Bin, *elements: Gst.Element) -> None:
    for element in elements:
        try:
            bin_.add(element)  # Gst's Python override raises on failure (a duplicate name)
        except Gst.AddError:
            raise BuildError(f"cannot add {element.get_name()} to {bin_.get_name()}") from None


def link(*elements: Gst.Element) -> None:
    """Link each element to the next (NVGSTDS_LINK_ELEMENT)."""
    for upstream, downstream in itertools.pairwise(elements):
        if not upstream.link(downstream):
            names = f"'{upstream.get_name()}' (src) and '{downstream.get_name()}' (sink)"
            raise BuildError(f"Failed to link {names}")


def ghost(bin_: Gst.Bin, element: Gst.Element, pad: str) -> Gst.Pad:
    """NVGSTDS_BIN_ADD_GHOST_PAD: ``bin_`` gets a pad ``pad`` that is ``element``'s."""
    target = element.get_static_pad(pad)
    if target is None:
        raise BuildError(f"{element.get_name()} has no '{pad}' pad")
    ghost_pad = Gst.GhostPad.new(pad, target)
    ghost_pad.set_active(True)
    if not bin_.add_pad(ghost_pad):
        raise BuildError(f"Failed to add ghost pad '{pad}' in '{bin_.get_name()}'")
    return ghost_pad


def link_to_tee(tee: Gst.Element, element: Gst.Element) -> None:
    """link_element_to_tee_src_pad: a new ``src_%u`` pad of ``tee`` to ``element``'s sink."""
    source = tee.request_pad_simple("src_%u")
    sink = element.get_static_pad("sink")
    if source is None or sink is None or source.link(sink) != Gst.PadLinkReturn.OK:
        raise BuildError(f"Failed to link '{tee.get_name()}' and '{element.get_name()}'")


def new_bin(name: str) -> Gst.Bin:
    return Gst.Bin.new(name)
