"""nvdsosd on CPU: draws boxes, labels and the nvdsanalytics overlay onto the frames.

On a Jetson, nvinferserver/nvtracker give each object a rectangle and a text (``"car 12"``),
nvdsanalytics adds display meta for its ROIs, lines and counts, and nvdsosd renders all of it
into the frame. Here :class:`NvDsOsd` does the rendering with OpenCV, directly from the object
meta and the analytics geometry, so an annotated video from CI looks like the device's:

* every object: a box in its class colour and, above it, ``"<label> <tracking id>"`` (no id for
  untracked objects), white on black;
* with an :class:`~.analytics.NvDsAnalytics` whose config has ``osd-mode`` 1 or 2, what
  gst-nvdsanalytics attaches as display meta (gstnvdsanalytics.cpp,
  attach_framemeta_analytics_metadata): ROI polygons outlined in yellow with their label at
  (x of the first point, y of the second), overcrowding ROIs in orange, direction arrows in red
  labelled at their start, counting lines in green with their direction arrow and the label at
  the line's second point; arrow heads are two 15° strokes of 15 % of the arrow's length;
* ``osd-mode=2`` adds the counts from ``FrameMeta.analytics``: ``TL1=3`` (objects in the ROI
  now), ``Exit=12`` (cumulative crossings), ``OC OverCrowding=True, Count=5``; and, as
  attach_metadata_object does, appends the object's analytics status (``ROI:TL1``, ``LC:Exit``,
  ``DIR:north``) to its label and inverts its box colour when it is in an ROI or crossed a line;
* ``display-obj-cnt=1`` adds ``Count for ClassId0=3 ClassId2=1`` at the top left.

Text uses OpenCV's Hershey font; ``display-font-size`` (points, default 12) maps to a font scale
of size/24, the same size as the default object labels.
"""

from __future__ import annotations

import colorsys
import math
import time
from functools import lru_cache

import cv2
import numpy as np

from fake_device.deepstream.analytics import NvDsAnalytics, ScaledStream
from fake_device.deepstream.meta import BatchMeta, FrameMeta, ObjectMeta

Colour = tuple[int, int, int]  # BGR

# gst-nvdsanalytics' colours (RGBA floats there), as BGR.
ROI_COLOUR: Colour = (0, 255, 255)  # yellow
OVERCROWDING_COLOUR: Colour = (0, 128, 255)  # orange
DIRECTION_COLOUR: Colour = (0, 0, 255)  # red
LINE_COLOUR: Colour = (0, 255, 0)  # green
TEXT_COLOUR: Colour = (255, 255, 255)
TEXT_BACKGROUND: Colour = (0, 0, 0)
COUNT_TEXT_COLOUR: Colour = (0, 255, 255)  # display-obj-cnt: yellow on black

FONT = cv2.FONT_HERSHEY_SIMPLEX
ANALYTICS_LINE_WIDTH = 2  # line_width of gst-nvdsanalytics' display meta
_ARROW_ANGLE = math.radians(15.0)
_ARROW_FRACTION = 0.15
_TEXT_PAD = 2


@lru_cache(maxsize=256)
def class_colour(class_id: int) -> Colour:
    """A stable, distinct box colour per class id (hues spaced by the golden ratio).

    DeepStream takes border colours from the inference config's per-class settings; a fixed
    palette keeps the same class the same colour in every video without extra config.
    """
    hue = (0.08 + class_id * 0.618033988749895) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.85, 1.0)
    return (round(b * 255), round(g * 255), round(r * 255))


