"""Bootstrap steps on a device, as ``KernelUpdateActivator`` and ``BootstrapManager`` run them.

A deployment that brings a component with a bootstrap step (new, or a new version, or a changed
step) stops every component, commits the new configuration, runs the bootstrap steps in
dependency order and restarts the nucleus (exit 100 or 0) or reboots the device (101) before the
components of the new configuration start; any other exit code — or a timeout — rolls the
deployment back whatever its failureHandlingPolicy, with the nucleus's status details. Each
script appends to one events file, so the tests read the order things happened in.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fleet import Operator, component_log, processes_with, running_device, unique, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def events(device_root: Path) -> Path:
    """A file every component script may append to (they run as the unprivileged user)."""
    path = device_root.parent.parent / "events.txt"
    path.write_text("")
    os.chmod(path, 0o666)
    return path


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def _app(events: Path, tag: str, *, bootstrap: str | None = None, marker: str = "") -> dict[str, object]:
    lifecycle: dict[str, object] = {
        "Install": f"echo {tag} install >> {events}",
        "Run": f"echo {tag} run >> {events}; sleep 600; echo {marker}",
        "Shutdown": f"echo {tag} shutdown >> {events}",
    }
    if bootstrap is not None:
        lifecycle["Bootstrap"] = f"echo {tag} bootstrap >> {events}; {bootstrap}"
    return lifecycle


def test_bootstrap_runs_with_every_component_stopped_then_the_nucleus_restarts(
    aws_endpoint, device_root: Path, events: Path
) -> None:
    operator = Operator(aws_endpoint)
    app, other = unique("com.example.Boot"), unique("com.example.Other")
    marker = unique("boot")
    operator.component(app, "1.0.0", _app(events, "app1", marker=marker))
    operator.component(app, "2.0.0", _app(events, "app2", bootstrap="exit 100", marker=marker))
    operator.component(other, "1.0.0", _app(events, "other", marker=marker))
    group, group_arn = operator.group()
    thing = unique("jetson")
    with running_device(aws_endpoint, device_root, thing, group) as device:
        first = operator.wait_deployment(thing, operator.deploy(group_arn, {app: "1.0.0", other: "1.0.0"}))
        assert first["reason"] == "SUCCESSFUL"
        events.write_text("")
        second = operator.wait_deployment(thing, operator.deploy(group_arn, {app: "2.0.0", other: "1.0.0"}))
        assert second["reason"] == "SUCCESSFUL", second
        assert device.services[app].spec.version == "2.0.0"
        assert wait_for(lambda: len(processes_with(marker)) == 2, what="both components running again")
        lines = _lines(events)
        # both stopped before the bootstrap step, both installed again after the restart
        boot = lines.index("app2 bootstrap")
        assert sorted(lines[:boot]) == ["app1 shutdown", "other shutdown"]
        assert sorted(lines[boot + 1 :]) == ["app2 install", "app2 run", "other install", "other run"]

        # the same version and bootstrap step again (a configuration change only): no bootstrap
        events.write_text("")
        merge = {
            app: {"componentVersion": "2.0.0", "configurationUpdate": {"merge": {"x": 1}}},
            other: "1.0.0",
        }
        assert operator.wait_deployment(thing, operator.deploy(group_arn, merge))["reason"] == "SUCCESSFUL"
        assert "app2 bootstrap" not in _lines(events)
    main = component_log(device_root, "greengrass")
    assert main.count("Found a list of bootstrap tasks in dependency order") == 1
    assert "Nucleus restart requested to complete bootstrap task" in main
    assert main.count("Launching Nucleus") == 2
    assert f"scriptName=services.{app}.lifecycle.Bootstrap" in component_log(device_root, app)
    assert not processes_with(marker)


def test_exit_101_reboots_the_device(aws_endpoint, device_root: Path, events: Path) -> None:
    operator = Operator(aws_endpoint)
    app = unique("com.example.Reboot")
    operator.component(app, "1.0.0", _app(events, "app", bootstrap="exit 101"))
    group, group_arn = operator.group()
    thing = unique("jetson")
    with running_device(aws_endpoint, device_root, thing, group) as device:
        leftover = device.run_path / "tmpfs-file"  # run/ is the device's tmpfs: a reboot empties it
        leftover.write_text("before the reboot")
        result = operator.wait_deployment(thing, operator.deploy(group_arn, {app: "1.0.0"}))
        assert result["reason"] == "SUCCESSFUL", result
        assert device.services[app].state == "RUNNING"
        assert not leftover.exists()
    assert _lines(events)[:3] == ["app bootstrap", "app install", "app run"]
    main = component_log(device_root, "greengrass")
    assert "device reboot requested to complete bootstrap task" in main
    assert "Rebooting host" in main and main.count("Launching Nucleus") == 2


def test_bootstrap_steps_run_in_dependency_order_across_restarts(
    aws_endpoint, device_root: Path, events: Path
) -> None:
    operator = Operator(aws_endpoint)
    base, app = unique("com.example.Base"), unique("com.example.App")
    operator.component(base, "1.0.0", _app(events, "base", bootstrap="exit 100"))
    operator.component(
        app,
        "1.0.0",
        _app(events, "app", bootstrap="exit 0"),
        dependencies={base: {"VersionRequirement": "^1.0.0"}},
    )
    group, group_arn = operator.group()
    thing = unique("jetson")
    with running_device(aws_endpoint, device_root, thing, group):
        result = operator.wait_deployment(thing, operator.deploy(group_arn, {app: "1.0.0"}))
        assert result["reason"] == "SUCCESSFUL", result
        wait_for(lambda: "app run" in _lines(events), what="app running")
        lines = _lines(events)
    # base's 100 restarts the nucleus before app's bootstrap; no component starts in between
    assert lines[:2] == ["base bootstrap", "app bootstrap"]
    assert sorted(lines[2:]) == ["app install", "app run", "base install", "base run"]
    assert lines.index("base run") < lines.index("app run")  # a HARD dependency starts first
    assert component_log(device_root, "greengrass").count("Launching Nucleus") == 3


@pytest.mark.parametrize("policy", ["ROLLBACK", "DO_NOTHING"])
def test_a_failing_bootstrap_rolls_back_whatever_the_policy(
    aws_endpoint, device_root: Path, events: Path, policy: str
) -> None:
    operator = Operator(aws_endpoint)
    app = unique("com.example.BadBoot")
    marker = unique("badboot")
    operator.component(app, "1.0.0", _app(events, "v1", marker=marker))
    operator.component(app, "1.0.1", _app(events, "v2", bootstrap="exit 3", marker=marker))
    group, group_arn = operator.group()
    thing = unique("jetson")
    with running_device(aws_endpoint, device_root, thing, group) as device:
        assert operator.wait_deployment(thing, operator.deploy(group_arn, {app: "1.0.0"}))["reason"] == (
            "SUCCESSFUL"
        )
        deployment = operator.deploy(group_arn, {app: "1.0.1"}, failure_handling=policy)
        result = operator.wait_deployment(thing, deployment)
        assert result["reason"] == "FAILED_ROLLBACK_COMPLETE", result
        assert result["statusDetails"] == {
            "errorStack": ["DEPLOYMENT_FAILURE", "COMPONENT_UPDATE_ERROR", "COMPONENT_BOOTSTRAP_ERROR"],
            "errorTypes": ["USER_COMPONENT_ERROR"],
        }
        details = operator.iot.describe_job_execution(jobId=result["iotJobId"], thingName=thing)["execution"][
            "statusDetails"
        ]["detailsMap"]
        assert (
            details["deployment-failure-cause"] == f"Fail to execute bootstrap step for {app}, exit code: 3"
        )
        assert device.services[app].spec.version == "1.0.0"
        assert wait_for(lambda: len(processes_with(marker)) == 1, what="1.0.0 running again")
    assert "v2 install" not in _lines(events) and "v2 run" not in _lines(events)
    assert "Rolling back failed deployment" in component_log(device_root, "greengrass")


def test_a_bootstrap_timeout_fails_with_component_bootstrap_timeout(aws_endpoint, device_root: Path) -> None:
    operator = Operator(aws_endpoint)
    app = unique("com.example.SlowBoot")
    operator.component(app, "1.0.0", {"Bootstrap": {"Script": "sleep 30", "Timeout": 1}, "Run": "echo never"})
    group, group_arn = operator.group()
    thing = unique("jetson")
    with running_device(aws_endpoint, device_root, thing, group) as device:
        result = operator.wait_deployment(thing, operator.deploy(group_arn, {app: "1.0.0"}))
        assert result["reason"] == "FAILED_ROLLBACK_COMPLETE", result
        assert result["statusDetails"]["errorStack"][-1] == "COMPONENT_BOOTSTRAP_TIMEOUT"
        assert app not in device.services
    assert "stdout. never" not in component_log(device_root, app)
