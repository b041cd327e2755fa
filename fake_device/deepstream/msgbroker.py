"""nvmsgbroker with the Kafka protocol adaptor: payloads → Kafka, through librdkafka.

Behaviour follows the open sources of DeepStream 9.1 (github NVIDIA/DeepStream):

* ``src/gst-plugins/gst-nvmsgbroker/gstnvmsgbroker.cpp`` — properties, the topic taken from the
  text after the last ``;`` of ``conn-str`` when no ``topic`` is set, ``comp-id`` filtering,
  asynchronous sends with a do-work thread, "failed to send the message" on an enqueue error;
* ``src/utils/nvds_msgapi/kafka_protocol_adaptor/nvds_kafka_proto.cpp`` — conn-str validation
  (``host;port`` or ``host;port;topic``, more than two ``;`` rejected), the 5 s TCP test connect
  before anything else, ``[message-broker]`` settings, the partition key, NVDS_JSON_DUMP_FILE;
* ``kafka_client.cpp`` — one producer, ``bootstrap.servers`` = ``host:port`` and nothing else set
  unless the config says so; a failed delivery is only logged;
* ``json_get_key_value()`` in the same directory — the partition key: a dotted path into the
  JSON payload;
* ``common_src/nvds_utils.cpp`` — ``*-proto-cfg`` values must be quoted, ``share-connection``.

The producer is confluent-kafka's, i.e. librdkafka, the library DeepStream's adaptor links, so
what librdkafka accepts or rejects here it accepts or rejects on the device. Unlike DeepStream,
nothing is lost silently: every delivery report is counted and :meth:`NvMsgBroker.close` raises
:class:`MessageLossError` if a message was not delivered.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import json
import logging
import os
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from fake_device.deepstream.errors import ConfigError
from fake_device.deepstream.msgconv import KeyFile, KeyFileEntry, did_you_mean
from harness.errors import EXIT_SERVICE, HarnessError

if TYPE_CHECKING:
    from types import TracebackType

    from confluent_kafka import Producer

log = logging.getLogger(__name__)
# librdkafka's own log lines go here rather than to stderr.
rdkafka_log = logging.getLogger(__name__ + ".librdkafka")

# nvds_kafka_proto.h
DEFAULT_PARTITION_KEY = "sensor.id"
DEFAULT_CONSUMER_GROUP = "test-consumer-group"
# test_kafka_broker_endpoint: "give 5 sec for connection to go through".
CONNECT_TEST_TIMEOUT_S = 5.0
# kafka_client.cpp nvds_kafka_client_finish: rd_kafka_flush (producer, 10000).
DISCONNECT_FLUSH_TIMEOUT_S = 10.0
# nvds_msgapi_send_async copies the key into char idval[100] with g_strlcpy.
_MAX_KEY_BYTES = 99
_KAFKA_LIBS = ("kafka", "libnvds_kafka_proto.so")
# DeepStream's other protocol adaptors (/opt/nvidia/deepstream/deepstream/lib), named in the error
_OTHER_ADAPTORS = {
    "libnvds_amqp_proto.so": "AMQP (RabbitMQ)",
    "libnvds_mqtt_proto.so": "MQTT (mosquitto)",
    "libnvds_redis_proto.so": "Redis",
    "libnvds_azure_proto.so": "Azure IoT Hub device client",
    "libnvds_azure_edge_proto.so": "Azure IoT Edge module client",
}

_BROKER_KEYS = (
    "proto-cfg",
    "producer-proto-cfg",
    "consumer-proto-cfg",
    "partition-key",
    "consumer-group-id",
    "share-connection",
)
# [nvmsgbroker] belongs to the newer libnvds_msgbroker API (src/utils/nvmsgbroker/nvmsgbroker.cpp);
# accepted so one file can serve both, not used here.
_NVMSGBROKER_KEYS = ("auto-reconnect", "retry-interval", "max-retry-limit", "work-interval")


class MsgBrokerError(HarnessError):
    """nvmsgbroker cannot start or cannot send (DeepStream posts an element error)."""


class BrokerConnectError(MsgBrokerError):
    """The test connect to the broker address failed; DeepStream's element fails to start."""

    exit_code = EXIT_SERVICE


class MessageLossError(MsgBrokerError):
    """Messages were handed to librdkafka but not delivered (failed, or still queued at close)."""


