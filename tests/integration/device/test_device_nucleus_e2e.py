"""The nucleus's own end-to-end deployment expectations (aws-greengrass-nucleus
``integrationtests/e2e/deployment/DeploymentE2ETest``), on a simulated core device.

The recipes follow the ones of that test in spirit — an app that depends on a broker that
depends on a signal, apps that echo their configuration, one whose startup fails, services that
run forever — written here under their own names. Each scenario expects what the nucleus test
expects: job statuses, the detailed deployment status, the failure cause, the error stack and
types as the device reported them to IoT Jobs (read with ``iot`` DescribeJobExecution, as the
Java test reads them), component states and configuration. Components get a unique suffix per
test, as the Java test's ``testComponentSuffix``.

Not repeated here: the two cancellation scenarios (a deployment deferred by a component over IPC
and canceled in the cloud), which need a component answering ``SubscribeToComponentUpdates``;
test_device_cancellation.py covers them.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from fleet import Operator, component_log, running_device, unique, wait_for

pytestmark = pytest.mark.integration

SKIP_NOTIFY = {"action": "SKIP_NOTIFY_COMPONENTS", "timeoutInSeconds": 120}
VALIDATION = {"timeoutInSeconds": 120}


class Catalog:
    """The test's components, published under ``<Name>-<suffix>``."""

    def __init__(self, operator: Operator) -> None:
        self.operator = operator
        self.suffix = uuid.uuid4().hex[:8]

    def __getitem__(self, name: str) -> str:
        return f"{name}-{self.suffix}"

    def publish(
        self,
        name: str,
        version: str,
        lifecycle: Mapping[str, Any],
        *,
        dependencies: Mapping[str, str] | None = None,
        defaults: Mapping[str, Any] | None = None,
    ) -> None:
        self.operator.component(
            self[name],
            version,
            manifests=[{"Platform": {"os": "linux"}, "Lifecycle": dict(lifecycle)}],
            dependencies={self[d]: {"VersionRequirement": r} for d, r in (dependencies or {}).items()},
            defaults=defaults,
            recipe_extra={"ComponentPublisher": "edge-harness"},
        )

    def deploy(self, target: str, components: Mapping[str, Any], **policies: Any) -> dict[str, Any]:
        spec: dict[str, Any] = {}
        for name, value in components.items():
            entry = {"componentVersion": value} if isinstance(value, str) else dict(value)
            update = entry.get("configurationUpdate")
            if update and isinstance(update.get("merge"), Mapping):
                entry["configurationUpdate"] = {**update, "merge": json.dumps(update["merge"])}
            spec[name if name.startswith("XYZ") else self[name]] = entry
        answer = self.operator.gg.create_deployment(
            targetArn=target, deploymentName=unique("e2e"), components=spec, deploymentPolicies=policies
        )
        return dict(answer)

    def publish_all(self) -> None:
        """The components of DeploymentE2ETest's scenarios, written for this simulator."""
        self.publish(
            "GreenSignal",
            "1.0.0",
            {"Run": 'echo "Go ahead with {configuration:/NumApprovals} approvals"'},
            defaults={"NumApprovals": 2},
        )
        broker = {
            "Install": {"Script": 'echo "broker being installed"'},
            "Startup": {"Script": 'echo "broker getting started"'},
            "Shutdown": {"Script": 'echo "broker signing off"'},
        }
        self.publish("Mosquitto", "0.9.0", broker, dependencies={"GreenSignal": "=1.0.0"})
        self.publish("Mosquitto", "1.0.0", broker, dependencies={"GreenSignal": "=1.0.0"})
        self.publish(
            "CustomerApp",
            "1.0.0",
            {
                "Run": "echo 'Hello Greengrass. CustomerApp output. "
                "Value for /sampleText: {configuration:/sampleText}. "
                "Value for /path/leafKey: {configuration:/path/leafKey}. "
                "Value for /newKey: {configuration:/newKey}. "
                "Value for /listKey/0: {configuration:/listKey/0}.'"
            },
            dependencies={"Mosquitto": "1.0.0"},
            defaults={
                "sampleText": "This is a test",
                "path": {"leafKey": "default value of /path/leafKey"},
                "listKey": ["item1", "item2"],
            },
        )
        self.publish(
            "CustomerApp",
            "0.9.0",
            {"Startup": 'sleep 1; echo "CustomerApp encounters error."; exit 1'},
            dependencies={"Mosquitto": "1.0.0"},
        )
        self.publish(
            "CustomerApp",
            "0.9.1",
            {"Startup": 'sleep 1; echo "CustomerApp succeeds."; exit 0'},
            dependencies={"Mosquitto": "1.0.0"},
        )
        self.publish(
            "SomeService",
            "1.0.0",
            {"Run": 'echo "SomeService: to be removed soon"'},
            dependencies={"Mosquitto": "1.0.0"},
        )
        self.publish(
            "SomeOldService",
            "0.9.0",
            {"Run": 'echo "SomeOldService: to be removed soon"'},
            dependencies={"Mosquitto": "=0.9.0"},
        )
        self.publish("RedSignal", "1.0.0", {"Run": "echo Stop what you are doing"})
        self.publish(
            "YellowSignal",
            "1.0.0",
            {"Run": 'echo "proceed with caution {configuration:/message}"'},
            defaults={"message": "This is a test"},
        )
        for version in ("1.0.0", "1.0.1"):
            self.publish(
                "NonDisruptableService",
                version,
                {"Run": f'while true; do echo "running non disruptable service {version}"; sleep 5; done'},
            )


