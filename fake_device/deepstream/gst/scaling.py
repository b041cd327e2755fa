"""One frame into another: crop, scale (stretched or letterboxed), flip, convert the format.

What NvBufSurfTransform does for nvstreammux, nvvideoconvert and the tiler. The scaling itself is
nvstreammux's (:func:`fake_device.deepstream.streammux.scale_frame`), applied plane by plane when
source and destination share a format (no colour conversion, no copy beyond the scaled planes), and
on a BGR image otherwise — except for the most common conversion of all, a decoded 4:2:0 frame into
a packed RGB(A) frame of the same size (nvvideoconvert before nvdsosd): that is one OpenCV call from
the source's memory straight into the destination's, the same colour matrix as the BGR route, at a
third of its cost.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from fake_device.deepstream.gst.surface import PLANAR, FrameView, SurfaceError
from fake_device.deepstream.streammux import StreamMuxConfig, scale_frame

# DeepStream's interpolation-method values (GstNvInterpolationMethod) as OpenCV's
INTERPOLATION = {
    0: cv2.INTER_NEAREST,  # Nearest
    1: cv2.INTER_LINEAR,  # Bilinear
    2: cv2.INTER_CUBIC,  # Algo-1: GPU cubic
    3: cv2.INTER_AREA,  # Algo-2: GPU "super" sampling
    4: cv2.INTER_LANCZOS4,  # Algo-3: GPU Lanczos
    5: cv2.INTER_LINEAR,  # Algo-4: ignored on GPU
    6: cv2.INTER_NEAREST,  # Default: nearest on GPU and VIC
}

# flip-method values that keep the frame's size (rotations by 90° are refused by the elements)
FLIPS = {0: None, 2: -1, 4: 1, 6: 0}  # none, rotate-180, horizontal-flip, vertical-flip (cv2.flip codes)


@dataclass(frozen=True)
class Rect:
    """``left:top:width:height`` in pixels (nvvideoconvert's src-crop / dest-crop)."""

    left: int
    top: int
    width: int
    height: int

    @classmethod
    def parse(cls, text: str) -> Rect | None:
        """None for an empty string or all zeros (no crop); ValueError for anything else."""
        if not text:
            return None
        parts = text.split(":")
        if len(parts) != 4 or not all(p.strip().isdigit() for p in parts):
            raise ValueError(f"expected left:top:width:height in pixels, got {text!r}")
        rect = cls(*(int(p) for p in parts))
        if rect.width == 0 and rect.height == 0:
            return None
        if rect.width <= 0 or rect.height <= 0:
            raise ValueError(f"a crop needs a positive width and height, got {text!r}")
        return rect

    def clamp(self, width: int, height: int) -> Rect:
        left, top = min(self.left, width - 1), min(self.top, height - 1)
        return Rect(left, top, min(self.width, width - left), min(self.height, height - top))

    def halved(self) -> Rect:
        """The same region on a 2×2-subsampled chroma plane."""
        return Rect(
            self.left // 2, self.top // 2, max(1, (self.width + 1) // 2), max(1, (self.height + 1) // 2)
        )

    def of(self, array: np.ndarray) -> np.ndarray:
        return array[self.top : self.top + self.height, self.left : self.left + self.width]


@dataclass(frozen=True)
class Transform:
    """How to map a source frame onto a destination frame."""

    interpolation: int = 1  # DeepStream's interpolation-method
    enable_padding: bool = False  # keep the aspect ratio, pad with black
    src_crop: Rect | None = None
    dest_crop: Rect | None = None
    flip: int = 0  # flip-method (FLIPS)
    blank_outside: bool = True  # with dest_crop: black outside it (False: leave it, as the tiler does)


def _scaled(plane: np.ndarray, width: int, height: int, transform: Transform, fill: int) -> np.ndarray:
    config = StreamMuxConfig(
        width=width,
        height=height,
        enable_padding=transform.enable_padding,
        interpolation=INTERPOLATION.get(transform.interpolation, cv2.INTER_LINEAR),
    )
    return scale_frame(plane, config, fill=fill)


#: a 4:2:0 frame → a packed format in one call (BT.601 video range, as ``to_bgr``/``write_bgr``)
_FROM_YUV420 = {
    "NV12": {
        "RGBA": cv2.COLOR_YUV2RGBA_NV12,
        "RGBx": cv2.COLOR_YUV2RGBA_NV12,
        "BGRA": cv2.COLOR_YUV2BGRA_NV12,
        "BGRx": cv2.COLOR_YUV2BGRA_NV12,
        "RGB": cv2.COLOR_YUV2RGB_NV12,
        "BGR": cv2.COLOR_YUV2BGR_NV12,
    },
    "I420": {
        "RGBA": cv2.COLOR_YUV2RGBA_I420,
        "RGBx": cv2.COLOR_YUV2RGBA_I420,
        "BGRA": cv2.COLOR_YUV2BGRA_I420,
        "BGRx": cv2.COLOR_YUV2BGRA_I420,
        "RGB": cv2.COLOR_YUV2RGB_I420,
        "BGR": cv2.COLOR_YUV2BGR_I420,
    },
}


def _yuv420_block(frame: FrameView) -> np.ndarray | None:
    """The frame's planes as OpenCV's one (height × 3/2, width) array, without a copy; None unless
    they lie back to back with no row padding (even sizes; GStreamer's layout for widths ÷ 4)."""
    h, w = frame.layout.height, frame.layout.width
    if h % 2 or w % 2:
        return None
    luma = frame.planes[0]
    start = luma.ctypes.data
    expected = [(start, (w, 1))]
    if frame.layout.format == "NV12":
        expected.append((start + h * w, (w, 2, 1)))
    else:
        expected += [(start + h * w, (w // 2, 1)), (start + h * w + h * w // 4, (w // 2, 1))]
    for plane, (address, strides) in zip(frame.planes, expected, strict=True):
        if plane.ctypes.data != address or plane.strides != strides:
            return None
    return np.lib.stride_tricks.as_strided(luma, shape=(h * 3 // 2, w), strides=(w, 1), writeable=False)


def _convert_whole(src: FrameView, dst: FrameView) -> bool:
    """A 4:2:0 frame into a packed frame of the same size in one ``cvtColor``; False if not such a case."""
    codes = _FROM_YUV420.get(src.layout.format, {})
    code = codes.get(dst.layout.format)
    if code is None or (src.layout.width, src.layout.height) != (dst.layout.width, dst.layout.height):
        return False
    block = _yuv420_block(src)
    if block is None:
        return False
    out = dst.planes[0]
    if out.flags.c_contiguous:
        written = cv2.cvtColor(block, code, dst=out)
        if written.ctypes.data == out.ctypes.data:
            return True
        out[...] = written  # OpenCV chose a buffer of its own
    else:
        out[...] = cv2.cvtColor(block, code)
    return True


def _flipped(image: np.ndarray, flip: int) -> np.ndarray:
    code = FLIPS[flip]
    return image if code is None else cv2.flip(image, code)


def transform_frame(src: FrameView, dst: FrameView, transform: Transform = Transform()) -> None:
    """Write ``src`` into ``dst`` (crop, scale, flip, convert) as NvBufSurfTransform would."""
    if transform.flip not in FLIPS:
        raise SurfaceError(f"flip-method {transform.flip} is not emulated (supported: {sorted(FLIPS)})")
    dst_rect = (transform.dest_crop or Rect(0, 0, dst.layout.width, dst.layout.height)).clamp(
        dst.layout.width, dst.layout.height
    )
    src_rect = (transform.src_crop or Rect(0, 0, src.layout.width, src.layout.height)).clamp(
        src.layout.width, src.layout.height
    )
    if transform.dest_crop is not None and transform.blank_outside:
        fill_black(dst)
    fmt = dst.layout.format
    if src.layout.format == fmt:
        planar = fmt in PLANAR
        for index, (s_plane, d_plane) in enumerate(zip(src.planes, dst.planes, strict=True)):
            chroma = planar and index > 0
            s_region = (src_rect.halved() if chroma else src_rect).of(s_plane)
            d_region = (dst_rect.halved() if chroma else dst_rect).of(d_plane)
            h, w = d_region.shape[:2]
            if s_region.shape[:2] == (h, w) and not transform.enable_padding:
                scaled = s_region
            else:
                scaled = _scaled(s_region, w, h, transform, fill=_black(planar, index))
            d_region[...] = _flipped(scaled, transform.flip)
        return
    whole = transform.src_crop is None and transform.dest_crop is None and transform.flip == 0
    if whole and _convert_whole(src, dst):
        return
    bgr = src_rect.of(src.to_bgr())
    scaled = _scaled(bgr, dst_rect.width, dst_rect.height, transform, fill=0)
    scaled = _flipped(scaled, transform.flip)
    if dst_rect == Rect(0, 0, dst.layout.width, dst.layout.height):
        dst.write_bgr(np.ascontiguousarray(scaled))
        return
    canvas = dst.to_bgr()
    dst_rect.of(canvas)[...] = scaled
    dst.write_bgr(canvas)


def fill_black(frame: FrameView) -> None:
    """Paint ``frame`` black (opaque for formats with alpha)."""
    fmt = frame.layout.format
    for index, plane in enumerate(frame.planes):
        plane[...] = _black(fmt in PLANAR, index)
    if fmt in ("RGBA", "BGRA"):
        frame.planes[0][..., 3] = 255


def _black(planar: bool, plane: int) -> int:
    """Black in a plane: video-range luma 16 and neutral chroma 128 for YUV, 0 for RGB."""
    if not planar:
        return 0
    return 16 if plane == 0 else 128
