"""uridecodebin for ``file://`` and ``rtsp://`` URIs: decoded frames with their timestamps.

A DeepStream app builds one source bin per stream (``uridecodebin`` or ``nvurisrcbin``) and links
its decoded output to a request pad of nvstreammux. :class:`UriSource` is that bin on the CPU:
OpenCV's FFmpeg backend demuxes and decodes, and each frame comes with what the muxer needs to
fill NvDsFrameMeta — the presentation time (``buf_pts``), the capture time (``ntp_timestamp``
with ``attach-sys-ts``) and the decoder's in/out times (the first latency mark of a frame).

What is reproduced:

* only absolute URIs: uridecodebin resolves ``file://`` against nothing, so a relative one (or a
  bare path) fails in DeepStream with an unhelpful "Resource not found"; here it fails at
  :meth:`UriSource.open` with a message naming the URI and the fix. Percent-encoding is decoded
  (``file:///data/my%20clip.mp4``), and ``file://localhost/...`` is accepted, as GLib does;
* an RTSP source is live; a file source is not, unless ``live=True``, which plays it like a camera:
  each frame is released at ``open time + pts`` (deepstream-app's ``type=3`` with a file, or a
  file behind a live-source muxer). ``file_loop=True`` restarts at end of stream, as
  deepstream-app's ``file-loop``, with pts continuing to increase;
* the end of stream of an RTSP source: a read that fails mid-stream ends that stream (with a log
  warning). DeepStream's ``rtsp-reconnect-interval-sec`` retry loop is not reproduced: connecting
  is one attempt bounded by a timeout, so a test against a dead camera fails in seconds, not never.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import unquote, urlsplit

import cv2
import numpy as np

from harness.errors import HarnessError

log = logging.getLogger(__name__)

SCHEMES = ("file", "rtsp")
#: connect and read timeout of an RTSP source (one attempt, no retry loop)
DEFAULT_RTSP_TIMEOUT_S = 10.0
#: frame rate assumed when a file does not declare one (FFmpeg reports 0 or NaN)
FALLBACK_FPS = 30.0


class SourceError(HarnessError):
    """A source URI cannot be played: bad scheme, missing file, undecodable data, no connection."""


@dataclass
class DecodedFrame:
    """One decoded picture and its times.

    ``pts_ns`` is the presentation time from the start of the stream (what the decoder puts on
    the GstBuffer); ``capture_ns`` is the system clock (``time.time_ns()``) when the frame became
    available, the value ``attach-sys-ts`` stores as NTP time; ``decode_start``/``decode_end``
    are ``time.monotonic()`` around grabbing and decoding it, so the frame's latency starts at
    the decoder's input as DeepStream's latency measurement does.
    """

    image: np.ndarray
    pts_ns: int
    capture_ns: int
    decode_start: float
    decode_end: float


def _open_capture(target: str, params: list[int]) -> Any:
    """The FFmpeg capture for a path or URL (a seam: tests replace it with a scripted camera)."""
    return cv2.VideoCapture(target, cv2.CAP_FFMPEG, params)


def parse_uri(uri: str) -> tuple[str, str]:
    """``(scheme, target)``: the absolute file path for ``file://``, the URL itself for ``rtsp://``.

    Raises :class:`SourceError` with a hint for everything DeepStream would not play.
    """
    text = uri.strip()
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if not scheme or len(scheme) == 1:  # no scheme, or a Windows drive letter
        absolute = Path(text).expanduser().resolve()
        raise SourceError(
            f"source {uri!r} is not a URI",
            hint=f"DeepStream sources are URIs: write file://{absolute.as_posix()} (file:///abs/path)",
        )
    if scheme not in SCHEMES:
        raise SourceError(
            f"source {uri!r}: the {scheme}:// scheme is not supported",
            hint="the emulated uridecodebin plays only file:// and rtsp:// URIs; "
            "download the stream to a file and use file:///abs/path, or serve it over RTSP",
        )
    if scheme == "rtsp":
        if not parts.hostname:
            raise SourceError(f"source {uri!r} has no host", hint="write rtsp://host[:port]/path")
        return scheme, text
    netloc = parts.netloc
    if netloc not in ("", "localhost"):
        # file://videos/x.mp4 parses as host "videos": the author meant a relative path
        raise SourceError(
            f"source {uri!r} is a relative file URI",
            hint=f"DeepStream needs an absolute path: file:///abs/path, e.g. "
            f"file://$(pwd)/{netloc}{parts.path} in a shell",
        )
    path = unquote(parts.path)
    if not path.startswith("/"):
        raise SourceError(
            f"source {uri!r} is a relative file URI",
            hint=f"DeepStream needs an absolute path: file:///abs/path, e.g. file://$(pwd)/{path} in a shell",
        )
    return scheme, path


class UriSource:
    """One stream: open, read decoded frames until end of stream, close.

    ``read()`` is meant to be called from one thread (the muxer's decode thread for this source);
    :meth:`interrupt` may be called from any thread to cut a live-pacing wait short.
    """

    def __init__(
        self,
        uri: str,
        source_id: int = 0,
        *,
        live: bool | None = None,
        file_loop: bool = False,
        name: str | None = None,
        timeout_s: float = DEFAULT_RTSP_TIMEOUT_S,
    ) -> None:
        self.uri = uri
        self.source_id = source_id
        # deepstream-app names its bins src_bin_N, the Python samples source-bin-NN
        self.name = name or f"source-bin-{source_id:02d}"
        self.scheme = urlsplit(uri.strip()).scheme.lower()
        self.is_live = True if self.scheme == "rtsp" else bool(live)
        self.file_loop = file_loop
        self.timeout_s = timeout_s
        self.fps = 0.0
        self.width = 0
        self.height = 0
        self.path: str | None = None  # the decoded file path for file:// sources
        self._cap: Any = None
        self._interrupt = threading.Event()
        self._open_time = 0.0
        self._index = 0  # frames read so far, over all loops: the pts counter
        self._pass_frames = 0  # frames read in the current pass through the file
        self._last_pts = -1
        self._eos = False

    # -- life cycle ----------------------------------------------------------------------------
    @property
    def opened(self) -> bool:
        return self._cap is not None

    def open(self) -> Self:
        """Open the stream and read its size and frame rate; raises :class:`SourceError`."""
        if self._cap is not None:
            return self
        scheme, target = parse_uri(self.uri)
        self._interrupt.clear()
        if scheme == "file":
            self.path = target
            self._cap = self._open_file(target)
        else:
            self._cap = self._open_rtsp(target)
        self.width = int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        self.height = int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        fps = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)
        if not math.isfinite(fps) or fps <= 0 or fps > 1000:
            log.warning("%s: %s declares no frame rate; assuming %g fps", self.name, self.uri, FALLBACK_FPS)
            fps = FALLBACK_FPS
        self.fps = fps
        if self.width <= 0 or self.height <= 0:
            self._release()
            raise SourceError(
                f"source {self.uri}: the stream has no video frames FFmpeg can decode",
                hint="check the file with ffprobe; DeepStream needs a video track (H.264, H.265, MPEG-4)",
            )
        self._open_time = time.monotonic()
        self._index = self._pass_frames = 0
        self._last_pts = -1
        self._eos = False
        log.debug(
            "%s: opened %s (%dx%d at %g fps, live=%s)",
            self.name,
            self.uri,
            self.width,
            self.height,
            self.fps,
            self.is_live,
        )
        return self

    def _open_file(self, path: str) -> Any:
        file = Path(path)
        if not file.exists():
            raise SourceError(
                f"source {self.uri}: no such file {path}",
                hint="check the path (DeepStream reports 'Resource not found' for it)",
            )
        if not file.is_file():
            raise SourceError(f"source {self.uri}: {path} is not a file", hint="name a video file")
        cap = _open_capture(path, [])
        if not cap.isOpened():
            cap.release()
            raise SourceError(
                f"source {self.uri}: FFmpeg cannot decode {path}",
                hint="is it a video file? check it with ffprobe; an MP4/MKV with H.264, H.265 or "
                "MPEG-4 video plays",
            )
        return cap

    def _open_rtsp(self, url: str) -> Any:
        timeout_ms = max(1, round(self.timeout_s * 1000))
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, timeout_ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, timeout_ms]
        cap = _open_capture(url, params)
        if not cap.isOpened():
            cap.release()
            raise SourceError(
                f"source {self.uri}: cannot connect (gave up after at most {self.timeout_s:g} s)",
                hint="check that the camera or RTSP server is up and reachable from here, and the "
                "path and credentials in the URI (try: ffprobe -rtsp_transport tcp URI)",
            )
        return cap

    def interrupt(self) -> None:
        """Cut a live-pacing wait short: the pending and every later :meth:`read` return None."""
        self._interrupt.set()

    def _release(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def close(self) -> None:
        """Release the decoder; safe to call twice."""
        self._release()

    def __enter__(self) -> Self:
        return self.open()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- reading -------------------------------------------------------------------------------
    def read(self) -> DecodedFrame | None:
        """The next frame, or None at end of stream (or after :meth:`interrupt`)."""
        if self._cap is None:
            raise RuntimeError(f"{self.name}: read() before open()")
        if self._eos or self._interrupt.is_set():
            return None
        if self.scheme == "file":
            return self._read_file()
        return self._read_rtsp()

    def _file_pts(self, index: int) -> int:
        return round(index * 1_000_000_000 / self.fps)

    def _read_file(self) -> DecodedFrame | None:
        pts = self._file_pts(self._index)
        if self.is_live:
            # a camera delivers frame N at N/fps; pace before decoding so the frame's latency
            # (which starts at the decoder) does not include the wait
            delay = self._open_time + pts / 1e9 - time.monotonic()
            if delay > 0 and self._interrupt.wait(delay):
                return None
        decode_start = time.monotonic()
        ok, image = self._cap.read()
        if not ok and self.file_loop and self._pass_frames > 0:
            # file-loop: deepstream-app seeks back to the start; reopening is what works for
            # every container (seeking an MPEG-4 Part 2 stream to frame 0 is not exact)
            log.debug("%s: end of %s, looping", self.name, self.uri)
            assert self.path is not None
            self._cap.release()
            self._cap = self._open_file(self.path)
            self._pass_frames = 0
            ok, image = self._cap.read()
        decode_end = time.monotonic()
        if not ok:
            self._eos = True
            return None
        self._index += 1
        self._pass_frames += 1
        return DecodedFrame(image, pts, time.time_ns(), decode_start, decode_end)

    def _read_rtsp(self) -> DecodedFrame | None:
        decode_start = time.monotonic()
        try:
            ok, image = self._cap.read()
        except cv2.error as err:
            ok, image = False, None
            log.debug("%s: read raised %s", self.name, err)
        decode_end = time.monotonic()
        if not ok or image is None:
            self._eos = True
            log.warning(
                "%s: reading %s failed after %d frames; treating it as end of stream",
                self.name,
                self.uri,
                self._index,
            )
            return None
        pos_ms = float(self._cap.get(cv2.CAP_PROP_POS_MSEC) or 0.0)
        if not math.isfinite(pos_ms) or pos_ms < 0:
            pos_ms = 0.0
        if pos_ms > 0 or self._index == 0:  # the stream's own timestamp (0 is its start)
            pts = round(pos_ms * 1_000_000)
        else:  # no timestamps from the stream: time of arrival since the connection was made
            pts = round((decode_end - self._open_time) * 1e9)
        pts = max(pts, self._last_pts + 1)  # buffers never go back in time
        self._last_pts = pts
        self._index += 1
        return DecodedFrame(image, pts, time.time_ns(), decode_start, decode_end)
