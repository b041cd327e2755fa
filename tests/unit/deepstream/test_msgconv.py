"""nvmsgconv emulation: config parsing, the full and minimal DeepStream schemas, timestamps."""

from __future__ import annotations

import ctypes
import ctypes.util
import itertools
import json
import logging
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fake_device.deepstream.errors import ConfigError
from fake_device.deepstream.meta import UNTRACKED_OBJECT_ID, FrameMeta, ObjectMeta
from fake_device.deepstream.msgconv import (
    EventMsg,
    EventType,
    FaceObject,
    GeoLocation,
    KeyFile,
    MsgConvError,
    NvMsgConv,
    ObjectType,
    Payload,
    PersonObject,
    ProductObject,
    Rect,
    VehicleObject,
    format_rfc3339_ms,
    glib_json,
    load_msgconv_config,
)

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[3]
SEED_CONFIG = REPO / "scenarios" / "traffic" / "app" / "msgconv_config.txt"

CONFIG = """\
# test config
[sensor0]
enable=1
type=Camera
id=cam-0
location=45.293701447;-75.8303914499;48.1557479338
description=Entrance camera
coordinate=5.2;10.1;11.2

[sensor2]
enable=1
type=Camera
id=cam-2
description="quoted stays quoted"

[place0]
enable=1
id=1
type=garage
name=XYZ
location=30.32;-40.55;100.0
coordinate=1.0;2.0;3.0
place-sub-field1=walsh
place-sub-field2=lane1
place-sub-field3=P2

[analytics0]
enable=1
id=XYZ
description=Vehicle Detection
source=OpenALR
version=1.0
"""

# 2023-11-14T22:13:20.123456789Z
NTP_NS = 1_700_000_000_123_456_789


def write(tmp_path: Path, text: str, name: str = "msgconv.txt") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def frame(frame_num: int = 30, source_id: int = 0, objects: list[ObjectMeta] | None = None) -> FrameMeta:
    return FrameMeta(
        source_id=source_id,
        frame_num=frame_num,
        ntp_timestamp=NTP_NS,
        source_frame_width=1280,
        source_frame_height=720,
        objects=objects or [],
    )


def fixed_uuids() -> Any:
    counter = itertools.count(1)
    return lambda: f"00000000-0000-4000-8000-{next(counter):012d}"


def assert_same_json(actual: Any, expected: Any, where: str = "$") -> None:
    """Equal values, identical JSON types (int is not float) and identical member order."""
    assert type(actual) is type(expected), f"{where}: {type(actual).__name__} != {type(expected).__name__}"
    if isinstance(expected, dict):
        assert list(actual) == list(expected), f"{where}: member order {list(actual)} != {list(expected)}"
        for key in expected:
            assert_same_json(actual[key], expected[key], f"{where}.{key}")
    elif isinstance(expected, list):
        assert len(actual) == len(expected), f"{where}: length"
        for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
            assert_same_json(a, e, f"{where}[{i}]")
    else:
        assert actual == expected, f"{where}: {actual!r} != {expected!r}"


# -- config: key file ---------------------------------------------------------------------


def test_key_file_config_reads_every_group(tmp_path: Path) -> None:
    config = load_msgconv_config(write(tmp_path, CONFIG))
    sensor = config.sensors[0]
    assert sensor.id == "cam-0"
    assert sensor.type == "Camera"
    assert sensor.description == "Entrance camera"
    assert sensor.location == (45.293701447, -75.8303914499, 48.1557479338)
    assert sensor.coordinate == (5.2, 10.1, 11.2)
    # GKeyFile keeps quotes; a missing location stays 0;0;0 as in NvDsSensorObject = {{0}}.
    assert config.sensors[2].description == '"quoted stays quoted"'
    assert config.sensors[2].location == (0.0, 0.0, 0.0)
    place = config.places[0]
    assert (place.id, place.type, place.name) == ("1", "garage", "XYZ")
    assert (place.sub_field1, place.sub_field2, place.sub_field3) == ("walsh", "lane1", "P2")
    assert config.analytics[0].version == "1.0"
    assert config.sensor_id(2) == "cam-2"
    assert config.sensor_id(1) is None


