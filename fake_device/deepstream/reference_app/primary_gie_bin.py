"""The primary GIE: deepstream-app's ``primary_gie_bin`` (deepstream_primary_gie_bin.c).

``primary_gie_queue`` → nvvideoconvert (``primary_gie_conv``) → ``primary_gie``, which is nvinfer
(``plugin-type=0``) or nvinferserver (``plugin-type=1``) with ``config-file-path`` and
``process-mode=1`` (full frame); ``batch-size``, ``interval`` and ``gie-unique-id`` are set as
properties only when the group gives them, so the element's own config file decides otherwise —
the way deepstream-app overrides a GIE config. The config file is read by the element: its errors
arrive as ERROR messages naming file and line when the pipeline starts.
"""

from __future__ import annotations

import logging

from fake_device.deepstream.gst.runtime import Gst
from fake_device.deepstream.reference_app import building
from fake_device.deepstream.reference_app.config import PrimaryGieConfig

log = logging.getLogger(__name__)

PLUGINS = {0: "nvinfer", 1: "nvinferserver"}


def create_primary_gie_bin(gie: PrimaryGieConfig) -> tuple[Gst.Bin, Gst.Element]:
    """(``primary_gie_bin`` with ``sink``/``src`` ghost pads, the GIE element)."""
    assert gie.config_file is not None
    bin_ = building.new_bin("primary_gie_bin")
    queue = building.make(building.QUEUE, "primary_gie_queue")
    convert = building.make(building.VIDEO_CONV, "primary_gie_conv")
    element = building.make(PLUGINS[gie.plugin_type], "primary_gie")
    building.configure(element, config_file_path=str(gie.config_file), process_mode=1)
    if gie.model_engine_file is not None:
        if element.find_property("model-engine-file") is not None:
            element.set_property("model-engine-file", str(gie.model_engine_file))
        log.info("[primary-gie] model-engine-file %s: engines are GPU-specific, the model is run instead",
                 gie.model_engine_file)  # fmt: skip
    if gie.batch_size is not None:
        element.set_property("batch-size", gie.batch_size)
    if gie.interval is not None:
        element.set_property("interval", gie.interval)
    if gie.gie_unique_id is not None:
        element.set_property("unique-id", gie.gie_unique_id)
    building.add(bin_, queue, convert, element)
    building.link(queue, convert, element)
    building.ghost(bin_, element, "src")
    building.ghost(bin_, queue, "sink")
    return bin_, element
