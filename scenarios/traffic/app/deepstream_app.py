#!/usr/bin/env python3
"""Traffic monitoring: the seed's DeepStream app, on edge-harness's DeepStream emulation.

Same command line and the same pipeline as the app the seed deploys to a Jetson
(github jastinjn/deepstream-greengrass-app, artifacts/source/deepstream_app.py)::

    source → nvstreammux (1280x720) → queue → primary GIE (nvinferserver | nvinfer) → queue →
    nvtracker (NvSORT) → queue → nvdsanalytics → probe → nvdsosd → nvmsgconv (minimal schema)
    → nvmsgbroker (Kafka) → sink (OSD file | RTSP | fakesink)

The probe after nvdsanalytics does what the seed's ``nvanalytics_src_pad_buffer_probe`` does:
on every 30th frame it attaches an event for each object inside ROI ``TL1``, and it removes the
objects outside the ROI from the frame, so the OSD draws only those. Each message's
``@timestamp`` is the frame's capture time (the seed stamps the probe's wall clock instead), so a
Kafka consumer can compute frame → Kafka latency; the vehicle type carries the detector's label.

Run from the folder that holds the configs, as the seed's recipe does::

    python3 deepstream_app.py -g nvinferserver -c config_infer_primary_rtdetr_triton.yml \\
        -i file://$(pwd)/awsgg-example.mp4 --conn-str='localhost;9092;quickstart-events' --silent -d rtsp

The options after the seed's own (``--rtsp-port`` …) are additions for testing; the seed's
command line works unchanged. Exit status: 0 at end of stream or on SIGTERM/SIGINT after a clean
shutdown, 1 on an error (the message names the file or address at fault).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fake_device.deepstream.analytics import NvDsAnalytics, load_analytics_config
from fake_device.deepstream.measure import LatencyRecorder, PerfMeter
from fake_device.deepstream.meta import BatchMeta
from fake_device.deepstream.msgbroker import NvMsgBroker
from fake_device.deepstream.msgconv import EventMsg, NvMsgConv, VehicleObject
from fake_device.deepstream.osd import NvDsOsd
from fake_device.deepstream.pipeline import (
    MsgBrokerElement,
    MsgConvElement,
    Named,
    Pipeline,
    Probe,
    Queue,
)
from fake_device.deepstream.sinks import make_sink
from fake_device.deepstream.source import UriSource
from fake_device.deepstream.streammux import NvStreamMux, StreamMuxConfig
from fake_device.deepstream.tracker import NvSortTracker
from harness.errors import HarnessError

MUXER_WIDTH, MUXER_HEIGHT = 1280, 720
ROI_LABEL = "TL1"
EVENT_FRAME_INTERVAL = 30
SENSOR_STR = "sensor-0"
TRACKER_CONFIG = "config_tracker_NvSORT.yml"
ANALYTICS_CONFIG = "config_nvdsanalytics.txt"
MSGCONV_CONFIG = "msgconv_config.txt"
DEFAULT_PGIE_CONFIG = "config_infer_primary_rtdetr.txt"
DEFAULT_CONN_STR = "localhost;9092;quickstart-events"

log = logging.getLogger("deepstream_app")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The seed's options (same names, defaults and checks), then the emulation's additions."""
    parser = argparse.ArgumentParser(prog="traffic-detector-nvds", description="traffic monitoring")
    parser.add_argument(
        "-i", "--input", metavar="URI", action="append",
        help="input stream URI (file:///abs/path.mp4 or rtsp://…); repeat for several streams",
    )  # fmt: skip
    parser.add_argument(
        "-c", "--configfile", metavar="config_location.txt", default=None,
        help="config file of the primary GIE",
    )  # fmt: skip
    parser.add_argument(
        "-g", "--pgie", default=None, choices=["nvinfer", "nvinferserver"], help="primary inference element"
    )
    parser.add_argument(
        "--conn-str", dest="conn_str", default=DEFAULT_CONN_STR, metavar="STR",
        help="Kafka connection string host;port;topic",
    )  # fmt: skip
    parser.add_argument(
        "-d", "--display", default=None, choices=["osd", "no-display", "rtsp"], help="video output"
    )
    parser.add_argument("-s", "--silent", action="store_true", default=False, help="no **PERF lines")
    extra = parser.add_argument_group("edge-harness additions")
    extra.add_argument("--rtsp-port", type=int, default=8554, help="RTSP server port (default 8554)")
    extra.add_argument("--rtsp-mount", default="/ds-test", help="RTSP mount point (default /ds-test)")
    extra.add_argument(
        "--osd-file", default="deepstream_osd.mp4",
        help="where -d osd writes the annotated video (there is no screen here)",
    )  # fmt: skip
    extra.add_argument(
        "--live", action="store_true", help="play file sources at their frame rate, like a camera"
    )
    extra.add_argument(
        "--file-loop",
        action="store_true",
        help="restart file sources at their end (deepstream-app's file-loop)",
    )
    extra.add_argument("--track-output", metavar="FILE", help="write every tracked object (MOT rows) here")
    extra.add_argument("--stats-json", metavar="FILE", help="write FPS and latency figures here at the end")
    extra.add_argument(
        "--check",
        action="store_true",
        help="load every config and the model in Triton, then exit (0 = ready): a preflight for a "
        "recipe's Install step, so a broken update fails before the deployment counts as done",
    )
    extra.add_argument("--perf-interval", type=float, default=1.0, help="seconds between **PERF lines")
    args = parser.parse_args(argv)
    if not args.input and not args.check:
        parser.error("the following arguments are required: -i/--input")
    if bool(args.configfile) != bool(args.pgie):
        parser.print_help(sys.stderr)
        parser.exit(2, "\nEither pgie or configfile is missing. Please specify both! Exiting...\n")
    return args


