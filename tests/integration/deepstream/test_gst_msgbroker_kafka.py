"""nvmsgconv → nvmsgbroker under real GStreamer into the real Kafka-protocol broker (tansu).

The message branch is the one of DeepStream apps (``tee → queue → nvmsgconv → nvmsgbroker``, the
other branch rendering); an appsrc stands in for nvstreammux + inference + tracker (it attaches a
batch meta with object metas), and a pad probe attaches the event metas the way the seed's app and
deepstream-test4 do. Messages are read back from the topic and checked field by field.
"""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from batch_feed import Detection, batch_meta, nvmm_rgba

from fake_device.deepstream import pyds_api as pyds  # what `import pyds` gives an app on the device
from fake_device.deepstream.gst.carrier import attach_batch_meta
from fake_device.deepstream.gst.environment import SITE_DIR, deepstream_environment
from fake_device.deepstream.gst.registry import register_all
from fake_device.deepstream.gst.runtime import Gst
from harness.services.kafka import ExternalKafka, KafkaBroker
from tests.unit.deepstream.event_metas import TEST4_CONFIG

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
SEED_CONFIG = REPO / "scenarios" / "traffic" / "app" / "msgconv_config.txt"
NVMM_CAPS = "video/x-raw(memory:NVMM),format=RGBA,width=64,height=48,framerate=30/1"
KAFKA_LIB = "/opt/nvidia/deepstream/deepstream/lib/libnvds_kafka_proto.so"
MAX_TIME_STAMP_LEN = 32
FRAMES = 24
EPOCH_NS = 1_700_000_000_000_000_000

register_all()

Probe = Callable[[Any, Any, Any], None]


def conn_str(broker: KafkaBroker | ExternalKafka, topic: str) -> str:
    host, _, port = broker.bootstrap_servers.split(",")[0].rpartition(":")
    return f"{host.strip('[]')};{port};{topic}"


def new_topic(broker: KafkaBroker | ExternalKafka) -> str:
    topic = f"gst-msgbroker-{uuid.uuid4().hex[:8]}"
    broker.create_topic(topic, partitions=2)
    return topic


def detections(frame_num: int) -> list[tuple[int, float, float, float, float, float, int]]:
    """(class_id, confidence, left, top, width, height, object_id): a car and a person per frame."""
    return [
        (0, 0.875, 100.0 + frame_num, 200.5, 80.25, 40.0, 1000 + frame_num),
        (1, 0.5, 10.0, 20.0, 5.5, 30.25, 2000 + frame_num),
    ]


def muxed_batch(frame_num: int) -> Any:
    """What nvstreammux, the detector and the tracker leave on a buffer."""
    batch = pyds.nvds_create_batch_meta(1)
    frame = pyds.nvds_acquire_frame_meta_from_pool(batch)
    frame.frame_num = frame_num
    frame.ntp_timestamp = EPOCH_NS + frame_num * 33_333_333
    frame.source_frame_width, frame.source_frame_height = 1280, 720
    pyds.nvds_add_frame_meta_to_batch(batch, frame)
    for class_id, confidence, left, top, width, height, object_id in detections(frame_num):
        obj = pyds.nvds_acquire_obj_meta_from_pool(batch)
        obj.class_id, obj.confidence, obj.object_id = class_id, confidence, object_id
        obj.rect_params.left, obj.rect_params.top = left, top
        obj.rect_params.width, obj.rect_params.height = width, height
        pyds.nvds_add_obj_meta_to_frame(frame, obj, None)
    return batch


# The probes below are written as the seed's app and deepstream-test4 write theirs, with pyds.
# ``stamps`` records the timestamps each frame's events got from generate_ts_rfc3339, in order.
stamps: dict[int, list[str]] = {}


