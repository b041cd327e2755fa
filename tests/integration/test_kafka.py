"""The Kafka broker service against a real tansu process, through confluent-kafka (librdkafka)."""

from __future__ import annotations

import json
import logging
import threading
import uuid
from pathlib import Path

import pytest

from harness.services.base import ServiceError
from harness.services.kafka import ExternalKafka, KafkaBroker, format_bootstrap, parse_bootstrap
from harness.services.ports import free_ports

pytestmark = pytest.mark.integration


def _topic(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_endpoints_and_environment(kafka_broker: KafkaBroker) -> None:
    assert kafka_broker.bootstrap_servers.startswith("127.0.0.1:")
    assert kafka_broker.endpoints == {"bootstrap": kafka_broker.bootstrap_servers}
    assert kafka_broker.environment() == {"KAFKA_BOOTSTRAP_SERVERS": kafka_broker.bootstrap_servers}
    assert kafka_broker.log_path is not None and "tansu" in kafka_broker.log_path.read_text()


def test_ten_thousand_idempotent_messages_arrive_once_each(kafka_broker: KafkaBroker) -> None:
    topic = _topic("idempotent")
    count, partitions = 10_000, 3
    kafka_broker.create_topic(topic, partitions=partitions)
    reports: list[tuple[str | None, int, int]] = []

    def delivered(err: object, msg: object) -> None:
        reports.append((str(err) if err else None, msg.partition(), msg.offset()))  # type: ignore[attr-defined]

    producer = kafka_broker.producer(**{"enable.idempotence": True, "acks": "all"})
    for seq in range(count):
        producer.produce(topic, key=f"msg-{seq}", value=json.dumps({"seq": seq}), on_delivery=delivered)
        producer.poll(0)
    assert producer.flush(30) == 0

    assert len(reports) == count
    assert [r for r in reports if r[0] is not None] == []
    assert len({(p, o) for _, p, o in reports}) == count  # every message got its own offset

    records = kafka_broker.read_messages(topic, max_messages=count, timeout=60)
    seqs = [r.json()["seq"] for r in records]
    assert len(records) == count
    assert sorted(seqs) == list(range(count))  # none lost, none duplicated
    assert all(r.key == f"msg-{r.json()['seq']}".encode() for r in records)
    # The log holds exactly these: no duplicate was written that the read stopped short of.
    assert sum(kafka_broker.end_offsets(topic).values()) == count
    # Within a partition, librdkafka's idempotent producer keeps the produce order.
    for partition in range(partitions):
        in_partition = [r.json()["seq"] for r in records if r.partition == partition]
        assert in_partition == sorted(in_partition)


def test_create_topic_is_idempotent(kafka_broker: KafkaBroker) -> None:
    topic = _topic("twice")
    kafka_broker.create_topic(topic, partitions=2)
    kafka_broker.create_topic(topic, partitions=2)
    assert kafka_broker.partitions(topic) == [0, 1]


def test_read_messages_assigns_every_partition(kafka_broker: KafkaBroker) -> None:
    topic = _topic("assign")
    kafka_broker.create_topic(topic, partitions=2)
    producer = kafka_broker.producer()
    for i in range(6):
        producer.produce(topic, key=str(i), value=b"v", partition=i % 2, headers=[("h", b"x")])
    assert producer.flush(10) == 0

    records = kafka_broker.read_messages(topic, max_messages=6, timeout=20)
    assert sorted(int(r.key or b"") for r in records) == list(range(6))
    assert {r.partition for r in records} == {0, 1}
    assert all(r.headers == (("h", b"x"),) and r.timestamp_ms for r in records)


def test_read_messages_returns_what_arrived_when_the_timeout_passes(kafka_broker: KafkaBroker) -> None:
    topic = _topic("partial")
    kafka_broker.create_topic(topic)
    producer = kafka_broker.producer()
    for i in range(3):
        producer.produce(topic, value=str(i))
    producer.flush(10)
    assert len(kafka_broker.read_messages(topic, max_messages=10, timeout=1.5)) == 3


def test_end_offsets_are_exact_across_record_batches(kafka_broker: KafkaBroker) -> None:
    # tansu's ListOffsets("latest") answers the newest batch's base offset + 1; several flushed
    # batches expose the difference.
    topic = _topic("ends")
    kafka_broker.create_topic(topic)
    producer = kafka_broker.producer()
    for batch in range(4):
        for i in range(3):
            producer.produce(topic, value=f"{batch}-{i}")
        producer.flush(10)
    assert kafka_broker.end_offsets(topic) == {0: 12}


def test_read_messages_from_the_end_skips_older_messages(kafka_broker: KafkaBroker) -> None:
    topic = _topic("tail")
    kafka_broker.create_topic(topic)
    producer = kafka_broker.producer()
    for i in range(5):
        producer.produce(topic, value=f"old-{i}")
    producer.flush(10)

    def produce_new() -> None:
        for i in range(3):
            producer.produce(topic, value=f"new-{i}")
        producer.flush(10)

    timer = threading.Timer(2.0, produce_new)  # after read_messages has found the end
    timer.start()
    try:
        records = kafka_broker.read_messages(topic, max_messages=3, timeout=20, from_beginning=False)
    finally:
        timer.join()
    assert [r.value for r in records] == [b"new-0", b"new-1", b"new-2"]


def test_reading_a_missing_topic_names_it(kafka_broker: KafkaBroker) -> None:
    with pytest.raises(ServiceError, match="no-such-topic"):
        kafka_broker.read_messages("no-such-topic", max_messages=1, timeout=1)
    # looking did not create it (a Metadata request naming a topic would, on tansu)
    assert "no-such-topic" not in kafka_broker.admin().list_topics(timeout=5).topics


def test_check_passes(kafka_broker: KafkaBroker) -> None:
    summary = kafka_broker.check()
    assert "100 messages" in summary and kafka_broker.bootstrap_servers in summary


def test_external_kafka_uses_a_running_broker(kafka_broker: KafkaBroker) -> None:
    with ExternalKafka(kafka_broker.bootstrap_servers) as external:
        assert external.running
        assert external.endpoints == {"bootstrap": kafka_broker.bootstrap_servers}
        assert external.environment() == {"KAFKA_BOOTSTRAP_SERVERS": kafka_broker.bootstrap_servers}
        assert "messages produced" in external.check(messages=20)
    # stopping the wrapper leaves the broker alone
    assert kafka_broker.partitions(_create(kafka_broker, "still-up")) == [0]


def _create(kafka_broker: KafkaBroker, prefix: str) -> str:
    topic = _topic(prefix)
    kafka_broker.create_topic(topic)
    return topic


def test_external_kafka_on_a_closed_port_names_the_address() -> None:
    (port,) = free_ports(1)
    external = ExternalKafka(f"127.0.0.1:{port}", startup_timeout=1)
    with pytest.raises(ServiceError, match=f"127.0.0.1:{port}"):
        external.start()
    assert not external.running


@pytest.mark.parametrize(
    ("text", "servers"),
    [
        ("127.0.0.1:9092", [("127.0.0.1", 9092)]),
        ("a:1, b:2", [("a", 1), ("b", 2)]),
        ("PLAINTEXT://broker:9093", [("broker", 9093)]),
        ("[::1]:9092", [("::1", 9092)]),
    ],
)
def test_parse_bootstrap(text: str, servers: list[tuple[str, int]]) -> None:
    assert parse_bootstrap(text) == servers
    assert parse_bootstrap(format_bootstrap(servers)) == servers


@pytest.mark.parametrize("text", ["", "broker", "broker:", "broker:x", ":9092", "a:1,,b:2", "b:70000"])
def test_parse_bootstrap_rejects_bad_addresses(text: str) -> None:
    with pytest.raises(ServiceError, match="bad bootstrap address") as info:
        parse_bootstrap(text)
    assert "host:port" in str(info.value)


def test_a_broker_that_fails_to_start_shows_its_log(tmp_path: Path) -> None:
    bogus = tmp_path / "tansu"
    bogus.write_text("#!/bin/sh\necho 'bogus broker: cannot open storage' >&2\nexit 7\n")
    bogus.chmod(0o755)
    broker = KafkaBroker(binary=bogus, workdir=tmp_path / "work", startup_timeout=10)
    with pytest.raises(ServiceError) as info:
        broker.start()
    message = str(info.value)
    assert "exited with code 7" in message
    assert "bogus broker: cannot open storage" in message
    assert not broker.running and broker.process is None


def test_a_missing_or_unexecutable_binary_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ServiceError, match="does not exist"):
        KafkaBroker(binary=tmp_path / "nope").start()
    plain = tmp_path / "plain"
    plain.write_text("")
    with pytest.raises(ServiceError, match="not executable"):
        KafkaBroker(binary=plain).start()


def test_stop_does_not_wait_for_connected_clients(caplog: pytest.LogCaptureFixture) -> None:
    # tansu's SIGTERM waits for clients to disconnect; the service must not depend on that.
    with KafkaBroker() as kafka:
        topic = _create(kafka, "stop")
        producer = kafka.producer()
        producer.produce(topic, value=b"x")
        assert producer.flush(10) == 0
        with caplog.at_level(logging.WARNING, logger="harness.services.base"):
            kafka.stop()
        assert "did not stop" not in caplog.text
        assert not kafka.running
