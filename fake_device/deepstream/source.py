"""Source URIs as DeepStream's uridecodebin takes them: ``file://`` and ``rtsp://``.

deepstream-app and the Python samples hand a URI to uridecodebin / nvurisrcbin. A relative one
(or a bare path) fails there with an unhelpful "Resource not found"; here :func:`parse_uri` fails
before anything starts, naming the URI and the fix. Percent-encoding is decoded
(``file:///data/my%20clip.mp4``), and ``file://localhost/...`` is accepted, as GLib does.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from harness.errors import HarnessError

SCHEMES = ("file", "rtsp")


class SourceError(HarnessError):
    """A source URI cannot be played: bad scheme, missing file, undecodable data, no connection."""


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
