"""The emulated NvBufSurface: a batch of frames in one GstBuffer of system memory.

On a Jetson a batched buffer holds an NvBufSurface that points at ``numFilled`` device surfaces. Here
the buffer's memory holds ``numFilled`` frames of the caps' format and size one after another, each
laid out exactly as GStreamer lays out a single frame of those caps (``GstVideoInfo`` offsets and
strides). Hence a batch of one IS an ordinary video frame, and non-nv elements (videoconvert, an
encoder, appsink) work behind nvstreamdemux or the tiler as they do on a Jetson behind nvvideoconvert.

:func:`map_surface` maps a buffer and yields numpy *views* of its frames (no copy); the conversions
to and from BGR/RGB are what inference, OSD and ``pyds.get_nvds_buf_surface`` need. Colour
conversion uses OpenCV's BT.601 YUV formulas (GStreamer picks BT.709 for HD caps): a few LSB of
difference, documented in docs/deepstream/supported.md.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from fake_device.deepstream.gst.runtime import Gst, GstVideo

# formats whose frames map to one (height, width, channels) array
PACKED_CHANNELS = {
    "RGBA": 4,
    "BGRA": 4,
    "RGBx": 4,
    "BGRx": 4,
    "RGB": 3,
    "BGR": 3,
    "GRAY8": 1,
}
PLANAR = ("NV12", "I420")
SUPPORTED_FORMATS = (*PLANAR, *PACKED_CHANNELS)

_TO_BGR = {
    "RGBA": cv2.COLOR_RGBA2BGR,
    "RGBx": cv2.COLOR_RGBA2BGR,
    "BGRA": cv2.COLOR_BGRA2BGR,
    "BGRx": cv2.COLOR_BGRA2BGR,
    "RGB": cv2.COLOR_RGB2BGR,
    "GRAY8": cv2.COLOR_GRAY2BGR,
}
_FROM_BGR = {
    "RGBA": cv2.COLOR_BGR2RGBA,
    "RGBx": cv2.COLOR_BGR2RGBA,
    "BGRA": cv2.COLOR_BGR2BGRA,
    "BGRx": cv2.COLOR_BGR2BGRA,
    "RGB": cv2.COLOR_BGR2RGB,
    "GRAY8": cv2.COLOR_BGR2GRAY,
}


class SurfaceError(ValueError):
    """A buffer or caps that cannot be read as a surface (unsupported format, wrong size)."""


@dataclass(frozen=True)
class FrameLayout:
    """Where one frame's planes lie in memory (GstVideoInfo of the caps: the NvBufSurfaceParams)."""

    format: str
    width: int
    height: int
    size: int
    offsets: tuple[int, ...]
    strides: tuple[int, ...]

    @classmethod
    def of(cls, format: str, width: int, height: int) -> FrameLayout:
        """The default GStreamer layout of a ``format`` frame of ``width`` × ``height``."""
        if format not in SUPPORTED_FORMATS:
            raise SurfaceError(
                f"video format {format!r} is not emulated (supported: {', '.join(SUPPORTED_FORMATS)})"
            )
        if width <= 0 or height <= 0:
            raise SurfaceError(f"a frame needs a positive size, not {width}x{height}")
        info = GstVideo.VideoInfo.new()
        if not info.set_format(GstVideo.VideoFormat.from_string(format), width, height):
            raise SurfaceError(f"GStreamer rejects a {format} frame of {width}x{height}")
        return cls._from_info(info)

    @classmethod
    def from_caps(cls, caps: Gst.Caps) -> FrameLayout:
        """The layout of the (fixed) raw-video ``caps``, with or without the NVMM feature."""
        if caps is None or caps.get_size() == 0 or not caps.is_fixed():
            raise SurfaceError(f"caps are not fixed raw video: {caps.to_string() if caps else None}")
        structure = caps.get_structure(0)
        if structure.get_name() != "video/x-raw":
            raise SurfaceError(f"caps are not raw video: {caps.to_string()}")
        format = structure.get_string("format")
        if format not in SUPPORTED_FORMATS:
            raise SurfaceError(
                f"video format {format!r} is not emulated (supported: {', '.join(SUPPORTED_FORMATS)})"
            )
        # GstVideoInfo ignores caps features, so NVMM caps parse like system-memory ones
        info = GstVideo.VideoInfo.new_from_caps(caps)
        if info is None:
            raise SurfaceError(f"GStreamer cannot parse video caps {caps.to_string()}")
        return cls._from_info(info)

    @classmethod
    def _from_info(cls, info: GstVideo.VideoInfo) -> FrameLayout:
        planes = info.finfo.n_planes
        return cls(
            format=info.finfo.name,
            width=info.width,
            height=info.height,
            size=info.size,
            offsets=tuple(info.offset[:planes]),
            strides=tuple(info.stride[:planes]),
        )

    def plane_shapes(self) -> list[tuple[int, ...]]:
        """numpy shapes of the planes (rows, columns[, channels])."""
        w, h = self.width, self.height
        cw, ch = (w + 1) // 2, (h + 1) // 2
        if self.format == "NV12":
            return [(h, w), (ch, cw, 2)]
        if self.format == "I420":
            return [(h, w), (ch, cw), (ch, cw)]
        channels = PACKED_CHANNELS[self.format]
        return [(h, w) if channels == 1 else (h, w, channels)]

    def frames_in(self, nbytes: int) -> int:
        """How many frames a memory of ``nbytes`` holds; an error if it is not a whole number."""
        if nbytes < self.size or nbytes % self.size:
            raise SurfaceError(
                f"a buffer of {nbytes} bytes is not a batch of {self.format} {self.width}x{self.height} "
                f"frames of {self.size} bytes each"
            )
        return nbytes // self.size


