"""An enforcing AWS endpoint over real HTTP with boto3: each rule, allowed and refused.

Clients with a skewed clock are real botocore clients whose signer reads a shifted time
(``botocore.auth.get_current_datetime``), exactly what a machine with a wrong clock sends.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import botocore.auth
import pytest

from harness.services.aws import DEVICE_ROLE, AwsEndpoint
from harness.services.aws_server import CONTROL_TOKEN_HEADER
from tests.integration.aws_errors import code_and_status, error_of

pytestmark = pytest.mark.integration

ACCOUNT = "123456789012"


@pytest.fixture(scope="module")
def aws() -> Iterator[AwsEndpoint]:
    with AwsEndpoint(enforce=True) as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def bucket(aws: AwsEndpoint) -> str:
    name = f"enforce-{uuid.uuid4().hex[:8]}"
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=name)
    for key in ("a/x.txt", "a/secret.txt", "b/x.txt", "public/readme.txt"):
        s3.put_object(Bucket=name, Key=key, Body=key.encode())
    return name


def _user(aws: AwsEndpoint, policy: dict[str, Any] | None = None) -> tuple[str, dict[str, str]]:
    """An IAM user (with ``policy`` inline) and client options that sign as it."""
    iam = aws.client("iam")
    name = f"user-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=name)
    if policy is not None:
        iam.put_user_policy(UserName=name, PolicyName="inline", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return f"arn:aws:iam::{ACCOUNT}:user/{name}", {
        "aws_access_key_id": key["AccessKeyId"],
        "aws_secret_access_key": key["SecretAccessKey"],
    }


def _device(aws: AwsEndpoint, thing: str) -> dict[str, str]:
    env = aws.device_credentials(thing)
    aws.client("iot").create_thing(thingName=thing)
    return {
        "aws_access_key_id": env["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": env["AWS_SECRET_ACCESS_KEY"],
        "aws_session_token": env["AWS_SESSION_TOKEN"],
    }


@pytest.fixture
def clock_off(monkeypatch: pytest.MonkeyPatch) -> Any:
    """``clock_off(minutes)``: this process's SigV4 signers run that many minutes behind (botocore's
    own, and the CRT signer botocore uses for S3 when awscrt is installed)."""

    def shift(minutes: float) -> None:
        real = dt.datetime.now(dt.UTC)

        def behind(remove_tzinfo: bool = True) -> dt.datetime:
            moment = real - dt.timedelta(minutes=minutes)
            return moment.replace(tzinfo=None) if remove_tzinfo else moment

        monkeypatch.setattr(botocore.auth, "get_current_datetime", behind)
        if _has_crt():
            from botocore.crt import auth as crt_auth

            monkeypatch.setattr(crt_auth, "get_current_datetime", behind)

    return shift


def _has_crt() -> bool:
    from botocore.compat import HAS_CRT

    return bool(HAS_CRT)


# -- signatures -------------------------------------------------------------------------------------

CALLS = {
    "s3": lambda c: c.list_buckets(),
    "iot": lambda c: c.list_things(),
    "greengrassv2": lambda c: c.list_components(),
    "iot-jobs-data": lambda c: c.get_pending_job_executions(thingName="nobody"),
    "sts": lambda c: c.get_caller_identity(),
    "iam": lambda c: c.list_users(),
}
BAD_SIGNATURE = {
    "s3": "SignatureDoesNotMatch",
    "iot": "InvalidSignatureException",
    "greengrassv2": "InvalidSignatureException",
    "iot-jobs-data": "InvalidSignatureException",
    "sts": "SignatureDoesNotMatch",
    "iam": "SignatureDoesNotMatch",
}
UNKNOWN_KEY = {
    "s3": "InvalidAccessKeyId",
    "iot": "UnrecognizedClientException",
    "greengrassv2": "UnrecognizedClientException",
    "iot-jobs-data": "UnrecognizedClientException",
    "sts": "InvalidClientTokenId",
    "iam": "InvalidClientTokenId",
}


@pytest.mark.parametrize("service", ["s3", "iot", "greengrassv2", "sts", "iam"])
def test_the_harness_key_is_accepted_and_the_dummy_one_is_not(aws: AwsEndpoint, service: str) -> None:
    assert aws.access_key_id != "testing"
    assert CALLS[service](aws.client(service))["ResponseMetadata"]["HTTPStatusCode"] == 200
    dummy = aws.client(service, aws_access_key_id="testing", aws_secret_access_key="testing")
    assert code_and_status(error_of(lambda: CALLS[service](dummy))) == (UNKNOWN_KEY[service], 403)


@pytest.mark.parametrize("service", sorted(CALLS))
def test_a_wrong_secret_is_a_signature_mismatch_in_the_service_protocol(
    aws: AwsEndpoint, service: str
) -> None:
    client = aws.client(service, aws_secret_access_key="not-the-secret")
    err = error_of(lambda: CALLS[service](client))
    assert code_and_status(err) == (BAD_SIGNATURE[service], 403)
    assert "does not match the signature you provided" in err.response["Error"]["Message"]


def test_a_changed_request_does_not_match_its_signature(aws: AwsEndpoint, bucket: str) -> None:
    """A signature covers the request: a body other than the signed one is refused."""
    s3 = aws.client("s3")

    def tamper(request: Any, **_: Any) -> None:
        request.body = b"something else"

    s3.meta.events.register("before-send.s3.PutObject", tamper)
    err = error_of(lambda: s3.put_object(Bucket=bucket, Key="a/tampered.txt", Body=b"signed body"))
    assert code_and_status(err)[0] in ("XAmzContentSHA256Mismatch", "SignatureDoesNotMatch")
    assert error_of(lambda: aws.client("s3").head_object(Bucket=bucket, Key="a/tampered.txt"))


def test_clock_skew_up_to_15_minutes_is_accepted(aws: AwsEndpoint, clock_off: Any) -> None:
    clock_off(10)
    assert aws.client("s3").list_buckets()["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert aws.client("iot").list_things()["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_a_request_signed_more_than_15_minutes_ago_has_expired(aws: AwsEndpoint, clock_off: Any) -> None:
    clock_off(20)
    err = error_of(lambda: aws.client("s3").list_buckets())
    assert code_and_status(err) == ("RequestTimeTooSkewed", 403)
    err = error_of(lambda: aws.client("iot").list_things())
    assert code_and_status(err) == ("InvalidSignatureException", 403)
    assert err.response["Error"]["Message"].startswith("Signature expired: ")
    err = error_of(lambda: aws.client("sts").get_caller_identity())
    assert code_and_status(err) == ("SignatureDoesNotMatch", 403)


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def test_presigned_urls_are_verified_and_expire(aws: AwsEndpoint, bucket: str, clock_off: Any) -> None:
    s3 = aws.client("s3")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "a/x.txt"}, ExpiresIn=600)
    assert _get(url) == (200, b"a/x.txt")
    assert _get(url.replace("a/x.txt", "a/secret.txt"))[0] == 403  # another object, same signature
    forged = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "a/x.txt"})
    status, body = _get(forged.replace("X-Amz-Signature=", "X-Amz-Signature=0"))
    assert status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in body
    clock_off(60)  # signed an hour ago, valid for ten minutes
    expired = aws.client("s3").generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "a/x.txt"}, ExpiresIn=600
    )
    status, body = _get(expired)
    assert status == 403 and b"<Code>AccessDenied</Code>" in body and b"Request has expired" in body


def test_a_session_token_must_come_with_its_credentials(aws: AwsEndpoint) -> None:
    device = _device(aws, f"token-{uuid.uuid4().hex[:6]}")
    assert f":assumed-role/{DEVICE_ROLE}/token-" in aws.client("sts", **device).get_caller_identity()["Arn"]
    wrong = {**device, "aws_session_token": "not-the-token"}
    assert code_and_status(error_of(lambda: aws.client("s3", **wrong).list_buckets())) == (
        "InvalidToken",
        400,
    )
    assert code_and_status(error_of(lambda: aws.client("iot", **wrong).list_things()))[0] == (
        "UnrecognizedClientException"
    )
    without = {k: v for k, v in device.items() if k != "aws_session_token"}
    assert code_and_status(error_of(lambda: aws.client("s3", **without).list_buckets()))[1] == 400


# -- S3 policies ------------------------------------------------------------------------------------


def test_identity_policy_allows_only_what_it_names(aws: AwsEndpoint, bucket: str) -> None:
    _, signing = _user(
        aws,
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "s3:Get*", "Resource": f"arn:aws:s3:::{bucket}/a/*"},
            ],
        },
    )
    s3 = aws.client("s3", **signing)
    assert s3.get_object(Bucket=bucket, Key="a/x.txt")["Body"].read() == b"a/x.txt"
    err = error_of(lambda: s3.get_object(Bucket=bucket, Key="b/x.txt"))
    assert code_and_status(err) == ("AccessDenied", 403)
    assert "s3:GetObject" in err.response["Error"]["Message"]
    assert code_and_status(error_of(lambda: s3.put_object(Bucket=bucket, Key="a/new.txt", Body=b"x"))) == (
        "AccessDenied",
        403,
    )
    assert code_and_status(error_of(lambda: s3.list_objects_v2(Bucket=bucket)))[0] == "AccessDenied"


def test_bucket_policy_allows_a_principal_and_an_explicit_deny_wins(aws: AwsEndpoint) -> None:
    s3 = aws.client("s3")
    name = f"policy-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    for key in ("a/x.txt", "a/secret.txt", "public/readme.txt"):
        s3.put_object(Bucket=name, Key=key, Body=key.encode())
    reader_arn, reader = _user(aws)  # no identity policy at all
    writer_arn, writer = _user(
        aws,
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]},
    )
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReaderGetsA",
                "Effect": "Allow",
                "Principal": {"AWS": reader_arn},
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{name}/a/*",
            },
            {
                "Sid": "NobodyGetsSecrets",
                "Effect": "Deny",
                "Principal": {"AWS": [reader_arn, writer_arn]},
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{name}/*secret*",
            },
            {
                "Sid": "AnyoneReadsPublic",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{name}/public/*",
            },
        ],
    }
    s3.put_bucket_policy(Bucket=name, Policy=json.dumps(policy))
    assert aws.client("s3", **reader).get_object(Bucket=name, Key="a/x.txt")["Body"].read() == b"a/x.txt"
    for who in (reader, writer):
        err = error_of(lambda who=who: aws.client("s3", **who).get_object(Bucket=name, Key="a/secret.txt"))
        assert code_and_status(err) == ("AccessDenied", 403)
        assert "denies it explicitly" in err.response["Error"]["Message"]
    assert aws.client("s3", **writer).get_object(Bucket=name, Key="a/x.txt")["Body"].read() == b"a/x.txt"
    # anonymous (unsigned) reads: only where the policy names "*"
    assert _get(f"{aws.url}/{name}/public/readme.txt") == (200, b"public/readme.txt")
    status, body = _get(f"{aws.url}/{name}/a/x.txt")
    assert status == 403 and b"<Code>AccessDenied</Code>" in body
    # the owner (root) still reads what no Deny names, and may always manage the policy
    assert s3.get_object(Bucket=name, Key="a/x.txt")["Body"].read() == b"a/x.txt"
    assert json.loads(s3.get_bucket_policy(Bucket=name)["Policy"])["Statement"][0]["Sid"] == "ReaderGetsA"


def _statement(**fields: Any) -> dict[str, Any]:
    """A one-statement bucket policy: the seed's GetObject grant with ``fields`` changed."""
    statement = {
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::{bucket}/*",
    }
    statement.update(fields)
    return {"Version": "2012-10-17", "Statement": [{k: v for k, v in statement.items() if v is not None}]}


MALFORMED = [
    pytest.param("not json", "Policies must be valid JSON", id="not-json"),
    pytest.param(_statement(Effect="允许访问"), "Invalid effect: 允许访问", id="seed-translated-effect"),
    pytest.param(
        _statement(Principal={"AWS": "arn:aws:iam::您的ACCOUNT_ID:user/用户名称"}),
        "Invalid principal in policy",
        id="seed-placeholder-principal",
    ),
    pytest.param(
        _statement(Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:user/nobody-here"}),
        "Invalid principal in policy",
        id="principal-that-does-not-exist",
    ),
    pytest.param(_statement(Action="s3:GetObjects"), "Policy has invalid action", id="misspelt-action"),
    pytest.param(
        _statement(Resource="arn:aws:s3:::another-bucket/*"),
        "Policy has invalid resource",
        id="resource-of-another-bucket",
    ),
    pytest.param(_statement(Principal=None), "Missing required field Principal", id="no-principal"),
]


@pytest.mark.parametrize(("policy", "message"), MALFORMED)
def test_malformed_bucket_policies_are_refused_at_put(
    aws: AwsEndpoint, bucket: str, policy: Any, message: str
) -> None:
    text = (
        policy
        if isinstance(policy, str)
        else json.dumps(policy, ensure_ascii=False).replace("{bucket}", bucket)
    )
    s3 = aws.client("s3")
    err = error_of(lambda: s3.put_bucket_policy(Bucket=bucket, Policy=text))
    assert code_and_status(err) == ("MalformedPolicy", 400)
    assert message in err.response["Error"]["Message"]
    assert code_and_status(error_of(lambda: s3.get_bucket_policy(Bucket=bucket)))[0] == "NoSuchBucketPolicy"


# -- devices: their own thing only ------------------------------------------------------------------


def test_device_credentials_reach_only_their_own_thing(aws: AwsEndpoint) -> None:
    suffix = uuid.uuid4().hex[:6]
    mine, theirs = f"cam-a-{suffix}", f"cam-b-{suffix}"
    me = _device(aws, mine)
    _device(aws, theirs)
    identity = aws.client("sts", **me).get_caller_identity()
    assert identity["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{DEVICE_ROLE}/{mine}"
    jobs = aws.client("iot-jobs-data", **me)
    assert jobs.get_pending_job_executions(thingName=mine)["queuedJobs"] == []
    for call in (
        lambda: jobs.get_pending_job_executions(thingName=theirs),
        lambda: jobs.describe_job_execution(thingName=theirs, jobId="$next"),
        lambda: jobs.start_next_pending_job_execution(thingName=theirs),
        lambda: jobs.update_job_execution(thingName=theirs, jobId="some-job", status="FAILED"),
    ):
        err = error_of(call)
        assert code_and_status(err) == ("AccessDeniedException", 403)
        assert f"thing/{theirs}" in err.response["Error"]["Message"]
    data = aws.client("iot-data", **me)
    health = json.dumps({"thing": mine, "overallDeviceStatus": "HEALTHY", "messageType": "COMPLETE",
                         "sequenceNumber": 1, "timestamp": 1, "components": []}).encode()  # fmt: skip
    own = data.publish(topic=f"$aws/things/{mine}/greengrassv2/health/json", qos=1, payload=health)
    assert own["ResponseMetadata"]["HTTPStatusCode"] == 200
    err = error_of(
        lambda: data.publish(topic=f"$aws/things/{theirs}/greengrassv2/health/json", qos=1, payload=health)
    )
    assert code_and_status(err) == ("ForbiddenException", 403)
    gg = aws.client("greengrassv2")
    assert gg.get_core_device(coreDeviceThingName=mine)["status"] == "HEALTHY"
    assert code_and_status(error_of(lambda: gg.get_core_device(coreDeviceThingName=theirs)))[1] == 404
    # the harness (root) reads any thing's jobs, as an administrator does
    assert aws.client("iot-jobs-data").get_pending_job_executions(thingName=theirs)["queuedJobs"] == []


def test_device_role_reads_artifacts_only_once_granted(aws: AwsEndpoint) -> None:
    s3 = aws.client("s3")
    name = f"artifacts-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="c/1.0.0/package.zip", Body=b"zip")
    device = aws.client("s3", **_device(aws, f"cam-c-{uuid.uuid4().hex[:6]}"))
    assert "LocationConstraint" in device.get_bucket_location(Bucket=name)  # the installer's policy
    assert (
        code_and_status(error_of(lambda: device.head_object(Bucket=name, Key="c/1.0.0/package.zip")))[1]
        == 403
    )
    aws.allow_device_artifacts(name)
    assert device.get_object(Bucket=name, Key="c/1.0.0/package.zip")["Body"].read() == b"zip"
    assert code_and_status(error_of(lambda: device.put_object(Bucket=name, Key="x", Body=b"x")))[1] == 403


# -- control routes ---------------------------------------------------------------------------------


def _control(aws: AwsEndpoint, method: str, path: str, token: str | None) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers[CONTROL_TOKEN_HEADER] = token
    body = json.dumps({"service": "s3", "status": 503, "seconds": 30}).encode() if method == "POST" else None
    request = urllib.request.Request(aws.url + path, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def test_control_routes_need_the_harness_token(aws: AwsEndpoint, bucket: str) -> None:
    assert aws.control_token
    for token in (None, "guessed"):
        status, body = _control(aws, "POST", "/_edge_harness/faults", token)
        assert status == 403 and CONTROL_TOKEN_HEADER in body["message"]
        assert _control(aws, "POST", "/moto-api/reset", token)[0] == 403
    assert aws.client("s3").head_object(Bucket=bucket, Key="a/x.txt")  # no outage, nothing reset
    assert _control(aws, "GET", "/_edge_harness/health", None)[0] == 200  # readiness stays open
    started = aws.outage("s3", 30)
    assert started["service"] == "s3"
    assert code_and_status(error_of(lambda: aws.client("s3").list_buckets()))[1] == 503
    assert aws.clear_outages() == ["s3"]
    assert _control(aws, "GET", "/_edge_harness/faults", aws.control_token)[0] == 200


def test_greengrass_artifact_urls_are_signed_by_a_key_the_endpoint_knows(
    aws: AwsEndpoint, bucket: str
) -> None:
    """GetComponentVersionArtifact's presigned URL is signed by the service itself, so it verifies."""
    name = f"com.example.Enforced{uuid.uuid4().hex[:6]}"
    recipe = {
        "RecipeFormatVersion": "2020-01-25",
        "ComponentName": name,
        "ComponentVersion": "1.0.0",
        "Manifests": [{"Platform": {"os": "linux"}, "Artifacts": [{"Uri": f"s3://{bucket}/a/x.txt"}]}],
    }
    gg = aws.client("greengrassv2")
    arn = gg.create_component_version(inlineRecipe=json.dumps(recipe).encode())["arn"]
    url = gg.get_component_version_artifact(arn=arn, artifactName=f"{bucket}/a/x.txt")["preSignedUrl"]
    assert _get(url) == (200, b"a/x.txt")


def test_a_core_device_deploys_with_its_own_credentials(aws: AwsEndpoint, tmp_path: Any) -> None:
    """The whole device path on an enforcing endpoint: jobs for its thing, its artifact read with
    its role (granted on the test's bucket), fleet status on its own topic."""
    import zipfile

    from harness import testing

    name = f"com.example.Signed{uuid.uuid4().hex[:6]}"
    archive = tmp_path / "payload.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("hello.txt", "signed download\n")
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        "RecipeFormatVersion: '2020-01-25'\n"
        f"ComponentName: {name}\n"
        "ComponentVersion: 1.0.0\n"
        "Manifests:\n"
        "  - Platform: {os: linux}\n"
        "    Lifecycle:\n"
        "      Run: cat {artifacts:decompressedPath}/payload/hello.txt\n"
        "    Artifacts:\n"
        "      - Uri: s3://placeholder/payload.zip\n"
        "        Unarchive: ZIP\n"
        "        Permission: {Read: ALL}\n"
    )
    with testing.core_devices(aws, 1) as (device,):
        device.fleet.publish(recipe, archive)
        deployment = device.wait_deployment(device.deploy({name: "1.0.0"}))
        assert deployment["coreDeviceExecutionStatus"] == "SUCCEEDED", deployment
        assert "signed download" in device.logs(name)
        core = aws.client("greengrassv2").get_core_device(coreDeviceThingName=device.thing)
        assert core["status"] == "HEALTHY"
