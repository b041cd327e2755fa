"""The AWS endpoint process: moto in server mode behind the harness's own WSGI dispatcher.

moto has no plugin API, and it lacks services a Greengrass core device needs (the Greengrass V2
control plane, the IoT Jobs data plane). Everything therefore arrives at one port, where an
:class:`EndpointDispatcher` first offers each request to the registered *extensions* and hands
everything else to moto's own ``DomainDispatcherApplication``. Extensions match on the SigV4
signing name (the ``<service>`` part of the credential scope ``<key>/<date>/<region>/<service>/
aws4_request``) and/or a path prefix, because that is all an AWS SDK request carries to tell
services apart when every service shares one endpoint URL.

Run as ``python -m harness.services.aws_server --host 127.0.0.1 --port P``; ``--extension
module:function`` (repeatable) calls ``function(dispatcher)`` before serving so that other parts
of the harness can add services without touching this module.

Outages: ``POST /_edge_harness/faults`` with ``{"service": "s3", "status": 503, "seconds": 10}``
makes the dispatcher answer every request signed for that service (SigV4 signing name, from the
``Authorization`` header or a presigned URL's ``X-Amz-Credential``) with that status for that long,
in the service's own error format, before any extension or moto sees it; ``DELETE`` ends them
(``?service=s3`` for one). It is HTTP on purpose: a scenario injects an S3 outage the same way
whether the endpoint is a local process or a container.

Control routes (outages, and moto's own ``/moto-api/…`` reset and state routes) are open unless
the server's environment carries :data:`CONTROL_TOKEN_ENV`: then each needs that token in the
:data:`CONTROL_TOKEN_HEADER` header (403 otherwise), which an enforcing
:class:`~harness.services.aws.AwsEndpoint` generates and passes only to its own clients. The
health route stays open (readiness). A guard (:meth:`EndpointDispatcher.set_guard`), which an
enforcing endpoint's ``harness.cloud.security.guard`` extension installs, sees every other request
before any service answers it.
"""

from __future__ import annotations

import argparse
import hmac
import http
import importlib
import json
import logging
import os
import re
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
else:
    StartResponse = Callable[..., Any]
    WSGIApplication = Callable[[dict[str, Any], Any], Iterable[bytes]]
    WSGIEnvironment = dict[str, Any]

log = logging.getLogger("harness.aws_server")

#: readiness and identity route answered by the dispatcher itself, never by moto
HEALTH_PATH = "/_edge_harness/health"
#: outage control route (POST to start one, DELETE to end them, GET to list them)
FAULTS_PATH = "/_edge_harness/faults"
#: the longest outage the route accepts: a typo of minutes for seconds must not outlive a run
MAX_OUTAGE_S = 3600.0
#: moto's own control routes (``/moto-api/reset``, ``/moto-api/data.json`` …)
MOTO_API_PATH = "/moto-api/"
#: when set in the server's environment, control routes (outages, moto's reset and state) need
#: this token in :data:`CONTROL_TOKEN_HEADER`: the harness generates it and gives it only to its
#: own clients (an enforcing endpoint; docs/cloud.md)
CONTROL_TOKEN_ENV = "EDGE_HARNESS_AWS_CONTROL_TOKEN"
CONTROL_TOKEN_HEADER = "X-Edge-Harness-Token"
#: the harness's own access key (the account's root) of an enforcing endpoint
ROOT_KEY_ENV = "EDGE_HARNESS_AWS_ROOT_ACCESS_KEY_ID"
ROOT_SECRET_ENV = "EDGE_HARNESS_AWS_ROOT_SECRET_ACCESS_KEY"

Matcher = Callable[[WSGIEnvironment], bool]
#: a guard answers a request (to refuse it) or returns None (to let it through)
Guard = Callable[[WSGIEnvironment, StartResponse], Iterable[bytes] | None]


# -- request classification -----------------------------------------------------------------


@dataclass(frozen=True)
class SigV4Scope:
    """The credential scope of a SigV4-signed request: which region and service it was signed for."""

    region: str
    service: str