def seed_probe(batch_meta: Any, frame_meta: Any, obj_meta: Any) -> None:
    """The seed app's event (minimal schema): sensorStr "sensor-0", the app's own ts buffer."""
    user_event_meta = pyds.nvds_acquire_user_meta_from_pool(batch_meta)
    msg_meta = pyds.alloc_nvds_event_msg_meta(user_event_meta)
    _fill_from_object(msg_meta, frame_meta, obj_meta)
    msg_meta.sensorStr = "sensor-0"
    _attach(frame_meta, user_event_meta, msg_meta)


def deepstream_test4_probe(batch_meta: Any, frame_meta: Any, obj_meta: Any) -> None:
    """deepstream-test4's generate_event_msg_meta: a car is a moving vehicle, a person an entry."""
    user_event_meta = pyds.nvds_acquire_user_meta_from_pool(batch_meta)
    msg_meta = pyds.alloc_nvds_event_msg_meta(user_event_meta)
    _fill_from_object(msg_meta, frame_meta, obj_meta)
    if obj_meta.class_id == 0:
        msg_meta.type = pyds.NvDsEventType.NVDS_EVENT_MOVING
        msg_meta.objType = pyds.NvDsObjectType.NVDS_OBJECT_TYPE_VEHICLE
        msg_meta.objClassId = 0
        vehicle = pyds.NvDsVehicleObject.cast(pyds.alloc_nvds_vehicle_object())
        vehicle.type, vehicle.color, vehicle.make = "sedan", "blue", "Bugatti"
        vehicle.model, vehicle.license, vehicle.region = "M", "XX1234", "CA"
        msg_meta.extMsg = vehicle
        msg_meta.extMsgSize = sys.getsizeof(pyds.NvDsVehicleObject)
    else:
        msg_meta.type = pyds.NvDsEventType.NVDS_EVENT_ENTRY
        msg_meta.objType = pyds.NvDsObjectType.NVDS_OBJECT_TYPE_PERSON
        msg_meta.objClassId = 2
        person = pyds.NvDsPersonObject.cast(pyds.alloc_nvds_person_object())
        person.age, person.cap, person.hair = 45, "none", "black"
        person.gender, person.apparel = "male", "formal"
        msg_meta.extMsg = person
        msg_meta.extMsgSize = sys.getsizeof(pyds.NvDsPersonObject)
    _attach(frame_meta, user_event_meta, msg_meta)


def _fill_from_object(msg_meta: Any, frame_meta: Any, obj_meta: Any) -> None:
    msg_meta.bbox.top = obj_meta.rect_params.top
    msg_meta.bbox.left = obj_meta.rect_params.left
    msg_meta.bbox.width = obj_meta.rect_params.width
    msg_meta.bbox.height = obj_meta.rect_params.height
    msg_meta.frameId = frame_meta.frame_num
    msg_meta.trackingId = obj_meta.object_id
    msg_meta.confidence = obj_meta.confidence
    msg_meta.sensorId = msg_meta.placeId = msg_meta.moduleId = 0
    msg_meta.ts = pyds.alloc_buffer(MAX_TIME_STAMP_LEN + 1)
    pyds.generate_ts_rfc3339(msg_meta.ts, MAX_TIME_STAMP_LEN)
    stamps.setdefault(frame_meta.frame_num, []).append(pyds.get_string(msg_meta.ts))


def _attach(frame_meta: Any, user_event_meta: Any, msg_meta: Any) -> None:
    user_event_meta.user_meta_data = msg_meta
    user_event_meta.base_meta.meta_type = pyds.NvDsMetaType.NVDS_EVENT_MSG_META
    pyds.nvds_add_user_meta_to_frame(frame_meta, user_event_meta)


