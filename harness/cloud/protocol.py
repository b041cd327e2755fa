"""rest-json requests and responses driven by botocore's service models.

An emulated service must accept exactly what an AWS SDK sends and answer exactly what the SDK
parses. Rather than hand-writing routes and field names, :class:`ServiceProtocol` reads the same
model botocore serialises requests from (``botocore/data/<service>/<version>/service-2.json``):

- **routing**: each operation's ``http.method`` + ``http.requestUri`` template; ``{label}``
  matches one path segment, ``{label+}`` the rest of the path. Labels are matched on the raw
  (still percent-encoded) path, because botocore encodes ``/`` inside a non-greedy label as
  ``%2F`` and a decoded ``PATH_INFO`` would split it;
- **parsing**: members bound to ``uri``, ``querystring``, ``header`` and ``headers`` locations,
  an optional ``payload`` member, the rest from the JSON body (by ``locationName`` if set), each
  converted by its shape type (blobs base64-decoded, timestamps to aware datetimes);
- **validation** as the service front end does it (the "Coral" validator): required members,
  types, enums, min/max (string length, collection size, numeric range) and patterns; every
  problem is reported at once in AWS's wording, ``N validation error(s) detected: Value ... at
  '...' failed to satisfy constraint: ...``;
- **responses** shaped by the output shape: body members by ``locationName``, ``header`` members
  as headers, timestamps in the shape's ``timestampFormat`` (rest-json bodies default to epoch
  seconds), blobs base64; a member the shape does not define is a programming error, so a typo in
  a field name cannot reach a client;
- **errors**: ``x-amzn-ErrorType: <code>`` and a JSON body with ``message`` (plus the error
  shape's other members), the HTTP status from the error shape — what botocore's rest-json error
  parser reads to raise ``ClientError`` with ``Error.Code``.

Only what the emulated services need is implemented: the rest-json protocol, no event streams,
no host prefixes, no checksums.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import email.utils
import functools
import json
import logging
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, unquote

from botocore.loaders import Loader
from botocore.model import NoShapeFoundError, OperationModel, ServiceModel, Shape, StructureShape

log = logging.getLogger("harness.cloud.protocol")

#: error code → HTTP status for errors a service model does not define
_UNMODELED_STATUS = {
    "SerializationException": 400,
    "UnknownOperationException": 404,
    "InternalServerException": 500,
    "InternalFailureException": 500,
    "NotImplemented": 501,
}


class AwsServiceError(Exception):
    """An error answered to the client as AWS would: ``code``, HTTP ``status``, ``message``.

    ``fields`` are further members of the error shape (``resourceId``, ``resourceType``,
    ``reason``, ``fields``, …). ``status`` may be left out when the service model defines the
    error shape; :meth:`ServiceProtocol.error_status` then looks it up.
    """

    def __init__(self, code: str, message: str, *, status: int | None = None, **fields: Any) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.fields = {k: v for k, v in fields.items() if v is not None}


@dataclass
class ParsedRequest:
    """An operation call decoded from HTTP: the operation and its input members by model name."""

    operation: OperationModel
    params: dict[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.operation.name


@dataclass(frozen=True)
class HttpRequest:
    """What the protocol needs of an HTTP request, independent of WSGI or botocore."""

    method: str
    raw_path: str  # percent-encoded, as sent
    query: str  # raw query string, without "?"
    headers: Mapping[str, str]  # case-insensitive lookups are done by the caller's mapping
    body: bytes

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lowered:
                return value
        return None


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


@dataclass(frozen=True)
class _Route:
    operation: OperationModel
    method: str
    regex: re.Pattern[str]
    labels: tuple[str, ...]
    required_query: tuple[tuple[str, str | None], ...]
    specificity: tuple[int, int]  # (literal characters, -labels): more specific routes first


class _Problems:
    """Validation problems collected over a whole request, reported together as AWS does."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def add(self, value: Any, where: str, constraint: str) -> None:
        self.messages.append(
            f"Value {_render_value(value)} at '{where}' failed to satisfy constraint: {constraint}"
        )

    def raise_if_any(self) -> None:
        if not self.messages:
            return
        n = len(self.messages)
        raise AwsServiceError(
            "ValidationException",
            f"{n} validation error{'s' if n != 1 else ''} detected: " + "; ".join(self.messages),
            reason="FIELD_VALIDATION_FAILED",
        )


