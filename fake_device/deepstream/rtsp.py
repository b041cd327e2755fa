"""RTSP cameras for tests: a small RTSP server (a subset of RFC 2326) fed with RTP/H.264 by ffmpeg.

An app's RTSP *output* runs on GStreamer (GstRtspServer, as in DeepStream); this module stands in
for the other end, an IP camera an ``rtsp://`` source connects to, with the shape of DeepStream's
output (RTP sent to a local UDP port, relayed by the server to whoever is watching):

* :class:`RtspServer` answers OPTIONS, DESCRIBE, SETUP (RTP/AVP over UDP with ``client_port``,
  or RTP/AVP/TCP ``interleaved``), PLAY, PAUSE, TEARDOWN and GET/SET_PARAMETER (keep-alive), and
  relays every RTP/RTCP packet a mount receives to each playing client.
* :class:`RtspFilePublisher` plays a video file into a mount (``ffmpeg -re -stream_loop -1``),
  a stand-in for an IP camera when a test needs an ``rtsp://`` source.

Design choices, and why:

* A viewer must never stall the pipeline: UDP sends are non-blocking and a TCP client has a
  bounded packet queue drained by its own thread; what does not fit is dropped for that client
  only.
* A client that joins mid-stream gets nothing until the next packet carrying SPS (the encoder
  repeats SPS/PPS before every key frame, one per second), so its decoder starts on a key frame;
  SPS/PPS seen in the stream are also put into the SDP (``sprop-parameter-sets``).
* ffmpeg runs in its own process group with ``PR_SET_PDEATHSIG`` (harness/services/base.py), so it
  dies with the harness however the harness dies; every thread polls a stop flag with a short
  timeout and is joined by ``close()``; every socket is closed there.
* Sessions live as long as the RTSP connection that created them: a viewer that disappears
  without TEARDOWN stops being fed when its TCP connection closes.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import errno
import logging
import os
import queue
import secrets
import select
import selectors
import signal
import socket
import subprocess
import tempfile
import threading
import time
import weakref
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Self
from urllib.parse import urlsplit

from harness.errors import HarnessError
from harness.ffmpeg import require_ffmpeg
from harness.services.base import _child_setup, _signal_group

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"


#: the environment variable that moves servers off 127.0.0.1 (set in the device image)
BIND_ADDRESS = "EDGE_HARNESS_BIND_ADDRESS"


def bind_address() -> str:
    """Where servers listen by default: 127.0.0.1, or ``EDGE_HARNESS_BIND_ADDRESS``.

    A simulated device in a container sets it to 0.0.0.0: the container's own network namespace
    is private to the session, and docker publishes the port on the host's 127.0.0.1 only.
    """
    return os.environ.get(BIND_ADDRESS) or LOOPBACK


#: deepstream-app's and the Python samples' RTSP port and mount point.
DEFAULT_PORT = 8554
DEFAULT_MOUNT = "/ds-test"
#: The dynamic payload type DeepStream's rtph264pay and ffmpeg use for H.264.
H264_PAYLOAD_TYPE = 96
#: Announced in the Session header; sessions actually end with their connection.
SESSION_TIMEOUT_S = 60
SERVER_NAME = "edge-harness RTSP"

_POLL_S = 0.2  # how often a blocked loop looks at the stop flag
_MAX_HEADER = 64 * 1024  # a request head larger than this is refused (400) and the connection closed
_MAX_BODY = 64 * 1024
_TCP_QUEUE_PACKETS = 2048  # per interleaved client; ~2.5 MB of 1.2 kB packets, >1 s at 4 Mbit/s
_UDP_BURST = 512  # packets read from one socket per wake-up, so one mount cannot starve others
_SYNC_WAIT_S = 3.0  # a new client is fed ungated if no SPS shows up in this long
_DESCRIBE_WAIT_S = 2.0  # how long DESCRIBE waits for SPS/PPS of a running stream
_JOIN_S = 5.0
_RTP_PACKET_SIZE = 1316  # fits an Ethernet MTU with IP/UDP headers, and a TCP $-frame

_METHODS = ("OPTIONS", "DESCRIBE", "SETUP", "PLAY", "PAUSE", "TEARDOWN", "GET_PARAMETER", "SET_PARAMETER")
_REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    454: "Session Not Found",
    455: "Method Not Valid in This State",
    459: "Aggregate Operation Not Allowed",
    461: "Unsupported Transport",
    500: "Internal Server Error",
    501: "Not Implemented",
    505: "RTSP Version not supported",
}


# --------------------------------------------------------------------------------------------
# ffmpeg children


def ffmpeg_binary() -> str:
    """The ffmpeg binary (imageio-ffmpeg's, else the system's), or an error that says how to get it."""
    return require_ffmpeg("RTSP streaming")


_live_children: weakref.WeakSet[_FfmpegChild] = weakref.WeakSet()
_live_servers: weakref.WeakSet[RtspServer] = weakref.WeakSet()
_live_lock = threading.Lock()


def close_all() -> None:
    """Stop every ffmpeg child and RTSP server still open in this interpreter (runs at exit).

    PR_SET_PDEATHSIG already kills the children when the interpreter dies; this makes a normal
    exit that forgot a ``close()`` orderly as well.
    """
    with _live_lock:
        children, servers = list(_live_children), list(_live_servers)
    for child in children:
        with contextlib.suppress(Exception):
            child.stop(timeout=1.0)
    for server in servers:
        with contextlib.suppress(Exception):
            server.close()


atexit.register(close_all)


class _FfmpegChild:
    """One ffmpeg process in its own process group, killed with it, stderr kept in a temporary file.

    Started from the creating thread with PR_SET_PDEATHSIG: the kernel sends SIGKILL when *that
    thread* ends, so objects owning a child must be created on a long-lived thread (the main
    thread, as the app and the tests do).
    """

    def __init__(self, cmd: list[str], *, what: str, stdin_pipe: bool) -> None:
        self.what = what
        # An unlinked temporary file: nothing is left on disk, however the harness ends.
        self._log = tempfile.TemporaryFile(prefix="edge-harness-ffmpeg-")  # noqa: SIM115 (lives with the child)
        self._stopped = False
        try:
            self.process = subprocess.Popen(
                cmd,
                stdin=subprocess.PIPE if stdin_pipe else subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=self._log,
                bufsize=0,
                start_new_session=True,
                preexec_fn=_child_setup,
            )
        except OSError as err:
            self._log.close()
            raise HarnessError(f"{what}: cannot run {cmd[0]}: {err.strerror}") from err
        with _live_lock:
            _live_children.add(self)
        log.debug("%s: started ffmpeg pid %d: %s", what, self.process.pid, " ".join(cmd))

    @property
    def pid(self) -> int:
        return self.process.pid

    def poll(self) -> int | None:
        return self.process.poll()

    def tail(self, lines: int = 15) -> str:
        """The last lines ffmpeg wrote to stderr (read with pread: ffmpeg shares the offset)."""
        if self._log.closed:
            return ""
        fd = self._log.fileno()
        size = os.fstat(fd).st_size
        start = max(0, size - 64 * 1024)
        text = os.pread(fd, size - start, start).decode("utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def failure(self, what_happened: str) -> HarnessError:
        """An error naming the child's exit and the end of its log."""
        tail = self.tail()
        message = f"{self.what}: ffmpeg {what_happened}"
        if tail:
            message += ":\n" + "\n".join("  | " + line for line in tail.splitlines())
        return HarnessError(message, hint="the lines above are ffmpeg's own messages")

    def kill(self) -> None:
        _signal_group(self.process.pid, signal.SIGKILL)

    def stop(self, timeout: float = 5.0) -> int | None:
        """Wait up to ``timeout`` s for the child to exit (stdin closed by the caller), then
        SIGTERM and SIGKILL its group; return its exit code. Safe to call twice."""
        proc = self.process
        if not self._stopped:
            self._stopped = True
            if proc.stdin is not None:
                with contextlib.suppress(OSError):
                    proc.stdin.close()
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _signal_group(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=2.0)
                except subprocess.TimeoutExpired:
                    _signal_group(proc.pid, signal.SIGKILL)
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        proc.wait(timeout=5.0)
            _signal_group(proc.pid, signal.SIGKILL)  # anything it left in its group
            with _live_lock:
                _live_children.discard(self)
        return proc.returncode

    def cleanup(self) -> None:
        """Release the log (call after :meth:`stop` and after any :meth:`failure` message)."""
        self._log.close()


