"""The IPC server's connection and stream rules, driven by a raw eventstream client on its socket."""

from __future__ import annotations

import json
import shutil
import socket
import stat
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from fake_device.nucleus.ipc.framing import Header, HeaderType, Message, MessageReader, encode
from fake_device.nucleus.ipc.model import UnauthorizedError
from fake_device.nucleus.ipc.server import Call, IpcServer, MessageFlag, MessageType, Reply, Stream
from fake_device.nucleus.logs import NucleusLog

WAIT = 10.0
TOKEN = "ABCDEFGHIJKLMNOP"
COMPONENT = "com.example.Camera"


class RawClient:
    """Speaks eventstream RPC by hand, to send what the SDK never would."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(WAIT)
        self.sock.connect(str(path))
        self.reader = MessageReader()
        self.pending: list[Message] = []

    def send(
        self,
        message_type: MessageType,
        stream_id: int = 0,
        *,
        flags: int = 0,
        headers: tuple[Header, ...] = (),
        payload: bytes = b"",
    ) -> None:
        rpc = (
            Header.int32(":message-type", message_type),
            Header.int32(":message-flags", flags),
            Header.int32(":stream-id", stream_id),
        )
        self.sock.sendall(encode(Message((*headers, *rpc), payload)))

    def receive(self) -> Message:
        while not self.pending:
            data = self.sock.recv(65536)
            assert data, "the server closed the connection"
            self.pending.extend(self.reader.feed(data))
        return self.pending.pop(0)

    def closed_by_server(self) -> bool:
        try:
            return self.sock.recv(65536) == b""
        except ConnectionResetError:
            return True

    def connect(self, token: str = TOKEN, version: str = "0.1.0") -> Message:
        version_header = (Header.string(":version", version),)
        self.send(
            MessageType.CONNECT, headers=version_header, payload=json.dumps({"authToken": token}).encode()
        )
        return self.receive()

    def request(self, stream_id: int, operation: str, body: dict | bytes, *, flags: int = 0) -> None:
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = (Header.string("operation", operation), Header.string(":content-type", "application/json"))
        self.send(MessageType.APPLICATION_MESSAGE, stream_id, flags=flags, headers=headers, payload=payload)

    def close(self) -> None:
        self.sock.close()


def rpc(message: Message) -> tuple[int, int, int]:
    return (
        message.header(":message-type", HeaderType.INT32),
        message.header(":message-flags", HeaderType.INT32),
        message.header(":stream-id", HeaderType.INT32),
    )


class Handlers:
    def __init__(self) -> None:
        self.streams: list[Stream] = []
        self.closed = threading.Event()

    def get(self, call: Call) -> Reply:
        return Reply("aws.greengrass#GetConfigurationResponse", {"componentName": call.component})

    def subscribe(self, call: Call) -> Reply:
        self.streams.append(call.stream)
        call.stream.on_close(self.closed.set)
        return Reply("aws.greengrass#SubscribeToTopicResponse", keep_open=True)

    def denied(self, call: Call) -> Reply:
        raise UnauthorizedError("Principal x is not authorized")

    def broken(self, call: Call) -> Reply:
        raise RuntimeError("a bug")


@pytest.fixture
def folder() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="eh-ipc-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def handlers() -> Handlers:
    return Handlers()


@pytest.fixture
def server(folder: Path, handlers: Handlers) -> Iterator[IpcServer]:
    ipc = IpcServer(
        folder / "ipc.socket", authenticate={TOKEN: COMPONENT}.get, log=NucleusLog(folder / "logs")
    )
    ipc.register("aws.greengrass#GetConfiguration", handlers.get)
    ipc.register("aws.greengrass#SubscribeToTopic", handlers.subscribe)
    ipc.register("aws.greengrass#PublishToTopic", handlers.denied)
    ipc.register("aws.greengrass#UpdateState", handlers.broken)
    ipc.start()
    yield ipc
    ipc.close()


@pytest.fixture
def client(server: IpcServer) -> Iterator[RawClient]:
    raw = RawClient(server.socket_path)
    yield raw
    raw.close()


def main_log(folder: Path) -> str:
    return (folder / "logs" / "greengrass.log").read_text()


def test_socket_is_open_to_every_user_and_removed_on_close(server: IpcServer) -> None:
    path = server.socket_path
    assert stat.S_ISSOCK(path.stat().st_mode)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666
    server.close()
    assert not path.exists()


def test_connect_binds_the_component_and_answers_a_request(client: RawClient) -> None:
    ack = client.connect()
    assert rpc(ack) == (MessageType.CONNECT_ACK, MessageFlag.CONNECTION_ACCEPTED, 0)
    client.request(1, "aws.greengrass#GetConfiguration", {})
    reply = client.receive()
    assert rpc(reply) == (MessageType.APPLICATION_MESSAGE, MessageFlag.TERMINATE_STREAM, 1)
    assert reply.header("service-model-type") == "aws.greengrass#GetConfigurationResponse"
    assert reply.header(":content-type") == "application/json"
    assert json.loads(reply.payload) == {"componentName": COMPONENT}


@pytest.mark.parametrize(("token", "version"), [("WRONG", "0.1.0"), (TOKEN, "0.2.0"), ("", "0.1.0")])
def test_connect_rejected(client: RawClient, folder: Path, token: str, version: str) -> None:
    ack = client.connect(token, version)
    assert rpc(ack) == (MessageType.CONNECT_ACK, 0, 0)
    client.request(1, "aws.greengrass#GetConfiguration", {})  # ignored on a rejected connection
    client.sock.shutdown(socket.SHUT_WR)
    assert client.closed_by_server()
    assert "ipc-connect-rejected" in main_log(folder)


def test_message_before_connect_is_a_protocol_error(client: RawClient) -> None:
    client.request(1, "aws.greengrass#GetConfiguration", {})
    error = client.receive()
    assert rpc(error) == (MessageType.PROTOCOL_ERROR, 0, 0)
    assert b"A CONNECT message must be received" in error.payload
    assert client.closed_by_server()


@pytest.mark.parametrize(
    ("stream_id", "operation", "text"),
    [
        (2, "aws.greengrass#GetConfiguration", b"incremented by more than 1"),
        (1, "", b"must contain an operation header value"),
        (-1, "aws.greengrass#GetConfiguration", b"The stream id max value is INT32_MAX"),
    ],
)
def test_stream_rules(client: RawClient, stream_id: int, operation: str, text: bytes) -> None:
    client.connect()
    headers = (Header.string("operation", operation),) if operation else ()
    client.send(MessageType.APPLICATION_MESSAGE, stream_id, headers=headers, payload=b"{}")
    error = client.receive()
    assert rpc(error)[0] == MessageType.PROTOCOL_ERROR
    assert text in error.payload
    assert client.closed_by_server()


def test_missing_rpc_headers(client: RawClient) -> None:
    client.sock.sendall(encode(Message((Header.string("x", "y"),))))
    error = client.receive()
    assert rpc(error)[0] == MessageType.PROTOCOL_ERROR
    assert b":message-type, :message-flags, and :stream-id" in error.payload


def test_ping_is_echoed_without_rpc_headers(client: RawClient) -> None:
    client.connect()
    client.send(MessageType.PING, headers=(Header.string("note", "hi"),), payload=b"ping")
    pong = client.receive()
    assert rpc(pong) == (MessageType.PING_RESPONSE, 0, 0)
    assert pong.payload == b"ping"
    assert pong.header("note") == "hi"


def test_unknown_operation_is_unsupported_without_a_model_type(client: RawClient) -> None:
    client.connect()
    client.request(1, "aws.greengrass#NoSuchOperation", {})
    error = client.receive()
    assert rpc(error) == (MessageType.APPLICATION_ERROR, MessageFlag.TERMINATE_STREAM, 1)
    assert error.header("service-model-type") is None
    assert json.loads(error.payload) == {
        "error": "Unsupported Operation",
        "message": "aws.greengrass#NoSuchOperation is an unsupported operation.",
    }


def test_model_operation_not_served_is_a_service_error(client: RawClient) -> None:
    client.connect()
    client.request(1, "aws.greengrass#GetSecretValue", {"secretId": "x"})
    error = client.receive()
    assert error.header("service-model-type") == "aws.greengrass#ServiceError"
    message = "Operation aws.greengrass#GetSecretValue is not supported by Greengrass"
    assert json.loads(error.payload) == {
        "message": message,
        "_service": "aws.greengrass#GreengrassCoreIPC",
        "_message": message,
        "_errorCode": "ServiceError",
    }


def test_modeled_error(client: RawClient) -> None:
    client.connect()
    client.request(1, "aws.greengrass#PublishToTopic", {"topic": "t"})
    error = client.receive()
    assert rpc(error) == (MessageType.APPLICATION_ERROR, MessageFlag.TERMINATE_STREAM, 1)
    assert error.header("service-model-type") == "aws.greengrass#UnauthorizedError"
    assert json.loads(error.payload)["message"] == "Principal x is not authorized"


@pytest.mark.parametrize(
    ("operation", "payload", "logged"),
    [
        ("aws.greengrass#UpdateState", b"{}", "ipc-handler-error"),
        ("aws.greengrass#GetConfiguration", b"not json", "ipc-request-unreadable"),
        ("aws.greengrass#GetConfiguration", b"[1, 2]", "ipc-request-unreadable"),
    ],
)
def test_internal_errors_are_plain_text_and_logged(
    client: RawClient, folder: Path, operation: str, payload: bytes, logged: str
) -> None:
    client.connect()
    client.request(1, operation, payload)
    error = client.receive()
    assert rpc(error) == (MessageType.APPLICATION_ERROR, MessageFlag.TERMINATE_STREAM, 1)
    assert error.header(":content-type") == "text/plain"
    assert error.payload == b"InternalServerError"
    assert logged in main_log(folder)
    client.request(2, "aws.greengrass#GetConfiguration", {})  # the connection lives on
    assert json.loads(client.receive().payload) == {"componentName": COMPONENT}


def test_request_sent_with_terminate_is_not_invoked(client: RawClient, handlers: Handlers) -> None:
    client.connect()
    client.request(1, "aws.greengrass#SubscribeToTopic", {}, flags=MessageFlag.TERMINATE_STREAM)
    client.request(2, "aws.greengrass#GetConfiguration", {})
    assert rpc(client.receive())[2] == 2
    assert handlers.streams == []


def test_events_flow_until_the_client_terminates_the_stream(client: RawClient, handlers: Handlers) -> None:
    client.connect()
    client.request(1, "aws.greengrass#SubscribeToTopic", {"topic": "t"})
    response = client.receive()
    assert rpc(response) == (MessageType.APPLICATION_MESSAGE, 0, 1)
    stream = handlers.streams[0]
    threading.Thread(
        target=stream.send_event, args=("aws.greengrass#SubscriptionResponseMessage", {"n": 1})
    ).start()
    event = client.receive()
    assert rpc(event) == (MessageType.APPLICATION_MESSAGE, 0, 1)
    assert event.header("service-model-type") == "aws.greengrass#SubscriptionResponseMessage"
    assert json.loads(event.payload) == {"n": 1}
    client.send(MessageType.APPLICATION_MESSAGE, 1, flags=MessageFlag.TERMINATE_STREAM)
    assert handlers.closed.wait(WAIT)
    stream.send_event("aws.greengrass#SubscriptionResponseMessage", {"n": 2})  # dropped: closed
    client.request(2, "aws.greengrass#GetConfiguration", {})
    assert rpc(client.receive())[2] == 2


def test_server_closes_a_stream(client: RawClient, handlers: Handlers) -> None:
    client.connect()
    client.request(1, "aws.greengrass#SubscribeToTopic", {"topic": "t"})
    client.receive()
    handlers.streams[0].close()
    end = client.receive()
    assert rpc(end) == (MessageType.APPLICATION_MESSAGE, MessageFlag.TERMINATE_STREAM, 1)
    assert end.payload == b""
    assert handlers.closed.wait(WAIT)


def test_disconnect_closes_the_streams(client: RawClient, handlers: Handlers) -> None:
    client.connect()
    client.request(1, "aws.greengrass#SubscribeToTopic", {"topic": "t"})
    client.receive()
    client.close()
    assert handlers.closed.wait(WAIT)


def test_a_bad_frame_closes_the_connection(client: RawClient, folder: Path) -> None:
    client.connect()
    frame = bytearray(encode(Message(payload=b"x")))
    frame[-1] ^= 0xFF
    client.sock.sendall(bytes(frame))
    assert client.closed_by_server()
    assert "ipc-bad-frame. message CRC mismatch" in main_log(folder)


def test_a_socket_path_too_long_is_served_from_a_short_folder(folder: Path) -> None:
    deep = folder / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    ipc = IpcServer(deep / "ipc.socket", authenticate={TOKEN: COMPONENT}.get, log=NucleusLog(folder / "logs"))
    ipc.start()
    try:
        assert len(str(ipc.socket_path)) < 107
        client = RawClient(ipc.socket_path)
        assert rpc(client.connect())[1] == MessageFlag.CONNECTION_ACCEPTED
        client.close()
        assert "ipc-socket-path-too-long" in main_log(folder)
    finally:
        ipc.close()
    assert not ipc.socket_path.parent.exists()