def test_disabled_and_enable_less_groups_are_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    text = "[sensor0]\nenable=0\nid=a\n[sensor1]\nid=b\n[sensor2]\nenable=true\nid=c\n"
    with caplog.at_level(logging.WARNING):
        config = load_msgconv_config(write(tmp_path, text))
    assert list(config.sensors) == [2]
    assert config.disabled == {"sensor0": 0, "sensor1": 1}
    assert "[sensor1] has no enable=1" in caplog.text


def test_the_seed_app_config_loads() -> None:
    config = load_msgconv_config(SEED_CONFIG)
    assert config.sensors[0].id == "highway-cam-0"
    assert config.places[0].type == "highway"
    assert config.analytics[0].id
    assert not config.disabled


@pytest.mark.parametrize(
    ("text", "line", "fragments"),
    [
        ("[sensor0]\nenable=1\nlocation=1.0;2.0\n", 3, ["location has 2 values", "3 numbers lat;lon;alt"]),
        ("[sensor0]\nenable=1\ncoordinate=1;2;3;4\n", 3, ["coordinate has 4 values", "x;y;z"]),
        ("[sensor0]\nenable=1\nlocation=45.2;abc;1\n", 3, ["'abc' is not a number"]),
        ("[sensor0]\nenable=1\nlocation=45.2;1 ;1\n", 3, ["'1 ' is not a number"]),
        (
            "[sensor0]\nenable=1\ndesciption=x\n",
            3,
            ["unknown key 'desciption' in [sensor0]", "'description'"],
        ),
        (
            "[place0]\nenable=1\nplace-sub-field4=x\n",
            3,
            ["unknown key 'place-sub-field4'", "place-sub-field1"],
        ),
        ("[sensr0]\nenable=1\n", 1, ["unknown group 'sensr0'", "did you mean sensor0?"]),
        ("[analytic1]\nenable=1\n", 1, ["unknown group 'analytic1'", "did you mean analytics1?"]),
        ("[sensor]\nenable=1\n", 1, ["no number after 'sensor'", "sensor<N>"]),
        ("[sensor0]\nenable=yes\n", 2, ["enable='yes' is not a boolean", "1, 0, true or false"]),
        ("[sensor0]\nenable=1\n[sensor00]\nenable=1\n", 3, ["[sensor00] describes sensor 0 again"]),
        ("id=1\n[sensor0]\n", 1, ["does not start with a group"]),
        ("[sensor0]\nenable 1\n", 2, ["'enable 1' is not a key-value pair, group, or comment"]),
        ("[sensor0\nenable=1\n", 1, ["not a key-value pair, group, or comment"]),
        ("[sensor0]\nenable=1\nid=a\\qb\n", 3, ["invalid escape '\\q'"]),
    ],
)
def test_bad_key_file_configs_name_file_and_line(
    tmp_path: Path, text: str, line: int, fragments: list[str]
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_msgconv_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}:{line}: "), message
    assert info.value.line == line
    for fragment in fragments:
        assert fragment in message


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_msgconv_config(tmp_path / "nope.txt")


def test_key_file_values_follow_glib() -> None:
    key_file = KeyFile.parse(
        "  [g]\n# c\nenable = 1  \nid=  a b  \nesc=x\\sy\\tz\\\\\nlist=1; 2;3;\nempty=\n", "f.txt"
    )
    group = key_file.groups["g"]
    assert group.get("enable").raw == "1  "  # type: ignore[union-attr]
    assert key_file.boolean(group.get("enable"))  # type: ignore[arg-type]
    assert key_file.string(group.get("id")) == "a b  "  # type: ignore[arg-type]
    assert key_file.string(group.get("esc")) == "x y\tz\\"  # type: ignore[arg-type]
    assert key_file.double_list(group.get("list")) == [1.0, 2.0, 3.0]  # type: ignore[arg-type]
    assert key_file.double_list(group.get("empty")) == []  # type: ignore[arg-type]


_GLIB = ctypes.util.find_library("glib-2.0")