# -- conn-str ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConnStr:
    """A parsed ``conn-str``: ``host;port`` or the legacy ``host;port;topic``."""

    text: str
    host: str
    port: int
    topic: str | None

    @property
    def bootstrap(self) -> str:
        """``host:port`` for librdkafka's bootstrap.servers (an IPv6 host in brackets)."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_conn_str(conn_str: str) -> ConnStr:
    """Split ``conn_str`` the way is_valid_kafka_connection_str does, but reject what would fail later.

    DeepStream accepts any non-empty port text (``atoi`` turns ``"90x"`` into 90 and ``"x"`` into
    a connect failure); here the port must be 1–65535. ``topic`` is the third field, None if there
    is none (``host;port;`` gives an empty topic, which DeepStream's send rejects).
    """
    hint = "Kafka conn-str is 'host;port' or 'host;port;topic' (';' not ':'), e.g. '127.0.0.1;9092;events'"
    if conn_str is None or not str(conn_str).strip():
        raise MsgBrokerError("nvmsgbroker: conn-str is empty", hint=hint)
    text = str(conn_str)
    if text.count(";") > 2:
        raise MsgBrokerError(
            f"nvmsgbroker: conn-str {text!r} has {text.count(';')} ';' (at most 2 allowed)", hint=hint
        )
    fields = text.split(";")
    host = fields[0]
    port_text = fields[1] if len(fields) > 1 else ""
    if not host or not port_text:
        what = "host" if not host else "port"
        raise MsgBrokerError(f"nvmsgbroker: conn-str {text!r} has no {what}", hint=hint)
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise MsgBrokerError(f"nvmsgbroker: conn-str {text!r}: port {port_text!r} is not 1–65535", hint=hint)
    problem = _host_problem(host)
    if problem:
        raise MsgBrokerError(
            f"nvmsgbroker: conn-str {text!r}: host {host!r} {problem}",
            hint="write a host name (letters, digits, '-' and '.', e.g. kafka.local), an IPv4 address "
            "or an IPv6 address; " + hint,
        )
    topic = fields[2] if len(fields) > 2 else None
    return ConnStr(text=text, host=host, port=int(port_text), topic=topic)


_HOST_LABEL = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?")


def _host_problem(host: str) -> str:
    """Why no resolver takes ``host`` ("" when it can be looked up).

    librdkafka hands the host to getaddrinfo as bytes; a name with an empty label (``a..b``),
    a label over 63 characters, spaces, control or bidi characters is never resolved (Python's
    resolver even raises UnicodeError for some). Non-ASCII names must be written in their
    ASCII (``xn--``) form, as librdkafka does not convert them.
    """
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        ipaddress.ip_address(host)
        return ""
    except ValueError:
        pass
    if not host.isascii() or not host.isprintable():
        shown = ", ".join(f"U+{ord(ch):04X}" for ch in host if not (ch.isascii() and ch.isprintable()))
        return f"has characters no resolver accepts ({shown})"
    if len(host) > 253:
        return "is longer than 253 characters"
    labels = host.removesuffix(".").split(".")
    for label in labels:
        if not label:
            return "has an empty label (two dots in a row, or a leading dot)"
        if len(label) > 63:
            return f"has a label longer than 63 characters ({label[:12]}…)"
        if not _HOST_LABEL.fullmatch(label):
            return f"has a label {label!r} with characters a host name cannot have"
    return ""


def resolve_topic(conn: ConnStr, topic: str | None) -> str:
    """The topic nvmsgbroker publishes to: the ``topic`` property, else conn-str's third field.

    gstnvmsgbroker.cpp takes the text after the *last* ``;`` — for ``host;port`` that is the port,
    so DeepStream would publish to a topic named ``"9092"``; that is an error here.
    """
    if topic is not None and topic.strip():
        return topic.strip()  # the property setter g_strstrip()s it
    if conn.topic:
        return conn.topic
    if conn.topic == "":
        raise MsgBrokerError(
            f"nvmsgbroker: conn-str {conn.text!r} ends in ';' with no topic after it and no topic is set",
            hint="name the topic after the last ';' or set topic (DeepStream fails every send: "
            "'Kafka topic not specified')",
        )
    raise MsgBrokerError(
        f"nvmsgbroker: no topic: conn-str {conn.text!r} has no topic part and no topic is set",
        hint=f"use '{conn.host};{conn.port};<topic>' or set topic (DeepStream would take the text "
        f"after the last ';' and publish to a topic named {str(conn.port)!r})",
    )


# -- the [message-broker] config --------------------------------------------------------------


def parse_proto_cfg(
    text: str, *, file: str | Path = "<proto-cfg>", line: int = 0, key: str = "proto-cfg"
) -> dict[str, str]:
    """``"k1=v1;k2=v2"`` (quotes already stripped) → ``{k1: v1, k2: v2}`` as nvds_kafka_parse_proto_cfg.

    A key runs up to ``=`` and is not trimmed (``"a=1; b=2"`` sets ``" b"``, which librdkafka
    rejects); a value runs up to the next ``;`` and may contain ``=``; a trailing ``;`` is fine.
    DeepStream silently glues a segment without ``=`` onto the next key; that is an error here.
    """
    settings: dict[str, str] = {}
    rest = text
    while rest:
        equal = rest.find("=")
        semi = rest.find(";")
        if equal < 0 or (0 <= semi < equal):
            segment = rest if semi < 0 else rest[:semi]
            if segment.strip():
                raise ConfigError(
                    file,
                    f"{key}: {segment!r} has no '='",
                    line=line,
                    expected="key=value pairs separated by ';'",
                    hint='librdkafka settings are name=value, e.g. "message.timeout.ms=2000;retries=3"',
                )
            rest = "" if semi < 0 else rest[semi + 1 :]
            continue
        name = rest[:equal]
        if not name:
            raise ConfigError(
                file,
                f"{key}: a setting has no name before '='",
                line=line,
                hint="write the librdkafka property name before '=', e.g. retries=3",
            )
        value_end = rest.find(";", equal + 1)
        value = rest[equal + 1 :] if value_end < 0 else rest[equal + 1 : value_end]
        settings[name] = value
        rest = "" if value_end < 0 else rest[value_end + 1 :]
    return settings


@dataclass(frozen=True)
class MsgBrokerConfig:
    """The ``[message-broker]`` group of nvmsgbroker's ``config`` file, for the Kafka adaptor."""

    path: str | None = None
    proto_cfg: dict[str, str] = field(default_factory=dict)
    producer_proto_cfg: dict[str, str] = field(default_factory=dict)
    consumer_proto_cfg: dict[str, str] = field(default_factory=dict)
    partition_key: str = DEFAULT_PARTITION_KEY
    consumer_group_id: str = DEFAULT_CONSUMER_GROUP
    share_connection: bool = False
    # The quoted-and-stripped text of each *-proto-cfg, for the connection signature.
    raw: dict[str, str] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)

    def producer_settings(self) -> dict[str, str]:
        """proto-cfg then producer-proto-cfg: the order nvds_kafka_read_config applies them."""
        return {**self.proto_cfg, **self.producer_proto_cfg}