def arrow_head(x1: int, y1: int, x2: int, y2: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """The two points of an arrow head at (x2, y2): back along the shaft by 15 % of its length,
    turned ±15°, as DeepStream draws direction and line-crossing arrows."""
    dx, dy = _ARROW_FRACTION * (x1 - x2), _ARROW_FRACTION * (y1 - y2)
    cos, sin = math.cos(_ARROW_ANGLE), math.sin(_ARROW_ANGLE)
    p3 = (int(x2 + dx * cos + dy * sin), int(y2 + dy * cos - dx * sin))
    p4 = (int(x2 + dx * cos - dy * sin), int(y2 + dy * cos + dx * sin))
    return p3, p4


def draw_label(
    image: np.ndarray,
    text: str,
    x: int,
    y: int,
    *,
    scale: float,
    colour: Colour = TEXT_COLOUR,
    background: Colour | None = TEXT_BACKGROUND,
) -> tuple[int, int, int, int]:
    """Text with its top-left corner at (x, y) (NvOSD_TextParams offsets), kept inside the image,
    on a filled background box; returns the box (x, y, w, h)."""
    height, width = image.shape[:2]
    thickness = 1 if scale < 0.8 else 2
    (tw, th), baseline = cv2.getTextSize(text, FONT, scale, thickness)
    bw, bh = tw + 2 * _TEXT_PAD, th + baseline + 2 * _TEXT_PAD
    x = max(0, min(int(x), width - bw))
    y = max(0, min(int(y), height - bh))
    if background is not None:
        cv2.rectangle(image, (x, y), (x + bw - 1, y + bh - 1), background, cv2.FILLED)
    cv2.putText(image, text, (x + _TEXT_PAD, y + _TEXT_PAD + th), FONT, scale, colour, thickness, cv2.LINE_AA)
    return x, y, bw, bh


def _arrow(image: np.ndarray, start: tuple[int, int], end: tuple[int, int], colour: Colour) -> None:
    cv2.line(image, start, end, colour, ANALYTICS_LINE_WIDTH)
    for point in arrow_head(*start, *end):
        cv2.line(image, point, end, colour, ANALYTICS_LINE_WIDTH)


def object_text(obj: ObjectMeta, *, with_status: bool = False) -> str:
    """What the device writes above an object: label, tracking id when tracked, and (osd-mode 2)
    the analytics status nvdsanalytics appends."""
    text = obj.obj_label or str(obj.class_id)
    if obj.tracked:
        text += f" {obj.object_id}"
    if with_status and obj.analytics is not None:
        status = [f"ROI:{label}" for label in obj.analytics.roi_status]
        status += [f"LC:{label}" for label in obj.analytics.lc_status]
        status += obj.analytics.dir_status.split()
        if status:
            text += " " + " ".join(status)
    return text


class NvDsOsd:
    """The nvdsosd element: draws on ``frame.image`` in place (BGR uint8, muxer resolution).

    ``display_text`` / ``display_bbox`` are nvdsosd's display-text / display-bbox properties;
    ``font_scale`` sizes the object labels. ``analytics`` is the pipeline's nvdsanalytics
    element, whose config (``osd-mode``, ``display-font-size``, ``display-obj-cnt``) and geometry
    decide the overlay. Frames without an image are passed through untouched.
    """

    def __init__(
        self,
        *,
        name: str = "onscreendisplay",
        analytics: NvDsAnalytics | None = None,
        display_text: bool = True,
        display_bbox: bool = True,
        font_scale: float = 0.5,
        border_width: int = 2,
    ) -> None:
        self.name = name
        self.analytics = analytics
        self.display_text = display_text
        self.display_bbox = display_bbox
        self.font_scale = font_scale
        self.border_width = max(1, border_width)
        self.frames = 0

    @property
    def osd_mode(self) -> int:
        """0 when there is nothing of nvdsanalytics to draw (no element, disabled, osd-mode=0)."""
        if self.analytics is None or not self.analytics.config.enable:
            return 0
        return self.analytics.config.osd_mode

    def process(self, batch: BatchMeta) -> BatchMeta:
        t_in = time.monotonic()
        for frame in batch.frames:
            if frame.image is not None:
                self.draw(frame)
                self.frames += 1
        t_out = time.monotonic()
        for frame in batch.frames:
            frame.latency.append((self.name, t_in, t_out))
        return batch

    def draw(self, frame: FrameMeta) -> list[str]:
        """Render one frame's overlay (analytics shapes, then boxes, then all text on top) and
        return the texts drawn, so a test or a log can say what a viewer sees."""
        image = frame.image
        if image is None:
            return []
        mode = self.osd_mode
        labels: list[tuple[str, int, int, Colour, float]] = []  # text, x, y (top-left), colour, scale
        if mode > 0:
            assert self.analytics is not None
            labels += self._draw_analytics(image, frame, self.analytics.geometry(frame.source_id), mode)
        config = self.analytics.config if self.analytics is not None else None
        if config is not None and config.enable and config.display_obj_cnt and frame.analytics is not None:
            counts = " ".join(f"ClassId{c}={n}" for c, n in sorted(frame.analytics.obj_cnt.items()))
            labels.append((f"Count for {counts}".rstrip(), 5, 5, COUNT_TEXT_COLOUR, self._analytics_scale))
        for obj in frame.objects:
            colour = class_colour(obj.class_id)
            found = obj.analytics is not None and bool(obj.analytics.roi_status or obj.analytics.lc_status)
            if mode == 2 and found:
                colour = (255 - colour[0], 255 - colour[1], 255 - colour[2])
            left, top = round(obj.left), round(obj.top)
            right, bottom = round(obj.right), round(obj.bottom)
            if self.display_bbox:
                cv2.rectangle(image, (left, top), (right, bottom), colour, self.border_width)
            text = object_text(obj, with_status=mode == 2)
            (_, th), baseline = cv2.getTextSize(text, FONT, self.font_scale, 1)
            label_h = th + baseline + 2 * _TEXT_PAD
            # Above the box when there is room, else just inside its top edge.
            y = top - label_h if top - label_h >= 0 else top
            labels.append((text, left, y, TEXT_COLOUR, self.font_scale))
        if not self.display_text:
            return []
        for text, x, y, colour, scale in labels:
            draw_label(image, text, x, y, scale=scale, colour=colour)
        return [label[0] for label in labels]

    @property
    def _analytics_scale(self) -> float:
        assert self.analytics is not None
        return max(0.3, self.analytics.config.display_font_size / 24.0)

    def _draw_analytics(
        self, image: np.ndarray, frame: FrameMeta, geometry: ScaledStream, mode: int
    ) -> list[tuple[str, int, int, Colour, float]]:
        """Shapes drawn now, labels returned (drawn last). Entries follow the *configured* enable
        flags, as the plugin's display meta does, even for a line disabled at run time."""
        assert self.analytics is not None
        stream = self.analytics.config.stream(frame.source_id)
        counts = frame.analytics
        scale = self._analytics_scale
        labels: list[tuple[str, int, int, Colour, float]] = []

        for roi, configured in zip(geometry.rois, stream.roi_filters, strict=False):
            if not configured.enable or len(roi.points) < 2:
                continue
            pts = np.array(roi.points, dtype=np.int32).reshape(-1, 1, 2)
            cv2.polylines(image, [pts], True, ROI_COLOUR, ANALYTICS_LINE_WIDTH)
            text = roi.label
            if mode == 2 and counts is not None:
                text = f"{roi.label}={counts.obj_in_roi_cnt.get(roi.label, 0)}"
            labels.append((text, roi.points[0][0], roi.points[1][1], ROI_COLOUR, scale))

        for oc, configured in zip(geometry.overcrowding, stream.overcrowding, strict=False):
            if not configured.enable or len(oc.points) < 2:
                continue
            pts = np.array(oc.points, dtype=np.int32).reshape(-1, 1, 2)
            cv2.polylines(image, [pts], True, OVERCROWDING_COLOUR, ANALYTICS_LINE_WIDTH)
            text = oc.label
            if mode == 2 and counts is not None:
                crowded = counts.oc_status.get(oc.label, False)
                text = f"{oc.label} OverCrowding={crowded}, Count={counts.obj_in_roi_cnt.get(oc.label, 0)}"
            labels.append((text, oc.points[0][0], oc.points[1][1], OVERCROWDING_COLOUR, scale))

        for direction, configured in zip(geometry.directions, stream.directions, strict=False):
            if not configured.enable:
                continue
            _arrow(image, direction.start, direction.end, DIRECTION_COLOUR)
            labels.append((direction.label, *direction.start, DIRECTION_COLOUR, scale))

        for line, configured in zip(geometry.lines, stream.line_crossings, strict=False):
            if not configured.enable:
                continue
            _arrow(image, line.direction[0], line.direction[1], LINE_COLOUR)
            cv2.line(image, line.segment[0], line.segment[1], LINE_COLOUR, ANALYTICS_LINE_WIDTH)
            text = line.label
            if mode == 2 and counts is not None:
                text = f"{line.label}={counts.obj_lc_cum_cnt.get(line.label, 0)}"
            labels.append((text, *line.segment[1], LINE_COLOUR, scale))
        return labels
