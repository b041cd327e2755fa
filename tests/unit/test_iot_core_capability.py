"""``expect_iot_core`` reads the MQTT broker the harness runs in IoT Core's place: the simulated
target has one on both backends; real AWS and a lab do not, so they refuse the step at load."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness.errors import ValidationError
from harness.scenario.load import lint_scenario, load_scenario
from harness.scenario.requirements import scenario_needs
from harness.targets.capabilities import Capability
from harness.targets.choice import TargetRequest, choose_target

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]

SCENARIO = """\
name: telemetry
devices:
  - {name: gw, thing_group: gateways}
steps:
  - kind: sleep
    seconds: 1
  - kind: expect_iot_core
    name: telemetry arrives
    topic: fleet/${device.1.thing}/telemetry
    within_s: 10
"""


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text(SCENARIO)
    return path


def test_expect_iot_core_needs_the_harness_s_broker(scenario_file: Path) -> None:
    needs = [(n.capability, n.pointer, n.line, n.what) for n in scenario_needs(load_scenario(scenario_file))]
    assert needs == [(Capability.IOT_CORE, "/steps/1", 7, "step 2 'telemetry arrives' (expect_iot_core)")]


def test_aws_target_refuses_expect_iot_core_at_load_with_step_line_and_hint(scenario_file: Path) -> None:
    with pytest.raises(ValidationError) as refused:
        load_scenario(scenario_file, TargetRequest("aws"))
    text = str(refused.value)
    assert text.startswith(f"{scenario_file} cannot run on --target aws: 1 error")
    assert (
        f"{scenario_file}:7: error: at /steps/1: step 2 'telemetry arrives' (expect_iot_core) needs "
        "IoT Core MQTT broker run by the harness, which --target aws does not have\n"
        "    hint: targets with IoT Core MQTT broker run by the harness: --target sim (either backend)"
    ) in text


@pytest.mark.parametrize("backend", ["process", "docker"])
def test_both_sim_backends_accept_expect_iot_core(scenario_file: Path, backend: str) -> None:
    assert Capability.IOT_CORE in choose_target("sim", backend=backend).capabilities
    assert lint_scenario(scenario_file, TargetRequest("sim", backend=backend)).ok


def test_a_lab_has_no_broker_the_harness_reads(tmp_path: Path) -> None:
    from harness.targets.lab.description import LabDescription

    lab = LabDescription(path=tmp_path / "lab.yaml", coordinator="127.0.0.1:20408", devices={})
    assert Capability.IOT_CORE not in lab.capabilities()


def test_lint_of_the_ipc_scenario_for_aws_names_both_iot_core_steps() -> None:
    scenario = ROOT / "scenarios" / "ipc_component.yaml"
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "lint", "scenario", "--target", "aws", str(scenario)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    out = " ".join(done.stdout.split())
    assert (
        "ipc_component.yaml:52: error: at /steps/3: step 4 'telemetry reaches IoT Core' (expect_iot_core) "
        "needs IoT Core MQTT broker run by the harness, which --target aws does not have"
    ) in out
    assert "at /steps/11: step 12 'telemetry of the new version' (expect_iot_core) needs IoT Core" in out
    assert "1 scenario, 4 errors" in out  # and the two assert_logs steps
    assert "Traceback" not in done.stderr
