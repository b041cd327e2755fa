"""The emulated services without a server: moto's ``mock_aws`` plus a botocore hook.

moto mocks AWS in-process with a ``before-send`` handler it adds to botocore's
``BUILTIN_HANDLERS`` (``moto.core.models.botocore_stubber``): every botocore session created
afterwards calls it before sending a request, and a non-None response replaces the HTTP call.
:func:`mock_cloud` does the same for the services moto lacks: its handler is registered *first*
(``REGISTER_FIRST``), so it answers Greengrass V2 and IoT Jobs data-plane requests (which moto's
handler would answer 404 "Not yet implemented") by calling the same WSGI apps the endpoint
server runs, and it records fleet status publishes, then returns None so that moto's handler
answers the publish as usual. Routing is the server's: signing name and path.

Like moto's, the hook reaches clients of botocore sessions created after this module was imported
(``mock_aws`` also swaps ``boto3.DEFAULT_SESSION`` for a fresh one); :func:`patch_client` adds it
to a client created before.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import unquote_to_bytes, urlsplit

from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.handlers import BUILTIN_HANDLERS, REGISTER_FIRST

from harness.cloud.app import http_request, request_context
from harness.cloud.fleet_status import is_publish, record_publish
from harness.cloud.greengrass.responses import make_app as greengrass_app
from harness.cloud.greengrass.urls import is_greengrass_v2
from harness.cloud.store import CloudStore, default_store
from harness.services.aws_server import signing_name

_UNIQUE_ID = "edge-harness-cloud-inprocess"


class _RawBody(io.BytesIO):
    """The ``raw`` of an AWSResponse: botocore reads it with ``stream()``."""

    def stream(self, **_: Any) -> Iterator[bytes]:
        data = self.read()
        if data:
            yield data


def _body_bytes(request: AWSPreparedRequest) -> bytes:
    body = request.body
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    if hasattr(body, "read"):
        position = body.tell() if hasattr(body, "tell") else None
        data = body.read()
        if position is not None and hasattr(body, "seek"):
            body.seek(position)  # moto's handler reads it again for a publish
        return data if isinstance(data, bytes) else str(data).encode()
    return bytes(body)


def wsgi_environ(request: AWSPreparedRequest, *, with_body: bool = True) -> dict[str, Any]:
    """A WSGI environ for a botocore request, with the raw path the protocol routes on.

    ``with_body=False`` leaves the body unread: enough to route on, and a streaming body of a
    request that is not ours (an S3 upload) must reach moto untouched.
    """
    parts = urlsplit(request.url)
    body = _body_bytes(request) if with_body else b""
    host = parts.hostname or "localhost"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": request.method.upper(),
        "SCRIPT_NAME": "",
        # PEP 3333: PATH_INFO carries the decoded bytes as latin-1 text
        "PATH_INFO": unquote_to_bytes(parts.path or "/").decode("latin-1"),
        "RAW_URI": (parts.path or "/") + (f"?{parts.query}" if parts.query else ""),
        "QUERY_STRING": parts.query,
        "SERVER_NAME": host,
        "SERVER_PORT": str(port),
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": parts.netloc,
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": parts.scheme or "https",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "CONTENT_LENGTH": str(len(body)),
        "harness.cloud.body": body,
    }
    for name, value in request.headers.items():
        value = value.decode() if isinstance(value, bytes) else str(value)
        key = name.upper().replace("-", "_")
        if key == "CONTENT_TYPE":
            environ["CONTENT_TYPE"] = value
        elif key != "CONTENT_LENGTH":
            environ[f"HTTP_{key}"] = value
    return environ


class CloudStubber:
    """The ``before-send`` handler; inert unless enabled by :func:`mock_cloud`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0
        self.store: CloudStore = default_store
        self._apps: dict[str, Any] = {}

    @property
    def enabled(self) -> bool:
        return self._depth > 0

    def enable(self, store: CloudStore) -> None:
        with self._lock:
            if self._depth == 0 or store is not self.store:
                from harness.cloud.jobs import make_app as jobs_app

                self.store = store
                self._apps = {"greengrassv2": greengrass_app(store), "iot-jobs-data": jobs_app(store)}
            self._depth += 1

    def disable(self) -> None:
        with self._lock:
            self._depth = max(0, self._depth - 1)

    def __call__(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse | None:
        if not self.enabled:
            return None
        environ = wsgi_environ(request, with_body=False)
        if is_greengrass_v2(environ):
            app = self._apps["greengrassv2"]
        elif signing_name(environ) == "iot-jobs-data":
            app = self._apps["iot-jobs-data"]
        elif is_publish(environ):
            environ = wsgi_environ(request)
            record_publish(http_request(environ), request_context(environ), self.store)
            return None  # moto answers (and records) the publish
        else:
            return None
        environ = wsgi_environ(request)
        captured: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
            captured["status"] = int(status.split(" ", 1)[0])
            captured["headers"] = headers

        body = b"".join(app(environ, start_response))
        return AWSResponse(request.url, captured["status"], dict(captured["headers"]), _RawBody(body))


stubber = CloudStubber()
_handler_spec = ("before-send", stubber, REGISTER_FIRST)
if _handler_spec not in BUILTIN_HANDLERS:
    BUILTIN_HANDLERS.append(_handler_spec)


def patch_client(client: Any) -> Any:
    """Add the hook to a botocore client created before this module was imported."""
    client.meta.events.register_first("before-send", stubber, unique_id=_UNIQUE_ID)
    return client


@contextmanager
def mock_cloud(store: CloudStore | None = None) -> Iterator[CloudStore]:
    """moto's ``mock_aws()`` plus Greengrass V2, the IoT Jobs data plane and fleet status.

    State starts empty and is forgotten on exit, for moto's services and these alike. Yields
    the :class:`~harness.cloud.store.CloudStore` in use (tests may inspect it).

    >>> with mock_cloud():
    ...     boto3.client("greengrassv2", region_name="us-east-1").list_components()
    """
    from moto import mock_aws

    store = store if store is not None else default_store
    with mock_aws():
        store.reset()
        stubber.enable(store)
        try:
            yield store
        finally:
            stubber.disable()
            store.reset()
