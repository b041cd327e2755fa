"""The eventstream codec: round trips, strict errors, and agreement with awscrt's own framing.

awscrt exposes no encoder or decoder of its own, so the cross-checks run its client connection
against a plain socket in the test: what awscrt writes must decode here, and what is encoded here
must reach awscrt's callbacks with the same headers and payload.
"""

from __future__ import annotations

import queue
import socket
import struct
import tempfile
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from awscrt.eventstream import Header as CrtHeader
from awscrt.eventstream import HeaderType as CrtHeaderType
from awscrt.eventstream.rpc import (
    ClientConnection,
    ClientConnectionHandler,
    ClientContinuationHandler,
    MessageFlag,
    MessageType,
)
from awscrt.io import ClientBootstrap, DefaultHostResolver, EventLoopGroup, SocketDomain, SocketOptions

from fake_device.nucleus.ipc.framing import (
    MAX_MESSAGE_SIZE,
    FramingError,
    Header,
    HeaderType,
    Message,
    MessageReader,
    decode,
    encode,
)

WAIT = 10.0

ALL_TYPES = (
    Header("t", True, HeaderType.BOOL_TRUE),
    Header("f", False, HeaderType.BOOL_FALSE),
    Header("byte", -7, HeaderType.BYTE),
    Header("int16", -30000, HeaderType.INT16),
    Header("int32", 2**31 - 1, HeaderType.INT32),
    Header("int64", -(2**63), HeaderType.INT64),
    Header("bytes", b"\x00\xff\x10", HeaderType.BYTE_BUF),
    Header("string", "grüße", HeaderType.STRING),
    Header("timestamp", 1_700_000_000_123, HeaderType.TIMESTAMP),
    Header("uuid", uuid.UUID("12345678-1234-5678-1234-567812345678"), HeaderType.UUID),
)


def test_round_trip_every_header_type() -> None:
    message = Message(ALL_TYPES, b'{"hello": "world"}')
    assert decode(encode(message)) == message


def test_empty_message_is_sixteen_bytes() -> None:
    data = encode(Message())
    assert len(data) == 16
    assert struct.unpack(">II", data[:8]) == (16, 0)
    assert decode(data) == Message()


def test_prelude_crc_mismatch_is_named() -> None:
    data = bytearray(encode(Message((Header.string("a", "b"),), b"x")))
    data[8] ^= 0xFF
    with pytest.raises(FramingError, match="prelude CRC mismatch: the frame says 0x"):
        decode(bytes(data))


def test_message_crc_mismatch_is_named() -> None:
    data = bytearray(encode(Message((Header.string("a", "b"),), b"payload")))
    data[-6] ^= 0x01  # a payload byte
    with pytest.raises(FramingError, match="message CRC mismatch"):
        decode(bytes(data))


def test_truncated_frame_says_how_many_bytes() -> None:
    data = encode(Message((Header.string("operation", "x"),), b"12345"))
    with pytest.raises(FramingError, match=rf"truncated frame: the prelude says {len(data)} bytes, got 20"):
        decode(data[:20])
    with pytest.raises(FramingError, match="truncated frame: 5 bytes, a prelude alone is 12"):
        decode(data[:5])


def test_extra_bytes_after_a_frame() -> None:
    data = encode(Message())
    with pytest.raises(FramingError, match="extra bytes after the frame"):
        decode(data + b"\x00")


def _frame(total: int, headers_length: int, body: bytes) -> bytes:
    prelude = struct.pack(">II", total, headers_length)
    data = prelude + struct.pack(">I", zlib.crc32(prelude)) + body
    return data + struct.pack(">I", zlib.crc32(data))


def test_unknown_header_type_is_named() -> None:
    headers = b"\x04name" + b"\x0c"
    data = _frame(16 + len(headers), len(headers), headers)
    with pytest.raises(FramingError, match=r"header 'name': value type 12 is not an eventstream header type"):
        decode(data)


def test_header_running_past_the_headers_block() -> None:
    headers = b"\x01a\x07\x00\x10abc"  # a string header that says 16 bytes, has 3
    data = _frame(16 + len(headers), len(headers), headers)
    with pytest.raises(FramingError, match=r"header #1: a STRING value needs 16 bytes at offset 5"):
        decode(data)


def test_headers_length_larger_than_the_message() -> None:
    prelude = struct.pack(">II", 20, 10)
    data = prelude + struct.pack(">I", zlib.crc32(prelude)) + b"\x00" * 8
    with pytest.raises(FramingError, match="headers length 10 does not fit a message of 20 bytes"):
        decode(data)


