"""The RTSP server and RTSP cameras: a file publisher's stream read back by OpenCV and the ffmpeg
client (TCP and UDP), the server's protocol answers and relay rules checked with raw sockets, and
clean-up (no ffmpeg left, port free, threads joined) including when the harness is killed.

Every wait is bounded; every server listens on a free port (8554 may be taken on a shared host).

OpenCV's FFmpeg (the opencv-python 4.11 build) picks the RTSP transport by whether
OPENCV_FFMPEG_CAPTURE_OPTIONS is set at all, not by its ``rtsp_transport`` value: set, it asks
for TCP interleaving first; unset, FFmpeg's default order tries UDP first. The tests set or
clear the variable before creating each VideoCapture and check on the server which transport
was actually used; the system ffmpeg client covers UDP explicitly too.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import psutil
import pytest

from fake_device.deepstream.rtsp import RtspFilePublisher, RtspServer
from harness.errors import HarnessError
from harness.ffmpeg import find_ffmpeg
from harness.world import WorldParams, iter_world
from harness.world.video import open_sink

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(find_ffmpeg() is None, reason="RTSP streaming needs an ffmpeg binary"),
]

REPO = Path(__file__).resolve().parents[3]
W, H, FPS = 640, 360, 15
CAPTURE_ENV = "OPENCV_FFMPEG_CAPTURE_OPTIONS"
# Mean absolute difference (0-255) between a received picture and its source frame: H.264 at
# 4 Mbit/s leaves ~3; a wrong, shifted or garbled picture is far above this.
SIMILAR = 12.0


# --------------------------------------------------------------------------------------------
# test utilities


@pytest.fixture(scope="module")
def world_frames() -> list[np.ndarray]:
    return [f.image for f in iter_world(WorldParams(seed=1, seconds=3, width=W, height=H, fps=FPS))]


@pytest.fixture(scope="module")
def world_video(tmp_path_factory: pytest.TempPathFactory, world_frames: list[np.ndarray]) -> Path:
    path = tmp_path_factory.mktemp("rtsp") / "camera.mp4"
    sink = open_sink(path, "h264", FPS, (W, H))
    for image in world_frames[: 2 * FPS]:
        sink.write(image)
    sink.close()
    return path


def closest_difference(image: np.ndarray, sources: list[np.ndarray]) -> float:
    return min(float(np.abs(image.astype(np.int16) - s.astype(np.int16)).mean()) for s in sources)


def open_capture(url: str, *, transport: str | None) -> cv2.VideoCapture:
    """An OpenCV capture; ``transport`` "tcp" sets the options variable, None clears it."""
    if transport is None:
        os.environ.pop(CAPTURE_ENV, None)
    else:
        os.environ[CAPTURE_ENV] = f"rtsp_transport;{transport}"
    params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, 15000, cv2.CAP_PROP_READ_TIMEOUT_MSEC, 10000]
    return cv2.VideoCapture(url, cv2.CAP_FFMPEG, params)


@pytest.fixture(autouse=True)
def _restore_capture_env() -> Iterator[None]:
    saved = os.environ.get(CAPTURE_ENV)
    yield
    if saved is None:
        os.environ.pop(CAPTURE_ENV, None)
    else:
        os.environ[CAPTURE_ENV] = saved


def read_frames(capture: cv2.VideoCapture, count: int) -> list[np.ndarray]:
    frames = []
    for _ in range(count * 3):  # bounded; each read also has OpenCV's read timeout
        ok, image = capture.read()
        if not ok:
            break
        frames.append(image)
        if len(frames) == count:
            break
    return frames


def gone(pid: int | None, timeout: float = 10.0) -> bool:
    """True once ``pid`` no longer runs (a zombie waiting for its reaper counts as gone)."""
    if pid is None:
        return True
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.1)
    return False


def ffmpeg_children() -> list[str]:
    found = []
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            if "ffmpeg" in child.name() and child.status() != psutil.STATUS_ZOMBIE:
                found.append(f"{child.pid} {' '.join(child.cmdline())[:100]}")
    return found


def rtsp_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("rtsp")]


def port_is_free(port: int) -> bool:
    with contextlib.suppress(HarnessError):
        RtspServer(port=port).close()
        return True
    return False


class RawClient:
    """A minimal RTSP client on a plain socket, for checking the server's exact answers."""

    def __init__(self, port: int, *, rcvbuf: int | None = None) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(5)
        self.sock.connect(("127.0.0.1", port))
        self.base = f"rtsp://127.0.0.1:{port}"
        self.buffer = b""
        self.cseq = 0
        self.packets: list[tuple[int, bytes]] = []  # interleaved (channel, packet) seen so far

    def close(self) -> None:
        self.sock.close()

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def request(self, method: str, path: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
        self.cseq += 1
        lines = [f"{method} {self.base}{path} RTSP/1.0", f"CSeq: {self.cseq}"]
        lines += [f"{key.replace('_', '-')}: {value}" for key, value in headers.items()]
        self.send_raw(("\r\n".join(lines) + "\r\n\r\n").encode())
        return self.response()

    def _fill(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("server closed the connection")
        self.buffer += data

    def _take_interleaved(self) -> bool:
        if len(self.buffer) < 4:
            return False
        size = int.from_bytes(self.buffer[2:4], "big")
        if len(self.buffer) < 4 + size:
            return False
        self.packets.append((self.buffer[1], self.buffer[4 : 4 + size]))
        self.buffer = self.buffer[4 + size :]
        return True

    def response(self) -> tuple[int, dict[str, str], bytes]:
        for _ in range(10_000):
            if self.buffer.startswith(b"$"):
                if not self._take_interleaved():
                    self._fill()
                continue
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                self._fill()
                continue
            head = self.buffer[:end].decode()
            lines = head.split("\r\n")
            headers = {
                k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])
            }
            length = int(headers.get("content-length", "0"))
            while len(self.buffer) < end + 4 + length:
                self._fill()
            body = self.buffer[end + 4 : end + 4 + length]
            self.buffer = self.buffer[end + 4 + length :]
            return int(lines[0].split()[1]), headers, body
        raise AssertionError("no response")

    def interleaved(self, count: int, timeout: float = 5.0) -> list[tuple[int, bytes]]:
        deadline = time.monotonic() + timeout
        while len(self.packets) < count and time.monotonic() < deadline:
            if not self._take_interleaved():
                with contextlib.suppress(TimeoutError):
                    self._fill()
        return self.packets[:count]