def _render_value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        return f"'{value if len(value) <= 200 else value[:200] + '...'}'"
    if isinstance(value, bytes):
        return f"'<{len(value)} bytes>'"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        text = json.dumps(value, default=str)
        return text if len(text) <= 200 else text[:200] + "..."
    return str(value)


# Java regular expressions in service models use classes Python's re lacks.
_JAVA_CLASSES = {
    r"\p{C}": r"\x00-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff",
    r"\p{Alnum}": r"a-zA-Z0-9",
    r"\p{Alpha}": r"a-zA-Z",
    r"\p{Digit}": r"0-9",
}


@functools.lru_cache(maxsize=256)
def _compile_pattern(pattern: str) -> re.Pattern[str] | None:
    """A model pattern as a Python regex, or None if it uses syntax Python cannot express."""
    translated = pattern
    for java, python in _JAVA_CLASSES.items():
        if java in translated:
            # Only valid inside a character class; wrap a bare use in one.
            translated = re.sub(
                r"(\[[^\]]*)" + re.escape(java), lambda m, p=python: m.group(1) + p, translated
            )
            translated = translated.replace(java, f"[{python}]")
    try:
        return re.compile(translated)
    except re.error:
        log.debug("pattern %r cannot be checked in Python; skipped", pattern)
        return None


def _pattern_matches(pattern: str, value: str) -> bool:
    """Whether ``value`` matches ``pattern`` as Java's ``Matcher.matches()`` (the whole value).

    Patterns in AWS models are applied to the whole value whether or not they carry ``^``/``$``.
    """
    regex = _compile_pattern(pattern)
    return True if regex is None else regex.fullmatch(value) is not None


