"""The nucleus's IPC server: eventstream RPC over the device's Unix socket.

A real nucleus runs aws-crt-java's RPC server with the SDK's GreengrassCoreIPC service on
``<root>/ipc.socket`` (aws-greengrass-nucleus ``ipc/IPCEventStreamService``). This module plays
both layers, so that a component's unmodified ``awsiotsdk`` client talks to the simulated device:

**Connection** (aws-c-event-stream ``source/event_stream_rpc_server.c``). Every message carries
``:message-type``, ``:message-flags`` and ``:stream-id`` (int32 headers). The first message must
be CONNECT on stream 0; anything else first, a second CONNECT, a message without those headers, a
stream id that is not the next one, a new stream without an ``operation`` header or a non-
application message on a stream is a PROTOCOL_ERROR (with the C library's JSON text) and the
connection is closed. PING is answered with PING_RESPONSE echoing the payload and the headers
whose names do not start with ``:``. A frame that does not decode closes the connection.

**Handshake** (aws-iot-device-sdk-java-v2 ``ServiceOperationMappingContinuationHandler``). The
CONNECT must carry ``:version`` ``0.1.0`` and the payload ``{"authToken": "<SVCUID>"}``; a known
token binds the connection to its component and gets a CONNECT_ACK with CONNECTION_ACCEPTED.
Otherwise the CONNECT_ACK has no flag and the connection closes (the Python client raises
``AccessDeniedError``).

**Streams** (``OperationContinuationHandler``). The first message on a stream is the request:

- an operation the model does not know → APPLICATION_ERROR + TERMINATE_STREAM with only a
  ``:content-type`` header and ``{ "error": "Unsupported Operation", ... }`` (the Python client
  sees the stream close: ``StreamClosedError``);
- a model operation the device does not serve → ``ServiceError`` "Operation X is not supported by
  Greengrass" (the nucleus's ``DefaultOperationHandler``);
- a handler's :class:`~.model.IpcError` → that error shape, APPLICATION_ERROR + TERMINATE_STREAM;
- a request that cannot be read, or any other exception → APPLICATION_ERROR ``text/plain``
  ``InternalServerError`` (the reason goes to greengrass.log);
- success → APPLICATION_MESSAGE with the response shape, TERMINATE_STREAM unless the operation
  streams events (subscriptions), which then go out as further APPLICATION_MESSAGEs until either
  side terminates the stream; a stream closed by the client or by a disconnect runs the handler's
  close callbacks (``onStreamClosed``: unsubscribe).

Everything runs on one asyncio loop in a thread of the device process; handlers run on that loop
and must not block, unless they are registered ``blocking`` (those that call the cloud or wait for
the IoT Core broker): they run on a small thread pool, as the nucleus runs its handlers, and their
answer is handed back to the loop. Other threads (deployments, lifecycles, the MQTT connection)
send stream events through :meth:`Stream.send_event`, which hands the write to the loop, so each
connection's messages leave in the order they were produced.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import os
import socket
import tempfile
import threading
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum, IntFlag
from pathlib import Path
from typing import Any

from fake_device.nucleus.ipc.framing import FramingError, Header, HeaderType, Message, MessageReader, encode
from fake_device.nucleus.ipc.model import OPERATIONS, IpcError, ServiceError, ShapeError
from fake_device.nucleus.logs import NucleusLog
from harness.errors import HarnessError

__all__ = ["Call", "Handler", "IpcServer", "MessageFlag", "MessageType", "Reply", "Stream"]

LOGGER = "com.aws.greengrass.ipc.IPCEventStreamService"
VERSION = "0.1.0"  # awsiot.eventstreamrpc.VERSION_STRING; the server requires an exact match
#: sun_path holds 108 bytes including the terminating NUL
MAX_SOCKET_PATH_BYTES = 107
_INT32_MAX = 2**31 - 1
#: how long a rejected connection stays open for the client to close it first
REJECTED_CLOSE_DELAY = 2.0

# aws-c-event-stream include/aws/event-stream/private/event_stream_rpc_priv.h
_INVALID_STREAM_ID = (
    '{ "message": "non-zero stream-id field is only allowed for messages of type APPLICATION_MESSAGE. '
    'The stream id max value is INT32_MAX." }'
)
_STREAM_ID_LOWER = (
    '{ "message": "stream-id values must be monotonically incrementing. A stream-id arrived that was '
    'lower than the last seen stream-id." }'
)
_STREAM_ID_SKIPPED = (
    '{ "message": "stream-id values must be monotonically incrementing. A new stream-id arrived that was '
    'incremented by more than 1." }'
)
_INVALID_MESSAGE_TYPE = '{ "message": "an invalid value for message-type field was received." }'
_MISSING_FIELDS = (
    '{ "message": "A message was received with missing required fields. Check that your client is '
    'sending at least, :message-type, :message-flags, and :stream-id" }'
)
_CONNECT_FIRST = (
    '{ "message": "A CONNECT message must be received, and the CONNECT_ACK must be sent in response, '
    "before any other message-types can be sent on this connection. In addition, only one CONNECT "
    'message is allowed on a connection." }'
)
_MISSING_OPERATION = (
    '{ "message": "The first message for on a non-zero :stream-id must contain an operation header value."; }'
)


class MessageType(IntEnum):
    """``aws_event_stream_rpc_message_type`` (``awscrt.eventstream.rpc.MessageType``)."""

    APPLICATION_MESSAGE = 0
    APPLICATION_ERROR = 1
    PING = 2
    PING_RESPONSE = 3
    CONNECT = 4
    CONNECT_ACK = 5
    PROTOCOL_ERROR = 6
    INTERNAL_ERROR = 7


class MessageFlag(IntFlag):
    NONE = 0
    CONNECTION_ACCEPTED = 1
    TERMINATE_STREAM = 2


_JSON = Header.string(":content-type", "application/json")


@dataclass(frozen=True)
class Reply:
    """A handler's response: the response shape's model type and its JSON fields.
    ``keep_open`` leaves the stream open for events (the streaming operations); ``on_sent`` runs
    on the loop right after the response was written, so a subscription can start forwarding
    events only once the client has its response (the nucleus's ``afterHandleRequest``)."""

    shape: str
    payload: Mapping[str, Any] = field(default_factory=dict)
    keep_open: bool = False
    on_sent: Callable[[], None] | None = None


@dataclass(frozen=True)
class Call:
    """One request: who calls (the component its connection authenticated as), what, and the
    stream it arrived on (to send events on and to register close callbacks with)."""

    component: str
    operation: str
    request: Mapping[str, Any]
    stream: Stream


Handler = Callable[[Call], Reply]


class Stream:
    """One RPC stream (a continuation) of a connection."""

    def __init__(self, connection: _Connection, stream_id: int, operation: str) -> None:
        self._connection = connection
        self.stream_id = stream_id
        self.operation = operation
        self.closed = False
        self._requested = False
        self._close_callbacks: list[Callable[[], None]] = []

    @property
    def component(self) -> str:
        return self._connection.component or ""

    def on_close(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` (on the server's loop) when the stream closes, whoever closes it; at
        once if it is closed already (a blocking handler whose client left meanwhile)."""
        if self.closed:
            callback()
            return
        self._close_callbacks.append(callback)

    def send_event(self, shape: str, payload: Mapping[str, Any]) -> None:
        """Send a stream event (thread-safe; dropped once the stream is closed)."""
        body = json.dumps(payload).encode()
        self._connection.server.call_soon(self._send, shape, body)

    def close(self) -> None:
        """End the stream from the server's side (``closeStream``: an empty TERMINATE_STREAM)."""
        self._connection.server.call_soon(self._terminate)

    # -- loop thread only ------------------------------------------------------------------------
    def _send(self, shape: str, body: bytes, flags: MessageFlag = MessageFlag.NONE) -> None:
        if self.closed:
            return
        headers = (_JSON, Header.string("service-model-type", shape))
        self._connection.send(MessageType.APPLICATION_MESSAGE, flags, self.stream_id, headers, body)
        if flags & MessageFlag.TERMINATE_STREAM:
            self._closed()

    def _terminate(self) -> None:
        if not self.closed:
            flags = MessageFlag.TERMINATE_STREAM
            self._connection.send(MessageType.APPLICATION_MESSAGE, flags, self.stream_id)
            self._closed()

    def _send_error(self, headers: tuple[Header, ...], body: bytes) -> None:
        if not self.closed:
            flags = MessageFlag.TERMINATE_STREAM
            self._connection.send(MessageType.APPLICATION_ERROR, flags, self.stream_id, headers, body)
            self._closed()

    def _receive(self, message: Message, flags: int) -> None:
        if self._requested:
            return  # no operation of the model takes request events after its request
        if flags & MessageFlag.TERMINATE_STREAM:
            return  # a request sent with TERMINATE_STREAM is not invoked (OperationContinuationHandler)
        self._requested = True
        self._connection.server.dispatch(self, message)

    def _closed(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._connection.streams.pop(self.stream_id, None)
        callbacks, self._close_callbacks = self._close_callbacks, []
        for callback in callbacks:
            try:
                callback()
            except Exception:
                self._connection.server.log_exception(f"closing the {self.operation} stream", self.component)


class _Connection:
    """One client connection (loop thread only)."""

    def __init__(self, server: IpcServer, writer: asyncio.StreamWriter) -> None:
        self.server = server
        self.writer = writer
        self.reader = MessageReader()
        self.component: str | None = None
        self.connected = False
        self.latest_stream_id = 0
        self.streams: dict[int, Stream] = {}
        self.closed = False
        self.rejected = False

    def send(
        self,
        message_type: MessageType,
        flags: int,
        stream_id: int,
        headers: tuple[Header, ...] = (),
        payload: bytes = b"",
    ) -> None:
        """Write one message; the RPC headers follow the message's own, as the C server adds them."""
        if self.closed:
            return
        rpc = (
            Header.int32(":message-type", int(message_type)),
            Header.int32(":message-flags", int(flags)),
            Header.int32(":stream-id", stream_id),
        )
        self.writer.write(encode(Message((*headers, *rpc), payload)))

    def connection_error(self, text: str, kind: MessageType = MessageType.PROTOCOL_ERROR) -> None:
        """``s_send_connection_level_error``: the error on stream 0, then close."""
        self.server.log.warn(LOGGER, "ipc-protocol-error", text, service=self.component)
        self.send(kind, 0, 0, (_JSON,), text.encode())
        self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for stream in list(self.streams.values()):
            stream._closed()
        self.writer.close()

    def receive(self, message: Message) -> None:
        if self.rejected:
            return
        stream_id = message.header(":stream-id", HeaderType.INT32)
        message_type = message.header(":message-type", HeaderType.INT32)
        flags = message.header(":message-flags", HeaderType.INT32)
        if stream_id is None or message_type is None or flags is None:
            self.connection_error(_MISSING_FIELDS)
            return
        if not self.connected and message_type != MessageType.CONNECT:
            self.connection_error(_CONNECT_FIRST)
            return
        if stream_id != 0:
            self._stream_message(message, stream_id, message_type, flags)
        elif message_type <= MessageType.APPLICATION_ERROR or message_type > MessageType.INTERNAL_ERROR:
            self.connection_error(_INVALID_MESSAGE_TYPE)
        elif message_type == MessageType.CONNECT:
            if self.connected:
                self.connection_error(_CONNECT_FIRST)
            else:
                self._connect(message)
        elif message_type == MessageType.PING:
            echoed = tuple(h for h in message.headers if not h.name.startswith(":"))
            self.send(MessageType.PING_RESPONSE, 0, 0, echoed, message.payload)
        elif message_type != MessageType.PING_RESPONSE:
            # ServiceOperationMappingContinuationHandler.onProtocolMessage, text as the SDK sends it
            text = (
                '{ "error": "Unrecognized Message Type" }"message": " message type value: '
                f'{message_type} is not recognized as a valid request path." }}'
            )
            self.send(MessageType.INTERNAL_ERROR, 0, 0, (_JSON,), text.encode())
            self.close()

    def _stream_message(self, message: Message, stream_id: int, message_type: int, flags: int) -> None:
        if message_type > MessageType.APPLICATION_ERROR or stream_id < 0 or stream_id > _INT32_MAX:
            self.connection_error(_INVALID_STREAM_ID)
            return
        if stream_id <= self.latest_stream_id:
            stream = self.streams.get(stream_id)
            if stream is None:
                if not flags & MessageFlag.TERMINATE_STREAM:  # a simultaneous close is fine
                    self.connection_error(_STREAM_ID_LOWER)
                return
        else:
            if stream_id != self.latest_stream_id + 1:
                self.connection_error(_STREAM_ID_SKIPPED)
                return
            operation = message.header("operation", HeaderType.STRING)
            if not operation:
                self.connection_error(_MISSING_OPERATION)
                return
            self.latest_stream_id = stream_id
            stream = Stream(self, stream_id, operation)
            self.streams[stream_id] = stream
        stream._receive(message, flags)
        if flags & MessageFlag.TERMINATE_STREAM:
            stream._closed()

    def _connect(self, message: Message) -> None:
        """``onConnectRequest`` + the nucleus's ``ipcAuthenticationHandler``."""
        self.connected = True
        version = message.header(":version", HeaderType.STRING)
        component = None
        if version != VERSION:
            self.server.log.warn(
                LOGGER,
                "ipc-connect-rejected",
                f"Client version {{{version}}} mismatches server version {{{VERSION}}}",
            )
        else:
            component, reason = self.server.authenticate(message.payload)
            if component is None:
                self.server.log.error(LOGGER, "ipc-connect-rejected", reason)
        if component is None:
            self.send(MessageType.CONNECT_ACK, MessageFlag.NONE, 0)
            # The client closes on a rejected CONNECT_ACK and reports AccessDeniedError; a server
            # that hangs up at once races it (the client may see the socket close first and
            # report a bare AwsCrtError), so the connection closes when the client does, or later.
            self.rejected = True
            asyncio.get_running_loop().call_later(REJECTED_CLOSE_DELAY, self.close)
            return
        self.component = component
        self.server.log.info(LOGGER, "ipc-connect", "Connection accepted", service=component)
        self.send(MessageType.CONNECT_ACK, MessageFlag.CONNECTION_ACCEPTED, 0)


class IpcServer:
    """The device's IPC socket: accepts component connections and routes their operations.

    ``authenticate(token)`` returns the component a token belongs to (or ``None``);
    :meth:`register` adds an operation's handler.
    """

    def __init__(
        self,
        socket_path: Path,
        *,
        authenticate: Callable[[str], str | None],
        log: NucleusLog,
    ) -> None:
        self.socket_path = Path(socket_path)
        self.log = log
        self._authenticate = authenticate
        self._handlers: dict[str, Handler] = {}
        self._blocking: set[str] = set()
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[_Connection] = set()
        self._server: asyncio.AbstractServer | None = None
        self._short_folder: Path | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    def register(self, operation: str, handler: Handler, *, blocking: bool = False) -> None:
        """Serve ``operation`` with ``handler``; a ``blocking`` one (a cloud call, a wait for the
        broker) runs on the server's thread pool instead of its loop."""
        if operation not in OPERATIONS:
            raise ValueError(f"{operation} is not an operation of the GreengrassCoreIPC model")
        self._handlers[operation] = handler
        if blocking:
            self._blocking.add(operation)
        else:
            self._blocking.discard(operation)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        """Bind the socket (rw for everyone, as the nucleus sets it) and serve on a thread."""
        path = self.socket_path
        if len(os.fsencode(str(path))) > MAX_SOCKET_PATH_BYTES:
            # A Unix socket address holds 107 bytes. The nucleus links ./nucleusRoot in its working
            # directory; the simulator serves from a short folder of its own and hands that path
            # to the components (they read it from the environment either way).
            self._short_folder = Path(tempfile.mkdtemp(prefix="gg-ipc-"))
            os.chmod(self._short_folder, 0o755)
            self.log.warn(
                LOGGER,
                "ipc-socket-path-too-long",
                f"{path} is longer than a Unix socket address; serving on {self._short_folder / path.name}",
            )
            path = self.socket_path = self._short_folder / path.name
        path.unlink(missing_ok=True)  # a socket left by a killed device (prepareIpcFilepath)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(str(path))
            os.chmod(path, 0o666)  # Permissions.setIpcSocketPermission
            listener.listen(64)
        except OSError as err:
            listener.close()
            self._remove_short_folder()
            raise HarnessError(f"cannot open the IPC socket {path}: {err.strerror}") from None
        loop = asyncio.new_event_loop()
        started = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            asyncio.set_event_loop(loop)
            try:
                self._server = loop.run_until_complete(asyncio.start_unix_server(self._serve, sock=listener))
            except BaseException as err:  # reported to start()
                failure.append(err)
                started.set()
                return
            started.set()
            loop.run_forever()

        self._loop = loop
        self._thread = threading.Thread(target=serve, name="ipc-server", daemon=True)
        self._thread.start()
        started.wait()
        if failure:
            self._thread.join()
            loop.close()
            listener.close()
            self._thread = self._loop = None
            raise HarnessError(f"cannot serve the IPC socket {path}: {failure[0]}")
        self.log.info(LOGGER, "ipc-start", "IPC server listening", socket=path)

    def close(self) -> None:
        """Close every connection (their streams' close callbacks run), stop, remove the socket."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if thread.is_alive():
            future = asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
            with contextlib.suppress(Exception):
                future.result(timeout=10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)
        if not thread.is_alive():
            loop.close()
        self._loop = self._thread = None
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        self.socket_path.unlink(missing_ok=True)  # cleanupIpcFiles
        self._remove_short_folder()

    def _remove_short_folder(self) -> None:
        if self._short_folder is not None:
            with contextlib.suppress(OSError):
                self._short_folder.rmdir()

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for connection in list(self._connections):
            connection.close()
        tasks = [t for t in self._tasks if not t.done()]
        if tasks:  # each connection's reader sees its socket close and ends
            await asyncio.wait(tasks, timeout=2.0)

    def call_soon(self, callback: Callable[..., Any], *args: Any) -> None:
        """Run ``callback`` on the server's loop (from any thread); dropped once stopped."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop is shutting down
            loop.call_soon_threadsafe(callback, *args)

    # -- connections -----------------------------------------------------------------------------
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = _Connection(self, writer)
        self._connections.add(connection)
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        try:
            while not connection.closed:
                data = await reader.read(65536)
                if not data:
                    break
                for message in connection.reader.feed(data):
                    connection.receive(message)
                    if connection.closed:
                        break
        except FramingError as err:
            self.log.error(LOGGER, "ipc-bad-frame", err.message, service=connection.component)
        except (ConnectionError, OSError):
            pass
        finally:
            connection.close()
            self._connections.discard(connection)
            if connection.component:
                self.log.info(LOGGER, "ipc-disconnect", "Connection closed", service=connection.component)

    def authenticate(self, payload: bytes) -> tuple[str | None, str]:
        """The component a CONNECT payload authenticates, or ``None`` and why not."""
        try:
            token = json.loads(payload.decode("utf-8")).get("authToken") if payload else None
        except (ValueError, AttributeError):
            return None, "Invalid auth token in connect message"
        if not token:
            return None, "Received empty auth token to authenticate IPC client"
        component = self._authenticate(str(token))
        if component is None:
            return None, "Unrecognized client connecting to GGC over IPC"
        return component, ""

    # -- operations ------------------------------------------------------------------------------
    def dispatch(self, stream: Stream, message: Message) -> None:
        """Run the operation of a stream's first message and answer it."""
        operation = stream.operation
        if operation not in OPERATIONS:
            self.log.warn(LOGGER, "ipc-unsupported-operation", operation, service=stream.component)
            text = (
                '{ "error": "Unsupported Operation", '
                f'"message": "{operation} is an unsupported operation." }}'
            )
            stream._send_error((_JSON,), text.encode())
            return
        if operation in self._blocking:
            if self._pool is None:
                self._pool = concurrent.futures.ThreadPoolExecutor(4, thread_name_prefix="ipc-handler")
            try:
                self._pool.submit(self._run_blocking, stream, message)
            except RuntimeError:  # shutting down
                self._internal_error(stream)
            return
        self._answer(stream, self._invoke(stream, message))

    def _run_blocking(self, stream: Stream, message: Message) -> None:
        self.call_soon(self._answer, stream, self._invoke(stream, message))

    def _invoke(self, stream: Stream, message: Message) -> Reply | IpcError | None:
        """The handler's reply, its modeled error, or None for an unmodeled failure (logged)."""
        operation = stream.operation
        try:
            request = _request(message.payload)
            handler = self._handlers.get(operation)
            if handler is None:
                raise ServiceError(f"Operation {operation} is not supported by Greengrass")
            return handler(Call(stream.component, operation, request, stream))
        except IpcError as err:
            return err
        except ShapeError as err:
            self.log.error(LOGGER, "ipc-request-unreadable", f"{operation}: {err}", service=stream.component)
        except Exception:
            self.log_exception(operation, stream.component)
        return None

    def _answer(self, stream: Stream, outcome: Reply | IpcError | None) -> None:
        """Write a handler's outcome on its stream (loop thread only)."""
        if isinstance(outcome, IpcError):
            body = json.dumps(outcome.payload()).encode()
            stream._send_error((_JSON, Header.string("service-model-type", outcome.model_type)), body)
        elif outcome is None:
            self._internal_error(stream)
        else:
            flags = MessageFlag.NONE if outcome.keep_open else MessageFlag.TERMINATE_STREAM
            stream._send(outcome.shape, json.dumps(dict(outcome.payload)).encode(), flags)
            if outcome.on_sent is not None and not stream.closed:
                try:
                    outcome.on_sent()
                except Exception:
                    self.log_exception(f"after answering {stream.operation}", stream.component)

    def _internal_error(self, stream: Stream) -> None:
        """``handleAndSendError`` for an unmodeled exception."""
        stream._send_error((Header.string(":content-type", "text/plain"),), b"InternalServerError")

    def log_exception(self, what: str, component: str | None) -> None:
        self.log.error(
            LOGGER, "ipc-handler-error", f"{what} failed", service=component, error=traceback.format_exc()
        )


def _request(payload: bytes) -> dict[str, Any]:
    """The request shape's JSON object (an empty payload is an empty request)."""
    if not payload:
        return {}
    try:
        request = json.loads(payload.decode("utf-8"))
    except ValueError as err:
        raise ShapeError(f"the request is not JSON: {err}") from None
    if not isinstance(request, dict):
        raise ShapeError(f"the request is JSON {type(request).__name__}, not an object")
    return request