def _rtp_url(mount: Mount) -> str:
    """Where ffmpeg sends RTP/RTCP: the mount's loopback ports. ``localaddr`` binds ffmpeg's own
    RTP and RTCP sockets to loopback too; without it ffmpeg binds them to 0.0.0.0, open to the
    network (the mount only listens on loopback, so nothing else needs to reach them)."""
    return (
        f"rtp://{LOOPBACK}:{mount.rtp_port}?rtcpport={mount.rtcp_port}&localaddr={LOOPBACK}"
        f"&pkt_size={_RTP_PACKET_SIZE}"
    )


def _x264_args(*, keyframe_every_s: float | None, gop: int | None, bitrate_kbps: int) -> list[str]:
    """libx264 for live viewing: no B-frames, low latency, SPS/PPS before every key frame (so a
    viewer that joins late can start decoding), 4:2:0 so every decoder can play it."""
    args = [
        "-an", "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-pix_fmt", "yuv420p",
        "-bf", "0", "-x264-params", "repeat-headers=1",
        "-b:v", f"{bitrate_kbps}k", "-maxrate", f"{bitrate_kbps}k", "-bufsize", f"{bitrate_kbps}k",
    ]  # fmt: skip
    if gop is not None:
        args += ["-g", str(gop), "-keyint_min", str(gop)]
    if keyframe_every_s is not None:
        args += ["-force_key_frames", f"expr:gte(t,n_forced*{keyframe_every_s:g})"]
    return args


# --------------------------------------------------------------------------------------------
# H.264 over RTP: just enough parsing to find parameter sets and key frames


def _rtp_payload(packet: bytes) -> memoryview | None:
    """The payload of an RTP packet (RFC 3550 §5.1), or None if it is not one."""
    if len(packet) < 12 or packet[0] >> 6 != 2:
        return None
    offset = 12 + 4 * (packet[0] & 0x0F)
    end = len(packet)
    if packet[0] & 0x10:  # header extension
        if end < offset + 4:
            return None
        offset += 4 + 4 * int.from_bytes(packet[offset + 2 : offset + 4], "big")
    if packet[0] & 0x20 and end > offset:  # padding: the last byte says how much
        end -= packet[end - 1]
    if offset >= end:
        return None
    return memoryview(packet)[offset:end]


