"""The ends of the display branch: fakesink, an annotated MP4 file, and an RTSP stream.

deepstream-app's ``-d`` / sink types map to:

* ``no-display`` / ``fakesink`` → :class:`FakeSink`: counts and drops the frames;
* ``file`` → :class:`FileSink`: writes the (OSD-annotated) frames to an MP4 with
  :func:`harness.world.video.open_sink` (``h264`` through the system ffmpeg, or ``mp4v``
  through OpenCV); it stands in for nv3dsink/nveglglessink, since there is no screen in CI;
* ``rtsp`` → :class:`RtspSink`: H.264 over RTSP at ``rtsp://127.0.0.1:8554/ds-test``, the
  encoder → rtph264pay → udpsink → GstRtspServer chain of DeepStream, here ffmpeg → RTP/UDP →
  :class:`~.rtsp.RtspServer`.

With several sources, the file and RTSP sinks tile each batch into one picture as
nvmultistreamtiler does (rows = ⌊√n⌋, columns = ⌈n / rows⌉, source N in tile N, each frame
scaled to its tile), so one output frame is written per batch. Every sink appends its own
latency mark and has an idempotent :meth:`close`.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self

import cv2
import numpy as np

from fake_device.deepstream.meta import BatchMeta
from fake_device.deepstream.rtsp import DEFAULT_MOUNT, DEFAULT_PORT, RtpH264Encoder, RtspServer
from harness.errors import HarnessError
from harness.world.video import CODECS, FrameSink, open_sink

log = logging.getLogger(__name__)

#: What :func:`make_sink` accepts (deepstream-app's display choices and sink names).
SINK_KINDS = ("no-display", "fakesink", "file", "rtsp")


class Sink(Protocol):
    """What the pipeline needs of a sink: a named element that can be closed."""

    name: str

    def process(self, batch: BatchMeta) -> BatchMeta: ...

    def close(self) -> None: ...


def _mark(batch: BatchMeta, name: str, t_in: float) -> None:
    t_out = time.monotonic()
    for frame in batch.frames:
        frame.latency.append((name, t_in, t_out))


def tile_grid(sources: int) -> tuple[int, int]:
    """(rows, columns) of the tiler for ``sources`` streams, as deepstream-app computes them."""
    sources = max(1, sources)
    rows = max(1, math.isqrt(sources))
    return rows, math.ceil(sources / rows)


class Tiler:
    """nvmultistreamtiler: one ``width`` x ``height`` picture per batch.

    The grid is sized for ``max(batch.max_frames_in_batch, highest source_id + 1)`` sources and
    grows when a higher source id appears. A source without a frame in a batch keeps its last
    picture in its tile (black until its first frame), so slower sources do not flicker.
    """

    def __init__(self, width: int, height: int) -> None:
        if width <= 0 or height <= 0:
            raise HarnessError(f"output size must be positive, got {width}x{height}")
        self.width = width
        self.height = height
        self.sources = 0
        self._canvas: np.ndarray | None = None

    def compose(self, batch: BatchMeta) -> np.ndarray | None:
        """The output picture for a batch; None when no frame of the batch has an image."""
        frames = [f for f in batch.frames if f.image is not None]
        if not frames:
            return None
        wanted = max(batch.max_frames_in_batch, max(f.source_id for f in frames) + 1)
        if wanted == 1:
            image = frames[0].image
            assert image is not None
            if image.shape[1] == self.width and image.shape[0] == self.height:
                return image
            return cv2.resize(image, (self.width, self.height), interpolation=cv2.INTER_LINEAR)
        if wanted > self.sources or self._canvas is None:
            self.sources = wanted
            self._canvas = np.zeros((self.height, self.width, 3), np.uint8)
        rows, cols = tile_grid(self.sources)
        tile_w, tile_h = self.width // cols, self.height // rows
        for frame in frames:
            assert frame.image is not None
            row, col = divmod(frame.source_id, cols)
            x, y = col * tile_w, row * tile_h
            self._canvas[y : y + tile_h, x : x + tile_w] = cv2.resize(
                frame.image, (tile_w, tile_h), interpolation=cv2.INTER_AREA
            )
        return self._canvas


class FakeSink:
    """fakesink: takes every batch, counts its frames and drops them."""

    def __init__(self, *, name: str = "fakesink") -> None:
        self.name = name
        self.frames = 0
        self.batches = 0
        self.closed = False

    def process(self, batch: BatchMeta) -> BatchMeta:
        t_in = time.monotonic()
        self.batches += 1
        self.frames += len(batch.frames)
        _mark(batch, self.name, t_in)
        return batch

    def close(self) -> None:
        self.closed = True

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class FileSink:
    """An annotated MP4 (``codec`` h264 or mp4v) of ``width`` x ``height`` at ``fps``.

    Writes synchronously, like a filesink with sync=false: the encoder's speed paces the
    pipeline, and no frame is dropped. ``h264`` needs the system ffmpeg, which reads the frames
    from a pipe and finishes the file by itself if the harness dies.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        fps: float,
        codec: str = "h264",
        width: int,
        height: int,
        name: str = "file-sink",
    ) -> None:
        if codec not in CODECS:
            raise HarnessError(f"unknown codec {codec!r} for {name}", hint=f"use one of {', '.join(CODECS)}")
        if fps <= 0:
            raise HarnessError(f"{name}: fps must be positive, got {fps}")
        if codec == "h264" and (width % 2 or height % 2):
            raise HarnessError(
                f"{name}: H.264 needs an even frame size, got {width}x{height}",
                hint="use an even width and height, or codec mp4v",
            )
        self.name = name
        self.path = Path(path)
        self.codec = codec
        self.fps = float(fps)
        self.frames = 0
        self._tiler = Tiler(width, height)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer: FrameSink | None = open_sink(self.path, codec, self.fps, (width, height))

    @property
    def width(self) -> int:
        return self._tiler.width

    @property
    def height(self) -> int:
        return self._tiler.height

    def process(self, batch: BatchMeta) -> BatchMeta:
        t_in = time.monotonic()
        if self._writer is None:
            raise HarnessError(f"{self.name}: {self.path} is already closed")
        picture = self._tiler.compose(batch)
        if picture is not None:
            self._writer.write(picture)
            self.frames += 1
        _mark(batch, self.name, t_in)
        return batch

    def close(self) -> None:
        """Finish the file (the MP4 index is written here). Safe to call twice."""
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
            log.info("%s: wrote %d frames to %s", self.name, self.frames, self.path)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class RtspSink:
    """H.264 over RTSP at :attr:`url` (``rtsp://127.0.0.1:8554/ds-test`` by default).

    Starts an :class:`~.rtsp.RtspServer` on ``host:port`` (``port=0`` picks a free one; pass
    ``server`` to share one) and an ffmpeg encoder feeding its ``mount``. :meth:`process` never
    waits for viewers or the encoder: frames go through a short leaky queue (see
    :class:`~.rtsp.RtpH264Encoder`; :attr:`dropped` counts what it dropped). If ffmpeg dies, the
    next :meth:`process` or :meth:`close` raises a HarnessError with its last messages.
    """

    def __init__(
        self,
        *,
        port: int = DEFAULT_PORT,
        mount: str = DEFAULT_MOUNT,
        fps: float,
        width: int,
        height: int,
        bitrate_kbps: int = 4000,
        host: str | None = None,
        name: str = "rtsp-sink",
        server: RtspServer | None = None,
    ) -> None:
        self.name = name
        self.frames = 0
        self._tiler = Tiler(width, height)
        self._own_server = server is None
        self.server = server if server is not None else RtspServer(host, port, name=f"{name}-server")
        self._encoder: RtpH264Encoder | None = None
        self._closed = False
        try:
            self.mount = self.server.add_mount(mount)
            self.url = self.server.url(mount)
            self._encoder = RtpH264Encoder(
                self.mount, width=width, height=height, fps=fps, bitrate_kbps=bitrate_kbps, what=name
            )
        except BaseException:
            self.close()
            raise

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def encoder_pid(self) -> int | None:
        return self._encoder.pid if self._encoder is not None else None

    @property
    def dropped(self) -> int:
        return self._encoder.dropped if self._encoder is not None else 0

    def process(self, batch: BatchMeta) -> BatchMeta:
        t_in = time.monotonic()
        if self._closed or self._encoder is None:
            raise HarnessError(f"{self.name}: the RTSP stream {getattr(self, 'url', '')} is closed")
        picture = self._tiler.compose(batch)
        if picture is not None:
            self._encoder.write(picture)
            self.frames += 1
        _mark(batch, self.name, t_in)
        return batch

    def close(self) -> None:
        """Stop the encoder and the server (if this sink started it). Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._encoder is not None:
                self._encoder.close()
        finally:
            if self._own_server:
                self.server.close()
            elif getattr(self, "mount", None) is not None:
                with contextlib.suppress(Exception):
                    self.server.remove_mount(self.mount.path)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def make_sink(kind: str, **kwargs: Any) -> Sink:
    """A sink by deepstream-app's name for it: ``no-display``/``fakesink``, ``file`` or ``rtsp``;
    ``kwargs`` go to the sink's constructor."""
    if kind in ("no-display", "fakesink"):
        return FakeSink(**kwargs)
    if kind == "file":
        return FileSink(**kwargs)
    if kind == "rtsp":
        return RtspSink(**kwargs)
    raise HarnessError(f"unknown sink {kind!r}", hint=f"use one of {', '.join(SINK_KINDS)}")
