"""SigV4 verification: the signature of a request recomputed with botocore's own signer.

A client signs a canonical form of its request (method, path, sorted query, the headers it
lists in ``SignedHeaders``, the payload hash) with a key derived from its secret, the date, the
region and the service. The endpoint rebuilds that request from what arrived — the path and
query exactly as sent (``RAW_URI``), only the signed headers, the body — and lets botocore's
``SigV4Auth`` (``S3SigV4Auth`` for S3: no path normalisation, the ``x-amz-content-sha256``
header as the payload hash) compute the canonical request, string to sign and signature with the
secret of the access key the request names. Presigned URLs (``X-Amz-Signature`` in the query)
are checked the same way with the query auth signers, whose canonical query leaves the
signature out and whose S3 payload is ``UNSIGNED-PAYLOAD``.

Time: a header-signed request more than 15 minutes from the endpoint's clock is refused (AWS's
allowed skew); a presigned URL is refused after ``X-Amz-Date + X-Amz-Expires`` and when it asks
for more than 7 days. A payload hash that is not the body's (S3's ``XAmzContentSHA256Mismatch``)
is refused; ``UNSIGNED-PAYLOAD`` and ``STREAMING-…`` payloads are taken as signed (chunk
signatures of aws-chunked uploads are not checked).
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth, SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

#: AWS refuses a request whose time is further than this from its own (seconds)
MAX_SKEW_S = 15 * 60
#: the longest a presigned URL may be valid (seconds)
MAX_PRESIGN_S = 7 * 24 * 3600
_ALGORITHM = "AWS4-HMAC-SHA256"
_HEX64 = frozenset("0123456789abcdef")


class AuthFailure(Exception):
    """Why a request is not authenticated. ``kind`` is what went wrong, independent of the
    service (the guard words it as the service does): ``malformed``, ``unknown-key``,
    ``inactive-key``, ``bad-token``, ``expired-token``, ``signature``, ``skewed``,
    ``presign-expired``, ``presign-too-long``, ``payload-hash``."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass(frozen=True)
class SignedRequest:
    """The SigV4 parts of a request, from the Authorization header or a presigned query."""

    access_key_id: str
    date: str  # YYYYMMDD of the credential scope
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    timestamp: str  # X-Amz-Date, YYYYMMDD'T'HHMMSS'Z'
    presigned: bool
    expires: int | None = None
    security_token: str | None = None


def _header(environ: Mapping[str, Any], name: str) -> str | None:
    key = "HTTP_" + name.upper().replace("-", "_")
    if name.lower() == "content-type":
        return environ.get("CONTENT_TYPE") or environ.get(key)
    if name.lower() == "content-length":
        return environ.get("CONTENT_LENGTH") or environ.get(key)
    return environ.get(key)


def _credential(value: str) -> tuple[str, str, str, str]:
    fields = value.split("/")
    if len(fields) != 5 or fields[4] != "aws4_request" or not all(fields):
        raise AuthFailure(
            "malformed",
            f"the credential {value!r} is not <access key>/<date>/<region>/<service>/aws4_request",
        )
    return fields[0], fields[1], fields[2], fields[3]


def parse_signed(environ: Mapping[str, Any]) -> SignedRequest | None:
    """The request's SigV4 parts; None for an unsigned request. Raises :class:`AuthFailure`
    (``malformed``) for a signature that cannot be read."""
    auth = _header(environ, "authorization") or ""
    if auth:
        if not auth.startswith(_ALGORITHM + " "):
            raise AuthFailure(
                "malformed", "only AWS4-HMAC-SHA256 (SigV4) authorization is accepted by this endpoint"
            )
        parts = {}
        for item in auth[len(_ALGORITHM) + 1 :].split(","):
            key, _, value = item.strip().partition("=")
            parts[key] = value
        missing = [k for k in ("Credential", "SignedHeaders", "Signature") if not parts.get(k)]
        if missing:
            raise AuthFailure("malformed", f"the Authorization header lacks {', '.join(missing)}")
        key_id, date, region, service = _credential(parts["Credential"])
        timestamp = _header(environ, "x-amz-date")
        if not timestamp:
            raise AuthFailure("malformed", "the request has no X-Amz-Date header")
        return SignedRequest(
            key_id,
            date,
            region,
            service,
            tuple(parts["SignedHeaders"].split(";")),
            parts["Signature"],
            timestamp,
            presigned=False,
            security_token=_header(environ, "x-amz-security-token"),
        )
    query = dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
    if "X-Amz-Signature" not in query and "X-Amz-Credential" not in query:
        return None
    missing = [
        k
        for k in (
            "X-Amz-Algorithm",
            "X-Amz-Credential",
            "X-Amz-Date",
            "X-Amz-SignedHeaders",
            "X-Amz-Signature",
        )
        if not query.get(k)
    ]
    if missing:
        raise AuthFailure("malformed", f"the presigned URL lacks {', '.join(missing)}")
    if query["X-Amz-Algorithm"] != _ALGORITHM:
        raise AuthFailure("malformed", f"X-Amz-Algorithm {query['X-Amz-Algorithm']!r} is not {_ALGORITHM}")
    key_id, date, region, service = _credential(query["X-Amz-Credential"])
    expires = query.get("X-Amz-Expires")
    try:
        expires_s = int(expires) if expires is not None else None
    except ValueError:
        raise AuthFailure("malformed", f"X-Amz-Expires {expires!r} is not a number of seconds") from None
    return SignedRequest(
        key_id,
        date,
        region,
        service,
        tuple(query["X-Amz-SignedHeaders"].split(";")),
        query["X-Amz-Signature"],
        query["X-Amz-Date"],
        presigned=True,
        expires=expires_s,
        security_token=query.get("X-Amz-Security-Token"),
    )


