"""nvmsgbroker as a real GStreamer sink: properties, start-up errors on the bus, payloads sent.

Sending here goes to NVDS_JSON_DUMP_FILE (no broker needed); delivery through Kafka is in
tests/integration/deepstream/test_gst_msgbroker_kafka.py.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from event_metas import KAFKA_LIB, add_event, frame_of, new_batch, run_pipeline

from fake_device.deepstream.gst.runtime import GLib, GObject, Gst
from fake_device.deepstream.msgbroker import read_json_dump
from fake_device.deepstream.msgconv import Payload, attach_payloads

BROKER = f"nvmsgbroker name=broker proto-lib={KAFKA_LIB} sync=false"


@pytest.fixture
def dump(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "payloads.json"
    monkeypatch.setenv("NVDS_JSON_DUMP_FILE", str(path))
    return path


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_properties_have_deepstreams_names_types_and_defaults() -> None:
    element = Gst.ElementFactory.make("nvmsgbroker")
    assert element.get_name().startswith("nvmsgbroker")
    specs = {p.name: p for p in element.list_properties()}
    expected = {
        "proto-lib": (GObject.TYPE_STRING, None),
        "conn-str": (GObject.TYPE_STRING, None),
        "config": (GObject.TYPE_STRING, None),
        "topic": (GObject.TYPE_STRING, None),
        "comp-id": (GObject.TYPE_UINT, 0),
        "new-api": (GObject.TYPE_BOOLEAN, False),
        "sleep-time": (GObject.TYPE_UINT, 0),
        # GstBaseSink's, which apps set (deepstream-test4: sync=False)
        "sync": (GObject.TYPE_BOOLEAN, True),
        "async": (GObject.TYPE_BOOLEAN, True),
    }
    for name, (gtype, default) in expected.items():
        assert specs[name].value_type == gtype, name
        assert specs[name].default_value == default, name
    assert specs["comp-id"].maximum == specs["sleep-time"].maximum == GLib.MAXUINT
    factory = Gst.ElementFactory.find("nvmsgbroker")
    assert factory.get_metadata("klass") == "Sink/Metadata"
    assert factory.get_rank() == Gst.Rank.PRIMARY
    [template] = factory.get_static_pad_templates()
    assert (template.name_template, template.get_caps().is_any()) == ("sink", True)


def test_topic_is_stripped_and_empty_means_unset() -> None:
    element = Gst.ElementFactory.make("nvmsgbroker")
    element.set_property("topic", "  events ")
    assert element.get_property("topic") == "events"
    element.set_property("topic", "   ")
    assert element.get_property("topic") is None


def test_payloads_behind_tee_and_queue_reach_the_broker(dump: Path) -> None:
    batches = []
    for n in range(4):
        batch = new_batch(n)
        add_event(frame_of(batch), tracking_id=n, sensor_str="sensor-0")
        batches.append(batch)
    run = run_pipeline(
        "tee name=t t. ! queue ! nvmsgconv payload-type=1 ! "
        f"{BROKER} conn-str=127.0.0.1;9;events t. ! queue ! appsink name=out",
        batches,
        names=["broker"],
    )
    assert run.errors == [] and run.eos
    documents = read_json_dump(dump)
    assert [d["id"] for d in documents] == ["0", "1", "2", "3"]
    assert [d["objects"][0].split("|")[0] for d in documents] == ["0", "1", "2", "3"]
    broker = run.elements["broker"]
    assert broker.broker is None  # stopped
    # the render branch saw the same batch meta, payloads included
    assert len(run.batches) == 4


def test_comp_id_sends_only_matching_payloads(dump: Path) -> None:
    batch = new_batch(0)
    attach_payloads(frame_of(batch), [Payload(b'{"n":1}', 1), Payload(b'{"n":2}', 2), Payload(b'{"n":3}', 2)])
    run = run_pipeline(f"{BROKER} conn-str=h;1;t comp-id=2", [batch])
    assert run.errors == []
    assert read_json_dump(dump) == [{"n": 2}, {"n": 3}]


def test_latency_mark_per_frame(dump: Path) -> None:
    batch = new_batch(0)
    attach_payloads(frame_of(batch), [Payload(b"{}")])
    run = run_pipeline(
        f"tee name=t t. ! queue ! nvmsgbroker name=nvmsg-broker proto-lib={KAFKA_LIB} conn-str=h;1;t "
        "t. ! queue ! appsink name=out",
        [batch],
    )
    assert [mark[0] for mark in frame_of(run.batches[0]).latency] == ["nvmsg-broker"]


# -- start-up errors on the bus -----------------------------------------------------------------
# A sink that fails to start posts its reason, then GstBaseSink adds "Failed to start" (as with
# DeepStream's element): the first error is the one an app's bus_call prints and quits on.


def test_no_proto_lib() -> None:
    error, _ = run_pipeline("nvmsgbroker name=b conn-str=h;1;t", [new_batch(0)]).errors
    assert error.startswith("b: No protocol adaptor library provided")
    assert "hint: set proto-lib to /opt/nvidia/deepstream/deepstream/lib/libnvds_kafka_proto.so" in error


def test_no_conn_str_nor_config() -> None:
    error, _ = run_pipeline(f"nvmsgbroker name=b proto-lib={KAFKA_LIB}", [new_batch(0)]).errors
    assert error.startswith("b: No connection string or configuration file provided.")


@pytest.mark.parametrize(
    ("library", "adaptor"),
    [
        ("libnvds_amqp_proto.so", "AMQP (RabbitMQ)"),
        ("libnvds_mqtt_proto.so", "MQTT (mosquitto)"),
        ("libnvds_redis_proto.so", "Redis"),
        ("libnvds_azure_proto.so", "Azure IoT Hub device client"),
    ],
)
def test_other_protocol_adaptors_are_not_emulated(library: str, adaptor: str) -> None:
    path = f"/opt/nvidia/deepstream/deepstream/lib/{library}"
    error, _ = run_pipeline(f"nvmsgbroker name=b proto-lib={path} conn-str=h;1;t", [new_batch(0)]).errors
    assert error.startswith(
        f"b: unable to open shared library: proto-lib '{path}' is DeepStream's {adaptor} protocol adaptor, "
        "which is not emulated"
    )
    assert "hint: only the Kafka adaptor is" in error


def test_conn_str_with_too_many_fields() -> None:
    error, _ = run_pipeline(f"{BROKER} conn-str=h;1;t;x", [new_batch(0)]).errors
    assert error.startswith(
        "broker: unable to connect to broker library: conn-str 'h;1;t;x' has 3 ';' (at most 2"
    )


def test_failed_test_connect_names_conn_str(closed_port: int) -> None:
    conn = f"127.0.0.1;{closed_port};events"
    run = run_pipeline(f"{BROKER} conn-str={conn}", [new_batch(0)])
    error, _ = run.errors
    assert error.startswith(
        f"broker: unable to connect to broker library: conn-str '{conn}': cannot connect to the Kafka broker "
        f"at 127.0.0.1:{closed_port}: Connection refused"
    )
    assert "hint: is the broker running" in error
    assert not run.eos


def test_config_error_names_file_and_line(tmp_path: Path) -> None:
    config = tmp_path / "cfg_kafka.txt"
    config.write_text('[message-broker]\nproto-cfg = "linger.ms=0"\npartition-kye = sensor.id\n')
    error, _ = run_pipeline(f"{BROKER} conn-str=h;1;t config={config}", [new_batch(0)]).errors
    assert error.startswith(
        f"broker: unable to connect to broker library: {config}:3: "
        "unknown key 'partition-kye' in [message-broker]"
    )
    assert "hint: did you mean 'partition-key'?" in error
