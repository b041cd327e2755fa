"""A deployment whose configuration would make an effective configuration the device cannot read
back at boot fails before the merge, with nothing changed, and the device still boots.

The recipe's default configuration and the deployment's merge each pass every gate on their own
(the recipe stays under the YAML reader's 1 MiB, the job document under IoT's 32 KB); together
they take ``config/effectiveConfig.yaml`` just past 1 MiB.
"""

from __future__ import annotations

from pathlib import Path

from fleet import Operator, processes_with, running_device, unique, wait_for

from harness.yamldoc import MAX_YAML_CHARS

#: the default configuration leaves the effective configuration this far under the bound, and the
#: merge adds more than that
MARGIN = 12_000
MERGED = 20_000


def test_a_merge_past_the_readers_bound_fails_without_state_change(aws_endpoint, device_root: Path) -> None:
    operator = Operator(aws_endpoint)
    name = unique("com.example.Large")
    marker = unique("large")
    operator.component(
        name,
        "1.0.0",
        {"Run": f"sleep 600; echo {marker}"},
        defaults={"blob": "x" * (MAX_YAML_CHARS - MARGIN)},
    )
    group, group_arn = operator.group()
    thing = unique("jetson")
    config_file = device_root / "config" / "effectiveConfig.yaml"
    with running_device(aws_endpoint, device_root, thing, group) as device:
        first = operator.wait_deployment(thing, operator.deploy(group_arn, {name: "1.0.0"}))
        assert first["coreDeviceExecutionStatus"] == "SUCCEEDED", first
        assert wait_for(lambda: device.services[name].state == "RUNNING", what="1.0.0 running")
        committed = config_file.read_bytes()
        assert MAX_YAML_CHARS - MARGIN < len(committed.decode()) <= MAX_YAML_CHARS

        merge = {
            name: {"componentVersion": "1.0.0", "configurationUpdate": {"merge": {"more": "y" * MERGED}}}
        }
        result = operator.wait_deployment(thing, operator.deploy(group_arn, merge))
        assert result["coreDeviceExecutionStatus"] == "FAILED", result
        assert result["reason"] == "FAILED_NO_STATE_CHANGE"
        assert result["statusDetails"]["errorStack"] == [
            "DEPLOYMENT_FAILURE",
            "COMPONENT_CONFIGURATION_NOT_VALID",
        ]
        details = operator.iot.describe_job_execution(jobId=result["iotJobId"], thingName=thing)["execution"][
            "statusDetails"
        ]["detailsMap"]
        cause = details["deployment-failure-cause"]
        assert f"Component {name} takes about" in cause
        assert f"the device reads at most {MAX_YAML_CHARS:,} at boot" in cause
        # nothing was merged: the file, the configuration in memory, the running process
        assert config_file.read_bytes() == committed
        assert "more" not in device.config.services[name]["configuration"]
        assert device.services[name].state == "RUNNING"
        assert len(processes_with(marker)) == 1
    log = (device_root / "logs" / "greengrass.log").read_text()
    assert f"Component {name} takes about" in log

    # the device boots again on what it kept, and runs the component
    with running_device(aws_endpoint, device_root, thing, group) as device:
        assert wait_for(
            lambda: device.services[name].state == "RUNNING", what="1.0.0 running after a restart"
        )
    assert not processes_with(marker), "the device left a component process behind"
