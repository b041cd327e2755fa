"""deepstream-app configs end to end: a world clip → real Triton → tracker → analytics → Kafka.

The traffic app's configs are copied next to a short synthetic clip, with models_repo/B as the
``models/`` folder the nvinferserver config names (NvInferServer starts its own tritonserver on
it). The reference config is rewritten to a fakesink and a type-6 sink on the kafka_broker fixture;
messages are read back with confluent-kafka on assigned partitions.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from fake_device.deepstream.meta import BatchMeta
from fake_device.deepstream.reference_app import build_reference_pipeline, load_app_config
from harness.services.kafka import ExternalKafka, KafkaBroker
from harness.world import WorldParams, write_world

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
APP = REPO / "scenarios" / "traffic" / "app"
CONFIGS = (
    "deepstream_app_config.txt",
    "config_infer_primary_rtdetr_triton.yml",
    "config_tracker_NvSORT.yml",
    "config_nvdsanalytics.txt",
    "msgconv_config.txt",
)
FRAMES = 60  # 2 s at 30 fps


@pytest.fixture(scope="module")
def app_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("deepstream-app")
    write_world(WorldParams(seed=5, seconds=2), folder)  # video.mp4
    for name in CONFIGS:
        shutil.copy(APP / name, folder / name)
    shutil.copytree(REPO / "models_repo" / "B", folder / "models")
    return folder


def conn_str(broker: KafkaBroker | ExternalKafka) -> str:
    host, _, port = broker.bootstrap_servers.split(",")[0].rpartition(":")
    return f"{host.strip('[]')};{port}"


def write_config(app_dir: Path, broker: KafkaBroker | ExternalKafka, topic: str, name: str) -> Path:
    """The traffic config with the clip, a fakesink instead of RTSP and the test's broker/topic."""
    text = (app_dir / "deepstream_app_config.txt").read_text(encoding="utf-8")
    replacements = {
        "uri=file://awsgg-example.mp4": "uri=file://video.mp4",
        "type=4\n": "type=1\n",
        "msg-broker-conn-str=localhost;9092": f"msg-broker-conn-str={conn_str(broker)}",
        "topic=quickstart-events": f"topic={topic}",
        "perf-measurement-interval-sec=5": "perf-measurement-interval-sec=1\nkitti-track-output-dir=kitti",
    }
    for old, new in replacements.items():
        assert old in text, old
        text = text.replace(old, new)
    (app_dir / "kitti").mkdir(exist_ok=True)
    path = app_dir / name
    path.write_text(text, encoding="utf-8")
    return path


def check_minimal_messages(values: list[bytes]) -> int:
    """Every message is a minimal-schema document of one frame; returns the objects they carry."""
    objects = 0
    frame_ids = []
    for value in values:
        doc = json.loads(value)
        assert set(doc) == {"version", "id", "@timestamp", "sensorId", "objects"}
        assert doc["version"] == "4.0"
        assert doc["sensorId"] == "highway-cam-0"  # [sensor0] id of msgconv_config.txt
        assert doc["@timestamp"].endswith("Z")
        assert doc["objects"], "a payload is only made for a frame with objects"
        for obj in doc["objects"]:
            fields = obj.split("|")
            # id|left|top|right|bottom|type|#|<6 vehicle fields>|confidence
            assert len(fields) == 14 and fields[6] == "#", obj
            assert int(fields[0]) >= 0
            left, top, right, bottom = map(float, fields[1:5])
            assert 0 <= left < right <= 1280 and 0 <= top < bottom <= 720
            assert fields[5] in {"car", "truck", "bus", "motorcycle"}
            assert float(fields[13]) == 1.0  # the tracker confidence of a matched target
        objects += len(doc["objects"])
        frame_ids.append(int(doc["id"]))
    assert len(set(frame_ids)) == len(frame_ids)
    return objects


