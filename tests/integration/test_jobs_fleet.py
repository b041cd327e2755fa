"""A core device's side of the cloud, through plain boto3: the IoT Jobs data plane
(``iot-jobs-data``) and fleet status (an ``iot-data`` publish), as seen by ``greengrassv2``.

The test client plays the device exactly as the nucleus does: it asks for ``$next`` pending job,
reads the job document, reports IN_PROGRESS then SUCCEEDED with the nucleus's status details,
and publishes its health to ``$aws/things/<thing>/greengrassv2/health/json``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from typing import Any

import pytest
from aws_errors import code_and_status, error_of

from harness.services.aws import AwsEndpoint

pytestmark = pytest.mark.integration

ACCOUNT = "123456789012"


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class Cloud:
    """The clients a scenario and a device use, all on the endpoint."""

    def __init__(self, endpoint: AwsEndpoint) -> None:
        self.gg = endpoint.client("greengrassv2")
        self.iot = endpoint.client("iot")
        self.s3 = endpoint.client("s3")
        self.jobs = endpoint.client("iot-jobs-data")
        self.data = endpoint.client("iot-data")

    def component(self, name: str, version: str = "1.0.0", artifact: bytes | None = None) -> str:
        artifacts = []
        if artifact is not None:
            bucket = _name("artifacts")
            self.s3.create_bucket(Bucket=bucket)
            self.s3.put_object(Bucket=bucket, Key=f"{name}/{version}/app.zip", Body=artifact)
            artifacts = [{"Uri": f"s3://{bucket}/{name}/{version}/app.zip", "Unarchive": "ZIP"}]
        recipe = {
            "RecipeFormatVersion": "2020-01-25",
            "ComponentName": name,
            "ComponentVersion": version,
            "ComponentConfiguration": {"DefaultConfiguration": {"fps": 15}},
            "Manifests": [
                {"Platform": {"os": "linux"}, "Lifecycle": {"Run": "sleep 1"}, "Artifacts": artifacts}
            ],
        }
        return str(self.gg.create_component_version(inlineRecipe=json.dumps(recipe).encode())["arn"])

    def group(self, *things: str) -> tuple[str, str]:
        name = _name("fleet")
        arn = self.iot.create_thing_group(thingGroupName=name)["thingGroupArn"]
        for thing in things:
            self.add(name, thing)
        return name, arn

    def add(self, group: str, thing: str) -> None:
        self.iot.create_thing(thingName=thing)
        self.iot.add_thing_to_thing_group(thingGroupName=group, thingName=thing)

    def publish_health(self, thing: str, **message: Any) -> int:
        payload = {
            "ggcVersion": "2.14.0",
            "platform": "linux",
            "architecture": "aarch64",
            "thing": thing,
            "overallDeviceStatus": "HEALTHY",
            "sequenceNumber": 1,
            "timestamp": int(time.time() * 1000),
            "messageType": "COMPLETE",
            "trigger": "THING_GROUP_DEPLOYMENT",
            "components": [],
            **message,
        }
        response = self.data.publish(
            topic=f"$aws/things/{thing}/greengrassv2/health/json", qos=1, payload=json.dumps(payload).encode()
        )
        return int(response["ResponseMetadata"]["HTTPStatusCode"])


@pytest.fixture(scope="module")
def cloud(aws_endpoint: AwsEndpoint) -> Cloud:
    return Cloud(aws_endpoint)


def component_status(
    name: str, version: str, status: str, *, root: bool = True, **extra: Any
) -> dict[str, Any]:
    return {
        "componentName": name,
        "version": version,
        "fleetConfigArns": [],
        "isRoot": root,
        "status": status,
        **extra,
    }


# -- the whole loop ------------------------------------------------------------------------------


def test_a_device_applies_a_group_deployment_and_reports_it(cloud: Cloud) -> None:
    app = _name("com.example.Traffic")
    artifact = b"PK\x03\x04 pretend zip"
    arn = cloud.component(app, artifact=artifact)
    stored = json.loads(cloud.gg.get_component(arn=arn)["recipe"])
    assert (
        stored["Manifests"][0]["Artifacts"][0]["Digest"]
        == base64.b64encode(hashlib.sha256(artifact).digest()).decode()
    )

    thing = _name("jetson")
    group, group_arn = cloud.group(thing)
    created = cloud.gg.create_deployment(
        targetArn=group_arn,
        deploymentName="traffic v1",
        components={
            app: {
                "componentVersion": "1.0.0",
                "configurationUpdate": {"merge": '{"fps": 30}', "reset": ["/old"]},
            }
        },
        deploymentPolicies={
            "failureHandlingPolicy": "DO_NOTHING",
            "componentUpdatePolicy": {"timeoutInSeconds": 90},
        },
    )

    pending = cloud.jobs.get_pending_job_executions(thingName=thing)
    assert pending["inProgressJobs"] == []
    assert [j["jobId"] for j in pending["queuedJobs"]] == [created["iotJobId"]]
    assert pending["queuedJobs"][0]["versionNumber"] == 1 and pending["queuedJobs"][0]["executionNumber"] == 1

    # the nucleus first asks DescribeJobExecution($next, includeJobDocument) (IotJobsHelper)
    described = cloud.jobs.describe_job_execution(thingName=thing, jobId="$next", includeJobDocument=True)[
        "execution"
    ]
    assert described["status"] == "QUEUED" and described["jobId"] == created["iotJobId"]
    document = json.loads(described["jobDocument"])
    assert document == {
        "deploymentId": created["deploymentId"],
        "schemaDate": "2021-05-17",
        "deploymentName": "traffic v1",
        "configurationArn": f"arn:aws:greengrass:us-east-1:{ACCOUNT}:configuration:thinggroup/{group}:1",
        "creationTimestamp": document["creationTimestamp"],
        "components": {
            app: {"version": "1.0.0", "configurationUpdate": {"merge": {"fps": 30}, "reset": ["/old"]}}
        },
        "failureHandlingPolicy": "DO_NOTHING",
        "requiredCapabilities": [],
        "componentUpdatePolicy": {"timeout": 90, "action": "NOTIFY_COMPONENTS"},
        "configurationValidationPolicy": {"timeout": 30},
    }
    assert abs(document["creationTimestamp"] / 1000 - time.time()) < 60

    started = cloud.jobs.start_next_pending_job_execution(thingName=thing, statusDetails={"step": "download"})
    execution = started["execution"]
    assert execution["status"] == "IN_PROGRESS" and execution["statusDetails"] == {"step": "download"}
    assert (
        json.loads(execution["jobDocument"]) == document and execution["startedAt"] >= execution["queuedAt"]
    )
    version = execution["versionNumber"]

    update = cloud.jobs.update_job_execution(
        thingName=thing,
        jobId=created["iotJobId"],
        status="IN_PROGRESS",
        expectedVersion=version,
        includeJobExecutionState=True,
    )
    assert update["executionState"]["versionNumber"] == version + 1
    cloud.jobs.update_job_execution(
        thingName=thing,
        jobId=created["iotJobId"],
        status="SUCCEEDED",
        statusDetails={"detailed-deployment-status": "SUCCESSFUL"},
    )
    after = cloud.jobs.get_pending_job_executions(thingName=thing)
    assert after["inProgressJobs"] == [] and after["queuedJobs"] == []
    assert "execution" not in cloud.jobs.describe_job_execution(thingName=thing, jobId="$next")

    assert (
        cloud.gg.list_effective_deployments(coreDeviceThingName=thing)["effectiveDeployments"][0][
            "coreDeviceExecutionStatus"
        ]
        == "SUCCEEDED"
    )

    status_time = int(time.time() * 1000)
    assert (
        cloud.publish_health(
            thing,
            timestamp=status_time,
            components=[
                component_status(app, "1.0.0", "RUNNING", fleetConfigArns=[document["configurationArn"]]),
                component_status("aws.greengrass.Nucleus", "2.14.0", "FINISHED", root=False),
            ],
            deploymentInformation={
                "status": "SUCCEEDED",
                "statusDetails": {"detailedStatus": "SUCCESSFUL"},
                "deploymentId": created["deploymentId"],
                "fleetConfigurationArnForStatus": document["configurationArn"],
            },
        )
        == 200
    )

    device = cloud.gg.get_core_device(coreDeviceThingName=thing)
    assert (device["status"], device["platform"], device["architecture"], device["coreVersion"]) == (
        "HEALTHY",
        "linux",
        "aarch64",
        "2.14.0",
    )
    assert abs(device["lastStatusUpdateTimestamp"].timestamp() - status_time / 1000) < 0.01
    listed = cloud.gg.list_core_devices(thingGroupArn=group_arn)["coreDevices"]
    assert [d["coreDeviceThingName"] for d in listed] == [thing]

    roots = cloud.gg.list_installed_components(coreDeviceThingName=thing)["installedComponents"]
    assert [(c["componentName"], c["componentVersion"], c["lifecycleState"], c["isRoot"]) for c in roots] == [
        (app, "1.0.0", "RUNNING", True)
    ]
    assert roots[0]["lastInstallationSource"] == created["deploymentId"]
    everything = cloud.gg.list_installed_components(coreDeviceThingName=thing, topologyFilter="ALL")
    assert {c["componentName"] for c in everything["installedComponents"]} == {app, "aws.greengrass.Nucleus"}

    effective = cloud.gg.list_effective_deployments(coreDeviceThingName=thing)["effectiveDeployments"]
    assert len(effective) == 1
    assert effective[0]["deploymentId"] == created["deploymentId"]
    assert effective[0]["iotJobId"] == created["iotJobId"] and effective[0]["targetArn"] == group_arn
    assert effective[0]["coreDeviceExecutionStatus"] == "SUCCEEDED" and effective[0]["reason"] == "SUCCESSFUL"
    assert effective[0]["deploymentName"] == "traffic v1"

    # the IoT control plane shows the same job (mirrored into moto's IoT registry)
    job = cloud.iot.describe_job(jobId=created["iotJobId"])["job"]
    assert job["status"] == "IN_PROGRESS" and job["targetSelection"] == "CONTINUOUS"
    assert json.loads(cloud.iot.get_job_document(jobId=created["iotJobId"])["document"]) == document
    summaries = cloud.iot.list_job_executions_for_thing(thingName=thing)["executionSummaries"]
    assert [(s["jobId"], s["jobExecutionSummary"]["status"]) for s in summaries] == [
        (created["iotJobId"], "SUCCEEDED")
    ]

    # a second deployment cancels the first: a device that has not finished it sees CANCELED
    late = _name("jetson-late")
    cloud.add(group, late)
    assert [j["jobId"] for j in cloud.jobs.get_pending_job_executions(thingName=late)["queuedJobs"]] == [
        created["iotJobId"]
    ]
    cloud.jobs.start_next_pending_job_execution(thingName=late)
    second = cloud.gg.create_deployment(targetArn=group_arn, components={app: {"componentVersion": "1.0.0"}})
    canceled = cloud.jobs.describe_job_execution(thingName=late, jobId=created["iotJobId"])["execution"]
    assert canceled["status"] == "CANCELED"
    pending = cloud.jobs.get_pending_job_executions(thingName=late)
    assert pending["inProgressJobs"] == [] and [j["jobId"] for j in pending["queuedJobs"]] == [
        second["iotJobId"]
    ]
    err = error_of(
        lambda: cloud.jobs.update_job_execution(thingName=late, jobId=created["iotJobId"], status="SUCCEEDED")
    )
    assert code_and_status(err) == ("InvalidStateTransitionException", 409)
    nxt = cloud.jobs.start_next_pending_job_execution(thingName=late)["execution"]
    assert json.loads(nxt["jobDocument"])["configurationArn"].endswith(f"thinggroup/{group}:2")
    assert cloud.iot.describe_job(jobId=created["iotJobId"])["job"]["status"] == "CANCELED"

    history = cloud.gg.list_effective_deployments(coreDeviceThingName=late)["effectiveDeployments"]
    assert [(e["deploymentId"], e["coreDeviceExecutionStatus"]) for e in history] == [
        (second["deploymentId"], "IN_PROGRESS"),
        (created["deploymentId"], "CANCELED"),
    ]


def test_a_thing_that_joins_the_group_later_gets_the_deployment(cloud: Cloud) -> None:
    app = _name("com.example.Join")
    cloud.component(app)
    group, group_arn = cloud.group()
    created = cloud.gg.create_deployment(targetArn=group_arn, components={app: {"componentVersion": "1.0.0"}})
    newcomer = _name("newcomer")
    cloud.iot.create_thing(thingName=newcomer)
    assert cloud.jobs.get_pending_job_executions(thingName=newcomer)["queuedJobs"] == []
    cloud.iot.add_thing_to_thing_group(thingGroupName=group, thingName=newcomer)
    execution = cloud.jobs.start_next_pending_job_execution(thingName=newcomer)["execution"]
    assert execution["jobId"] == created["iotJobId"]
    assert json.loads(execution["jobDocument"])["deploymentId"] == created["deploymentId"]

    # a child group's things are in the parent group's deployment too
    child = _name("child")
    cloud.iot.create_thing_group(thingGroupName=child, parentGroupName=group)
    grandchild_thing = _name("nested")
    cloud.add(child, grandchild_thing)
    queued = cloud.jobs.get_pending_job_executions(thingName=grandchild_thing)["queuedJobs"]
    assert [j["jobId"] for j in queued] == [created["iotJobId"]]

    # a thing that leaves before starting it no longer has it
    cloud.iot.remove_thing_from_thing_group(thingGroupName=child, thingName=grandchild_thing)
    assert cloud.jobs.get_pending_job_executions(thingName=grandchild_thing)["queuedJobs"] == []
    removed = cloud.jobs.describe_job_execution(thingName=grandchild_thing, jobId=created["iotJobId"])
    assert removed["execution"]["status"] == "REMOVED"


# -- the jobs data plane -------------------------------------------------------------------------


@pytest.fixture
def job(cloud: Cloud) -> tuple[str, str]:
    """(thing, job id) of a fresh thing-group deployment with one queued execution."""
    app = _name("com.example.Job")
    cloud.component(app)
    thing = _name("core")
    _, group_arn = cloud.group(thing)
    created = cloud.gg.create_deployment(targetArn=group_arn, components={app: {"componentVersion": "1.0.0"}})
    return thing, created["iotJobId"]


def test_expected_version_must_match(cloud: Cloud, job: tuple[str, str]) -> None:
    thing, job_id = job
    execution = cloud.jobs.describe_job_execution(thingName=thing, jobId=job_id)["execution"]
    assert "jobDocument" not in execution  # includeJobDocument defaults to false
    err = error_of(
        lambda: cloud.jobs.update_job_execution(
            thingName=thing,
            jobId=job_id,
            status="IN_PROGRESS",
            expectedVersion=execution["versionNumber"] + 5,
        )
    )
    assert code_and_status(err) == ("VersionConflictException", 409)
    updated = cloud.jobs.update_job_execution(
        thingName=thing,
        jobId=job_id,
        status="IN_PROGRESS",
        expectedVersion=execution["versionNumber"],
        includeJobExecutionState=True,
        includeJobDocument=True,
    )
    assert updated["executionState"]["status"] == "IN_PROGRESS" and json.loads(updated["jobDocument"])
    stale = execution["versionNumber"]
    err = error_of(
        lambda: cloud.jobs.update_job_execution(
            thingName=thing, jobId=job_id, status="FAILED", expectedVersion=stale
        )
    )
    assert code_and_status(err) == ("VersionConflictException", 409)


def test_terminal_executions_cannot_change(cloud: Cloud, job: tuple[str, str]) -> None:
    thing, job_id = job
    details = {
        "detailed-deployment-status": "FAILED_ROLLBACK_COMPLETE",
        "deployment-failure-cause": "Service com.example.Job in broken state after deployment",
        "deployment-error-stack": '["DEPLOYMENT_FAILURE","COMPONENT_UPDATE_ERROR","COMPONENT_BROKEN"]',
        "deployment-error-types": '["COMPONENT_ERROR"]',
    }
    cloud.jobs.update_job_execution(thingName=thing, jobId=job_id, status="FAILED", statusDetails=details)
    for status in ("IN_PROGRESS", "SUCCEEDED", "FAILED"):
        err = error_of(
            lambda s=status: cloud.jobs.update_job_execution(thingName=thing, jobId=job_id, status=s)
        )
        assert code_and_status(err) == ("InvalidStateTransitionException", 409)
    err = error_of(lambda: cloud.jobs.update_job_execution(thingName=thing, jobId=job_id, status="CANCELED"))
    assert code_and_status(err) == ("InvalidRequestException", 400)

    effective = cloud.gg.list_effective_deployments(coreDeviceThingName=thing)["effectiveDeployments"][0]
    assert (
        effective["coreDeviceExecutionStatus"] == "FAILED"
        and effective["reason"] == "FAILED_ROLLBACK_COMPLETE"
    )
    assert effective["statusDetails"] == {
        "errorStack": ["DEPLOYMENT_FAILURE", "COMPONENT_UPDATE_ERROR", "COMPONENT_BROKEN"],
        "errorTypes": ["COMPONENT_ERROR"],
    }


def test_canceled_deployment_is_canceled_on_the_device(cloud: Cloud, job: tuple[str, str]) -> None:
    thing, job_id = job
    cloud.jobs.start_next_pending_job_execution(thingName=thing)
    deployment_id = next(
        e["deploymentId"]
        for e in cloud.gg.list_effective_deployments(coreDeviceThingName=thing)["effectiveDeployments"]
        if e["iotJobId"] == job_id
    )
    cloud.gg.cancel_deployment(deploymentId=deployment_id)
    assert (
        cloud.jobs.describe_job_execution(thingName=thing, jobId=job_id)["execution"]["status"] == "CANCELED"
    )
    assert cloud.jobs.get_pending_job_executions(thingName=thing)["inProgressJobs"] == []
    assert cloud.jobs.start_next_pending_job_execution(thingName=thing).get("execution") is None
    err = error_of(lambda: cloud.jobs.update_job_execution(thingName=thing, jobId=job_id, status="SUCCEEDED"))
    assert code_and_status(err) == ("InvalidStateTransitionException", 409)


def test_step_timeouts_and_unknown_jobs(cloud: Cloud, job: tuple[str, str]) -> None:
    thing, job_id = job
    started = cloud.jobs.start_next_pending_job_execution(thingName=thing, stepTimeoutInMinutes=10)[
        "execution"
    ]
    assert 0 < started["approximateSecondsBeforeTimedOut"] <= 600
    for call in (
        lambda: cloud.jobs.describe_job_execution(thingName=thing, jobId="no-such-job"),
        lambda: cloud.jobs.describe_job_execution(thingName=thing, jobId=job_id, executionNumber=7),
        lambda: cloud.jobs.update_job_execution(thingName=thing, jobId="no-such-job", status="SUCCEEDED"),
        lambda: cloud.jobs.get_pending_job_executions(thingName=_name("not-a-thing")),
    ):
        assert code_and_status(error_of(call)) == ("ResourceNotFoundException", 404)
    err = error_of(lambda: cloud.jobs.get_pending_job_executions(thingName="bad thing name"))
    assert code_and_status(err) == ("ValidationException", 400)


# -- fleet status --------------------------------------------------------------------------------


def test_partial_fleet_status_updates_only_the_listed_components(cloud: Cloud) -> None:
    thing = _name("core")
    cloud.iot.create_thing(thingName=thing)
    t0 = int(time.time() * 1000) - 10_000
    cloud.publish_health(
        thing,
        timestamp=t0,
        components=[component_status("A", "1.0.0", "RUNNING"), component_status("B", "2.0.0", "RUNNING")],
    )
    cloud.publish_health(
        thing,
        timestamp=t0 + 5_000,
        sequenceNumber=2,
        messageType="PARTIAL",
        trigger="COMPONENT_STATUS_CHANGE",
        overallDeviceStatus="UNHEALTHY",
        components=[
            component_status(
                "B",
                "2.0.0",
                "BROKEN",
                componentStatusDetails={"statusCodes": ["RUN_ERROR"], "statusReason": "exit 1"},
            )
        ],
    )
    assert cloud.gg.get_core_device(coreDeviceThingName=thing)["status"] == "UNHEALTHY"
    installed = {
        c["componentName"]: c
        for c in cloud.gg.list_installed_components(coreDeviceThingName=thing)["installedComponents"]
    }
    assert installed["A"]["lifecycleState"] == "RUNNING"
    assert installed["A"]["lastReportedTimestamp"].timestamp() == pytest.approx(t0 / 1000)
    assert installed["B"]["lifecycleState"] == "BROKEN"
    assert (
        installed["B"]["lifecycleStatusCodes"] == ["RUN_ERROR"]
        and installed["B"]["lifecycleStateDetails"] == "exit 1"
    )
    assert installed["B"]["lastStatusChangeTimestamp"].timestamp() == pytest.approx((t0 + 5_000) / 1000)
    assert (
        cloud.gg.list_core_devices(status="UNHEALTHY", thingGroupArn=cloud.group(thing)[1])["coreDevices"][0][
            "coreDeviceThingName"
        ]
        == thing
    )

    # the same state reported again keeps its change time; a COMPLETE message replaces the set
    cloud.publish_health(thing, timestamp=t0 + 8_000, components=[component_status("A", "1.0.0", "RUNNING")])
    installed = cloud.gg.list_installed_components(coreDeviceThingName=thing)["installedComponents"]
    assert [c["componentName"] for c in installed] == ["A"]
    assert installed[0]["lastStatusChangeTimestamp"].timestamp() == pytest.approx(t0 / 1000)
    assert installed[0]["lastReportedTimestamp"].timestamp() == pytest.approx((t0 + 8_000) / 1000)
    assert cloud.gg.get_core_device(coreDeviceThingName=thing)["status"] == "HEALTHY"

    page = cloud.gg.list_installed_components(coreDeviceThingName=thing, maxResults=1)
    assert "nextToken" not in page
    cloud.gg.delete_core_device(coreDeviceThingName=thing)
    err = error_of(lambda: cloud.gg.get_core_device(coreDeviceThingName=thing))
    assert code_and_status(err) == ("ResourceNotFoundException", 404)


def test_chunked_complete_message_is_applied_once_whole(cloud: Cloud) -> None:
    thing = _name("core")
    for chunk_id, names in ((1, ["A", "B"]), (2, ["C"])):
        cloud.publish_health(
            thing,
            sequenceNumber=42,
            chunkInfo={"chunkId": chunk_id, "totalChunks": 2},
            components=[component_status(n, "1.0.0", "RUNNING") for n in names],
        )
        if chunk_id == 1:
            err = error_of(lambda: cloud.gg.get_core_device(coreDeviceThingName=thing))
            assert code_and_status(err) == ("ResourceNotFoundException", 404)
    installed = cloud.gg.list_installed_components(coreDeviceThingName=thing)["installedComponents"]
    assert [c["componentName"] for c in installed] == ["A", "B", "C"]


def test_malformed_fleet_status_is_ignored_but_the_publish_succeeds(cloud: Cloud) -> None:
    thing = _name("core")
    topic = f"$aws/things/{thing}/greengrassv2/health/json"
    for payload in (b"not json", b"[1, 2]", json.dumps({"messageType": "SOMETIMES"}).encode(), b""):
        response = cloud.data.publish(topic=topic, qos=1, payload=payload)
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert cloud.publish_health(thing, components=[{"version": "no name"}]) == 200
    err = error_of(lambda: cloud.gg.get_core_device(coreDeviceThingName=thing))
    assert code_and_status(err) == ("ResourceNotFoundException", 404)
    # other topics are moto's as before
    assert (
        cloud.data.publish(topic="fleet/other", qos=0, payload=b"x")["ResponseMetadata"]["HTTPStatusCode"]
        == 200
    )


def test_a_job_canceled_through_the_iot_api_is_canceled_for_the_device(
    cloud: Cloud, job: tuple[str, str]
) -> None:
    thing, job_id = job
    cloud.iot.cancel_job(jobId=job_id, force=True)
    assert (
        cloud.jobs.describe_job_execution(thingName=thing, jobId=job_id)["execution"]["status"] == "CANCELED"
    )
    assert cloud.jobs.get_pending_job_executions(thingName=thing)["queuedJobs"] == []


def test_in_progress_executions_time_out() -> None:
    from harness.cloud.jobs import JobsBackend

    now = [1_000.0]
    backend = JobsBackend("000000000001", "us-east-1", lambda: now[0])
    thing_target = "arn:aws:iot:us-east-1:000000000001:thing/core-timeout"
    backend.create_job("job-step", thing_target, {"deploymentId": "d"})
    backend.create_job("job-overall", thing_target, {"deploymentId": "e"}, in_progress_timeout_minutes=30)

    job, execution = backend.start_next("core-timeout", None, step_timeout=5)  # type: ignore[misc]
    assert (job.job_id, execution.status, execution.deadline()) == ("job-step", "IN_PROGRESS", 1_300.0)
    now[0] = 1_299.0
    backend.update(
        "job-step",
        "core-timeout",
        status="IN_PROGRESS",
        status_details=None,
        expected_version=None,
        execution_number=None,
        step_timeout=-1,
    )  # clears the step timer
    now[0] = 5_000.0
    assert backend.execution("job-step", "core-timeout").status == "IN_PROGRESS"  # type: ignore[union-attr]
    backend.update(
        "job-step",
        "core-timeout",
        status="SUCCEEDED",
        status_details=None,
        expected_version=None,
        execution_number=None,
        step_timeout=None,
    )

    job, execution = backend.start_next("core-timeout", None, step_timeout=None)  # type: ignore[misc]
    assert job.job_id == "job-overall" and execution.deadline() == 5_000.0 + 30 * 60
    now[0] = 5_000.0 + 30 * 60
    timed_out = backend.execution("job-overall", "core-timeout")
    assert timed_out is not None and timed_out.status == "TIMED_OUT"
    assert backend.next_pending("core-timeout") is None