@pytest.mark.skipif(_GLIB is None, reason="libglib-2.0 not installed")
def test_key_file_reader_agrees_with_libglib() -> None:
    """The reader against the real GKeyFile on tricky input (libglib is on most Linux hosts)."""
    glib = ctypes.CDLL(_GLIB)  # type: ignore[arg-type]
    glib.g_key_file_new.restype = ctypes.c_void_p
    glib.g_key_file_load_from_data.argtypes = [
        ctypes.c_void_p,
        ctypes.c_char_p,
        ctypes.c_ssize_t,
        ctypes.c_int,
        ctypes.c_void_p,
    ]
    glib.g_key_file_get_string.restype = ctypes.c_void_p
    glib.g_key_file_get_string.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p]
    glib.g_key_file_get_double_list.restype = ctypes.POINTER(ctypes.c_double)
    glib.g_key_file_get_double_list.argtypes = [
        ctypes.c_void_p,
        ctypes.c_char_p,
        ctypes.c_char_p,
        ctypes.POINTER(ctypes.c_size_t),
        ctypes.c_void_p,
    ]
    glib.g_free.argtypes = [ctypes.c_void_p]
    text = (
        '# comment\n  [sensor0]\nenable=1\nid =  cam 0  \ndescription="q" # not a comment\n'
        "location=1; 2;3;\ncoordinate=-1e2;.5;+3\n[sensor0]\ntype=Camera\nid=last wins\n"
    )
    handle = glib.g_key_file_new()
    assert glib.g_key_file_load_from_data(handle, text.encode(), -1, 0, None)
    ours = KeyFile.parse(text)
    group = ours.groups["sensor0"]
    for key in ("id", "description", "type"):
        pointer = glib.g_key_file_get_string(handle, b"sensor0", key.encode(), None)
        theirs = ctypes.string_at(pointer).decode()
        glib.g_free(pointer)
        assert ours.string(group.get(key)) == theirs  # type: ignore[arg-type]
    for key in ("location", "coordinate"):
        length = ctypes.c_size_t()
        values = glib.g_key_file_get_double_list(handle, b"sensor0", key.encode(), ctypes.byref(length), None)
        theirs_list = [values[i] for i in range(length.value)]
        assert ours.double_list(group.get(key)) == theirs_list  # type: ignore[arg-type]


# -- config: YAML -------------------------------------------------------------------------


YAML_CONFIG = """\
sensor0:
  enable: 1
  type: Camera
  id: cam-0
  location: 45.293701447;-75.8303914499;48.1557479338
  description: "Entrance camera"
  coordinate: 5.2;10.1;11.2
place0:
  enable: 1
  id: 007
  type: garage
  name: XYZ
  location: 30.32;-40.55;100.0
  coordinate: 1.0;2.0;3.0
  place-sub-field1: walsh
  place-sub-field2: lane1
  place-sub-field3: P2
analytics0:
  enable: 1
  id: XYZ
  description: Vehicle Detection
  source: OpenALR
  version: 1.10
"""


def test_yaml_config_reads_the_same_groups(tmp_path: Path) -> None:
    config = load_msgconv_config(write(tmp_path, YAML_CONFIG, "msgconv.yml"))
    assert config.sensors[0].description == "Entrance camera"  # YAML removes the quotes
    assert config.sensors[0].location == (45.293701447, -75.8303914499, 48.1557479338)
    # yaml-cpp's as<std::string>() returns the scalar as written
    assert config.places[0].id == "007"
    assert config.analytics[0].version == "1.10"
    assert config.places[0].line == 8


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("sensor0:\n  enable: true\n", 2, "sensor0.enable: 'true' is not an integer"),
        ("sensor0:\n  enable: 1\n  location: [1, 2, 3]\n", 3, "sensor0.location must be a single value"),
        ("sensor0:\n  enable: 1\n  location: 1;2\n", 3, "location has 2 values"),
        ("sensor0:\n  enable: 1\n  colour: red\n", 3, "unknown key 'colour'"),
        ("sensors0:\n  enable: 1\n", 1, "no number after 'sensor'"),
        ("camera0:\n  enable: 1\n", 1, "unknown group 'camera0'"),
        ("sensor0:\n  enable: 1\n  id: [\n", 4, "not valid YAML"),
    ],
)
def test_bad_yaml_configs_name_the_line(tmp_path: Path, text: str, line: int, fragment: str) -> None:
    path = write(tmp_path, text, "msgconv.yaml")
    with pytest.raises(ConfigError) as info:
        load_msgconv_config(path)
    assert info.value.line == line, str(info.value)
    assert fragment in str(info.value)


# -- the element's start-up checks --------------------------------------------------------