@pytest.fixture
def fleet(aws_endpoint, device_root: Path):
    operator = Operator(aws_endpoint)
    catalog = Catalog(operator)
    catalog.publish_all()
    group, group_arn = operator.group()
    thing = unique("e2e")
    with running_device(aws_endpoint, device_root, thing, group) as device:
        yield catalog, device, thing, group_arn


def _finish(catalog: Catalog, thing: str, answer: Mapping[str, Any]) -> tuple[str, dict[str, str]]:
    """The job's final status and status details, from IoT (``describeJobExecution``)."""
    catalog.operator.wait_deployment(thing, answer["deploymentId"])
    execution = catalog.operator.iot.describe_job_execution(jobId=answer["iotJobId"], thingName=thing)[
        "execution"
    ]
    return execution["status"], dict(execution.get("statusDetails", {}).get("detailsMap", {}))


def _states(device, catalog: Catalog, *names: str) -> list[str]:
    return [str(device.services[catalog[n]].state) if catalog[n] in device.services else "-" for n in names]


def _customer_output(device_root: Path, catalog: Catalog, count: int) -> str:
    """The ``count``-th CustomerApp output line (its Run echoes one per start)."""

    def nth() -> str | None:
        log = component_log(device_root, catalog["CustomerApp"]).splitlines()
        lines = [line for line in log if "CustomerApp output." in line]
        return lines[count - 1] if len(lines) >= count else None

    return wait_for(nth, 20, f"CustomerApp output #{count}")