def _nal_units(payload: memoryview) -> list[memoryview]:
    """Whole NAL units in a payload: a single NAL unit, or the ones aggregated in a STAP-A."""
    kind = payload[0] & 0x1F
    if kind == 24:  # STAP-A (RFC 6184 §5.7.1)
        units = []
        offset = 1
        while offset + 2 <= len(payload):
            size = int.from_bytes(payload[offset : offset + 2], "big")
            if size == 0 or offset + 2 + size > len(payload):
                break
            units.append(payload[offset + 2 : offset + 2 + size])
            offset += 2 + size
        return units
    if 1 <= kind <= 23:
        return [payload]
    return []


def _starts_idr(payload: memoryview) -> bool:
    """True for a packet that starts an IDR slice (single NAL unit or first FU-A fragment)."""
    kind = payload[0] & 0x1F
    if kind == 5:
        return True
    return kind == 28 and len(payload) > 1 and bool(payload[1] & 0x80) and payload[1] & 0x1F == 5


# --------------------------------------------------------------------------------------------
# Mounts and sessions


def _normalise_path(path: str) -> str:
    path = "/" + path.strip().strip("/")
    if path == "/" or any(ch.isspace() for ch in path):
        raise HarnessError(f"invalid RTSP mount point {path!r}", hint="use a path such as /ds-test")
    return path


def _bind_udp_pair(host: str) -> tuple[socket.socket, socket.socket]:
    """Two UDP sockets on ``host``, on an even port and the next one when possible (RTP/RTCP).

    RTP convention wants the pair; if no free pair is found quickly any two ports do, since the
    server announces both explicitly.
    """
    for _ in range(20):
        first = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        first.bind((host, 0))
        port = first.getsockname()[1]
        if port % 2 == 0 and port < 65535:
            second = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                second.bind((host, port + 1))
                return first, second
            except OSError:
                second.close()
        first.close()
    first = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    second = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    first.bind((host, 0))
    second.bind((host, 0))
    return first, second


class Mount:
    """One stream of the server (``rtsp://host:port<path>``) and the UDP sockets that feed it.

    Whatever sends RTP to :attr:`rtp_port` (and RTCP to :attr:`rtcp_port`) on 127.0.0.1 is
    relayed to the mount's playing clients. Only single-stream (one ``m=`` section) mounts are
    supported.
    """

    def __init__(
        self,
        path: str,
        sdp_text: str | None,
        rtp_socket: socket.socket,
        rtcp_socket: socket.socket,
    ) -> None:
        self.path = path
        self.rtp_socket = rtp_socket
        self.rtcp_socket = rtcp_socket
        self.control = "stream=0"
        self._sdp_text = sdp_text
        if sdp_text is not None:
            media = sdp_text.split("m=", 1)[1] if "m=" in sdp_text else ""
            for line in media.splitlines():
                if line.startswith("a=control:"):
                    self.control = line.removeprefix("a=control:").strip()
        self.h264 = sdp_text is None or "H264/" in sdp_text.upper()
        self.sps: bytes | None = None
        self.pps: bytes | None = None
        self.parameters_seen = threading.Event()
        self.inband_sps = False
        self.packets_in = 0
        self.rtcp_in = 0
        self.first_packet = threading.Event()
        self.playing: tuple[_Session, ...] = ()  # replaced, never mutated: the relay reads it unlocked

    @property
    def rtp_port(self) -> int:
        return self.rtp_socket.getsockname()[1]

    @property
    def rtcp_port(self) -> int:
        return self.rtcp_socket.getsockname()[1]

    @property
    def clients(self) -> int:
        """How many sessions are playing this mount now."""
        return len(self.playing)

    def sdp(self, host: str) -> str:
        """The SDP for DESCRIBE: the one given to add_mount (with an a=control added when it has
        none), or an H.264 one with the SPS/PPS seen in the stream."""
        if self._sdp_text is not None:
            lines = self._sdp_text.strip().splitlines()
            if not any(line.startswith("a=control:") for line in lines):
                index = next((i for i, line in enumerate(lines) if line.startswith("m=")), len(lines) - 1)
                lines.insert(index + 1, f"a=control:{self.control}")
            return "\r\n".join(lines) + "\r\n"
        fmtp = "packetization-mode=1"
        if self.sps is not None and self.pps is not None and len(self.sps) >= 4:
            sprop = ",".join(base64.b64encode(p).decode() for p in (self.sps, self.pps))
            fmtp += f";profile-level-id={self.sps[1:4].hex()};sprop-parameter-sets={sprop}"
        lines = [
            "v=0",
            f"o=- {id(self) & 0xFFFFFFFF} 1 IN IP4 {host}",
            f"s={SERVER_NAME} {self.path}",
            "c=IN IP4 0.0.0.0",
            "t=0 0",
            "a=tool:edge-harness",
            "a=type:broadcast",
            "a=control:*",
            "a=range:npt=now-",
            f"m=video 0 RTP/AVP {H264_PAYLOAD_TYPE}",
            f"a=rtpmap:{H264_PAYLOAD_TYPE} H264/90000",
            f"a=fmtp:{H264_PAYLOAD_TYPE} {fmtp}",
            f"a=control:{self.control}",
        ]
        return "\r\n".join(lines) + "\r\n"

    def inspect(self, payload: memoryview) -> bool:
        """Learn SPS/PPS from a packet; True when a new viewer may start with it (a key frame)."""
        sync = False
        kind = payload[0] & 0x1F
        if kind in (7, 8, 24):
            for unit in _nal_units(payload):
                unit_kind = unit[0] & 0x1F
                if unit_kind == 7:
                    self.sps = bytes(unit)
                    self.inband_sps = True
                    sync = True
                elif unit_kind == 8:
                    self.pps = bytes(unit)
            if self.sps is not None and self.pps is not None:
                self.parameters_seen.set()
        # Without in-band SPS (a source that sends them only out of band), start at an IDR.
        return sync or (not self.inband_sps and _starts_idr(payload))


