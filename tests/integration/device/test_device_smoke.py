"""Install → run → finish through the whole path: jobs, resolution, S3, lifecycle, status."""

from __future__ import annotations

from pathlib import Path

from fleet import Operator, component_log, running_device, unique


def test_install_run_finish(aws_endpoint, device_root: Path) -> None:
    operator = Operator(aws_endpoint)
    name = unique("com.example.Hello")
    operator.component(
        name,
        "1.0.0",
        {
            "Install": "echo installing > installed.txt",
            "Run": "cat {artifacts:decompressedPath}/app/greeting.txt; echo thing={iot:thingName}",
        },
        files={"greeting.txt": "hello from the artifact\n"},
    )
    group, group_arn = operator.group()
    thing = unique("jetson")
    with running_device(aws_endpoint, device_root, thing, group) as device:
        deployment = operator.deploy(group_arn, {name: "1.0.0"})
        result = operator.wait_deployment(thing, deployment)
        assert result["coreDeviceExecutionStatus"] == "SUCCEEDED", result
        assert result["reason"] == "SUCCESSFUL"
        assert device.services[name].state == "FINISHED"
    log = component_log(device_root, name)
    assert "hello from the artifact" in log
    assert f"thing={thing}" in log
    assert (device_root / "work" / name / "installed.txt").read_text() == "installing\n"
    installed = operator.installed(thing)
    assert installed[name]["componentVersion"] == "1.0.0"
    assert installed[name]["lifecycleState"] == "FINISHED"
