"""nvdsosd's drawing on CPU: nvll_osd's primitives painted into a frame with OpenCV.

The nvdsosd element (:mod:`fake_device.deepstream.elements.nvdsosd`) hands each frame's object
rectangles and texts and its display metas (rects, labels, lines, arrows, circles, masks) to
:class:`Painter`, in nvll_osd's order. Text uses OpenCV's Hershey font; a font size in points maps
to a font scale of size/24. Arrow heads are two 15° strokes of 15 % of the arrow's length, as
gst-nvdsanalytics draws them (:func:`~.analytics.arrow_head_points`).
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from fake_device.deepstream.analytics import arrow_head_points

FONT = cv2.FONT_HERSHEY_SIMPLEX
_TEXT_PAD = 2


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
    """Where :meth:`Painter.text` puts ``text``: its box (x, y, w, h), kept inside an image of
    ``shape``."""
    height, width = shape[:2]
    (tw, th), baseline = cv2.getTextSize(text, FONT, scale, _thickness(scale))
    bw, bh = tw + 2 * _TEXT_PAD, th + baseline + 2 * _TEXT_PAD
    return max(0, min(int(x), width - bw)), max(0, min(int(y), height - bh)), bw, bh


RGBA = tuple[float, float, float, float]  # NvOSD_ColorParams: red, green, blue, alpha in 0..1


class Painter:
    """Draws nvll_osd's primitives (NvOSD_RectParams, _TextParams, _LineParams, _ArrowParams,
    _CircleParams, _MaskParams) onto one frame in place.

    ``image`` is the frame as a (height, width, channels) uint8 array: RGBA for an NVMM frame
    (what nvdsosd draws on) or BGR (an OpenCV image). Colours come as NvOSD_ColorParams
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

    def _fill(
        self,
        box: tuple[int, int, int, int],
        corner: tuple[int, int],
        opposite: tuple[int, int],
        rgba: RGBA,
    ) -> None:
        """A solid rectangle between two corners (both inside it) in ``rgba``, blended by its alpha
        over ``box``: the background of a box and of a label are painted alike."""
        fill = self.colour(rgba)
        (x0, y0), (x1, y1) = corner, opposite
        self._paint(
            box,
            rgba[3],
            lambda img, dx, dy: cv2.rectangle(img, (x0 - dx, y0 - dy), (x1 - dx, y1 - dy), fill, cv2.FILLED),
        )

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
            self._fill(box, (x0, y0), (x1, y1), background)
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
            self._fill(box, (bx, by), (bx + bw - 1, by + bh - 1), background)
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