def test_full_schema_needs_a_config_file() -> None:
    with pytest.raises(MsgConvError, match=r"payload-type 0 \(full schema\) needs a config file"):
        NvMsgConv(None, 0)
    assert NvMsgConv(None, 1).config is None


@pytest.mark.parametrize("payload_type", [2, 257, 7])
def test_other_payload_types_are_refused(payload_type: int) -> None:
    with pytest.raises(MsgConvError, match="payload-type"):
        NvMsgConv(None, payload_type)


# -- payload type 0 -----------------------------------------------------------------------


def vehicle_event(**overrides: Any) -> EventMsg:
    values: dict[str, Any] = {
        "type": "moving",
        "objType": "vehicle",
        "bbox": Rect(top=200.2, left=100.7, width=50.5, height=30.9),
        "frameId": 30,
        "trackingId": 42,
        "confidence": float(np.float32(0.9)),
        "ts": NTP_NS,
        "extMsg": VehicleObject(
            type="sedan", make="Bugatti", model="M", color="blue", region="CA", license="XX1234"
        ),
    }
    values.update(overrides)
    return EventMsg(**values)


def test_full_schema_payload_field_by_field(tmp_path: Path) -> None:
    conv = NvMsgConv(write(tmp_path, CONFIG), 0, uuid_factory=fixed_uuids())
    [payload] = conv.convert(frame(), [vehicle_event()])
    expected = {
        "messageid": "00000000-0000-4000-8000-000000000001",
        "mdsversion": "1.0",
        "@timestamp": "2023-11-14T22:13:20.123Z",
        "place": {
            "id": "1",
            "name": "XYZ",
            "type": "garage",
            "location": {"lat": 30.32, "lon": -40.55, "alt": 100.0},
            "aisle": {
                "id": "walsh",
                "name": "lane1",
                "level": "P2",
                "coordinate": {"x": 1.0, "y": 2.0, "z": 3.0},
            },
        },
        "sensor": {
            "id": "cam-0",
            "type": "Camera",
            "description": "Entrance camera",
            "location": {"lat": 45.293701447, "lon": -75.8303914499, "alt": 48.1557479338},
            "coordinate": {"x": 5.2, "y": 10.1, "z": 11.2},
        },
        "analyticsModule": {
            "id": "XYZ",
            "description": "Vehicle Detection",
            "source": "OpenALR",
            "version": "1.0",
        },
        "object": {
            "id": "42",
            "speed": 0.0,
            "direction": 0.0,
            "orientation": 0.0,
            "vehicle": {
                "type": "sedan",
                "make": "Bugatti",
                "model": "M",
                "color": "blue",
                "licenseState": "CA",
                "license": "XX1234",
                "confidence": 0.8999999761581421,
            },
            "bbox": {"topleftx": 100, "toplefty": 200, "bottomrightx": 151, "bottomrighty": 231},
            "location": {"lat": 0.0, "lon": 0.0, "alt": 0.0},
            "coordinate": {"x": 0.0, "y": 0.0, "z": 0.0},
            "pose": {},
        },
        "event": {"id": "00000000-0000-4000-8000-000000000002", "type": "moving"},
        "videoPath": "",
    }
    assert isinstance(payload, Payload) and isinstance(payload, bytes)
    assert_same_json(json.loads(payload), expected)


def test_full_schema_text_is_json_glib_pretty_output(tmp_path: Path) -> None:
    conv = NvMsgConv(write(tmp_path, CONFIG), 0, uuid_factory=fixed_uuids())
    [payload] = conv.convert(frame(), [vehicle_event()])
    text = payload.decode()
    assert text.startswith(
        '{\n  "messageid" : "00000000-0000-4000-8000-000000000001",\n  "mdsversion" : "1.0",\n'
    )
    # doubles are %.17g, whole doubles keep ".0"
    assert '      "lon" : -40.549999999999997,\n' in text
    assert '      "alt" : 100.0\n' in text
    assert '      "x" : 5.2000000000000002,\n' in text
    assert '    "speed" : 0.0,\n' in text
    assert '      "confidence" : 0.89999997615814209\n' in text
    # an empty object keeps its indentation; no trailing newline after the last brace
    assert '    "pose" : {    }\n  },\n' in text
    assert text.endswith('  "videoPath" : ""\n}')


