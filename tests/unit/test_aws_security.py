"""The enforcing endpoint's parts without a server: policy evaluation, S3 actions, SigV4, identities.

Requests are signed by botocore's own signers (the same code every SDK request goes through) and
turned into WSGI environs as werkzeug would hand them over; identities come from moto's IAM and
STS in this process (``mock_aws``), as they do inside the endpoint.
"""

from __future__ import annotations

import io
import json
import time
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from harness.cloud.security.policy import (
    ANONYMOUS,
    Caller,
    MalformedPolicy,
    check_bucket_policy,
    decide,
    parse_policy,
    principal_matches,
)
from harness.cloud.security.s3_actions import KNOWN_ACTIONS, required_access
from harness.cloud.security.sigv4 import AuthFailure, check_time, parse_signed, verify_signature

pytestmark = pytest.mark.unit

ACCOUNT = "123456789012"
USER = Caller(f"arn:aws:iam::{ACCOUNT}:user/alice", ACCOUNT)
ROOT = Caller(f"arn:aws:iam::{ACCOUNT}:root", ACCOUNT)
ROLE = f"arn:aws:iam::{ACCOUNT}:role/GreengrassV2TokenExchangeRole"
DEVICE = Caller(f"arn:aws:sts::{ACCOUNT}:assumed-role/GreengrassV2TokenExchangeRole/cam-1", ACCOUNT, ROLE)
OTHER_ACCOUNT = Caller("arn:aws:iam::999999999999:user/bob", "999999999999")


def _policy(*statements: dict[str, Any], resource_policy: bool = True) -> Any:
    return parse_policy(
        json.dumps({"Version": "2012-10-17", "Statement": list(statements)}), resource_policy=resource_policy
    )


def _grant(
    principal: Any, action: Any = "s3:GetObject", resource: Any = "arn:aws:s3:::art/*", effect: str = "Allow"
) -> dict[str, Any]:
    return {"Effect": effect, "Principal": principal, "Action": action, "Resource": resource}


