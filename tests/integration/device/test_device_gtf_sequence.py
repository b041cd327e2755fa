"""The Greengrass Testing Framework's cloud-component scenario, call for call, against the
endpoint and a simulated core device (aws-greengrass-testing: ``IotThingGroupSpec``,
``IotThingSpec``, ``RecipeComponentPreparationService``, ``CloudComponentPreparationService``,
``DeploymentSteps``, ``GreengrassV2Lifecycle``, and the resource models' ``remove``).

GTF deploys ``aws.greengrass.Nucleus`` at the device's own version with every deployment; the
device resolves it from its component store without the cloud, as the nucleus does for its
running version. A version that does not exist is accepted by CreateDeployment and fails on the
device.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from fleet import component_log, running_device, wait_for

from fake_device.nucleus.kernel import NUCLEUS_VERSION

pytestmark = pytest.mark.integration


def _effective_status(gg, thing: str, deployment_id: str) -> str | None:
    """``DeploymentSteps.effectivelyDeploymentStatus`` (SUCCEEDED is read as COMPLETED)."""
    for page in gg.get_paginator("list_effective_deployments").paginate(coreDeviceThingName=thing):
        for deployment in page["effectiveDeployments"]:
            if deployment["deploymentId"] == deployment_id:
                status = deployment["coreDeviceExecutionStatus"]
                return "COMPLETED" if status == "SUCCEEDED" else status
    return None


def _terminal(gg, thing: str, deployment_id: str) -> str:
    """``Then the Greengrass deployment is <status> on the device after N seconds``."""
    terminal = {"COMPLETED", "CANCELED", "FAILED", "REJECTED", "TIMED_OUT"}

    def finished() -> str | None:
        status = _effective_status(gg, thing, deployment_id)
        return status if status in terminal else None

    return wait_for(finished, 90, "a terminal deployment status")


def test_gtf_cloud_component_scenario(aws_endpoint, device_root: Path, tmp_path: Path) -> None:
    test_id = uuid.uuid4().hex[:10]
    iot, gg, s3 = (aws_endpoint.client(s) for s in ("iot", "greengrassv2", "s3"))
    tags = {"aws-greengrass-testing": test_id}
    group = f"gtf-{test_id}-ggc-group"
    thing = f"gtf-{test_id}-ggc-thing"
    group_arn = iot.create_thing_group(thingGroupName=group)["thingGroupArn"]
    thing_arn = iot.create_thing(thingName=thing)["thingArn"]
    iot.add_thing_to_thing_group(thingGroupName=group, thingName=thing)
    name = "com.aws.HelloWorld"
    with running_device(aws_endpoint, device_root, thing, group):
        core = wait_for(lambda: gg.get_core_device(coreDeviceThingName=thing), 30, "the core device")
        assert core["coreVersion"] == NUCLEUS_VERSION
        assert [g["groupArn"] for g in iot.list_thing_groups_for_thing(thingName=thing)["thingGroups"]] == [
            group_arn
        ]

        # RecipeComponentPreparationService: bucket and artifact, then the component version
        bucket = f"gtf-{test_id}-gg-component-store"
        assert s3.list_buckets()["Buckets"] is not None
        with pytest.raises(s3.exceptions.ClientError):
            s3.head_bucket(Bucket=bucket)
        s3.create_bucket(Bucket=bucket)
        key = "greengrass/components/artifacts/hello.sh"
        with pytest.raises(s3.exceptions.ClientError):
            s3.head_object(Bucket=bucket, Key=key)
        s3.put_object(Bucket=bucket, Key=key, Body=b"echo 'Hello World!!'\n")
        recipe = {
            "RecipeFormatVersion": "2020-01-25",
            "ComponentName": name,
            "ComponentVersion": f"1.0.0-{test_id}",
            "ComponentDescription": "Hello World Cloud Component.",
            "ComponentPublisher": "Amazon",
            "Manifests": [
                {
                    "Artifacts": [
                        {"URI": f"s3://{bucket}/{key}", "Permission": {"Read": "ALL", "Execute": "ALL"}}
                    ],
                    "Lifecycle": {"Run": "sh {artifacts:path}/hello.sh"},
                }
            ],
        }
        created = gg.create_component_version(inlineRecipe=json.dumps(recipe).encode(), tags=tags)
        assert created["componentVersion"] == f"1.0.0-{test_id}"

        # CloudComponentPreparationService.pinpointComponent for a cloud component
        private = [
            c["componentName"]
            for page in gg.get_paginator("list_components").paginate(scope="PRIVATE")
            for c in page["components"]
        ]
        assert name in private
        public = f"arn:aws:greengrass:{aws_endpoint.region}:aws:components:aws.greengrass.Cli"
        assert gg.list_component_versions(arn=public, maxResults=1)["componentVersions"] == []

        # DeploymentSteps: the nucleus at the device's version, plus the component, to the thing
        components = {
            "aws.greengrass.Nucleus": {"componentVersion": core["coreVersion"]},
            name: {"componentVersion": created["componentVersion"]},
        }
        first = gg.create_deployment(
            targetArn=thing_arn,
            deploymentName=f"gtf-{test_id}-gg-deployment",
            components=components,
            tags=tags,
        )
        assert _terminal(gg, thing, first["deploymentId"]) == "COMPLETED"
        assert wait_for(lambda: "Hello World!!" in component_log(device_root, name), 20, "the log line")
        installed = {
            c["componentName"]: c
            for c in gg.list_installed_components(coreDeviceThingName=thing, topologyFilter="ALL")[
                "installedComponents"
            ]
        }
        assert installed["aws.greengrass.Nucleus"]["componentVersion"] == NUCLEUS_VERSION
        assert installed["aws.greengrass.Nucleus"]["lifecycleState"] == "FINISHED"

        # a version the account does not have: the service takes it, the device fails it
        broken = dict(components, **{name: {"componentVersion": "9.9.9"}})
        second = gg.create_deployment(
            targetArn=thing_arn, deploymentName=f"gtf-{test_id}-b", components=broken
        )
        assert _terminal(gg, thing, second["deploymentId"]) == "FAILED"

    # cleanup, as AWSResources.close removes what the scenario made (newest first)
    for deployment in (second, first):
        gg.cancel_deployment(deploymentId=deployment["deploymentId"])
        gg.delete_deployment(deploymentId=deployment["deploymentId"])
    gg.delete_component(arn=created["arn"])
    gg.delete_core_device(coreDeviceThingName=thing)
    s3.delete_object(Bucket=bucket, Key=key)
    s3.delete_bucket(Bucket=bucket)
    iot.remove_thing_from_thing_group(thingGroupName=group, thingName=thing)
    iot.delete_thing(thingName=thing)
    iot.delete_thing_group(thingGroupName=group)
    assert gg.list_deployments(targetArn=thing_arn)["deployments"] == []