@dataclass(eq=False)
class _Session:
    """One SETUP: where and how a client receives a mount's packets."""

    id: str
    mount: Mount
    connection: _Connection
    transport: str  # "udp" | "tcp"
    setup_url: str
    client_rtp: tuple[str, int] | None = None
    client_rtcp: tuple[str, int] | None = None
    channels: tuple[int, int] = (0, 1)
    synced: bool = False
    play_started: float = 0.0
    sent: int = 0
    dropped: int = 0


@dataclass
class _Request:
    method: str
    url: str
    version: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @property
    def cseq(self) -> str | None:
        return self.headers.get("cseq")


@dataclass
class _Response:
    code: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    close: bool = False


# --------------------------------------------------------------------------------------------
# Connections


class _Connection:
    """One RTSP client connection: a reader thread for requests and a writer thread that sends
    interleaved packets from a bounded queue (so a slow reader never blocks the relay)."""

    def __init__(self, server: RtspServer, sock: socket.socket, address: tuple[str, int]) -> None:
        self.server = server
        self.sock = sock
        self.address = address
        self.send_lock = threading.Lock()
        self.outbox: queue.Queue[bytes] = queue.Queue(maxsize=_TCP_QUEUE_PACKETS)
        self.closed = threading.Event()
        self.sessions: dict[str, _Session] = {}
        self.reader = threading.Thread(target=self._read_loop, name=f"rtsp-conn-{address[1]}", daemon=True)
        self.writer = threading.Thread(
            target=self._write_loop, name=f"rtsp-conn-{address[1]}-tx", daemon=True
        )

    def start(self) -> None:
        self.reader.start()
        self.writer.start()

    def enqueue(self, frame: bytes) -> bool:
        """Queue an interleaved frame; False (dropped) when the client is behind or gone."""
        if self.closed.is_set():
            return False
        try:
            self.outbox.put_nowait(frame)
            return True
        except queue.Full:
            return False

    def send(self, data: bytes) -> None:
        with self.send_lock:
            self.sock.sendall(data)

    def shutdown(self) -> None:
        """Unblock both threads: a blocked send fails, a waiting select sees end of file."""
        self.closed.set()
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)

    def join(self, timeout: float) -> None:
        for thread in (self.reader, self.writer):
            if thread.is_alive() and thread is not threading.current_thread():
                thread.join(timeout)

    def _write_loop(self) -> None:
        while not self.closed.is_set():
            try:
                frame = self.outbox.get(timeout=_POLL_S)
            except queue.Empty:
                continue
            try:
                self.send(frame)
            except OSError:
                self.shutdown()
                return

    def _read_loop(self) -> None:
        buffer = bytearray()
        try:
            while not self.closed.is_set() and not self.server.stopping:
                try:
                    readable, _, _ = select.select([self.sock], [], [], _POLL_S)
                except (OSError, ValueError):
                    break
                if not readable:
                    continue
                try:
                    data = self.sock.recv(65536)
                except OSError:
                    break
                if not data:
                    break
                buffer += data
                if not self._consume(buffer):
                    break
        finally:
            self.server._connection_closed(self)
            self.shutdown()
            with contextlib.suppress(OSError):
                self.sock.close()

    def _consume(self, buffer: bytearray) -> bool:
        """Handle every complete message in ``buffer``; False to close the connection."""
        while buffer:
            if buffer[0] in b"\r\n":
                del buffer[0]
                continue
            if buffer[0] == 0x24:  # '$': an interleaved packet from the client (RTCP reports)
                if len(buffer) < 4:
                    return True
                size = int.from_bytes(buffer[2:4], "big")
                if len(buffer) < 4 + size:
                    return True
                del buffer[: 4 + size]
                continue
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(buffer) > _MAX_HEADER:
                    self._respond(None, _Response(400, close=True))
                    return False
                return True
            head = bytes(buffer[:end]).decode("utf-8", errors="replace")
            request = _parse_request(head)
            length = 0
            if request is not None:
                try:
                    length = int(request.headers.get("content-length", "0"))
                except ValueError:
                    length = -1
            if request is None or length < 0 or length > _MAX_BODY:
                del buffer[: end + 4]
                self._respond(None, _Response(400, close=True))
                return False
            if len(buffer) < end + 4 + length:
                return True
            request.body = bytes(buffer[end + 4 : end + 4 + length])
            del buffer[: end + 4 + length]
            try:
                response = self.server._handle(self, request)
            except Exception:
                log.exception("rtsp: error handling %s %s", request.method, request.url)
                response = _Response(500)
            if not self._respond(request, response) or response.close:
                return False
        return True

    def _respond(self, request: _Request | None, response: _Response) -> bool:
        lines = [f"RTSP/1.0 {response.code} {_REASONS.get(response.code, 'Error')}"]
        if request is not None and request.cseq is not None:
            lines.append(f"CSeq: {request.cseq}")
        lines.append(f"Server: {SERVER_NAME}")
        for key, value in response.headers.items():
            lines.append(f"{key}: {value}")
        if response.body:
            lines.append(f"Content-Length: {len(response.body)}")
        data = ("\r\n".join(lines) + "\r\n\r\n").encode() + response.body
        try:
            self.send(data)
            return True
        except OSError:
            return False