# -- policy evaluation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("principal", "caller", "matches"),
    [
        ("*", ANONYMOUS, True),
        ({"AWS": "*"}, USER, True),
        ({"AWS": ACCOUNT}, USER, True),
        ({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, DEVICE, True),
        ({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, OTHER_ACCOUNT, False),
        ({"AWS": USER.arn}, USER, True),
        ({"AWS": [USER.arn]}, DEVICE, False),
        ({"AWS": ROLE}, DEVICE, True),  # a role names every session of it
        ({"AWS": DEVICE.arn}, DEVICE, True),
        ({"AWS": DEVICE.arn.replace("cam-1", "cam-2")}, DEVICE, False),
        ({"AWS": ACCOUNT}, ANONYMOUS, False),
        ({"Service": "credentials.iot.amazonaws.com"}, DEVICE, False),
    ],
)
def test_principal_matching(principal: Any, caller: Caller, matches: bool) -> None:
    assert principal_matches(principal, caller) is matches


def test_seed_policy_allows_its_principal_and_nobody_else() -> None:
    seed = _policy(_grant({"AWS": DEVICE.arn}))
    args = {"identity_policies": [], "resource_policy": seed, "resource_account": ACCOUNT}
    assert decide(DEVICE, "s3:GetObject", "arn:aws:s3:::art/pkg.zip", **args).allowed
    assert not decide(DEVICE, "s3:PutObject", "arn:aws:s3:::art/pkg.zip", **args).allowed
    assert not decide(DEVICE, "s3:GetObject", "arn:aws:s3:::other/pkg.zip", **args).allowed
    denied = decide(USER, "s3:GetObject", "arn:aws:s3:::art/pkg.zip", **args)
    assert not denied.allowed and denied.reason == "no identity policy and no bucket policy allows it"
    assert not decide(ANONYMOUS, "s3:GetObject", "arn:aws:s3:::art/pkg.zip", **args).allowed


def test_action_wildcards_are_case_insensitive_and_resources_are_not() -> None:
    identity = _policy(
        {"Effect": "Allow", "Action": ["S3:get*", "s3:List?ucket"], "Resource": "arn:aws:s3:::art/A/*"},
        resource_policy=False,
    )
    args = {"identity_policies": [identity], "resource_policy": None, "resource_account": ACCOUNT}
    assert decide(USER, "s3:GetObject", "arn:aws:s3:::art/A/x", **args).allowed
    assert not decide(USER, "s3:GetObject", "arn:aws:s3:::art/a/x", **args).allowed
    assert decide(USER, "s3:ListBucket", "arn:aws:s3:::art/A/x", **args).allowed
    assert not decide(USER, "s3:ListBuckets", "arn:aws:s3:::art/A/x", **args).allowed


def test_explicit_deny_wins_over_allows_in_both_kinds_of_policy() -> None:
    identity = _policy({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}, resource_policy=False)
    bucket = _policy(
        _grant("*"), _grant({"AWS": USER.arn}, resource="arn:aws:s3:::art/secret/*", effect="Deny")
    )
    args = {"identity_policies": [identity], "resource_policy": bucket, "resource_account": ACCOUNT}
    assert decide(USER, "s3:GetObject", "arn:aws:s3:::art/x", **args).allowed
    denied = decide(USER, "s3:GetObject", "arn:aws:s3:::art/secret/x", **args)
    assert not denied.allowed and "explicitly" in denied.reason
    deny_in_identity = _policy(
        {"Effect": "Deny", "NotAction": "s3:ListBucket", "Resource": "*"}, resource_policy=False
    )
    args["identity_policies"] = [identity, deny_in_identity]
    assert not decide(USER, "s3:GetObject", "arn:aws:s3:::art/x", **args).allowed
    assert decide(USER, "s3:ListBucket", "arn:aws:s3:::art", **args).allowed


def test_not_principal_and_not_resource() -> None:
    bucket = _policy(
        {
            "Effect": "Deny",
            "NotPrincipal": {"AWS": USER.arn},
            "Action": "s3:*",
            "NotResource": "arn:aws:s3:::art/pub/*",
        },
        _grant("*", action="s3:GetObject", resource="arn:aws:s3:::art/*"),
    )
    args = {"identity_policies": [], "resource_policy": bucket, "resource_account": ACCOUNT}
    assert decide(USER, "s3:GetObject", "arn:aws:s3:::art/x", **args).allowed
    assert not decide(DEVICE, "s3:GetObject", "arn:aws:s3:::art/x", **args).allowed
    assert decide(DEVICE, "s3:GetObject", "arn:aws:s3:::art/pub/x", **args).allowed


def test_root_is_allowed_by_identity_and_always_manages_the_bucket_policy() -> None:
    lockout = _policy(
        _grant("*", action="s3:*", resource=["arn:aws:s3:::art", "arn:aws:s3:::art/*"], effect="Deny")
    )
    args = {"identity_policies": [], "resource_policy": lockout, "resource_account": ACCOUNT}
    assert not decide(ROOT, "s3:GetObject", "arn:aws:s3:::art/x", **args).allowed
    assert decide(ROOT, "s3:DeleteBucketPolicy", "arn:aws:s3:::art", **args).allowed
    assert decide(
        ROOT,
        "s3:GetObject",
        "arn:aws:s3:::art/x",
        identity_policies=[],
        resource_policy=None,
        resource_account=ACCOUNT,
    ).allowed


def test_another_account_needs_both_its_identity_policy_and_the_bucket_policy() -> None:
    identity = _policy({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}, resource_policy=False)
    bucket = _policy(_grant({"AWS": "999999999999"}))
    resource = "arn:aws:s3:::art/x"
    assert decide(
        OTHER_ACCOUNT,
        "s3:GetObject",
        resource,
        identity_policies=[identity],
        resource_policy=bucket,
        resource_account=ACCOUNT,
    ).allowed
    only_identity = decide(
        OTHER_ACCOUNT,
        "s3:GetObject",
        resource,
        identity_policies=[identity],
        resource_policy=None,
        resource_account=ACCOUNT,
    )
    assert not only_identity.allowed and "another account" in only_identity.reason
    assert not decide(
        OTHER_ACCOUNT,
        "s3:GetObject",
        resource,
        identity_policies=[],
        resource_policy=bucket,
        resource_account=ACCOUNT,
    ).allowed


def test_a_statement_with_a_condition_never_applies() -> None:
    bucket = _policy({**_grant("*"), "Condition": {"Bool": {"aws:SecureTransport": "true"}}})
    assert not decide(
        USER,
        "s3:GetObject",
        "arn:aws:s3:::art/x",
        identity_policies=[],
        resource_policy=bucket,
        resource_account="999999999999",
    ).allowed


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("[]", "Policies must be valid JSON and the first byte must be '{'"),
        ('{"Statement": [', "Policies must be valid JSON"),
        ('{"Version": "2012-10-17"}', "Missing required field Statement"),
        ('{"Version": "2020-01-01", "Statement": []}', "The policy must contain a valid version string"),
        ('{"Statement": [], "Extra": 1}', "Unknown field Extra"),
        (
            '{"Statement": [{"Effect": "Allow", "Principal": "*", "Resource": "*"}]}',
            "Missing required field Action",
        ),
        (
            '{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"}]}',
            "Missing required field Resource",
        ),
        (
            '{"Statement": [{"Effect": "allow", "Principal": "*", "Action": "*", "Resource": "*"}]}',
            "Invalid effect: allow",
        ),
        (
            '{"Statement": [{"Effect": "Allow", "Principal": {"AWS": "alice"}, '
            '"Action": "*", "Resource": "*"}]}',
            "Invalid principal in policy",
        ),
        (
            '{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "GetObject", "Resource": "*"}]}',
            "Policy has invalid action",
        ),
        (
            '{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*", '
            '"Condtion": {}}]}',
            "Unknown field Condtion",
        ),
    ],
)
def test_malformed_policies(document: str, message: str) -> None:
    with pytest.raises(MalformedPolicy) as info:
        parse_policy(document, resource_policy=True)
    assert message in str(info.value)


