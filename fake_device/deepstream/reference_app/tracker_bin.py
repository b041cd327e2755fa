"""The tracker: deepstream-app's ``tracking_bin`` (deepstream_tracker_bin.c), one nvtracker.

``tracking_tracker`` gets ``ll-lib-file`` and ``ll-config-file`` and the ``[tracker]`` keys that
change what the emulated NvMultiObjectTracker does (``display-tracking-id``,
``tracking-surface-type``, ``tracking-id-reset-mode``; ``tracker-width``/``-height`` when given).
Without ``ll-lib-file`` (deepstream-app would fail) the element gets DeepStream's
NvMultiObjectTracker library, the only one emulated, so NvSORT runs with the config's settings or,
without ``ll-config-file``, with the library's defaults.
"""

from __future__ import annotations

from fake_device.deepstream.gst.runtime import Gst
from fake_device.deepstream.reference_app import building
from fake_device.deepstream.reference_app.config import TRACKER_LIB, TrackerGroupConfig

DEFAULT_LIB = f"/opt/nvidia/deepstream/deepstream/lib/{TRACKER_LIB}"


def create_tracking_bin(tracker: TrackerGroupConfig) -> tuple[Gst.Bin, Gst.Element]:
    """(``tracking_bin`` with ``sink``/``src`` ghost pads, the nvtracker)."""
    bin_ = building.new_bin("tracking_bin")
    element = building.make(
        "nvtracker",
        "tracking_tracker",
        ll_lib_file=str(tracker.ll_lib_file or DEFAULT_LIB),
        display_tracking_id=tracker.display_tracking_id,
        tracking_surface_type=tracker.tracking_surface_type,
        tracking_id_reset_mode=tracker.tracking_id_reset_mode,
    )
    if tracker.ll_config_file is not None:
        element.set_property("ll-config-file", str(tracker.ll_config_file))
    if tracker.width is not None:
        element.set_property("tracker-width", tracker.width)
    if tracker.height is not None:
        element.set_property("tracker-height", tracker.height)
    building.add(bin_, element)
    building.ghost(bin_, element, "sink")
    building.ghost(bin_, element, "src")
    return bin_, element
