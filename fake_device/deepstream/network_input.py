"""A frame, or an object's rectangle of it, scaled to the network's size in the network's colours.

This is what NvBufSurfTransform does for nvinfer and nvinferserver before normalisation: crop the
source rectangle of a surface (NV12 or RGBA on a Jetson, any format the emulated surfaces hold),
scale it and convert it to RGB, BGR or GRAY. The order is chosen for the CPU: the *planes* are
scaled first and the colour conversion runs on the small result, so a 1280×720 NV12 frame costs
a 640×640 conversion instead of a 1280×720 one, and grey networks take the luma plane as it is.
Scaling before or after the conversion gives the same picture up to rounding (the conversion is
per pixel; only chroma sampling positions differ by a fraction of a pixel).

Frames are given as their format name and plane arrays, which is what both the GStreamer
surfaces (:class:`~.gst.surface.FrameView` ``.layout.format`` / ``.planes``) and the old runtime's
BGR images (``"BGR", (image,)``) provide, so this module does not depend on GStreamer.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from fake_device.deepstream.bbox_parsers import ScaleGeometry

#: packed formats → channel order as OpenCV names it, for the conversions below
_PACKED = {
    "RGBA": "RGBA",
    "RGBx": "RGBA",
    "BGRA": "BGRA",
    "BGRx": "BGRA",
    "RGB": "RGB",
    "BGR": "BGR",
    "GRAY8": "GRAY",
}
_CONVERSIONS = {
    ("RGBA", "RGB"): cv2.COLOR_RGBA2RGB,
    ("RGBA", "BGR"): cv2.COLOR_RGBA2BGR,
    ("RGBA", "GRAY"): cv2.COLOR_RGBA2GRAY,
    ("BGRA", "RGB"): cv2.COLOR_BGRA2RGB,
    ("BGRA", "BGR"): cv2.COLOR_BGRA2BGR,
    ("BGRA", "GRAY"): cv2.COLOR_BGRA2GRAY,
    ("RGB", "BGR"): cv2.COLOR_RGB2BGR,
    ("RGB", "GRAY"): cv2.COLOR_RGB2GRAY,
    ("BGR", "RGB"): cv2.COLOR_BGR2RGB,
    ("BGR", "GRAY"): cv2.COLOR_BGR2GRAY,
    ("GRAY", "RGB"): cv2.COLOR_GRAY2RGB,
    ("GRAY", "BGR"): cv2.COLOR_GRAY2BGR,
}
_NV12_TO = {"RGB": cv2.COLOR_YUV2RGB_NV12, "BGR": cv2.COLOR_YUV2BGR_NV12}
_I420_TO = {"RGB": cv2.COLOR_YUV2RGB_I420, "BGR": cv2.COLOR_YUV2BGR_I420}
FORMATS = ("NV12", "I420", *_PACKED)


def _resize(plane: np.ndarray, width: int, height: int, interpolation: int) -> np.ndarray:
    if plane.shape[1] == width and plane.shape[0] == height:
        return plane
    return cv2.resize(plane, (width, height), interpolation=interpolation)


def _pad_to_even(plane: np.ndarray) -> np.ndarray:
    h, w = plane.shape[:2]
    if h % 2 == 0 and w % 2 == 0:
        return plane
    return cv2.copyMakeBorder(plane, 0, h % 2, 0, w % 2, cv2.BORDER_REPLICATE)


def scaled_pixels(
    format: str,
    planes: Sequence[np.ndarray],
    geometry: ScaleGeometry,
    colour: str,
    interpolation: int,
) -> np.ndarray:
    """The geometry's source rectangle of one frame at ``dst_width × dst_height``, in ``colour``.

    ``format`` is a GStreamer video format name and ``planes`` its plane arrays (NV12: luma
    ``(h, w)`` and interleaved chroma ``(h/2, w/2, 2)``; I420: three planes; packed formats: one
    ``(h, w, channels)`` array). ``colour`` is the network's: ``"RGB"``, ``"BGR"`` or ``"GRAY"``.
    Returns a ``(dst_height, dst_width, 3 | 1)`` uint8 array (a new one, or, when nothing needs
    scaling or converting, a view of the frame). The rectangle must lie inside the frame.
    """
    if format not in FORMATS:
        raise ValueError(f"frame format {format!r} cannot feed a network (supported: {', '.join(FORMATS)})")
    if colour not in ("RGB", "BGR", "GRAY"):
        raise ValueError(f"network colour format must be RGB, BGR or GRAY, not {colour!r}")
    x, y = geometry.src_left, geometry.src_top
    w, h = geometry.src_width, geometry.src_height
    dw, dh = geometry.dst_width, geometry.dst_height
    luma_h, luma_w = planes[0].shape[:2]
    if x < 0 or y < 0 or x + w > luma_w or y + h > luma_h:
        raise ValueError(f"rectangle {x},{y} {w}x{h} is not inside the {luma_w}x{luma_h} frame")

    if format in _PACKED:
        order = _PACKED[format]
        scaled = _resize(planes[0][y : y + h, x : x + w], dw, dh, interpolation)
        if order == colour:
            return scaled if scaled.ndim == 3 else scaled[..., None]
        converted = cv2.cvtColor(scaled, _CONVERSIONS[(order, colour)])
        return converted[..., None] if converted.ndim == 2 else converted

    luma = _resize(planes[0][y : y + h, x : x + w], dw, dh, interpolation)
    if colour == "GRAY":
        return luma[..., None]
    cx, cy, cw, ch = x // 2, y // 2, w // 2, h // 2
    chroma_w, chroma_h = (dw + 1) // 2, (dh + 1) // 2
    luma = _pad_to_even(luma)
    if format == "NV12":
        chroma = _resize(planes[1][cy : cy + ch, cx : cx + cw], chroma_w, chroma_h, interpolation)
        rgb = cv2.cvtColorTwoPlane(np.ascontiguousarray(luma), np.ascontiguousarray(chroma), _NV12_TO[colour])
    else:
        eh, ew = luma.shape[:2]
        i420 = np.empty((eh * 3 // 2, ew), np.uint8)
        i420[:eh] = luma
        i420[eh : eh + eh // 4].reshape(eh // 2, ew // 2)[...] = _resize(
            planes[1][cy : cy + ch, cx : cx + cw], chroma_w, chroma_h, interpolation
        )
        i420[eh + eh // 4 :].reshape(eh // 2, ew // 2)[...] = _resize(
            planes[2][cy : cy + ch, cx : cx + cw], chroma_w, chroma_h, interpolation
        )
        rgb = cv2.cvtColor(i420, _I420_TO[colour])
    return rgb[:dh, :dw]
