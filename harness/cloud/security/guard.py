"""The enforcing endpoint's guard: authenticate every request, authorize S3 ones.

Installed by :func:`register` (the ``--extension`` an enforcing :class:`~harness.services.aws.
AwsEndpoint` adds) with :meth:`EndpointDispatcher.set_guard`: the dispatcher calls it for each
request after its own control routes and outages and before any service answers. It either
answers the request itself — with the error the service would send, in that service's protocol
— or lets it through with the caller recorded in the environ (``harness.cloud.caller``,
``harness.cloud.thing``) for the emulated services' own checks.

1. **Authentication** (every service): the SigV4 signature is recomputed with the secret of
   the key it names (:mod:`.sigv4`, :mod:`.identity`). An unsigned request is anonymous and, as
   on moto's endpoint, an S3 request.
2. **Authorization** (S3 only): each permission the request needs (:mod:`.s3_actions`) is
   decided from the caller's identity policies and the bucket policy (:mod:`.policy`).
   PutBucketPolicy's document is checked as S3 checks it (``MalformedPolicy``).

Other services are authenticated, not authorized: IAM identity policies are evaluated for S3
calls only (docs/cloud.md).
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any
from xml.sax.saxutils import escape

from harness.cloud import moto_bridge
from harness.cloud.app import read_body
from harness.cloud.security.identity import Identity, RootKey, resolve
from harness.cloud.security.policy import (
    ANONYMOUS,
    Caller,
    MalformedPolicy,
    check_bucket_policy,
    decide,
    parse_policy,
)
from harness.cloud.security.s3_actions import KNOWN_ACTIONS, S3Access, required_access
from harness.cloud.security.sigv4 import (
    AuthFailure,
    check_payload_hash,
    check_time,
    parse_signed,
    verify_signature,
)
from harness.services.aws_server import ROOT_KEY_ENV, ROOT_SECRET_ENV, aws_error, s3_error

log = logging.getLogger("harness.cloud.security")

#: environ keys the guard sets for the services behind it
CALLER_KEY = "harness.cloud.caller"
THING_KEY = "harness.cloud.thing"

StartResponse = Callable[..., Any]

# kind → (status, code) per protocol; messages come from the failure (S3 has its own wording)
_S3 = {
    "malformed": (400, "AuthorizationHeaderMalformed"),
    "unknown-key": (403, "InvalidAccessKeyId"),
    "inactive-key": (403, "InvalidAccessKeyId"),
    "bad-token": (400, "InvalidToken"),
    "expired-token": (400, "ExpiredToken"),
    "signature": (403, "SignatureDoesNotMatch"),
    "skewed": (403, "RequestTimeTooSkewed"),
    "presign-expired": (403, "AccessDenied"),
    "presign-too-long": (400, "AuthorizationQueryParametersError"),
    "payload-hash": (400, "XAmzContentSHA256Mismatch"),
}
_S3_MESSAGES = {
    "bad-token": "The provided token is malformed or otherwise invalid.",
    "expired-token": "The provided token has expired.",
    "skewed": "The difference between the request time and the current time is too large.",
}
_QUERY = {
    "malformed": (400, "IncompleteSignature"),
    "unknown-key": (403, "InvalidClientTokenId"),
    "inactive-key": (403, "InvalidClientTokenId"),
    "bad-token": (403, "InvalidClientTokenId"),
    "expired-token": (403, "ExpiredToken"),
    "signature": (403, "SignatureDoesNotMatch"),
    "skewed": (403, "SignatureDoesNotMatch"),
    "presign-expired": (403, "SignatureDoesNotMatch"),
    "presign-too-long": (400, "IncompleteSignature"),
}
_JSON = {
    "malformed": (403, "IncompleteSignatureException"),
    "unknown-key": (403, "UnrecognizedClientException"),
    "inactive-key": (403, "UnrecognizedClientException"),
    "bad-token": (403, "UnrecognizedClientException"),
    "expired-token": (403, "ExpiredTokenException"),
    "signature": (403, "InvalidSignatureException"),
    "skewed": (403, "InvalidSignatureException"),
    "presign-expired": (403, "InvalidSignatureException"),
    "presign-too-long": (400, "IncompleteSignatureException"),
}
#: services that answer in the query protocol's XML (botocore: ``"protocol": "query"``)
_QUERY_SERVICES = frozenset({"iam", "sts", "sns", "sqs", "ec2"})


def query_error(start_response: StartResponse, status: int, code: str, message: str) -> list[bytes]:
    """An error in the query protocol's shape (IAM, STS), which botocore's query parser reads."""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse><Error><Type>Sender</Type>'
        f"<Code>{escape(code)}</Code><Message>{escape(message)}</Message></Error>"
        f"<RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
    ).encode()
    start_response(
        f"{status} {'Forbidden' if status == 403 else 'Bad Request'}",
        [("Content-Type", "text/xml"), ("Content-Length", str(len(body)))],
    )
    return [body]


class Guard:
    """Called by the dispatcher with each request; returns a response to refuse it, None to let
    it through. ``root`` is the harness's own key; ``clock`` the endpoint's time (tests)."""

    def __init__(self, root: RootKey | None, clock: Callable[[], float] = time.time) -> None:
        self.root = root
        self.clock = clock

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes] | None:
        service = "s3"
        try:
            signed = parse_signed(environ)
            if signed is None:
                identity: Identity | None = None
            else:
                service = signed.service
                now = self.clock()
                check_time(signed, now)
                identity = resolve(signed, self.root, now)
                body = read_body(environ)
                if service == "s3":
                    check_payload_hash(environ, body)
                verify_signature(environ, signed, identity.secret, body, token=signed.security_token)
        except AuthFailure as failure:
            log.warning(
                "refused %s %s (%s): %s",
                environ.get("REQUEST_METHOD"),
                environ.get("PATH_INFO"),
                service,
                failure.message,
            )
            return self._refuse(environ, start_response, service, failure)
        caller = identity.caller if identity is not None else ANONYMOUS
        environ[CALLER_KEY] = caller.arn
        environ[THING_KEY] = identity.thing if identity is not None else None
        if service != "s3":
            return None
        return self._authorize_s3(environ, start_response, identity, caller)

    # -- S3 ---------------------------------------------------------------------------------------
    def _authorize_s3(
        self,
        environ: dict[str, Any],
        start_response: StartResponse,
        identity: Identity | None,
        caller: Caller,
    ) -> Iterable[bytes] | None:
        headers = {
            key[5:].replace("_", "-").lower(): value
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        needed = required_access(
            environ.get("REQUEST_METHOD", "GET"),
            environ.get("PATH_INFO", "/"),
            environ.get("QUERY_STRING", ""),
            headers,
        )
        identity_policies = identity.identity_policies() if identity is not None else []
        for access in needed:
            refused = self._decide(environ, start_response, caller, access, identity_policies)
            if refused is not None:
                return refused
        if needed[0].action == "s3:PutBucketPolicy" and needed[0].bucket:
            try:
                document = parse_policy(read_body(environ), resource_policy=True)
                check_bucket_policy(
                    document,
                    needed[0].bucket,
                    known_actions=KNOWN_ACTIONS,
                    principal_exists=moto_bridge.iam_principal_exists,
                )
            except MalformedPolicy as err:
                return s3_error(environ, start_response, 400, "MalformedPolicy", str(err))
        return None

    def _decide(
        self,
        environ: dict[str, Any],
        start_response: StartResponse,
        caller: Caller,
        access: S3Access,
        identity_policies: list[Any],
    ) -> Iterable[bytes] | None:
        owner = moto_bridge.bucket_policy(access.bucket) if access.bucket else None
        resource_account = owner[0] if owner else (caller.account or "")
        bucket_document = None
        if owner is not None and owner[1]:
            try:
                bucket_document = parse_policy(owner[1], resource_policy=True)
            except MalformedPolicy as err:
                log.warning(
                    "the policy of bucket %s cannot be read (%s): it grants nothing", access.bucket, err
                )
        decision = decide(
            caller,
            access.action,
            access.resource,
            identity_policies=identity_policies,
            resource_policy=bucket_document,
            resource_account=resource_account,
        )
        if decision.allowed:
            return None
        log.warning(
            "denied %s %s to %s: %s",
            access.action,
            access.resource,
            caller.arn or "anonymous",
            decision.reason,
        )
        if caller.anonymous:
            message = "Access Denied"
        else:
            message = (
                f"User: {caller.arn} is not authorized to perform: {access.action} on resource: "
                f'"{access.resource}" because {decision.reason}'
            )
        return s3_error(environ, start_response, 403, "AccessDenied", message)

    # -- refusals ---------------------------------------------------------------------------------
    @staticmethod
    def _refuse(
        environ: dict[str, Any], start_response: StartResponse, service: str, failure: AuthFailure
    ) -> Iterable[bytes]:
        if service == "s3":
            status, code = _S3.get(failure.kind, (403, "AccessDenied"))
            if failure.kind == "malformed" and "X-Amz-" in environ.get("QUERY_STRING", ""):
                code = "AuthorizationQueryParametersError"
            return s3_error(
                environ, start_response, status, code, _S3_MESSAGES.get(failure.kind, failure.message)
            )
        if service in _QUERY_SERVICES:
            status, code = _QUERY.get(failure.kind, (403, "AccessDenied"))
            return query_error(start_response, status, code, failure.message)
        status, code = _JSON.get(failure.kind, (403, "AccessDeniedException"))
        return aws_error(start_response, status, code, failure.message)


def register(dispatcher: Any) -> None:
    """``--extension`` entry point: guard the dispatcher with the root key from the environment."""
    key_id, secret = os.environ.get(ROOT_KEY_ENV), os.environ.get(ROOT_SECRET_ENV)
    root = RootKey(key_id, secret) if key_id and secret else None
    if root is None:
        log.warning("enforcing without %s/%s: only IAM and STS keys are known", ROOT_KEY_ENV, ROOT_SECRET_ENV)
    dispatcher.set_guard(Guard(root))
    log.info("enforcing: SigV4 on every request, IAM and bucket policies on S3")
