"""Recipes the nucleus takes although a step runs nothing or cannot run, on a device.

An empty step is "Nothing done" (``GenericExternalService.run``: no command); a step map without
``script`` — a manifest step split into ``posix``/``windows`` keys, which the nucleus stopped
resolving in 2.0.3 — is "Missing script": the component is ERRORED with RUN_CONFIG_NOT_VALID,
three times, then BROKEN, and the deployment fails.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fleet import Operator, component_log, running_device, unique

pytestmark = pytest.mark.integration


def test_empty_steps_run_nothing_and_the_deployment_succeeds(aws_endpoint, device_root: Path) -> None:
    operator = Operator(aws_endpoint)
    name = unique("com.example.Empty")
    operator.component(name, "1.0.0", {"Install": None, "Run": None})
    group, group_arn = operator.group()
    thing = unique("jetson")
    with running_device(aws_endpoint, device_root, thing, group) as device:
        result = operator.wait_deployment(thing, operator.deploy(group_arn, {name: "1.0.0"}))
        assert result["reason"] == "SUCCESSFUL", result
        assert device.services[name].state == "FINISHED"
    main = component_log(device_root, "greengrass")
    assert f"{name}: generic-service-finished. Nothing done." in main
    assert "shell-runner-start" not in component_log(device_root, name)


def test_a_run_step_split_into_platform_keys_breaks_with_run_config_not_valid(
    aws_endpoint, device_root: Path
) -> None:
    operator = Operator(aws_endpoint)
    name = unique("com.example.Split")
    operator.component(name, "1.0.0", {"Run": {"posix": "echo posix-ran", "windows": "echo windows-ran"}})
    group, group_arn = operator.group()
    thing = unique("jetson")
    with running_device(aws_endpoint, device_root, thing, group) as device:
        result = operator.wait_deployment(
            thing, operator.deploy(group_arn, {name: "1.0.0"}, failure_handling="DO_NOTHING")
        )
        assert result["reason"] == "FAILED_ROLLBACK_NOT_REQUESTED", result
        assert result["statusDetails"]["errorStack"] == [
            "DEPLOYMENT_FAILURE",
            "COMPONENT_UPDATE_ERROR",
            "COMPONENT_BROKEN",
        ]
        assert result["statusDetails"]["errorTypes"] == ["USER_COMPONENT_ERROR"]
        service = device.services[name]
        assert service.state == "BROKEN" and service.status_code == "RUN_CONFIG_NOT_VALID"
    log = component_log(device_root, name)
    assert log.count("generic-service-invalid-config. Missing script.") == 3
    assert "posix-ran" not in log.replace("echo posix-ran", "")
