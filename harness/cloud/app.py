"""The WSGI side of an emulated service: request context, dispatch to handlers, error mapping.

Structured like moto's ``responses.py`` classes: a *responses* object per request has one method
per operation, named in snake_case (``CreateComponentVersion`` → ``create_component_version``),
taking the parsed input members and returning the output members. :class:`ServiceApp` does the
rest — parsing and validation through :class:`~harness.cloud.protocol.ServiceProtocol`, turning
:class:`~harness.cloud.protocol.AwsServiceError` into AWS error responses, and any other exception
into ``InternalServerException`` (logged with its traceback; a client never sees a bare 500 page).
"""

from __future__ import annotations

import logging
import os
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harness.cloud.protocol import (
    AwsServiceError,
    HttpRequest,
    HttpResponse,
    ServiceProtocol,
    raw_path_from_environ,
)

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment
else:
    StartResponse = Callable[..., Any]
    WSGIEnvironment = dict[str, Any]

log = logging.getLogger("harness.cloud")

#: moto's default account (moto.core.DEFAULT_ACCOUNT_ID), used when nothing else names one
DEFAULT_ACCOUNT_ID = "123456789012"
DEFAULT_REGION = "us-east-1"

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/,\s]+)/([^/,\s]+)/aws4_request")
_REASONS = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "No Content",
    400: "Bad Request",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    410: "Gone",
    429: "Too Many Requests",
    500: "Internal Server Error",
    501: "Not Implemented",
    503: "Service Unavailable",
}


@dataclass(frozen=True)
class RequestContext:
    """Who asked, where, and through which URL.

    ``account_id`` is resolved as moto resolves it (``MOTO_ACCOUNT_ID``, the
    ``x-moto-account-id`` header, else the access key), so that state read from moto's backends
    is the state the same client sees through moto. ``base_url`` is ``scheme://host`` as the
    client addressed the endpoint, for URLs that must point back at it (presigned artifacts).
    ``caller`` and ``caller_thing`` are set by an enforcing endpoint's guard
    (:mod:`harness.cloud.security.guard`): the principal's ARN and the thing its credentials
    belong to (None for a caller that is no device, and always None on a default endpoint).
    """

    account_id: str
    region: str
    base_url: str
    request_id: str
    caller: str | None = None
    caller_thing: str | None = None

    def check_thing(self, thing: str, action: str, resource: str) -> None:
        """A device's credentials reach its own thing only: :class:`AwsServiceError`
        ``AccessDeniedException`` (403) for another thing's ``resource``."""
        if self.caller_thing is not None and self.caller_thing != thing:
            raise AwsServiceError(
                "AccessDeniedException",
                f"User: {self.caller} is not authorized to perform: {action} on resource: {resource} "
                f"(the credentials belong to thing {self.caller_thing})",
                status=403,
            )


def request_context(environ: Mapping[str, Any]) -> RequestContext:
    auth = environ.get("HTTP_AUTHORIZATION", "")
    found = _CREDENTIAL.search(auth)
    access_key = found.group(1) if found else None
    region = found.group(2) if found else DEFAULT_REGION
    if "MOTO_ACCOUNT_ID" in os.environ:
        account = os.environ["MOTO_ACCOUNT_ID"]
    elif environ.get("HTTP_X_MOTO_ACCOUNT_ID"):
        account = environ["HTTP_X_MOTO_ACCOUNT_ID"]
    elif access_key:
        from moto.iam.models import get_account_id_from

        account = get_account_id_from(access_key)
    else:
        account = DEFAULT_ACCOUNT_ID
    scheme = environ.get("wsgi.url_scheme", "http")
    host = (
        environ.get("HTTP_HOST")
        or f"{environ.get('SERVER_NAME', 'localhost')}:{environ.get('SERVER_PORT', '80')}"
    )
    return RequestContext(
        account,
        region,
        f"{scheme}://{host}",
        str(uuid.uuid4()),
        caller=environ.get("harness.cloud.caller"),
        caller_thing=environ.get("harness.cloud.thing"),
    )


def http_request(environ: Mapping[str, Any]) -> HttpRequest:
    """The parts of a WSGI request the protocol reads; the body is read (and kept) once."""
    body = environ.get("harness.cloud.body")
    if body is None:
        body = read_body(environ)
    raw_path, query = raw_path_from_environ(environ)
    headers = {
        key[5:].replace("_", "-").lower(): value for key, value in environ.items() if key.startswith("HTTP_")
    }
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = environ["CONTENT_TYPE"]
    return HttpRequest(environ.get("REQUEST_METHOD", "GET"), raw_path, query, headers, body)


def read_body(environ: Mapping[str, Any]) -> bytes:
    """Read the request body and remember it in the environ, so it can be re-read (by moto)."""
    import io

    cached = environ.get("harness.cloud.body")
    if cached is not None:
        return cached
    stream = environ.get("wsgi.input")
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if stream is None:
        body = b""
    elif length > 0:
        body = stream.read(length)
    elif environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked" or environ.get(
        "wsgi.input_terminated"
    ):
        body = stream.read()
    else:
        body = b""
    if isinstance(environ, dict):
        environ["harness.cloud.body"] = body
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
    return body


def send(start_response: StartResponse, response: HttpResponse, request_id: str) -> list[bytes]:
    headers = [
        *response.headers,
        ("x-amzn-RequestId", request_id),
        ("Content-Length", str(len(response.body))),
    ]
    start_response(f"{response.status} {_REASONS.get(response.status, 'Status')}", headers)
    return [response.body]


def snake_case(operation_name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])|(?<=[A-Z])([A-Z])(?=[a-z])", r"_\1\2", operation_name).lower()


class ServiceApp:
    """WSGI app answering one service's operations with ``responses_factory(context)``'s methods.

    An operation the model defines but the responses object lacks answers ``501 NotImplemented``
    naming it, so a missing feature is obvious rather than a confusing 404.
    """

    def __init__(
        self,
        name: str,
        protocol: ServiceProtocol,
        responses_factory: Callable[[RequestContext], object],
    ) -> None:
        self.name = name
        self.protocol = protocol
        self._responses_factory = responses_factory

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        context = request_context(environ)
        response = self.handle(http_request(environ), context)
        return send(start_response, response, context.request_id)

    def handle(self, request: HttpRequest, context: RequestContext) -> HttpResponse:
        try:
            parsed = self.protocol.parse(request)
            handler = getattr(self._responses_factory(context), snake_case(parsed.name), None)
            if handler is None:
                raise AwsServiceError(
                    "NotImplemented",
                    f"{parsed.name} is not implemented by the edge-harness {self.name} emulation",
                    status=501,
                )
            output = handler(parsed.params)
            return self.protocol.response(parsed.operation, output)
        except AwsServiceError as err:
            if (err.status or self.protocol.error_status(err.code)) >= 500:
                log.warning("%s %s %s: %s", self.name, request.method, request.raw_path, err)
            return self.protocol.error_response(err)
        except Exception as err:  # a bug here must still answer like AWS, and be logged
            log.exception("%s %s %s failed", self.name, request.method, request.raw_path)
            return self.protocol.error_response(
                AwsServiceError(
                    "InternalServerException", f"internal error in the edge-harness emulation: {err!r}"
                )
            )
