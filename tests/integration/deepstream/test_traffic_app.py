"""The traffic app (scenarios/traffic/app/deepstream_app.py) end to end on real GStreamer.

The app is a DeepStream Python app (Gst + pyds, nothing of edge-harness); it runs in the environment
a component process gets on the simulated device (``deepstream_environment``: pyds and the nv*
elements). Its 1.0.1 artifact (detector B in ./models) plays a short world clip through a real
tritonserver (started by nvinferserver from the artifact's model repository) into the real Kafka
broker, with the RTSP output read back by OpenCV while it plays. The messages are read back from
Kafka and checked field by field, and the run is scored against the world's ground truth.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from pathlib import Path

import cv2
import pytest
from acceptance import finish, start_app

from harness.eval.pipeline import parse_object_string, parse_rfc3339_ns, score_pipeline
from harness.package import build_artifact
from harness.services.ports import free_ports
from harness.world import WorldParams, write_world

ROOT = Path(__file__).resolve().parents[3]
ARTIFACT_SPEC = (
    ROOT / "scenarios" / "traffic" / "components" / "nvds-awsgg-deployment" / "1.0.1" / "artifact.yaml"
)
WORLD = WorldParams(seed=2002, seconds=8)  # held out: detector training used seeds 1000-1999
CLASSES = {"car", "truck", "bus", "motorcycle"}


@pytest.fixture(scope="module")
def app_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("traffic-app")
    folder = build_artifact(ARTIFACT_SPEC, base)
    write_world(WORLD, base / "world", codec="h264")
    return folder


def _app(folder: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return start_app(["deepstream_app.py", *args], folder, env)


def _finish(proc: subprocess.Popen[str], timeout: float) -> str:
    return finish(proc, timeout).output


def _read_rtsp(url: str, frames: list, stop: threading.Event) -> None:
    """Read frames from the app's RTSP output until ``stop`` or 200 frames (bounded)."""
    capture = None
    deadline = time.monotonic() + 60
    while capture is None and time.monotonic() < deadline and not stop.is_set():
        attempt = cv2.VideoCapture(url, cv2.CAP_FFMPEG)
        if attempt.isOpened():
            capture = attempt
        else:
            attempt.release()
            time.sleep(0.5)
    if capture is None:
        return
    try:
        while len(frames) < 200 and not stop.is_set():
            ok, frame = capture.read()
            if not ok:
                break
            frames.append(frame)
    finally:
        capture.release()