def test_identity_policies_name_no_principal() -> None:
    with pytest.raises(MalformedPolicy, match="should not specify a principal"):
        _policy(_grant("*"), resource_policy=False)


def test_bucket_policy_checks_beyond_the_grammar() -> None:
    known = {USER.arn}

    def check(document: Any) -> None:
        check_bucket_policy(document, "art", known_actions=KNOWN_ACTIONS, principal_exists=known.__contains__)

    check(
        _policy(
            _grant(
                {"AWS": USER.arn},
                action=["s3:GetObject", "s3:List*"],
                resource=["arn:aws:s3:::art", "arn:aws:s3:::a?t/*"],
            )
        )
    )
    for document, message in (
        (_policy(_grant({"AWS": f"arn:aws:iam::{ACCOUNT}:user/ghost"})), "Invalid principal in policy"),
        (_policy(_grant("*", action="iot:Publish")), "Policy has invalid action"),
        (_policy(_grant("*", action="s3:GetObjects")), "Policy has invalid action"),
        (_policy(_grant("*", resource="arn:aws:s3:::other/*")), "Policy has invalid resource"),
        (_policy(_grant("*", resource="arn:aws:iot:::art/*")), "Policy has invalid resource"),
    ):
        with pytest.raises(MalformedPolicy, match=message):
            check(document)


# -- which S3 action a request is -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "query", "action", "resource"),
    [
        ("GET", "/", "", "s3:ListAllMyBuckets", "*"),
        ("GET", "/art", "location", "s3:GetBucketLocation", "arn:aws:s3:::art"),
        ("HEAD", "/art/c/1.0.0/package.zip", "", "s3:GetObject", "arn:aws:s3:::art/c/1.0.0/package.zip"),
        ("GET", "/art/c/pkg%20v1.zip", "", "s3:GetObject", "arn:aws:s3:::art/c/pkg v1.zip"),
        ("GET", "/art/x", "versionId=3", "s3:GetObjectVersion", "arn:aws:s3:::art/x"),
        ("HEAD", "/art", "", "s3:ListBucket", "arn:aws:s3:::art"),
        ("GET", "/art", "list-type=2&prefix=c/", "s3:ListBucket", "arn:aws:s3:::art"),
        ("PUT", "/art", "", "s3:CreateBucket", "arn:aws:s3:::art"),
        ("DELETE", "/art", "", "s3:DeleteBucket", "arn:aws:s3:::art"),
        ("PUT", "/art", "policy", "s3:PutBucketPolicy", "arn:aws:s3:::art"),
        ("GET", "/art", "policy", "s3:GetBucketPolicy", "arn:aws:s3:::art"),
        ("DELETE", "/art", "policy", "s3:DeleteBucketPolicy", "arn:aws:s3:::art"),
        ("PUT", "/art/x", "", "s3:PutObject", "arn:aws:s3:::art/x"),
        ("PUT", "/art/x", "partNumber=1&uploadId=u", "s3:PutObject", "arn:aws:s3:::art/x"),
        ("POST", "/art/x", "uploads", "s3:PutObject", "arn:aws:s3:::art/x"),
        ("DELETE", "/art/x", "uploadId=u", "s3:AbortMultipartUpload", "arn:aws:s3:::art/x"),
        ("PUT", "/art/x", "tagging", "s3:PutObjectTagging", "arn:aws:s3:::art/x"),
        ("POST", "/art", "delete", "s3:DeleteObject", "arn:aws:s3:::art/*"),
    ],
)
def test_s3_request_actions(method: str, path: str, query: str, action: str, resource: str) -> None:
    needed = required_access(method, path, query, {"host": "127.0.0.1:4566"})
    assert (needed[0].action, needed[0].resource) == (action, resource)
    assert needed[0].action.split(":", 1)[1] in KNOWN_ACTIONS