def _parse_request(head: str) -> _Request | None:
    lines = head.split("\r\n")
    parts = lines[0].split()
    if len(parts) != 3:
        return None
    request = _Request(method=parts[0].upper(), url=parts[1], version=parts[2])
    for line in lines[1:]:
        if ":" not in line:
            continue
        key, value = line.split(":", 1)
        request.headers[key.strip().lower()] = value.strip()
    return request


def _parse_transport(header: str) -> tuple[str, dict[str, str]] | None:
    """The first transport spec of a Transport header this server can serve: ("udp"|"tcp", params).

    RTP/AVP and RTP/AVP/UDP mean UDP unicast, RTP/AVP/TCP means interleaved; multicast and other
    profiles are not served.
    """
    for spec in header.split(","):
        items = [item.strip() for item in spec.split(";") if item.strip()]
        if not items:
            continue
        profile = items[0].upper()
        params: dict[str, str] = {}
        for item in items[1:]:
            key, _, value = item.partition("=")
            params[key.strip().lower()] = value.strip()
        if "multicast" in params:
            continue
        if profile in ("RTP/AVP", "RTP/AVP/UDP") and "client_port" in params:
            return "udp", params
        if profile == "RTP/AVP/TCP":
            return "tcp", params
    return None


def _port_range(value: str) -> tuple[int, int] | None:
    first, _, second = value.partition("-")
    try:
        a = int(first)
        b = int(second) if second else a + 1
    except ValueError:
        return None
    if not (0 <= a <= 65535 and 0 <= b <= 65535):
        return None
    return a, b


# --------------------------------------------------------------------------------------------
# The server


