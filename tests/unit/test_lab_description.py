"""The lab file, what a Jetson prints (greengrass-cli, tegrastats), and lab capabilities."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from harness.errors import HarnessError, ValidationError
from harness.scenario.load import lint_scenario, load_scenario
from harness.targets.capabilities import Capability, ComponentState
from harness.targets.choice import TargetRequest
from harness.targets.lab.description import load_lab
from harness.targets.lab.readings import parse_component_list, parse_tegrastats
from harness.targets.lab.target import LabTarget

pytestmark = pytest.mark.unit

LAB = """\
lab_manager:
  kind: labgrid
  coordinator: 192.0.2.10:20408
services:
  address: 192.0.2.1
  aws: endpoint
  aws_port: 4566
devices:
  cam-1:
    place: xavier-1
    keyfile: keys/lab
    commands:
      greengrass_cli: sudo {root}/bin/greengrass-cli
  cam-2:
    place: xavier-2
    greengrass_root: /data/greengrass/v2
    power: false
"""

# aws-greengrass-cli's ComponentCommand.list, as a Jetson prints it (the Java client's log lines
# come first on some versions)
COMPONENT_LIST = """\
Jun 12, 2022 4:46:32 PM software.amazon.awssdk.eventstreamrpc.EventStreamRPCConnection$1 onConnectionSetup
INFO: Socket connection /greengrass/v2/ipc.socket:8033 to server result [AWS_ERROR_SUCCESS]
Components currently running in Greengrass:
Component Name: aws.greengrass.Nucleus
    Version: 2.12.1
    State: FINISHED
    Configuration: {"awsRegion":"us-east-1","runWithDefault":{"posixUser":"ggc_user:ggc_group"}}
Component Name: nvds-awsgg-deployment
    Version: 1.0.1
    State: RUNNING
    Configuration: {"ConnString":"10.0.0.1;9092;quickstart-events"}
Component Name: FleetStatusService
    Version: null
    State: RUNNING
    Configuration: null