def test_copy_needs_read_on_its_source_and_virtual_hosted_buckets_are_read_from_the_host() -> None:
    needed = required_access(
        "PUT", "/dst/key", "", {"host": "localhost", "x-amz-copy-source": "/src/a%20b.zip"}
    )
    assert [(n.action, n.resource) for n in needed] == [
        ("s3:PutObject", "arn:aws:s3:::dst/key"),
        ("s3:GetObject", "arn:aws:s3:::src/a b.zip"),
    ]
    hosted = required_access("GET", "/c/pkg.zip", "", {"host": "art.s3.us-east-1.amazonaws.com"})
    assert hosted[0].resource == "arn:aws:s3:::art/c/pkg.zip"


# -- SigV4 --------------------------------------------------------------------------------------------

KEY = Credentials("AKIAEXAMPLEKEY000001", "secret-of-the-example-key")


def _environ(request: AWSRequest) -> dict[str, Any]:
    """What werkzeug hands the endpoint for ``request`` (raw target in RAW_URI)."""
    parts = urlsplit(request.url)
    body = request.body or b""
    if isinstance(body, str):
        body = body.encode()
    environ: dict[str, Any] = {
        "REQUEST_METHOD": request.method,
        "PATH_INFO": parts.path,
        "RAW_URI": parts.path + (f"?{parts.query}" if parts.query else ""),
        "QUERY_STRING": parts.query,
        "wsgi.url_scheme": parts.scheme,
        "wsgi.input": io.BytesIO(body),
        "CONTENT_LENGTH": str(len(body)),
    }
    for name, value in request.headers.items():
        value = value.decode() if isinstance(value, bytes) else value
        key = name.upper().replace("-", "_")
        environ["CONTENT_TYPE" if key == "CONTENT_TYPE" else f"HTTP_{key}"] = value
    environ.setdefault("HTTP_HOST", parts.netloc)
    return environ


def _signed(
    service: str, url: str, method: str = "GET", body: bytes = b"", credentials: Credentials = KEY
) -> dict[str, Any]:
    request = AWSRequest(method=method, url=url, data=body, headers={"Content-Type": "application/json"})
    (S3SigV4Auth if service == "s3" else SigV4Auth)(credentials, service, "us-east-1").add_auth(request)
    return _environ(request)


def _verify(environ: dict[str, Any], secret: str = KEY.secret_key) -> None:
    signed = parse_signed(environ)
    assert signed is not None
    check_time(signed, time.time())
    body = environ["wsgi.input"].getvalue()
    verify_signature(environ, signed, secret, body, token=signed.security_token)


@pytest.mark.parametrize(
    ("service", "url"),
    [
        ("s3", "http://127.0.0.1:4566/art/c/1.0.0/pkg%20v1.zip?versionId=3"),
        (
            "greengrass",
            "http://127.0.0.1:4566/greengrass/v2/components/arn%3Aaws%3Agreengrass%3Aus-east-1%3A1%3Acomponents%3Ax",
        ),
        ("iot-jobs-data", "http://127.0.0.1:4566/things/cam-1/jobs/%24next?includeJobDocument=true"),
    ],
)
def test_botocore_signatures_verify_and_a_wrong_secret_does_not(service: str, url: str) -> None:
    environ = _signed(service, url, "POST", b'{"status": "IN_PROGRESS"}')
    _verify(environ)
    with pytest.raises(AuthFailure) as info:
        _verify(_signed(service, url, "POST", b'{"status": "IN_PROGRESS"}'), secret="another secret")
    assert info.value.kind == "signature"


