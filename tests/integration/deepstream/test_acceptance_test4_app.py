"""Acceptance: a deepstream-test4 style app (apps/deepstream_test_4.py) through the real services.

filesrc → h264parse → nvv4l2decoder → nvstreammux → nvinferserver (detector B on the real
tritonserver) → nvvideoconvert → nvdsosd → tee → nvmsgconv (full schema) → nvmsgbroker → the real
Kafka-protocol broker. Every message read back is checked field by field against what the app's
probe attached (its JSON lines), the msgconv config, DeepStream's schema and the world's truth.
"""

from __future__ import annotations

import json
import re
import uuid

import numpy as np
import pytest
from acceptance import (
    APPS,
    KAFKA_PROTO_LIB,
    detector_folder,
    elementary_stream,
    imported_top_level,
    run_app,
    world_clip,
)

pytestmark = pytest.mark.integration

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
UNTRACKED = str(2**64 - 1)
CLASS_IDS = {"car": 0, "truck": 1, "bus": 2, "motorcycle": 3}
PLACE = {
    "id": "place-7",
    "name": "Acceptance motorway",
    "type": "motorway",
    "location": {"lat": 52.5201, "lon": 13.4049, "alt": 34.0},
}
PLACE_COORDINATE = {"x": 10.0, "y": 20.0, "z": 0.5}
SENSOR = {
    "id": "acceptance-cam-0",
    "type": "Camera",
    "description": "Synthetic highway camera of the acceptance tests",
    "location": {"lat": 52.52, "lon": 13.405, "alt": 30.5},
    "coordinate": {"x": 1.5, "y": -2.25, "z": 30.5},
}
ANALYTICS = {
    "id": "acceptance-analytics",
    "description": "Detector B through Triton, events every 30 frames",
    "source": "deepstream-test4 style app",
    "version": "2.1",
}
ZERO_LOCATION = {"lat": 0.0, "lon": 0.0, "alt": 0.0}
ZERO_COORDINATE = {"x": 0.0, "y": 0.0, "z": 0.0}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, kafka_broker) -> dict:
    """One run of the app on a 3 s world clip (seed 2003: cars and two motorcycles from frame 1)."""
    base = tmp_path_factory.mktemp("test4-app")
    clip = elementary_stream(world_clip(base / "world", seed=2003))
    work = detector_folder(base / "work")
    topic = f"acceptance-test4-{uuid.uuid4().hex[:8]}"
    kafka_broker.create_topic(topic)
    host, port = kafka_broker.bootstrap_servers.split(",")[0].rsplit(":", 1)
    result = run_app(
        [str(APPS / "deepstream_test_4.py"), "-i", str(clip), "-c", "config_infer_primary_rtdetr_triton.yml",
         "-p", KAFKA_PROTO_LIB, f"--conn-str={host};{port}", "-t", topic, "-s", "0",
         "--events-out", str(base / "events.jsonl")],
        cwd=work, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.tail()
    attached = [json.loads(line) for line in (base / "events.jsonl").read_text().splitlines()]
    records = kafka_broker.read_messages(topic, max_messages=len(attached) + 1, timeout=30)
    truth = [
        [int(v) for v in line.split(",")[:8]] + [float(line.split(",")[8])]
        for line in (base / "world" / "gt.txt").read_text().splitlines()
    ]
    return {"result": result, "attached": attached, "records": records, "clip": clip, "truth": truth}


def test_the_app_runs_to_the_end_and_frees_every_event(run: dict) -> None:
    out = run["result"].output
    frames = re.findall(r"^Frame Number = (\d+) Object counts = (.*)$", out, re.MULTILINE)
    assert [int(n) for n, _ in frames] == list(range(90)), "every frame passed the OSD probe"
    assert "End-of-stream" in out
    attached = run["attached"]
    assert [e["frame"] for e in attached] == sorted(e["frame"] for e in attached)
    assert {e["frame"] for e in attached} <= {0, 30, 60}
    assert {e["kind"] for e in attached} == {"vehicle", "person"}, "cars and motorcycles are on screen"
    # the app's release callback ran once per event, when its buffer was freed; nothing copied them
    assert f"events attached={len(attached)} released={len(attached)} copied=0" in out


def test_every_event_reaches_kafka_once_in_the_full_schema(run: dict) -> None:
    records, attached = run["records"], run["attached"]
    assert len(records) == len(attached), "nvmsgbroker delivers every payload before EOS"
    by_ts: dict[tuple[str, str], dict] = {}
    for record in records:
        doc = record.json()
        assert list(doc) == [
            "messageid", "mdsversion", "@timestamp", "place", "sensor", "analyticsModule", "object",
            "event", "videoPath",
        ]  # fmt: skip
        kind = "vehicle" if "vehicle" in doc["object"] else "person"
        by_ts[(doc["@timestamp"], kind)] = doc
        # the default partition key is sensor.id
        assert record.key == b"acceptance-cam-0"
    assert sorted(by_ts) == sorted((e["ts"], e["kind"]) for e in attached)
    ids = [doc["messageid"] for doc in by_ts.values()] + [doc["event"]["id"] for doc in by_ts.values()]
    assert len(set(ids)) == len(ids), "message and event ids are fresh UUIDs"


def _float32(value: float) -> float:
    return float(np.float32(value))


def test_each_message_field_by_field(run: dict) -> None:
    docs = {(r.json()["@timestamp"], "vehicle" if "vehicle" in r.json()["object"] else "person"): r.json()
            for r in run["records"]}  # fmt: skip
    for event in run["attached"]:
        doc = docs[(event["ts"], event["kind"])]
        assert uuid.UUID(doc["messageid"]).version == 4
        assert uuid.UUID(doc["event"]["id"]).version == 4
        assert doc["mdsversion"] == "1.0"
        assert TIMESTAMP.match(doc["@timestamp"]) and doc["@timestamp"] == event["ts"]
        assert doc["sensor"] == SENSOR
        assert doc["analyticsModule"] == ANALYTICS
        place = dict(doc["place"])
        if event["kind"] == "vehicle":
            # a moving vehicle: the place's sub-object is the aisle, from place-sub-field1..3
            assert place.pop("aisle") == {"id": "northbound", "name": "lane 2", "level": "deck",
                                          "coordinate": PLACE_COORDINATE}  # fmt: skip
            assert doc["event"] == {"id": doc["event"]["id"], "type": "moving"}
        else:
            # an entry of a person: the entrance
            assert place.pop("entrance") == {"name": "northbound", "lane": "lane 2", "level": "deck",
                                             "coordinate": PLACE_COORDINATE}  # fmt: skip
            assert doc["event"] == {"id": doc["event"]["id"], "type": "entry"}
        assert place == PLACE
        assert doc["videoPath"] == str(run["clip"])

        obj = doc["object"]
        assert obj["id"] == UNTRACKED == str(event["object_id"]), "no tracker: the untracked id"
        assert (obj["speed"], obj["direction"], obj["orientation"]) == (0.0, 0.0, 0.0)
        assert obj["location"] == ZERO_LOCATION and obj["coordinate"] == ZERO_COORDINATE
        assert obj["pose"] == {}
        # bbox: C floats left, top, left + width, top + height truncated to ints
        left, top = np.float32(event["left"]), np.float32(event["top"])
        right, bottom = left + np.float32(event["width"]), top + np.float32(event["height"])
        assert obj["bbox"] == {"topleftx": int(left), "toplefty": int(top),
                               "bottomrightx": int(right), "bottomrighty": int(bottom)}  # fmt: skip
        assert all(isinstance(v, int) for v in obj["bbox"].values())
        confidence = _float32(event["confidence"])
        assert 0.5 <= confidence <= 1.0
        if event["kind"] == "vehicle":
            assert event["label"] in {"car", "truck", "bus"}
            assert obj["vehicle"] == {
                "type": event["label"], "make": "Generic", "model": "Sedan-X", "color": "grey",
                "licenseState": "SG", "license": "WRLD42", "confidence": confidence,
            }  # fmt: skip
        else:
            assert event["label"] == "motorcycle"
            assert obj["person"] == {
                "age": 35, "gender": "female", "hair": "black", "cap": "helmet", "apparel": "jacket",
                "confidence": confidence,
            }  # fmt: skip


def _iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    ax2, ay2, bx2, by2 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    w = max(0.0, min(ax2, bx2) - max(a[0], b[0]))
    h = max(0.0, min(ay2, by2) - max(a[1], b[1]))
    inter = w * h
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def test_the_events_are_vehicles_the_world_has_there(run: dict) -> None:
    """Detector B through Triton found them: each reported box overlaps a true box of its class."""
    for event in run["attached"]:
        frame = event["frame"] + 1  # gt.txt counts frames from 1
        truths = [row for row in run["truth"] if row[0] == frame and row[7] == CLASS_IDS[event["label"]]]
        box = (event["left"], event["top"], event["width"], event["height"])
        best = max((_iou(box, tuple(row[2:6])) for row in truths), default=0.0)
        assert best >= 0.5, (event, truths)


def test_no_acceptance_app_imports_anything_of_edge_harness() -> None:
    """Every app and its helpers (apps/**.py) ship as they are: only GStreamer, pyds and the like."""
    sources = sorted(APPS.rglob("*.py"))
    assert len(sources) >= 8
    for source in sources:
        imported = imported_top_level(source)
        assert not imported & {"harness", "fake_device", "acceptance"}, (source, imported)
    assert {"gi", "pyds"} <= imported_top_level(APPS / "deepstream_test_4.py")
