"""nvdslogger: per-stream frame rates of the batches that pass, printed every interval.

Counts the frames of each source (``source_id`` of the frame metas) and, every
``fps-measurement-interval-sec`` seconds of wall time, prints one line on stdout:
``**PERF : FPS_0 (29.97)\tFPS_1 (30.01)\t`` — the rate of each source seen so far over the last
interval. Buffers pass through untouched.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

from fake_device.deepstream.gst.element import UINT, DeepStreamFilter, gproperties
from fake_device.deepstream.gst.runtime import Gst

PROPERTIES = (
    UINT(
        "fps-measurement-interval-sec",
        5,
        "Interval in seconds at which the FPS is measured and logged",
        1,
        3600,
    ),
)


class NvDsLogger(DeepStreamFilter):
    __gtype_name__ = "GstNvDsLogger"
    __gstmetadata__ = (
        "DeepStream Logger",
        "Generic",
        "Logs per-stream frame rates of DeepStream batches (edge-harness: CPU emulation)",
        "edge-harness",
    )
    __gsttemplates__ = DeepStreamFilter.__gsttemplates__
    FACTORY_NAME = "nvdslogger"
    RANK = Gst.Rank.PRIMARY
    PROPERTIES = PROPERTIES
    __gproperties__ = gproperties(PROPERTIES)

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._counts: dict[int, int] = {}
        self._started = 0.0

    def process_batch(self, buffer: Gst.Buffer, batch_meta: Any) -> None:
        now = time.monotonic()
        with self._lock:
            if not self._started:
                self._started = now
            for frame in batch_meta.frames:
                self._counts[frame.source_id] = self._counts.get(frame.source_id, 0) + 1
            elapsed = now - self._started
            if elapsed < self.prop("fps-measurement-interval-sec"):
                return
            line = "".join(f"FPS_{s} ({n / elapsed:.2f})\t" for s, n in sorted(self._counts.items()))
            self._counts = dict.fromkeys(self._counts, 0)
            self._started = now
        sys.stdout.write(f"**PERF : {line}\n")
        sys.stdout.flush()


ELEMENT = NvDsLogger
