"""The model-driven rest-json layer of the cloud emulation: routing, parsing, validation, shaping.

Requests are produced by botocore's own serializer and responses read back by botocore's own
parser, so "works with boto3" is checked without a server; the WSGI side uses werkzeug's test
client.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.awsrequest import HeadersDict
from botocore.model import ServiceModel
from botocore.parsers import create_parser
from botocore.serialize import create_serializer
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.test import Client

from harness.cloud.app import RequestContext, ServiceApp, snake_case
from harness.cloud.pagination import paginate
from harness.cloud.protocol import (
    AwsServiceError,
    HttpRequest,
    HttpResponse,
    ServiceProtocol,
    _format_timestamp,
    _pattern_matches,
    raw_path_from_environ,
)

pytestmark = pytest.mark.unit

GG = ServiceProtocol("greengrassv2")
JOBS = ServiceProtocol("iot-jobs-data")
ARN = "arn:aws:greengrass:us-east-1:123456789012:components:com.example.App:versions:1.0.0"
SIGNED = {
    "Authorization": "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/eu-west-1/greengrass/aws4_request, "
    "SignedHeaders=host, Signature=00"
}


def botocore_request(protocol: ServiceProtocol, operation: str, params: dict[str, Any]) -> HttpRequest:
    """What boto3 would send for ``operation(**params)``."""
    model: ServiceModel = protocol.model
    serialized = create_serializer("rest-json").serialize_to_request(params, model.operation_model(operation))
    url = urlsplit(serialized["url_path"])
    query = "&".join(
        f"{k}={v}" if not isinstance(v, list) else "&".join(f"{k}={item}" for item in v)
        for k, v in serialized["query_string"].items()
    )
    body = serialized["body"]
    return HttpRequest(
        serialized["method"],
        url.path,
        query,
        {k: v for k, v in serialized["headers"].items()},
        body if isinstance(body, bytes) else body.encode(),
    )


def botocore_parse(protocol: ServiceProtocol, operation: str, response: HttpResponse) -> dict[str, Any]:
    """What boto3 would return for ``response`` (or raise as ClientError: ``Error`` is in it)."""
    model = protocol.model.operation_model(operation)
    parsed = create_parser("rest-json").parse(
        {"status_code": response.status, "headers": HeadersDict(response.headers), "body": response.body},
        model.output_shape,
    )
    parsed.pop("ResponseMetadata", None)
    return parsed


def validation_message(protocol: ServiceProtocol, request: HttpRequest) -> str:
    with pytest.raises(AwsServiceError) as info:
        protocol.parse(request)
    assert info.value.code == "ValidationException"
    return info.value.message


# -- routing -------------------------------------------------------------------------------------


def test_every_operation_is_routed_from_its_own_serialized_request() -> None:
    samples = {
        "GetComponent": {"arn": ARN},
        "DescribeComponent": {"arn": ARN},
        "ListComponentVersions": {"arn": ARN.rsplit(":versions", 1)[0]},
        "GetComponentVersionArtifact": {"arn": ARN, "artifactName": "//bucket/app/1.0.0/app.zip"},
        "DeleteComponent": {"arn": ARN},
        "GetDeployment": {"deploymentId": "d-1"},
        "CancelDeployment": {"deploymentId": "d-1"},
        "DeleteDeployment": {"deploymentId": "d-1"},
        "ListEffectiveDeployments": {"coreDeviceThingName": "core-1"},
        "ListInstalledComponents": {"coreDeviceThingName": "core-1"},
        "GetCoreDevice": {"coreDeviceThingName": "core-1"},
        "ListTagsForResource": {"resourceArn": ARN},
        "UntagResource": {"resourceArn": ARN, "tagKeys": ["a", "b"]},
    }
    for operation, params in samples.items():
        parsed = GG.parse(botocore_request(GG, operation, params))
        assert parsed.name == operation
        assert parsed.params == params


def test_labels_are_matched_encoded_so_slashes_in_a_label_survive() -> None:
    request = botocore_request(GG, "GetCoreDevice", {"coreDeviceThingName": "a/b:c"})
    assert "%2F" in request.raw_path  # botocore encodes it; a decoded path would have 2 segments
    assert GG.parse(request).params == {"coreDeviceThingName": "a/b:c"}
    greedy = GG.parse(
        botocore_request(GG, "GetComponentVersionArtifact", {"arn": ARN, "artifactName": "x/y z.zip"})
    )
    assert greedy.params["artifactName"] == "x/y z.zip"


def test_literal_next_beats_a_label_and_the_method_decides() -> None:
    start = JOBS.parse(botocore_request(JOBS, "StartNextPendingJobExecution", {"thingName": "core-1"}))
    assert start.name == "StartNextPendingJobExecution"
    describe = JOBS.parse(
        botocore_request(JOBS, "DescribeJobExecution", {"thingName": "core-1", "jobId": "$next"})
    )
    assert describe.name == "DescribeJobExecution" and describe.params["jobId"] == "$next"


def test_unknown_route_is_a_404_unknown_operation() -> None:
    with pytest.raises(AwsServiceError) as info:
        GG.parse(HttpRequest("GET", "/greengrass/v2/nothing-here", "", {}, b""))
    assert info.value.code == "UnknownOperationException" and info.value.status == 404
    with pytest.raises(AwsServiceError):
        GG.parse(HttpRequest("PATCH", "/greengrass/v2/components", "", {}, b""))


def test_raw_path_prefers_the_request_target_as_sent() -> None:
    environ = {"RAW_URI": "/things/a%2Fb/jobs?x=1", "PATH_INFO": "/things/a/b/jobs", "QUERY_STRING": "x=1"}
    assert raw_path_from_environ(environ) == ("/things/a%2Fb/jobs", "x=1")
    assert raw_path_from_environ({"PATH_INFO": "/tags/arn:aws:x", "QUERY_STRING": ""}) == (
        "/tags/arn:aws:x",
        "",
    )


# -- parsing -------------------------------------------------------------------------------------


def test_nested_body_members_blobs_and_query_types_round_trip() -> None:
    params = {
        "targetArn": "arn:aws:iot:us-east-1:123456789012:thinggroup/fleet",
        "deploymentName": "traffic",
        "components": {
            "com.example.App": {
                "componentVersion": "1.0.0",
                "configurationUpdate": {"merge": '{"fps": 30}', "reset": ["/old", ""]},
                "runWith": {"posixUser": "ggc_user", "systemResourceLimits": {"memory": 1024, "cpus": 1.5}},
            }
        },
        "deploymentPolicies": {
            "failureHandlingPolicy": "DO_NOTHING",
            "componentUpdatePolicy": {"timeoutInSeconds": 5},
        },
        "tags": {"team": "vision"},
        "clientToken": "token-1",
    }
    assert GG.parse(botocore_request(GG, "CreateDeployment", params)).params == params

    blob = GG.parse(botocore_request(GG, "CreateComponentVersion", {"inlineRecipe": b"\x00recipe\xff"}))
    assert blob.params["inlineRecipe"] == b"\x00recipe\xff"

    listed = GG.parse(botocore_request(GG, "ListCoreDevices", {"status": "HEALTHY", "maxResults": 7}))
    assert listed.params == {"status": "HEALTHY", "maxResults": 7}

    update = JOBS.parse(
        botocore_request(
            JOBS,
            "UpdateJobExecution",
            {
                "thingName": "core-1",
                "jobId": "j-1",
                "status": "IN_PROGRESS",
                "expectedVersion": 3,
                "includeJobDocument": True,
            },
        )
    )
    assert update.params["expectedVersion"] == 3 and update.params["includeJobDocument"] is True


@settings(max_examples=60, deadline=None)
@given(
    # ``.`` in the ARN pattern does not match line breaks (Java, like Python): no controls here
    name=st.text(
        alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1, max_size=40
    ),
    tags=st.dictionaries(st.text(min_size=1, max_size=20), st.text(max_size=30), min_size=1, max_size=5),
)
def test_any_label_and_tag_text_round_trips_through_botocore(name: str, tags: dict[str, str]) -> None:
    arn = f"arn:aws:greengrass:us-east-1:123456789012:coreDevices:{name}"
    parsed = GG.parse(botocore_request(GG, "TagResource", {"resourceArn": arn, "tags": tags}))
    assert parsed.params == {"resourceArn": arn, "tags": tags}


# -- validation ----------------------------------------------------------------------------------


def test_required_members_are_reported_as_aws_does() -> None:
    request = HttpRequest("POST", "/greengrass/v2/deployments", "", {}, b"{}")
    message = validation_message(GG, request)
    assert message == (
        "1 validation error detected: Value null at 'targetArn' failed to satisfy constraint: "
        "Member must not be null"
    )
    nested = {"targetArn": "arn:aws:iot:us-east-1:123456789012:thing/t", "components": {"c": {}}}
    message = validation_message(
        GG, HttpRequest("POST", "/greengrass/v2/deployments", "", {}, json.dumps(nested).encode())
    )
    assert "at 'components.c.componentVersion'" in message and "Member must not be null" in message


def test_enums_patterns_lengths_and_ranges_all_reported_at_once() -> None:
    body = {
        "targetArn": "arn:aws:iot:us-east-1:123456789012:group/x",  # pattern
        "deploymentName": "",  # min length 1
        "deploymentPolicies": {"failureHandlingPolicy": "RETRY"},  # enum
        "tags": {"k" * 129: "v"},  # key max length 128
    }
    message = validation_message(
        GG, HttpRequest("POST", "/greengrass/v2/deployments", "", {}, json.dumps(body).encode())
    )
    assert message.startswith("4 validation errors detected: ")
    assert "Member must satisfy regular expression pattern: arn:[^:]*:iot:" in message
    assert (
        "at 'deploymentName' failed to satisfy constraint: Member must have length greater than or equal to 1"
        in message
    )
    assert "Member must satisfy enum value set: [ROLLBACK, DO_NOTHING]" in message
    assert "Member must have length less than or equal to 128" in message

    for value in ("0", "101"):
        message = validation_message(
            GG, HttpRequest("GET", "/greengrass/v2/components", f"maxResults={value}", {}, b"")
        )
        assert "at 'maxResults'" in message
    assert "Member must satisfy enum value set: [PRIVATE, PUBLIC]" in validation_message(
        GG, HttpRequest("GET", "/greengrass/v2/components", "scope=SHARED", {}, b"")
    )


def test_types_are_checked_in_bodies_and_query_strings() -> None:
    body = {"targetArn": 7, "deploymentPolicies": {"componentUpdatePolicy": {"timeoutInSeconds": "60"}}}
    message = validation_message(
        GG, HttpRequest("POST", "/greengrass/v2/deployments", "", {}, json.dumps(body).encode())
    )
    assert "Value 7 at 'targetArn' failed to satisfy constraint: Member must be a string" in message
    assert "Member must be an integer" in message
    assert "Member must be a number" in validation_message(
        GG, HttpRequest("GET", "/greengrass/v2/components", "maxResults=lots", {}, b"")
    )
    assert "Member must be a boolean" in validation_message(
        JOBS, HttpRequest("GET", "/things/t/jobs/j", "includeJobDocument=maybe", {}, b"")
    )
    assert "Member must be base64-encoded" in validation_message(
        GG,
        HttpRequest(
            "POST", "/greengrass/v2/createComponentVersion", "", {}, b'{"inlineRecipe": "not base64!"}'
        ),
    )


def test_a_body_that_is_not_json_is_a_serialization_error() -> None:
    with pytest.raises(AwsServiceError) as info:
        GG.parse(HttpRequest("POST", "/greengrass/v2/deployments", "", {}, b"{not json"))
    assert info.value.code == "SerializationException" and info.value.status == 400


def test_java_patterns_are_applied_to_the_whole_value() -> None:
    assert _pattern_matches("[a-zA-Z0-9_-]+", "job-1")
    assert not _pattern_matches("[a-zA-Z0-9_-]+", "job 1")  # Java matches(): whole value
    assert _pattern_matches("[^\\p{C}]+", "SUCCESSFUL: ok")
    assert not _pattern_matches("[^\\p{C}]+", "bad\x07bell")
    message = validation_message(
        JOBS,
        HttpRequest(
            "POST",
            "/things/t/jobs/j",
            "",
            {},
            json.dumps({"status": "FAILED", "statusDetails": {"k": "a\x00"}}).encode(),
        ),
    )
    assert "at 'statusDetails.k'" in message


# -- responses -----------------------------------------------------------------------------------


def test_responses_have_the_models_field_names_timestamps_and_status() -> None:
    created = dt.datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=dt.UTC)
    operation = GG.model.operation_model("CreateComponentVersion")
    response = GG.response(
        operation,
        {
            "arn": ARN,
            "componentName": "com.example.App",
            "componentVersion": "1.0.0",
            "creationTimestamp": created.timestamp(),
            "status": {"componentState": "DEPLOYABLE", "errors": {}},
        },
    )
    assert response.status == 201  # the model's responseCode
    assert json.loads(response.body)["creationTimestamp"] == pytest.approx(created.timestamp())
    parsed = botocore_parse(GG, "CreateComponentVersion", response)
    assert parsed["creationTimestamp"] == created
    assert parsed["status"] == {"componentState": "DEPLOYABLE", "errors": {}}

    blob = GG.response(
        GG.model.operation_model("GetComponent"), {"recipeOutputFormat": "JSON", "recipe": b"{}"}
    )
    assert json.loads(blob.body)["recipe"] == base64.b64encode(b"{}").decode()
    assert botocore_parse(GG, "GetComponent", blob)["recipe"] == b"{}"

    deleted = GG.response(GG.model.operation_model("DeleteComponent"), None)
    assert (deleted.status, deleted.body) == (204, b"")


def test_timestamp_formats() -> None:
    moment = dt.datetime(2026, 3, 4, 5, 6, 7, 890000, tzinfo=dt.UTC)
    assert _format_timestamp(moment, "unixTimestamp") == pytest.approx(moment.timestamp())
    assert _format_timestamp(moment.timestamp(), "iso8601") == "2026-03-04T05:06:07.890Z"
    assert _format_timestamp(moment, "rfc822") == "Wed, 04 Mar 2026 05:06:07 GMT"
    with pytest.raises(ValueError):
        _format_timestamp("yesterday", "unixTimestamp")


def test_a_misspelt_output_member_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="componentname"):
        GG.response(GG.model.operation_model("DescribeComponent"), {"componentname": "x"})
    with pytest.raises(ValueError, match="componentStat"):
        GG.response(GG.model.operation_model("DescribeComponent"), {"status": {"componentStat": "x"}})


def test_errors_carry_the_code_header_and_the_models_status() -> None:
    conflict = GG.error_response(
        AwsServiceError("ConflictException", "exists", resourceId="r", resourceType="t")
    )
    assert conflict.status == 409 and ("x-amzn-ErrorType", "ConflictException") in conflict.headers
    parsed = botocore_parse(GG, "CreateComponentVersion", conflict)
    assert parsed["Error"]["Code"] == "ConflictException" and parsed["Error"]["Message"] == "exists"
    assert GG.error_status("ResourceNotFoundException") == 404
    assert GG.error_status("ThrottlingException") == 429
    assert GG.error_status("AccessDeniedException") == 403
    assert GG.error_status("InternalServerException") == 500
    assert JOBS.error_status("InvalidStateTransitionException") == 409
    unmodeled = JOBS.error_response(AwsServiceError("VersionConflictException", "v", status=409))
    assert unmodeled.status == 409
    assert (
        botocore_parse(JOBS, "UpdateJobExecution", unmodeled)["Error"]["Code"] == "VersionConflictException"
    )


# -- pagination ----------------------------------------------------------------------------------


def test_pagination_walks_every_item_once_and_rejects_foreign_tokens() -> None:
    items = list(range(7))
    seen: list[int] = []
    token = None
    while True:
        page, token = paginate(items, next_token=token, max_results=3, query=("List", "a"))
        seen.extend(page)
        if token is None:
            break
    assert seen == items
    _, token = paginate(items, next_token=None, max_results=3, query=("List", "a"))
    assert token is not None
    for bad_query, bad_token in ((("List", "b"), token), (("List", "a"), "garbage")):
        with pytest.raises(AwsServiceError) as info:
            paginate(items, next_token=bad_token, max_results=3, query=bad_query)
        assert info.value.code == "ValidationException"
    assert paginate([], next_token=None, max_results=None, query="x") == ([], None)


# -- the WSGI app --------------------------------------------------------------------------------


class _FakeResponses:
    def __init__(self, context: RequestContext) -> None:
        self.context = context

    def get_core_device(self, params: dict[str, Any]) -> dict[str, Any]:
        if params["coreDeviceThingName"] == "boom":
            raise RuntimeError("bug")
        if params["coreDeviceThingName"] == "typo":
            return {"coreDeviceName": "x"}
        return {
            "coreDeviceThingName": params["coreDeviceThingName"],
            "status": "HEALTHY",
            "platform": self.context.region,
            "architecture": self.context.account_id,
            "lastStatusUpdateTimestamp": 1_700_000_000.5,
        }


@pytest.fixture
def client() -> Client:
    return Client(ServiceApp("greengrassv2", GG, _FakeResponses))


def test_the_app_answers_with_the_requests_region_and_account(client: Client) -> None:
    response = client.get("/greengrass/v2/coreDevices/core-1", headers=SIGNED)
    assert response.status_code == 200 and response.headers["x-amzn-RequestId"]
    body = response.get_json()
    assert body["platform"] == "eu-west-1" and body["architecture"] == "123456789012"
    assert body["lastStatusUpdateTimestamp"] == 1_700_000_000.5


def test_the_app_turns_failures_into_aws_errors(client: Client) -> None:
    missing = client.get("/greengrass/v2/components/" + ARN.replace(":", "%3A"), headers=SIGNED)
    assert missing.status_code == 501 and missing.headers["x-amzn-ErrorType"] == "NotImplemented"
    assert "GetComponent" in missing.get_json()["message"]
    for thing in ("boom", "typo"):
        failed = client.get(f"/greengrass/v2/coreDevices/{thing}", headers=SIGNED)
        assert failed.status_code == 500 and failed.headers["x-amzn-ErrorType"] == "InternalServerException"
    invalid = client.get(
        "/greengrass/v2/coreDevices/core-1/installedComponents?topologyFilter=SOME", headers=SIGNED
    )
    assert invalid.status_code == 400 and invalid.headers["x-amzn-ErrorType"] == "ValidationException"


def test_operation_names_map_to_snake_case_methods() -> None:
    assert snake_case("ResolveComponentCandidates") == "resolve_component_candidates"
    assert snake_case("GetComponentVersionArtifact") == "get_component_version_artifact"
    assert snake_case("ListTagsForResource") == "list_tags_for_resource"
    assert (
        snake_case("BatchAssociateClientDeviceWithCoreDevice")
        == "batch_associate_client_device_with_core_device"
    )
