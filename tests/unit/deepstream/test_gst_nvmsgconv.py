"""nvmsgconv as a real GStreamer element: properties, caps, event metas in → payload metas out."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from event_metas import (
    TEST4_CONFIG,
    add_event,
    frame_of,
    new_batch,
    run_pipeline,
)

from fake_device.deepstream import cmemory
from fake_device.deepstream import meta as nvds
from fake_device.deepstream.gst.runtime import GLib, GObject, Gst
from fake_device.deepstream.meta_event import NvDsEventType, NvDsObjectType
from fake_device.deepstream.msgconv import (
    EventMsg,
    NvMsgConv,
    Rect,
    VehicleObject,
    frame_events,
    frame_payloads,
)

REPO = Path(__file__).resolve().parents[3]
SEED_CONFIG = REPO / "scenarios" / "traffic" / "app" / "msgconv_config.txt"


def make(**props: object) -> Gst.Element:
    element = Gst.ElementFactory.make("nvmsgconv", "conv")
    assert element is not None
    for name, value in props.items():
        element.set_property(name.replace("_", "-"), value)
    return element


# -- the element as gst-inspect-1.0 shows it --------------------------------------------------


def test_properties_have_deepstreams_names_types_defaults_and_ranges() -> None:
    element = make()
    specs = {p.name: p for p in element.list_properties()}
    expected = {
        "config": (GObject.TYPE_STRING, None),
        "msg2p-lib": (GObject.TYPE_STRING, None),
        "comp-id": (GObject.TYPE_UINT, 0),
        "debug-payload-dir": (GObject.TYPE_STRING, None),
        "multiple-payloads": (GObject.TYPE_BOOLEAN, False),
        "msg2p-newapi": (GObject.TYPE_BOOLEAN, False),
        "frame-interval": (GObject.TYPE_UINT, 30),
        "dummy-payload": (GObject.TYPE_BOOLEAN, False),
        "embedding-filter": (GObject.TYPE_STRING, None),
    }
    for name, (gtype, default) in expected.items():
        assert specs[name].value_type == gtype, name
        assert specs[name].default_value == default, name
        assert element.get_property(name) == default, name
    assert (specs["comp-id"].minimum, specs["comp-id"].maximum) == (0, GLib.MAXUINT)
    assert (specs["frame-interval"].minimum, specs["frame-interval"].maximum) == (1, GLib.MAXUINT)
    payload_type = specs["payload-type"]
    assert GObject.type_name(payload_type.value_type) == "GstNvMsgConvPayloadType"
    assert int(payload_type.default_value) == 0
    values = {int(v): v.value_nick for v in payload_type.enum_class.__enum_values__.values()}
    assert values == {
        0: "PAYLOAD_DEEPSTREAM",
        1: "PAYLOAD_DEEPSTREAM_MINIMAL",
        2: "PAYLOAD_DEEPSTREAM_PROTOBUF",
        256: "PAYLOAD_RESERVED",
        257: "PAYLOAD_CUSTOM",
    }


def test_payload_type_is_set_as_apps_and_launch_lines_do() -> None:
    element = make()
    element.set_property("payload-type", 1)  # the seed app and deepstream-test4
    assert int(element.get_property("payload-type")) == 1
    for text, value in (("PAYLOAD_DEEPSTREAM_MINIMAL", 1), ("0", 0), ("257", 257)):
        pipeline = Gst.parse_launch(f"fakesrc ! nvmsgconv name=c payload-type={text} ! fakesink")
        assert int(pipeline.get_by_name("c").get_property("payload-type")) == value


def test_unnamed_elements_are_named_like_deepstreams() -> None:
    assert make().get_name() == "conv"
    assert Gst.ElementFactory.make("nvmsgconv").get_name().startswith("nvmsgconv")
    assert GObject.type_name(make().__gtype__) == "GstNvMsgConv"


def test_factory_metadata_and_any_caps() -> None:
    factory = Gst.ElementFactory.find("nvmsgconv")
    assert factory.get_metadata("klass") == "Filter/Metadata"
    assert factory.get_metadata("long-name") == "Message Converter"
    templates = {t.name_template: t.get_caps() for t in factory.get_static_pad_templates()}
    assert set(templates) == {"sink", "src"}
    assert all(caps.is_any() for caps in templates.values())


# -- events in, payloads out ------------------------------------------------------------------


def test_minimal_payload_per_frame_from_pyds_event_metas() -> None:
    batches = []
    for n in range(3):
        batch = new_batch(n)
        frame = frame_of(batch)
        add_event(frame, tracking_id=100 + n, sensor_str="sensor-0", vehicle={"type": "car", "color": "red"})
        add_event(frame, tracking_id=200 + n, sensor_str="sensor-0", ts=None)
        batches.append(batch)
    run = run_pipeline("nvmsgconv name=conv payload-type=1 ! appsink name=out", batches, names=["conv"])
    assert run.errors == [] and run.eos
    assert [b is s for b, s in zip(run.batches, batches, strict=True)] == [True] * 3  # meta rides on
    for n, batch in enumerate(run.batches):
        frame = frame_of(batch)
        [payload] = frame_payloads(frame)
        assert payload.component_id == 0
        document = json.loads(payload)
        assert list(document) == ["version", "id", "@timestamp", "sensorId", "objects"]
        assert document["version"] == "4.0"
        assert document["id"] == str(n)
        assert document["@timestamp"] == "2023-11-14T22:13:20.123Z"  # the first event's ts
        assert document["sensorId"] == "sensor-0"
        assert document["objects"] == [
            f"{100 + n}|10.5|20.25|40.5|35.75|Vehicle|#|car|||red|||0.875",
            f"{200 + n}|10.5|20.25|40.5|35.75|Vehicle|#|||||||0.875",
        ]
        # the payload meta is a DeepStream user meta a pyds probe finds downstream
        types = []
        node = frame.frame_user_meta_list
        while node is not None:
            types.append(nvds.NvDsUserMeta.cast(node.data).base_meta.meta_type)
            node = node.next
        assert types == [nvds.NvDsMetaType.NVDS_EVENT_MSG_META] * 2 + [nvds.NvDsMetaType.NVDS_PAYLOAD_META]
    assert run.elements["conv"].payloads == 3


def test_full_payload_per_event_matches_the_converter_field_by_field(tmp_path: Path) -> None:
    config = tmp_path / "msgconv.txt"
    config.write_text(TEST4_CONFIG)
    batch = new_batch(5)
    frame = frame_of(batch)
    add_event(
        frame,
        vehicle={
            "type": "sedan",
            "make": "Bugatti",
            "model": "M",
            "color": "blue",
            "license": "XX1234",
            "region": "CA",
        },
    )
    add_event(
        frame,
        event_type=NvDsEventType.NVDS_EVENT_ENTRY,
        obj_type=NvDsObjectType.NVDS_OBJECT_TYPE_PERSON,
        tracking_id=9,
        person={"age": 45, "cap": "none", "hair": "black", "gender": "male", "apparel": "formal"},
    )
    run = run_pipeline(
        f"nvmsgconv config={config} payload-type=0 ! appsink name=out", [batch], names=["conv"]
    )
    assert run.errors == []
    vehicle, person = (json.loads(p) for p in frame_payloads(frame_of(run.batches[0])))

    # the same events through the processor directly: the element adds nothing of its own
    reference = NvMsgConv(config, 0, uuid_factory=lambda: "00000000-0000-0000-0000-000000000000")
    expected = [json.loads(p) for p in reference.convert(frame, frame_events(frame))]
    for got, want in zip((vehicle, person), expected, strict=True):
        assert uuid.UUID(got["messageid"]) and uuid.UUID(got["event"]["id"])
        got["messageid"] = got["event"]["id"] = want["messageid"]
        want["event"]["id"] = want["messageid"]
        assert got == want

    assert vehicle["mdsversion"] == "1.0"
    assert vehicle["@timestamp"] == "2023-11-14T22:13:20.123Z"
    assert vehicle["sensor"]["id"] == "CAMERA_ID"
    assert vehicle["place"]["aisle"] == {
        "id": "walsh",
        "name": "lane1",
        "level": "P2",
        "coordinate": {"x": 1.0, "y": 2.0, "z": 3.0},
    }
    assert vehicle["analyticsModule"]["source"] == "OpenALR"
    assert vehicle["object"]["id"] == "7"
    assert vehicle["object"]["vehicle"] == {
        "type": "sedan",
        "make": "Bugatti",
        "model": "M",
        "color": "blue",
        "licenseState": "CA",
        "license": "XX1234",
        "confidence": 0.875,
    }
    assert vehicle["object"]["bbox"] == {
        "topleftx": 10,
        "toplefty": 20,
        "bottomrightx": 40,
        "bottomrighty": 35,
    }
    assert vehicle["event"]["type"] == "moving"
    assert person["object"]["person"] == {
        "age": 45,
        "gender": "male",
        "hair": "black",
        "cap": "none",
        "apparel": "formal",
        "confidence": 0.875,
    }
    assert person["place"]["entrance"]["name"] == "walsh"  # an entry of a person: entrance
    assert person["event"]["type"] == "entry"


def test_comp_id_selects_events_and_stamps_payloads() -> None:
    batch = new_batch(0)
    frame = frame_of(batch)
    add_event(frame, tracking_id=1, component_id=2, sensor_str="s")
    add_event(frame, tracking_id=2, component_id=3, sensor_str="s")
    run = run_pipeline("nvmsgconv payload-type=1 comp-id=3 ! appsink name=out", [batch])
    [payload] = frame_payloads(frame_of(run.batches[0]))
    assert payload.component_id == 3
    assert [o.split("|")[0] for o in json.loads(payload)["objects"]] == ["2"]


def test_dummy_payload_for_frames_without_events() -> None:
    batches = [new_batch(n, source_id=0) for n in range(2)]
    add_event(frame_of(batches[1]), sensor_str="s")
    run = run_pipeline(
        f"nvmsgconv config={SEED_CONFIG} payload-type=1 dummy-payload=true ! appsink name=out", batches
    )
    first = json.loads(frame_payloads(frame_of(run.batches[0]))[0])
    assert first == {
        "version": "4.0",
        "id": "0",
        "@timestamp": "2023-11-14T22:13:20.000Z",  # the frame's capture time
        "sensorId": "highway-cam-0",
        "objects": [],
    }
    assert len(json.loads(frame_payloads(frame_of(run.batches[1]))[0])["objects"]) == 1
    # without dummy-payload a frame without events gets nothing
    run = run_pipeline("nvmsgconv payload-type=1 ! appsink name=out", [new_batch(0)])
    assert frame_payloads(frame_of(run.batches[0])) == []


def test_new_api_reads_objects_every_frame_interval() -> None:
    boxes = [(0, 0.5, 10.0, 20.0, 30.0, 40.0, 11), (1, 0.25, 1.0, 2.0, 3.0, 4.0, 12)]
    batches = [new_batch(n, objects=boxes) for n in range(5)]
    run = run_pipeline(
        f"nvmsgconv config={SEED_CONFIG} payload-type=1 msg2p-newapi=true frame-interval=2 "
        "! appsink name=out",
        batches,
    )
    counts = [len(frame_payloads(frame_of(b))) for b in run.batches]
    assert counts == [1, 0, 1, 0, 1]
    document = json.loads(frame_payloads(frame_of(run.batches[2]))[0])
    assert document["id"] == "2" and document["sensorId"] == "highway-cam-0"
    assert document["objects"] == ["11|10|20|40|60|car", "12|1|2|4|6|person"]
    run = run_pipeline(
        f"nvmsgconv config={SEED_CONFIG} payload-type=0 msg2p-newapi=true frame-interval=1 "
        "! appsink name=out",
        [new_batch(0, objects=boxes)],
    )
    full = [json.loads(p) for p in frame_payloads(frame_of(run.batches[0]))]
    assert [d["object"]["id"] for d in full] == ["11", "12"]  # one payload per object
    assert full[1]["object"]["person"] == {"confidence": 0.25}


def test_events_appended_through_the_runtime_names_are_converted() -> None:
    batch = new_batch(4)
    frame = frame_of(batch)
    frame.user_meta.append(
        EventMsg(
            bbox=Rect(top=1, left=2, width=3, height=4),
            frameId=4,
            sensorStr="s",
            extMsg=VehicleObject(type="van"),
        )
    )
    run = run_pipeline("nvmsgconv payload-type=1 ! appsink name=out", [batch])
    assert json.loads(frame_payloads(frame_of(run.batches[0]))[0])["objects"][0].startswith(
        "0|2|1|5|5|Vehicle|#|van"
    )


def test_a_buffer_without_batch_meta_passes_unchanged() -> None:
    pipeline = Gst.parse_launch("videotestsrc num-buffers=3 ! nvmsgconv payload-type=1 ! fakesink")
    pipeline.set_state(Gst.State.PLAYING)
    message = pipeline.get_bus().timed_pop_filtered(
        10 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR
    )
    pipeline.set_state(Gst.State.NULL)
    assert message.type == Gst.MessageType.EOS


def test_component_latency_mark_per_frame() -> None:
    batch = new_batch(0)
    add_event(frame_of(batch), sensor_str="s")
    run = run_pipeline("nvmsgconv name=nvmsg-converter payload-type=1 ! appsink name=out", [batch])
    [(name, t_in, t_out)] = frame_of(run.batches[0]).latency
    assert name == "nvmsg-converter" and t_out >= t_in


def test_debug_payload_dir_gets_the_payloads(tmp_path: Path) -> None:
    batch = new_batch(0)
    add_event(frame_of(batch), sensor_str="s")
    run = run_pipeline(f"nvmsgconv payload-type=1 debug-payload-dir={tmp_path} ! appsink name=out", [batch])
    assert run.errors == []
    [dump] = list(tmp_path.iterdir())
    assert dump.name.endswith("Z.txt")
    payload = bytes(frame_payloads(frame_of(run.batches[0]))[0])
    assert dump.read_bytes() == payload + b" \n"


# -- errors on the bus ------------------------------------------------------------------------


def test_a_config_error_names_file_line_and_a_hint(tmp_path: Path) -> None:
    config = tmp_path / "msgconv.txt"
    config.write_text("[sensor0]\nenable=1\ndesciption=x\n")
    run = run_pipeline(f"nvmsgconv name=nvmsg-converter config={config} ! appsink name=out", [new_batch(0)])
    [error] = run.errors
    assert error.startswith(
        f"nvmsg-converter: unable to create instance: {config}:3: unknown key 'desciption' in [sensor0]"
    )
    assert "hint: did you mean 'description'?" in error


def test_an_event_naming_a_missing_sensor_fails_the_stream(tmp_path: Path) -> None:
    config = tmp_path / "msgconv.txt"
    config.write_text(TEST4_CONFIG)
    batch = new_batch(0)
    add_event(frame_of(batch), sensor_id=3)
    run = run_pipeline(f"nvmsgconv name=c config={config} payload-type=0 ! appsink name=out", [batch])
    [error] = run.errors
    assert error.startswith(f"c: {config}: an event has sensorId 3 but there is no enabled [sensor3] group")
    assert "hint: add a [sensor3] group with enable=1" in error


def test_full_schema_without_config_does_not_start() -> None:
    run = run_pipeline("nvmsgconv name=c ! appsink name=out", [new_batch(0)])
    [error] = run.errors
    assert error.startswith("c: unable to create instance: payload-type 0 (full schema) needs a config file")
    assert "hint: set config to a file with [sensor0]" in error


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("payload-type=2", "payload-type=2: only the JSON schemas are emulated"),
        ("payload-type=PAYLOAD_CUSTOM", "payload-type=257: only the JSON schemas are emulated"),
        (
            "msg2p-lib=/opt/custom/libmy_msgconv.so",
            "msg2p-lib='/opt/custom/libmy_msgconv.so': custom payload",
        ),
    ],
)
def test_settings_not_emulated_fail_the_start(setting: str, expected: str) -> None:
    run = run_pipeline(f"nvmsgconv name=c payload-type=1 {setting} ! appsink name=out", [new_batch(0)])
    [error] = run.errors
    assert error.startswith(f"c: not emulated on this device: {expected}")
    assert error.endswith("(see docs/deepstream/supported.md)")


def test_deepstreams_own_converter_library_is_accepted() -> None:
    batch = new_batch(0)
    add_event(frame_of(batch), sensor_str="s")
    lib = "/opt/nvidia/deepstream/deepstream/lib/libnvds_msgconv.so"
    run = run_pipeline(
        f"nvmsgconv msg2p-lib={lib} payload-type=1 multiple-payloads=true ! appsink name=out", [batch]
    )
    assert run.errors == [] and len(frame_payloads(frame_of(run.batches[0]))) == 1


def test_missing_debug_payload_dir_fails_the_start(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    run = run_pipeline(
        f"nvmsgconv name=c payload-type=1 debug-payload-dir={missing} ! appsink name=out", [new_batch(0)]
    )
    [error] = run.errors
    assert error.startswith(f"Error: dir {missing} not found")


def test_a_timestamp_freed_before_conversion_is_reported() -> None:
    batch = new_batch(0)
    event = add_event(frame_of(batch), sensor_str="s")
    cmemory.free(event.ts)
    run = run_pipeline("nvmsgconv name=c payload-type=1 ! appsink name=out", [batch])
    [error] = run.errors
    assert error.startswith("c: NvDsEventMsgMeta.ts: ")
    assert "freed" in error
