"""The Greengrass V2 control plane on the AWS endpoint, through plain boto3 (``greengrassv2``)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import urllib.request
import uuid
from typing import Any

import boto3
import pytest
from aws_errors import code_and_status, error_of

from harness.lint.recipe import parse_recipe
from harness.services.aws import AwsEndpoint

pytestmark = pytest.mark.integration

ACCOUNT = "123456789012"


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def recipe(
    name: str, version: str = "1.0.0", *, artifacts: list[dict[str, Any]] | None = None, **extra: Any
) -> bytes:
    document: dict[str, Any] = {
        "RecipeFormatVersion": "2020-01-25",
        "ComponentName": name,
        "ComponentVersion": version,
        "ComponentDescription": f"{name} for tests",
        "ComponentPublisher": "edge-harness",
        "Manifests": [
            {
                "Platform": {"os": "linux"},
                "Lifecycle": {"Run": "python3 -u {artifacts:path}/app.py"},
                "Artifacts": artifacts or [],
            }
        ],
        **extra,
    }
    return json.dumps(document).encode()


@pytest.fixture(scope="module")
def gg(aws_endpoint: AwsEndpoint) -> Any:
    return aws_endpoint.client("greengrassv2")


@pytest.fixture(scope="module")
def s3(aws_endpoint: AwsEndpoint) -> Any:
    return aws_endpoint.client("s3")


@pytest.fixture(scope="module")
def iot(aws_endpoint: AwsEndpoint) -> Any:
    return aws_endpoint.client("iot")


@pytest.fixture(scope="module")
def bucket(s3: Any) -> str:
    name = _name("gg-artifacts")
    s3.create_bucket(Bucket=name)
    return name


def thing_group(iot: Any, *things: str) -> str:
    group = _name("fleet")
    arn = iot.create_thing_group(thingGroupName=group)["thingGroupArn"]
    for thing in things:
        iot.create_thing(thingName=thing)
        iot.add_thing_to_thing_group(thingGroupName=group, thingName=thing)
    return arn


# -- components ----------------------------------------------------------------------------------


def test_create_component_version_computes_artifact_digests_from_s3(gg: Any, s3: Any, bucket: str) -> None:
    name = _name("com.example.Digest")
    app, model = b"print('hello from the app')\n", bytes(range(256)) * 100
    s3.put_object(Bucket=bucket, Key=f"{name}/1.0.0/app.py", Body=app)
    s3.put_object(Bucket=bucket, Key=f"{name}/1.0.0/model.zip", Body=model)
    artifacts = [
        {"Uri": f"s3://{bucket}/{name}/1.0.0/app.py", "Digest": "c3VwcGxpZWQ=", "Algorithm": "MD5"},
        {"Uri": f"s3://{bucket}/{name}/1.0.0/model.zip", "Unarchive": "ZIP"},
    ]
    before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
    created = gg.create_component_version(
        inlineRecipe=recipe(name, artifacts=artifacts), tags={"team": "vision"}
    )

    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert created["arn"] == f"arn:aws:greengrass:us-east-1:{ACCOUNT}:components:{name}:versions:1.0.0"
    assert (created["componentName"], created["componentVersion"]) == (name, "1.0.0")
    assert created["status"]["componentState"] == "DEPLOYABLE"
    assert before < created["creationTimestamp"] < dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5)

    stored = json.loads(gg.get_component(arn=created["arn"])["recipe"])
    digests = [(a["Digest"], a["Algorithm"]) for a in stored["Manifests"][0]["Artifacts"]]
    assert digests == [
        (base64.b64encode(hashlib.sha256(app).digest()).decode(), "SHA-256"),  # supplied one overwritten
        (base64.b64encode(hashlib.sha256(model).digest()).decode(), "SHA-256"),
    ]


def test_get_component_returns_the_recipe_as_json_or_yaml_with_tags(gg: Any) -> None:
    name = _name("com.example.Formats")
    arn = gg.create_component_version(inlineRecipe=recipe(name), tags={"stage": "ci"})["arn"]
    as_json = gg.get_component(arn=arn)
    assert as_json["recipeOutputFormat"] == "JSON" and as_json["tags"] == {"stage": "ci"}
    as_yaml = gg.get_component(arn=arn, recipeOutputFormat="YAML")
    assert as_yaml["recipeOutputFormat"] == "YAML"
    assert b"RecipeFormatVersion: '2020-01-25'" in as_yaml["recipe"]
    assert parse_recipe(as_yaml["recipe"]) == parse_recipe(as_json["recipe"])
    assert parse_recipe(as_json["recipe"]).name == name


def test_describe_component(gg: Any) -> None:
    name = _name("com.example.Describe")
    document = json.loads(recipe(name))
    document["Manifests"].append(
        {"Name": "any-linux", "Platform": {"os": "linux", "architecture": "aarch64"}}
    )
    arn = gg.create_component_version(inlineRecipe=json.dumps(document).encode())["arn"]
    described = gg.describe_component(arn=arn)
    assert described["arn"] == arn and described["componentVersion"] == "1.0.0"
    assert described["publisher"] == "edge-harness" and described["description"] == f"{name} for tests"
    assert described["platforms"] == [
        {"attributes": {"os": "linux"}},
        {"name": "any-linux", "attributes": {"os": "linux", "architecture": "aarch64"}},
    ]
    assert described["status"]["componentState"] == "DEPLOYABLE"
    assert "tags" not in described


def test_an_existing_version_is_a_409_conflict(gg: Any) -> None:
    name = _name("com.example.Twice")
    arn = gg.create_component_version(inlineRecipe=recipe(name))["arn"]
    err = error_of(lambda: gg.create_component_version(inlineRecipe=recipe(name)))
    assert code_and_status(err) == ("ConflictException", 409)
    assert arn in err.response["Error"]["Message"]


def test_a_bad_recipe_is_a_validation_error_naming_each_pointer(gg: Any) -> None:
    document = json.loads(recipe(_name("com.example.Bad"), version="1.0.xx"))
    document["Manifests"][0]["Artifacts"] = [{"Uri": "s3://b/app.zip", "Unarchive": "RAR"}]
    err = error_of(lambda: gg.create_component_version(inlineRecipe=json.dumps(document).encode()))
    assert code_and_status(err) == ("ValidationException", 400)
    message = err.response["Error"]["Message"]
    assert "/ComponentVersion" in message and "1.0.xx" in message
    assert "/Manifests/0/Artifacts/0/Unarchive" in message and "RAR" in message

    err = error_of(lambda: gg.create_component_version(inlineRecipe=b"{not: [json"))
    assert code_and_status(err) == ("ValidationException", 400)
    err = error_of(lambda: gg.create_component_version())
    assert code_and_status(err) == ("ValidationException", 400) and "inlineRecipe" in str(err)


def test_missing_s3_artifacts_are_named(gg: Any, bucket: str) -> None:
    name = _name("com.example.Missing")
    artifacts = [{"Uri": f"s3://{bucket}/{name}/nope.zip"}, {"Uri": f"s3://{_name('no-bucket')}/app.py"}]
    err = error_of(lambda: gg.create_component_version(inlineRecipe=recipe(name, artifacts=artifacts)))
    assert code_and_status(err) == ("ValidationException", 400)
    message = err.response["Error"]["Message"]
    assert f"s3://{bucket}/{name}/nope.zip" in message and "does not exist" in message
    assert artifacts[1]["Uri"] in message
    # nothing half-created
    assert error_of(lambda: gg.describe_component(arn=_version_arn(name, "1.0.0"))).response["Error"][
        "Code"
    ] == ("ResourceNotFoundException")


def _version_arn(name: str, version: str) -> str:
    return f"arn:aws:greengrass:us-east-1:{ACCOUNT}:components:{name}:versions:{version}"


def test_list_components_and_versions_paginate_and_order_by_semver(gg: Any) -> None:
    prefix = _name("com.example.List")
    names = [f"{prefix}.{i}" for i in range(3)]
    for name in names:
        gg.create_component_version(inlineRecipe=recipe(name))
    for version in ("1.10.0", "1.2.0", "1.0.1"):
        gg.create_component_version(inlineRecipe=recipe(names[0], version))

    seen, token, pages = [], None, 0
    while True:
        page = gg.list_components(maxResults=2, **({"nextToken": token} if token else {}))
        pages += 1
        assert len(page["components"]) <= 2
        seen += [c for c in page["components"] if c["componentName"].startswith(prefix)]
        token = page.get("nextToken")
        if not token:
            break
    assert pages >= 2 and [c["componentName"] for c in seen] == names
    assert seen[0]["arn"] == f"arn:aws:greengrass:us-east-1:{ACCOUNT}:components:{names[0]}"
    assert seen[0]["latestVersion"]["componentVersion"] == "1.10.0"  # semver, not text or time order
    assert seen[0]["latestVersion"]["platforms"] == [{"attributes": {"os": "linux"}}]
    assert gg.list_components(scope="PUBLIC")["components"] == []

    component_arn = seen[0]["arn"]
    first = gg.list_component_versions(arn=component_arn, maxResults=3)
    rest = gg.list_component_versions(arn=component_arn, nextToken=first["nextToken"])
    versions = [v["componentVersion"] for v in first["componentVersions"] + rest["componentVersions"]]
    assert versions == ["1.10.0", "1.2.0", "1.0.1", "1.0.0"] and "nextToken" not in rest
    assert first["componentVersions"][0]["arn"] == _version_arn(names[0], "1.10.0")

    err = error_of(lambda: gg.list_components(nextToken="forged"))
    assert code_and_status(err) == ("ValidationException", 400)
    # a component without versions lists none (AWS; gdk's first `component publish` relies on it)
    assert gg.list_component_versions(arn=component_arn + "-none")["componentVersions"] == []
    public = "arn:aws:greengrass:us-east-1:aws:components:aws.greengrass.Cli"
    assert gg.list_component_versions(arn=public, maxResults=1)["componentVersions"] == []


def test_delete_component_version(gg: Any) -> None:
    name = _name("com.example.Delete")
    arn = gg.create_component_version(inlineRecipe=recipe(name))["arn"]
    assert gg.delete_component(arn=arn)["ResponseMetadata"]["HTTPStatusCode"] == 204
    for call in (lambda: gg.describe_component(arn=arn), lambda: gg.delete_component(arn=arn)):
        assert code_and_status(error_of(call)) == ("ResourceNotFoundException", 404)
    gg.create_component_version(inlineRecipe=recipe(name))  # the version can be created again


def test_resolve_component_candidates(gg: Any) -> None:
    name = _name("com.example.Resolve")
    for version in ("1.0.0", "1.5.0", "2.0.0"):
        gg.create_component_version(inlineRecipe=recipe(name, version))
    linux = {"attributes": {"os": "linux", "architecture": "aarch64"}}
    resolved = gg.resolve_component_candidates(
        platform=linux,
        componentCandidates=[
            {
                "componentName": name,
                "componentVersion": "1.0.0",
                "versionRequirements": {"thinggroup/a": "^1.0.0"},
            }
        ],
    )["resolvedComponentVersions"]
    assert [(r["componentName"], r["componentVersion"]) for r in resolved] == [(name, "1.5.0")]
    assert resolved[0]["arn"] == _version_arn(name, "1.5.0")
    assert parse_recipe(resolved[0]["recipe"]).version == "1.5.0"

    # the nucleus tells the two failures apart by these phrases (ComponentServiceHelper)
    err = error_of(
        lambda: gg.resolve_component_candidates(
            platform=linux,
            componentCandidates=[
                {"componentName": name, "versionRequirements": {"a": ">=3.0.0", "b": "<1.0.0"}}
            ],
        )
    )
    assert code_and_status(err) == ("ResourceNotFoundException", 404)
    assert "no usable version" in err.response["Error"]["Message"]
    err = error_of(
        lambda: gg.resolve_component_candidates(
            platform={"attributes": {"os": "windows"}},
            componentCandidates=[{"componentName": name, "versionRequirements": {"a": "*"}}],
        )
    )
    assert code_and_status(err) == ("ResourceNotFoundException", 404)
    assert "claim platform" in err.response["Error"]["Message"]


def test_get_component_version_artifact_presigns_the_s3_object_on_this_endpoint(
    aws_endpoint: AwsEndpoint, gg: Any, s3: Any, bucket: str
) -> None:
    name = _name("com.example.Artifact")
    s3.put_object(Bucket=bucket, Key=f"{name}/app.zip", Body=b"zip bytes")
    arn = gg.create_component_version(
        inlineRecipe=recipe(name, artifacts=[{"Uri": f"s3://{bucket}/{name}/app.zip"}])
    )["arn"]
    for artifact_name in (f"//{bucket}/{name}/app.zip", "app.zip"):  # the nucleus sends the first form
        url = gg.get_component_version_artifact(arn=arn, artifactName=artifact_name)["preSignedUrl"]
        assert url.startswith(aws_endpoint.url + "/") and "X-Amz-Signature=" in url
        with urllib.request.urlopen(url, timeout=10) as resp:
            assert resp.read() == b"zip bytes"
    err = error_of(lambda: gg.get_component_version_artifact(arn=arn, artifactName="other.zip"))
    assert code_and_status(err) == ("ResourceNotFoundException", 404)


# -- deployments ---------------------------------------------------------------------------------


def test_create_deployment_validates_its_target_and_components(gg: Any, iot: Any) -> None:
    name = _name("com.example.Target")
    gg.create_component_version(inlineRecipe=recipe(name))
    components = {name: {"componentVersion": "1.0.0"}}

    err = error_of(
        lambda: gg.create_deployment(targetArn="arn:aws:iot:us-east-1:1:group/x", components=components)
    )
    assert code_and_status(err) == ("ValidationException", 400) and "targetArn" in str(err)
    missing_group = f"arn:aws:iot:us-east-1:{ACCOUNT}:thinggroup/{_name('none')}"
    err = error_of(lambda: gg.create_deployment(targetArn=missing_group, components=components))
    assert code_and_status(err) == ("ResourceNotFoundException", 404) and missing_group in str(err)
    missing_thing = f"arn:aws:iot:us-east-1:{ACCOUNT}:thing/{_name('none')}"
    assert code_and_status(error_of(lambda: gg.create_deployment(targetArn=missing_thing))) == (
        "ResourceNotFoundException",
        404,
    )

    group = thing_group(iot)
    # a version that does not exist is the device's problem, not the service's (as in AWS)
    missing = gg.create_deployment(targetArn=group, components={name: {"componentVersion": "9.9.9"}})
    assert gg.get_deployment(deploymentId=missing["deploymentId"])["components"] == {
        name: {"componentVersion": "9.9.9"}
    }
    err = error_of(
        lambda: gg.create_deployment(
            targetArn=group,
            components={name: {"componentVersion": "1.0.0", "configurationUpdate": {"merge": "{broken"}}},
        )
    )
    assert code_and_status(err) == ("ValidationException", 400) and "merge" in str(err)
    err = error_of(
        lambda: gg.create_deployment(
            targetArn=group, deploymentPolicies={"failureHandlingPolicy": "RETRY"}, components=components
        )
    )
    assert code_and_status(err) == ("ValidationException", 400)
    # the refused ones created nothing: the one deployment is the accepted one
    latest = gg.list_deployments(targetArn=group)["deployments"]
    assert [d["deploymentId"] for d in latest] == [missing["deploymentId"]]


def test_deployment_lifecycle_revisions_cancel_and_delete(gg: Any, iot: Any) -> None:
    name = _name("com.example.Deploy")
    gg.create_component_version(inlineRecipe=recipe(name))
    group = thing_group(iot)
    spec = {
        name: {
            "componentVersion": "1.0.0",
            "configurationUpdate": {"merge": '{"fps": 30}', "reset": ["/old"]},
        }
    }
    first = gg.create_deployment(targetArn=group, deploymentName="traffic", components=spec, tags={"a": "1"})
    assert first["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert first["iotJobArn"] == f"arn:aws:iot:us-east-1:{ACCOUNT}:job/{first['iotJobId']}"

    got = gg.get_deployment(deploymentId=first["deploymentId"])
    assert got["targetArn"] == group and got["revisionId"] == "1" and got["deploymentName"] == "traffic"
    assert got["deploymentStatus"] == "ACTIVE" and got["isLatestForTarget"] is True
    assert got["components"] == spec and got["iotJobId"] == first["iotJobId"] and got["tags"] == {"a": "1"}
    assert got["deploymentPolicies"] == {
        "failureHandlingPolicy": "ROLLBACK",
        "componentUpdatePolicy": {"timeoutInSeconds": 60, "action": "NOTIFY_COMPONENTS"},
        "configurationValidationPolicy": {"timeoutInSeconds": 30},
    }

    second = gg.create_deployment(targetArn=group, components={name: {"componentVersion": "1.0.0"}})
    newer = gg.get_deployment(deploymentId=second["deploymentId"])
    assert newer["revisionId"] == "2" and newer["isLatestForTarget"] is True
    older = gg.get_deployment(deploymentId=first["deploymentId"])
    assert older["deploymentStatus"] == "CANCELED" and older["isLatestForTarget"] is False

    latest = gg.list_deployments(targetArn=group)["deployments"]
    assert [d["deploymentId"] for d in latest] == [second["deploymentId"]]
    history = gg.list_deployments(targetArn=group, historyFilter="ALL")["deployments"]
    assert [(d["deploymentId"], d["revisionId"], d["deploymentStatus"]) for d in history] == [
        (second["deploymentId"], "2", "ACTIVE"),
        (first["deploymentId"], "1", "CANCELED"),
    ]
    page = gg.list_deployments(targetArn=group, historyFilter="ALL", maxResults=1)
    assert len(page["deployments"]) == 1 and page["nextToken"]

    err = error_of(lambda: gg.delete_deployment(deploymentId=second["deploymentId"]))
    assert code_and_status(err) == ("ConflictException", 409)
    assert "message" in gg.cancel_deployment(deploymentId=second["deploymentId"])
    assert gg.get_deployment(deploymentId=second["deploymentId"])["deploymentStatus"] == "CANCELED"
    err = error_of(lambda: gg.cancel_deployment(deploymentId=second["deploymentId"]))
    assert code_and_status(err) == ("ConflictException", 409)
    assert (
        gg.delete_deployment(deploymentId=second["deploymentId"])["ResponseMetadata"]["HTTPStatusCode"] == 204
    )
    for call in (
        lambda: gg.get_deployment(deploymentId=second["deploymentId"]),
        lambda: gg.cancel_deployment(deploymentId="no-such-deployment"),
        lambda: gg.delete_deployment(deploymentId="no-such-deployment"),
    ):
        assert code_and_status(error_of(call)) == ("ResourceNotFoundException", 404)


def test_deployment_to_a_thing_completes_with_its_job(aws_endpoint: AwsEndpoint, gg: Any, iot: Any) -> None:
    name, thing = _name("com.example.Thing"), _name("core")
    gg.create_component_version(inlineRecipe=recipe(name))
    target = iot.create_thing(thingName=thing)["thingArn"]
    created = gg.create_deployment(targetArn=target, components={name: {"componentVersion": "1.0.0"}})
    jobs = aws_endpoint.client("iot-jobs-data")
    job = jobs.start_next_pending_job_execution(thingName=thing)["execution"]
    assert job["jobId"] == created["iotJobId"]
    document = json.loads(job["jobDocument"])
    assert document["configurationArn"].endswith(f":configuration:thing/{thing}:1")
    jobs.update_job_execution(thingName=thing, jobId=job["jobId"], status="SUCCEEDED")
    assert gg.get_deployment(deploymentId=created["deploymentId"])["deploymentStatus"] == "COMPLETED"


# -- tags and core devices -----------------------------------------------------------------------


def test_tags_on_components_and_deployments(gg: Any, iot: Any) -> None:
    name = _name("com.example.Tags")
    version_arn = gg.create_component_version(inlineRecipe=recipe(name))["arn"]
    component_arn = version_arn.rsplit(":versions:", 1)[0]
    for arn in (version_arn, component_arn):
        gg.tag_resource(resourceArn=arn, tags={"team": "vision", "tier": "edge"})
        gg.untag_resource(resourceArn=arn, tagKeys=["tier"])
        assert gg.list_tags_for_resource(resourceArn=arn)["tags"] == {"team": "vision"}
    deployment = gg.create_deployment(
        targetArn=thing_group(iot), components={name: {"componentVersion": "1.0.0"}}
    )
    deployment_arn = f"arn:aws:greengrass:us-east-1:{ACCOUNT}:deployments:{deployment['deploymentId']}"
    gg.tag_resource(resourceArn=deployment_arn, tags={"k": "v"})
    assert gg.get_deployment(deploymentId=deployment["deploymentId"])["tags"] == {"k": "v"}

    unknown = f"arn:aws:greengrass:us-east-1:{ACCOUNT}:deployments:no-such"
    for call in (
        lambda: gg.list_tags_for_resource(resourceArn=unknown),
        lambda: gg.tag_resource(resourceArn=unknown, tags={"a": "b"}),
    ):
        assert code_and_status(error_of(call)) == ("ResourceNotFoundException", 404)
    err = error_of(lambda: gg.list_tags_for_resource(resourceArn="arn:aws:s3:::bucket"))
    assert code_and_status(err) == ("ValidationException", 400)


def test_core_devices_that_never_reported_do_not_exist(gg: Any) -> None:
    thing = _name("silent")
    for call in (
        lambda: gg.get_core_device(coreDeviceThingName=thing),
        lambda: gg.list_installed_components(coreDeviceThingName=thing),
        lambda: gg.delete_core_device(coreDeviceThingName=thing),
        lambda: gg.list_effective_deployments(coreDeviceThingName=thing),
    ):
        assert code_and_status(error_of(call)) == ("ResourceNotFoundException", 404)
    assert thing not in [d["coreDeviceThingName"] for d in gg.list_core_devices()["coreDevices"]]


def test_operations_not_emulated_say_so(gg: Any) -> None:
    err = error_of(lambda: gg.list_client_devices_associated_with_core_device(coreDeviceThingName="x"))
    assert code_and_status(err) == ("NotImplemented", 501)


# -- in process ----------------------------------------------------------------------------------


def test_mock_cloud_serves_plain_boto3_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.cloud.inprocess import mock_cloud

    for variable in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(variable, raising=False)
    with mock_cloud():
        s3 = boto3.client("s3", region_name="eu-west-1")
        s3.create_bucket(Bucket="inproc", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        s3.put_object(Bucket="inproc", Key="app.py", Body=b"print(1)\n")
        gg = boto3.client("greengrassv2", region_name="eu-west-1")
        created = gg.create_component_version(
            inlineRecipe=recipe("com.example.InProcess", artifacts=[{"Uri": "s3://inproc/app.py"}])
        )
        assert created["arn"].startswith("arn:aws:greengrass:eu-west-1:123456789012:components:")
        stored = json.loads(gg.get_component(arn=created["arn"])["recipe"])
        assert stored["Manifests"][0]["Artifacts"][0]["Digest"] == (
            base64.b64encode(hashlib.sha256(b"print(1)\n").digest()).decode()
        )
        iot = boto3.client("iot", region_name="eu-west-1")
        iot.create_thing(thingName="core-inproc")
        group = iot.create_thing_group(thingGroupName="inproc")["thingGroupArn"]
        iot.add_thing_to_thing_group(thingGroupName="inproc", thingName="core-inproc")
        deployment = gg.create_deployment(
            targetArn=group, components={"com.example.InProcess": {"componentVersion": "1.0.0"}}
        )
        jobs = boto3.client("iot-jobs-data", region_name="eu-west-1")
        execution = jobs.start_next_pending_job_execution(thingName="core-inproc")["execution"]
        assert json.loads(execution["jobDocument"])["deploymentId"] == deployment["deploymentId"]
        boto3.client("iot-data", region_name="eu-west-1").publish(
            topic="$aws/things/core-inproc/greengrassv2/health/json",
            payload=json.dumps(
                {
                    "overallDeviceStatus": "HEALTHY",
                    "messageType": "COMPLETE",
                    "components": [],
                    "timestamp": 1,
                }
            ).encode(),
        )
        assert gg.get_core_device(coreDeviceThingName="core-inproc")["status"] == "HEALTHY"
        url = gg.get_component_version_artifact(arn=created["arn"], artifactName="app.py")["preSignedUrl"]
        assert url.startswith("https://") and "inproc" in url
    with mock_cloud():  # state does not leak between uses
        assert boto3.client("greengrassv2", region_name="eu-west-1").list_components()["components"] == []
