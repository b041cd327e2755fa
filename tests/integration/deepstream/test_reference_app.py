"""deepstream-app configs end to end on real GStreamer: a world clip → Triton → tracker → analytics → Kafka.

The traffic app's configs are copied next to a short synthetic clip, with models_repo/B as the
``models/`` folder the nvinferserver config names (nvinferserver starts its own tritonserver on it).
The reference config is rewritten to a fakesink and a type-6 sink on the kafka_broker fixture;
messages are read back with confluent-kafka on assigned partitions. Configs without a GIE check
the outputs: a type-3 file decoded by FFmpeg, a type-4 RTSP stream read by an FFmpeg client.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

from fake_device.deepstream.meta import BatchMeta
from fake_device.deepstream.reference_app import build_reference_pipeline, load_app_config
from harness.ffmpeg import find_ffmpeg
from harness.services.kafka import ExternalKafka, KafkaBroker
from harness.services.ports import free_ports
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
COMMAND = [sys.executable, "-m", "fake_device.deepstream.reference_app", "-c"]


@pytest.fixture(scope="module")
def app_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("deepstream-app")
    # video.mp4 in H.264, the codec the device decodes (nvv4l2decoder); also what looping sources need
    write_world(WorldParams(seed=5, seconds=2), folder, codec="h264")
    for name in CONFIGS:
        shutil.copy(APP / name, folder / name)
    shutil.copytree(REPO / "models_repo" / "B", folder / "models")
    return folder


def app_env() -> dict[str, str]:
    env = {**os.environ, "EDGE_HARNESS_LOG_LEVEL": "WARNING"}
    env.pop("NVDS_JSON_DUMP_FILE", None)
    return env


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

    with build_reference_pipeline(config, printer=perf.append, on_batch=on_batch) as pipeline:
        assert [s.uri for s in pipeline.sources] == [f"file://{app_dir.resolve()}/video.mp4"]
        # deepstream-app's element names and factories, as the config asks for them
        factories = {
            "src_bin_muxer": "nvstreammux",
            "primary_gie": "nvinferserver",
            "tracking_tracker": "nvtracker",
            "dsanalytics0": "nvdsanalytics",
            "tiled_display_tiler": "nvmultistreamtiler",
            "nvosd0": "nvdsosd",
            "sink_sub_bin_sink1": "fakesink",
            "sink_sub_bin_transform2": "nvmsgconv",
            "sink_sub_bin_sink2": "nvmsgbroker",
        }
        for name, factory in factories.items():
            element = pipeline.element(name)
            assert element is not None, name
            assert element.get_factory().get_name() == factory
        assert pipeline.element("primary_gie").get_property("unique-id") == 1  # gie-unique-id=1
        result = pipeline.run()
        [broker] = pipeline.brokers
    # closed: Triton stopped, the broker disconnected after delivering everything

    assert result.frames == FRAMES and not result.stopped
    assert result.frames_per_source == {0: FRAMES}
    assert any(line.startswith("**PERF: ") and "(" in line for line in "".join(perf).splitlines())
    assert broker.topic == topic
    frames_with_objects = sum(1 for n in tracked if n)
    assert len(tracked) == FRAMES
    assert frames_with_objects > FRAMES // 2, "the clip has traffic; the tracker confirms it within frames"
    assert broker.sent == broker.delivered == frames_with_objects and broker.failed == 0
    assert pipeline.undelivered == []

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
    done = subprocess.run(
        [*COMMAND, str(config)],
        cwd=tmp_path,  # relative paths in the config are relative to its folder, not here
        env=app_env(),
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
    looped = app_dir / "kitti" / f"00_000_{FRAMES + 5:06d}.txt"  # frame numbers go on past the clip
    looped.unlink(missing_ok=True)
    with running(config, tmp_path) as process:
        deadline = time.monotonic() + 240
        while not looped.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert looped.exists(), "the clip did not loop"
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert "User Interrupted" in out and out.rstrip().endswith("App run successful")
    assert sum(kafka_broker.end_offsets(topic).values()) > 0


# -- outputs, without a GIE -----------------------------------------------------------------------

LIGHT = """\
[application]
enable-perf-measurement=0

[tiled-display]
enable=1
rows=1
columns=1
width={width}
height={height}

[source0]
enable=1
type=3
uri=file://{video}
num-sources=1

[streammux]
batch-size=1
width=1280
height=720

[osd]
enable=1
border-width=3

