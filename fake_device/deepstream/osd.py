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
import time
from collections.abc import Callable
from functools import lru_cache

import cv2
import numpy as np

from fake_device.deepstream.analytics import NvDsAnalytics, analytics_overlay, arrow_head_points
from fake_device.deepstream.meta import BatchMeta, FrameMeta, ObjectMeta

Colour = tuple[int, int, int]  # BGR

# gst-nvdsanalytics' colours (RGBA floats there), as BGR.
ROI_COLOUR: Colour = (0, 255, 255)  # yellow
OVERCROWDING_COLOUR: Colour = (0, 128, 255)  # orange
LINE_COLOUR: Colour = (0, 255, 0)  # green
TEXT_COLOUR: Colour = (255, 255, 255)
TEXT_BACKGROUND: Colour = (0, 0, 0)

FONT = cv2.FONT_HERSHEY_SIMPLEX
ANALYTICS_LINE_WIDTH = 2  # line_width of gst-nvdsanalytics' display meta
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
    """The two points of an arrow head at (x2, y2), as DeepStream draws direction and
    line-crossing arrows (see :func:`~.analytics.arrow_head_points`)."""
    return arrow_head_points(x1, y1, x2, y2)


def font_scale(font_size: float) -> float:
    """OpenCV's Hershey scale for a DeepStream font size in points (NvOSD_FontParams.font_size):
    size/24, so the default 12 gives the 0.5 of the object labels."""
    return max(0.2, float(font_size) / 24.0)


def _thickness(scale: float) -> int:
    return 1 if scale < 0.8 else 2


def label_box(
    shape: tuple[int, ...], text: str, x: float, y: float, scale: float
) -> tuple[int, int, int, int]:
    """Where :func:`draw_label` puts ``text``: its box (x, y, w, h), kept inside an image of
    ``shape``."""
    height, width = shape[:2]
    (tw, th), baseline = cv2.getTextSize(text, FONT, scale, _thickness(scale))
    bw, bh = tw + 2 * _TEXT_PAD, th + baseline + 2 * _TEXT_PAD
    return max(0, min(int(x), width - bw)), max(0, min(int(y), height - bh)), bw, bh


def draw_label(
    image: np.ndarray,
    text: str,
    x: int,
    y: int,
    *,
    scale: float,
    colour: tuple[int, ...] = TEXT_COLOUR,
    background: tuple[int, ...] | None = TEXT_BACKGROUND,
) -> tuple[int, int, int, int]:
    """Text with its top-left corner at (x, y) (NvOSD_TextParams offsets), kept inside the image,
    on a filled background box; returns the box (x, y, w, h). Colours are in the image's channel
    order (BGR, or RGBA for an NVMM frame)."""
    x, y, bw, bh = label_box(image.shape, text, x, y, scale)
    if background is not None:
        cv2.rectangle(image, (x, y), (x + bw - 1, y + bh - 1), background, cv2.FILLED)
    (_, th), _ = cv2.getTextSize(text, FONT, scale, _thickness(scale))
    cv2.putText(
        image, text, (x + _TEXT_PAD, y + _TEXT_PAD + th), FONT, scale, colour, _thickness(scale), cv2.LINE_AA
    )
    return x, y, bw, bh


# --------------------------------------------------------------------------------------------
# NvOSD primitives on a frame


RGBA = tuple[float, float, float, float]  # NvOSD_ColorParams: red, green, blue, alpha in 0..1