def test_a_changed_path_query_header_or_body_breaks_the_signature() -> None:
    url = "http://127.0.0.1:4566/things/cam-1/jobs/j1"
    for change in (
        lambda e: e.update(RAW_URI="/things/cam-2/jobs/j1", PATH_INFO="/things/cam-2/jobs/j1"),
        lambda e: e.update(RAW_URI=e["RAW_URI"] + "?x=1", QUERY_STRING="x=1"),
        lambda e: e.update(
            HTTP_X_AMZ_DATE=e["HTTP_X_AMZ_DATE"][:-3]
            + ("01Z" if e["HTTP_X_AMZ_DATE"][-3:] != "01Z" else "02Z")
        ),
        lambda e: e.update({"wsgi.input": io.BytesIO(b'{"status": "SUCCEEDED"}')}),
    ):
        environ = _signed("iot-jobs-data", url, "POST", b'{"status": "FAILED"}')
        change(environ)
        with pytest.raises(AuthFailure) as info:
            _verify(environ)
        assert info.value.kind == "signature"


def test_presigned_s3_urls_verify_without_their_signature_in_the_canonical_query() -> None:
    request = AWSRequest(method="GET", url="http://127.0.0.1:4566/art/c/pkg.zip")
    S3SigV4QueryAuth(KEY, "s3", "us-east-1", expires=300).add_auth(request)
    environ = _environ(request)
    signed = parse_signed(environ)
    assert signed is not None and signed.presigned and signed.expires == 300
    _verify(environ)
    with pytest.raises(AuthFailure) as info:
        check_time(signed, time.time() + 301)
    assert (info.value.kind, info.value.message) == ("presign-expired", "Request has expired")


def test_skew_of_more_than_15_minutes_either_way() -> None:
    signed = parse_signed(_signed("iot", "http://127.0.0.1:4566/things"))
    assert signed is not None
    check_time(signed, time.time() + 14 * 60)
    for offset in (16 * 60, -16 * 60):
        with pytest.raises(AuthFailure) as info:
            check_time(signed, time.time() + offset)
        assert info.value.kind == "skewed" and info.value.message.startswith("Signature expired: ")


def test_unsigned_and_malformed_authorization() -> None:
    assert parse_signed({"REQUEST_METHOD": "GET", "QUERY_STRING": ""}) is None
    for header in ("AWS AKIA:abc", "AWS4-HMAC-SHA256 Credential=AKIA/20240101/us-east-1/s3/aws4_request"):
        with pytest.raises(AuthFailure) as info:
            parse_signed({"HTTP_AUTHORIZATION": header, "HTTP_X_AMZ_DATE": "20240101T000000Z"})
        assert info.value.kind == "malformed"


# -- identities (moto's IAM and STS in this process) ------------------------------------------------


