"""ROI analytics: deepstream-app's ``dsanalytics_bin`` (deepstream_dsanalytics.c).

``dsanalytics_queue`` → nvdsanalytics ``dsanalytics0`` with the ``[nvds-analytics]``
``config-file``; the element reads the file (its errors come as ERROR messages with file and line).
"""

from __future__ import annotations

from fake_device.deepstream.gst.runtime import Gst
from fake_device.deepstream.reference_app import building
from fake_device.deepstream.reference_app.config import AnalyticsGroupConfig


def create_dsanalytics_bin(analytics: AnalyticsGroupConfig) -> tuple[Gst.Bin, Gst.Element]:
    """(``dsanalytics_bin`` with ``sink``/``src`` ghost pads, the nvdsanalytics)."""
    assert analytics.config_file is not None
    bin_ = building.new_bin("dsanalytics_bin")
    queue = building.make(building.QUEUE, "dsanalytics_queue")
    element = building.make("nvdsanalytics", "dsanalytics0", config_file=str(analytics.config_file))
    building.add(bin_, queue, element)
    building.link(queue, element)
    building.ghost(bin_, queue, "sink")
    building.ghost(bin_, element, "src")
    return bin_, element