def _strip_quote(key_file: KeyFile, entry: KeyFileEntry) -> str:
    """nvds_utils.cpp strip_quote: a non-empty value must start and end with '"' (≥ 3 chars)."""
    value = key_file.string(entry)
    if value == "":
        return ""
    if len(value) < 3 or not value.startswith('"') or not value.endswith('"'):
        trailing = value != value.rstrip() and value.rstrip().endswith('"')
        raise ConfigError(
            key_file.path,
            f"{entry.key} must be a quoted string",
            line=entry.line,
            expected=f'{entry.key} = "key=value;key=value"',
            hint="remove the spaces after the closing quote (GKeyFile keeps them)"
            if trailing
            else "DeepStream's Kafka adaptor refuses to connect with an unquoted value",
        )
    return value[1:-1]


def load_msgbroker_config(path: str | Path) -> MsgBrokerConfig:
    """Parse nvmsgbroker's ``config`` for the Kafka adaptor (nvds_kafka_read_config).

    DeepStream ignores keys it does not know and a partition key it cannot find in the payload,
    which costs the Kafka key without a word; here unknown keys and a partition-key with quotes or
    trailing spaces are :class:`ConfigError`\\ s.
    """
    key_file = KeyFile.load(path)
    group = key_file.groups.get("message-broker")
    for name, other in key_file.groups.items():
        if name == "message-broker":
            continue
        if name == "nvmsgbroker":
            for entry in other.entries:
                if entry.key not in _NVMSGBROKER_KEYS:
                    raise ConfigError(
                        path,
                        f"unknown key {entry.key!r} in [nvmsgbroker]",
                        line=entry.line,
                        hint=did_you_mean(entry.key, _NVMSGBROKER_KEYS),
                    )
            continue
        raise ConfigError(
            path,
            f"unknown group [{name}]",
            line=other.line,
            hint=did_you_mean(name, ("message-broker", "nvmsgbroker")),
        )
    if group is None:
        # fetch_config_value: "config group[message-broker] in cfg not found" → connect fails.
        raise ConfigError(path, "no [message-broker] group", hint="the Kafka adaptor reads [message-broker]")
    for entry in group.entries:
        if entry.key not in _BROKER_KEYS:
            raise ConfigError(
                path,
                f"unknown key {entry.key!r} in [message-broker]",
                line=entry.line,
                hint=did_you_mean(entry.key, _BROKER_KEYS) + f" (Kafka keys: {', '.join(_BROKER_KEYS)})",
            )

    values: dict[str, Any] = {"path": str(path)}
    raw: dict[str, str] = {}
    lines: dict[str, int] = {}
    for key, attr in (
        ("proto-cfg", "proto_cfg"),
        ("producer-proto-cfg", "producer_proto_cfg"),
        ("consumer-proto-cfg", "consumer_proto_cfg"),
    ):
        entry = group.get(key)
        if entry is None:
            continue
        text = _strip_quote(key_file, entry)
        raw[key] = text
        lines[key] = entry.line
        values[attr] = parse_proto_cfg(text, file=path, line=entry.line, key=key)
    entry = group.get("partition-key")
    if entry is not None:
        lines["partition-key"] = entry.line
        text = key_file.string(entry)
        if '"' in text or text != text.strip():
            raise ConfigError(
                path,
                f"partition-key {text!r} has quotes or surrounding spaces, which become part of the path",
                line=entry.line,
                expected="partition-key = sensor.id",
                hint="DeepStream would find no such field and send every message without a key",
            )
        if text:
            values["partition_key"] = text
    entry = group.get("consumer-group-id")
    if entry is not None and key_file.string(entry):
        values["consumer_group_id"] = key_file.string(entry)
    entry = group.get("share-connection")
    if entry is not None:
        text = key_file.string(entry)
        if text not in ("0", "1", ""):
            raise ConfigError(
                path,
                f"share-connection={text!r}",
                line=entry.line,
                expected="1 or 0",
                hint='DeepStream compares the text with "1"; anything else means off',
            )
        values["share_connection"] = text == "1"
    return MsgBrokerConfig(raw=raw, lines=lines, **values)


