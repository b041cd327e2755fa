"""The pipeline benchmark's camera: a clip served over RTSP in real time, once per client, to its end."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from benchmarks.camera import RtspCamera

FRAMES = 45  # 1.5 s at 30 fps


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("camera") / "clip.mp4"
    subprocess.run(
        ["gst-launch-1.0", "-q", "videotestsrc", f"num-buffers={FRAMES}", "!",
         "video/x-raw,width=320,height=240,framerate=30/1", "!", "x264enc", "bframes=0", "!", "mp4mux", "!",
         "filesink", f"location={path}"],
        check=True, timeout=60,
    )  # fmt: skip
    return path


def test_a_client_gets_every_frame_in_real_time_and_the_end(clip: Path) -> None:
    with RtspCamera(clip) as camera:
        assert camera.clips_ended() == 0
        started = time.monotonic()
        client = subprocess.run(
            ["gst-launch-1.0", "rtspsrc", f"location={camera.url}", "!", "rtph264depay", "!",
             "h264parse", "!", "avdec_h264", "!", "fakesink", "silent=false", "-v"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        took = time.monotonic() - started
        assert client.returncode == 0, client.stderr[-2000:]  # the clip's end reached the client as EOS
        assert client.stdout.count("chain   ******* ") == FRAMES
        assert took >= (FRAMES - 1) / 30, "frames are paced like a camera's, not sent as fast as possible"
        deadline = time.monotonic() + 5
        while camera.clips_ended() < 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert camera.clips_ended() == 1
    assert not camera.running
