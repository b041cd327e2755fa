"""The tiler: deepstream-app's ``tiled_display_bin`` (deepstream_tiled_display_bin.c).

``tiled_display_queue`` → nvmultistreamtiler ``tiled_display_tiler`` at ``[tiled-display]``
``width`` × ``height`` with ``rows`` × ``columns`` tiles. With fewer tiles than sources
deepstream-app keeps ``columns`` and adds rows (create_pipeline's "Num of Tiles less than number of
sources, readjusting"); so does this builder.
"""

from __future__ import annotations

import logging
import math

from fake_device.deepstream.gst.runtime import Gst
from fake_device.deepstream.reference_app import building
from fake_device.deepstream.reference_app.config import TiledDisplayConfig

log = logging.getLogger(__name__)


def tile_grid(tiled: TiledDisplayConfig, sources: int) -> tuple[int, int]:
    """(rows, columns) deepstream-app gives the tiler for ``sources`` streams."""
    rows, columns = tiled.rows, tiled.columns
    if rows * columns < sources:
        rows = math.ceil(sources / columns)
        log.warning(
            "Num of Tiles less than number of sources, readjusting to %d rows, %d columns", rows, columns
        )
    return rows, columns


def create_tiled_display_bin(tiled: TiledDisplayConfig, sources: int) -> tuple[Gst.Bin, Gst.Element]:
    """(``tiled_display_bin`` with ``sink``/``src`` ghost pads, the tiler)."""
    rows, columns = tile_grid(tiled, sources)
    bin_ = building.new_bin("tiled_display_bin")
    queue = building.make(building.QUEUE, "tiled_display_queue")
    tiler = building.make(
        "nvmultistreamtiler",
        "tiled_display_tiler",
        width=tiled.width,
        height=tiled.height,
        rows=rows,
        columns=columns,
    )
    building.add(bin_, queue, tiler)
    building.link(queue, tiler)
    building.ghost(bin_, queue, "sink")
    building.ghost(bin_, tiler, "src")
    return bin_, tiler