def test_seed_app_sends_minimal_schema_messages_that_match_the_world(app_folder: Path, kafka_broker) -> None:
    topic = "quickstart-events"
    kafka_broker.create_topic(topic)
    host, port = kafka_broker.bootstrap_servers.split(",")[0].rsplit(":", 1)
    world = app_folder.parent / "world"
    rtsp_port = free_ports(1)[0]
    proc = _app(
        app_folder,
        "-g", "nvinferserver", "-c", "config_infer_primary_rtdetr_triton.yml",
        "-i", f"file://{world / 'video.mp4'}", f"--conn-str={host};{port};{topic}",
        "-d", "rtsp", "--rtsp-port", str(rtsp_port), "--live",
        "--track-output", str(world / "tracks.txt"), "--stats-json", str(world / "stats.json"),
    )  # fmt: skip
    frames: list = []
    stop = threading.Event()
    reader = threading.Thread(
        target=_read_rtsp, args=(f"rtsp://127.0.0.1:{rtsp_port}/ds-test", frames, stop), daemon=True
    )
    reader.start()
    try:
        out = _finish(proc, timeout=240)
    finally:
        stop.set()
        reader.join(30)
    assert proc.returncode == 0, out[-3000:]
    assert f"Launched RTSP Streaming at rtsp://localhost:{rtsp_port}/ds-test" in out
    assert re.search(r"\*\*PERF:  \{'stream0': [\d.]+\}", out), "the seed's app prints PERF lines"

    # RTSP: OpenCV saw the annotated stream at the muxer's size
    assert len(frames) >= 10, f"OpenCV read {len(frames)} frames from the RTSP output"
    assert frames[0].shape == (720, 1280, 3)

    stats = json.loads((world / "stats.json").read_text())
    assert stats["frames"] == 240
    sent = stats["event_frames"]  # minimal schema: one message per frame that got events
    assert sent >= 1 and stats["events"] >= sent, "vehicles pass TL1 in 8 s of this world"
    records = kafka_broker.read_messages(topic, max_messages=sent + 1, timeout=30)
    assert len(records) == sent, "nvmsgbroker delivers every payload before the pipeline's EOS"

    lines = []
    for record in records:
        payload = record.json()
        # the minimal schema, exactly these keys and types (eventmsg_payload.cpp)
        assert set(payload) == {"version", "id", "@timestamp", "sensorId", "objects"}
        assert payload["version"] == "4.0" and payload["sensorId"] == "sensor-0"
        assert int(payload["id"]) % 30 == 0, "events are attached on every 30th frame"
        captured = parse_rfc3339_ns(payload["@timestamp"])
        # stamped in the probe by pyds.generate_ts_rfc3339, as the seed does; Kafka's clock is later
        assert -1e9 <= record.timestamp_ms * 1_000_000 - captured < 60e9
        assert payload["objects"], "a message is sent only for frames with objects in TL1"
        for text in payload["objects"]:
            obj = parse_object_string(text)
            assert obj is not None and obj.tracked
            assert obj.type_name == "Vehicle" and obj.label in CLASSES
            assert 0 <= obj.left < obj.right <= 1280 and 0 <= obj.top < obj.bottom <= 720
            assert obj.confidence is not None and 0.5 <= obj.confidence <= 1.0
        lines.append(json.dumps({"received_ns": record.timestamp_ms * 1_000_000, "payload": payload}))
    (world / "messages.jsonl").write_text("\n".join(lines) + "\n")

    score = score_pipeline(world, tracks=world / "tracks.txt", messages=world / "messages.jsonl")
    assert score.roi_messages is not None and score.roi_messages.precision >= 0.8
    assert score.count_tracks is not None
    counted, truth = score.count_tracks.predicted, score.count_tracks.truth
    assert truth >= 1 and abs(counted - truth) <= max(1, round(0.2 * truth)), (counted, truth)
    assert score.latency is not None and score.latency.messages == len({r.json()["id"] for r in records})
    assert 0 < score.latency.p50_ms < 10_000


def test_unreachable_broker_fails_fast_naming_the_address(app_folder: Path) -> None:
    port = free_ports(1)[0]  # nothing listens there
    world = app_folder.parent / "world"
    proc = _app(
        app_folder,
        "-g", "nvinferserver", "-c", "config_infer_primary_rtdetr_triton.yml",
        "-i", f"file://{world / 'video.mp4'}", f"--conn-str=127.0.0.1;{port};quickstart-events",
        "-d", "no-display",
    )  # fmt: skip
    out = _finish(proc, timeout=120)
    assert proc.returncode == 1
    assert "ERROR from nvmsg-broker" in out
    assert f"cannot connect to the Kafka broker at 127.0.0.1:{port}" in out
    # the sink starts first (GStreamer changes state downstream first): Triton is never started
    assert "tritonserver" not in out and "frames=0" in out


def test_preflight_loads_the_model_and_names_a_missing_config(app_folder: Path) -> None:
    proc = _app(app_folder, "-g", "nvinferserver", "-c", "config_infer_primary_rtdetr_triton.yml", "--check")
    out = _finish(proc, timeout=180)
    assert proc.returncode == 0, out[-3000:]
    assert "check passed: configs parsed and the model loaded" in out

    proc = _app(app_folder, "-g", "nvinferserver", "-c", "nope.yml", "--check")
    out = _finish(proc, timeout=60)
    assert proc.returncode == 1
    assert "ERROR from primary-gie" in out and "nope.yml: config file not found" in out


def test_half_given_options_are_a_usage_error(app_folder: Path) -> None:
    proc = _app(app_folder, "-g", "nvinferserver", "-i", "file:///x.mp4")
    out = _finish(proc, timeout=60)
    assert proc.returncode == 2 and "Either pgie or configfile is missing" in out


def test_the_app_imports_nothing_of_edge_harness() -> None:
    """The artifact that is tested is the artifact that ships: only GStreamer, pyds and its own files."""
    import ast

    app = ROOT / "scenarios" / "traffic" / "app"
    imported = set()
    for source in app.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    assert not imported & {"harness", "fake_device"}, imported
    assert {"gi", "pyds"} <= imported