class ServiceProtocol:
    """Routing, parsing, validation and response shaping for one rest-json service.

    ``service_name`` is botocore's name (``greengrassv2``, ``iot-jobs-data``, ``iot-data``);
    ``operations`` restricts routing to those operation names (others answer 404 as unknown).
    """

    def __init__(self, service_name: str, operations: Iterable[str] | None = None) -> None:
        self.service_name = service_name
        self.model = _service_model(service_name)
        if self.model.metadata.get("protocol") != "rest-json":
            raise ValueError(f"{service_name} is not a rest-json service")
        names = list(operations) if operations is not None else list(self.model.operation_names)
        self._routes = sorted(
            (self._route(self.model.operation_model(name)) for name in names),
            key=lambda r: r.specificity,
            reverse=True,
        )

    # -- routing ------------------------------------------------------------------------------

    @staticmethod
    def _route(operation: OperationModel) -> _Route:
        template = operation.http["requestUri"]
        path_template, _, query_template = template.partition("?")
        parts: list[str] = []
        labels: list[str] = []
        literal = 0
        for piece in re.split(r"(\{[^}]+\})", path_template):
            if piece.startswith("{") and piece.endswith("}"):
                name = piece[1:-1]
                greedy = name.endswith("+")
                labels.append(name.rstrip("+"))
                parts.append("(.+)" if greedy else "([^/]+)")
            elif piece:
                literal += len(piece)
                parts.append(re.escape(piece))
        required_query = tuple(
            (key, value if sep else None)
            for key, sep, value in (item.partition("=") for item in query_template.split("&") if item)
        )
        return _Route(
            operation=operation,
            method=operation.http["method"].upper(),
            regex=re.compile("".join(parts)),
            labels=tuple(labels),
            required_query=required_query,
            specificity=(literal + len(required_query), -len(labels)),
        )

    def match(self, method: str, raw_path: str, query: str = "") -> tuple[OperationModel, dict[str, str]]:
        """The operation for ``method raw_path`` and its decoded URI labels.

        Raises ``UnknownOperationException`` (404) when no operation's template matches.
        """
        query_keys = {k: v for k, v in parse_qsl(query, keep_blank_values=True)}
        path = raw_path or "/"
        for route in self._routes:
            if route.method != method.upper():
                continue
            found = route.regex.fullmatch(path)
            if found is None:
                continue
            if any(
                key not in query_keys or (value is not None and query_keys[key] != value)
                for key, value in route.required_query
            ):
                continue
            return route.operation, {
                label: unquote(value) for label, value in zip(route.labels, found.groups(), strict=True)
            }
        raise AwsServiceError(
            "UnknownOperationException",
            f"{self.model.metadata.get('serviceFullName', self.service_name)} has no operation "
            f"for {method.upper()} {unquote(path)}",
            status=404,
        )

    # -- requests -----------------------------------------------------------------------------

    def parse(self, request: HttpRequest) -> ParsedRequest:
        """Route, decode and validate ``request``; raises :class:`AwsServiceError`."""
        operation, labels = self.match(request.method, request.raw_path, request.query)
        shape = operation.input_shape
        params: dict[str, Any] = {}
        problems = _Problems()
        if shape is not None:
            self._decode_members(shape, request, labels, params, problems)
            problems.raise_if_any()
            self._validate_structure(shape, params, "", problems)
            problems.raise_if_any()
        return ParsedRequest(operation=operation, params=params, headers=dict(request.headers))

    def _decode_members(
        self,
        shape: StructureShape,
        request: HttpRequest,
        labels: dict[str, str],
        params: dict[str, Any],
        problems: _Problems,
    ) -> None:
        query_pairs = parse_qsl(request.query, keep_blank_values=True)
        payload_name = shape.serialization.get("payload")
        body_members: dict[str, Shape] = {}
        for name, member in shape.members.items():
            location = member.serialization.get("location")
            wire = member.serialization.get("name", name)
            if location == "uri":
                if wire in labels:
                    params[name] = self._from_text(member, labels[wire], name, problems)
            elif location == "querystring":
                if member.type_name == "map":
                    claimed = {
                        m.serialization.get("name", n)
                        for n, m in shape.members.items()
                        if m.serialization.get("location") == "querystring" and m is not member
                    }
                    values = {k: v for k, v in query_pairs if k not in claimed}
                    if values:
                        params[name] = values
                    continue
                values = [v for k, v in query_pairs if k == wire]
                if not values:
                    continue
                if member.type_name == "list":
                    params[name] = [self._from_text(member.member, v, name, problems) for v in values]
                else:
                    params[name] = self._from_text(member, values[-1], name, problems)
            elif location == "header":
                value = request.header(wire)
                if value is not None:
                    params[name] = self._from_header(member, value, name, problems)
            elif location == "headers":
                prefix = wire.lower()
                found = {
                    k[len(prefix) :]: v for k, v in request.headers.items() if k.lower().startswith(prefix)
                }
                if found:
                    params[name] = found
            elif location in ("statusCode",):
                continue
            elif name == payload_name:
                if member.type_name in ("blob", "string"):
                    if request.body:
                        params[name] = request.body if member.type_name == "blob" else request.body.decode()
                else:
                    document = self._json_body(request.body)
                    if document is not None:
                        params[name] = self._from_json(member, document, name, problems)
            else:
                body_members[name] = member
        if body_members and payload_name is None:
            document = self._json_body(request.body)
            if document is None:
                return
            if not isinstance(document, dict):
                raise AwsServiceError(
                    "SerializationException", "the request body is not a JSON object", status=400
                )
            for name, member in body_members.items():
                wire = member.serialization.get("name", name)
                if wire in document:
                    params[name] = self._from_json(member, document[wire], name, problems)

    @staticmethod
    def _json_body(body: bytes) -> Any:
        if not body or not body.strip():
            return None
        try:
            return json.loads(body)
        except (ValueError, UnicodeDecodeError) as err:
            raise AwsServiceError(
                "SerializationException", f"the request body is not valid JSON: {err}", status=400
            ) from err

    def _from_text(self, shape: Shape, text: str, where: str, problems: _Problems) -> Any:
        """A uri/querystring value converted to the shape's type."""
        kind = shape.type_name
        if kind in ("integer", "long"):
            try:
                return int(text)
            except ValueError:
                problems.add(text, where, "Member must be a number")
                return None
        if kind in ("float", "double"):
            try:
                return float(text)
            except ValueError:
                problems.add(text, where, "Member must be a number")
                return None
        if kind == "boolean":
            if text.lower() in ("true", "false"):
                return text.lower() == "true"
            problems.add(text, where, "Member must be a boolean (true or false)")
            return None
        if kind == "timestamp":
            return self._parse_timestamp(text, where, problems)
        if kind == "blob":
            return self._decode_base64(text, where, problems)
        return text

    def _from_header(self, shape: Shape, text: str, where: str, problems: _Problems) -> Any:
        if shape.type_name == "string" and shape.serialization.get("jsonvalue"):
            decoded = self._decode_base64(text, where, problems)
            try:
                return json.loads(decoded) if decoded is not None else None
            except ValueError:
                problems.add(text, where, "Member must be base64-encoded JSON")
                return None
        return self._from_text(shape, text, where, problems)

    def _from_json(self, shape: Shape, value: Any, where: str, problems: _Problems) -> Any:
        """A JSON body value converted to the shape's type; type errors are collected."""
        if value is None:
            return None
        kind = shape.type_name
        if kind == "structure":
            if not isinstance(value, dict):
                problems.add(value, where, "Member must be an object")
                return None
            out: dict[str, Any] = {}
            assert isinstance(shape, StructureShape)
            for name, member in shape.members.items():
                wire = member.serialization.get("name", name)
                if wire in value:
                    out[name] = self._from_json(member, value[wire], f"{where}.{name}", problems)
            return out
        if kind == "list":
            if not isinstance(value, list):
                problems.add(value, where, "Member must be a list")
                return None
            return [
                self._from_json(shape.member, item, f"{where}.{i + 1}.member", problems)  # type: ignore[attr-defined]
                for i, item in enumerate(value)
            ]
        if kind == "map":
            if not isinstance(value, dict):
                problems.add(value, where, "Member must be a map")
                return None
            return {
                key: self._from_json(shape.value, item, f"{where}.{key}", problems)  # type: ignore[attr-defined]
                for key, item in value.items()
            }
        if kind == "string":
            if not isinstance(value, str):
                problems.add(value, where, "Member must be a string")
                return None
            return value
        if kind in ("integer", "long"):
            if isinstance(value, bool) or not isinstance(value, int):
                if isinstance(value, float) and value.is_integer():
                    return int(value)
                problems.add(value, where, "Member must be an integer")
                return None
            return value
        if kind in ("float", "double"):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                problems.add(value, where, "Member must be a number")
                return None
            return float(value)
        if kind == "boolean":
            if not isinstance(value, bool):
                problems.add(value, where, "Member must be a boolean")
                return None
            return value
        if kind == "blob":
            if not isinstance(value, str):
                problems.add(value, where, "Member must be base64-encoded text")
                return None
            return self._decode_base64(value, where, problems)
        if kind == "timestamp":
            if isinstance(value, bool):
                problems.add(value, where, "Member must be a timestamp")
                return None
            if isinstance(value, (int, float)):
                return dt.datetime.fromtimestamp(value, tz=dt.UTC)
            if isinstance(value, str):
                return self._parse_timestamp(value, where, problems)
            problems.add(value, where, "Member must be a timestamp")
            return None
        return value

    @staticmethod
    def _decode_base64(text: str, where: str, problems: _Problems) -> bytes | None:
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            problems.add(text, where, "Member must be base64-encoded")
            return None

    @staticmethod
    def _parse_timestamp(text: str, where: str, problems: _Problems) -> dt.datetime | None:
        try:
            return dt.datetime.fromtimestamp(float(text), tz=dt.UTC)
        except ValueError:
            pass
        try:
            parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
        except ValueError:
            pass
        try:
            return email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            problems.add(text, where, "Member must be a timestamp")
            return None

    # -- validation ---------------------------------------------------------------------------

    def _validate_structure(
        self, shape: StructureShape, value: dict[str, Any], where: str, problems: _Problems
    ) -> None:
        for name in shape.required_members:
            if value.get(name) is None:
                problems.add(None, _join(where, name), "Member must not be null")
        for name, member in shape.members.items():
            if value.get(name) is not None:
                self._validate(member, value[name], _join(where, name), problems)

    def _validate(self, shape: Shape, value: Any, where: str, problems: _Problems) -> None:
        meta = shape.metadata
        kind = shape.type_name
        if kind == "structure":
            assert isinstance(shape, StructureShape)
            self._validate_structure(shape, value, where, problems)
            return
        if kind == "list":
            self._check_size(meta, len(value), value, where, problems)
            for i, item in enumerate(value):
                if item is not None:
                    self._validate(shape.member, item, f"{where}.{i + 1}.member", problems)  # type: ignore[attr-defined]
            return
        if kind == "map":
            self._check_size(meta, len(value), value, where, problems)
            for key, item in value.items():
                self._validate(shape.key, key, f"{where}.key", problems)  # type: ignore[attr-defined]
                if item is not None:
                    self._validate(shape.value, item, f"{where}.{key}", problems)  # type: ignore[attr-defined]
            return
        if kind == "string":
            self._check_size(meta, len(value), value, where, problems)
            enum = getattr(shape, "enum", None)
            if enum and value not in enum:
                problems.add(value, where, f"Member must satisfy enum value set: [{', '.join(enum)}]")
            pattern = meta.get("pattern")
            if pattern and not _pattern_matches(pattern, value):
                problems.add(value, where, f"Member must satisfy regular expression pattern: {pattern}")
            return
        if kind == "blob":
            self._check_size(meta, len(value), value, where, problems)
            return
        if kind in ("integer", "long", "float", "double"):
            if isinstance(value, float) and not math.isfinite(value):
                problems.add(value, where, "Member must be a finite number")
                return
            if "min" in meta and value < meta["min"]:
                problems.add(value, where, f"Member must have value greater than or equal to {meta['min']}")
            if "max" in meta and value > meta["max"]:
                problems.add(value, where, f"Member must have value less than or equal to {meta['max']}")

    @staticmethod
    def _check_size(meta: Mapping[str, Any], size: int, value: Any, where: str, problems: _Problems) -> None:
        if "min" in meta and size < meta["min"]:
            problems.add(value, where, f"Member must have length greater than or equal to {meta['min']}")
        if "max" in meta and size > meta["max"]:
            problems.add(value, where, f"Member must have length less than or equal to {meta['max']}")

    # -- responses ----------------------------------------------------------------------------

    def response(self, operation: OperationModel, output: Mapping[str, Any] | None) -> HttpResponse:
        """The HTTP response for a successful call returning ``output`` (by model member names)."""
        status = int(operation.http.get("responseCode", 200))
        headers: list[tuple[str, str]] = []
        shape = operation.output_shape
        output = dict(output or {})
        if shape is None:
            if output:
                raise ValueError(f"{operation.name} has no output shape, got {sorted(output)}")
            return HttpResponse(status, headers, b"")
        unknown = sorted(set(output) - set(shape.members))
        if unknown:
            raise ValueError(f"{operation.name}: {shape.name} has no member(s) {unknown}")
        payload_name = shape.serialization.get("payload")
        body: dict[str, Any] = {}
        raw_payload: bytes | None = None
        for name, member in shape.members.items():
            value = output.get(name)
            if value is None:
                continue
            location = member.serialization.get("location")
            wire = member.serialization.get("name", name)
            if location == "header":
                headers.append((wire, self._header_text(member, value)))
            elif location == "headers":
                headers.extend((wire + k, str(v)) for k, v in value.items())
            elif location == "statusCode":
                status = int(value)
            elif name == payload_name:
                if member.type_name == "blob":
                    raw_payload = value if isinstance(value, bytes) else str(value).encode()
                elif member.type_name == "string":
                    raw_payload = str(value).encode()
                else:
                    raw_payload = json.dumps(self._to_json(member, value, name)).encode()
            else:
                body[wire] = self._to_json(member, value, name)
        data = raw_payload if raw_payload is not None else json.dumps(body).encode()
        headers.append(("Content-Type", "application/json"))
        return HttpResponse(status, headers, data)

    def _to_json(self, shape: Shape, value: Any, where: str) -> Any:
        kind = shape.type_name
        if kind == "structure":
            assert isinstance(shape, StructureShape)
            if not isinstance(value, Mapping):
                raise ValueError(f"{where}: {shape.name} needs a mapping, got {type(value).__name__}")
            unknown = sorted(set(value) - set(shape.members))
            if unknown:
                raise ValueError(f"{where}: {shape.name} has no member(s) {unknown}")
            return {
                member.serialization.get("name", name): self._to_json(member, value[name], f"{where}.{name}")
                for name, member in shape.members.items()
                if value.get(name) is not None
            }
        if kind == "list":
            return [self._to_json(shape.member, item, where) for item in value]  # type: ignore[attr-defined]
        if kind == "map":
            return {str(k): self._to_json(shape.value, v, f"{where}.{k}") for k, v in value.items()}  # type: ignore[attr-defined]
        if kind == "blob":
            raw = value if isinstance(value, bytes) else str(value).encode()
            return base64.b64encode(raw).decode()
        if kind == "timestamp":
            return _format_timestamp(value, shape.serialization.get("timestampFormat", "unixTimestamp"))
        if kind in ("integer", "long"):
            return int(value)
        if kind in ("float", "double"):
            return float(value)
        if kind == "boolean":
            return bool(value)
        return value

    @staticmethod
    def _header_text(shape: Shape, value: Any) -> str:
        if shape.type_name == "timestamp":
            return str(_format_timestamp(value, shape.serialization.get("timestampFormat", "rfc822")))
        if shape.type_name == "boolean":
            return "true" if value else "false"
        if shape.serialization.get("jsonvalue"):
            return base64.b64encode(json.dumps(value).encode()).decode()
        return str(value)

    def error_status(self, code: str) -> int:
        """The HTTP status of error ``code``: from its shape in the model, else a known default."""
        try:
            shape = self.model.shape_for(code)
        except NoShapeFoundError:
            return _UNMODELED_STATUS.get(code, 400)
        status = shape.metadata.get("error", {}).get("httpStatusCode")
        return int(status) if status else _UNMODELED_STATUS.get(code, 400)

    def error_response(self, error: AwsServiceError) -> HttpResponse:
        """The rest-json error botocore turns into ``ClientError`` with ``Error.Code == code``."""
        status = error.status or self.error_status(error.code)
        body: dict[str, Any] = {"message": error.message}
        body.update(error.fields)
        headers = [("x-amzn-ErrorType", error.code), ("Content-Type", "application/json")]
        retry_after = error.fields.get("retryAfterSeconds")
        if retry_after is not None:
            headers.append(("Retry-After", str(retry_after)))
        return HttpResponse(status, headers, json.dumps(body, default=str).encode())