class FrameView:
    """One frame of a mapped surface: numpy views of its planes into the buffer's memory."""

    def __init__(self, memory: np.ndarray, base: int, layout: FrameLayout, index: int) -> None:
        self.layout = layout
        self.index = index
        planes = []
        for shape, offset, stride in zip(layout.plane_shapes(), layout.offsets, layout.strides, strict=True):
            item = shape[2] if len(shape) == 3 else 1
            strides = (stride, item, 1) if len(shape) == 3 else (stride, 1)
            planes.append(
                np.lib.stride_tricks.as_strided(memory[base + offset :], shape=shape, strides=strides)
            )
        self.planes: tuple[np.ndarray, ...] = tuple(planes)

    @property
    def image(self) -> np.ndarray:
        """The frame as one (height, width[, channels]) array: packed formats only."""
        if self.layout.format in PLANAR:
            raise SurfaceError(f"a {self.layout.format} frame has several planes; use .planes or to_bgr()")
        return self.planes[0]

    # -- conversions ---------------------------------------------------------------------------
    def to_bgr(self) -> np.ndarray:
        """A new BGR uint8 (height, width, 3) image of the frame."""
        fmt = self.layout.format
        if fmt == "BGR":
            return self.planes[0].copy()
        if fmt in _TO_BGR:
            return cv2.cvtColor(self.planes[0], _TO_BGR[fmt])
        return cv2.cvtColor(self._yuv420(), cv2.COLOR_YUV2BGR_I420)[: self.layout.height, : self.layout.width]

    def to_rgb(self) -> np.ndarray:
        """A new RGB uint8 (height, width, 3) image of the frame."""
        return cv2.cvtColor(self.to_bgr(), cv2.COLOR_BGR2RGB)

    def write_bgr(self, bgr: np.ndarray) -> None:
        """Overwrite the frame with ``bgr`` (same width and height), converting to its format."""
        h, w = self.layout.height, self.layout.width
        if bgr.shape[:2] != (h, w) or bgr.dtype != np.uint8:
            raise SurfaceError(f"expected a {w}x{h} uint8 BGR image, got {bgr.shape} {bgr.dtype}")
        fmt = self.layout.format
        if fmt == "BGR":
            self.planes[0][...] = bgr
            return
        if fmt in _FROM_BGR:
            self.planes[0][...] = cv2.cvtColor(bgr, _FROM_BGR[fmt])
            return
        even = _pad_even(bgr)
        eh, ew = even.shape[:2]
        yuv = cv2.cvtColor(even, cv2.COLOR_BGR2YUV_I420)  # (eh*3/2, ew): Y, then U, then V
        y = yuv[:eh]
        u = yuv[eh : eh + eh // 4].reshape(eh // 2, ew // 2)
        v = yuv[eh + eh // 4 :].reshape(eh // 2, ew // 2)
        self.planes[0][...] = y[:h, :w]
        if fmt == "NV12":
            self.planes[1][..., 0] = u
            self.planes[1][..., 1] = v
        else:
            self.planes[1][...] = u
            self.planes[2][...] = v

    def write_rgb(self, rgb: np.ndarray) -> None:
        """Overwrite the frame with ``rgb`` (same width and height)."""
        self.write_bgr(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))

    def copy_from(self, other: FrameView) -> None:
        """Copy ``other`` (same format and size) into this frame, plane by plane."""
        if (other.layout.format, other.layout.width, other.layout.height) != (
            self.layout.format,
            self.layout.width,
            self.layout.height,
        ):
            raise SurfaceError("copy_from needs frames of the same format and size")
        for dst, src in zip(self.planes, other.planes, strict=True):
            dst[...] = src

    def _yuv420(self) -> np.ndarray:
        """The frame as OpenCV's I420 layout: a contiguous (even_h * 3/2, even_w) array."""
        h, w = self.layout.height, self.layout.width
        eh, ew = h + h % 2, w + w % 2
        out = np.empty((eh * 3 // 2, ew), np.uint8)
        y = out[:eh]
        y[:h, :w] = self.planes[0]
        if eh != h:
            y[h:, :w] = self.planes[0][-1:]
        if ew != w:
            y[:, w:] = y[:, w - 1 : w]
        u = out[eh : eh + eh // 4].reshape(eh // 2, ew // 2)
        v = out[eh + eh // 4 :].reshape(eh // 2, ew // 2)
        if self.layout.format == "NV12":
            u[...] = self.planes[1][..., 0]
            v[...] = self.planes[1][..., 1]
        else:
            u[...] = self.planes[1]
            v[...] = self.planes[2]
        return out


def _pad_even(image: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    if h % 2 == 0 and w % 2 == 0:
        return image
    return cv2.copyMakeBorder(image, 0, h % 2, 0, w % 2, cv2.BORDER_REPLICATE)


@dataclass
class Surface:
    """A mapped batch: ``frames[i]`` is the frame with ``batch_id`` i."""

    layout: FrameLayout
    frames: list[FrameView]

    @property
    def num_filled(self) -> int:
        return len(self.frames)


@contextlib.contextmanager
def map_surface(buffer: Gst.Buffer, layout: FrameLayout, *, write: bool = False) -> Iterator[Surface]:
    """Map ``buffer`` and yield its frames as views; the views are valid inside the ``with`` only.

    ``write=True`` needs a writable buffer (``Gst.Buffer.make_writable`` / a BaseTransform that is
    not in passthrough) and lets the views be written.
    """
    flags = Gst.MapFlags.READ | (Gst.MapFlags.WRITE if write else 0)
    ok, info = buffer.map(flags)
    if not ok:
        raise SurfaceError("cannot map the buffer" + (" for writing (is it writable?)" if write else ""))
    try:
        memory = np.frombuffer(info.data, dtype=np.uint8)
        count = layout.frames_in(memory.size)
        yield Surface(layout, [FrameView(memory, i * layout.size, layout, i) for i in range(count)])
    finally:
        buffer.unmap(info)


def new_batch_buffer(layout: FrameLayout, num_filled: int) -> Gst.Buffer:
    """A new buffer for ``num_filled`` frames of ``layout`` (contents undefined)."""
    if num_filled < 1:
        raise SurfaceError(f"a batch holds at least one frame, not {num_filled}")
    buffer = Gst.Buffer.new_allocate(None, layout.size * num_filled, None)
    if buffer is None:
        raise MemoryError(f"cannot allocate {layout.size * num_filled} bytes for a batch")
    return buffer
