"""The eventstream message format the Greengrass IPC socket speaks.

A component's ``awsiotsdk`` client frames every message with ``aws-c-event-stream``
(awslabs/aws-c-event-stream ``source/event_stream.c``); the nucleus's server (aws-crt-java)
uses the same C library. awscrt has no server side and no public encoder, so this module is
the simulator's own codec for the format::

    prelude   total length (u32 BE) | headers length (u32 BE) | prelude CRC32 (of the 8 bytes)
    headers   repeated: name length (u8) | name (UTF-8) | value type (u8) | value
    payload   total - headers - 16 bytes
    trailer   message CRC32 (of everything before it, prelude CRC included)

Header values: BOOL_TRUE/BOOL_FALSE carry no bytes; BYTE, INT16, INT32, INT64 and TIMESTAMP
are signed big-endian integers (a timestamp is the raw 64-bit value); BYTE_BUF and STRING have a
u16 length (at most ``INT16_MAX``) before the bytes; UUID is 16 bytes. The C library refuses
messages over 24 MiB and more than 1024 headers; so does this codec.

The decoder is strict, because a framing bug on either side must show up as a clear error that
names what is wrong (which CRC, which header, how many bytes were expected), not as a hung
client: :class:`FramingError` says it.
"""

from __future__ import annotations

import struct
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from harness.errors import HarnessError

__all__ = [
    "MAX_HEADERS",
    "MAX_MESSAGE_SIZE",
    "PRELUDE_LENGTH",
    "FramingError",
    "Header",
    "HeaderType",
    "Message",
    "MessageReader",
    "check_prelude",
    "decode",
    "encode",
]

PRELUDE_LENGTH = 12  # AWS_EVENT_STREAM_PRELUDE_LENGTH
TRAILER_LENGTH = 4  # AWS_EVENT_STREAM_TRAILER_LENGTH
MAX_MESSAGE_SIZE = 24 * 1024 * 1024  # AWS_EVENT_STREAM_MAX_MESSAGE_SIZE
MAX_HEADERS = 1024  # AWS_EVENT_STREAM_MESSAGE_MAX_HEADERS
MAX_NAME_LENGTH = 255  # AWS_EVENT_STREAM_HEADER_NAME_LEN_MAX
MAX_VALUE_LENGTH = 2**15 - 1  # AWS_EVENT_STREAM_HEADER_VALUE_LEN_MAX

_HINT = "both ends must frame messages as aws-c-event-stream does (awscrt.eventstream)"


class FramingError(HarnessError):
    """Bytes that are not a valid eventstream message."""

    def __init__(self, message: str, *, hint: str | None = _HINT) -> None:
        super().__init__(message, hint=hint)


class HeaderType(IntEnum):
    """``aws_event_stream_header_value_type`` (the same numbers as ``awscrt.eventstream.HeaderType``)."""

    BOOL_TRUE = 0
    BOOL_FALSE = 1
    BYTE = 2
    INT16 = 3
    INT32 = 4
    INT64 = 5
    BYTE_BUF = 6
    STRING = 7
    TIMESTAMP = 8
    UUID = 9


_INTEGERS = {
    HeaderType.BYTE: ">b",
    HeaderType.INT16: ">h",
    HeaderType.INT32: ">i",
    HeaderType.INT64: ">q",
    HeaderType.TIMESTAMP: ">q",
}


@dataclass(frozen=True)
class Header:
    """One header: name, value and wire type (an int32 7 and an int64 7 are different headers)."""

    name: str
    value: Any
    type: HeaderType

    @staticmethod
    def string(name: str, value: str) -> Header:
        return Header(name, value, HeaderType.STRING)

    @staticmethod
    def int32(name: str, value: int) -> Header:
        return Header(name, value, HeaderType.INT32)

    @staticmethod
    def boolean(name: str, value: bool) -> Header:
        return Header(name, bool(value), HeaderType.BOOL_TRUE if value else HeaderType.BOOL_FALSE)


