"""Source URIs: what parse_uri accepts (absolute file URIs, RTSP) and the hints for everything else."""

from __future__ import annotations

from pathlib import Path

import pytest

from fake_device.deepstream.source import SourceError, parse_uri


def test_absolute_file_uris_give_the_path(tmp_path: Path) -> None:
    assert parse_uri(f"file://{tmp_path}/clip.mp4") == ("file", f"{tmp_path}/clip.mp4")
    assert parse_uri(f"file://{tmp_path}/my%20clip.mp4") == ("file", f"{tmp_path}/my clip.mp4")
    assert parse_uri(f"file://localhost{tmp_path}/x.mp4") == ("file", f"{tmp_path}/x.mp4")
    assert parse_uri(" FILE:///x.mp4 ") == ("file", "/x.mp4")


def test_rtsp_uris_are_kept_as_written() -> None:
    assert parse_uri("rtsp://camera.local:8554/live") == ("rtsp", "rtsp://camera.local:8554/live")
    with pytest.raises(SourceError, match="has no host"):
        parse_uri("rtsp:///stream")


def test_http_scheme_is_rejected_with_a_hint() -> None:
    with pytest.raises(SourceError) as info:
        parse_uri("http://example.com/x.mp4")
    assert "the http:// scheme is not supported" in info.value.message
    assert "file:// and rtsp://" in (info.value.hint or "")
    assert "hint:" in str(info.value)


def test_bare_path_gets_the_file_uri_hint(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as info:
        parse_uri(str(tmp_path / "clip.mp4"))
    assert "is not a URI" in info.value.message
    assert f"file://{tmp_path.resolve()}/clip.mp4" in (info.value.hint or "")


@pytest.mark.parametrize("relative", ["file:videos/x.mp4", "file://videos/x.mp4", "file:./x.mp4"])
def test_relative_file_uri_is_rejected(relative: str) -> None:
    with pytest.raises(SourceError) as info:
        parse_uri(relative)
    assert "relative file URI" in info.value.message
    assert "absolute" in (info.value.hint or "")
    assert "file://$(pwd)/" in (info.value.hint or "")