def test_target_with_dependencies_then_merge_then_reset(fleet, device_root: Path) -> None:
    catalog, device, thing, group_arn = fleet
    status, _ = _finish(catalog, thing, catalog.deploy(group_arn, {"CustomerApp": "1.0.0"}))
    assert status == "SUCCEEDED"
    names = ("CustomerApp", "Mosquitto", "GreenSignal")
    assert wait_for(lambda: _states(device, catalog, *names) == ["FINISHED", "RUNNING", "FINISHED"])
    config = device.config.services[catalog["CustomerApp"]]["configuration"]
    assert config == {
        "sampleText": "This is a test",
        "path": {"leafKey": "default value of /path/leafKey"},
        "listKey": ["item1", "item2"],
    }
    out = _customer_output(device_root, catalog, 1)
    assert "This is a test" in out and "Value for /path/leafKey: default value of /path/leafKey." in out
    assert "Value for /listKey/0: item1." in out and "Value for /newKey: {configuration:/newKey}" in out

    merge = {
        "sampleText": "updated",
        "newKey": "updated",
        "listKey": ["item3"],
        "path": {"leafKey": "updated"},
    }
    update = {"CustomerApp": {"componentVersion": "1.0.0", "configurationUpdate": {"merge": merge}}}
    assert _finish(catalog, thing, catalog.deploy(group_arn, update))[0] == "SUCCEEDED"
    assert wait_for(lambda: _states(device, catalog, *names) == ["FINISHED", "RUNNING", "FINISHED"])
    config = device.config.services[catalog["CustomerApp"]]["configuration"]
    assert config == {
        "sampleText": "updated",
        "newKey": "updated",
        "listKey": ["item3"],
        "path": {"leafKey": "updated"},
    }
    out = _customer_output(device_root, catalog, 2)
    for text in ("/sampleText: updated", "/path/leafKey: updated", "/listKey/0: item3.", "/newKey: updated"):
        assert f"Value for {text}" in out

    reset = {
        "CustomerApp": {
            "componentVersion": "1.0.0",
            "configurationUpdate": {"reset": ["/sampleText", "/path"]},
        }
    }
    assert _finish(catalog, thing, catalog.deploy(group_arn, reset))[0] == "SUCCEEDED"
    config = device.config.services[catalog["CustomerApp"]]["configuration"]
    assert config == {
        "sampleText": "This is a test",
        "newKey": "updated",
        "listKey": ["item3"],
        "path": {"leafKey": "default value of /path/leafKey"},
    }
    out = _customer_output(device_root, catalog, 3)
    assert "Value for /sampleText: This is a test" in out and "default value of /path/leafKey" in out
    assert "Value for /listKey/0: item3." in out and "Value for /newKey: updated" in out


def test_a_deployment_that_drops_a_component_stops_and_removes_it(fleet) -> None:
    catalog, device, thing, group_arn = fleet
    first = {
        "CustomerApp": {
            "componentVersion": "1.0.0",
            "configurationUpdate": {"merge": {"sampleText": "FCS integ test"}},
        },
        "SomeService": "1.0.0",
    }
    assert _finish(catalog, thing, catalog.deploy(group_arn, first))[0] == "SUCCEEDED"
    assert catalog["SomeService"] in device.services
    assert _finish(catalog, thing, catalog.deploy(group_arn, {"CustomerApp": "1.0.0"}))[0] == "SUCCEEDED"
    assert wait_for(lambda: _states(device, catalog, "CustomerApp") == ["FINISHED"])
    assert catalog["SomeService"] not in device.services
    assert catalog["SomeService"] not in device.config.services


def test_conflicting_version_requirements_fail_with_the_nucleus_details(fleet) -> None:
    catalog, device, thing, group_arn = fleet
    answer = catalog.deploy(group_arn, {"SomeOldService": "0.9.0", "SomeService": "1.0.0"})
    status, details = _finish(catalog, thing, answer)
    assert status == "FAILED"
    cause = details["deployment-failure-cause"]
    assert "satisfies the requirements" in cause and catalog["Mosquitto"] in cause
    assert f"{catalog['SomeService']} requires =1.0.0" in cause
    assert f"{catalog['SomeOldService']} requires =0.9.0" in cause
    assert details["deployment-error-stack"] == (
        '["DEPLOYMENT_FAILURE","NO_AVAILABLE_COMPONENT_VERSION","COMPONENT_VERSION_REQUIREMENTS_NOT_MET"]'
    )
    assert details["deployment-error-types"] == '["REQUEST_ERROR"]'
    assert details["detailed-deployment-status"] == "FAILED_NO_STATE_CHANGE"
    assert device.services == {}


def test_a_component_that_does_not_exist_fails_on_the_device(fleet) -> None:
    catalog, _device, thing, group_arn = fleet
    missing = f"XYZPackage-{uuid.uuid4()}"
    status, details = _finish(catalog, thing, catalog.deploy(group_arn, {missing: "1.0.0"}))
    assert status == "FAILED"
    assert "satisfies the requirements" in details["deployment-failure-cause"]
    assert "XYZPackage" in details["deployment-failure-cause"]
    assert details["deployment-error-stack"] == (
        '["DEPLOYMENT_FAILURE","NO_AVAILABLE_COMPONENT_VERSION","COMPONENT_VERSION_REQUIREMENTS_NOT_MET"]'
    )
    assert details["deployment-error-types"] == '["REQUEST_ERROR"]'