def connection_signature(conn: ConnStr, config: MsgBrokerConfig) -> str:
    """nvds_msgapi_connection_signature: sha256 of host + port + the sorted cfg pairs ("" if off).

    The three cfg strings are concatenated without a separator before sorting, as upstream does.
    """
    if not config.share_connection:
        return ""
    joined = "".join(config.raw.get(k, "") for k in ("proto-cfg", "producer-proto-cfg", "consumer-proto-cfg"))
    pairs: dict[str, str] = {}
    for item in joined.split(";"):
        if not item:
            continue
        key, _, value = item.partition("=")
        key = key.strip(" \t")
        if key:
            pairs[key] = value.strip(" \t") if "=" in item else item.strip(" \t")
    text = "".join(f"{k}={pairs[k]}" for k in sorted(pairs))
    return hashlib.sha256(f"{conn.host}{conn.port}{text}".encode()).hexdigest()


# -- partition key ----------------------------------------------------------------------------


def extract_partition_key(payload: bytes | str, path: str = DEFAULT_PARTITION_KEY) -> bytes | None:
    """The Kafka key nvds_msgapi_send_async derives from ``payload``: the string at dotted ``path``.

    None when the payload is not JSON, a path element is missing or not an object, or the value
    is not a non-empty string — DeepStream then sends without a key (librdkafka's partitioner
    picks a partition). Keys are cut to 99 bytes (``char idval[100]``).

    Earlier SDK releases' json_get_key_value() (the adaptor sources NVIDIA shipped since 2018)
    read dotted paths correctly; the 9.1 open-source one cuts the last character of every element
    (``subpath[subpath_len - 1] = '\\0'``), so ``sensor.id`` finds nothing there. The emulation
    follows the working version.
    """
    try:
        node: Any = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        log.debug("partition key: payload is not JSON")
        return None
    *parents, leaf = path.split(".")
    for part in parents:
        node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            return None
    value = node.get(leaf) if isinstance(node, dict) else None
    if not isinstance(value, str) or not value:
        return None
    return value.encode("utf-8")[:_MAX_KEY_BYTES]


