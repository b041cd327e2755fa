"""Reading a topic for the whole scenario: every message with the time it was received.

A consumer thread starts before the first step and keeps every record of the scenario's topics
with ``time.time_ns()`` at receipt, so an ``expect_messages`` step can look at any window
(message counts, gaps across an upgrade, frame → Kafka latency = receipt − ``@timestamp``)
without racing the app. It reads by ``assign()`` from the log start — no consumer group, no
commits — so it starts at once and leaves no state on a shared broker.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Received:
    """One record: topic, partition, offset, value and when the harness received it (ns)."""

    topic: str
    partition: int
    offset: int
    value: bytes
    received_ns: int

    def json(self) -> Any:
        return json.loads(self.value)


class TopicRecorder:
    """A background consumer of ``topics`` on a :class:`~harness.services.kafka.KafkaClient`."""

    def __init__(self, kafka: Any, topics: Sequence[str]) -> None:
        self.kafka = kafka
        self.topics = list(topics)
        self._records: list[Received] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: str | None = None

    def start(self) -> None:
        from confluent_kafka import TopicPartition

        consumer = self.kafka._reader()
        assignments = []
        for topic in self.topics:
            for partition in self.kafka.partitions(topic):
                low, _high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
                assignments.append(TopicPartition(topic, partition, low))
        consumer.assign(assignments)
        self._thread = threading.Thread(
            target=self._loop, args=(consumer,), name="topic-recorder", daemon=True
        )
        self._thread.start()

    def _loop(self, consumer: Any) -> None:
        from confluent_kafka import KafkaError

        try:
            while not self._stop.is_set():
                for msg in consumer.consume(500, timeout=0.1):
                    now = time.time_ns()
                    err = msg.error()
                    if err is not None:
                        if err.code() != KafkaError._PARTITION_EOF:
                            self.error = str(err)
                            log.warning("reading %s: %s", msg.topic(), err)
                        continue
                    record = Received(msg.topic(), msg.partition(), msg.offset(), msg.value() or b"", now)
                    with self._lock:
                        self._records.append(record)
        finally:
            consumer.close()

    def records(
        self, topic: str | None = None, since_ns: int = 0, until_ns: int | None = None
    ) -> list[Received]:
        with self._lock:
            return [
                r
                for r in self._records
                if (topic is None or r.topic == topic)
                and r.received_ns >= since_ns
                and (until_ns is None or r.received_ns <= until_ns)
            ]

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def reconnect(self) -> None:
        """Read the topics again from their start, keeping every record received so far.

        For a broker that was stopped or killed and started again: one with memory storage
        (tansu) comes back empty, its offsets start at 0 again and a topic may come back with
        other partitions, so the old assignment would read nothing.
        """
        self.stop()
        self._stop.clear()
        self.start()
