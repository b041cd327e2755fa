"""Writing frames to MP4.

``mp4v`` (MPEG-4 Part 2) is what OpenCV's bundled FFmpeg can encode, and every OpenCV build
decodes it. ``h264`` pipes raw frames into the system ``ffmpeg`` (Debian's ffmpeg package):
it is what a camera or RTSP source actually sends, and what DeepStream's decoder expects.
"""

from __future__ import annotations

import contextlib
import subprocess
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from harness.errors import HarnessError
from harness.ffmpeg import INSTALL_HINT, require_ffmpeg

CODECS = ("mp4v", "h264")


class FrameSink(Protocol):
    def write(self, frame: np.ndarray) -> None: ...

    def close(self) -> None: ...


def ffmpeg_for_h264() -> str:
    """Path of the ffmpeg binary, or a clear error saying how to get one."""
    return require_ffmpeg("--codec h264", hint=f"{INSTALL_HINT}; or use --codec mp4v")


class Mp4vSink:
    """MPEG-4 Part 2 through OpenCV's VideoWriter."""

    def __init__(self, path: Path, fps: float, size: tuple[int, int]) -> None:
        self._writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), float(fps), size)
        if not self._writer.isOpened():
            raise HarnessError(f"OpenCV cannot open {path} for writing with the mp4v codec")

    def write(self, frame: np.ndarray) -> None:
        self._writer.write(frame)

    def close(self) -> None:
        self._writer.release()


class H264Sink:
    """H.264 (yuv420p, MP4 container) through the system ffmpeg."""

    def __init__(self, path: Path, fps: float, size: tuple[int, int]) -> None:
        ffmpeg = ffmpeg_for_h264()
        w, h = size
        # ffmpeg's own output is not needed; stderr is captured to a file so a full pipe never
        # blocks it, and read back for the error message if encoding fails.
        self._log = path.with_name(path.name + ".ffmpeg.log")
        self._log_file = self._log.open("wb")
        cmd = [
            ffmpeg, "-hide_banner", "-loglevel", "error", "-y",
            "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{w}x{h}", "-r", f"{fps:g}", "-i", "-",
            "-an", "-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p",
            "-movflags", "+faststart", "-f", "mp4", str(path),
        ]  # fmt: skip
        self._proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self._log_file
        )
        self._path = path
        self._closed = False

    def write(self, frame: np.ndarray) -> None:
        assert self._proc.stdin is not None
        try:
            self._proc.stdin.write(np.ascontiguousarray(frame).data)
        except BrokenPipeError:
            self.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._proc.stdin is not None and not self._proc.stdin.closed:
            with contextlib.suppress(BrokenPipeError):
                self._proc.stdin.close()
        rc = self._proc.wait()
        self._log_file.close()
        message = self._log.read_text(errors="replace").strip()
        self._log.unlink(missing_ok=True)
        if rc != 0:
            raise HarnessError(f"ffmpeg failed to encode {self._path} (exit {rc}): {message or 'no message'}")


def open_sink(path: Path, codec: str, fps: float, size: tuple[int, int]) -> FrameSink:
    """A writer for ``codec`` (one of :data:`CODECS`)."""
    if codec == "mp4v":
        return Mp4vSink(path, fps, size)
    if codec == "h264":
        return H264Sink(path, fps, size)
    raise HarnessError(f"unknown codec {codec!r}", hint=f"use one of {', '.join(CODECS)}")
