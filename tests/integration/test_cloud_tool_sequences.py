"""The AWS calls of the tools teams drive Greengrass with, in the order they make them, against
the endpoint (boto3 only).

``gdk component publish`` (aws-greengrass-gdk-cli ``PublishCommand``, ``ComponentPublishConfiguration``,
``S3Client``, ``Greengrassv2Client``): STS GetCallerIdentity for the account, ListComponentVersions
on the component's ARN to check the region (and again for ``NEXT_PATCH``), S3 GetBucketLocation
(``NoSuchBucket`` → CreateBucket with the region's LocationConstraint), the artifact upload, then
CreateComponentVersion with the recipe whose artifact URIs it rewrote. The first publish of a
component depends on ListComponentVersions answering an empty list.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from harness.services.aws import AwsEndpoint

pytestmark = pytest.mark.integration

REGION = "eu-west-1"  # not us-east-1: gdk then creates the bucket with a LocationConstraint


def _gdk_next_version(gg: Any, component_arn: str) -> str:
    """``_get_next_version``: the next patch of the highest version, 1.0.0 for a new component."""
    versions = gg.list_component_versions(arn=component_arn)["componentVersions"]
    if not versions:
        return "1.0.0"
    major, minor, patch = versions[0]["componentVersion"].split(".")
    return f"{major}.{minor}.{int(patch) + 1}"


def _gdk_publish(endpoint: AwsEndpoint, name: str, bucket_prefix: str, artifact: Path) -> dict[str, Any]:
    sts = endpoint.client("sts", region_name=REGION)
    gg = endpoint.client("greengrassv2", region_name=REGION)
    s3 = endpoint.client("s3", region_name=REGION)
    account = sts.get_caller_identity()["Account"]
    component_arn = f"arn:aws:greengrass:{REGION}:{account}:components:{name}"
    gg.list_component_versions(arn=component_arn)  # _validated_region
    version = _gdk_next_version(gg, component_arn)
    bucket = f"{bucket_prefix}-{REGION}-{account}"
    try:  # S3Client.valid_bucket_for_artifacts_exists / create_bucket
        location = s3.get_bucket_location(Bucket=bucket)["LocationConstraint"]
        assert location == REGION, f"gdk refuses a bucket in {location}"
    except ClientError as err:
        assert err.response["Error"]["Code"] == "NoSuchBucket", err
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    key = f"{name}/{version}/{artifact.name}"
    s3.upload_file(str(artifact), bucket, key, ExtraArgs={})
    recipe = {
        "RecipeFormatVersion": "2020-01-25",
        "ComponentName": name,
        "ComponentVersion": version,
        "ComponentDescription": "published the way gdk publishes",
        "ComponentPublisher": "edge-harness",
        "Manifests": [
            {
                "Platform": {"os": "linux"},
                "Lifecycle": {"Run": "python3 -u {artifacts:path}/" + artifact.name},
                "Artifacts": [{"URI": f"s3://{bucket}/{key}"}],
            }
        ],
    }
    return dict(gg.create_component_version(inlineRecipe=json.dumps(recipe, indent=4)))


def test_gdk_component_publish_creates_the_first_version_then_the_next_patch(
    aws_endpoint: AwsEndpoint, tmp_path: Path
) -> None:
    name = f"com.example.Gdk{uuid.uuid4().hex[:8]}"
    artifact = tmp_path / "main.py"
    artifact.write_text("print('hello from gdk')\n")
    first = _gdk_publish(aws_endpoint, name, "gdk-artifacts", artifact)
    assert (first["componentName"], first["componentVersion"]) == (name, "1.0.0")
    assert first["status"]["componentState"] == "DEPLOYABLE"
    second = _gdk_publish(aws_endpoint, name, "gdk-artifacts", artifact)  # bucket exists by now
    assert second["componentVersion"] == "1.0.1"
    gg = aws_endpoint.client("greengrassv2", region_name=REGION)
    listed = gg.list_component_versions(arn=first["arn"].rsplit(":versions:", 1)[0])["componentVersions"]
    assert [v["componentVersion"] for v in listed] == ["1.0.1", "1.0.0"]
    stored = json.loads(gg.get_component(arn=second["arn"])["recipe"])
    (uploaded,) = stored["Manifests"][0]["Artifacts"]
    assert uploaded["Algorithm"] == "SHA-256" and uploaded["Digest"]  # the service read the upload