def run_app(msgconv: str, broker_props: str, probe: Probe) -> tuple[Gst.Element, list[str], dict[str, Any]]:
    """Push FRAMES buffers through the two-branch pipeline; returns the broker, errors, EOS-time facts."""
    stamps.clear()
    pipeline = Gst.parse_launch(
        f"appsrc name=src format=time caps={NVMM_CAPS} ! queue ! identity name=osd ! tee name=nvsink-tee "
        f"nvsink-tee. ! queue name=nvtee-que1 ! nvmsgconv name=nvmsg-converter {msgconv} "
        f"! nvmsgbroker name=nvmsg-broker proto-lib={KAFKA_LIB} {broker_props} sync=false "
        "nvsink-tee. ! queue name=nvtee-que2 ! fakesink sync=false"
    )

    def osd_sink_pad_buffer_probe(pad: Gst.Pad, info: Gst.PadProbeInfo) -> Gst.PadProbeReturn:
        batch_meta = pyds.gst_buffer_get_nvds_batch_meta(hash(info.get_buffer()))
        l_frame = batch_meta.frame_meta_list
        while l_frame is not None:
            frame_meta = pyds.NvDsFrameMeta.cast(l_frame.data)
            l_obj = frame_meta.obj_meta_list
            while l_obj is not None:
                probe(batch_meta, frame_meta, pyds.NvDsObjectMeta.cast(l_obj.data))
                l_obj = l_obj.next
            l_frame = l_frame.next
        return Gst.PadProbeReturn.OK

    pipeline.get_by_name("osd").get_static_pad("sink").add_probe(
        Gst.PadProbeType.BUFFER, osd_sink_pad_buffer_probe
    )
    broker = pipeline.get_by_name("nvmsg-broker")
    errors: list[str] = []
    at_eos: dict[str, Any] = {}
    bus = pipeline.get_bus()
    try:
        assert pipeline.set_state(Gst.State.PLAYING) != Gst.StateChangeReturn.FAILURE
        source = pipeline.get_by_name("src")
        for n in range(FRAMES):
            buffer = Gst.Buffer.new_allocate(None, 64 * 48 * 4, None)
            buffer.pts = n * 33_333_333
            attach_batch_meta(buffer, muxed_batch(n))
            source.emit("push-buffer", buffer)
        source.emit("end-of-stream")
        while True:
            message = bus.timed_pop_filtered(60 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
            assert message is not None, "no EOS within 60 s"
            if message.type == Gst.MessageType.ERROR:
                errors.append(message.parse_error()[0].message)
                break
            # the pipeline reports EOS: what has the broker delivered by now?
            at_eos.update(
                sent=broker.broker.sent, delivered=broker.broker.delivered, failed=broker.broker.failed
            )
            break
    finally:
        pipeline.set_state(Gst.State.NULL)
    return broker, errors, at_eos


def test_seed_apps_minimal_messages_arrive_field_by_field(kafka_broker: KafkaBroker) -> None:
    topic = new_topic(kafka_broker)
    _, errors, at_eos = run_app(
        f"config={SEED_CONFIG} payload-type=1", f"conn-str={conn_str(kafka_broker, topic)}", seed_probe
    )
    assert errors == []
    # every message produced before EOS was delivered before the pipeline reported EOS
    assert at_eos == {"sent": FRAMES, "delivered": FRAMES, "failed": 0}
    assert sum(kafka_broker.end_offsets(topic).values()) == FRAMES

    records = kafka_broker.read_messages(topic, max_messages=FRAMES, timeout=30)
    assert len(records) == FRAMES
    assert {r.key for r in records} == {None}  # default partition-key sensor.id: not in the minimal schema
    by_frame = {int(r.json()["id"]): r for r in records}
    assert sorted(by_frame) == list(range(FRAMES))
    for n, record in by_frame.items():
        document = record.json()
        assert list(document) == ["version", "id", "@timestamp", "sensorId", "objects"]
        assert document["version"] == "4.0"
        assert document["@timestamp"] == stamps[n][0]  # the first event's ts, as the app wrote it
        assert document["sensorId"] == "sensor-0"  # sensorStr wins over [sensor0] id
        car, person = detections(n)
        assert document["objects"] == [
            f"{car[6]}|{car[2]:g}|200.5|{car[2] + 80.25:g}|240.5|Vehicle|#|||||||0.875",
            f"{person[6]}|10|20|15.5|50.25|Vehicle|#|||||||0.5",
        ]
        # json-glib's pretty printing, byte for byte
        assert record.value.startswith(b'{\n  "version" : "4.0",\n  "id" : "')


def test_test4_full_schema_messages_arrive_field_by_field(kafka_broker: KafkaBroker, tmp_path: Path) -> None:
    config = tmp_path / "dstest4_msgconv_config.txt"
    config.write_text(TEST4_CONFIG)
    broker_config = tmp_path / "cfg_kafka.txt"
    broker_config.write_text('[message-broker]\nproto-cfg = "message.timeout.ms=20000"\n')
    topic = new_topic(kafka_broker)
    _, errors, at_eos = run_app(
        f"config={config} payload-type=0",
        f"conn-str={conn_str(kafka_broker, 'unused')} topic={topic} config={broker_config}",
        deepstream_test4_probe,
    )
    assert errors == []
    count = 2 * FRAMES  # one full-schema message per event
    assert at_eos == {"sent": count, "delivered": count, "failed": 0}

    records = kafka_broker.read_messages(topic, max_messages=count, timeout=30)
    assert len(records) == count
    assert {r.key for r in records} == {b"CAMERA_ID"}  # partition-key sensor.id
    assert len({r.partition for r in records}) == 1  # one key, one partition
    documents = [r.json() for r in records]
    assert len({d["messageid"] for d in documents}) == count
    for document in documents:
        assert list(document) == [
            "messageid",
            "mdsversion",
            "@timestamp",
            "place",
            "sensor",
            "analyticsModule",
            "object",
            "event",
            "videoPath",
        ]
        assert uuid.UUID(document["messageid"]).version == 4
        assert uuid.UUID(document["event"]["id"]).version == 4
        assert document["mdsversion"] == "1.0"
        assert document["@timestamp"] in stamps[int(document["object"]["id"]) % 1000]
        assert document["sensor"] == {
            "id": "CAMERA_ID",
            "type": "Camera",
            "description": "Entrance of Garage Right Lane",
            "location": {"lat": 45.293701447, "lon": -75.8303914499, "alt": 48.1557479338},
            "coordinate": {"x": 5.2, "y": 10.1, "z": 11.2},
        }
        assert document["analyticsModule"] == {
            "id": "XYZ",
            "description": "Vehicle Detection and License Plate Recognition",
            "source": "OpenALR",
            "version": "1.0",
        }
        place = document["place"]
        assert (place["id"], place["name"], place["type"]) == ("1", "XYZ", "garage")
        assert place["location"] == {"lat": 30.32, "lon": -40.55, "alt": 100.0}
        assert document["videoPath"] == ""
        obj = document["object"]
        assert (obj["speed"], obj["direction"], obj["orientation"]) == (0.0, 0.0, 0.0)
        frame_num = int(obj["id"]) % 1000
        car, person = detections(frame_num)
        if document["event"]["type"] == "moving":
            assert obj["id"] == str(car[6])
            assert obj["vehicle"] == {
                "type": "sedan",
                "make": "Bugatti",
                "model": "M",
                "color": "blue",
                "licenseState": "CA",
                "license": "XX1234",
                "confidence": 0.875,
            }
            assert obj["bbox"] == {
                "topleftx": int(car[2]),
                "toplefty": 200,
                "bottomrightx": int(car[2] + 80.25),
                "bottomrighty": 240,
            }
            assert place["aisle"] == {
                "id": "walsh",
                "name": "lane1",
                "level": "P2",
                "coordinate": {"x": 1.0, "y": 2.0, "z": 3.0},
            }
        else:
            assert document["event"]["type"] == "entry"
            assert obj["id"] == str(person[6])
            assert obj["person"] == {
                "age": 45,
                "gender": "male",
                "hair": "black",
                "cap": "none",
                "apparel": "formal",
                "confidence": 0.5,
            }
            assert obj["bbox"] == {"topleftx": 10, "toplefty": 20, "bottomrightx": 15, "bottomrighty": 50}
            assert place["entrance"] == {
                "name": "walsh",
                "lane": "lane1",
                "level": "P2",
                "coordinate": {"x": 1.0, "y": 2.0, "z": 3.0},
            }
    assert sorted(d["event"]["type"] for d in documents) == ["entry"] * FRAMES + ["moving"] * FRAMES


def test_a_gst_launch_line_sends_dummy_payloads(kafka_broker: KafkaBroker) -> None:
    """gst-launch-1.0 on the device: the muxer's frames, a minimal dummy payload each, into Kafka."""
    topic = new_topic(kafka_broker)
    line = (
        "videotestsrc num-buffers=5 ! video/x-raw,width=64,height=48 ! nvvideoconvert "
        "! video/x-raw(memory:NVMM),format=NV12 "
        "! m.sink_0 nvstreammux name=m batch-size=1 width=64 height=48 "
        f"! nvmsgconv config={SEED_CONFIG} payload-type=PAYLOAD_DEEPSTREAM_MINIMAL dummy-payload=true "
        f"! nvmsgbroker proto-lib={KAFKA_LIB} conn-str={conn_str(kafka_broker, topic)} sync=false"
    )
    result = subprocess.run(
        ["gst-launch-1.0", *line.split()],
        env=deepstream_environment(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "CRITICAL" not in result.stderr
    # gst-launch-1.0 has exited: every message was delivered before EOS let it finish
    assert sum(kafka_broker.end_offsets(topic).values()) == 5
    documents = sorted(
        (r.json() for r in kafka_broker.read_messages(topic, max_messages=5, timeout=30)),
        key=lambda d: int(d["id"]),
    )
    assert [d["id"] for d in documents] == ["0", "1", "2", "3", "4"]
    assert {d["sensorId"] for d in documents} == {"highway-cam-0"}  # [sensor0] of the frame's source
    assert all(d["objects"] == [] for d in documents)
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", d["@timestamp"]) for d in documents)


# -- the seed app's own probe and message branch ----------------------------------------------------

MIRROR = Path("/work/.mirror")
SEED_REPO = MIRROR / "jastinjn+deepstream-greengrass-app" / "repo"
TRACKER_LIB = "/opt/nvidia/deepstream/deepstream/lib/libnvds_nvmultiobjecttracker.so"


@pytest.fixture
def seed_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ModuleType, Path]]:
    """The seed's deepstream_app module, unmodified from the mirror, imported as a device imports it
    (``import pyds`` finds the emulation in the site directory), and the folder of its files."""
    if not SEED_REPO.is_dir():
        pytest.skip(f"the seed app is not mirrored under {MIRROR}")
    git = ["git", "-C", str(SEED_REPO)]
    names = subprocess.run(
        [*git, "ls-tree", "-r", "--name-only", "HEAD"], check=True, capture_output=True, text=True
    )
    source = tmp_path / "seed"
    for name in names.stdout.splitlines():
        if name.startswith("artifacts/source/") and name.endswith((".py", ".txt", ".yml")):
            target = source / name.removeprefix("artifacts/source/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(
                subprocess.run([*git, "show", f"HEAD:{name}"], check=True, capture_output=True).stdout
            )
    before = set(sys.modules)
    monkeypatch.syspath_prepend(str(source))
    monkeypatch.syspath_prepend(str(SITE_DIR))
    app = importlib.import_module("deepstream_app")
    app.perf_data = app.PERF_DATA(1)
    yield app, source
    for name in set(sys.modules) - before:
        if name == "pyds" or name.split(".")[0] in ("common", "cuda") or name.startswith("deepstream"):
            del sys.modules[name]


@pytest.mark.filterwarnings("ignore:GstRtspServer was imported without specifying a version")
def test_the_seed_apps_probe_and_message_branch(
    seed_app: tuple[ModuleType, Path], kafka_broker: KafkaBroker, tmp_path: Path
) -> None:
    """nvtracker → nvdsanalytics (the seed's probe on its src pad) → nvdsosd → tee → queue →
    nvmsgconv (the seed's msgconv_config.txt, payload-type 1) → nvmsgbroker (the seed's proto-lib and
    conn-str; sync left at its default, as the seed leaves it); the other branch renders."""
    app, source = seed_app
    width, height = 320, 240
    tracker_config = tmp_path / "tracker.yml"
    tracker_config.write_text("%YAML:1.0\nTargetManagement:\n  probationAge: 2\n")
    analytics_config = tmp_path / "analytics.txt"
    analytics_config.write_text(
        f"[property]\nenable=1\nconfig-width={width}\nconfig-height={height}\nosd-mode=0\n\n"
        "[roi-filtering-stream-0]\nenable=1\nroi-TL1=0;0;160;0;160;240;0;240\n"
    )
    topic = new_topic(kafka_broker)
    pipeline = Gst.parse_launch(
        f"appsrc name=src format=time caps={nvmm_rgba(width, height)} "
        f"! nvtracker ll-lib-file={TRACKER_LIB} ll-config-file={tracker_config} "
        f"! nvdsanalytics name=analytics config-file={analytics_config} ! nvdsosd ! tee name=nvsink-tee "
        "nvsink-tee. ! queue name=nvtee-que1 "
        f"! nvmsgconv name=nvmsg-converter config={source / 'msgconv_config.txt'} payload-type=1 "
        f"! nvmsgbroker name=nvmsg-broker proto-lib={KAFKA_LIB} conn-str={conn_str(kafka_broker, topic)} "
        "nvsink-tee. ! queue name=nvtee-que2 ! fakesink sync=false"
    )
    pipeline.get_by_name("analytics").get_static_pad("src").add_probe(
        Gst.PadProbeType.BUFFER, app.nvanalytics_src_pad_buffer_probe, 0
    )
    broker = pipeline.get_by_name("nvmsg-broker")
    at_eos: dict[str, int] = {}
    source_element = pipeline.get_by_name("src")
    try:
        assert pipeline.set_state(Gst.State.PLAYING) != Gst.StateChangeReturn.FAILURE
        for n in range(4):
            # a car inside TL1 (the left half) and one outside it; frames 0, 30, 60, 90
            cars = [
                Detection((20.0 + 3 * n, 60.0, 40.0, 30.0)),
                Detection((220.0 + 3 * n, 150.0, 40.0, 30.0)),
            ]
            buffer = Gst.Buffer.new_wrapped(bytes(width * height * 4))
            buffer.pts, buffer.duration = n * Gst.SECOND // 30, Gst.SECOND // 30
            attach_batch_meta(buffer, batch_meta([(0, n * 30, cars)], width, height))
            assert source_element.emit("push-buffer", buffer) == Gst.FlowReturn.OK
        source_element.emit("end-of-stream")
        message = pipeline.get_bus().timed_pop_filtered(
            30 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR
        )
        assert message is not None and message.type == Gst.MessageType.EOS, message and message.parse_error()
        at_eos.update(sent=broker.broker.sent, delivered=broker.broker.delivered)
    finally:
        pipeline.set_state(Gst.State.NULL)

    # the tracker confirms the car on the third frame: events on frames 60 and 90, one object each
    assert at_eos == {"sent": 2, "delivered": 2}
    records = kafka_broker.read_messages(topic, max_messages=2, timeout=30)
    documents = sorted((r.json() for r in records), key=lambda d: int(d["id"]))
    assert [d["id"] for d in documents] == ["60", "90"]
    for document in documents:
        assert document["version"] == "4.0"
        assert document["sensorId"] == "sensor-0"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", document["@timestamp"])
        [obj] = document["objects"]
        tracking_id, left, top, right, bottom, kind, *rest = obj.split("|")
        assert (tracking_id, kind) == ("0", "Vehicle")  # objType left at 0: a vehicle
        assert float(left) < 160 and float(right) - float(left) == pytest.approx(40, abs=4)
        assert float(bottom) - float(top) == pytest.approx(30, abs=4)
        assert rest == ["#", "", "", "", "", "", "", "0.9"]  # no extMsg; the detector's confidence
