"""Ground truth: per-frame boxes, and what the ROI analytics should report.

Boxes follow the MOT challenge layout (``frame,id,x,y,w,h,conf,class,visibility``; frames count
from 1) with one difference: box coordinates are 0-based pixels, the way DeepStream reports
``rect_params`` and the way the rest of the harness compares boxes. A box is the vehicle's whole
silhouette clipped to the frame, even where something covers it (as in MOT); ``visibility`` is
the fraction of the silhouette that is actually seen, i.e. neither covered nor outside the frame.

The analytics truth mirrors nvdsanalytics: a vehicle is in the ROI when the bottom-centre of its
box is inside the polygon (even-odd rule), and it crosses the counting line when that point's
motion between two consecutive frames crosses the line segment with a positive component along
the direction vector; each vehicle counts once. The truth is about where vehicles are, so an
occluded vehicle still counts; a detector that misses it is what the evaluation is for.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from harness.world.presets import CLASS_NAMES

Point = tuple[float, float]


@dataclass(frozen=True)
class TruthObject:
    """One vehicle in one frame."""

    id: int
    class_id: int
    x: int
    y: int
    w: int
    h: int
    visibility: float
    direction: str
    speed_kmh: float

    @property
    def class_name(self) -> str:
        return CLASS_NAMES[self.class_id]

    @property
    def bottom_centre(self) -> Point:
        """The point nvdsanalytics tests against ROIs and lines."""
        return (self.x + self.w / 2, self.y + self.h)

    def mot_row(self, frame: int) -> str:
        return (
            f"{frame},{self.id},{self.x},{self.y},{self.w},{self.h},1,{self.class_id},{self.visibility:.4f}"
        )


def point_in_polygon(point: Point, polygon: tuple[Point, ...] | list[Point]) -> bool:
    """Even-odd ray casting, as nvdsanalytics does."""
    x, y = point
    inside = False
    n = len(polygon)
    for i in range(n):
        x1, y1 = polygon[i]
        x2, y2 = polygon[(i + 1) % n]
        if (y1 > y) != (y2 > y):
            x_cross = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
            if x < x_cross:
                inside = not inside
    return inside


def _orient(a: Point, b: Point, c: Point) -> float:
    return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])


def segments_cross(p1: Point, p2: Point, q1: Point, q2: Point) -> bool:
    """Whether the move p1→p2 crosses the segment q1–q2.

    The move must start strictly on one side; arriving exactly on the line counts (for that
    move), so the next move, which starts on the line, does not count a second time.
    """
    d1, d2 = _orient(q1, q2, p1), _orient(q1, q2, p2)
    if d1 == 0 or (d2 != 0 and (d1 > 0) == (d2 > 0)):
        return False
    d3, d4 = _orient(p1, p2, q1), _orient(p1, p2, q2)
    return d3 <= 0 <= d4 or d4 <= 0 <= d3


@dataclass
class TrackRecord:
    class_id: int
    direction: str
    first_frame: int
    last_frame: int
    frames: int = 0
    min_visibility: float = 1.0


@dataclass
class TruthRecorder:
    """Collects per-frame truth and derives ROI entries and line crossings."""

    roi_label: str
    roi_polygon: tuple[Point, ...]
    line_label: str
    line_direction: tuple[Point, Point]
    line: tuple[Point, Point]
    rows: list[str] = field(default_factory=list)
    tracks: dict[int, TrackRecord] = field(default_factory=dict)
    roi_entries: dict[int, int] = field(default_factory=dict)
    inbound_crossings: dict[int, int] = field(default_factory=dict)
    _last_point: dict[int, Point] = field(default_factory=dict)

    def add(self, frame: int, objects: list[TruthObject]) -> None:
        (dx1, dy1), (dx2, dy2) = self.line_direction
        direction = (dx2 - dx1, dy2 - dy1)
        seen = set()
        for obj in objects:
            self.rows.append(obj.mot_row(frame))
            seen.add(obj.id)
            track = self.tracks.get(obj.id)
            if track is None:
                track = self.tracks[obj.id] = TrackRecord(obj.class_id, obj.direction, frame, frame)
            elif track.class_id != obj.class_id:
                raise AssertionError(f"track {obj.id} changed class")  # engine invariant
            track.last_frame = frame
            track.frames += 1
            track.min_visibility = min(track.min_visibility, obj.visibility)
            point = obj.bottom_centre
            if obj.id not in self.roi_entries and point_in_polygon(point, self.roi_polygon):
                self.roi_entries[obj.id] = frame
            previous = self._last_point.get(obj.id)
            if previous is not None and obj.id not in self.inbound_crossings:
                motion = (point[0] - previous[0], point[1] - previous[1])
                along = motion[0] * direction[0] + motion[1] * direction[1]
                if along > 0 and segments_cross(previous, point, *self.line):
                    self.inbound_crossings[obj.id] = frame
            self._last_point[obj.id] = point
        for gone in [k for k in self._last_point if k not in seen]:
            del self._last_point[gone]

    @property
    def gt_text(self) -> str:
        return "".join(row + "\n" for row in self.rows)

    def summary(self) -> dict[str, Any]:
        """The analytics truth for truth.json."""

        def per_class(ids: list[int]) -> dict[str, int]:
            counts = dict.fromkeys(CLASS_NAMES, 0)
            for i in ids:
                counts[CLASS_NAMES[self.tracks[i].class_id]] += 1
            return counts

        roi_ids = sorted(self.roi_entries)
        crossing_ids = sorted(self.inbound_crossings, key=lambda i: (self.inbound_crossings[i], i))
        (dx1, dy1), (dx2, dy2) = self.line_direction
        (lx1, ly1), (lx2, ly2) = self.line
        roi_text = ";".join(f"{round(x)};{round(y)}" for x, y in self.roi_polygon)
        line_text = ";".join(str(round(v)) for v in (dx1, dy1, dx2, dy2, lx1, ly1, lx2, ly2))
        return {
            "vehicles": [
                {
                    "id": i,
                    "class": CLASS_NAMES[t.class_id],
                    "class_id": t.class_id,
                    "direction": t.direction,
                    "first_frame": t.first_frame,
                    "last_frame": t.last_frame,
                    "frames": t.frames,
                    "min_visibility": round(t.min_visibility, 4),
                }
                for i, t in sorted(self.tracks.items())
            ],
            "vehicles_per_class": per_class(sorted(self.tracks)),
            "roi": {
                "label": self.roi_label,
                "polygon": [[x, y] for x, y in self.roi_polygon],
                "membership_point": "bottom-centre of the box",
                "entered_ids": roi_ids,
                "entries": [
                    {"id": i, "class": CLASS_NAMES[self.tracks[i].class_id], "frame": self.roi_entries[i]}
                    for i in roi_ids
                ],
                "per_class": per_class(roi_ids),
            },
            "line": {
                "label": self.line_label,
                "direction": [list(p) for p in self.line_direction],
                "line": [list(p) for p in self.line],
                "inbound_ids": sorted(crossing_ids),
                "inbound": [
                    {
                        "id": i,
                        "class": CLASS_NAMES[self.tracks[i].class_id],
                        "frame": self.inbound_crossings[i],
                    }
                    for i in crossing_ids
                ],
                "per_class": per_class(crossing_ids),
            },
            "nvdsanalytics": {
                f"roi-{self.roi_label}": roi_text,
                f"line-crossing-{self.line_label}": line_text,
            },
        }

    def gt_sha256(self) -> str:
        return hashlib.sha256(self.gt_text.encode()).hexdigest()