def _join(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def _format_timestamp(value: Any, fmt: str) -> Any:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        moment = dt.datetime.fromtimestamp(value, tz=dt.UTC)
    elif isinstance(value, dt.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    else:
        raise ValueError(f"not a timestamp: {value!r}")
    if fmt == "unixTimestamp":
        # milliseconds, as AWS services answer (e.g. 1.700000000123E9)
        return round(moment.timestamp(), 3)
    if fmt == "iso8601":
        return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    if fmt == "rfc822":
        return email.utils.format_datetime(moment.astimezone(dt.UTC), usegmt=True)
    raise ValueError(f"unknown timestampFormat {fmt!r}")


@functools.lru_cache(maxsize=8)
def _service_model(service_name: str) -> ServiceModel:
    data = Loader().load_service_model(service_name, "service-2")
    return ServiceModel(data, service_name=service_name)


def raw_path_from_environ(environ: Mapping[str, Any]) -> tuple[str, str]:
    """The still-encoded path and the query string of a WSGI request.

    werkzeug's server (and the in-process adapter) put the request target as sent in
    ``RAW_URI``/``REQUEST_URI``; other servers only give the decoded ``PATH_INFO``, which is
    re-encoded (exact unless a label contained an encoded ``/``).
    """
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    query = environ.get("QUERY_STRING", "")
    if raw:
        if "://" in raw:  # absolute-form request target
            raw = "/" + raw.split("://", 1)[1].partition("/")[2]
        path, _, raw_query = raw.partition("?")
        return path, query or raw_query
    path_info = environ.get("PATH_INFO", "/")
    if isinstance(path_info, str):
        # PEP 3333: PATH_INFO is latin-1-decoded bytes
        path_info = path_info.encode("latin-1").decode("utf-8", "replace")
    return quote(path_info, safe="/~!$&'()*+,;=:@"), query