def rtp(seq: int, payload: bytes) -> bytes:
    return (
        bytes([0x80, 96])
        + seq.to_bytes(2, "big")
        + (seq * 6000).to_bytes(4, "big")
        + b"\x12\x34\x56\x78"
        + payload
    )


def seq_of(packet: bytes) -> int:
    return int.from_bytes(packet[2:4], "big")


SPS = bytes.fromhex("6742c01eda0280bfe584")
PPS = bytes.fromhex("68ce3c80")
SLICE = b"\x41" + bytes(200)  # a non-IDR slice
KEY = b"\x18" + len(SPS).to_bytes(2, "big") + SPS + len(PPS).to_bytes(2, "big") + PPS  # STAP-A


def udp_pair() -> tuple[socket.socket, socket.socket]:
    rtp_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rtp_sock.bind(("127.0.0.1", 0))
    rtcp_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rtcp_sock.bind(("127.0.0.1", 0))
    for s in (rtp_sock, rtcp_sock):
        s.settimeout(2)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    return rtp_sock, rtcp_sock


def wait_playing(server: RtspServer, count: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while sum(1 for s in server.session_stats() if s["playing"]) < count:
        assert time.monotonic() < deadline, server.session_stats()
        time.sleep(0.02)


def udp_addresses(pid: int) -> list[str]:
    """``ip:port`` of every UDP socket process ``pid`` has open (psutil reads /proc/net/udp*)."""
    return [f"{c.laddr.ip}:{c.laddr.port}" for c in psutil.Process(pid).net_connections(kind="udp")]


def test_ffmpeg_binds_its_rtp_sockets_to_loopback(world_video: Path) -> None:
    """ffmpeg's own RTP and RTCP sockets (the udpsink side, sending to the mount) are bound to
    127.0.0.1 like every other server, not to 0.0.0.0 where the network could reach them."""
    publisher = RtspFilePublisher(world_video, port=0, mount="/cam")  # returns once it streams
    try:
        camera = udp_addresses(publisher.pid)  # type: ignore[arg-type]
    finally:
        publisher.close()
    assert len(camera) == 2, camera  # RTP and RTCP
    assert all(address.startswith("127.0.0.1:") for address in camera), camera


def test_udp_transport_with_the_ffmpeg_client(world_video: Path, world_frames: list[np.ndarray]) -> None:
    with RtspFilePublisher(world_video, port=0, mount="/udp") as publisher:
        result = subprocess.run(
            [find_ffmpeg(), "-hide_banner", "-loglevel", "error", "-rtsp_transport", "udp",
             "-i", publisher.url, "-frames:v", "10", "-f", "rawvideo", "-pix_fmt", "bgr24", "pipe:1"],
            capture_output=True,
            timeout=60,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr.decode(errors="replace")
        frames = np.frombuffer(result.stdout, np.uint8).reshape(-1, H, W, 3)
        assert len(frames) == 10
        assert closest_difference(frames[-1], world_frames) < SIMILAR
        assert publisher.server.setups == {"udp": 1}


# --------------------------------------------------------------------------------------------
# protocol


def test_unknown_mount_fails_to_open_and_describe_is_404() -> None:
    with RtspServer(port=0) as server:
        server.add_mount("/ds-test")
        capture = open_capture(server.url("/nope"), transport="tcp")
        try:
            assert not capture.isOpened()
        finally:
            capture.release()
        client = RawClient(server.port)
        try:
            code, _, _ = client.request("DESCRIBE", "/nope", Accept="application/sdp")
            assert code == 404
            code, _, _ = client.request(
                "SETUP", "/nope/stream=0", Transport="RTP/AVP/TCP;unicast;interleaved=0-1"
            )
            assert code == 404
        finally:
            client.close()


def test_requests_and_error_codes() -> None:
    with RtspServer(port=0) as server:
        server.add_mount("/ds-test")
        client = RawClient(server.port)
        try:
            code, headers, _ = client.request("OPTIONS", "/ds-test")
            assert code == 200 and headers["cseq"] == "1"
            assert {"DESCRIBE", "SETUP", "PLAY", "TEARDOWN", "GET_PARAMETER"} <= set(
                headers["public"].split(", ")
            )
            code, headers, body = client.request("DESCRIBE", "/ds-test")
            assert code == 200 and headers["content-type"] == "application/sdp"
            assert headers["content-base"].endswith("/ds-test/")
            sdp = body.decode()
            assert "m=video 0 RTP/AVP 96" in sdp and "a=rtpmap:96 H264/90000" in sdp
            assert "a=control:stream=0" in sdp
            code, _, _ = client.request("SETUP", "/ds-test/stream=0", Transport="RTP/AVP;multicast")
            assert code == 461
            code, _, _ = client.request(
                "SETUP", "/ds-test/stream=0", Transport="RTP/SAVP;unicast;client_port=1-2"
            )
            assert code == 461
            code, _, _ = client.request("PLAY", "/ds-test")
            assert code == 454, "PLAY without a session"
            code, _, _ = client.request("PLAY", "/ds-test", Session="deadbeef")
            assert code == 454
            code, _, _ = client.request("SETUP", "/ds-test/stream=0", Session="nope", Transport="RTP/AVP/TCP")
            assert code == 454
            code, _, _ = client.request("GET_PARAMETER", "/ds-test")
            assert code == 200, "keep-alive without a session"
            code, headers, _ = client.request(
                "SETUP", "/ds-test/stream=0", Transport="RTP/AVP/TCP;interleaved=4-5"
            )
            assert code == 200 and headers["transport"] == "RTP/AVP/TCP;unicast;interleaved=4-5"
            session = headers["session"].split(";")[0]
            code, _, _ = client.request("GET_PARAMETER", "/ds-test", Session=session)
            assert code == 200
            code, _, _ = client.request("PLAY", "/ds-test", Session=session)
            assert code == 200
            code, _, _ = client.request("RECORD", "/ds-test", Session=session)
            assert code == 405
            code, _, _ = client.request("FROBNICATE", "/ds-test")
            assert code == 501
            code, _, _ = client.request("TEARDOWN", "/ds-test", Session=session)
            assert code == 200
            assert server.session_stats() == []
            client.send_raw(b"OPTIONS * RTSP/2.0\r\nCSeq: 99\r\n\r\n")
            assert client.response()[0] == 505
            client.send_raw(b"OPTIONS * RTSP/1.0\r\n\r\n")
            assert client.response()[0] == 400, "no CSeq"
        finally:
            client.close()


def test_relay_starts_each_viewer_at_a_key_frame_over_tcp_and_udp() -> None:
    with RtspServer(port=0) as server:
        mount = server.add_mount("/fake")
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        tcp, udp = RawClient(server.port), RawClient(server.port)
        rtp_sock, rtcp_sock = udp_pair()
        try:
            code, headers, _ = tcp.request(
                "SETUP", "/fake/stream=0", Transport="RTP/AVP/TCP;unicast;interleaved=0-1"
            )
            assert code == 200
            tcp_session = headers["session"].split(";")[0]
            assert tcp.request("PLAY", "/fake/", Session=tcp_session)[0] == 200
            ports = f"{rtp_sock.getsockname()[1]}-{rtcp_sock.getsockname()[1]}"
            code, headers, _ = udp.request(
                "SETUP", "/fake/stream=0", Transport=f"RTP/AVP;unicast;client_port={ports}"
            )
            assert code == 200 and f"client_port={ports};server_port=" in headers["transport"]
            udp_session = headers["session"].split(";")[0]
            assert udp.request("PLAY", "/fake/", Session=udp_session)[0] == 200
            wait_playing(server, 2)

            for seq in range(1, 6):  # mid-GOP: nobody should get these
                sender.sendto(rtp(seq, SLICE), ("127.0.0.1", mount.rtp_port))
            sender.sendto(rtp(6, KEY), ("127.0.0.1", mount.rtp_port))
            for seq in range(7, 11):
                sender.sendto(rtp(seq, SLICE), ("127.0.0.1", mount.rtp_port))

            got = tcp.interleaved(5)
            assert [(channel, seq_of(p)) for channel, p in got] == [(0, s) for s in range(6, 11)]
            assert got[0][1] == rtp(6, KEY), "relayed byte for byte"
            assert [seq_of(rtp_sock.recv(2048)) for _ in range(5)] == list(range(6, 11))

            sender.sendto(b"\x80\xc8\x00\x06" + bytes(24), ("127.0.0.1", mount.rtcp_port))  # a sender report
            assert tcp.interleaved(6)[5][0] == 1, "RTCP on the second interleaved channel"
            assert rtcp_sock.recv(2048)[:2] == b"\x80\xc8"

            sdp = tcp.request("DESCRIBE", "/fake")[2].decode()
            assert "profile-level-id=42c01e" in sdp
            assert "sprop-parameter-sets=Z0LAHtoCgL/lhA==,aM48gA==" in sdp

            assert udp.request("TEARDOWN", "/fake/", Session=udp_session)[0] == 200
            sender.sendto(rtp(11, SLICE), ("127.0.0.1", mount.rtp_port))
            assert seq_of(tcp.interleaved(7)[6][1]) == 11
            rtp_sock.settimeout(0.5)
            with pytest.raises(TimeoutError):
                rtp_sock.recv(2048)
            assert [s["transport"] for s in server.session_stats()] == ["tcp"]
        finally:
            for s in (sender, rtp_sock, rtcp_sock):
                s.close()
            tcp.close()
            udp.close()


def test_a_viewer_that_stops_reading_is_dropped_not_waited_for() -> None:
    server = RtspServer(port=0)
    mount = server.add_mount("/fake")
    slow = RawClient(server.port, rcvbuf=4096)
    fast = RawClient(server.port)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rtp_sock, rtcp_sock = udp_pair()
    received: list[bytes] = []
    stop = threading.Event()

    def receive() -> None:
        rtp_sock.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                received.append(rtp_sock.recv(2048)[-4:])

    def tcp_dropped() -> int:
        return sum(int(s["dropped"]) for s in server.session_stats() if s["transport"] == "tcp")

    receiver = threading.Thread(target=receive, daemon=True)
    receiver.start()
    try:
        headers = slow.request("SETUP", "/fake/stream=0", Transport="RTP/AVP/TCP;interleaved=0-1")[1]
        assert slow.request("PLAY", "/fake", Session=headers["session"].split(";")[0])[0] == 200
        ports = f"{rtp_sock.getsockname()[1]}-{rtcp_sock.getsockname()[1]}"
        headers = fast.request("SETUP", "/fake/stream=0", Transport=f"RTP/AVP;unicast;client_port={ports}")[1]
        assert fast.request("PLAY", "/fake", Session=headers["session"].split(";")[0])[0] == 200
        wait_playing(server, 2)

        target = ("127.0.0.1", mount.rtp_port)
        started = time.monotonic()
        sender.sendto(rtp(0, KEY), target)
        payload = b"\x41" + bytes(1200)
        # Send until the slow viewer's socket buffers and queue are full and packets are dropped
        # for it (how much that takes depends on the host's TCP buffer sizes), at most ~250 MB.
        for seq in range(1, 200_000):
            sender.sendto(rtp(seq % 65536, payload), target)
            if seq % 100 == 0:
                time.sleep(0.002)  # let the relay keep up with this sender
                if tcp_dropped() > 1000 or time.monotonic() - started > 40:
                    break
        assert tcp_dropped() > 0, server.session_stats()
        time.sleep(0.3)
        for _ in range(5):
            sender.sendto(rtp(1, b"\x41" + bytes(100) + b"END!"), target)
        deadline = time.monotonic() + 5
        while b"END!" not in received and time.monotonic() < deadline:
            time.sleep(0.05)
        assert b"END!" in received, "the fast viewer still gets every new packet"
        stats = {s["transport"]: s for s in server.session_stats()}
        assert stats["udp"]["dropped"] == 0, stats
    finally:
        stop.set()
        receiver.join(5)
        began = time.monotonic()
        server.close()  # with the slow viewer still connected and not reading
        assert time.monotonic() - began < 10
        for s in (sender, rtp_sock, rtcp_sock):
            s.close()
        slow.close()
        fast.close()
    assert rtsp_threads() == []


def test_port_in_use_is_a_harness_error_naming_the_port() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with pytest.raises(HarnessError) as info:
            RtspServer(port=port)
        assert info.value.message == f"RTSP port {port} on 127.0.0.1 is already in use"
        assert info.value.hint is not None and "--rtsp-port" in info.value.hint
    assert ffmpeg_children() == []
    assert rtsp_threads() == []


# --------------------------------------------------------------------------------------------
# the file publisher (an RTSP camera for source tests)


def test_file_publisher_is_a_readable_camera(world_video: Path, world_frames: list[np.ndarray]) -> None:
    publisher = RtspFilePublisher(world_video, port=0, mount="/cam")
    pid = publisher.pid
    try:
        assert publisher.url == f"rtsp://127.0.0.1:{publisher.server.port}/cam"
        assert publisher.running
        capture = open_capture(publisher.url, transport="tcp")
        try:
            assert capture.isOpened()
            frames = read_frames(capture, 10)
        finally:
            capture.release()
        assert len(frames) == 10 and frames[0].shape == (H, W, 3)
        assert closest_difference(frames[-1], world_frames) < SIMILAR
    finally:
        publisher.close()
    assert gone(pid)
    assert ffmpeg_children() == []
    assert rtsp_threads() == []


def test_file_publisher_on_a_shared_server_plays_once(world_video: Path) -> None:
    with RtspServer(port=0) as server:
        publisher = RtspFilePublisher(world_video, mount="/once", loop=False, server=server)
        deadline = time.monotonic() + 15  # the file is 2 s long
        while publisher.running and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not publisher.running, "ffmpeg ends with the file when not looping"
        publisher.close()
        assert server.mount("/once") is None, "its mount is gone, the server stays"
        assert server.url("/x").startswith("rtsp://127.0.0.1:")


def test_file_publisher_errors(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="no such file"):
        RtspFilePublisher(tmp_path / "missing.mp4", port=0)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    with pytest.raises(HarnessError, match="ffmpeg exited with code") as info:
        RtspFilePublisher(broken, port=0)
    assert "broken.mp4" in str(info.value)
    assert ffmpeg_children() == []
    assert rtsp_threads() == []


# --------------------------------------------------------------------------------------------
# failures and clean-up


def test_publisher_ffmpeg_dies_with_a_killed_harness(world_video: Path) -> None:
    script = textwrap.dedent(
        f"""
        import threading
        from fake_device.deepstream.rtsp import RtspFilePublisher
        publisher = RtspFilePublisher({str(world_video)!r}, port=0)
        print(publisher.pid, flush=True)
        threading.Event().wait(60)
        """
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        encoder = int(line)
        assert psutil.pid_exists(encoder)
    finally:
        child.kill()  # no chance to clean up: PR_SET_PDEATHSIG must take ffmpeg down
        child.wait(10)
    assert gone(encoder, timeout=10), "ffmpeg outlived the harness that started it"