def test_full_schema_defaults_for_missing_extension_and_other_objects(tmp_path: Path) -> None:
    conv = NvMsgConv(write(tmp_path, CONFIG), 0)
    events = [
        EventMsg(type="entry", objType="vehicle", ts=NTP_NS),
        EventMsg(type="entry", objType="person", ts=NTP_NS),
        EventMsg(type="exit", objType="person", ts=NTP_NS, extMsg=PersonObject(age=45, gender="male")),
        EventMsg(type="parked", objType="face", ts=NTP_NS, extMsg=FaceObject(name="n")),
        EventMsg(type="empty", objType="product", ts=NTP_NS, extMsg=ProductObject(brand="b")),
        EventMsg(type="reset", objType="unknown", objectId="widget", ts=NTP_NS, videoPath="/v.mp4"),
        EventMsg(type="custom", objType="bag", ts=NTP_NS, objSignature=[0.5, 1.0]),
    ]
    docs = [json.loads(p) for p in conv.convert(frame(), events)]
    vehicle, person, person_ext, face, product, unknown, bag = (d["object"] for d in docs)
    # no extMsg: empty strings and confidence 1.0 (eventmsg_payload.cpp)
    assert vehicle["vehicle"] == {
        "type": "",
        "make": "",
        "model": "",
        "color": "",
        "licenseState": "",
        "license": "",
        "confidence": 1.0,
    }
    assert_same_json(
        person["person"], {"age": 0, "gender": "", "hair": "", "cap": "", "apparel": "", "confidence": 1.0}
    )
    # unset strings of an extension are NULL pointers: JSON null
    assert_same_json(
        person_ext["person"],
        {"age": 45, "gender": "male", "hair": None, "cap": None, "apparel": None, "confidence": 0.0},
    )
    assert list(face["face"]) == [
        "age",
        "gender",
        "hair",
        "cap",
        "glasses",
        "facialhair",
        "name",
        "eyecolor",
        "confidence",
    ]
    assert product["product"] == {"brand": "b", "type": None, "shape": None}
    assert list(unknown)[4] == "widget" and unknown["widget"] == {}
    assert bag["signature"] == [0.5, 1.0] and "bag" not in bag
    # place sub-object by event type (and object type for entry/exit)
    places = [d["place"] for d in docs]
    assert "aisle" in places[0]  # entry of a vehicle
    assert places[1]["entrance"] == {
        "name": "walsh",
        "lane": "lane1",
        "level": "P2",
        "coordinate": places[1]["entrance"]["coordinate"],
    }
    assert "parkingSpot" in places[3] and places[3]["parkingSpot"]["type"] == "lane1"
    assert "parkingSpot" in places[4]
    assert set(places[5]) == {"id", "name", "type", "location"}  # reset: no sub-object
    assert [d["event"].get("type") for d in docs] == [
        "entry",
        "entry",
        "exit",
        "parked",
        "empty",
        "reset",
        None,
    ]
    assert docs[5]["videoPath"] == "/v.mp4"


def test_bbox_is_truncated_after_float32_arithmetic(tmp_path: Path) -> None:
    conv = NvMsgConv(write(tmp_path, CONFIG), 0)
    event = vehicle_event(bbox=Rect(top=-0.5, left=0.1, width=0.9, height=10.99))
    bbox = json.loads(conv.convert(frame(), [event])[0])["object"]["bbox"]
    # 0.1f + 0.9f is 1.0f in C; the same numbers added as doubles give 0.99999997…, i.e. 0
    assert bbox == {"topleftx": 0, "toplefty": 0, "bottomrightx": 1, "bottomrighty": 10}


def test_untracked_object_id_prints_as_uint64(tmp_path: Path) -> None:
    conv = NvMsgConv(write(tmp_path, CONFIG), 0)
    doc = json.loads(conv.convert(frame(), [vehicle_event(trackingId=UNTRACKED_OBJECT_ID)])[0])
    assert doc["object"]["id"] == "18446744073709551615"
    doc = json.loads(conv.convert(frame(), [vehicle_event(trackingId=-1)])[0])
    assert doc["object"]["id"] == "18446744073709551615"