# -- the test connect -------------------------------------------------------------------------


def check_broker_endpoint(host: str, port: int, timeout: float = CONNECT_TEST_TIMEOUT_S) -> None:
    """Raise :class:`BrokerConnectError` unless a TCP connect to host:port succeeds within ``timeout``.

    nvds_kafka_proto.cpp test_kafka_broker_endpoint fails on a permanent resolve error, a refused
    connection and a 5 s timeout; a transient resolve error cannot invalidate the address, so it
    passes, as upstream. Every resolved address is tried (upstream tries only the first).
    """
    where = f"{host}:{port}"
    hint = (
        "is the broker running and listening there? (edge-harness services up starts one on "
        "127.0.0.1); DeepStream fails the same way: 'Invalid address or network endpoint down. "
        "kafka connect failed'"
    )
    problem = _host_problem(host)
    if problem:
        raise BrokerConnectError(
            f"nvmsgbroker: cannot resolve the Kafka broker host {host!r}: it {problem}", hint=hint
        )
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except UnicodeError as err:  # the resolver's IDNA encoding refuses the name
        raise BrokerConnectError(
            f"nvmsgbroker: cannot resolve the Kafka broker host {host!r} ({err})", hint=hint
        ) from None
    except socket.gaierror as err:
        permanent = {
            getattr(socket, n) for n in ("EAI_NONAME", "EAI_FAIL", "EAI_NODATA") if hasattr(socket, n)
        }
        if err.errno in permanent:
            raise BrokerConnectError(
                f"nvmsgbroker: cannot resolve the Kafka broker host {host!r} ({err.strerror})", hint=hint
            ) from None
        log.warning("nvmsgbroker: resolving %s failed (%s); cannot rule the address out", host, err)
        return
    reasons = []
    for family, kind, proto, _, address in infos:
        with socket.socket(family, kind, proto) as sock:
            sock.settimeout(timeout)
            try:
                sock.connect(address)
                return
            except TimeoutError:
                reasons.append(f"no answer within {timeout:g} s")
            except OSError as err:
                reasons.append(err.strerror or str(err))
    raise BrokerConnectError(
        f"nvmsgbroker: cannot connect to the Kafka broker at {where}: {'; '.join(dict.fromkeys(reasons))}",
        hint=hint,
    )


# -- NVDS_JSON_DUMP_FILE ----------------------------------------------------------------------


def read_json_dump(path: str | Path) -> list[Any]:
    """The JSON documents of an NVDS_JSON_DUMP_FILE written by :class:`NvMsgBroker`, in order.

    Each payload is written as it is, followed by a newline; pretty-printed payloads span several
    lines, so the file is read as a stream of documents rather than line by line.
    """
    text = Path(path).read_text(encoding="utf-8")
    decoder = json.JSONDecoder()
    documents = []
    index = 0
    while True:
        while index < len(text) and text[index].isspace():
            index += 1
        if index >= len(text):
            return documents
        document, index = decoder.raw_decode(text, index)
        documents.append(document)


# -- the element ------------------------------------------------------------------------------


