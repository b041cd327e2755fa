"""A small blocking client of the device's IPC socket, for the device's own tools (``greengrass-cli``).

Components use the SDK's client (``awsiotsdk``); the Greengrass CLI is part of the device, not a
component, and the simulated device's Python may not carry the SDK, so the CLI talks the same
eventstream RPC through :mod:`.framing` (what aws-crt's client does): a CONNECT with the auth
token, then one stream per call whose first message names the operation; the answer is the
stream's first APPLICATION_MESSAGE, or an APPLICATION_ERROR carrying the model's error shape.
"""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fake_device.nucleus.ipc.framing import Header, HeaderType, Message, MessageReader, encode
from fake_device.nucleus.ipc.model import shape
from fake_device.nucleus.ipc.server import VERSION, MessageFlag, MessageType

__all__ = ["IpcCallError", "IpcClient"]


class IpcCallError(Exception):
    """An operation failed: ``code`` is the model's error name (``ResourceNotFoundError`` …), or
    ``AccessDeniedError`` / ``ConnectionError`` for the connection itself."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class IpcClient:
    """One authenticated connection to ``socket_path``; :meth:`call` runs one operation."""

    def __init__(self, socket_path: str | Path, token: str, *, timeout: float = 60.0) -> None:
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._socket.settimeout(timeout)
        self._reader = MessageReader()
        self._pending: list[Message] = []
        self._stream_id = 0
        try:
            self._socket.connect(str(socket_path))
        except OSError as err:
            self._socket.close()
            raise IpcCallError(
                "ConnectionError", f"cannot connect to {socket_path}: {err.strerror}"
            ) from None
        self._send(
            MessageType.CONNECT,
            0,
            0,
            (Header.string(":version", VERSION), Header.string(":content-type", "application/json")),
            json.dumps({"authToken": token}).encode(),
        )
        ack = self._receive(0)
        flags = ack.header(":message-flags", HeaderType.INT32) or 0
        if ack.header(":message-type", HeaderType.INT32) != MessageType.CONNECT_ACK or not (
            flags & MessageFlag.CONNECTION_ACCEPTED
        ):
            self.close()
            raise IpcCallError("AccessDeniedError", "the device did not accept the connection's token")

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._socket.close()

    def __enter__(self) -> IpcClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _send(
        self, kind: MessageType, flags: int, stream_id: int, headers: tuple[Header, ...], payload: bytes = b""
    ) -> None:
        rpc = (
            Header.int32(":message-type", int(kind)),
            Header.int32(":message-flags", int(flags)),
            Header.int32(":stream-id", stream_id),
        )
        self._socket.sendall(encode(Message((*headers, *rpc), payload)))

    def _receive(self, stream_id: int) -> Message:
        while True:
            for index, message in enumerate(self._pending):
                if message.header(":stream-id", HeaderType.INT32) == stream_id:
                    return self._pending.pop(index)
            try:
                data = self._socket.recv(65536)
            except TimeoutError:
                raise IpcCallError("ConnectionError", "the device did not answer in time") from None
            if not data:
                raise IpcCallError("ConnectionError", "the device closed the connection")
            self._pending.extend(self._reader.feed(data))

    def call(self, operation: str, request: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Run ``operation`` (``ListComponents`` or ``aws.greengrass#ListComponents``); its response
        shape as JSON, or :class:`IpcCallError`."""
        self._stream_id += 1
        stream_id = self._stream_id
        name = shape(operation)
        headers = (
            Header.string(":content-type", "application/json"),
            Header.string("service-model-type", name + "Request"),
            Header.string("operation", name),
        )
        self._send(
            MessageType.APPLICATION_MESSAGE, 0, stream_id, headers, json.dumps(dict(request or {})).encode()
        )
        answer = self._receive(stream_id)
        kind = answer.header(":message-type", HeaderType.INT32)
        flags = answer.header(":message-flags", HeaderType.INT32) or 0
        if not flags & MessageFlag.TERMINATE_STREAM:
            # a streaming operation's response: the CLI does not keep streams, close ours
            self._send(MessageType.APPLICATION_MESSAGE, MessageFlag.TERMINATE_STREAM, stream_id, ())
        text = answer.payload.decode("utf-8", errors="replace")
        if kind == MessageType.APPLICATION_ERROR:
            try:
                body = json.loads(text)
            except ValueError:
                raise IpcCallError(text or "ServiceError", text) from None
            code = str(body.get("_errorCode") or body.get("error") or "ServiceError")
            raise IpcCallError(code, str(body.get("message") or body.get("_message") or ""))
        if kind != MessageType.APPLICATION_MESSAGE:
            raise IpcCallError("ConnectionError", f"unexpected message type {kind}: {text}")
        return json.loads(text) if text else {}