def test_missing_sensor_is_a_config_error_in_strict_mode(tmp_path: Path) -> None:
    path = write(tmp_path, CONFIG + "[sensor1]\nenable=0\nid=off\n")
    conv = NvMsgConv(path, 0)
    with pytest.raises(ConfigError) as info:
        conv.convert(frame(), [vehicle_event(sensorId=3)])
    message = str(info.value)
    assert message.startswith(f"{path}: an event has sensorId 3 but there is no enabled [sensor3] group")
    assert '"sensor" : null' in message
    assert "enabled sensor groups: [sensor0], [sensor2]" in message
    with pytest.raises(ConfigError, match=r"\[sensor1\] is there but not enabled: add enable=1"):
        conv.convert(frame(), [vehicle_event(sensorId=1)])
    with pytest.raises(ConfigError, match=r"placeId 4 .*\[place4\]"):
        conv.convert(frame(), [vehicle_event(placeId=4)])
    with pytest.raises(ConfigError, match=r"moduleId 1 .*\"analyticsModule\" : null"):
        conv.convert(frame(), [vehicle_event(moduleId=1)])


def test_missing_sensor_is_null_like_deepstream_when_not_strict(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    conv = NvMsgConv(write(tmp_path, CONFIG), 0, strict=False)
    with caplog.at_level(logging.WARNING):
        [payload] = conv.convert(frame(), [vehicle_event(sensorId=3)])
    assert b'  "sensor" : null,\n' in payload
    assert "No entry for sensor3 in configuration file" in caplog.text


def test_events_come_from_user_meta_and_comp_id_filters(tmp_path: Path) -> None:
    f = frame()
    f.user_meta = [vehicle_event(componentId=1), "other meta", vehicle_event(componentId=2, trackingId=7)]
    assert len(NvMsgConv(write(tmp_path, CONFIG), 0).convert(f)) == 2
    conv = NvMsgConv(write(tmp_path, CONFIG), 0, comp_id=2)
    [payload] = conv.convert(f)
    assert json.loads(payload)["object"]["id"] == "7"
    assert payload.component_id == 2


# -- payload type 1 -----------------------------------------------------------------------


def test_minimal_schema_exact_text(tmp_path: Path) -> None:
    conv = NvMsgConv(write(tmp_path, CONFIG), 1)
    events = [
        vehicle_event(),
        EventMsg(
            objType="person",
            bbox=Rect(top=0.25, left=123456.7, width=1.5, height=2e-5),
            trackingId=UNTRACKED_OBJECT_ID,
            confidence=0.123456789,
            extMsg=PersonObject(gender="male", age=45, hair="black", cap="none", apparel="formal"),
        ),
        EventMsg(
            objType="bicycle", bbox=Rect(top=1, left=2, width=3, height=4), trackingId=3, confidence=1.0
        ),
    ]
    [payload] = conv.convert(frame(), events)
    assert payload.decode() == (
        "{\n"
        '  "version" : "4.0",\n'
        '  "id" : "30",\n'
        '  "@timestamp" : "2023-11-14T22:13:20.123Z",\n'
        '  "sensorId" : "cam-0",\n'
        '  "objects" : [\n'
        '    "42|100.7|200.2|151.2|231.1|Vehicle|#|sedan|Bugatti|M|blue|XX1234|CA|0.9",\n'
        '    "18446744073709551615|123457|0.25|123458|0.25002|Person|#|male|45|black|none|formal|0.123457",\n'
        '    "3|2|1|5|5|Bicycle|#|||||||1"\n'
        "  ]\n"
        "}"
    )


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (EventMsg(objType="vehicle", extMsg=VehicleObject(make="VW")), "0|0|0|0|0|Vehicle|#||VW|||||0"),
        (
            EventMsg(objType="face", extMsg=FaceObject(gender="f", age=30, name="n", eyecolor="brown")),
            "0|0|0|0|0|Face|#|f|30|||||n||brown|0",
        ),
        (
            EventMsg(objType="product", extMsg=ProductObject(brand="b", shape="s")),
            "0|0|0|0|0|Product|#|b||s|0",
        ),
        (EventMsg(objType="vehicle_ext", confidence=0.5), "0|0|0|0|0|Unknown|#|||||||0.5"),
        (EventMsg(objType="unknown", objectId="Truck"), "0|0|0|0|0|Truck|#|||||||0"),
        (EventMsg(objType="unknown"), "0|0|0|0|0|Unknown|#|||||||0"),
        (EventMsg(objType="roadsign", trackingId=5, confidence=1e-7), "5|0|0|0|0|RoadSign|#|||||||1e-07"),
        (EventMsg(objType="dummy"), ""),
    ],
)
def test_minimal_object_strings(event: EventMsg, expected: str) -> None:
    [payload] = NvMsgConv(None, 1).convert(frame(), [event])
    assert json.loads(payload)["objects"] == [expected]