def test_traffic_config_runs_and_sends_minimal_schema_to_kafka(
    app_dir: Path, kafka_broker: KafkaBroker | ExternalKafka
) -> None:
    topic = f"ds-app-{uuid.uuid4().hex[:8]}"
    kafka_broker.create_topic(topic, partitions=2)
    config = load_app_config(write_config(app_dir, kafka_broker, topic, "app_inprocess.txt"))
    perf: list[str] = []
    tracked: list[int] = []

    def on_batch(batch: BatchMeta) -> None:
        tracked.extend(len(f.objects) for f in batch.frames)

    pipeline = build_reference_pipeline(config, printer=perf.append, on_batch=on_batch)
    try:
        assert [s.uri for s in pipeline.sources] == [f"file://{app_dir.resolve()}/video.mp4"]
        names = [getattr(e, "name", "") for e in pipeline.elements]
        assert names == [
            "primary_gie",
            "tracking_tracker",
            "dsanalytics0",
            "analytics_done_kitti_probe",
            "analytics_done_event_probe",
            "sink_sub_bin_sink1_msgconv",
            "sink_sub_bin_sink1_msgbroker",
            "sink_sub_bin_sink0",
        ]  # no OSD: nothing would show it with only a fakesink
        result = pipeline.run()
    finally:
        pipeline.close()  # stops Triton, flushes the broker (raises if a message was lost)

    assert result.frames == FRAMES and not result.stopped
    assert result.frames_per_source == {0: FRAMES}
    assert any(line.startswith("**PERF: ") and "(" in line for line in "".join(perf).splitlines())
    [broker] = pipeline.brokers
    assert broker.topic == topic
    frames_with_objects = sum(1 for n in tracked if n)
    assert frames_with_objects > FRAMES // 2, "the clip has traffic; the tracker confirms it within frames"
    assert broker.sent == broker.delivered == frames_with_objects and broker.failed == 0

    records = kafka_broker.read_messages(topic, max_messages=broker.sent, timeout=30)
    assert len(records) == broker.sent
    assert check_minimal_messages([r.value for r in records]) == sum(tracked)
    assert pipeline.event_probe is not None and pipeline.event_probe.events == sum(tracked)

    kitti = sorted((app_dir / "kitti").glob("00_000_*.txt"))
    assert len(kitti) == FRAMES and kitti[0].name == "00_000_000000.txt"
    lines = [line for path in kitti for line in path.read_text().splitlines()]
    assert len(lines) == sum(tracked)
    assert all(len(line.split(" ")) == 17 for line in lines)


def test_reference_app_command_exits_0_with_perf_lines(
    app_dir: Path, kafka_broker: KafkaBroker | ExternalKafka, tmp_path: Path
) -> None:
    topic = f"ds-app-{uuid.uuid4().hex[:8]}"
    kafka_broker.create_topic(topic, partitions=1)
    config = write_config(app_dir, kafka_broker, topic, "app_command.txt")
    env = {**os.environ, "EDGE_HARNESS_LOG_LEVEL": "WARNING"}
    env.pop("NVDS_JSON_DUMP_FILE", None)
    done = subprocess.run(
        [sys.executable, "-m", "fake_device.deepstream.reference_app", "-c", str(config)],
        cwd=tmp_path,  # relative paths in the config are relative to its folder, not here
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "**PERF: " in done.stdout
    assert "Received EOS" in done.stdout and done.stdout.rstrip().endswith("App run successful")
    count = sum(kafka_broker.end_offsets(topic).values())  # the app flushed before it exited
    assert 0 < count <= FRAMES
    records = kafka_broker.read_messages(topic, max_messages=count, timeout=30)
    assert len(records) == count and check_minimal_messages([r.value for r in records]) > 0


def test_sigterm_stops_a_looping_run_cleanly(
    app_dir: Path, kafka_broker: KafkaBroker | ExternalKafka, tmp_path: Path
) -> None:
    topic = f"ds-app-{uuid.uuid4().hex[:8]}"
    kafka_broker.create_topic(topic, partitions=1)
    config = write_config(app_dir, kafka_broker, topic, "app_loop.txt")
    config.write_text(config.read_text().replace("[tests]\nfile-loop=0", "[tests]\nfile-loop=1"))
    env = {**os.environ, "EDGE_HARNESS_LOG_LEVEL": "WARNING"}
    env.pop("NVDS_JSON_DUMP_FILE", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "fake_device.deepstream.reference_app", "-c", str(config)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        perf_lines = 0
        for line in process.stdout:  # the clip loops: PERF lines keep coming until the signal
            if line.startswith("**PERF: ") and "(" in line and "Avg" not in line:
                perf_lines += 1
                if perf_lines == 3:  # past the clip's 2 s: it has looped
                    break
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert perf_lines == 3
    assert process.returncode == 0, err
    assert "User Interrupted" in out and out.rstrip().endswith("App run successful")
    assert sum(kafka_broker.end_offsets(topic).values()) > 0