class NvMsgBroker:
    """The nvmsgbroker element with ``proto-lib`` = the Kafka adaptor.

    Construction checks the properties and the config file (no network); :meth:`start` does the
    5 s test connect and creates the producer (or opens NVDS_JSON_DUMP_FILE); :meth:`send`
    publishes one payload asynchronously; :meth:`close` flushes and raises
    :class:`MessageLossError` if anything was not delivered. Also a context manager.

    Counters: ``sent`` (handed to librdkafka), ``delivered``, ``failed`` (delivery reports),
    ``filtered`` (skipped by ``comp_id``); ``pending`` = sent − delivered − failed. ``failures``
    keeps the last 100 failure reasons.
    """

    def __init__(
        self,
        conn_str: str,
        topic: str | None = None,
        proto_lib: str = "kafka",
        config_path: str | Path | None = None,
        comp_id: int = 0,
        *,
        connect_timeout: float = CONNECT_TEST_TIMEOUT_S,
        sleep_time_ms: int = 0,
    ) -> None:
        library = os.path.basename(str(proto_lib))
        if library not in _KAFKA_LIBS:
            known = _OTHER_ADAPTORS.get(library)
            what = (
                f"is DeepStream's {known} protocol adaptor, which"
                if known
                else "is not a protocol adaptor that"
            )
            raise MsgBrokerError(
                f"nvmsgbroker: proto-lib {proto_lib!r} {what} is not emulated",
                hint="only the Kafka adaptor is: proto-lib /opt/nvidia/deepstream/deepstream/lib/"
                "libnvds_kafka_proto.so (or 'kafka') with a Kafka broker in conn-str",
            )
        if comp_id < 0:
            raise MsgBrokerError(
                f"nvmsgbroker: comp-id must be ≥ 0, not {comp_id}",
                hint="comp-id selects the payloads of the nvmsgconv with the same comp-id; 0 is the default",
            )
        self.conn = parse_conn_str(conn_str)
        self.config = load_msgbroker_config(config_path) if config_path is not None else MsgBrokerConfig()
        self.topic = resolve_topic(self.conn, topic)
        self.proto_lib = str(proto_lib)
        self.comp_id = comp_id
        self.connect_timeout = connect_timeout
        self.sleep_time_ms = sleep_time_ms
        self.dump_path: Path | None = None
        self.sent = 0
        self.delivered = 0
        self.failed = 0
        self.filtered = 0
        self.failures: list[str] = []
        self._lock = threading.Lock()
        self._producer: Producer | None = None
        self._dump_file: Any = None
        self._poller: threading.Thread | None = None
        self._stop_polling = threading.Event()
        self._started = False
        self._closed = False

    @property
    def partition_key(self) -> str:
        return self.config.partition_key

    @property
    def pending(self) -> int:
        with self._lock:
            return self.sent - self.delivered - self.failed

    @property
    def connection_signature(self) -> str:
        return connection_signature(self.conn, self.config)

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> Self:
        """Connect (test connect, then the producer) or, with NVDS_JSON_DUMP_FILE set, open the file."""
        if self._started:
            return self
        if self._closed:
            raise MsgBrokerError("nvmsgbroker: cannot start again after close()")
        dump = os.environ.get("NVDS_JSON_DUMP_FILE")
        if dump:
            # nvds_msgapi_connect: "File dump mode enabled …, skipping Kafka connection".
            log.info("nvmsgbroker: NVDS_JSON_DUMP_FILE=%s, payloads go to the file, not Kafka", dump)
            self.dump_path = Path(dump)
            try:
                self._dump_file = self.dump_path.open("ab")
            except OSError as err:
                raise MsgBrokerError(f"nvmsgbroker: cannot open NVDS_JSON_DUMP_FILE {dump}: {err}") from None
            self._started = True
            return self
        check_broker_endpoint(self.conn.host, self.conn.port, timeout=self.connect_timeout)
        self._producer = self._create_producer()
        self._stop_polling.clear()
        # gstnvmsgbroker.cpp runs nvds_msgapi_do_work (rd_kafka_poll) on its own thread.
        self._poller = threading.Thread(target=self._poll_loop, name="nvmsgbroker-do-work", daemon=True)
        self._poller.start()
        self._started = True
        return self

    def _create_producer(self) -> Producer:
        from confluent_kafka import KafkaException, Producer

        settings: dict[str, Any] = {"bootstrap.servers": self.conn.bootstrap, "logger": rdkafka_log}
        settings.update(self.config.producer_settings())
        try:
            return Producer(settings)
        except (KafkaException, ValueError, TypeError) as err:
            reason = err.args[0].str() if err.args and hasattr(err.args[0], "str") else str(err)
            match = re.search(r'property:? "([^"]+)"', reason)
            source, line = "proto-cfg", 0
            if match:
                name = match.group(1)
                source = "producer-proto-cfg" if name in self.config.producer_proto_cfg else "proto-cfg"
                line = self.config.lines.get(source, 0)
            if self.config.path is None:
                raise MsgBrokerError(
                    f"nvmsgbroker: librdkafka rejects the producer settings: {reason}"
                ) from None
            raise ConfigError(
                self.config.path,
                f"{source}: librdkafka rejects a setting: {reason}",
                line=line,
                hint="see librdkafka's CONFIGURATION.md; DeepStream logs this and carries on without it",
            ) from None

    def _poll_loop(self) -> None:
        producer = self._producer
        pause = self.sleep_time_ms / 1000.0  # nvmsgbroker's sleep-time between do_work calls
        while producer is not None and not self._stop_polling.is_set():
            producer.poll(0.1)
            if pause:
                self._stop_polling.wait(pause)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
            return
        try:
            self.close()
        except MsgBrokerError as err:  # do not hide the exception already on its way
            log.error("%s", err)

    # -- sending -----------------------------------------------------------------------------
    def send(self, payload: bytes | str) -> bool:
        """Publish ``payload`` to :attr:`topic`; False if ``comp_id`` filtered it out.

        The Kafka key is the partition-key field of the payload (None if absent). An enqueue
        failure (librdkafka's queue full, an unknown topic in a strict broker …) raises
        :class:`MsgBrokerError`, as DeepStream posts "failed to send the message"; a failed
        *delivery* is counted in ``failed`` and logged, and surfaces at :meth:`close`.
        """
        if not self._started:
            raise MsgBrokerError("nvmsgbroker: send() before start()", hint="use `with NvMsgBroker(...)`")
        if self._closed:
            raise MsgBrokerError("nvmsgbroker: send() after close()")
        component = getattr(payload, "component_id", 0)
        if self.comp_id and component != self.comp_id:
            with self._lock:
                self.filtered += 1
            return False
        data = payload.encode("utf-8") if isinstance(payload, str) else bytes(payload)
        if not data:
            # nvds_msgapi_send_async: "payload is NULL or payload length <=0. Send failed".
            raise MsgBrokerError("nvmsgbroker: empty payload")
        if self._dump_file is not None:
            self._dump_file.write(data + b"\n")
            self._dump_file.flush()
            with self._lock:
                self.sent += 1
                self.delivered += 1
            return True
        from confluent_kafka import KafkaException

        assert self._producer is not None
        key = extract_partition_key(data, self.config.partition_key)
        if key is None:
            log.debug("nvmsgbroker: no %r in the payload; sending without a key", self.config.partition_key)
        try:
            self._producer.produce(self.topic, value=data, key=key, on_delivery=self._on_delivery)
        except BufferError as err:
            raise MsgBrokerError(
                f"nvmsgbroker: librdkafka's queue is full, payload discarded ({err})",
                hint="the broker is slower than the pipeline; raise queue.buffering.max.messages "
                "in producer-proto-cfg or check the broker",
            ) from None
        except KafkaException as err:
            raise MsgBrokerError(
                f"nvmsgbroker: failed to send the message to {self.topic!r}: {err}"
            ) from None
        with self._lock:
            self.sent += 1
        return True

    def _on_delivery(self, err: Any, msg: Any) -> None:
        with self._lock:
            if err is None:
                self.delivered += 1
                return
            self.failed += 1
            reason = err.str() if hasattr(err, "str") else str(err)
            self.failures.append(reason)
            del self.failures[:-100]
        # kafka_client.cpp dr_msg_cb: "Message delivery failed: %s".
        log.error("nvmsgbroker: message delivery to %r failed: %s", self.topic, reason)

    def flush(self, timeout: float = DISCONNECT_FLUSH_TIMEOUT_S) -> int:
        """Wait up to ``timeout`` s for outstanding deliveries; return how many are still pending."""
        if self._producer is not None:
            self._producer.flush(timeout)
        return self.pending

    def close(self, timeout: float = DISCONNECT_FLUSH_TIMEOUT_S) -> None:
        """Flush (up to ``timeout`` s), stop, and raise :class:`MessageLossError` on any loss.

        Idempotent. Messages still queued after the timeout are dropped by librdkafka when the
        producer goes away — counted as lost, never silently.
        """
        if self._closed:
            return
        self._closed = True
        started = time.monotonic()
        if self._producer is not None:
            self._producer.flush(timeout)
            self._stop_polling.set()
            if self._poller is not None:
                self._poller.join(timeout=5.0)
            with contextlib.suppress(Exception):
                self._producer.poll(0)  # reports that arrived while the poller stopped
            self._producer = None
        remaining = self.pending
        if self._dump_file is not None:
            self._dump_file.close()
            self._dump_file = None
        if remaining or self.failed:
            first = f"; first failure: {self.failures[0]}" if self.failures else ""
            raise MessageLossError(
                f"nvmsgbroker: {remaining + self.failed} of {self.sent} messages to topic {self.topic!r} on "
                f"{self.conn.bootstrap} were not delivered ({self.failed} failed, {remaining} still queued "
                f"after {time.monotonic() - started:.1f} s){first}",
                hint="check the broker and the topic; librdkafka's message.timeout.ms bounds each retry",
            )