def test_minimal_sensor_id_lookup(tmp_path: Path) -> None:
    with_config = NvMsgConv(write(tmp_path, CONFIG), 1)
    without = NvMsgConv(None, 1)

    def sensor_id(conv: NvMsgConv, event: EventMsg) -> str:
        return json.loads(conv.convert(frame(), [event])[0])["sensorId"]

    # sensorId N → [sensorN] id; sensorStr wins; without a config DeepStream writes "0"
    assert sensor_id(with_config, EventMsg(sensorId=2)) == "cam-2"
    assert sensor_id(with_config, EventMsg(sensorId=2, sensorStr="sensor-0")) == "sensor-0"
    assert sensor_id(without, EventMsg(sensorId=2)) == "0"
    assert sensor_id(without, EventMsg(sensorStr="sensor-0")) == "sensor-0"
    with pytest.raises(ConfigError, match=r"\[sensor1\] group \(DeepStream would send \"sensorId\" : \"\"\)"):
        sensor_id(with_config, EventMsg(sensorId=1))
    assert sensor_id(NvMsgConv(write(tmp_path, CONFIG), 1, strict=False), EventMsg(sensorId=1)) == ""


def test_minimal_header_comes_from_the_first_event() -> None:
    conv = NvMsgConv(None, 1)
    events = [
        EventMsg(frameId=7, ts="2020-01-01T00:00:00.000Z", sensorStr="a"),
        EventMsg(frameId=8, sensorStr="b"),
    ]
    doc = json.loads(conv.convert(frame(), events)[0])
    assert (doc["id"], doc["@timestamp"], doc["sensorId"]) == ("7", "2020-01-01T00:00:00.000Z", "a")
    assert len(doc["objects"]) == 2


def test_no_events_no_payload_unless_dummy() -> None:
    assert NvMsgConv(None, 1).convert(frame()) == []
    [payload] = NvMsgConv(None, 1, dummy_payload=True).convert(frame(frame_num=9, source_id=3))
    assert payload.decode() == (
        '{\n  "version" : "4.0",\n  "id" : "9",\n  "@timestamp" : "2023-11-14T22:13:20.123Z",\n'
        '  "sensorId" : "0",\n  "objects" : []\n}'
    )


# -- timestamps ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (0, "1970-01-01T00:00:00.000Z"),
        (1_999_999_999, "1970-01-01T00:00:01.999Z"),  # milliseconds are truncated, not rounded
        (NTP_NS, "2023-11-14T22:13:20.123Z"),
        (1_700_000_000_007_000_000, "2023-11-14T22:13:20.007Z"),
    ],
)
def test_timestamp_format(ns: int, text: str) -> None:
    assert format_rfc3339_ms(ns) == text


def test_event_timestamp_sources() -> None:
    conv = NvMsgConv(None, 1)

    def stamp(ts: Any) -> str:
        return json.loads(conv.convert(frame(), [EventMsg(ts=ts)])[0])["@timestamp"]

    assert stamp(None) == "2023-11-14T22:13:20.123Z"  # the frame's capture time
    assert stamp("as given") == "as given"
    assert stamp(1_000_000_999_999_999) == "1970-01-12T13:46:40.999Z"
    assert stamp(datetime(2024, 2, 29, 23, 59, 59, 999_999, tzinfo=UTC)) == "2024-02-29T23:59:59.999Z"
    tz = timezone(timedelta(hours=8))
    assert stamp(datetime(2024, 3, 1, 7, 0, 0, 5000, tzinfo=tz)) == "2024-02-29T23:00:00.005Z"
    assert stamp(datetime(2024, 3, 1, 7, 0, 0)) == "2024-03-01T07:00:00.000Z"  # naive = UTC


# -- msg2p-newapi -------------------------------------------------------------------------