class Painter:
    """Draws nvll_osd's primitives (NvOSD_RectParams, _TextParams, _LineParams, _ArrowParams,
    _CircleParams, _MaskParams) onto one frame in place.

    ``image`` is the frame as a (height, width, channels) uint8 array: RGBA for an NVMM frame
    (what nvdsosd draws on), BGR for the old runtime's images. Colours come as NvOSD_ColorParams
    values (0..1, RGBA order); an alpha below 1 blends the shape with what is under it, as the
    device's CPU mode does; the frame's own alpha channel stays opaque.
    """

    def __init__(self, image: np.ndarray, *, order: str = "RGBA") -> None:
        if order not in ("RGBA", "BGR"):
            raise ValueError(f"order must be RGBA or BGR, not {order!r}")
        self.image = image
        self.order = order
        self.height, self.width = image.shape[:2]

    def colour(self, rgba: RGBA) -> tuple[int, ...]:
        """``rgba`` as a pixel value of this image (opaque: alpha is applied by blending)."""
        r, g, b = (round(min(max(float(c), 0.0), 1.0) * 255) for c in rgba[:3])
        return (r, g, b, 255) if self.order == "RGBA" else (b, g, r)

    def _paint(
        self, box: tuple[int, int, int, int], alpha: float, draw: Callable[[np.ndarray, int, int], None]
    ) -> None:
        """Run ``draw(target, dx, dy)`` (coordinates shifted by -dx, -dy) over ``box`` (x0, y0, x1,
        y1, exclusive ends), blended with weight ``alpha``."""
        if alpha >= 1.0:
            draw(self.image, 0, 0)
            return
        if alpha <= 0.0:
            return
        x0, y0 = max(0, box[0]), max(0, box[1])
        x1, y1 = min(self.width, box[2]), min(self.height, box[3])
        if x1 <= x0 or y1 <= y0:
            return
        region = self.image[y0:y1, x0:x1]
        overlay = region.copy()
        draw(overlay, x0, y0)
        cv2.addWeighted(overlay, alpha, region, 1.0 - alpha, 0.0, dst=region)

    def rect(
        self,
        left: float,
        top: float,
        width: float,
        height: float,
        *,
        border_width: int,
        border: RGBA,
        background: RGBA | None = None,
    ) -> None:
        """A box: filled with ``background`` if given, outlined ``border_width`` wide (0: none)."""
        x0, y0 = round(left), round(top)
        x1, y1 = round(left + width), round(top + height)
        pad = int(border_width) + 1
        box = (x0 - pad, y0 - pad, x1 + pad + 1, y1 + pad + 1)
        if background is not None:
            fill = self.colour(background)
            self._paint(
                box,
                background[3],
                lambda img, dx, dy: cv2.rectangle(
                    img, (x0 - dx, y0 - dy), (x1 - dx, y1 - dy), fill, cv2.FILLED
                ),
            )
        if border_width > 0:
            line = self.colour(border)
            self._paint(
                box,
                border[3],
                lambda img, dx, dy: cv2.rectangle(
                    img, (x0 - dx, y0 - dy), (x1 - dx, y1 - dy), line, int(border_width)
                ),
            )

    def text(
        self,
        text: str,
        x: float,
        y: float,
        *,
        font_size: float,
        colour: RGBA,
        background: RGBA | None = None,
    ) -> tuple[int, int, int, int]:
        """``text`` with its top-left at (x, y), on ``background`` if given; returns its box."""
        scale = font_scale(font_size)
        bx, by, bw, bh = label_box(self.image.shape, text, x, y, scale)
        box = (bx, by, bx + bw, by + bh)
        if background is not None:
            fill = self.colour(background)
            self._paint(
                box,
                background[3],
                lambda img, dx, dy: cv2.rectangle(
                    img, (bx - dx, by - dy), (bx + bw - 1 - dx, by + bh - 1 - dy), fill, cv2.FILLED
                ),
            )
        ink = self.colour(colour)
        (_, th), _ = cv2.getTextSize(text, FONT, scale, _thickness(scale))
        self._paint(
            box,
            colour[3],
            lambda img, dx, dy: cv2.putText(
                img,
                text,
                (bx + _TEXT_PAD - dx, by + _TEXT_PAD + th - dy),
                FONT,
                scale,
                ink,
                _thickness(scale),
                cv2.LINE_AA,
            ),
        )
        return bx, by, bw, bh

    def line(self, x1: float, y1: float, x2: float, y2: float, *, width: int, colour: RGBA) -> None:
        p1, p2 = (int(x1), int(y1)), (int(x2), int(y2))
        pad = int(width) + 1
        box = (
            min(p1[0], p2[0]) - pad,
            min(p1[1], p2[1]) - pad,
            max(p1[0], p2[0]) + pad + 1,
            max(p1[1], p2[1]) + pad + 1,
        )
        ink = self.colour(colour)
        self._paint(
            box,
            colour[3],
            lambda img, dx, dy: cv2.line(
                img, (p1[0] - dx, p1[1] - dy), (p2[0] - dx, p2[1] - dy), ink, max(1, int(width))
            ),
        )

    def arrow(
        self, x1: float, y1: float, x2: float, y2: float, *, width: int, head: int, colour: RGBA
    ) -> None:
        """A shaft from (x1, y1) to (x2, y2) with a head at the end (``head`` 1), the start (0) or
        both (2), NvOSD_Arrow_Head_Direction; heads as :func:`arrow_head` draws them."""
        start, end = (int(x1), int(y1)), (int(x2), int(y2))
        self.line(*start, *end, width=width, colour=colour)
        tips = {0: [(end, start)], 1: [(start, end)], 2: [(start, end), (end, start)]}.get(
            int(head), [(start, end)]
        )
        for tail, tip in tips:
            for point in arrow_head(*tail, *tip):
                self.line(*point, *tip, width=width, colour=colour)

    def circle(
        self,
        xc: float,
        yc: float,
        radius: float,
        *,
        width: int,
        colour: RGBA,
        background: RGBA | None = None,
    ) -> None:
        centre, r = (int(xc), int(yc)), max(0, int(radius))
        pad = r + int(width) + 1
        box = (centre[0] - pad, centre[1] - pad, centre[0] + pad + 1, centre[1] + pad + 1)
        if background is not None:
            fill = self.colour(background)
            self._paint(
                box,
                background[3],
                lambda img, dx, dy: cv2.circle(img, (centre[0] - dx, centre[1] - dy), r, fill, cv2.FILLED),
            )
        ink = self.colour(colour)
        self._paint(
            box,
            colour[3],
            lambda img, dx, dy: cv2.circle(img, (centre[0] - dx, centre[1] - dy), r, ink, max(1, int(width))),
        )

    def mask(
        self,
        left: float,
        top: float,
        width: float,
        height: float,
        mask: np.ndarray,
        *,
        threshold: float,
        colour: RGBA,
        alpha: float = 0.5,
    ) -> None:
        """An instance mask (a float map of any size covering the box), thresholded and stretched
        over the box, blended in ``colour`` with weight ``alpha``."""
        x0, y0 = max(0, round(left)), max(0, round(top))
        x1, y1 = min(self.width, round(left + width)), min(self.height, round(top + height))
        if x1 <= x0 or y1 <= y0 or mask.size == 0:
            return
        full_w, full_h = max(1, round(width)), max(1, round(height))
        stretched = cv2.resize(mask.astype(np.float32), (full_w, full_h), interpolation=cv2.INTER_LINEAR)
        ox, oy = x0 - round(left), y0 - round(top)
        inside = stretched[oy : oy + (y1 - y0), ox : ox + (x1 - x0)] > threshold
        region = self.image[y0:y1, x0:x1]
        tint = np.array(self.colour(colour), dtype=np.float32)[:3]
        blended = region[inside][:, :3].astype(np.float32) * (1.0 - alpha) + tint * alpha
        pixels = region[inside]
        pixels[:, :3] = blended.round().astype(np.uint8)
        if self.order == "RGBA":
            pixels[:, 3] = 255  # a drawn pixel is opaque
        region[inside] = pixels


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
        painter = Painter(image, order="BGR")
        labels: list[tuple[str, int, int, Colour, float]] = []  # text, x, y (top-left), colour, scale
        if self.analytics is not None:
            overlay = analytics_overlay(self.analytics, frame.source_id, frame.analytics)
            for ln in overlay.lines:
                painter.line(ln.x1, ln.y1, ln.x2, ln.y2, width=ANALYTICS_LINE_WIDTH, colour=ln.colour)
            for t in overlay.texts:
                labels.append((t.text, t.x, t.y, painter.colour(t.colour), font_scale(t.font_size)))
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
