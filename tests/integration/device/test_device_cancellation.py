"""Canceling deployments on the simulated device, as the nucleus's ``DeploymentService`` does.

Cloud side: ``greengrassv2`` CancelDeployment on the AWS endpoint (which cancels the IoT job) while
a real ``awsiotsdk`` component defers the update (aws-greengrass-nucleus ``DeploymentE2ETest``
"cancel event received and kernel is waiting for disruptable time"), and after the merge while the
device waits for a component to start (``DeploymentServiceIntegrationTest`` "long startup
component deployment cancelled"). Device side: ``greengrass-cli deployment cancel`` (aws-greengrass-cli
``CLIEventStreamAgentTest``) and ``CancelLocalDeployment`` from a component over IPC.
Assertions are on reported statuses, component versions, states and configuration.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from fleet import Operator, component_log, running_device, unique, wait_for
from test_device_ipc import _app, _policy, _python, ipc_steps, step, succeeded
from test_device_ipc_cloud import _plugin

pytestmark = pytest.mark.integration

#: a Startup that holds the component in STARTING until the test creates ``go`` in its work folder
HELD_STARTUP = {"Startup": {"Script": "while [ ! -f go ]; do sleep 0.2; done", "Timeout": 600}}


def _job_status(operator: Operator, deployment_id: str, thing: str) -> str:
    job_id = operator.gg.get_deployment(deploymentId=deployment_id)["iotJobId"]
    execution = operator.iot.describe_job_execution(jobId=job_id, thingName=thing)["execution"]
    return str(execution["status"])


def _steps(root: Path, component: str, name: str) -> list[dict[str, Any]]:
    return [s for s in ipc_steps(root, component) if s["step"] == name]


def _deploy(operator: Operator, group_arn: str, components: dict[str, Any], action: str) -> str:
    """A deployment with the given componentUpdatePolicy action."""
    answer = operator.gg.create_deployment(
        targetArn=group_arn,
        deploymentName=unique("deployment"),
        components=components,
        deploymentPolicies={
            "failureHandlingPolicy": "ROLLBACK",
            "componentUpdatePolicy": {"action": action, "timeoutInSeconds": 60},
        },
    )
    return str(answer["deploymentId"])


def test_cloud_deployment_canceled_while_a_component_defers_it(aws_endpoint, device_root: Path) -> None:
    operator = Operator(aws_endpoint)
    name = unique("com.example.Recorder")
    app = {"deferring_app.py": _app("deferring_app.py")}
    operator.component(name, "1.0.0", _python("deferring_app.py"), files=app, defaults={"fps": 10})
    group, group_arn = operator.group()
    thing = unique("jetson")
    with running_device(aws_endpoint, device_root, thing, group) as device:
        first = operator.deploy(group_arn, {name: "1.0.0"})
        succeeded(operator, thing, first, device_root, name)
        step(device_root, name, "ready")

        update = {name: {"componentVersion": "1.0.0", "configurationUpdate": {"merge": '{"fps": 30}'}}}
        second = _deploy(operator, group_arn, update, "NOTIFY_COMPONENTS")
        wait_for(
            lambda: [s["deployment"] for s in _steps(device_root, name, "pre-update")] == [second],
            60,
            "the component to be told of the second deployment",
        )
        operator.gg.cancel_deployment(deploymentId=second)
        # the component hears the update is off; nothing was merged, nothing restarted
        wait_for(
            lambda: [s["deployment"] for s in _steps(device_root, name, "post-update")] == [first, second],
            60,
            "the post-update event of the canceled deployment",
        )
        log = component_log(device_root, "greengrass")
        assert f"Deployment was cancelled. {{DeploymentId={_job_id(operator, second)}}}" in log
        assert _job_status(operator, second, thing) == "CANCELED"
        assert device.config.services[name]["configuration"] == {"fps": 10}
        assert (device.services[name].state, len(_steps(device_root, name, "ready"))) == ("RUNNING", 1)
        assert "Applying deployment changes" not in log.split("Notifying components of the update")[-1]

        # the device is free for the next deployment (which does not ask the component)
        third = _deploy(
            operator,
            group_arn,
            {name: {"componentVersion": "1.0.0", "configurationUpdate": {"merge": '{"fps": 60}'}}},
            "SKIP_NOTIFY_COMPONENTS",
        )
        succeeded(operator, thing, third, device_root, name)
        assert device.config.services[name]["configuration"] == {"fps": 60}
    assert [s["deployment"] for s in _steps(device_root, name, "pre-update")] == [second]


def _job_id(operator: Operator, deployment_id: str) -> str:
    return str(operator.gg.get_deployment(deploymentId=deployment_id)["iotJobId"])


def test_cloud_deployment_canceled_after_the_merge(aws_endpoint, device_root: Path) -> None:
    operator = Operator(aws_endpoint)
    camera, uploader = unique("com.example.Camera"), unique("com.example.Uploader")
    operator.component(camera, "1.0.0", {"Run": "echo camera 1; sleep 600"})
    operator.component(camera, "2.0.0", {**HELD_STARTUP})
    operator.component(uploader, "1.0.0", {"Run": "sleep 600"})
    group, group_arn = operator.group()
    thing = unique("jetson")
    with running_device(aws_endpoint, device_root, thing, group) as device:
        first = operator.deploy(group_arn, {camera: "1.0.0", uploader: "1.0.0"})
        succeeded(operator, thing, first, device_root, camera, uploader)

        second = operator.deploy(group_arn, {camera: "2.0.0"})  # drops the uploader
        wait_for(
            lambda: (
                camera in device.services
                and (device.services[camera].spec.version, device.services[camera].state)
                == ("2.0.0", "STARTING")
            ),
            60,
            "the merged camera 2.0.0 starting",
        )
        operator.gg.cancel_deployment(deploymentId=second)
        wait_for(
            lambda: (
                "deployment cancelled while waiting for services to start"
                in component_log(device_root, "greengrass")
            ),
            60,
            "the device to stop waiting",
        )
        wait_for(lambda: uploader not in device.services, 60, "the dropped component's removal")
        # what was merged stays: no rollback, and the component finishes starting at 2.0.0
        (device_root / "work" / camera / "go").touch()
        wait_for(lambda: device.services[camera].state == "RUNNING", 60, f"{camera} RUNNING")
        assert device.config.services[camera]["version"] == "2.0.0"
        assert uploader not in device.config.services
        log = component_log(device_root, "greengrass")
        assert f"Deployment was cancelled. {{DeploymentId={_job_id(operator, second)}}}" in log
        assert "Rolling back failed deployment" not in log
        assert _job_status(operator, second, thing) == "CANCELED"

        # a cancellation once the result is known changes nothing
        third = operator.deploy(group_arn, {camera: "1.0.0", uploader: "1.0.0"})
        succeeded(operator, thing, third, device_root, camera, uploader)
        operator.gg.cancel_deployment(deploymentId=third)
        assert _job_status(operator, third, thing) == "SUCCEEDED"
        assert (device.services[camera].spec.version, device.services[camera].state) == ("1.0.0", "RUNNING")


def _cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(root / "bin" / "greengrass-cli"), *args], capture_output=True, text=True, timeout=120
    )


def _status(root: Path, deployment_id: str) -> str:
    return _cli(root, "deployment", "status", "-i", deployment_id).stdout


def _wait_status(root: Path, deployment_id: str, status: str) -> str:
    def reached() -> str | None:
        out = _status(root, deployment_id)
        return out if out.startswith(f"{deployment_id}: {status}\n") else None

    return wait_for(
        reached, 120, f"local deployment {deployment_id} {status}:\n{_status(root, deployment_id)}"
    )


def _created(run: subprocess.CompletedProcess[str]) -> str:
    found = re.fullmatch(r"Local deployment submitted! Deployment Id: ([0-9a-f-]{36})\n", run.stdout)
    assert found is not None, (run.stdout, run.stderr)
    return found.group(1)


def test_local_deployment_cancel(aws_endpoint, device_root: Path, tmp_path: Path) -> None:
    operator = Operator(aws_endpoint)
    cli = "aws.greengrass.Cli"
    cli_version = _plugin(operator, cli)
    canceler = unique("com.example.Canceler")
    access = {
        "accessControl": {
            cli: {f"{canceler}:cli:1": _policy("aws.greengrass#CancelLocalDeployment", resources=["*"])}
        }
    }
    app = {"cancel_app.py": _app("cancel_app.py")}
    operator.component(canceler, "1.0.0", _python("cancel_app.py"), files=app, defaults=access)
    # two components only on the device: one that starts when told, one that just runs
    held, plain = unique("com.example.Held"), unique("com.example.Plain")
    recipes = tmp_path / "recipes"
    recipes.mkdir()
    for name, lifecycle in ((held, {**HELD_STARTUP}), (plain, {"Run": "sleep 600"})):
        recipe = {
            "RecipeFormatVersion": "2020-01-25",
            "ComponentName": name,
            "ComponentVersion": "1.0.0",
            "Manifests": [{"Platform": {"os": "linux"}, "Lifecycle": lifecycle}],
        }
        (recipes / f"{name}-1.0.0.json").write_text(json.dumps(recipe))
    group, group_arn = operator.group()
    thing = unique("jetson")
    with running_device(aws_endpoint, device_root, thing, group) as device:
        deployment = operator.deploy(group_arn, {cli: cli_version, canceler: "1.0.0"})
        succeeded(operator, thing, deployment, device_root, canceler)
        step(device_root, canceler, "ready")

        merge_held = ("deployment", "create", "--recipeDir", str(recipes), "--merge", f"{held}=1.0.0")
        first = _created(_cli(device_root, *merge_held))
        _wait_status(device_root, first, "IN_PROGRESS")
        wait_for(lambda: held in device.services, 60, f"{held} merged")
        # the device is busy with the first: the second waits in the queue
        second = _created(_cli(device_root, "deployment", "create", "--merge", f"{plain}=1.0.0"))
        assert _status(device_root, second).startswith(f"{second}: QUEUED\n")

        canceled = _cli(device_root, "deployment", "cancel", "-i", second)
        assert (canceled.returncode, canceled.stdout) == (
            0,
            f"Cancel request submitted. Deployment ID: {second}\n",
        )
        assert re.fullmatch(
            rf"{second}: CANCELED\nCreated on: \d\d-\d\d-\d{{4}} \d\d:\d\d:\d\d UTC\n",
            _status(device_root, second),
        )

        # the one in progress: the device stops waiting for it
        canceled = _cli(device_root, "deployment", "cancel", "-i", first)
        assert canceled.stdout == f"Cancel request submitted. Deployment ID: {first}\n"
        _wait_status(device_root, first, "CANCELED")
        again = _cli(device_root, "deployment", "cancel", "-i", first)
        assert (
            again.stdout == "Cancellation request is not processed because deployment is already finished\n"
        )
        unknown = "11111111-2222-4333-8444-555555555555"
        missing = _cli(device_root, "deployment", "cancel", "-i", unknown)
        assert (missing.returncode, missing.stderr) == (
            1,
            f"ResourceNotFoundError: Cannot find the deployment id provided {unknown}\n",
        )
        # merged before the cancel: it stays (no rollback) and finishes starting
        (device_root / "work" / held / "go").touch()
        wait_for(lambda: device.services[held].state == "RUNNING", 60, f"{held} RUNNING")
        assert plain not in device.services  # the canceled queued deployment never ran

        # the device takes the next one; the canceled deployment's roots were never recorded for
        # LOCAL_DEPLOYMENT, so this one (roots: what that target has, plus the merge) drops it
        third = _created(_cli(device_root, "deployment", "create", "--merge", f"{plain}=1.0.0"))
        assert _wait_status(device_root, third, "SUCCEEDED")
        wait_for(lambda: held not in device.services, 60, f"{held} removed")
        assert device.services[plain].state == "RUNNING"
        listed = _cli(device_root, "deployment", "list").stdout
        assert listed.count("Status: CANCELED\n") == 2 and listed.count("Status: SUCCEEDED\n") == 1
        steps = {s["step"]: s for s in ipc_steps(device_root, canceler)}
    assert steps["bad-id"]["error"] == {
        "type": "InvalidArgumentsError",
        "message": "Invalid deploymentId format received. DeploymentId is a UUID",
    }
    # only the CLI cancels: the nucleus does not register CancelLocalDeployment for aws.greengrass.Cli
    # policies (AuthorizationHandler), so a component is refused even with a policy naming it
    assert steps["well-formed-id"]["error"] == {
        "type": "UnauthorizedError",
        "message": f"Component {cli} not registered for operation aws.greengrass#CancelLocalDeployment",
    }