def test_total_length_over_the_limit() -> None:
    prelude = struct.pack(">II", MAX_MESSAGE_SIZE + 1, 0)
    with pytest.raises(FramingError, match="over the 25165824-byte limit"):
        list(MessageReader().feed(prelude + struct.pack(">I", zlib.crc32(prelude))))


def test_encoder_refuses_values_that_do_not_fit() -> None:
    with pytest.raises(FramingError, match="does not fit a INT32 value"):
        encode(Message((Header.int32("n", 2**31),)))
    with pytest.raises(FramingError, match="header name '' is 0 bytes"):
        encode(Message((Header.string("", "x"),)))
    with pytest.raises(FramingError, match="value is 40000 bytes"):
        encode(Message((Header.string("s", "x" * 40000),)))


def test_reader_reassembles_frames_fed_byte_by_byte() -> None:
    messages = [Message(ALL_TYPES, b"one"), Message((Header.string("operation", "op"),), b""), Message()]
    stream = b"".join(encode(m) for m in messages)
    reader = MessageReader()
    out: list[Message] = []
    for i in range(len(stream)):
        out.extend(reader.feed(stream[i : i + 1]))
    assert out == messages
    assert reader.pending == 0


def test_reader_fails_on_a_corrupt_frame_in_the_stream() -> None:
    good = encode(Message(payload=b"ok"))
    bad = bytearray(encode(Message(payload=b"bad")))
    bad[-1] ^= 0x01
    reader = MessageReader()
    out = []
    with pytest.raises(FramingError, match="message CRC mismatch"):
        out.extend(reader.feed(good + bytes(bad)))
    assert out == [Message(payload=b"ok")]


def test_header_lookup_is_case_insensitive_and_typed() -> None:
    message = Message((Header.string(":Stream-ID", "text"), Header.int32(":stream-id", 3)))
    assert message.header(":stream-id", HeaderType.INT32) == 3
    assert message.header(":STREAM-ID") == "text"
    assert message.header("missing") is None


# -- against awscrt --------------------------------------------------------------------------------


class _Recorder(ClientConnectionHandler):
    def __init__(self) -> None:
        self.setup: queue.Queue[Any] = queue.Queue()
        self.messages: queue.Queue[dict[str, Any]] = queue.Queue()
        self.shutdown: queue.Queue[Any] = queue.Queue()

    def on_connection_setup(self, connection: Any, error: Any, **kwargs: Any) -> None:
        self.setup.put((connection, error))

    def on_connection_shutdown(self, reason: Any, **kwargs: Any) -> None:
        self.shutdown.put(reason)

    def on_protocol_message(self, headers: Any, payload: bytes, message_type: Any, flags: int, **_: Any):
        self.messages.put({"headers": headers, "payload": payload, "type": message_type, "flags": flags})


class _Continuation(ClientContinuationHandler):
    def __init__(self) -> None:
        self.messages: queue.Queue[dict[str, Any]] = queue.Queue()

    def on_continuation_message(self, headers: Any, payload: bytes, message_type: Any, flags: int, **_: Any):
        self.messages.put({"headers": headers, "payload": payload, "type": message_type, "flags": flags})

    def on_continuation_closed(self, **kwargs: Any) -> None:
        pass


def _read_message(peer: socket.socket, reader: MessageReader) -> Message:
    peer.settimeout(WAIT)
    while True:
        messages = list(reader.feed(peer.recv(65536)))
        if messages:
            assert len(messages) == 1
            return messages[0]


@pytest.fixture
def crt_pair() -> Iterator[tuple[Any, socket.socket, _Recorder]]:
    """An awscrt client connection and the raw server end of its socket."""
    folder = Path(tempfile.mkdtemp(prefix="eh-ipc-"))
    path = folder / "s"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(1)
    listener.settimeout(WAIT)
    elg = EventLoopGroup(1)
    options = SocketOptions()
    options.domain = SocketDomain.Local
    recorder = _Recorder()
    ClientConnection.connect(
        handler=recorder,
        host_name=str(path),
        port=0,
        bootstrap=ClientBootstrap(elg, DefaultHostResolver(elg)),
        socket_options=options,
    )
    peer, _ = listener.accept()
    connection, error = recorder.setup.get(timeout=WAIT)
    assert error is None
    try:
        yield connection, peer, recorder
    finally:
        connection.close().result(WAIT)
        peer.close()
        listener.close()
        path.unlink(missing_ok=True)
        folder.rmdir()