"""

XAVIER = (
    "08-13-2023 10:01:02 RAM 2931/31009MB (lfb 6208x4MB) SWAP 0/15504MB (cached 0MB) "
    "CPU [2%@1190,1%@1190,0%@1190,5%@1190,off,off,off,off] EMC_FREQ 0% GR3D_FREQ 37% "
    "AO@37C GPU@37.5C Tdiode@40.25C PMIC@50C AUX@36.5C CPU@38C thermal@37.55C Tboard@37C "
    "GPU 0mW/0mW CPU 311mW/311mW SOC 1400mW/1400mW"
)
NANO_OLD = (
    "RAM 1435/3956MB (lfb 183x4MB) SWAP 0/1978MB (cached 0MB) IRAM 0/252kB(lfb 252kB) "
    "CPU [10%@1479,20%@1479,off,off] EMC_FREQ 3%@1600 GR3D_FREQ 0%@921 APE 25 PLL@31.5C CPU@33C"
)


def _lab(tmp_path: Path, text: str = LAB) -> Path:
    path = tmp_path / "lab.yaml"
    path.write_text(text)
    return path


def test_a_lab_file_is_read_with_defaults(tmp_path: Path) -> None:
    lab = load_lab(_lab(tmp_path))
    assert lab.coordinator == "192.0.2.10:20408"
    assert lab.aws_endpoint == "http://192.0.2.1:4566"
    cam1, cam2 = lab.devices["cam-1"], lab.devices["cam-2"]
    assert (cam1.place, cam1.greengrass_root, cam1.interface, cam1.power) == (
        "xavier-1",
        "/greengrass/v2",
        "eth0",
        True,
    )
    assert cam1.keyfile == str((tmp_path / "keys" / "lab").resolve())
    assert cam1.command("greengrass_cli") == "sudo /greengrass/v2/bin/greengrass-cli"
    assert cam2.command("greengrass_cli") == "/data/greengrass/v2/bin/greengrass-cli"
    assert cam2.command("reboot") == "sudo systemctl reboot"
    # one device without a power port: no power cuts on this lab
    assert Capability.POWER not in lab.capabilities()
    assert {Capability.LOGS, Capability.PARTITION, Capability.EMULATED_AWS, Capability.OWN_KAFKA} <= (
        lab.capabilities()
    )
    assert Capability.OWN_KAFKA not in lab.capabilities(external_kafka=True)


def test_lab_file_mistakes_are_located(tmp_path: Path) -> None:
    text = LAB.replace("    place: xavier-2\n", "    plaec: xavier-2\n").replace("192.0.2.1\n", "lab-host\n")
    with pytest.raises(ValidationError) as bad:
        load_lab(_lab(tmp_path, text))
    message = str(bad.value)
    assert message.startswith(f"{tmp_path / 'lab.yaml'} is not a valid lab description: 2 errors")
    assert "lab.yaml:14:3: error: at /devices/cam-2: 'place' is a required property" in message
    assert (
        "lab.yaml:15:5: error: at /devices/cam-2/plaec: unknown key 'plaec'\n    hint: did you mean 'place'?"
    ) in message
    with pytest.raises(ValidationError) as address:
        load_lab(_lab(tmp_path, LAB.replace("192.0.2.1\n", "lab-host\n")))
    assert "at /services/address: 'lab-host' is not an IPv4 address" in str(address.value)
    with pytest.raises(HarnessError, match="lab description"):
        load_lab(tmp_path / "absent.yaml")


def test_greengrass_cli_component_list_is_read() -> None:
    assert parse_component_list(COMPONENT_LIST) == [
        ComponentState("aws.greengrass.Nucleus", "2.12.1", "FINISHED"),
        ComponentState("nvds-awsgg-deployment", "1.0.1", "RUNNING"),
        ComponentState("FleetStatusService", "null", "RUNNING"),
    ]
    # the developer guide's layout, without the indentation
    assert parse_component_list("Component Name: a\nVersion: 1.0.0\nState: BROKEN\n") == [
        ComponentState("a", "1.0.0", "BROKEN")
    ]
    assert parse_component_list("Components currently running in Greengrass:\n") == []


def test_tegrastats_lines_are_read() -> None:
    sample = parse_tegrastats(XAVIER, "cam-1", received=5.0)
    assert sample is not None
    assert sample.time == datetime(2023, 8, 13, 10, 1, 2).timestamp()
    assert (sample.cpu_percent, sample.gpu_percent) == (2.0, 37.0)  # the four cores that are on
    assert (sample.ram_used_mb, sample.ram_total_mb) == (2931.0, 31009.0)
    assert sample.temperature_c == {
        "AO": 37.0, "GPU": 37.5, "Tdiode": 40.25, "PMIC": 50.0, "AUX": 36.5, "CPU": 38.0,
        "thermal": 37.55, "Tboard": 37.0,
    }  # fmt: skip
    old = parse_tegrastats(NANO_OLD, "nano", received=5.0)
    assert old is not None
    assert (old.time, old.cpu_percent, old.gpu_percent) == (5.0, 15.0, 0.0)
    assert old.temperature_c == {"PLL": 31.5, "CPU": 33.0}
    assert parse_tegrastats("tegrastats: permission denied", "cam-1") is None


def test_a_scenario_thing_missing_from_the_lab_is_named(tmp_path: Path) -> None:
    (tmp_path / "recipe.yaml").write_text(
        'RecipeFormatVersion: "2020-01-25"\nComponentName: c\nComponentVersion: "1.0.0"\n'
        'Manifests:\n  - Lifecycle:\n      Run: "sleep 60"\n'
    )
    scenario_file = tmp_path / "scenario.yaml"
    scenario_file.write_text(
        "name: s\ndevices:\n  - {name: cam, count: 3, thing_group: g}\n"
        'components:\n  c:\n    "1.0.0": {recipe: recipe.yaml}\n'
        "steps:\n  - {kind: inject, name: cut, fault: kill_device, device: cam-1}\n"
    )
    lab_file = _lab(tmp_path)
    with pytest.raises(HarnessError) as missing:
        LabTarget(load_scenario(scenario_file), tmp_path, load_lab(lab_file))
    assert missing.value.message == (
        f"the lab {lab_file.resolve()} has no device 'cam-3' (the scenario's things: cam-1, cam-2, cam-3)"
    )
    assert (missing.value.hint or "").startswith("lab devices: cam-1, cam-2;")
    # cam-2 has no power port, so kill_device is refused for this lab when the scenario loads
    report = lint_scenario(scenario_file, TargetRequest("lab", lab=lab_file))
    assert [d.message for d in report.errors] == [
        "at /steps/0: step 1 'cut' (inject kill_device) needs power cut, which --target lab does not have"
    ]