@dataclass(frozen=True)
class Message:
    """A decoded message: headers in wire order and the payload bytes."""

    headers: tuple[Header, ...] = ()
    payload: bytes = b""

    def header(self, name: str, kind: HeaderType | None = None) -> Any:
        """The value of the first header called ``name`` (case-insensitively, as
        ``aws_event_stream_rpc_extract_message_metadata`` compares), of type ``kind`` if given."""
        lowered = name.lower()
        for header in self.headers:
            if header.name.lower() == lowered and (kind is None or header.type == kind):
                return header.value
        return None


def _encode_header(header: Header) -> bytes:
    name = header.name.encode("utf-8")
    if not 0 < len(name) <= MAX_NAME_LENGTH:
        raise FramingError(f"header name {header.name!r} is {len(name)} bytes (1..{MAX_NAME_LENGTH} allowed)")
    kind = HeaderType(header.type)
    out = struct.pack(">B", len(name)) + name + struct.pack(">B", kind)
    if kind in (HeaderType.BOOL_TRUE, HeaderType.BOOL_FALSE):
        return out
    if kind in _INTEGERS:
        try:
            return out + struct.pack(_INTEGERS[kind], int(header.value))
        except struct.error:
            raise FramingError(
                f"header {header.name!r}: {header.value!r} does not fit a {kind.name} value", hint=None
            ) from None
    if kind == HeaderType.UUID:
        value = header.value.bytes if isinstance(header.value, uuid.UUID) else bytes(header.value)
        if len(value) != 16:
            raise FramingError(f"header {header.name!r}: a UUID is 16 bytes, got {len(value)}", hint=None)
        return out + value
    raw = header.value.encode("utf-8") if kind == HeaderType.STRING else bytes(header.value)
    if len(raw) > MAX_VALUE_LENGTH:
        raise FramingError(
            f"header {header.name!r}: value is {len(raw)} bytes (at most {MAX_VALUE_LENGTH})", hint=None
        )
    return out + struct.pack(">H", len(raw)) + raw


def encode(message: Message) -> bytes:
    """The wire bytes of ``message`` (``aws_event_stream_message_init``)."""
    if len(message.headers) > MAX_HEADERS:
        raise FramingError(f"{len(message.headers)} headers (at most {MAX_HEADERS})", hint=None)
    headers = b"".join(_encode_header(h) for h in message.headers)
    total = PRELUDE_LENGTH + len(headers) + len(message.payload) + TRAILER_LENGTH
    if total > MAX_MESSAGE_SIZE:
        raise FramingError(f"message of {total} bytes (at most {MAX_MESSAGE_SIZE})", hint=None)
    prelude = struct.pack(">II", total, len(headers))
    body = prelude + struct.pack(">I", zlib.crc32(prelude)) + headers + message.payload
    return body + struct.pack(">I", zlib.crc32(body))


def check_prelude(prelude: bytes) -> tuple[int, int]:
    """Total and headers length from the 12 prelude bytes, after checking its CRC and bounds."""
    total, headers_length, crc = struct.unpack(">III", prelude)
    computed = zlib.crc32(prelude[:8])
    if computed != crc:
        raise FramingError(
            f"prelude CRC mismatch: the frame says 0x{crc:08x}, its bytes give 0x{computed:08x}"
        )
    if total < PRELUDE_LENGTH + TRAILER_LENGTH:
        raise FramingError(f"total length {total} is shorter than a prelude and a trailer (16 bytes)")
    if total > MAX_MESSAGE_SIZE:
        raise FramingError(f"total length {total} is over the {MAX_MESSAGE_SIZE}-byte limit")
    if headers_length > total - PRELUDE_LENGTH - TRAILER_LENGTH:
        raise FramingError(f"headers length {headers_length} does not fit a message of {total} bytes")
    return total, headers_length