def test_decodes_what_awscrt_encodes(crt_pair: tuple[Any, socket.socket, _Recorder]) -> None:
    connection, peer, _ = crt_pair
    sent = [
        CrtHeader.from_bool("t", True),
        CrtHeader.from_bool("f", False),
        CrtHeader.from_byte("byte", -7),
        CrtHeader.from_int16("int16", -30000),
        CrtHeader.from_int32("int32", 2**31 - 1),
        CrtHeader.from_int64("int64", -(2**63)),
        CrtHeader.from_byte_buf("bytes", b"\x00\xff\x10"),
        CrtHeader.from_string("string", "grüße"),
        CrtHeader.from_timestamp("timestamp", 1_700_000_000_123),
        CrtHeader.from_uuid("uuid", uuid.UUID("12345678-1234-5678-1234-567812345678")),
    ]
    connection.send_protocol_message(
        headers=sent, payload=b'{"authToken": "X"}', message_type=MessageType.CONNECT
    ).result(WAIT)
    message = _read_message(peer, MessageReader())
    assert message.payload == b'{"authToken": "X"}'
    assert message.headers[: len(ALL_TYPES)] == ALL_TYPES
    assert message.header(":message-type", HeaderType.INT32) == MessageType.CONNECT
    assert message.header(":message-flags", HeaderType.INT32) == 0
    assert message.header(":stream-id", HeaderType.INT32) == 0


def test_awscrt_decodes_what_is_encoded_here(crt_pair: tuple[Any, socket.socket, _Recorder]) -> None:
    connection, peer, recorder = crt_pair
    connection.send_protocol_message(message_type=MessageType.CONNECT).result(WAIT)
    _read_message(peer, MessageReader())

    def rpc(kind: MessageType, flags: int, stream: int) -> tuple[Header, ...]:
        return (
            Header.int32(":message-type", kind),
            Header.int32(":message-flags", flags),
            Header.int32(":stream-id", stream),
        )

    peer.sendall(encode(Message(rpc(MessageType.CONNECT_ACK, MessageFlag.CONNECTION_ACCEPTED, 0))))
    ack = recorder.messages.get(timeout=WAIT)
    assert ack["type"] == MessageType.CONNECT_ACK
    assert ack["flags"] & MessageFlag.CONNECTION_ACCEPTED

    peer.sendall(encode(Message((*ALL_TYPES, *rpc(MessageType.PING, 0, 0)), b"ping payload")))
    ping = recorder.messages.get(timeout=WAIT)
    assert ping["type"] == MessageType.PING
    assert ping["payload"] == b"ping payload"
    received = {h.name: (h.type, h.value) for h in ping["headers"]}
    for header in ALL_TYPES:
        kind, value = received[header.name]
        assert kind == CrtHeaderType(int(header.type))
        assert value == (bytes(header.value) if header.type == HeaderType.BYTE_BUF else header.value)


def test_stream_messages_from_awscrt_carry_operation_and_stream_id(
    crt_pair: tuple[Any, socket.socket, _Recorder],
) -> None:
    connection, peer, recorder = crt_pair
    reader = MessageReader()
    connection.send_protocol_message(message_type=MessageType.CONNECT).result(WAIT)
    _read_message(peer, reader)
    ack = (
        Header.int32(":message-type", MessageType.CONNECT_ACK),
        Header.int32(":message-flags", MessageFlag.CONNECTION_ACCEPTED),
        Header.int32(":stream-id", 0),
    )
    peer.sendall(encode(Message(ack)))
    recorder.messages.get(timeout=WAIT)
    handler = _Continuation()
    continuation = connection.new_stream(handler)
    continuation.activate(
        operation="aws.greengrass#GetConfiguration",
        headers=[CrtHeader.from_string(":content-type", "application/json")],
        payload=b"{}",
        message_type=MessageType.APPLICATION_MESSAGE,
        flags=MessageFlag.NONE,
    ).result(WAIT)
    request = _read_message(peer, reader)
    assert request.header("operation", HeaderType.STRING) == "aws.greengrass#GetConfiguration"
    assert request.header(":stream-id", HeaderType.INT32) == 1
    assert request.header(":message-type", HeaderType.INT32) == MessageType.APPLICATION_MESSAGE
    assert request.payload == b"{}"
    reply = (
        Header.string(":content-type", "application/json"),
        Header.int32(":message-type", MessageType.APPLICATION_MESSAGE),
        Header.int32(":message-flags", MessageFlag.TERMINATE_STREAM),
        Header.int32(":stream-id", 1),
    )
    peer.sendall(encode(Message(reply, b'{"value": {}}')))
    answer = handler.messages.get(timeout=WAIT)
    assert answer["payload"] == b'{"value": {}}'
    assert answer["flags"] & MessageFlag.TERMINATE_STREAM