def request_time(signed: SignedRequest) -> float:
    """The request's X-Amz-Date as epoch seconds."""
    try:
        parsed = time.strptime(signed.timestamp, "%Y%m%dT%H%M%SZ")
    except ValueError:
        raise AuthFailure(
            "malformed", f"X-Amz-Date {signed.timestamp!r} is not in the form YYYYMMDD'T'HHMMSS'Z'"
        ) from None
    return float(calendar.timegm(parsed))


def check_time(signed: SignedRequest, now: float) -> None:
    """The clock rules: 15 minutes of skew for a signed request, the expiry of a presigned URL."""
    stamp = request_time(signed)
    if signed.timestamp[:8] != signed.date:
        raise AuthFailure("signature", "the date of the credential scope is not the date of X-Amz-Date")
    if signed.presigned:
        expires = signed.expires if signed.expires is not None else 3600
        if expires > MAX_PRESIGN_S:
            raise AuthFailure(
                "presign-too-long",
                f"X-Amz-Expires must be less than a week (in seconds) that is {MAX_PRESIGN_S}",
            )
        if now > stamp + expires:
            raise AuthFailure("presign-expired", "Request has expired")
        if stamp - now > MAX_SKEW_S:
            raise AuthFailure("skewed", _skew_message(signed, now))
        return
    if abs(now - stamp) > MAX_SKEW_S:
        raise AuthFailure("skewed", _skew_message(signed, now))


def _skew_message(signed: SignedRequest, now: float) -> str:
    server = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    early = request_time(signed) < now
    edge = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now - MAX_SKEW_S if early else now + MAX_SKEW_S))
    relation = "earlier" if early else "later"
    sign = "-" if early else "+"
    return f"Signature expired: {signed.timestamp} is now {relation} than {edge} ({server} {sign} 15 min.)"


def _rebuild(environ: Mapping[str, Any], signed: SignedRequest, body: bytes) -> AWSRequest:
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", "/")
    if "://" in raw:  # absolute-form request target
        raw = "/" + raw.split("://", 1)[1].partition("/")[2]
    path, _, query = raw.partition("?")
    query = query or environ.get("QUERY_STRING", "")
    if signed.presigned:
        query = "&".join(p for p in query.split("&") if p and not p.startswith("X-Amz-Signature="))
    host = _header(environ, "host") or environ.get("SERVER_NAME", "localhost")
    scheme = environ.get("wsgi.url_scheme", "http")
    headers = {}
    for name in signed.signed_headers:
        value = _header(environ, name)
        if value is None:
            raise AuthFailure("signature", f"the signed header {name!r} is not in the request")
        headers[name] = value
    url = f"{scheme}://{host}{path}" + (f"?{query}" if query else "")
    request = AWSRequest(method=environ.get("REQUEST_METHOD", "GET"), url=url, headers=headers, data=body)
    request.context["timestamp"] = signed.timestamp
    return request


def check_payload_hash(environ: Mapping[str, Any], body: bytes) -> None:
    """S3: the ``x-amz-content-sha256`` a client signed must be the body's hash."""
    claimed = (_header(environ, "x-amz-content-sha256") or "").lower()
    if len(claimed) == 64 and set(claimed) <= _HEX64 and hashlib.sha256(body).hexdigest() != claimed:
        raise AuthFailure(
            "payload-hash", "The provided 'x-amz-content-sha256' header does not match what was computed."
        )


def verify_signature(
    environ: Mapping[str, Any], signed: SignedRequest, secret: str, body: bytes, *, token: str | None = None
) -> None:
    """Recompute the signature with ``secret``; :class:`AuthFailure` (``signature``) if it differs."""
    credentials = Credentials(signed.access_key_id, secret, token)
    s3 = signed.service == "s3"
    signer: SigV4Auth
    if signed.presigned:
        signer = (S3SigV4QueryAuth if s3 else SigV4QueryAuth)(credentials, signed.service, signed.region)
    else:
        signer = (S3SigV4Auth if s3 else SigV4Auth)(credentials, signed.service, signed.region)
    request = _rebuild(environ, signed, body)
    canonical = signer.canonical_request(request)
    string_to_sign = signer.string_to_sign(request, canonical)
    expected = signer.signature(string_to_sign, request)
    if not hmac.compare_digest(expected, signed.signature):
        raise AuthFailure(
            "signature",
            "The request signature we calculated does not match the signature you provided. "
            "Check your key and signing method.",
        )