def test_keys_resolve_to_users_sessions_and_things() -> None:
    import boto3
    from moto import mock_aws

    from harness.cloud.security.identity import RootKey, resolve
    from harness.cloud.security.sigv4 import SignedRequest

    def signed_by(key: str, token: str | None = None) -> SignedRequest:
        return SignedRequest(
            key,
            "20240101",
            "us-east-1",
            "s3",
            ("host",),
            "sig",
            "20240101T000000Z",
            False,
            security_token=token,
        )

    with mock_aws():
        iam = boto3.client("iam", region_name="us-east-1")
        iam.create_user(UserName="alice")
        user_key = iam.create_access_key(UserName="alice")["AccessKey"]
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "credentials.iot.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        role = iam.create_role(
            RoleName="GreengrassV2TokenExchangeRole", AssumeRolePolicyDocument=json.dumps(trust)
        )["Role"]["Arn"]
        sts = boto3.client("sts", region_name="us-east-1")
        plain = sts.assume_role(RoleArn=role, RoleSessionName="not-a-device", DurationSeconds=900)[
            "Credentials"
        ]
        boto3.client("iot", region_name="us-east-1").create_role_alias(
            roleAlias="GreengrassV2TokenExchangeRoleAlias", roleArn=role
        )
        device = sts.assume_role(RoleArn=role, RoleSessionName="cam-1", DurationSeconds=900)["Credentials"]
        root = RootKey("AKIAROOTROOTROOTROOT", "root-secret")
        now = time.time()

        assert resolve(signed_by(root.access_key_id), root, now).caller.is_root
        alice = resolve(signed_by(user_key["AccessKeyId"]), root, now)
        assert alice.caller.arn == f"arn:aws:iam::{ACCOUNT}:user/alice" and alice.thing is None
        assert alice.secret == user_key["SecretAccessKey"]
        cam = resolve(signed_by(device["AccessKeyId"], device["SessionToken"]), root, now)
        assert cam.thing == "cam-1" and cam.caller.role_arn == role
        assert cam.caller.arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/GreengrassV2TokenExchangeRole/cam-1"
        # every session of a role an IoT role alias points at is a device, named after its thing
        assert (
            resolve(signed_by(plain["AccessKeyId"], plain["SessionToken"]), root, now).thing == "not-a-device"
        )
        for signed, kind in (
            (signed_by("AKIANOBODYNOBODY0000"), "unknown-key"),
            (signed_by(device["AccessKeyId"], "forged"), "bad-token"),
            (signed_by(device["AccessKeyId"]), "bad-token"),
            (signed_by(user_key["AccessKeyId"], "a token"), "bad-token"),
        ):
            with pytest.raises(AuthFailure) as info:
                resolve(signed, root, now)
            assert info.value.kind == kind
        with pytest.raises(AuthFailure) as info:
            resolve(signed_by(device["AccessKeyId"], device["SessionToken"]), root, now + 901)
        assert info.value.kind == "expired-token"
        iam.update_access_key(UserName="alice", AccessKeyId=user_key["AccessKeyId"], Status="Inactive")
        with pytest.raises(AuthFailure) as info:
            resolve(signed_by(user_key["AccessKeyId"]), root, now)
        assert info.value.kind == "inactive-key"


# -- a scenario's bucket policy file ----------------------------------------------------------------


SCENARIO = """\
name: policy-check
services:
  aws:
    enforce: true
    bucket_policy: policy.json
devices:
  - name: cam
    thing_group: cams
steps:
  - kind: sleep
    name: nothing
    seconds: 1
"""


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ('{"Statement": [', "is not a policy S3 accepts: MalformedPolicy: Policies must be valid JSON"),
        (
            json.dumps({"Statement": [_grant("*", effect="允许访问")]}, ensure_ascii=False),
            "Invalid effect: 允许访问",
        ),
        (json.dumps({"Statement": [_grant({"AWS": "${aws.acount}"})]}), "${aws.acount}"),
        (
            json.dumps(
                {
                    "Statement": [
                        _grant({"AWS": "arn:aws:sts::${aws.account}:assumed-role/R/${device.2.thing}"})
                    ]
                }
            ),
            "device.2.thing",
        ),
    ],
)
def test_scenario_bucket_policy_problems_name_the_file(tmp_path: Any, policy: str, message: str) -> None:
    from harness.scenario.load import load_scenario

    (tmp_path / "policy.json").write_text(policy)
    (tmp_path / "scenario.yaml").write_text(SCENARIO)
    with pytest.raises(Exception) as info:
        load_scenario(tmp_path / "scenario.yaml")
    text = str(info.value)
    assert "services/aws/bucket_policy" in text and "policy.json" in text and message in text


def test_scenario_bucket_policy_is_filled_in_at_run_time(tmp_path: Any) -> None:
    from harness.scenario.load import load_scenario
    from harness.scenario.policy_file import render_policy_file

    principal = "arn:aws:sts::${aws.account}:assumed-role/GreengrassV2TokenExchangeRole/${device.1.thing}"
    (tmp_path / "policy.json").write_text(
        json.dumps({"Statement": [_grant({"AWS": principal}, resource="arn:aws:s3:::${aws.bucket}/*")]})
    )
    (tmp_path / "scenario.yaml").write_text(SCENARIO)
    scenario = load_scenario(tmp_path / "scenario.yaml")
    assert scenario.services.aws_enforce and scenario.services.aws_bucket_policy == tmp_path / "policy.json"
    values = {"aws.account": ACCOUNT, "device.1.thing": "cam-1", "aws.bucket": "art"}
    document = json.loads(render_policy_file(scenario.services.aws_bucket_policy, values))
    assert document["Statement"][0]["Principal"]["AWS"] == DEVICE.arn
    assert document["Statement"][0]["Resource"] == "arn:aws:s3:::art/*"
