"""Where the ffmpeg binary comes from.

The project depends on ``imageio-ffmpeg``, a wheel that carries a static FFmpeg build (with
libx264 and the RTP/RTSP muxers), so a fresh machine gets a working ffmpeg from ``pip`` alone and
no system package is needed. A system ffmpeg on ``PATH`` is the fallback for an environment where
that wheel is missing (a hand-made venv, a minimal image).
"""

from __future__ import annotations

import functools
import shutil

from harness.errors import HarnessError

INSTALL_HINT = "pip install imageio-ffmpeg (a project dependency), or apt-get install ffmpeg"


@functools.cache
def find_ffmpeg() -> str | None:
    """Path of an ffmpeg binary (the wheel's first, then PATH's), or None."""
    try:
        import imageio_ffmpeg
    except ImportError:
        pass
    else:
        try:
            return imageio_ffmpeg.get_ffmpeg_exe()
        except RuntimeError:  # the wheel is there but its binary is not (an unsupported platform)
            pass
    return shutil.which("ffmpeg")


def require_ffmpeg(what: str, *, hint: str = INSTALL_HINT) -> str:
    """Path of ffmpeg, or a clear error naming ``what`` needs it and how to get it."""
    path = find_ffmpeg()
    if path is None:
        raise HarnessError(f"{what} needs the 'ffmpeg' binary, which is not installed", hint=hint)
    return path