def test_new_api_builds_payloads_from_objects(tmp_path: Path) -> None:
    objects = [
        ObjectMeta(
            class_id=0,
            confidence=0.75,
            left=10.5,
            top=20.25,
            width=30,
            height=40,
            obj_label="car",
            object_id=5,
        ),
        ObjectMeta(class_id=1, confidence=0.5, left=1, top=2, width=3, height=4, obj_label="truck"),
    ]
    clock = lambda: 1_600_000_000_000_000_000  # noqa: E731
    full = NvMsgConv(write(tmp_path, CONFIG), 0, msg2p_newapi=True, clock=clock, uuid_factory=fixed_uuids())
    payloads = full.convert(frame(frame_num=60, objects=objects), [vehicle_event()])
    assert len(payloads) == 2  # one per object; events are ignored
    doc = json.loads(payloads[0])
    assert doc["@timestamp"] == "2020-09-13T12:26:40.000Z"  # conversion time, not capture time
    assert list(doc["place"])[-1] == "place-sub-field"
    assert_same_json(
        doc["object"],
        {
            "id": "5",
            "speed": 0.0,
            "direction": 0.0,
            "orientation": 0.0,
            "car": {"confidence": 0.75},
            "bbox": {"topleftx": 10, "toplefty": 20, "bottomrightx": 40, "bottomrighty": 60},
            "location": {},
            "coordinate": {},
        },
    )
    assert doc["event"] == {"id": "00000000-0000-4000-8000-000000000002", "type": ""}
    assert full.convert(frame(frame_num=61, objects=objects)) == []  # frame-interval 30
    minimal = NvMsgConv(write(tmp_path, CONFIG), 1, msg2p_newapi=True, frame_interval=1, clock=clock)
    doc = json.loads(minimal.convert(frame(frame_num=61, objects=objects))[0])
    assert doc["sensorId"] == "cam-0"
    assert doc["objects"] == ["5|10.5|20.25|40.5|60.25|car", "18446744073709551615|1|2|4|6|truck"]


# -- the metadata -------------------------------------------------------------------------


def test_event_msg_from_object_mirrors_a_deepstream_probe() -> None:
    obj = ObjectMeta(class_id=2, confidence=0.9, left=1.5, top=2.5, width=3.5, height=4.5, object_id=11)
    event = EventMsg.from_object(obj, frame(frame_num=90, source_id=1), type="exit", objType="Person")
    assert event.bbox == Rect(top=2.5, left=1.5, width=3.5, height=4.5)
    assert (event.frameId, event.trackingId, event.objClassId, event.sensorId) == (90, 11, 2, 1)
    assert event.confidence == float(np.float32(0.9)) != 0.9
    assert (event.type, event.objType) == (EventType.EXIT, ObjectType.PERSON)
    assert EventMsg().type == EventType.ENTRY and EventMsg().objType == ObjectType.VEHICLE
    assert EventMsg(objType="NVDS_OBJECT_TYPE_3D").objType == ObjectType.OBJECT_3D
    assert EventMsg(location=GeoLocation(1, 2, 3)).location.alt == 3


def test_event_msg_rejects_bad_types() -> None:
    with pytest.raises(ValueError, match="did you mean 'vehicle'"):
        EventMsg(objType="vehicel")
    with pytest.raises(ValueError, match="needs extMsg of type PersonObject"):
        EventMsg(objType="person", extMsg=VehicleObject())


# -- the JSON writer ----------------------------------------------------------------------


def test_glib_json_format_details() -> None:
    assert glib_json({}) == "{}"
    assert glib_json({"a": {}, "b": [], "c": [1, 2.5]}) == (
        '{\n  "a" : {  },\n  "b" : [],\n  "c" : [\n    1,\n    2.5\n  ]\n}'
    )
    assert glib_json({"k": 'q"\\\n\t\x01\x7f/é\x00cut'}) == '{\n  "k" : "q\\"\\\\\\n\\t\\u0001\\u007f/é"\n}'
    assert glib_json([0.1, 1e20, -0.0, 3.0, 1e-7, 12]) == (
        "[\n  0.10000000000000001,\n  1e+20,\n  -0.0,\n  3.0,\n  9.9999999999999995e-08,\n  12\n]"
    )
    assert glib_json([None, True, False]) == "[\n  null,\n  true,\n  false\n]"
