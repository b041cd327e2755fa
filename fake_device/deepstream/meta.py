"""Frame and object metadata passed between the emulated elements.

The shapes follow DeepStream's NvDsBatchMeta / NvDsFrameMeta / NvDsObjectMeta
(sources/includes/nvdsmeta.h) and the analytics user meta (nvds_analytics_meta.h), so that an
element written against DeepStream's documentation reads naturally here. Coordinates are muxer
pixels (the streammux output resolution), as in DeepStream after nvinferserver has mapped boxes
back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

# NvDsObjectMeta.object_id of an object no tracker has seen (nvdsmeta.h UNTRACKED_OBJECT_ID).
UNTRACKED_OBJECT_ID = 0xFFFFFFFFFFFFFFFF


@dataclass
class ObjectAnalytics:
    """NvDsAnalyticsObjInfo: what nvdsanalytics found about one object."""

    roi_status: list[str] = field(default_factory=list)
    oc_status: list[str] = field(default_factory=list)
    lc_status: list[str] = field(default_factory=list)
    dir_status: str = ""
    unique_id: int = 0


@dataclass
class FrameAnalytics:
    """NvDsAnalyticsFrameMeta: per-frame counts of nvdsanalytics."""

    oc_status: dict[str, bool] = field(default_factory=dict)
    obj_in_roi_cnt: dict[str, int] = field(default_factory=dict)
    obj_lc_curr_cnt: dict[str, int] = field(default_factory=dict)
    obj_lc_cum_cnt: dict[str, int] = field(default_factory=dict)
    obj_cnt: dict[int, int] = field(default_factory=dict)
    unique_id: int = 0


@dataclass
class ObjectMeta:
    """NvDsObjectMeta (the fields the emulated elements use)."""

    class_id: int
    confidence: float
    left: float
    top: float
    width: float
    height: float
    obj_label: str = ""
    object_id: int = UNTRACKED_OBJECT_ID
    tracker_confidence: float = 0.0
    unique_component_id: int = 0
    analytics: ObjectAnalytics | None = None

    @property
    def right(self) -> float:
        return self.left + self.width

    @property
    def bottom(self) -> float:
        return self.top + self.height

    @property
    def tracked(self) -> bool:
        return self.object_id != UNTRACKED_OBJECT_ID


@dataclass
class FrameMeta:
    """NvDsFrameMeta plus the frame itself (``image``, BGR uint8 at muxer resolution).

    ``ntp_timestamp`` is the capture time in nanoseconds since the epoch (what
    ``attach-sys-ts`` gives a DeepStream pipeline): msgconv's ``@timestamp`` is this, so a Kafka
    consumer can compute frame → Kafka latency. ``latency`` collects per-element
    (name, in_time, out_time) marks in seconds of ``time.monotonic()`` for the latency
    measurement.
    """

    source_id: int
    frame_num: int
    ntp_timestamp: int
    source_frame_width: int
    source_frame_height: int
    image: np.ndarray | None = None
    buf_pts: int = 0
    batch_id: int = 0
    objects: list[ObjectMeta] = field(default_factory=list)
    analytics: FrameAnalytics | None = None
    user_meta: list[Any] = field(default_factory=list)
    decode_time: float = 0.0
    latency: list[tuple[str, float, float]] = field(default_factory=list)


@dataclass
class BatchMeta:
    """NvDsBatchMeta: the frames nvstreammux put into one batch."""

    frames: list[FrameMeta] = field(default_factory=list)
    max_frames_in_batch: int = 1
