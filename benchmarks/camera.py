"""A camera for the pipeline benchmark: a clip served over RTSP once, in real time, not re-encoded.

Latency only means something for frames that arrive as a camera sends them. A file played as fast
as the pipeline goes keeps every queue full (its frame latency is queueing), and the app's
``--live`` paces a file at the *sink*, so the decoder still runs ahead and frames wait in the
queues before the probe. An RTSP source is live: frames enter the decoder at 30 fps, and as long as
the pipeline keeps up, the queues stay empty and the frame latency is the pipeline's own.

The server is GstRtspServer in a process of its own (``python -m benchmarks.camera CLIP --port P``):
``filesrc ! qtdemux ! h264parse ! rtph264pay`` — the clip's H.264 as it is, so the camera costs
next to no CPU on the shared cores (ffmpeg re-encoding 720p30 would take a third of a core).
Each client gets its own media from the clip's first frame (not shared: four ``-i`` of the same URL
are four cameras), over RTP/UDP as a camera sends it (over TCP a slow receiver would hold the camera
back: it would no longer send in real time; over UDP a receiver starved of CPU loses packets, which
shows as frames missing at the probe), and ``clip ended`` is printed when a media's clip has been
sent. The app's run ends with the clip, as with a file: the server's RTCP BYE ends the stream in
the app's rtspsrc and the end reaches the app's bus as EOS through nvstreammux, also after the app
fell behind the camera (docs/deepstream/pipeline.md, "The app and RTSP sources").
:class:`RtspCamera` runs the server as a :class:`~harness.services.base.ProcessService`: its own
process group, killed with the harness.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import click

from harness.services.base import ProcessService
from harness.services.ports import free_ports

ROOT = Path(__file__).resolve().parents[1]
MOUNT = "/camera"
END_LINE = "clip ended"


class RtspCamera(ProcessService):
    """``rtsp://127.0.0.1:PORT/camera`` serving ``clip`` to each client from its first frame."""

    name = "camera"

    def __init__(self, clip: Path, *, startup_timeout: float = 30.0) -> None:
        super().__init__(startup_timeout=startup_timeout)
        self.clip = Path(clip).resolve()
        self.port = 0

    def allocate_ports(self) -> None:
        (self.port,) = free_ports(1)

    def command(self) -> list[str]:
        return [sys.executable, "-m", "benchmarks.camera", str(self.clip), "--port", str(self.port)]

    def process_environment(self) -> dict[str, str]:
        # the server runs in its work folder: ``benchmarks`` is found from the checkout
        return {"PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}

    def probe_ready(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    @property
    def url(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}{MOUNT}"

    def endpoints(self) -> dict[str, str]:
        return {"rtsp": self.url}

    def clips_ended(self) -> int:
        """How many clients' clips have been sent to the end (read from the server's log)."""
        if self.log_path is None or not self.log_path.is_file():
            return 0
        return self.log_path.read_text(encoding="utf-8", errors="replace").count(END_LINE)


@click.command()
@click.argument("clip", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--port", type=int, required=True)
def main(clip: Path, port: int) -> None:
    """Serve CLIP at rtsp://127.0.0.1:PORT/camera until killed."""
    import gi

    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtsp", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import GLib, Gst, GstRtsp, GstRtspServer

    Gst.init(None)
    server = GstRtspServer.RTSPServer.new()
    server.props.address = "127.0.0.1"
    server.props.service = str(port)
    factory = GstRtspServer.RTSPMediaFactory.new()
    factory.set_launch(
        f'( filesrc location="{clip}" ! qtdemux ! h264parse config-interval=-1 '
        "! rtph264pay name=pay0 pt=96 config-interval=-1 )"
    )
    factory.set_shared(False)
    factory.set_protocols(GstRtsp.RTSPLowerTrans.UDP)

    def on_eos(_pad: Gst.Pad, info: Gst.PadProbeInfo) -> Gst.PadProbeReturn:
        if info.get_event().type == Gst.EventType.EOS:
            print(END_LINE, flush=True)
        return Gst.PadProbeReturn.OK

    def configure(_factory: GstRtspServer.RTSPMediaFactory, media: GstRtspServer.RTSPMedia) -> None:
        payloader = media.get_element().get_by_name("pay0")
        payloader.get_static_pad("src").add_probe(Gst.PadProbeType.EVENT_DOWNSTREAM, on_eos)

    factory.connect("media-configure", configure)
    server.get_mount_points().add_factory(MOUNT, factory)
    if server.attach(None) == 0:
        raise SystemExit(f"cannot listen for RTSP on 127.0.0.1:{port}")
    print(f"serving {clip} at rtsp://127.0.0.1:{port}{MOUNT}", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