class RtspServer:
    """An RTSP server on ``host:port`` (:func:`bind_address` by default) serving the mounts added to it.

    Threads: one accepts connections, one relays UDP packets from the mounts to the clients, and
    each connection has a reader and a writer. :meth:`close` stops and joins them all and closes
    every socket, the mounts' included. ``port=0`` picks a free port (see :attr:`port`).
    """

    def __init__(
        self, host: str | None = None, port: int = DEFAULT_PORT, *, name: str = "rtsp-server"
    ) -> None:
        host = host or bind_address()
        self.host = host
        self.name = name
        self.stopping = False
        self.setups: Counter[str] = Counter()  # SETUPs served per transport ("udp", "tcp")
        self._lock = threading.Lock()
        self._mounts: dict[str, Mount] = {}
        self._mounts_changed = threading.Event()
        self._sessions: dict[str, _Session] = {}
        self._connections: set[_Connection] = set()
        self._closed = False
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind((host, port))
            listener.listen(16)
        except OSError as err:
            listener.close()
            if err.errno == errno.EADDRINUSE:
                raise HarnessError(
                    f"RTSP port {port} on {host} is already in use",
                    hint=f"stop what listens there (ss -ltnp 'sport = :{port}') or choose another port "
                    "(--rtsp-port; 0 picks a free one)",
                ) from err
            raise HarnessError(f"cannot listen for RTSP on {host}:{port}: {err.strerror}") from err
        self._listener = listener
        self.port: int = listener.getsockname()[1]
        try:
            self._udp_rtp, self._udp_rtcp = _bind_udp_pair(host)
        except OSError as err:
            listener.close()
            raise HarnessError(f"cannot open UDP ports for RTSP on {host}: {err.strerror}") from err
        for sock in (self._udp_rtp, self._udp_rtcp):
            sock.setblocking(False)
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        self._accept_thread = threading.Thread(target=self._accept_loop, name=f"{name}-accept", daemon=True)
        self._relay_thread = threading.Thread(target=self._relay_loop, name=f"{name}-relay", daemon=True)
        self._accept_thread.start()
        self._relay_thread.start()
        with _live_lock:
            _live_servers.add(self)
        log.info("rtsp: serving on rtsp://%s:%d", self._url_host, self.port)

    # -- public ---------------------------------------------------------------------------------
    @property
    def _url_host(self) -> str:
        return LOOPBACK if self.host in ("", "0.0.0.0") else self.host

    def url(self, path: str = DEFAULT_MOUNT) -> str:
        """The rtsp:// URL of a mount point."""
        return f"rtsp://{self._url_host}:{self.port}{_normalise_path(path)}"

    def add_mount(
        self,
        path: str,
        sdp_text: str | None = None,
        rtp_socket: socket.socket | None = None,
        rtcp_socket: socket.socket | None = None,
    ) -> Mount:
        """Serve ``path``; RTP sent to the returned mount's ``rtp_port`` reaches its viewers.

        Without ``sdp_text`` the mount is H.264 (payload type 96) and its SDP is built from the
        stream. Given sockets must be bound UDP sockets; the server owns (and closes) them.
        """
        path = _normalise_path(path)
        if rtp_socket is None or rtcp_socket is None:
            if rtp_socket is not None or rtcp_socket is not None:
                raise ValueError("give both rtp_socket and rtcp_socket, or neither")
            rtp_socket, rtcp_socket = _bind_udp_pair(LOOPBACK)
        for sock in (rtp_socket, rtcp_socket):
            sock.setblocking(False)
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        mount = Mount(path, sdp_text, rtp_socket, rtcp_socket)
        with self._lock:
            if self._closed:
                rtp_socket.close()
                rtcp_socket.close()
                raise HarnessError(f"{self.name} is closed")
            if path in self._mounts:
                rtp_socket.close()
                rtcp_socket.close()
                raise HarnessError(f"RTSP mount point {path} is already served by {self.url(path)}")
            self._mounts[path] = mount
        self._mounts_changed.set()
        return mount

    def remove_mount(self, path: str) -> None:
        """Stop serving ``path``: its sessions end and its sockets are closed."""
        path = _normalise_path(path)
        with self._lock:
            mount = self._mounts.pop(path, None)
            if mount is None:
                return
            for session_id in [s.id for s in self._sessions.values() if s.mount is mount]:
                self._drop_session(session_id)
        self._mounts_changed.set()
        # The relay thread re-registers its selector within one poll; close after it has.
        deadline = time.monotonic() + 2 * _POLL_S + 1.0
        while self._mounts_changed.is_set() and self._relay_thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        mount.rtp_socket.close()
        mount.rtcp_socket.close()

    def mount(self, path: str) -> Mount | None:
        with self._lock:
            return self._mounts.get(_normalise_path(path))

    def session_stats(self) -> list[dict[str, object]]:
        """One entry per session: mount, transport, playing, packets sent and dropped."""
        with self._lock:
            sessions = list(self._sessions.values())
        return [
            {
                "session": s.id,
                "mount": s.mount.path,
                "transport": s.transport,
                "client": s.connection.address,
                "playing": s in s.mount.playing,
                "sent": s.sent,
                "dropped": s.dropped,
            }
            for s in sessions
        ]

    def close(self) -> None:
        """Stop serving: end every connection and thread, close every socket. Safe to call twice."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self.stopping = True
            connections = list(self._connections)
        for connection in connections:
            connection.shutdown()
        for thread in (self._accept_thread, self._relay_thread):
            thread.join(_JOIN_S)
        for connection in connections:
            connection.join(_JOIN_S)
        with self._lock:
            mounts = list(self._mounts.values())
            self._mounts.clear()
            self._sessions.clear()
        for sock in [self._listener, self._udp_rtp, self._udp_rtcp]:
            with contextlib.suppress(OSError):
                sock.close()
        for mount in mounts:
            mount.rtp_socket.close()
            mount.rtcp_socket.close()
        alive = [t.name for t in (self._accept_thread, self._relay_thread) if t.is_alive()]
        alive += [t.name for c in connections for t in (c.reader, c.writer) if t.is_alive()]
        if alive:
            log.warning("rtsp: threads still running after close: %s", ", ".join(alive))
        with _live_lock:
            _live_servers.discard(self)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"rtsp://{self._url_host}:{self.port}"
        return f"<RtspServer {state} mounts={sorted(self._mounts)}>"

    # -- threads --------------------------------------------------------------------------------
    def _accept_loop(self) -> None:
        while not self.stopping:
            try:
                readable, _, _ = select.select([self._listener], [], [], _POLL_S)
            except (OSError, ValueError):
                return
            if not readable:
                continue
            try:
                sock, address = self._listener.accept()
            except OSError:
                continue
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            connection = _Connection(self, sock, address)
            with self._lock:
                if self.stopping:
                    sock.close()
                    return
                self._connections.add(connection)
            connection.start()

    def _relay_loop(self) -> None:
        selector = selectors.DefaultSelector()
        registered: set[socket.socket] = set()
        try:
            for sock in (self._udp_rtp, self._udp_rtcp):  # clients' RTCP reports: read and dropped
                selector.register(sock, selectors.EVENT_READ, (None, False))
                registered.add(sock)
            while not self.stopping:
                if self._mounts_changed.is_set():
                    with self._lock:
                        wanted = {
                            sock: (mount, sock is mount.rtcp_socket)
                            for mount in self._mounts.values()
                            for sock in (mount.rtp_socket, mount.rtcp_socket)
                        }
                        self._mounts_changed.clear()
                    for sock in list(registered):
                        if sock not in wanted and sock not in (self._udp_rtp, self._udp_rtcp):
                            selector.unregister(sock)
                            registered.discard(sock)
                    for sock, data in wanted.items():
                        if sock not in registered:
                            selector.register(sock, selectors.EVENT_READ, data)
                            registered.add(sock)
                for key, _ in selector.select(_POLL_S):
                    mount, rtcp = key.data
                    sock = key.fileobj
                    assert isinstance(sock, socket.socket)
                    for _ in range(_UDP_BURST):
                        try:
                            packet = sock.recv(65536)
                        except (BlockingIOError, InterruptedError):
                            break
                        except OSError:
                            break
                        if mount is not None:
                            self._forward(mount, packet, rtcp)
        except Exception:
            log.exception("rtsp: relay thread failed")
        finally:
            selector.close()

    def _forward(self, mount: Mount, packet: bytes, rtcp: bool) -> None:
        """Send one packet to every playing client of ``mount``; drop it for those that are full."""
        sync = False
        if rtcp:
            mount.rtcp_in += 1
        else:
            mount.packets_in += 1
            if not mount.first_packet.is_set():
                mount.first_packet.set()
            if mount.h264:
                payload = _rtp_payload(packet)
                sync = payload is not None and len(payload) > 0 and mount.inspect(payload)
        sessions = mount.playing
        if not sessions:
            return
        now = time.monotonic()
        for session in sessions:
            if not rtcp and not session.synced:
                if sync or not mount.h264 or now - session.play_started > _SYNC_WAIT_S:
                    session.synced = True
                else:
                    continue
            if session.transport == "udp":
                target = session.client_rtcp if rtcp else session.client_rtp
                sock = self._udp_rtcp if rtcp else self._udp_rtp
                try:
                    sock.sendto(packet, target)
                    session.sent += 1
                except OSError:  # full buffer (EAGAIN) or an ICMP error from a gone client
                    session.dropped += 1
            else:
                channel = session.channels[1 if rtcp else 0]
                frame = bytes((0x24, channel)) + len(packet).to_bytes(2, "big") + packet
                if session.connection.enqueue(frame):
                    session.sent += 1
                else:
                    session.dropped += 1

    # -- requests -------------------------------------------------------------------------------
    def _find(self, url: str) -> tuple[Mount | None, bool]:
        """The mount a request URL names, and whether it named the mount's track (control URL)."""
        path = urlsplit(url).path.rstrip("/") or "/"
        with self._lock:
            mount = self._mounts.get(path)
            if mount is not None:
                return mount, False
            base, _, last = path.rpartition("/")
            mount = self._mounts.get(base)
        if mount is not None and last == mount.control:
            return mount, True
        return None, False

    def _handle(self, connection: _Connection, request: _Request) -> _Response:
        if request.cseq is None:
            return _Response(400)
        if request.version != "RTSP/1.0":
            return _Response(505)
        method = request.method
        if method == "OPTIONS":
            return _Response(200, {"Public": ", ".join(_METHODS)})
        if method == "DESCRIBE":
            return self._describe(request)
        if method == "SETUP":
            return self._setup(connection, request)
        if method in ("PLAY", "PAUSE", "TEARDOWN", "GET_PARAMETER", "SET_PARAMETER"):
            return self._session_request(connection, request)
        if method in ("ANNOUNCE", "RECORD", "REDIRECT"):
            return _Response(405, {"Allow": ", ".join(_METHODS)})
        return _Response(501)

    def _describe(self, request: _Request) -> _Response:
        mount, _ = self._find(request.url)
        if mount is None:
            return _Response(404)
        if mount.h264 and mount.first_packet.is_set() and not mount.parameters_seen.is_set():
            mount.parameters_seen.wait(_DESCRIBE_WAIT_S)  # a key frame comes at least once a second
        base = request.url.rstrip("/") + "/"
        return _Response(
            200,
            {"Content-Base": base, "Content-Type": "application/sdp"},
            mount.sdp(self._url_host).encode(),
        )

    def _setup(self, connection: _Connection, request: _Request) -> _Response:
        mount, _ = self._find(request.url)
        if mount is None:
            return _Response(404)
        parsed = _parse_transport(request.headers.get("transport", ""))
        if parsed is None:
            return _Response(461)
        kind, params = parsed
        session_id = request.headers.get("session", "").split(";")[0].strip()
        with self._lock:
            existing = self._sessions.get(session_id) if session_id else None
            if session_id and existing is None:
                return _Response(454)
            if existing is not None and existing.mount is not mount:
                return _Response(459)
            if existing is not None and existing.connection is not connection and kind == "tcp":
                return _Response(455)
        host = connection.address[0]
        session = _Session(
            id=session_id or secrets.token_hex(8),
            mount=mount,
            connection=connection,
            transport=kind,
            setup_url=request.url,
        )
        if kind == "udp":
            ports = _port_range(params["client_port"])
            if ports is None:
                return _Response(461)
            session.client_rtp, session.client_rtcp = (host, ports[0]), (host, ports[1])
            server_rtp = self._udp_rtp.getsockname()[1]
            server_rtcp = self._udp_rtcp.getsockname()[1]
            transport = (
                f"RTP/AVP;unicast;client_port={ports[0]}-{ports[1]};server_port={server_rtp}-{server_rtcp}"
            )
        else:
            channels = _port_range(params.get("interleaved", "0-1"))
            if channels is None or channels[0] > 255 or channels[1] > 255:
                return _Response(461)
            session.channels = channels
            transport = f"RTP/AVP/TCP;unicast;interleaved={channels[0]}-{channels[1]}"
        with self._lock:
            if existing is not None:
                self._drop_session(existing.id)
            self._sessions[session.id] = session
            connection.sessions[session.id] = session
            self.setups[kind] += 1
        log.debug("rtsp: %s SETUP %s over %s", connection.address, mount.path, kind)
        return _Response(
            200, {"Transport": transport, "Session": f"{session.id};timeout={SESSION_TIMEOUT_S}"}
        )

    def _session_request(self, connection: _Connection, request: _Request) -> _Response:
        session_id = request.headers.get("session", "").split(";")[0].strip()
        with self._lock:
            session = self._sessions.get(session_id) if session_id else None
        if session is None:
            if request.method in ("GET_PARAMETER", "SET_PARAMETER") and not session_id:
                return _Response(200)  # a keep-alive outside a session
            return _Response(454)
        session_header = {"Session": f"{session.id};timeout={SESSION_TIMEOUT_S}"}
        if request.method == "PLAY":
            with self._lock:
                mount = session.mount
                if mount.path not in self._mounts:
                    return _Response(404)
                if session not in mount.playing:
                    session.synced = False
                    session.play_started = time.monotonic()
                    mount.playing = (*mount.playing, session)
            return _Response(200, {**session_header, "Range": "npt=now-"})
        if request.method == "PAUSE":
            with self._lock:
                session.mount.playing = tuple(s for s in session.mount.playing if s is not session)
            return _Response(200, session_header)
        if request.method == "TEARDOWN":
            with self._lock:
                self._drop_session(session.id)
            return _Response(200)
        return _Response(200, session_header)  # GET_PARAMETER / SET_PARAMETER: keep-alive

    def _drop_session(self, session_id: str) -> None:
        """Forget a session (caller holds the lock)."""
        session = self._sessions.pop(session_id, None)
        if session is None:
            return
        session.connection.sessions.pop(session_id, None)
        mount = session.mount
        mount.playing = tuple(s for s in mount.playing if s is not session)
        if session.dropped:
            log.info(
                "rtsp: %s on %s: %d packets dropped for a slow client (%d sent)",
                session.transport,
                mount.path,
                session.dropped,
                session.sent,
            )

    def _connection_closed(self, connection: _Connection) -> None:
        with self._lock:
            for session_id in list(connection.sessions):
                self._drop_session(session_id)
            self._connections.discard(connection)


