"""nvmsgconv → nvmsgbroker → the real Kafka-protocol broker (tansu), read back with the harness client."""

from __future__ import annotations

import socket
import uuid
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

from fake_device.deepstream.errors import ConfigError
from fake_device.deepstream.meta import FrameMeta
from fake_device.deepstream.msgbroker import MessageLossError, NvMsgBroker
from fake_device.deepstream.msgconv import EventMsg, NvMsgConv, Rect, VehicleObject
from harness.services.kafka import ExternalKafka, KafkaBroker

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
SEED_CONFIG = REPO / "scenarios" / "traffic" / "app" / "msgconv_config.txt"

MSGCONV_CONFIG = """\
[sensor0]
enable=1
type=Camera
id=cam-a
[sensor1]
enable=1
type=Camera
id=cam-b
[sensor2]
enable=1
type=Camera
id=cam-c
[place0]
enable=1
id=p0
[analytics0]
enable=1
id=a0
"""


def conn_str(broker: KafkaBroker | ExternalKafka, topic: str | None = None) -> str:
    host, _, port = broker.bootstrap_servers.split(",")[0].rpartition(":")
    return f"{host.strip('[]')};{port}" + (f";{topic}" if topic is not None else "")


def new_topic(broker: KafkaBroker | ExternalKafka, partitions: int = 3) -> str:
    topic = f"msgbroker-{uuid.uuid4().hex[:8]}"
    broker.create_topic(topic, partitions=partitions)
    return topic


def frames(count: int, sensors: int = 3) -> Iterator[tuple[FrameMeta, EventMsg]]:
    for n in range(count):
        frame = FrameMeta(
            source_id=n % sensors,
            frame_num=n,
            ntp_timestamp=1_700_000_000_000_000_000 + n * 33_333_333,
            source_frame_width=1280,
            source_frame_height=720,
        )
        event = EventMsg(
            type="moving",
            objType="vehicle",
            bbox=Rect(top=100 + n, left=200.5, width=80.25, height=60),
            sensorId=n % sensors,
            frameId=n,
            trackingId=1000 + n,
            confidence=0.75,
            extMsg=VehicleObject(type="car", color="red"),
        )
        yield frame, event


def test_full_schema_messages_arrive_byte_for_byte_keyed_by_sensor(
    kafka_broker: KafkaBroker, tmp_path: Path
) -> None:
    count = 60
    topic = new_topic(kafka_broker)
    config = tmp_path / "msgconv.txt"
    config.write_text(MSGCONV_CONFIG)
    conv = NvMsgConv(config, 0)
    expected: list[tuple[bytes, bytes]] = []
    with NvMsgBroker(conn_str(kafka_broker, topic)) as broker:
        for frame, event in frames(count):
            for payload in conv.convert(frame, [event]):
                assert broker.send(payload)
                expected.append((f"cam-{'abc'[event.sensorId]}".encode(), bytes(payload)))
        assert broker.flush(20) == 0
    assert (broker.sent, broker.delivered, broker.failed, broker.pending) == (count, count, 0, 0)

    records = kafka_broker.read_messages(topic, max_messages=count, timeout=30)
    assert sorted((r.key, r.value) for r in records) == sorted(expected)
    # the key decides the partition: one sensor, one partition
    partitions: dict[bytes | None, set[int]] = defaultdict(set)
    for record in records:
        partitions[record.key].add(record.partition)
    assert all(len(p) == 1 for p in partitions.values())
    assert {r.key for r in records} == {b"cam-a", b"cam-b", b"cam-c"}


def test_minimal_schema_key_follows_partition_key(kafka_broker: KafkaBroker, tmp_path: Path) -> None:
    conv = NvMsgConv(SEED_CONFIG, 1)
    payloads = [p for frame, event in frames(10, sensors=1) for p in conv.convert(frame, [event])]
    assert len(payloads) == 10

    # Default partition-key sensor.id: the minimal schema has no "sensor" object, so (as with the
    # seed app on a Jetson) every message goes without a key.
    topic = new_topic(kafka_broker)
    with NvMsgBroker(conn_str(kafka_broker, topic)) as broker:
        for payload in payloads:
            broker.send(payload)
    records = kafka_broker.read_messages(topic, max_messages=10, timeout=30)
    assert sorted(r.value for r in records) == sorted(payloads)
    assert {r.key for r in records} == {None}

    broker_config = tmp_path / "cfg_kafka.txt"
    broker_config.write_text('[message-broker]\npartition-key = sensorId\nproto-cfg = "linger.ms=0"\n')
    topic = new_topic(kafka_broker)
    with NvMsgBroker(conn_str(kafka_broker, topic), config_path=broker_config) as broker:
        for payload in payloads:
            broker.send(payload)
    records = kafka_broker.read_messages(topic, max_messages=10, timeout=30)
    assert sorted(r.value for r in records) == sorted(payloads)
    assert {r.key for r in records} == {b"highway-cam-0"}


def test_topic_property_wins_over_conn_str(kafka_broker: KafkaBroker) -> None:
    topic = new_topic(kafka_broker, partitions=1)
    with NvMsgBroker(conn_str(kafka_broker, "not-this-one"), topic=topic) as broker:
        broker.send(b'{"sensor" : {"id" : "s"}}')
    [record] = kafka_broker.read_messages(topic, max_messages=1, timeout=20)
    assert (record.key, record.value) == (b"s", b'{"sensor" : {"id" : "s"}}')


def test_librdkafka_rejects_a_bad_setting_with_file_and_line(
    kafka_broker: KafkaBroker, tmp_path: Path
) -> None:
    config = tmp_path / "cfg_kafka.txt"
    config.write_text('[message-broker]\n\nproducer-proto-cfg = "linger.ms=0;no.such.setting=1"\n')
    broker = NvMsgBroker(conn_str(kafka_broker, "t"), config_path=config)
    with pytest.raises(ConfigError) as info:
        broker.start()
    assert str(info.value).startswith(f"{config}:3: producer-proto-cfg: librdkafka rejects a setting")
    assert "no.such.setting" in str(info.value)


def test_failed_deliveries_are_counted_and_close_raises(tmp_path: Path) -> None:
    # Something accepts TCP connections (so the test connect passes) but never answers Kafka.
    config = tmp_path / "cfg_kafka.txt"
    config.write_text('[message-broker]\nproto-cfg = "message.timeout.ms=500;socket.timeout.ms=400"\n')
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        port = silent.getsockname()[1]
        broker = NvMsgBroker(f"127.0.0.1;{port};events", config_path=config)
        broker.start()
        for n in range(3):
            broker.send(b'{"sensor" : {"id" : "s%d"}}' % n)
        assert broker.flush(10) == 0  # every message has its delivery report
        assert (broker.sent, broker.delivered, broker.failed) == (3, 0, 3)
        assert "timed out" in broker.failures[0].lower()
        with pytest.raises(MessageLossError) as info:
            broker.close()
    message = str(info.value)
    assert f"3 of 3 messages to topic 'events' on 127.0.0.1:{port} were not delivered (3 failed" in message
    assert "first failure:" in message
    broker.close()  # idempotent, raises once


def test_messages_still_queued_at_close_are_reported() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        broker = NvMsgBroker(f"127.0.0.1;{silent.getsockname()[1]};events")
        loss = pytest.raises(MessageLossError, match=r"2 of 2 messages .* \(0 failed, 2 still queued after")
        with loss, broker:
            broker.send(b"{}")
            broker.send(b"{}")
            assert broker.flush(0.2) == 2
            broker.close(timeout=0.2)
    assert broker.pending == 2