def test_a_broken_deployment_then_its_fix(fleet) -> None:
    catalog, device, thing, group_arn = fleet
    broken = catalog.deploy(
        group_arn,
        {"CustomerApp": "0.9.0"},
        failureHandlingPolicy="DO_NOTHING",
        componentUpdatePolicy=SKIP_NOTIFY,
        configurationValidationPolicy=VALIDATION,
    )
    status, details = _finish(catalog, thing, broken)
    assert status == "FAILED"
    assert "in broken state after deployment" in details["deployment-failure-cause"]
    assert (
        details["deployment-error-stack"]
        == '["DEPLOYMENT_FAILURE","COMPONENT_UPDATE_ERROR","COMPONENT_BROKEN"]'
    )
    assert details["deployment-error-types"] == '["USER_COMPONENT_ERROR"]'
    assert _states(device, catalog, "CustomerApp") == ["BROKEN"]

    fixed = catalog.deploy(group_arn, {"CustomerApp": "0.9.1"})
    assert _finish(catalog, thing, fixed)[0] == "SUCCEEDED"
    assert _states(device, catalog, "CustomerApp") == ["RUNNING"]


def test_a_broken_deployment_with_rollback_restores_the_previous_components(fleet) -> None:
    catalog, device, thing, group_arn = fleet
    signals = {"RedSignal": "1.0.0", "YellowSignal": "1.0.0"}
    assert _finish(catalog, thing, catalog.deploy(group_arn, signals))[0] == "SUCCEEDED"
    answer = catalog.deploy(
        group_arn,
        {**signals, "CustomerApp": "0.9.0"},
        failureHandlingPolicy="ROLLBACK",
        componentUpdatePolicy=SKIP_NOTIFY,
        configurationValidationPolicy=VALIDATION,
    )
    status, details = _finish(catalog, thing, answer)
    assert status == "FAILED"
    assert details["detailed-deployment-status"] == "FAILED_ROLLBACK_COMPLETE"
    assert wait_for(lambda: _states(device, catalog, "RedSignal", "YellowSignal") == ["FINISHED", "FINISHED"])
    assert _states(device, catalog, "CustomerApp", "Mosquitto", "GreenSignal") == ["-", "-", "-"]


def test_skip_notify_components_skips_the_update_policy_check(fleet, device_root: Path) -> None:
    catalog, device, thing, group_arn = fleet
    assert (
        _finish(catalog, thing, catalog.deploy(group_arn, {"NonDisruptableService": "1.0.0"}))[0]
        == "SUCCEEDED"
    )
    answer = catalog.deploy(
        group_arn,
        {"NonDisruptableService": "1.0.1"},
        failureHandlingPolicy="DO_NOTHING",
        componentUpdatePolicy=SKIP_NOTIFY,
        configurationValidationPolicy=VALIDATION,
    )
    assert _finish(catalog, thing, answer)[0] == "SUCCEEDED"
    assert "Deployment is configured to skip update policy check" in component_log(device_root, "greengrass")
    service = device.services[catalog["NonDisruptableService"]]
    assert str(service.state) == "RUNNING" and service.spec.version == "1.0.1"


def test_a_new_version_that_replaces_startup_by_run_drops_startup(fleet) -> None:
    catalog, device, thing, group_arn = fleet
    assert _finish(catalog, thing, catalog.deploy(group_arn, {"CustomerApp": "0.9.1"}))[0] == "SUCCEEDED"
    assert "startup" in device.config.services[catalog["CustomerApp"]]["lifecycle"]
    assert _finish(catalog, thing, catalog.deploy(group_arn, {"CustomerApp": "1.0.0"}))[0] == "SUCCEEDED"
    lifecycle = device.config.services[catalog["CustomerApp"]]["lifecycle"]
    assert "run" in lifecycle and "startup" not in lifecycle
    assert wait_for(lambda: _states(device, catalog, "CustomerApp") == ["FINISHED"])
