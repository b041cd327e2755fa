"""nvmsgbroker emulation without a broker: conn-str, [message-broker] config, partition key,
the test connect, NVDS_JSON_DUMP_FILE."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from fake_device.deepstream.errors import ConfigError
from fake_device.deepstream.msgbroker import (
    DEFAULT_PARTITION_KEY,
    BrokerConnectError,
    ConnStr,
    MsgBrokerConfig,
    MsgBrokerError,
    NvMsgBroker,
    check_broker_endpoint,
    connection_signature,
    extract_partition_key,
    load_msgbroker_config,
    parse_conn_str,
    parse_proto_cfg,
    read_json_dump,
    resolve_topic,
)
from fake_device.deepstream.msgconv import Payload
from harness.services.ports import free_ports

pytestmark = pytest.mark.unit


def write(tmp_path: Path, text: str, name: str = "cfg_kafka.txt") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# -- conn-str -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "host", "port", "topic", "bootstrap"),
    [
        ("127.0.0.1;9092", "127.0.0.1", 9092, None, "127.0.0.1:9092"),
        ("kafka.lab;19092;events", "kafka.lab", 19092, "events", "kafka.lab:19092"),
        ("::1;9092;t", "::1", 9092, "t", "[::1]:9092"),
        ("h;9092;", "h", 9092, "", "h:9092"),
    ],
)
def test_conn_str_good(text: str, host: str, port: int, topic: str | None, bootstrap: str) -> None:
    conn = parse_conn_str(text)
    assert conn == ConnStr(text=text, host=host, port=port, topic=topic)
    assert conn.bootstrap == bootstrap


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("h;9092;topic;extra", "has 3 ';' (at most 2 allowed)"),
        ("localhost:9092", "has no port"),
        (";9092;t", "has no host"),
        ("h;;t", "has no port"),
        ("h;90x2;t", "port '90x2' is not 1–65535"),
        ("h;70000", "port '70000' is not 1–65535"),
        ("h;0", "port '0' is not 1–65535"),
    ],
)
def test_conn_str_bad_names_the_string(text: str, fragment: str) -> None:
    with pytest.raises(MsgBrokerError) as info:
        parse_conn_str(text)
    assert repr(text) in str(info.value)
    assert fragment in str(info.value)
    assert "'host;port;topic'" in str(info.value)  # the hint shows the format


def test_empty_conn_str() -> None:
    with pytest.raises(MsgBrokerError, match="conn-str is empty"):
        parse_conn_str("  ")


def test_topic_from_property_else_after_the_last_semicolon() -> None:
    assert resolve_topic(parse_conn_str("h;1;from-conn"), None) == "from-conn"
    assert resolve_topic(parse_conn_str("h;1;from-conn"), "  prop  ") == "prop"
    assert resolve_topic(parse_conn_str("h;1"), "prop") == "prop"
    assert resolve_topic(parse_conn_str("h;1;from-conn"), "   ") == "from-conn"  # blank = unset


def test_no_topic_is_an_error_naming_what_deepstream_would_do() -> None:
    with pytest.raises(MsgBrokerError) as info:
        resolve_topic(parse_conn_str("localhost;9092"), None)
    assert "no topic: conn-str 'localhost;9092' has no topic part" in str(info.value)
    assert "a topic named '9092'" in str(info.value)
    with pytest.raises(MsgBrokerError, match="ends in ';' with no topic"):
        resolve_topic(parse_conn_str("localhost;9092;"), None)
    with pytest.raises(MsgBrokerError, match="no topic"):
        NvMsgBroker("localhost;9092")


def test_only_the_kafka_adaptor_is_emulated() -> None:
    assert NvMsgBroker("h;1;t", proto_lib="/opt/nvidia/deepstream/deepstream/lib/libnvds_kafka_proto.so")
    with pytest.raises(MsgBrokerError, match=r"proto-lib .*libnvds_mqtt_proto\.so.* is not emulated"):
        NvMsgBroker("h;1;t", proto_lib="/opt/nvidia/deepstream/deepstream/lib/libnvds_mqtt_proto.so")


# -- proto-cfg ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", {}),
        ("message.timeout.ms=2000", {"message.timeout.ms": "2000"}),
        ("a=1;b=2;", {"a": "1", "b": "2"}),
        ("sasl.jaas=x=y;acks=all", {"sasl.jaas": "x=y", "acks": "all"}),
        ("a=1; b=2", {"a": "1", " b": "2"}),  # not trimmed, as upstream: librdkafka rejects " b"
        ("a=;b=2", {"a": "", "b": "2"}),
        ("a=1;;b=2", {"a": "1", "b": "2"}),
    ],
)
def test_proto_cfg_parsing(text: str, expected: dict[str, str]) -> None:
    assert parse_proto_cfg(text) == expected


@pytest.mark.parametrize(("text", "fragment"), [("a=1;b;c=2", "'b' has no '='"), ("noequals", "'noequals'")])
def test_proto_cfg_segment_without_equals_is_an_error(text: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        parse_proto_cfg(text, file="f.txt", line=3)


def test_proto_cfg_needs_a_name() -> None:
    with pytest.raises(ConfigError, match="no name before '='"):
        parse_proto_cfg("=1")


GOOD_CONFIG = """\
[message-broker]
consumer-group-id = mygrp
proto-cfg = "message.max.bytes=200000;log_level=6"
producer-proto-cfg = "queue.buffering.max.messages=200000;message.send.max.retries=3"
consumer-proto-cfg = "max.poll.interval.ms=20000"
partition-key = sensorId
share-connection = 1

