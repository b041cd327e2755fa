"""RTSP sources stop cleanly: a clip that ends reaches the bus as EOS through nvstreammux, and
``set_state(NULL)`` returns — also when the pipeline is slower than real time.

The server is GstRtspServer in this process (its own main context, a free port on 127.0.0.1),
serving a short H.264 clip once per client over UDP or TCP only. The pipelines behind the source are
deliberately slow (``identity sleep-time``: about three times real time), so frames are still
queued in rtspsrc's jitterbuffer when the clip ends — the situation in which GStreamer's
rtpjitterbuffer used to keep the EOS and the stream lock for good (fake_device/deepstream/gst/
jitterbuffer.py). The traffic app (a real DeepStream Python app, nvinfer on CPU, messages to the
real Kafka broker) then ends by itself at the end of an RTSP clip and exits 0 on SIGTERM.

Every wait is bounded: a pipeline that keeps its EOS or a ``set_state`` that never returns fails the
test by a join or bus timeout, never by a speed threshold.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gi
import pytest
from acceptance import finish, start_app

from fake_device.deepstream.gst.jitterbuffer import without_field
from fake_device.deepstream.gst.registry import register_all
from fake_device.deepstream.gst.runtime import GLib, Gst
from harness.package import build_artifact
from harness.services.ports import free_ports

gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GstRtsp, GstRtspServer  # noqa: E402

register_all()

ROOT = Path(__file__).resolve().parents[3]
ARTIFACT_SPEC = (
    ROOT / "scenarios" / "traffic" / "components" / "nvds-awsgg-deployment" / "1.0.1" / "artifact.yaml"
)
FRAMES = 90  # 3 s at 30 fps
#: rtspsrc's jitterbuffer (nvurisrcbin's default is 100 ms): nvstreammux's sink pads, live, queue
#: up to the upstream latency, so a small one keeps the frames of a slow pipeline in the jitterbuffer
LATENCY_MS = 200
SLOW_US = 100_000  # per frame behind the muxer: 9 s for a 3 s clip
BUS_TIMEOUT_S = 90
JOIN_TIMEOUT_S = 30
APP_FRAMES = 180  # 6 s at 30 fps, 1280x720: the app on CPU is slower than real time


def _encode(path: Path, frames: int, width: int, height: int) -> Path:
    """An H.264 clip without B-frames, a key frame every half second (as a camera sends it)."""
    subprocess.run(
        ["gst-launch-1.0", "-q", "videotestsrc", f"num-buffers={frames}", "pattern=ball", "!",
         f"video/x-raw,width={width},height={height},framerate=30/1", "!", "x264enc", "bframes=0",
         "key-int-max=15", "speed-preset=ultrafast", "!", "h264parse", "!", "mp4mux", "!", "filesink",
         f"location={path}"],
        check=True, timeout=120, capture_output=True,
    )  # fmt: skip
    return path


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _encode(tmp_path_factory.mktemp("rtsp-sources") / "clip.mp4", FRAMES, 320, 240)


class ClipServer:
    """``rtsp://127.0.0.1:PORT/clip``: ``clip`` from its first frame to its end, for each client."""

    def __init__(self, clip: Path, *, tcp: bool) -> None:
        (self.port,) = free_ports(1)
        self.tcp = tcp
        self.url = f"rtsp://127.0.0.1:{self.port}/clip"
        self._context = GLib.MainContext.new()
        self._loop = GLib.MainLoop.new(self._context, False)
        self._server = GstRtspServer.RTSPServer.new()
        self._server.props.address = "127.0.0.1"
        self._server.props.service = str(self.port)
        factory = GstRtspServer.RTSPMediaFactory.new()
        factory.set_launch(
            f'( filesrc location="{clip}" ! qtdemux ! h264parse config-interval=-1 '
            "! rtph264pay name=pay0 pt=96 config-interval=-1 )"
        )
        factory.set_shared(False)
        factory.set_protocols(GstRtsp.RTSPLowerTrans.TCP if tcp else GstRtsp.RTSPLowerTrans.UDP)
        self._server.get_mount_points().add_factory("/clip", factory)
        self._source_id = self._server.attach(self._context)
        assert self._source_id, f"the RTSP server cannot listen on 127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._loop.run, name="rtsp-clip-server", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.client_filter(lambda _server, _client: GstRtspServer.RTSPFilterResult.REMOVE)
        self._loop.quit()
        self._thread.join(JOIN_TIMEOUT_S)
        source = self._context.find_source_by_id(self._source_id)
        if source is not None:
            source.destroy()
        assert not self._thread.is_alive(), "the RTSP server's thread did not stop"