# --------------------------------------------------------------------------------------------
# Feeding a mount


class RtspFilePublisher:
    """Play a video file as an RTSP stream (an IP camera for tests of ``rtsp://`` sources).

    ``ffmpeg -re [-stream_loop -1] -i FILE`` re-encodes to H.264 (a key frame with SPS/PPS each
    second, so late viewers start quickly) and sends RTP into a mount of ``server`` (a new
    :class:`RtspServer` on ``host:port`` when none is given; ``port=0`` picks a free one). The
    constructor returns once the first packet arrived; :attr:`url` is the stream's address.
    """

    def __init__(
        self,
        video_path: str | Path,
        port: int = DEFAULT_PORT,
        mount: str = "/test",
        loop: bool = True,
        *,
        host: str = LOOPBACK,
        server: RtspServer | None = None,
        bitrate_kbps: int = 4000,
        ready_timeout: float = 15.0,
    ) -> None:
        self.video_path = Path(video_path)
        if not self.video_path.is_file():
            raise HarnessError(
                f"cannot publish {self.video_path} over RTSP: no such file",
                hint="generate a video first (edge-harness world generate)",
            )
        ffmpeg = ffmpeg_binary()
        self._own_server = server is None
        self.server = server if server is not None else RtspServer(host, port)
        self._closed = False
        self._child: _FfmpegChild | None = None
        self.mount: Mount | None = None
        try:
            self.mount = self.server.add_mount(mount)
            self.url = self.server.url(mount)
            cmd = [
                ffmpeg, "-hide_banner", "-loglevel", "error", "-nostats", "-nostdin", "-re",
                *(["-stream_loop", "-1"] if loop else []),
                "-i", str(self.video_path),
                *_x264_args(keyframe_every_s=1.0, gop=None, bitrate_kbps=bitrate_kbps),
                "-f", "rtp", "-payload_type", str(H264_PAYLOAD_TYPE), _rtp_url(self.mount),
            ]  # fmt: skip
            self._child = _FfmpegChild(
                cmd, what=f"RTSP publisher of {self.video_path.name}", stdin_pipe=False
            )
            deadline = time.monotonic() + ready_timeout
            while not self.mount.first_packet.wait(0.1):  # bounded by the deadline below
                if self._child.poll() is not None:
                    raise self._child.failure(f"exited with code {self._child.poll()} before streaming")
                if time.monotonic() > deadline:
                    raise self._child.failure(f"sent nothing in {ready_timeout:g} s")
        except BaseException:
            self.close()
            raise

    @property
    def pid(self) -> int | None:
        return self._child.pid if self._child is not None else None

    @property
    def running(self) -> bool:
        """True while ffmpeg is streaming (False after the end of a file played once)."""
        return self._child is not None and self._child.poll() is None

    def close(self) -> None:
        """Stop ffmpeg and take the mount down (and the server, if this created it)."""
        if self._closed:
            return
        self._closed = True
        if self._child is not None:
            self._child.stop(timeout=0.5)
            self._child.cleanup()
        if self._own_server:
            self.server.close()
        elif self.mount is not None:
            with contextlib.suppress(Exception):
                self.server.remove_mount(self.mount.path)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