def _decode_headers(data: bytes) -> tuple[Header, ...]:
    headers: list[Header] = []
    offset = 0

    def take(count: int, what: str) -> bytes:
        nonlocal offset
        if offset + count > len(data):
            raise FramingError(
                f"header #{len(headers) + 1}: {what} needs {count} bytes at offset {offset}, "
                f"the headers are {len(data)} bytes"
            )
        chunk = data[offset : offset + count]
        offset += count
        return chunk

    while offset < len(data):
        if len(headers) >= MAX_HEADERS:
            raise FramingError(f"more than {MAX_HEADERS} headers")
        name_length = take(1, "the name length")[0]
        raw_name = take(name_length, "the name")
        try:
            name = raw_name.decode("utf-8")
        except UnicodeDecodeError:
            raise FramingError(f"header #{len(headers) + 1}: name {raw_name!r} is not UTF-8") from None
        code = take(1, "the value type")[0]
        try:
            kind = HeaderType(code)
        except ValueError:
            raise FramingError(
                f"header {name!r}: value type {code} is not an eventstream header type (0..9)"
            ) from None
        value: Any
        if kind in (HeaderType.BOOL_TRUE, HeaderType.BOOL_FALSE):
            value = kind == HeaderType.BOOL_TRUE
        elif kind in _INTEGERS:
            fmt = _INTEGERS[kind]
            (value,) = struct.unpack(fmt, take(struct.calcsize(fmt), f"a {kind.name} value"))
        elif kind == HeaderType.UUID:
            value = uuid.UUID(bytes=take(16, "a UUID value"))
        else:
            (length,) = struct.unpack(">H", take(2, "the value length"))
            if length > MAX_VALUE_LENGTH:
                raise FramingError(f"header {name!r}: value length {length} is over {MAX_VALUE_LENGTH}")
            raw = take(length, f"a {kind.name} value")
            if kind == HeaderType.STRING:
                try:
                    value = raw.decode("utf-8")
                except UnicodeDecodeError:
                    raise FramingError(f"header {name!r}: string value is not UTF-8") from None
            else:
                value = raw
        headers.append(Header(name, value, kind))
    return tuple(headers)


def decode(data: bytes) -> Message:
    """One whole message from exactly its bytes (``aws_event_stream_message_from_buffer``)."""
    if len(data) < PRELUDE_LENGTH:
        raise FramingError(f"truncated frame: {len(data)} bytes, a prelude alone is {PRELUDE_LENGTH}")
    total, headers_length = check_prelude(bytes(data[:PRELUDE_LENGTH]))
    if len(data) != total:
        what = "truncated frame" if len(data) < total else "extra bytes after the frame"
        raise FramingError(f"{what}: the prelude says {total} bytes, got {len(data)}")
    (crc,) = struct.unpack(">I", data[-TRAILER_LENGTH:])
    computed = zlib.crc32(data[:-TRAILER_LENGTH])
    if computed != crc:
        raise FramingError(
            f"message CRC mismatch: the frame says 0x{crc:08x}, its bytes give 0x{computed:08x}"
        )
    headers_end = PRELUDE_LENGTH + headers_length
    headers = _decode_headers(bytes(data[PRELUDE_LENGTH:headers_end]))
    return Message(headers, bytes(data[headers_end:-TRAILER_LENGTH]))


class MessageReader:
    """Splits a byte stream into messages (a socket delivers frames in arbitrary pieces)."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._expected: int | None = None

    def feed(self, data: bytes) -> Iterator[Message]:
        """Add bytes; yield every message they complete. Raises :class:`FramingError` on the
        first bad frame (the stream cannot be resynchronised after one)."""
        self._buffer += data
        while True:
            if self._expected is None:
                if len(self._buffer) < PRELUDE_LENGTH:
                    return
                self._expected, _ = check_prelude(bytes(self._buffer[:PRELUDE_LENGTH]))
            if len(self._buffer) < self._expected:
                return
            frame = bytes(self._buffer[: self._expected])
            del self._buffer[: self._expected]
            self._expected = None
            yield decode(frame)

    @property
    def pending(self) -> int:
        """Bytes received that do not make a whole message yet."""
        return len(self._buffer)