@pytest.fixture(params=["udp", "tcp"])
def server(request: pytest.FixtureRequest, clip: Path) -> Iterator[ClipServer]:
    served = ClipServer(clip, tcp=request.param == "tcp")
    yield served
    served.close()


class SlowPipeline:
    """RTSP source → nvstreammux → a slow identity → fakesink, counting the frames at the sink."""

    def __init__(self, source: str, url: str, *, tcp: bool) -> None:
        if source == "nvurisrcbin":
            protocol = 4 if tcp else 0  # TCP only, or UDP first
            head = f"nvurisrcbin name=source uri={url} select-rtp-protocol={protocol} latency={LATENCY_MS}"
        else:
            head = f"uridecodebin name=source uri={url}"  # rtspsrc falls back to TCP when UDP is refused
        self.pipeline = Gst.parse_launch(
            f"{head} ! mux.sink_0 nvstreammux name=mux width=320 height=240 batch-size=1 "
            f"batched-push-timeout=40000 ! identity sleep-time={SLOW_US} ! fakesink name=sink sync=false"
        )
        if source == "uridecodebin":
            self.pipeline.get_by_name("source").connect("source-setup", self._configure_rtspsrc)
        self.frames = 0
        self.all_frames = threading.Event()
        sink = self.pipeline.get_by_name("sink").get_static_pad("sink")
        sink.add_probe(Gst.PadProbeType.BUFFER, self._count)

    @staticmethod
    def _configure_rtspsrc(_uridecodebin: Gst.Element, rtspsrc: Gst.Element) -> None:
        rtspsrc.set_property("latency", LATENCY_MS)  # as apps do, and nvurisrcbin by default

    def _count(self, _pad: Gst.Pad, _info: Gst.PadProbeInfo) -> Gst.PadProbeReturn:
        self.frames += 1
        if self.frames >= FRAMES:
            self.all_frames.set()
        return Gst.PadProbeReturn.OK

    def play(self) -> None:
        assert self.pipeline.set_state(Gst.State.PLAYING) != Gst.StateChangeReturn.FAILURE

    def end_message(self) -> Gst.Message | None:
        return self.pipeline.get_bus().timed_pop_filtered(
            BUS_TIMEOUT_S * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR
        )

    def stop_from_another_thread(self) -> None:
        """``set_state(NULL)`` from a thread of its own, as a signal handler or a watchdog does."""
        results: list[Gst.StateChangeReturn] = []
        stopper = threading.Thread(
            target=lambda: results.append(self.pipeline.set_state(Gst.State.NULL)), name="stop", daemon=True
        )
        stopper.start()
        stopper.join(JOIN_TIMEOUT_S)
        assert not stopper.is_alive(), f"set_state(NULL) did not return within {JOIN_TIMEOUT_S} s"
        assert results == [Gst.StateChangeReturn.SUCCESS]


@pytest.mark.parametrize("source", ["uridecodebin", "nvurisrcbin"])
def test_a_clip_that_ends_reaches_the_bus_as_eos_through_nvstreammux(source: str, server: ClipServer) -> None:
    slow = SlowPipeline(source, server.url, tcp=server.tcp)
    slow.play()
    try:
        message = slow.end_message()
    finally:
        slow.stop_from_another_thread()
    assert message is not None, f"no EOS within {BUS_TIMEOUT_S} s ({slow.frames} of {FRAMES} frames came)"
    assert message.type == Gst.MessageType.EOS, message.parse_error()
    assert slow.frames == FRAMES, "every frame of the clip comes before its end"


def test_set_to_null_from_another_thread_right_after_the_last_frame(server: ClipServer) -> None:
    """The moment the last frame is out, the jitterbuffer takes the EOS from its queue: the
    moment it used to keep its stream lock; the stop must not wait for the bus."""
    slow = SlowPipeline("uridecodebin", server.url, tcp=server.tcp)
    slow.play()
    try:
        assert slow.all_frames.wait(BUS_TIMEOUT_S), f"{slow.frames} of {FRAMES} frames came"
    finally:
        slow.stop_from_another_thread()


