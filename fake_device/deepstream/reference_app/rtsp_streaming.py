"""The RTSP server of a type-4 sink: deepstream-app's start_rtsp_streaming (deepstream_sink_bin.c).

The sink's encoder sends RTP to ``127.0.0.1:udp-port``; a GstRtspServer on ``rtsp-port`` serves the
shared media ``( udpsrc name=pay0 port=<udp-port> … caps="application/x-rtp, …" )`` at
``/ds-test``, so every viewer gets the packets the encoder sends. The server runs on GLib's default
main context, which the app's main loop runs.

One difference, on purpose: the server listens on 127.0.0.1 (deepstream-app: every interface) unless
``EDGE_HARNESS_BIND_ADDRESS`` names another address — a simulated device's ports are the CI
machine's, and a device container sets 0.0.0.0 itself. The udpsrc listens on 127.0.0.1 too, where
the encoder sends.
"""

from __future__ import annotations

import logging

import gi

gi.require_version("GstRtspServer", "1.0")

from gi.repository import GLib, GstRtspServer  # noqa: E402

from fake_device.deepstream.reference_app.building import BuildError  # noqa: E402
from fake_device.deepstream.rtsp import bind_address  # noqa: E402

log = logging.getLogger(__name__)

MOUNT = "/ds-test"
DEFAULT_UDP_BUFFER_SIZE = 512 * 1024
_ENCODING = {1: "H264", 2: "H265"}


class RtspStreaming:
    """One GstRtspServer for one type-4 sink (:meth:`start`, :meth:`close`)."""

    def __init__(self, rtsp_port: int, udp_port: int, codec: int, udp_buffer_size: int = 0) -> None:
        if codec not in _ENCODING:
            raise BuildError(
                f"start_rtsp_streaming: codec={codec} cannot be streamed",
                hint="RTSP output is H.264 (codec=1) or H.265 (codec=2)",
            )
        self.rtsp_port = rtsp_port
        self.udp_port = udp_port
        self.encoding = _ENCODING[codec]
        self.udp_buffer_size = udp_buffer_size or DEFAULT_UDP_BUFFER_SIZE
        self.address = bind_address()
        self.server: GstRtspServer.RTSPServer | None = None
        self._source_id = 0

    @property
    def launch(self) -> str:
        """The media factory's pipeline (start_rtsp_streaming's ``udpsrc_pipeline``)."""
        return (
            f"( udpsrc name=pay0 address=127.0.0.1 port={self.udp_port} buffer-size={self.udp_buffer_size} "
            f'caps="application/x-rtp, media=video, clock-rate=90000, encoding-name={self.encoding}, '
            'payload=96 " )'
        )

    @property
    def port(self) -> int:
        """The port the server listens on (the bound one when ``rtsp-port`` was 0)."""
        if self.server is not None and self._source_id:
            return self.server.get_bound_port()
        return self.rtsp_port

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.address in ("127.0.0.1", "0.0.0.0") else self.address
        return f"rtsp://{host}:{self.port}{MOUNT}"

    def start(self) -> None:
        server = GstRtspServer.RTSPServer()
        server.set_address(self.address)
        server.set_service(str(self.rtsp_port))
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_shared(True)
        factory.set_launch(self.launch)
        server.get_mount_points().add_factory(MOUNT, factory)
        source_id = server.attach(None)
        if not source_id:
            raise BuildError(
                f"the RTSP server cannot listen on {self.address}:{self.rtsp_port}",
                hint="another process uses rtsp-port (a second deepstream-app?); change [sinkN] rtsp-port",
            )
        self.server, self._source_id = server, source_id
        print(
            f"\n *** DeepStream: Launched RTSP Streaming at rtsp://localhost:{self.port}{MOUNT} ***\n\n",
            flush=True,
        )

    def close(self) -> None:
        """destroy_sink_bin: unmount, drop the clients, clean the sessions, stop listening."""
        server, self.server = self.server, None
        if server is None:
            return
        server.get_mount_points().remove_factory(MOUNT)
        server.client_filter(lambda _server, _client, *_: GstRtspServer.RTSPFilterResult.REMOVE, None)
        server.get_session_pool().cleanup()
        if self._source_id:
            GLib.Source.remove(self._source_id)
            self._source_id = 0