def sigv4_scope(environ: WSGIEnvironment) -> SigV4Scope | None:
    """The SigV4 credential scope of a request, or None if it is not SigV4-signed.

    A signed request carries it in ``Authorization: AWS4-HMAC-SHA256 Credential=<key>/<date>/
    <region>/<service>/aws4_request, ...``; a presigned URL carries the same scope in the
    ``X-Amz-Credential`` query parameter. The signing name is botocore's ``signingName`` (falling
    back to ``endpointPrefix``) from the service model, e.g. ``greengrass`` for both Greengrass V1
    and V2, ``iot-jobs-data`` for the IoT Jobs data plane, ``iotdata`` for iot-data.
    """
    credential = None
    auth = environ.get("HTTP_AUTHORIZATION", "")
    if auth.startswith("AWS4-"):
        for part in auth.split(" ", 1)[-1].split(","):
            key, _, value = part.strip().partition("=")
            if key == "Credential":
                credential = value
                break
    else:
        values = parse_qs(environ.get("QUERY_STRING", "")).get("X-Amz-Credential")
        if values:
            credential = values[0]
    if not credential:
        return None
    fields = credential.split("/")
    if len(fields) != 5 or fields[4] != "aws4_request":
        return None
    return SigV4Scope(region=fields[2], service=fields[3])


def signing_name(environ: WSGIEnvironment) -> str | None:
    """The SigV4 signing name (service) of a request, or None if it is unsigned."""
    scope = sigv4_scope(environ)
    return scope.service if scope else None


def signed_for(*services: str, path_prefix: str | None = None) -> Matcher:
    """A matcher for requests signed for one of ``services``, optionally under ``path_prefix``.

    Both are needed when a signing name is shared: Greengrass V2 is ``signed_for("greengrass",
    path_prefix="/greengrass/v2/")`` because V1 uses the same signing name with other paths.
    """
    wanted = frozenset(services)

    def matches(environ: WSGIEnvironment) -> bool:
        if path_prefix is not None and not environ.get("PATH_INFO", "").startswith(path_prefix):
            return False
        return signing_name(environ) in wanted

    return matches


def path_startswith(prefix: str) -> Matcher:
    """A matcher for requests whose path starts with ``prefix`` (signed or not)."""

    def matches(environ: WSGIEnvironment) -> bool:
        return environ.get("PATH_INFO", "").startswith(prefix)

    return matches


# -- responses ------------------------------------------------------------------------------


def json_response(
    start_response: StartResponse,
    status: int,
    body: dict[str, Any],
    headers: Sequence[tuple[str, str]] = (),
) -> list[bytes]:
    """Send ``body`` as JSON with ``status``; the return value is the WSGI body."""
    data = json.dumps(body).encode()
    start_response(
        _status_line(status),
        [("Content-Type", "application/json"), ("Content-Length", str(len(data))), *headers],
    )
    return [data]


def _status_line(status: int) -> str:
    try:
        return f"{status} {http.HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Status"


#: S3 error codes for the statuses an outage may answer with (Amazon S3 API Reference, "Error
#: responses", List of error codes); another status gets the code of its class
S3_ERRORS: dict[int, tuple[str, str]] = {
    400: ("InvalidRequest", "The request is not valid."),
    403: ("AccessDenied", "Access Denied"),
    404: ("NoSuchKey", "The specified key does not exist."),
    500: ("InternalError", "We encountered an internal error. Please try again."),
    503: ("ServiceUnavailable", "Service is unable to handle request."),
}


def s3_error(
    environ: WSGIEnvironment, start_response: StartResponse, status: int, code: str, message: str
) -> list[bytes]:
    """An error in S3's REST shape: ``<Error><Code>…</Code><Message>…</Message>…</Error>`` as
    ``application/xml`` with an ``x-amz-request-id`` header, which botocore's S3 parser reads into
    ``ClientError.response["Error"]``. A HEAD request gets the status and headers only, as from S3."""
    request_id = uuid.uuid4().hex[:16].upper()
    resource = environ.get("PATH_INFO", "")
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
        f"<Resource>{escape(resource)}</Resource><RequestId>{request_id}</RequestId></Error>"
    ).encode()
    head = environ.get("REQUEST_METHOD") == "HEAD"
    start_response(
        _status_line(status),
        [
            ("Content-Type", "application/xml"),
            ("Content-Length", "0" if head else str(len(body))),
            ("x-amz-request-id", request_id),
        ],
    )
    return [] if head else [body]


@dataclass(frozen=True)
class Outage:
    """One injected outage: requests signed for ``service`` get ``status`` until ``until``
    (``time.monotonic()`` of the server); ``started`` is wall-clock time, for reports."""

    service: str
    status: int
    seconds: float
    started: float
    until: float

    def describe(self) -> dict[str, Any]:
        remaining = max(0.0, self.until - time.monotonic())
        return {
            "service": self.service,
            "status": self.status,
            "seconds": self.seconds,
            "started": self.started,
            "remaining_s": round(remaining, 3),
        }