[tests]
file-loop={loop}
"""
W, H = 640, 360


def light_config(path: Path, app_dir: Path, extra: str, *, loop: int = 0) -> Path:
    """One clip, tiler, OSD, no GIE: what the outputs get is the clip itself."""
    path.write_text(LIGHT.format(width=W, height=H, loop=loop, video=app_dir / "video.mp4") + extra)
    return path


class running:
    """``deepstream-app -c config`` in its own process, killed if the test leaves it running."""

    def __init__(self, config: Path, cwd: Path) -> None:
        self.process = subprocess.Popen(
            [*COMMAND, str(config)], cwd=cwd, env=app_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip

    def __enter__(self) -> subprocess.Popen[str]:
        return self.process

    def __exit__(self, *exc: object) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate()


def gray_frames(ffmpeg_args: list[str], width: int, height: int, timeout: float = 120) -> np.ndarray:
    """Frames FFmpeg decodes from ``ffmpeg_args`` (its input options), as 8-bit gray images."""
    ffmpeg = find_ffmpeg()
    assert ffmpeg is not None, "the imageio-ffmpeg wheel is a project dependency"
    done = subprocess.run(
        [ffmpeg, "-hide_banner", "-loglevel", "error", *ffmpeg_args,
         "-vf", f"scale={width}:{height}", "-f", "rawvideo", "-pix_fmt", "gray", "-"],
        capture_output=True, timeout=timeout, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return np.frombuffer(done.stdout, dtype=np.uint8).reshape(-1, height, width)


@pytest.mark.parametrize(
    ("codec", "container", "enc_type", "name"),
    [(1, 1, 0, "out.mp4"), (2, 2, 0, "out.mkv"), (3, 1, 0, "mpeg4.mp4"), (1, 2, 1, "x264.mkv")],
    ids=["h264-mp4", "h265-mkv", "mpeg4-mp4", "x264-sw-mkv"],
)
def test_file_sink_output_decodes_to_the_tiled_clip(
    app_dir: Path, tmp_path: Path, codec: int, container: int, enc_type: int, name: str
) -> None:
    out = tmp_path / name
    sinks = (
        f"\n[sink0]\nenable=1\ntype=3\ncodec={codec}\ncontainer={container}\nenc-type={enc_type}\n"
        f"bitrate=2000000\noutput-file={name}\n"
        "\n[sink1]\nenable=1\ntype=1\n"  # two display sinks share the sink bin's tee
    )
    config = light_config(tmp_path / "file.txt", app_dir, sinks)
    done = subprocess.run(
        [*COMMAND, str(config)], cwd=tmp_path, env=app_env(), capture_output=True, text=True, timeout=300,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.rstrip().endswith("App run successful")

    written = gray_frames(["-i", str(out)], W, H)  # output-file is relative to the working directory
    source = gray_frames(["-i", str(app_dir / "video.mp4")], W, H)
    assert len(written) == FRAMES
    difference = np.abs(written.astype(np.int16) - source.astype(np.int16)).mean(axis=(1, 2))
    # the same pictures, through scaling, a lossy codec and (no objects) an OSD that drew nothing
    assert difference.max() < 12, difference
    shifted = np.abs(written[1:].astype(np.int16) - source[:-1].astype(np.int16)).mean()
    assert difference[1:].mean() < shifted  # frame i is source frame i, not a neighbour


def test_rtsp_sink_streams_to_an_ffmpeg_client(app_dir: Path, tmp_path: Path) -> None:
    rtsp_port, udp_port = free_ports(2)
    sink = (
        f"\n[sink0]\nenable=1\ntype=4\ncodec=1\nrtsp-port={rtsp_port}\nudp-port={udp_port}\n"
        "iframeinterval=10\n"  # a client joining late gets a key frame within 10 frames
    )
    config = light_config(tmp_path / "rtsp.txt", app_dir, sink, loop=1)  # streams until stopped
    with running(config, tmp_path) as process:
        assert process.stdout is not None
        for line in process.stdout:  # deepstream-app prints this when its server listens
            if "Launched RTSP Streaming at" in line:
                assert f"rtsp://localhost:{rtsp_port}/ds-test" in line
                break
        else:
            pytest.fail(f"no RTSP server: {process.communicate(timeout=30)[1]}")
        drain = threading.Thread(target=process.stdout.read, daemon=True)  # keep the pipe from filling
        drain.start()
        url = f"rtsp://127.0.0.1:{rtsp_port}/ds-test"
        frames = gray_frames(["-rtsp_transport", "tcp", "-i", url, "-frames:v", "20"], W, H, timeout=60)
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=60)
    assert len(frames) == 20
    assert frames.std(axis=(1, 2)).min() > 10  # pictures of the road, not a blank stream
    source = gray_frames(["-i", str(app_dir / "video.mp4")], W, H)
    nearest = [np.abs(source.astype(np.int16) - f.astype(np.int16)).mean(axis=(1, 2)).min() for f in frames]
    assert max(nearest) < 15, nearest  # each frame received is one of the clip's
    assert process.returncode == 0, err


def test_an_element_that_fails_to_start_fails_the_run(app_dir: Path, tmp_path: Path) -> None:
    analytics = tmp_path / "analytics.txt"
    analytics.write_text("[property]\nenable=1\nconfig-width=1280\nconfig-height=720\nosd-mode=7\n")
    extra = "\n[nvds-analytics]\nenable=1\nconfig-file=analytics.txt\n\n[sink0]\nenable=1\ntype=1\n"
    config = light_config(tmp_path / "broken.txt", app_dir, extra)
    done = subprocess.run(
        [*COMMAND, str(config)], cwd=tmp_path, env=app_env(), capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert "ERROR from dsanalytics0: " in done.stderr and f"{analytics}:5" in done.stderr
    assert done.stdout.rstrip().endswith("App run failed")