class RoiEventProbe:
    """The seed's probe on nvdsanalytics' src pad.

    Every ``interval``-th frame: one event per object whose roiStatus holds ``roi``. Every frame:
    objects outside the ROI are removed (``nvds_remove_obj_meta_from_frame``), after being
    written to the track file when one is kept (evaluation needs every tracked object).
    """

    def __init__(
        self, *, roi: str = ROI_LABEL, interval: int = EVENT_FRAME_INTERVAL, tracks: Any = None
    ) -> None:
        self.roi = roi
        self.interval = interval
        self.tracks = tracks
        self.events = 0

    def __call__(self, batch: BatchMeta) -> None:
        for frame in batch.frames:
            if self.tracks is not None:
                self.tracks.write_frame(frame)
            kept = []
            for obj in frame.objects:
                if obj.analytics is None or self.roi not in obj.analytics.roi_status:
                    continue
                kept.append(obj)
                if frame.frame_num % self.interval == 0:
                    event = EventMsg.from_object(
                        obj,
                        frame,
                        sensorId=0,
                        placeId=0,
                        moduleId=0,
                        sensorStr=SENSOR_STR,
                        extMsg=VehicleObject(type=obj.obj_label or None),
                    )
                    frame.user_meta.append(event)
                    self.events += 1
            frame.objects[:] = kept


def _config_path(name: str) -> Path:
    """Relative config names are relative to the working directory, as in the seed's app."""
    path = Path(name)
    if not path.is_file():
        raise HarnessError(
            f"config file {path} not found (working directory {Path.cwd()})",
            hint="run the app from the folder that holds its configs, as the recipe's `cd` does",
        )
    return path


def _primary_gie(pgie: str, config: Path) -> Any:
    if pgie == "nvinferserver":
        from fake_device.deepstream.inferserver import NvInferServer

        return NvInferServer(config, name="primary-gie")
    from fake_device.deepstream.nvinfer import NvInfer

    return NvInfer(config, name="primary-gie")


def build_pipeline(args: argparse.Namespace) -> tuple[Pipeline, dict[str, Any]]:
    """Create every element; anything that fails closes what was already made."""
    made: list[Any] = []
    parts: dict[str, Any] = {}
    try:
        pgie_name = args.pgie or "nvinfer"
        pgie_config = _config_path(args.configfile or DEFAULT_PGIE_CONFIG)
        tracker = NvSortTracker.from_file(_config_path(TRACKER_CONFIG))
        analytics = NvDsAnalytics(
            load_analytics_config(_config_path(ANALYTICS_CONFIG)), MUXER_WIDTH, MUXER_HEIGHT
        )
        converter = NvMsgConv(_config_path(MSGCONV_CONFIG), payload_type=1)
        broker = NvMsgBroker(
            args.conn_str, proto_lib="/opt/nvidia/deepstream/deepstream/lib/libnvds_kafka_proto.so"
        )
        sources = [
            UriSource(uri, index, live=args.live, file_loop=args.file_loop)
            for index, uri in enumerate(args.input)
        ]
        mux = NvStreamMux(
            sources,
            StreamMuxConfig(
                width=MUXER_WIDTH, height=MUXER_HEIGHT, batch_size=len(sources), live_source=args.live
            ),
        )
        made.append(mux)
        tracks = None
        if args.track_output:
            from harness.eval.pipeline import TrackWriter

            tracks = TrackWriter(Path(args.track_output))
            made.append(tracks)
            parts["tracks"] = tracks
        broker.start()  # the 5 s connection test: fail before Triton is started
        made.append(broker)
        pgie = _primary_gie(pgie_name, pgie_config)
        made.append(pgie)
        probe = RoiEventProbe(tracks=tracks)
        parts["probe"] = probe
        fps = _source_fps(sources)
        sink = _sink(args, fps, len(sources))
        made.append(sink)
        chain: list[Any] = [
            Queue("queue1"),
            pgie,
            Queue("queue2"),
            Named("tracker", tracker),
            Queue("queue3"),
            Named("analytics", analytics),
            Probe("analytics-src-probe", probe),
        ]
        if args.display != "no-display":
            chain.append(NvDsOsd(name="osd", analytics=analytics))
        chain += [MsgConvElement(converter), MsgBrokerElement(broker), sink]
        perf = PerfMeter(len(sources), interval=args.perf_interval, enabled=not args.silent, style="python")
        pipeline = Pipeline(mux, chain, latency=LatencyRecorder.from_environment(), perf=perf)
        parts["broker"] = broker
        parts["sink"] = sink
        return pipeline, parts
    except BaseException:
        for thing in reversed(made):
            try:
                thing.close()
            except Exception as err:  # the first error is the one to report
                log.debug("closing %s after a failed start: %s", thing, err)
        raise