_SERVICE_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]*$")


def parse_outage_request(body: bytes) -> tuple[str, int, float]:
    """``(service, status, seconds)`` from the JSON of an outage request; ValueError says what is
    wrong (the route answers it as a 400)."""
    try:
        data = json.loads(body or b"{}")
    except ValueError as err:
        raise ValueError(f"the body is not JSON: {err}") from None
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object {service, status, seconds}")
    unknown = sorted(set(data) - {"service", "status", "seconds"})
    if unknown:
        raise ValueError(f"unknown key(s) {unknown}; known: service, status, seconds")
    service = data.get("service")
    if not isinstance(service, str) or not _SERVICE_NAME.match(service):
        raise ValueError(f"service must be a SigV4 signing name such as 's3', not {service!r}")
    status = data.get("status", 503)
    if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
        raise ValueError(f"status must be an HTTP error status 400..599, not {status!r}")
    seconds = data.get("seconds")
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 0 < seconds <= MAX_OUTAGE_S:
        raise ValueError(f"seconds must be a number in (0, {MAX_OUTAGE_S:g}], not {seconds!r}")
    return service, status, float(seconds)


def aws_error(start_response: StartResponse, status: int, code: str, message: str) -> list[bytes]:
    """An error in the rest-json shape botocore parses (``x-amzn-ErrorType`` + ``message``).

    botocore reads the error code from the ``x-amzn-ErrorType`` header for rest-json services, so
    boto3 callers see ``ClientError: An error occurred (<code>) ...: <message>`` instead of an
    unparseable body.
    """
    return json_response(
        start_response,
        status,
        {"__type": code, "code": code, "message": message},
        [("x-amzn-ErrorType", code)],
    )


# -- the dispatcher ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Extension:
    """A WSGI app that answers the requests ``matches`` accepts, ahead of moto."""

    name: str
    matches: Matcher
    app: WSGIApplication


#: AWS APIs a core device or the harness calls that moto does not serve (moto 5.2, see
#: shared/reference/environment.md). Until an extension claims them they get a clear 501 here,
#: instead of moto's HTML 404 (Greengrass V2 falls into moto's V1 app, which shares the signing
#: name) or its crash on an unknown signing name (iot-jobs-data). ``AwsEndpoint`` loads
#: ``harness.cloud.extension:register`` by default, which claims both (and Greengrass V2 tagging on
#: ``/tags/<V2 ARN>``, which a bare endpoint leaves to moto's V1 app); these entries answer on a
#: bare endpoint (``AwsEndpoint(extensions=[])``).
KNOWN_GAPS: tuple[tuple[str, Matcher], ...] = (
    ("AWS IoT Greengrass V2", signed_for("greengrass", path_prefix="/greengrass/v2/")),
    ("AWS IoT Jobs data plane", signed_for("iot-jobs-data")),
)


