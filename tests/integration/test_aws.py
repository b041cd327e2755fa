"""The AWS endpoint service: moto in server mode behind the harness's dispatcher, over real HTTP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from werkzeug.test import Client

from harness.services.aws import AwsEndpoint
from harness.services.aws_server import (
    HEALTH_PATH,
    EndpointDispatcher,
    json_response,
    signed_for,
    sigv4_scope,
)

pytestmark = pytest.mark.integration


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_endpoints_and_environment(aws_endpoint: AwsEndpoint) -> None:
    assert aws_endpoint.url.startswith("http://127.0.0.1:")
    assert aws_endpoint.endpoints == {"url": aws_endpoint.url}
    env = aws_endpoint.environment()
    assert env["AWS_ENDPOINT_URL"] == aws_endpoint.url
    assert env["AWS_ACCESS_KEY_ID"] == env["AWS_SECRET_ACCESS_KEY"] == "testing"
    assert env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["AWS_EC2_METADATA_DISABLED"] == "true"


def test_client_ignores_the_callers_aws_profile(
    aws_endpoint: AwsEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile-here")
    assert aws_endpoint.client("s3").list_buckets()["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_s3_put_get_and_presigned_url(aws_endpoint: AwsEndpoint) -> None:
    s3 = aws_endpoint.client("s3")
    bucket = _name("artifacts")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="traffic/1.0.0/app.zip", Body=b"zip bytes")
    assert s3.get_object(Bucket=bucket, Key="traffic/1.0.0/app.zip")["Body"].read() == b"zip bytes"

    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "traffic/1.0.0/app.zip"}, ExpiresIn=60
    )
    assert url.startswith(aws_endpoint.url) and "X-Amz-Credential=" in url  # SigV4, as AWS signs today
    with urllib.request.urlopen(url, timeout=10) as resp:
        assert resp.read() == b"zip bytes"


def test_iot_things_and_thing_groups(aws_endpoint: AwsEndpoint) -> None:
    iot = aws_endpoint.client("iot")
    thing, group = _name("jetson"), _name("fleet")
    iot.create_thing(thingName=thing)
    iot.create_thing_group(thingGroupName=group)
    iot.add_thing_to_thing_group(thingGroupName=group, thingName=thing)
    assert iot.list_things_in_thing_group(thingGroupName=group)["things"] == [thing]
    groups = iot.list_thing_groups_for_thing(thingName=thing)["thingGroups"]
    assert [g["groupName"] for g in groups] == [group]


def test_iot_data_publish_and_shadow(aws_endpoint: AwsEndpoint) -> None:
    aws_endpoint.client("iot").create_thing(thingName=(thing := _name("core")))
    data = aws_endpoint.client("iot-data")
    published = data.publish(topic=f"fleet/{thing}/status", qos=1, payload=b'{"status": "HEALTHY"}')
    assert published["ResponseMetadata"]["HTTPStatusCode"] == 200

    reported = {"state": {"reported": {"version": "1.0.0"}}}
    data.update_thing_shadow(thingName=thing, payload=json.dumps(reported).encode())
    shadow = json.loads(data.get_thing_shadow(thingName=thing)["payload"].read())
    assert shadow["state"]["reported"] == {"version": "1.0.0"}


def test_services_moto_lacks_are_served_by_default(aws_endpoint: AwsEndpoint) -> None:
    # harness.cloud (docs/cloud.md) is loaded by default: plain boto3 gets real answers
    assert aws_endpoint.client("greengrassv2").list_components()["ResponseMetadata"]["HTTPStatusCode"] == 200
    with pytest.raises(ClientError) as info:
        aws_endpoint.client("iot-jobs-data").get_pending_job_executions(thingName="no-such-thing")
    assert info.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_a_bare_endpoint_gives_services_moto_lacks_a_clear_error() -> None:
    with AwsEndpoint(extensions=[]) as bare:
        # only the dispatcher's own routes: health and the fault switch (S3 outages)
        assert bare.health()["extensions"] == ["edge-harness-health", "edge-harness-faults"]  # type: ignore[index]
        jobs = bare.client("iot-jobs-data")
        with pytest.raises(ClientError) as info:
            jobs.get_pending_job_executions(thingName="anything")
        assert info.value.response["Error"]["Code"] == "NotImplemented"
        assert "IoT Jobs data plane" in str(info.value)

        greengrass = bare.client("greengrassv2")
        with pytest.raises(ClientError) as info:
            greengrass.list_components()
        assert info.value.response["Error"]["Code"] == "NotImplemented"
        assert "Greengrass V2" in str(info.value)


def test_an_unknown_signing_name_gets_a_clear_error_not_a_hang(aws_endpoint: AwsEndpoint) -> None:
    request = urllib.request.Request(
        aws_endpoint.url + "/some/path",
        headers={
            "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/made-up-service/"
            "aws4_request, SignedHeaders=host, Signature=00"
        },
    )
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=10)
    assert info.value.code == 501
    body = json.loads(info.value.read())
    assert "made-up-service" in body["message"] and "/some/path" in body["message"]


def test_an_unknown_unsigned_path_is_answered_by_moto_s3(aws_endpoint: AwsEndpoint) -> None:
    # Unsigned requests default to S3 in moto (as a bare host would in AWS): a quick 404.
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(aws_endpoint.url + "/no-such-bucket-here/key", timeout=10)
    assert info.value.code == 404
    assert b"NoSuchBucket" in info.value.read()


def test_health_route(aws_endpoint: AwsEndpoint) -> None:
    with urllib.request.urlopen(aws_endpoint.url + HEALTH_PATH, timeout=5) as resp:
        health = json.loads(resp.read())
    assert health["status"] == "ok"
    assert health["extensions"] == [
        "edge-harness-health",
        "edge-harness-faults",
        "greengrassv2",
        "iot-jobs-data",
        "greengrass-fleet-status",
    ]


def test_check_passes(aws_endpoint: AwsEndpoint) -> None:
    summary = aws_endpoint.check()
    assert "s3" in summary and "iot" in summary
    # it cleans up after itself
    assert not [
        b
        for b in aws_endpoint.client("s3").list_buckets()["Buckets"]
        if b["Name"].startswith("edge-harness-check")
    ]
    assert not [
        t
        for t in aws_endpoint.client("iot").list_things()["things"]
        if t["thingName"].startswith("edge-harness-check")
    ]


def test_environment_reaches_child_processes(aws_endpoint: AwsEndpoint, tmp_path: Path) -> None:
    bucket = _name("from-child")
    script = textwrap.dedent(
        f"""
        import boto3
        s3 = boto3.client("s3")  # endpoint, credentials and region from the environment only
        s3.create_bucket(Bucket="{bucket}")
        s3.put_object(Bucket="{bucket}", Key="hello", Body=b"from a child process")
        print(s3.meta.endpoint_url)
        """
    )
    # A clean environment (HOME without ~/.aws_endpoint) proves nothing else supplies the settings.
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), **aws_endpoint.environment()}
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == aws_endpoint.url
    assert (
        aws_endpoint.client("s3").get_object(Bucket=bucket, Key="hello")["Body"].read()
        == b"from a child process"
    )


# -- the dispatcher, in process ----------------------------------------------------------------


def _signed(service: str) -> dict[str, str]:
    return {
        "Authorization": f"AWS4-HMAC-SHA256 Credential=AKID/20260101/eu-west-1/{service}/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=abc"
    }


def _answer(name: str) -> Any:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        return json_response(start_response, 200, {"answered_by": name})

    return app


@pytest.fixture
def dispatcher() -> EndpointDispatcher:
    return EndpointDispatcher(fallback=_answer("moto"), instance_id="unit")


def _who(client: Client, path: str, headers: dict[str, str] | None = None) -> Any:
    response = client.get(path, headers=headers or {})
    return response.status_code, response.get_json()


def test_dispatcher_routes_extensions_before_moto(dispatcher: EndpointDispatcher) -> None:
    dispatcher.register_extension(
        "greengrassv2", signed_for("greengrass", path_prefix="/greengrass/v2/"), _answer("greengrassv2")
    )
    client = Client(dispatcher)
    assert _who(client, "/greengrass/v2/components", _signed("greengrass")) == (
        200,
        {"answered_by": "greengrassv2"},
    )
    # Greengrass V1 shares the signing name, not the path: still moto's
    assert _who(client, "/greengrass/groups", _signed("greengrass")) == (200, {"answered_by": "moto"})
    assert _who(client, "/things/t1/shadow", _signed("iotdata")) == (200, {"answered_by": "moto"})
    assert dispatcher.route({"PATH_INFO": "/anything"})[0] == "moto"


def test_dispatcher_answers_known_gaps_until_an_extension_claims_them(
    dispatcher: EndpointDispatcher,
) -> None:
    client = Client(dispatcher)
    status, body = _who(client, "/things/t1/jobs/$next", _signed("iot-jobs-data"))
    assert status == 501 and "IoT Jobs data plane" in body["message"]

    dispatcher.register_extension("jobs", signed_for("iot-jobs-data"), _answer("jobs"))
    assert _who(client, "/things/t1/jobs/$next", _signed("iot-jobs-data")) == (200, {"answered_by": "jobs"})


def test_dispatcher_health_and_registry_rules(dispatcher: EndpointDispatcher) -> None:
    status, body = _who(Client(dispatcher), HEALTH_PATH)
    assert status == 200 and body["instance"] == "unit" and body["status"] == "ok"
    with pytest.raises(ValueError, match="already registered"):
        dispatcher.register_extension("edge-harness-health", signed_for("s3"), _answer("x"))


def test_sigv4_scope_from_header_and_presigned_query() -> None:
    assert sigv4_scope({"HTTP_AUTHORIZATION": _signed("iot-jobs-data")["Authorization"]}) == (
        sigv4_scope(
            {"QUERY_STRING": "X-Amz-Credential=AKID%2F20260101%2Feu-west-1%2Fiot-jobs-data%2Faws4_request"}
        )
    )
    scope = sigv4_scope({"HTTP_AUTHORIZATION": _signed("s3")["Authorization"]})
    assert scope is not None and (scope.region, scope.service) == ("eu-west-1", "s3")
    assert sigv4_scope({"HTTP_AUTHORIZATION": "AWS AKID:signature"}) is None  # SigV2
    assert sigv4_scope({}) is None


# -- a second endpoint: extensions loaded by the server process, another region, SIGTERM ------


EXTENSION_MODULE = """
from harness.services.aws_server import json_response, signed_for


def register(dispatcher):
    def jobs(environ, start_response):
        return json_response(start_response, 200, {"execution": None, "path": environ["PATH_INFO"]})

    dispatcher.register_extension("test-jobs", signed_for("iot-jobs-data"), jobs)
"""


def test_server_loads_extensions_and_stops_cleanly_on_sigterm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "eh_test_extension.py").write_text(EXTENSION_MODULE)
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))
    )
    endpoint = AwsEndpoint(region="eu-west-1", extensions=["eh_test_extension:register"])
    with endpoint:
        jobs = endpoint.client("iot-jobs-data")
        answer = jobs.describe_job_execution(thingName="core-1", jobId="job-1")
        assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200
        assert endpoint.health() is not None
        assert endpoint.health()["extensions"] == [  # type: ignore[index]
            "edge-harness-health",
            "edge-harness-faults",
            "test-jobs",
        ]
        assert "ok" in endpoint.check()  # S3 outside us-east-1 needs a LocationConstraint

        process = endpoint.process
        assert process is not None
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
        assert endpoint.log_path is not None and "stopped" in endpoint.log_path.read_text()