[nvmsgbroker]
auto-reconnect=1
"""


def test_message_broker_config(tmp_path: Path) -> None:
    config = load_msgbroker_config(write(tmp_path, GOOD_CONFIG))
    assert config.proto_cfg == {"message.max.bytes": "200000", "log_level": "6"}
    assert config.producer_proto_cfg == {
        "queue.buffering.max.messages": "200000",
        "message.send.max.retries": "3",
    }
    assert config.consumer_proto_cfg == {"max.poll.interval.ms": "20000"}
    assert config.partition_key == "sensorId"
    assert config.consumer_group_id == "mygrp"
    assert config.share_connection
    assert config.lines == {
        "proto-cfg": 3,
        "producer-proto-cfg": 4,
        "consumer-proto-cfg": 5,
        "partition-key": 6,
    }
    assert config.producer_settings() == {**config.proto_cfg, **config.producer_proto_cfg}


def test_defaults_without_a_config(tmp_path: Path) -> None:
    assert MsgBrokerConfig().partition_key == DEFAULT_PARTITION_KEY == "sensor.id"
    config = load_msgbroker_config(write(tmp_path, "[message-broker]\n#partition-key = x\npartition-key=\n"))
    assert config.partition_key == "sensor.id"
    assert config.consumer_group_id == "test-consumer-group"
    assert not config.share_connection and config.proto_cfg == {}


@pytest.mark.parametrize(
    ("text", "line", "fragments"),
    [
        (
            "[message-broker]\nproto-cfg = acks=all\n",
            2,
            ["proto-cfg must be a quoted string", '"key=value;key=value"'],
        ),
        (
            '[message-broker]\nproto-cfg = "acks=all"  \n',
            2,
            ["quoted string", "remove the spaces after the closing"],
        ),
        ('[message-broker]\nproto-cfg = ""\n', 2, ["quoted string"]),
        ('[message-broker]\nproto-cfg = "acks=all;retries"\n', 2, ["proto-cfg: 'retries' has no '='"]),
        (
            "[message-broker]\npartition_key = sensor.id\n",
            2,
            ["unknown key 'partition_key'", "'partition-key'"],
        ),
        ("[message-broker]\nbroker-conn-str = h;1\n", 2, ["unknown key 'broker-conn-str'", "Kafka keys:"]),
        (
            '[message-broker]\npartition-key = "sensor.id"\n',
            2,
            ["quotes or surrounding spaces", "without a key"],
        ),
        ("[message-broker]\npartition-key = sensor.id \n", 2, ["surrounding spaces"]),
        ("[message-broker]\nshare-connection = true\n", 2, ["share-connection='true'", "1 or 0"]),
        ("[message-brokers]\n", 1, ["unknown group [message-brokers]", "did you mean 'message-broker'?"]),
        ("[nvmsgbroker]\nretry-intervals=1\n[message-broker]\n", 2, ["unknown key 'retry-intervals'"]),
    ],
)
def test_bad_message_broker_configs(tmp_path: Path, text: str, line: int, fragments: list[str]) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_msgbroker_config(path)
    assert str(info.value).startswith(f"{path}:{line}: "), str(info.value)
    for fragment in fragments:
        assert fragment in str(info.value)


def test_config_without_the_group(tmp_path: Path) -> None:
    path = write(tmp_path, "[nvmsgbroker]\nauto-reconnect=1\n")
    with pytest.raises(ConfigError, match=r"no \[message-broker\] group"):
        load_msgbroker_config(path)
    with pytest.raises(ConfigError, match="does not exist"):
        NvMsgBroker("h;1;t", config_path=tmp_path / "missing.txt")


def test_connection_signature_sorts_the_settings(tmp_path: Path) -> None:
    conn = parse_conn_str("h;9092;t")
    a = load_msgbroker_config(
        write(tmp_path, '[message-broker]\nproto-cfg="b=2;a=1"\nshare-connection=1\n', "a")
    )
    b = load_msgbroker_config(
        write(tmp_path, '[message-broker]\nproto-cfg="a=1; b = 2"\nshare-connection=1\n', "b")
    )
    off = load_msgbroker_config(write(tmp_path, '[message-broker]\nproto-cfg="a=1"\n', "c"))
    assert connection_signature(conn, a) == connection_signature(conn, b)
    assert len(connection_signature(conn, a)) == 64
    assert connection_signature(conn, off) == ""
    assert connection_signature(parse_conn_str("h;9093;t"), a) != connection_signature(conn, a)


# -- partition key ------------------------------------------------------------------------

FULL = b'{\n  "messageid" : "x",\n  "sensor" : {\n    "id" : "highway-cam-0",\n    "type" : "Camera"\n  }\n}'
MINIMAL = b'{\n  "version" : "4.0",\n  "sensorId" : "sensor-0",\n  "objects" : []\n}'


@pytest.mark.parametrize(
    ("payload", "path", "key"),
    [
        (FULL, "sensor.id", b"highway-cam-0"),
        (FULL, "sensor.type", b"Camera"),
        (FULL, "messageid", b"x"),
        (MINIMAL, "sensorId", b"sensor-0"),
        (MINIMAL, "sensor.id", None),  # the seed app's minimal payloads go without a key
        (FULL, "sensor", None),  # an object, not a string
        (FULL, "sensor.id.x", None),
        (b'{"a": {"b": {"c": "deep"}}}', "a.b.c", b"deep"),
        (b'{"n": 5}', "n", None),
        (b'{"e": ""}', "e", None),
        (b"not json", "sensor.id", None),
        (b"[1, 2]", "sensor.id", None),
        ('{"u": "é"}', "u", "é".encode()),
    ],
)
def test_partition_key_extraction(payload: bytes | str, path: str, key: bytes | None) -> None:
    assert extract_partition_key(payload, path) == key


def test_partition_key_is_cut_to_99_bytes() -> None:
    assert extract_partition_key(json.dumps({"k": "x" * 150}), "k") == b"x" * 99


# -- the test connect ---------------------------------------------------------------------


def test_connect_test_failure_names_the_address() -> None:
    port = free_ports(1)[0]  # nothing listens there
    broker = NvMsgBroker(f"127.0.0.1;{port};events")
    started = time.monotonic()
    with pytest.raises(BrokerConnectError) as info:
        broker.start()
    assert time.monotonic() - started < 5
    message = str(info.value)
    assert f"cannot connect to the Kafka broker at 127.0.0.1:{port}: " in message
    assert "refused" in message.lower()
    assert "hint: is the broker running" in message
    assert "Invalid address or network endpoint down" in message
    assert info.value.exit_code == 3
    with pytest.raises(MsgBrokerError, match=r"send\(\) before start\(\)"):
        broker.send(b"{}")


def test_connect_test_passes_when_something_listens() -> None:
    import socket

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        check_broker_endpoint("127.0.0.1", server.getsockname()[1], timeout=2)


# -- NVDS_JSON_DUMP_FILE ------------------------------------------------------------------


def test_json_dump_file_replaces_kafka(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dump = tmp_path / "dump.json"
    dump.write_bytes(b'{"earlier" : 1}\n')  # appended to, never truncated
    monkeypatch.setenv("NVDS_JSON_DUMP_FILE", str(dump))
    port = free_ports(1)[0]  # no broker: dump mode must not connect
    payloads = [FULL, MINIMAL, '{\n  "text" : "é"\n}']
    with NvMsgBroker(f"127.0.0.1;{port};events") as broker:
        for payload in payloads:
            assert broker.send(payload)
        assert broker.flush() == 0
    assert (broker.sent, broker.delivered, broker.failed, broker.pending) == (3, 3, 0, 0)
    assert (
        dump.read_bytes()
        == b'{"earlier" : 1}\n' + FULL + b"\n" + MINIMAL + b"\n" + payloads[2].encode() + b"\n"
    )
    assert read_json_dump(dump) == [{"earlier": 1}, json.loads(FULL), json.loads(MINIMAL), {"text": "é"}]


def test_comp_id_filters_payloads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dump = tmp_path / "dump.json"
    monkeypatch.setenv("NVDS_JSON_DUMP_FILE", str(dump))
    with NvMsgBroker("127.0.0.1;1;events", comp_id=2) as broker:
        assert not broker.send(Payload(b'{"from": 1}', component_id=1))
        assert broker.send(Payload(b'{"from": 2}', component_id=2))
        assert not broker.send(b'{"plain": 0}')  # component 0 ≠ 2
    assert (broker.sent, broker.filtered) == (1, 2)
    assert read_json_dump(dump) == [{"from": 2}]
    with pytest.raises(MsgBrokerError, match=r"send\(\) after close\(\)"):
        broker.send(b"{}")
    with NvMsgBroker("127.0.0.1;1;events") as everything:
        assert everything.send(Payload(b'{"from": 1}', component_id=1))


def test_empty_payload_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NVDS_JSON_DUMP_FILE", str(tmp_path / "d"))
    with NvMsgBroker("h;1;t") as broker, pytest.raises(MsgBrokerError, match="empty payload"):
        broker.send(b"")