def _source_fps(sources: Sequence[UriSource]) -> float:
    """The output frame rate for encoders: the sources' (files are opened by the muxer later)."""
    import cv2

    for source in sources:
        if source.uri.startswith("file://"):
            from urllib.parse import unquote, urlparse

            capture = cv2.VideoCapture(unquote(urlparse(source.uri).path))
            try:
                fps = capture.get(cv2.CAP_PROP_FPS)
            finally:
                capture.release()
            if fps and fps > 0:
                return float(fps)
    return 30.0


def _sink(args: argparse.Namespace, fps: float, streams: int) -> Any:
    if args.display == "no-display":
        return make_sink("no-display", name="fakesink")
    if args.display == "rtsp":
        sink = make_sink(
            "rtsp",
            port=args.rtsp_port,
            mount=args.rtsp_mount,
            fps=fps,
            width=MUXER_WIDTH,
            height=MUXER_HEIGHT,
        )
        print(f"\n *** DeepStream: Launched RTSP Streaming at {sink.url} ***\n\n", flush=True)
        return sink
    # osd (or no -d): nv3dsink draws on a screen; there is none here, so the OSD goes to a file
    log.info("no screen: the on-screen display is written to %s", args.osd_file)
    return make_sink(
        "file", path=Path(args.osd_file), fps=fps, width=MUXER_WIDTH, height=MUXER_HEIGHT, name="nv3d-sink"
    )


def check(args: argparse.Namespace) -> int:
    """Preflight: parse every config and load the model in Triton, then stop; nothing is sent.

    Greengrass counts a deployment as done as soon as every Run script has started
    (DeploymentConfigMerger.waitForServicesToStart), so an app that fails seconds later does not
    roll the update back. Running this in the recipe's Install step makes a broken model or
    config fail the install, which the nucleus retries, marks BROKEN and rolls back.
    """
    print("check: loading the configs and the model", flush=True)
    try:
        NvSortTracker.from_file(_config_path(TRACKER_CONFIG))
        NvDsAnalytics(load_analytics_config(_config_path(ANALYTICS_CONFIG)), MUXER_WIDTH, MUXER_HEIGHT)
        NvMsgConv(_config_path(MSGCONV_CONFIG), payload_type=1)
        NvMsgBroker(args.conn_str)  # the conn-str's form; the broker itself is not contacted
        pgie = _primary_gie(args.pgie or "nvinfer", _config_path(args.configfile or DEFAULT_PGIE_CONFIG))
        pgie.close()
    except HarnessError as err:
        print(f"ERROR: {err}", file=sys.stderr, flush=True)
        return 1
    print("check passed: configs parsed and the model loaded", flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(
        level=os.environ.get("EDGE_HARNESS_LOG_LEVEL", "INFO"), format="%(levelname)s %(name)s: %(message)s"
    )
    args = parse_args(argv)
    if args.check:
        return check(args)
    print(vars(args), flush=True)  # the seed prints its arguments too
    try:
        pipeline, parts = build_pipeline(args)
    except HarnessError as err:
        print(f"ERROR: {err}", file=sys.stderr, flush=True)
        return 1

    def on_signal(signum: int, _frame: Any) -> None:
        log.info("received %s: stopping the pipeline", signal.Signals(signum).name)
        pipeline.stop()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    status = 0
    result = None
    try:
        result = pipeline.run()
        print("End-of-stream" if not result.stopped else "Stopped", flush=True)
    except HarnessError as err:
        print(f"ERROR: {err}", file=sys.stderr, flush=True)
        status = 1
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        try:
            pipeline.close()
        except HarnessError as err:  # e.g. messages the broker could not deliver
            print(f"ERROR: {err}", file=sys.stderr, flush=True)
            status = 1
        finally:
            if "tracks" in parts:
                parts["tracks"].close()
    if result is not None:
        broker = parts["broker"]
        summary = {
            **result.to_dict(),
            "events": parts["probe"].events,
            "messages": {"sent": broker.sent, "delivered": broker.delivered, "failed": broker.failed},
        }
        print(
            f"frames={result.frames} fps={result.fps:.2f} events={parts['probe'].events} "
            f"messages sent={broker.sent} delivered={broker.delivered} failed={broker.failed}",
            flush=True,
        )
        if args.stats_json:
            Path(args.stats_json).write_text(json.dumps(summary, indent=2) + "\n")
    return status


if __name__ == "__main__":
    sys.exit(main())
