"""A scenario that needs what its target cannot do is refused when it loads, naming the step."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness.errors import ValidationError
from harness.scenario.load import lint_scenario, load_scenario
from harness.scenario.requirements import scenario_needs
from harness.targets.capabilities import (
    CanPartition,
    CanPause,
    CanPowerCycle,
    Capability,
    CoreDevice,
    HasLogs,
)
from harness.targets.choice import TargetRequest, choose_target
from harness.targets.sim import SimDevice

pytestmark = pytest.mark.unit

RECIPE = """\
RecipeFormatVersion: "2020-01-25"
ComponentName: com.example.Beacon
ComponentVersion: "1.0.0"
Manifests:
  - Lifecycle:
      Run: "echo beacon; sleep 600"
"""

SCENARIO = """\
name: faults
devices:
  - {name: cam, thing_group: cams}
components:
  com.example.Beacon:
    "1.0.0": {recipe: recipe.yaml}
steps:
  - kind: deploy
    id: beacon
    target: cams
    components:
      com.example.Beacon: {version: "1.0.0"}
  - kind: assert_logs
    name: it says so
    component: com.example.Beacon
    contains: beacon
    within_s: 5
  - kind: inject
    name: pull the plug
    fault: kill_device
    device: cam-1
  - kind: inject
    name: cut the cable
    fault: partition_device
    device: cam-1
    duration_s: 3
  - kind: inject
    name: freeze it
    fault: pause_device
    device: cam-1
    duration_s: 3
    after_log: {contains: beacon}
"""


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    (tmp_path / "recipe.yaml").write_text(RECIPE)
    path = tmp_path / "scenario.yaml"
    path.write_text(SCENARIO)
    return path


def test_the_needs_of_a_scenario_name_step_and_capability(scenario_file: Path) -> None:
    needs = [(n.capability, n.pointer, n.what) for n in scenario_needs(load_scenario(scenario_file))]
    assert needs == [
        (Capability.LOGS, "/steps/1", "step 2 'it says so' (assert_logs)"),
        (Capability.POWER, "/steps/2", "step 3 'pull the plug' (inject kill_device)"),
        (Capability.PARTITION, "/steps/3", "step 4 'cut the cable' (inject partition_device)"),
        (Capability.LOGS, "/steps/4/after_log", "step 5 'freeze it' (inject pause_device)"),
        (Capability.PAUSE, "/steps/4", "step 5 'freeze it' (inject pause_device)"),
    ]


def test_aws_refuses_every_device_capability_with_the_step_and_line(scenario_file: Path) -> None:
    with pytest.raises(ValidationError) as refused:
        load_scenario(scenario_file, TargetRequest("aws"))
    text = str(refused.value)
    assert text.startswith(f"{scenario_file} cannot run on --target aws: 5 errors")
    assert (
        f"{scenario_file}:13: error: at /steps/1: step 2 'it says so' (assert_logs) needs device logs, "
        "which --target aws does not have\n    hint: targets with device logs: --target sim, --target lab"
    ) in text
    assert "at /steps/2: step 3 'pull the plug' (inject kill_device) needs power cut" in text
    assert "at /steps/4/after_log: step 5 'freeze it' (inject pause_device) needs device logs" in text


def test_the_process_runtime_refuses_only_the_partition(scenario_file: Path) -> None:
    report = lint_scenario(scenario_file, TargetRequest("sim", backend="process"))
    assert [d.message for d in report.errors] == [
        "at /steps/3: step 4 'cut the cable' (inject partition_device) needs network partition, which "
        "--target sim (process) does not have"
    ]
    assert report.errors[0].hint == (
        "targets with network partition: --target sim --backend docker, --target lab"
    )
    assert lint_scenario(scenario_file, TargetRequest("sim", backend="docker")).ok
    # without a target the file itself is all that is checked
    assert lint_scenario(scenario_file).ok


def test_lint_scenario_target_on_the_command_line(scenario_file: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "lint", "scenario", "--target", "aws", str(scenario_file)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "(inject kill_device) needs power cut, which --target aws does not have" in done.stdout
    assert "1 scenario, 5 errors, 0 warnings" in done.stdout
    assert "Traceback" not in done.stderr


def test_a_lab_target_without_a_lab_file_is_a_clear_error() -> None:
    with pytest.raises(Exception) as missing:
        choose_target("lab")
    assert str(missing.value) == (
        "--target lab needs a lab description\n  hint: give --lab FILE (docs/hil.md: the lab file)"
    )


def test_simulated_devices_have_the_capabilities_the_sim_target_claims(tmp_path: Path) -> None:
    from harness.scenario.devices import SimulatedDevice

    device = SimDevice(
        SimulatedDevice(thing="t-1", group="g", profile="x86-64-host", root=tmp_path, environment={})
    )
    for protocol in (CoreDevice, HasLogs, CanPowerCycle, CanPause, CanPartition):
        assert isinstance(device, protocol), protocol
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "greengrass.log").write_bytes(b"one\ntwo\n")
    assert device.log_sizes() == {"greengrass": 8}
    assert device.read_log("greengrass", 4) == b"two\n"
    assert device.read_log("absent") == b""
    assert Capability.PARTITION not in choose_target("sim").capabilities
    assert Capability.PARTITION in choose_target("sim", backend="docker").capabilities
    assert Capability.OWN_KAFKA not in choose_target("sim", external_kafka=True).capabilities