def test_set_to_null_from_another_thread_while_frames_flow(server: ClipServer) -> None:
    slow = SlowPipeline("nvurisrcbin", server.url, tcp=server.tcp)
    started = threading.Event()
    slow.pipeline.get_by_name("sink").get_static_pad("sink").add_probe(
        Gst.PadProbeType.BUFFER, lambda *_: (started.set(), Gst.PadProbeReturn.OK)[1]
    )
    slow.play()
    try:
        assert started.wait(BUS_TIMEOUT_S), "no frame came"
    finally:
        slow.stop_from_another_thread()
    assert 0 < slow.frames < FRAMES


def test_caps_lose_npt_stop_and_keep_everything_else() -> None:
    caps = Gst.Caps.from_string(
        "application/x-rtp, media=video, clock-rate=90000, npt-start=(guint64)0, "
        "npt-stop=(guint64)2000000000; application/x-rtp(memory:NVMM), clock-rate=8000"
    )
    stripped = without_field(caps, "npt-stop")
    assert stripped is not None
    assert stripped.to_string() == (
        "application/x-rtp, media=(string)video, clock-rate=(int)90000, npt-start=(guint64)0; "
        "application/x-rtp(memory:NVMM), clock-rate=(int)8000"
    )
    assert without_field(stripped, "npt-stop") is None


# -- the traffic app ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def app_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_artifact(ARTIFACT_SPEC, tmp_path_factory.mktemp("traffic-app-rtsp"))


@pytest.fixture(scope="module")
def app_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _encode(tmp_path_factory.mktemp("rtsp-app") / "camera.mp4", APP_FRAMES, 1280, 720)


def _start_app(folder: Path, url: str, kafka_broker: Any, topic: str) -> subprocess.Popen[str]:
    host, port = kafka_broker.bootstrap_servers.split(",")[0].rsplit(":", 1)
    kafka_broker.create_topic(topic)
    return start_app(
        ["deepstream_app.py", "-i", url, f"--conn-str={host};{port};{topic}", "-d", "no-display"], folder
    )


def _finish(proc: subprocess.Popen[str], timeout: float) -> str:
    return finish(proc, timeout).output


def _frames(output: str) -> int:
    found = re.search(r"^frames=(\d+)", output, re.MULTILINE)
    assert found is not None, output[-3000:]
    return int(found.group(1))


def test_the_traffic_app_ends_by_itself_when_its_rtsp_clip_ends(
    app_folder: Path, app_clip: Path, kafka_broker: Any
) -> None:
    served = ClipServer(app_clip, tcp=False)
    try:
        proc = _start_app(app_folder, served.url, kafka_broker, "rtsp-clip-end")
        output = _finish(proc, timeout=240)
    finally:
        served.close()
    assert proc.returncode == 0, output[-3000:]
    assert "End-of-stream" in output
    assert _frames(output) > 0


def test_the_traffic_app_exits_0_on_sigterm_with_an_rtsp_input(
    app_folder: Path, app_clip: Path, kafka_broker: Any
) -> None:
    served = ClipServer(app_clip, tcp=True)
    lines: list[str] = []
    flowing = threading.Event()

    def read(stdout: Any) -> None:
        # frames flow once a **PERF line shows a rate above zero
        for line in stdout:
            lines.append(line)
            if re.search(r"\*\*PERF:.*'stream0': [1-9]", line):
                flowing.set()

    try:
        proc = _start_app(app_folder, served.url, kafka_broker, "rtsp-sigterm")
        reader = threading.Thread(target=read, args=(proc.stdout,), name="app-output", daemon=True)
        reader.start()
        if not flowing.wait(120):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            pytest.fail("no frames flowed within 120 s:\n" + "".join(lines)[-3000:])
        proc.send_signal(signal.SIGTERM)  # as the nucleus stops a component
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            pytest.fail("the app did not exit within 120 s of SIGTERM:\n" + "".join(lines)[-3000:])
        reader.join(JOIN_TIMEOUT_S)
        output = "".join(lines)
    finally:
        served.close()
    assert proc.returncode == 0, output[-3000:]
    assert "received SIGTERM" in output
    assert 0 < _frames(output) <= APP_FRAMES