class EndpointDispatcher:
    """WSGI app: extensions first (in registration order), then :data:`KNOWN_GAPS`, then moto.

    ``fallback`` defaults to moto's server-mode dispatcher; tests pass a small WSGI app instead so
    that routing can be checked without moto.
    """

    def __init__(
        self,
        fallback: WSGIApplication | None = None,
        *,
        instance_id: str = "",
        control_token: str | None = None,
    ) -> None:
        self.instance_id = instance_id
        self.control_token = control_token
        self._guard: Guard | None = None
        self._extensions: list[Extension] = []
        self._lock = threading.Lock()
        self._outages: dict[str, Outage] = {}
        self._fallback = fallback if fallback is not None else moto_app()
        self.register_extension("edge-harness-health", path_startswith(HEALTH_PATH), self._health)
        self.register_extension("edge-harness-faults", path_startswith(FAULTS_PATH), self._faults)

    def register_extension(self, name: str, matches: Matcher, app: WSGIApplication) -> None:
        """Route requests ``matches`` accepts to ``app``; names are unique."""
        with self._lock:
            if any(ext.name == name for ext in self._extensions):
                raise ValueError(f"an extension named {name!r} is already registered")
            self._extensions.append(Extension(name, matches, app))

    def set_guard(self, guard: Guard | None) -> None:
        """Offer every request that is not a control route to ``guard`` before any service: it
        answers (refuses) the request, or returns None to let it through. An enforcing endpoint
        sets one (:mod:`harness.cloud.security.guard`); without one nothing is checked."""
        self._guard = guard

    @property
    def fallback(self) -> WSGIApplication:
        """What answers a request no extension claims (moto). An extension that only observes
        requests moto serves (e.g. fleet status publishes) passes them on to it."""
        return self._fallback

    @property
    def extensions(self) -> list[str]:
        with self._lock:
            return [ext.name for ext in self._extensions]

    # -- outages --------------------------------------------------------------------------
    def start_outage(self, service: str, status: int, seconds: float) -> Outage:
        """From now on, for ``seconds``, answer requests signed for ``service`` with ``status``."""
        outage = Outage(service, status, seconds, time.time(), time.monotonic() + seconds)
        with self._lock:
            self._outages[service] = outage
        log.warning("outage: requests signed for %r get HTTP %d for %g s", service, status, seconds)
        return outage

    def clear_outages(self, service: str | None = None) -> list[str]:
        """End the outage of ``service`` (every outage if None); the services whose outage ended."""
        with self._lock:
            names = [service] if service is not None else list(self._outages)
            cleared = [name for name in names if self._outages.pop(name, None) is not None]
        if cleared:
            log.warning("outage cleared: %s", ", ".join(cleared))
        return cleared

    def outages(self) -> list[Outage]:
        """The outages still running (expired ones are dropped here)."""
        now = time.monotonic()
        with self._lock:
            for name in [n for n, o in self._outages.items() if o.until <= now]:
                del self._outages[name]
            return list(self._outages.values())

    def _outage_for(self, environ: WSGIEnvironment) -> Outage | None:
        if not self._outages:  # the common case: no lock, no header parsing
            return None
        service = signing_name(environ)
        if service is None:
            return None
        with self._lock:
            outage = self._outages.get(service)
        return outage if outage is not None and outage.until > time.monotonic() else None

    def route(self, environ: WSGIEnvironment) -> tuple[str, WSGIApplication]:
        """The name and app that will answer ``environ`` (``"moto"`` for the fallback)."""
        outage = self._outage_for(environ)
        if outage is not None:
            return "outage", _outage_app(outage)
        with self._lock:
            extensions = list(self._extensions)
        for ext in extensions:
            if ext.matches(environ):
                return ext.name, ext.app
        for what, matches in KNOWN_GAPS:
            if matches(environ):
                return "not-implemented", _not_implemented(what)
        return "moto", self._fallback

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        control = path.startswith(("/_edge_harness/", MOTO_API_PATH))
        if control:
            if self.control_token is not None and not path.startswith(HEALTH_PATH):
                given = environ.get("HTTP_" + CONTROL_TOKEN_HEADER.upper().replace("-", "_"), "")
                if not hmac.compare_digest(given.encode(), self.control_token.encode()):
                    what = "missing" if not given else "wrong"
                    log.warning("control route %s refused: %s token", path, what)
                    return json_response(
                        start_response,
                        403,
                        {
                            "message": f"{path} is a control route of the edge-harness AWS endpoint: the "
                            f"{CONTROL_TOKEN_HEADER} header is {what} (only the harness that started "
                            "the endpoint has the token)"
                        },
                    )
        elif self._guard is not None and self._outage_for(environ) is None:
            refused = self._guard(environ, start_response)
            if refused is not None:
                return refused
        _, app = self.route(environ)
        return app(environ, start_response)

    def _health(self, environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        from importlib.metadata import PackageNotFoundError, version

        try:
            moto_version = version("moto")
        except PackageNotFoundError:  # pragma: no cover - moto is a dependency
            moto_version = "unknown"
        return json_response(
            start_response,
            200,
            {
                "status": "ok",
                "instance": self.instance_id,
                "moto": moto_version,
                "extensions": self.extensions,
            },
        )

    def _faults(self, environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        """POST: start an outage; DELETE (``?service=NAME`` for one): end them; GET: list them."""
        method = environ.get("REQUEST_METHOD", "GET")
        if method == "GET":
            return json_response(start_response, 200, {"outages": [o.describe() for o in self.outages()]})
        if method == "DELETE":
            only = parse_qs(environ.get("QUERY_STRING", "")).get("service", [None])[0]
            return json_response(start_response, 200, {"cleared": self.clear_outages(only)})
        if method != "POST":
            return json_response(
                start_response, 405, {"message": f"{method} {FAULTS_PATH}: use POST, DELETE or GET"}
            )
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            service, status, seconds = parse_outage_request(environ["wsgi.input"].read(length))
        except ValueError as err:
            return json_response(start_response, 400, {"message": f"POST {FAULTS_PATH}: {err}"})
        outage = self.start_outage(service, status, seconds)
        return json_response(start_response, 200, outage.describe())


def _outage_app(outage: Outage) -> WSGIApplication:
    def app(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        text = f"edge-harness outage of {outage.service}: every request gets HTTP {outage.status}"
        if outage.service == "s3":
            code, message = S3_ERRORS.get(
                outage.status, ("InternalError" if outage.status >= 500 else "InvalidRequest", "")
            )
            return s3_error(environ, start_response, outage.status, code, f"{message} ({text})".lstrip())
        code = "ServiceUnavailableException" if outage.status == 503 else f"Http{outage.status}"
        return aws_error(start_response, outage.status, code, text)

    return app


def _not_implemented(what: str) -> WSGIApplication:
    def app(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        return aws_error(
            start_response,
            501,
            "NotImplemented",
            f"{what} is not served by this edge-harness AWS endpoint yet "
            f"({environ.get('REQUEST_METHOD')} {environ.get('PATH_INFO', '')}): "
            "no extension is registered for it",
        )

    return app


def moto_app() -> WSGIApplication:
    """moto's server-mode WSGI app, wrapped so that a service moto lacks gets a clear 501.

    moto routes a request by the host it infers from the signing name; for a signing name it has no
    backend for (e.g. ``iot-jobs-data``) its dispatcher raises, which werkzeug would turn into a
    bare HTML 500. The wrapper answers with an AWS-style error naming the service and path instead.
    """
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    class _Moto(DomainDispatcherApplication):
        def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Any:
            try:
                app = self.get_application(environ)
            except Exception as err:
                service = signing_name(environ) or "unsigned request"
                path = environ.get("PATH_INFO", "")
                log.warning(
                    "no backend for %s %s (%s): %r", service, path, environ.get("REQUEST_METHOD"), err
                )
                return aws_error(
                    start_response,
                    501,
                    "NotImplemented",
                    f"the edge-harness AWS endpoint does not serve {service!r} "
                    f"({environ.get('REQUEST_METHOD')} {path}): neither moto nor a registered "
                    "extension handles it",
                )
            return app(environ, start_response)

    return _Moto(create_backend_app)


def load_extension(spec: str, dispatcher: EndpointDispatcher) -> None:
    """Import ``module:function`` and call ``function(dispatcher)`` so it registers its routes."""
    module_name, sep, func_name = spec.partition(":")
    if not sep or not module_name or not func_name:
        raise SystemExit(f"--extension {spec!r}: expected module:function")
    register = getattr(importlib.import_module(module_name), func_name)
    register(dispatcher)


# -- process entry point --------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (loopback by default)")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--instance-id", default="", help="echoed by the health route")
    parser.add_argument(
        "--extension", action="append", default=[], metavar="MODULE:FUNCTION", help="register routes"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )

    from werkzeug.serving import make_server

    # moto builds some URLs that point back at itself from MOTO_PORT (moto.server does the same).
    os.environ.setdefault("MOTO_PORT", str(args.port))
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    class RequestHandler(MotoRequestHandler):
        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            # werkzeug colours its access log with ANSI codes; the log is a file, keep it plain.
            self.log("info", '"%s" %s %s', self.requestline, code, size)

    dispatcher = EndpointDispatcher(
        instance_id=args.instance_id, control_token=os.environ.get(CONTROL_TOKEN_ENV) or None
    )
    for spec in args.extension:
        load_extension(spec, dispatcher)
    try:
        # MotoRequestHandler keeps header spellings S3 metadata needs (see moto.server).
        server = make_server(args.host, args.port, dispatcher, threaded=True, request_handler=RequestHandler)
    except OSError as err:
        log.error("cannot listen on %s:%d: %s", args.host, args.port, err)
        return 3

    def _stop(signum: int, frame: FrameType | None) -> None:
        # shutdown() waits for serve_forever() to return, which runs on this (main) thread:
        # call it from another thread so the handler returns and the loop can notice.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    log.info(
        "edge-harness AWS endpoint listening on http://%s:%d (extensions: %s)",
        args.host,
        server.port,
        ", ".join(dispatcher.extensions),
    )
    try:
        server.serve_forever(poll_interval=0.1)  # how soon shutdown() is noticed
    finally:
        server.server_close()
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
