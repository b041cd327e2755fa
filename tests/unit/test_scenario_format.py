"""The scenario format: schema, typed model, the checks across the file, ``${…}`` references and
``edge-harness lint scenario``.

A bad scenario is asserted by what its author reads — the message and the ``line:col`` it points
at — because a finding that points nowhere is as good as none. Expected positions are found in
the scenario text itself (where the offending key starts), not copied from the loader.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.errors import DiagnosticReport, HarnessError, ValidationError
from harness.scenario import lint_scenario, load_scenario
from harness.scenario.model import (
    AccuracySpec,
    AssertLogsStep,
    ComponentDeploySpec,
    DeployStep,
    DeviceSpec,
    ExpectMessagesStep,
    ImprovesOn,
    InjectStep,
    LogTrigger,
    Predicate,
    SequenceSpec,
    ServicesSpec,
    SleepStep,
    TritonSpec,
    WaitForStep,
    WorldSpec,
)
from harness.scenario.schema import SCENARIO_SCHEMA, schema_json
from harness.scenario.variables import (
    UnknownVariableError,
    VariableSyntaxError,
    references,
    substitute,
)

ROOT = Path(__file__).resolve().parents[2]
COMPONENT = ROOT / "scenarios" / "traffic" / "components" / "nvds-awsgg-deployment"

# Every step kind and most options; recipes and artifact specs are the real ones of the traffic app.
SCENARIO = """\
# yaml-language-server: $schema=../schemas/scenario.schema.json
name: traffic-ota
description: install 1.0.0, then 1.0.1 (free text, ${not a reference})
services:
  backend: process
  kafka: {}
  aws: {}
  topics: [quickstart-events]
world: {seed: 0, seconds: 10}
devices:
  - name: jetson
    count: 2
    profile: jetson-agx-xavier
    thing_group: traffic-cams
  - name: gateway
    thing_group: lab
components:
  nvds-awsgg-deployment:
    "1.0.0":
      recipe: @C@/1.0.0/recipe.yaml
      artifact: @C@/1.0.0/artifact.yaml
    "1.0.1":
      recipe: @C@/1.0.1/recipe.yaml
      artifact: @C@/1.0.1/artifact.yaml
variables:
  topic: quickstart-events
  port: 9092
steps:
  - kind: deploy
    name: install 1.0.0
    id: v1
    target: traffic-cams
    components:
      nvds-awsgg-deployment:
        version: "1.0.0"
        configuration:
          merge: {ConnString: "${kafka.host};${kafka.port};${var.topic}", RtspPort: "${free_port.rtsp}"}
          reset: ["/RtspPort"]
    failure_handling: ROLLBACK
    timeout_s: 120
  - kind: wait_for
    deployment: v1
    status: SUCCEEDED
    timeout_s: 120
  - kind: wait_for
    component: nvds-awsgg-deployment
    state: RUNNING
    version: "1.0.0"
    devices: [jetson-1, jetson-2]
    timeout_s: 60
  - kind: expect_messages
    name: messages
    topic: ${var.topic}
    within_s: 20
    min_count: 1
    schema: minimal
    where:
      - {path: sensorId, equals: sensor-0}
      - {path: objects, min_items: 1}
      - {path: "objects[*]", matches: "^\\\\d+\\\\|"}
      - {object_label_in: [car, truck, bus, motorcycle]}
    latency: {p50_ms: 1000, p95_ms: 3000}
    accuracy: {min_roi_precision: 0.8, min_roi_recall: 0.6, max_count_error: 0.25}
    max_gap_s: 10
  - kind: assert_logs
    component: nvds-awsgg-deployment
    contains: "Launched RTSP Streaming"
    within_s: 30
    devices: any
  - kind: assert_logs
    source: greengrass
    regex: "ERROR .*deployment"
    within_s: 5
    absent: true
    from_start: true
  - kind: deploy
    name: update to 1.0.1
    target: thing:jetson-2
    components:
      nvds-awsgg-deployment: {version: "1.0.1"}
    failure_handling: DO_NOTHING
    continue_on_failure: true
  - kind: wait_for
    deployment: update to 1.0.1
    status: FAILED
    reason_contains: FAILED_ROLLBACK_NOT_REQUESTED
  - kind: inject
    fault: kill_device
    device: ${device.3.thing}
    duration_s: 5
  - kind: inject
    fault: replace_artifact
    component: nvds-awsgg-deployment
    version: "1.0.1"
    file: corrupt.zip
  - kind: wait_for
    device: jetson-1
    status: HEALTHY
  - kind: sleep
    seconds: 2.5
""".replace("@C@", str(COMPONENT))


def _write(tmp_path: Path, text: str, name: str = "scenario.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    (tmp_path / "corrupt.zip").write_bytes(b"not a zip")
    return path


def _edit(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"{old!r} is not unique in the scenario"
    return text.replace(old, new)


def _at(text: str, needle: str) -> str:
    """1-based line:col where ``needle`` (unique) starts in ``text``."""
    assert text.count(needle) == 1, f"{needle!r} is not unique in the scenario"
    before = text[: text.index(needle)]
    return f"{before.count(chr(10)) + 1}:{len(before) - before.rfind(chr(10))}"


def _errors(report: DiagnosticReport) -> list[tuple[str, str]]:
    return [(d.location, d.message) for d in report.errors]


def _assert_finding(report: DiagnosticReport, location: str, message: str, hint: str = "") -> None:
    found = [d for d in report.diagnostics if d.location == location and message in d.message]
    assert found, f"no finding at {location} with {message!r} in:\n{report.format()}"
    if hint:
        assert any(hint in d.hint for d in found), f"no hint with {hint!r} in:\n{report.format()}"


# --- the model -----------------------------------------------------------------------------------


def test_a_full_scenario_loads_into_the_model(tmp_path: Path) -> None:
    path = _write(tmp_path, SCENARIO)
    assert lint_scenario(path).diagnostics == []
    scenario = load_scenario(path)

    assert scenario.name == "traffic-ota"
    assert scenario.path == path.resolve()
    assert scenario.services == ServicesSpec(
        backend="process", kafka_external=None, topics=("quickstart-events",)
    )
    assert scenario.world == WorldSpec(seed=0, seconds=10.0)
    assert scenario.devices == (
        DeviceSpec(name="jetson", count=2, profile="jetson-agx-xavier", thing_group="traffic-cams"),
        DeviceSpec(name="gateway", count=1, profile="x86-64-host", thing_group="lab"),
    )
    assert scenario.devices[0].things == ["jetson-1", "jetson-2"]
    assert scenario.things == ["jetson-1", "jetson-2", "gateway-1"]
    assert scenario.thing_groups == ["traffic-cams", "lab"]
    assert scenario.device_of("gateway-1").thing_group == "lab"
    v100 = scenario.components["nvds-awsgg-deployment"]["1.0.0"]
    assert (v100.name, v100.version) == ("nvds-awsgg-deployment", "1.0.0")
    assert v100.recipe == COMPONENT / "1.0.0" / "recipe.yaml"
    assert v100.artifact == COMPONENT / "1.0.0" / "artifact.yaml"
    assert scenario.variables == {"topic": "quickstart-events", "port": "9092"}

    kinds = [type(step) for step in scenario.steps]
    assert kinds == [
        DeployStep,
        WaitForStep,
        WaitForStep,
        ExpectMessagesStep,
        AssertLogsStep,
        AssertLogsStep,
        DeployStep,
        WaitForStep,
        InjectStep,
        InjectStep,
        WaitForStep,
        SleepStep,
    ]
    deploy = scenario.steps[0]
    assert isinstance(deploy, DeployStep)
    assert (deploy.kind, deploy.name, deploy.id, deploy.line) == (
        "deploy",
        "install 1.0.0",
        "v1",
        _line(SCENARIO, "kind: deploy\n    name: install"),
    )
    assert deploy.target == "traffic-cams"
    assert deploy.components == {
        "nvds-awsgg-deployment": ComponentDeploySpec(
            version="1.0.0",
            merge={"ConnString": "${kafka.host};${kafka.port};${var.topic}", "RtspPort": "${free_port.rtsp}"},
            reset=("/RtspPort",),
        )
    }
    assert (deploy.failure_handling, deploy.timeout_s, deploy.continue_on_failure) == ("ROLLBACK", 120, False)

    wait_deployment = scenario.steps[1]
    assert isinstance(wait_deployment, WaitForStep)
    assert (wait_deployment.name, wait_deployment.id) == ("wait_for-1", "wait_for-1")
    assert (wait_deployment.what, wait_deployment.deployment, wait_deployment.status) == (
        "deployment",
        "v1",
        "SUCCEEDED",
    )
    assert wait_deployment.state is None and wait_deployment.devices == "all"

    wait_component = scenario.steps[2]
    assert isinstance(wait_component, WaitForStep)
    assert (wait_component.what, wait_component.component, wait_component.state, wait_component.version) == (
        "component",
        "nvds-awsgg-deployment",
        "RUNNING",
        "1.0.0",
    )
    assert wait_component.devices == ("jetson-1", "jetson-2")
    assert wait_component.status is None and wait_component.timeout_s == 60.0

    messages = scenario.steps[3]
    assert isinstance(messages, ExpectMessagesStep)
    assert (messages.topic, messages.within_s, messages.min_count, messages.min_rate_per_s) == (
        "${var.topic}",
        20.0,
        1,
        None,
    )
    assert (messages.schema, messages.match, messages.max_gap_s) == ("minimal", "all", 10.0)
    assert messages.where == (
        Predicate(path="sensorId", equals="sensor-0", line=_line(SCENARIO, "{path: sensorId")),
        Predicate(path="objects", min_items=1, line=_line(SCENARIO, "{path: objects,")),
        Predicate(path="objects[*]", matches=r"^\d+\|", line=_line(SCENARIO, '{path: "objects[*]"')),
        Predicate(
            object_label_in=("car", "truck", "bus", "motorcycle"), line=_line(SCENARIO, "{object_label_in")
        ),
    )
    assert [p.op for p in messages.where] == ["equals", "min_items", "matches", "object_label_in"]
    assert (messages.latency_p50_ms, messages.latency_p95_ms) == (1000.0, 3000.0)
    assert messages.accuracy == AccuracySpec(min_roi_precision=0.8, min_roi_recall=0.6, max_count_error=0.25)

    logs, absent = scenario.steps[4], scenario.steps[5]
    assert isinstance(logs, AssertLogsStep) and isinstance(absent, AssertLogsStep)
    assert (logs.component, logs.source, logs.contains, logs.regex, logs.devices) == (
        "nvds-awsgg-deployment",
        None,
        "Launched RTSP Streaming",
        None,
        "any",
    )
    assert (logs.absent, logs.from_start, logs.within_s) == (False, False, 30.0)
    assert (absent.source, absent.regex, absent.absent, absent.from_start) == (
        "greengrass",
        "ERROR .*deployment",
        True,
        True,
    )

    update = scenario.steps[6]
    assert isinstance(update, DeployStep)
    assert (update.id, update.target, update.failure_handling, update.timeout_s) == (
        "update to 1.0.1",
        "thing:jetson-2",
        "DO_NOTHING",
        None,
    )
    assert update.continue_on_failure is True
    assert update.components["nvds-awsgg-deployment"] == ComponentDeploySpec(version="1.0.1")
    wait_failed = scenario.steps[7]
    assert isinstance(wait_failed, WaitForStep)
    assert (wait_failed.status, wait_failed.reason_contains) == ("FAILED", "FAILED_ROLLBACK_NOT_REQUESTED")

    kill, replace = scenario.steps[8], scenario.steps[9]
    assert isinstance(kill, InjectStep) and isinstance(replace, InjectStep)
    assert (kill.fault, kill.device, kill.duration_s, kill.file) == (
        "kill_device",
        "${device.3.thing}",
        5.0,
        None,
    )
    assert (replace.fault, replace.component, replace.version) == (
        "replace_artifact",
        "nvds-awsgg-deployment",
        "1.0.1",
    )
    assert replace.file == (tmp_path / "corrupt.zip").resolve()

    device = scenario.steps[10]
    assert isinstance(device, WaitForStep)
    assert (device.what, device.status, device.devices, device.timeout_s) == (
        "device",
        "HEALTHY",
        ("jetson-1",),
        120.0,
    )
    sleep = scenario.steps[11]
    assert isinstance(sleep, SleepStep)
    assert (sleep.seconds, sleep.name, sleep.line) == (2.5, "sleep-11", _line(SCENARIO, "kind: sleep"))
    assert scenario.step("v1") is deploy and scenario.step("update to 1.0.1") is update
    assert scenario.references() == [
        "device.3.thing",
        "free_port.rtsp",
        "kafka.host",
        "kafka.port",
        "var.topic",
    ]


def _line(text: str, needle: str) -> int:
    return int(_at(text, needle).split(":")[0])


def test_paths_are_relative_to_the_scenario_file_and_defaults_are_filled_in(tmp_path: Path) -> None:
    folder = tmp_path / "scenarios"
    folder.mkdir()
    recipe = os.path.relpath(COMPONENT / "1.0.0" / "recipe.yaml", folder)
    artifact = os.path.relpath(COMPONENT / "1.0.0" / "artifact.yaml", folder)
    text = f"""\
name: small
devices: [{{name: cam, thing_group: g}}]
components:
  nvds-awsgg-deployment:
    "1.0.0": {{recipe: {recipe}, artifact: {artifact}}}
steps:
  - kind: deploy
    target: g
    components: {{nvds-awsgg-deployment: {{version: "1.0.0"}}}}
  - kind: wait_for
    deployment: deploy-0
  - kind: expect_messages
    topic: t
    within_s: 5
    min_rate_per_s: 2
    match: any
"""
    scenario = load_scenario(_write(folder, text))
    assert scenario.components["nvds-awsgg-deployment"]["1.0.0"].recipe == COMPONENT / "1.0.0" / "recipe.yaml"
    assert scenario.description == "" and scenario.world is None and scenario.variables == {}
    assert scenario.services == ServicesSpec()
    assert scenario.devices == (DeviceSpec(name="cam", thing_group="g"),)
    deploy, wait, messages = scenario.steps
    assert isinstance(deploy, DeployStep) and deploy.failure_handling == "ROLLBACK"
    assert (deploy.name, deploy.id) == ("deploy-0", "deploy-0")
    assert isinstance(wait, WaitForStep) and (wait.deployment, wait.status, wait.timeout_s) == (
        "deploy-0",
        "SUCCEEDED",
        120.0,
    )
    assert isinstance(messages, ExpectMessagesStep)
    # a rate alone does not add a count; without either the count is 1
    assert (messages.min_count, messages.min_rate_per_s, messages.match) == (None, 2.0, "any")
    assert messages.schema == "minimal" and messages.where == () and messages.accuracy is None


def test_the_repository_scenarios_are_valid() -> None:
    files = sorted((ROOT / "scenarios").glob("*.yaml"))
    if not files:
        pytest.skip("no scenarios/*.yaml yet")
    for path in files:
        report = lint_scenario(path)
        assert report.ok, report.format()


# --- schema errors -------------------------------------------------------------------------------

# (edit: old → new, where the finding points (a unique text of the edited scenario), message, hint)
SCHEMA_CASES = [
    pytest.param(
        ("ROLLBACK\n    timeout_s: 120", "ROLLBACK\n    timeout: 120"),
        "timeout: 120",
        "at /steps/0/timeout: unknown key 'timeout'",
        "did you mean 'timeout_s'?",
        id="unknown-key-at-the-key",
    ),
    pytest.param(
        ("name: traffic-ota", "name: Traffic OTA"),
        "name: Traffic OTA",
        "at /name: 'Traffic OTA' does not match '^[a-z0-9][a-z0-9-]*$'",
        "lower-case letters, digits and '-'",
        id="name-pattern",
    ),
    pytest.param(
        ("failure_handling: ROLLBACK", "failure_handling: ROLLBAK"),
        "failure_handling: ROLLBAK",
        "at /steps/0/failure_handling: 'ROLLBAK' is not one of ['ROLLBACK', 'DO_NOTHING']",
        "failureHandlingPolicy",
        id="enum",
    ),
    pytest.param(
        ("kind: sleep", "kind: slep"),
        "kind: slep",
        "at /steps/11/kind: kind 'slep' is not one of ['deploy', 'wait_for', 'expect_messages', "
        "'assert_logs', 'inject', 'sleep', 'snapshot', 'expect_iot_core', 'set_secret', 'update_shadow', "
        "'expect_shadow']",
        "did you mean 'sleep'?",
        id="unknown-kind",
    ),
    pytest.param(
        ("  - kind: sleep\n", "  - "),
        "seconds: 2.5",
        "at /steps/11: a step needs a kind",
        "kinds: deploy, wait_for",
        id="no-kind",
    ),
    pytest.param(
        ("    target: traffic-cams\n", ""),
        "kind: deploy\n    name: install",
        "at /steps/0: 'target' is a required property",
        "target: Thing group name",
        id="required",
    ),
    pytest.param(
        ("seconds: 2.5", "seconds: 0"),
        "seconds: 0",
        "at /steps/11/seconds: 0 is less than or equal to the minimum of 0",
        "How long to wait",
        id="sleep-not-positive",
    ),
    pytest.param(
        ("timeout_s: 60", "timeout_s: -1"),
        "timeout_s: -1",
        "at /steps/2/timeout_s: -1 is less than or equal to the minimum of 0",
        "Give up",
        id="timeout-not-positive",
    ),
    pytest.param(
        ("count: 2", "count: two"),
        "count: two",
        "at /devices/0/count: 'two' is not of type 'integer'",
        "How many core devices",
        id="type",
    ),
    pytest.param(
        ("aws: {}", "aws: {region: eu-west-1}"),
        "region: eu-west-1",
        "at /services/aws/region: unknown key 'region'",
        "known keys: bucket_policy, enforce",
        id="aws-unknown-key",
    ),
    pytest.param(
        ("  - kind: sleep\n    seconds: 2.5\n", "  - sleep 2.5\n"),
        "sleep 2.5",
        "at /steps/11: a step is a mapping with a kind (one of deploy, wait_for",
        "",
        id="step-not-a-mapping",
    ),
    pytest.param(
        ('reset: ["/RtspPort"]', 'reset: ["RtspPort"]'),
        '"RtspPort"]',
        "at /steps/0/components/nvds-awsgg-deployment/configuration/reset/0: 'RtspPort' does not match",
        "",
        id="reset-pointer",
    ),
]


@pytest.mark.parametrize(("edit", "where", "message", "hint"), SCHEMA_CASES)
def test_schema_errors_point_at_the_value(
    tmp_path: Path, edit: tuple[str, str], where: str, message: str, hint: str
) -> None:
    text = _edit(SCENARIO, *edit)
    report = lint_scenario(_write(tmp_path, text))
    _assert_finding(report, _at(text, where), message, hint)


def test_load_scenario_raises_with_every_problem_formatted(tmp_path: Path) -> None:
    text = _edit(SCENARIO, "ROLLBACK\n    timeout_s: 120", "ROLLBACK\n    timeout: 120")
    text = _edit(text, "seconds: 2.5", "seconds: 0")
    path = _write(tmp_path, text)
    with pytest.raises(ValidationError) as caught:
        load_scenario(path)
    message = str(caught.value)
    assert message.startswith(f"{path} is not a valid scenario: 2 errors\n")
    assert f"{path}:{_at(text, 'timeout: 120')}: error: at /steps/0/timeout: unknown key 'timeout'" in message
    assert "hint: did you mean 'timeout_s'?" in message
    # findings come in the order of the file's lines
    lines = [int(d.location.split(":")[0]) for d in caught.value.report.diagnostics]
    assert lines == sorted(lines)


def test_yaml_syntax_errors_missing_files_and_non_mappings(tmp_path: Path) -> None:
    bad = _write(tmp_path, "name: x\n  devices: [\n", "syntax.yaml")
    report = lint_scenario(bad)
    assert _errors(report) == [("2:10", "malformed YAML: mapping values are not allowed here")]
    assert [d.message for d in lint_scenario(_write(tmp_path, "- a\n", "list.yaml")).errors] == [
        "the document must be a YAML mapping"
    ]
    missing = tmp_path / "missing.yaml"
    assert [d.message for d in lint_scenario(missing).errors] == [f"scenario {missing} does not exist"]
    with pytest.raises(HarnessError, match="does not exist"):
        load_scenario(missing)


def test_a_scenario_without_devices_reports_only_that(tmp_path: Path) -> None:
    text = "name: x\nsteps:\n  - kind: sleep\n    seconds: 1\n"
    report = lint_scenario(_write(tmp_path, text))
    assert _errors(report) == [("1:1", "at /: 'devices' is a required property")]


# --- errors across the file ----------------------------------------------------------------------

SEMANTIC_CASES = [
    pytest.param(
        ('nvds-awsgg-deployment: {version: "1.0.1"}', 'nvds-awsgg-deployment: {version: "2.0.0"}'),
        'version: "2.0.0"',
        "at /steps/6/components/nvds-awsgg-deployment/version: nvds-awsgg-deployment 2.0.0 is not listed "
        "under components.nvds-awsgg-deployment",
        "listed versions: 1.0.0, 1.0.1",
        id="version-not-listed",
    ),
    pytest.param(
        ('nvds-awsgg-deployment: {version: "1.0.1"}', 'nvds-awsgg-deploymnt: {version: "1.0.1"}'),
        "nvds-awsgg-deploymnt:",
        "at /steps/6/components/nvds-awsgg-deploymnt: component 'nvds-awsgg-deploymnt' is not listed under "
        "components",
        "did you mean 'nvds-awsgg-deployment'?",
        id="component-not-listed",
    ),
    pytest.param(
        ("target: traffic-cams", "target: traffic-cam"),
        "target: traffic-cam",
        "at /steps/0/target: no device is in thing group 'traffic-cam'",
        "thing groups of the devices: traffic-cams, lab; or thing:<thing name>",
        id="unknown-thing-group",
    ),
    pytest.param(
        ("target: thing:jetson-2", "target: thing:jetson-3"),
        "target: thing:jetson-3",
        "at /steps/6/target: no thing 'jetson-3'",
        "things: jetson-1, jetson-2, gateway-1",
        id="unknown-thing",
    ),
    pytest.param(
        ("deployment: v1", "deployment: v2"),
        "deployment: v2",
        "at /steps/1/deployment: no step has the id 'v2'",
        "deploy steps before this one: v1",
        id="wait-for-unknown-id",
    ),
    pytest.param(
        ("deployment: v1", "deployment: update to 1.0.1"),
        "deployment: update to 1.0.1\n    status: SUCCEEDED",
        "at /steps/1/deployment: step 'update to 1.0.1' (/steps/6) does not come before this one",
        "deploy steps before this one: v1",
        id="wait-for-later-step",
    ),
    pytest.param(
        ("deployment: v1", "deployment: messages"),
        "deployment: messages",
        "at /steps/1/deployment: step 'messages' (/steps/3) is a expect_messages step",
        "",
        id="wait-for-not-a-deploy-step",
    ),
    pytest.param(
        ("name: update to 1.0.1", "name: update to 1.0.1\n    id: v1"),
        "id: v1\n    target: thing",
        "at /steps/6/id: step id 'v1' is already used by /steps/0",
        "give one of them another id",
        id="duplicate-id",
    ),
    pytest.param(
        ("name: messages", "name: sleep-11"),
        "kind: sleep",
        "at /steps/11: step id 'sleep-11' is already used by /steps/3",
        "",
        id="duplicate-default-id",
    ),
    pytest.param(
        ("1.0.0/recipe.yaml", "1.0.0/recipe.yml"),
        "recipe: " + str(COMPONENT) + "/1.0.0/recipe.yml",
        "at /components/nvds-awsgg-deployment/1.0.0/recipe: "
        f"recipe {COMPONENT}/1.0.0/recipe.yml does not exist",
        "relative to the folder of the scenario file",
        id="recipe-missing",
    ),
    pytest.param(
        ("1.0.1/artifact.yaml", "1.0.1/artifacts.yaml"),
        "artifact: " + str(COMPONENT) + "/1.0.1/artifacts.yaml",
        "at /components/nvds-awsgg-deployment/1.0.1/artifact: artifact spec "
        f"{COMPONENT}/1.0.1/artifacts.yaml does not exist",
        "",
        id="artifact-missing",
    ),
    pytest.param(
        ("1.0.1/recipe.yaml", "1.0.0/recipe.yaml"),
        "recipe: " + str(COMPONENT) + "/1.0.0/recipe.yaml\n      artifact: " + str(COMPONENT) + "/1.0.1",
        "at /components/nvds-awsgg-deployment/1.0.1/recipe: the recipe's ComponentVersion is '1.0.0', but it "
        "is listed under '1.0.1'",
        'list it under "1.0.0"',
        id="recipe-version-mismatch",
    ),
    pytest.param(
        ('"1.0.0":\n', "1.0:\n"),
        "1.0:",
        "at /components/nvds-awsgg-deployment/1.0: version '1.0' is not a semantic version",
        "quote them",
        id="version-key-not-semver",
    ),
    pytest.param(
        ("topic: ${var.topic}", "topic: ${var.topc}"),
        "topic: ${var.topc}",
        "at /steps/3/topic: ${var.topc}: no variable 'topc' under variables",
        "known names: var.topic, var.port, kafka.host",
        id="unknown-user-variable",
    ),
    pytest.param(
        ("${kafka.port};", "${kafka.ports};"),
        "ConnString:",
        "at /steps/0/components/nvds-awsgg-deployment/configuration/merge/ConnString: unknown variable "
        "${kafka.ports}",
        "device.<1..3>.thing",
        id="unknown-builtin",
    ),
    pytest.param(
        ("${device.3.thing}", "${device.4.thing}"),
        "device: ${device.4.thing}",
        "at /steps/8/device: ${device.4.thing}: there are 3 things, numbered from 1",
        "",
        id="device-index-out-of-range",
    ),
    pytest.param(
        ('contains: "Launched RTSP Streaming"', 'contains: "Launched ${RTSP"'),
        'contains: "Launched ${RTSP"',
        "at /steps/4/contains: '${' at character 10 of 'Launched ${RTSP' is not closed",
        "$${ for a literal",
        id="unclosed-reference",
    ),
    pytest.param(
        ("port: 9092", "port: ${var.topic}"),
        "port: ${var.topic}",
        "at /variables/port: ${var.topic}: a variable's value cannot use another variable",
        "",
        id="variable-uses-variable",
    ),
    pytest.param(
        ("profile: jetson-agx-xavier", "profile: jetson-agx"),
        "profile: jetson-agx",
        "at /devices/0/profile: no device profile 'jetson-agx'",
        "did you mean 'jetson-agx-xavier'?",
        id="unknown-profile",
    ),
    pytest.param(
        ("- name: gateway", "- name: jetson"),
        "name: jetson\n    thing_group: lab",
        "at /devices/1/name: thing 'jetson-1' is also a thing of /devices/0",
        "",
        id="duplicate-things",
    ),
    pytest.param(
        ("world: {seed: 0, seconds: 10}\n", ""),
        "accuracy:",
        "at /steps/3/accuracy: accuracy is scored against the scenario's world, and there is no world:",
        "the artifact's clip is world {seed: 0, seconds: 10}",
        id="accuracy-needs-world",
    ),
    pytest.param(
        (
            "    schema: minimal\n    where:\n      - {path: sensorId, equals: sensor-0}\n"
            "      - {path: objects, min_items: 1}\n",
            "    schema: full\n    where:\n",
        ),
        "accuracy:",
        "at /steps/3/accuracy: accuracy is scored from minimal-schema messages, and schema is full",
        "set schema: minimal",
        id="accuracy-needs-minimal",
    ),
    pytest.param(
        ("schema: minimal", "schema: none"),
        "latency:",
        "at /steps/3/latency: latency needs each message's @timestamp, and schema is none",
        "",
        id="latency-needs-a-schema",
    ),
    pytest.param(
        ("deployment: v1", "deployment: v1\n    component: nvds-awsgg-deployment"),
        "kind: wait_for\n    deployment: v1",
        "at /steps/1: a wait_for step waits for exactly one of deployment, component, device "
        "(found deployment, component)",
        "",
        id="wait-for-two-targets",
    ),
    pytest.param(
        ("status: HEALTHY", "status: SUCCEEDED\n    timeout_s: 5"),
        "status: SUCCEEDED\n    timeout_s: 5",
        "at /steps/10/status: SUCCEEDED is a deployment status, not a core device's",
        "HEALTHY, UNHEALTHY",
        id="device-status",
    ),
    pytest.param(
        ("status: FAILED", "status: UNHEALTHY"),
        "status: UNHEALTHY",
        "at /steps/7/status: UNHEALTHY is a core device status, not a deployment's",
        "",
        id="deployment-status",
    ),
    pytest.param(
        ("state: RUNNING", "status: RUNNING"),
        "status: RUNNING",
        "at /steps/2/status: 'RUNNING' is not one of",
        "",
        id="component-status-is-not-a-state",
    ),
    pytest.param(
        ("deployment: v1", "deployment: v1\n    devices: any"),
        "devices: any\n    status: SUCCEEDED",
        "at /steps/1/devices: devices is not used with deployment: every device the deployment targets is "
        "waited for",
        "thing:<thing name>",
        id="devices-with-deployment",
    ),
    pytest.param(
        ("reason_contains: FAILED_ROLLBACK_NOT_REQUESTED", "state: BROKEN"),
        "state: BROKEN",
        "at /steps/7/state: state is used only with component:, not with deployment:",
        "",
        id="state-with-deployment",
    ),
    pytest.param(
        ("{path: sensorId, equals: sensor-0}", "{path: sensorId, equals: sensor-0, matches: x}"),
        "{path: sensorId",
        "at /steps/3/where/0: a predicate has exactly one of equals, matches, min_items, object_label_in "
        "(found equals, matches)",
        "",
        id="predicate-two-operators",
    ),
    pytest.param(
        ("{path: objects, min_items: 1}", "{min_items: 1}"),
        "{min_items: 1}",
        "at /steps/3/where/1: min_items needs a path",
        "",
        id="predicate-without-path",
    ),
    pytest.param(
        ('{path: "objects[*]"', '{path: "objects[x]"'),
        'path: "objects[x]"',
        "at /steps/3/where/2/path: 'objects[x]' is not a message path",
        "objects[*]",
        id="predicate-bad-path",
    ),
    pytest.param(
        ('matches: "^\\\\d+\\\\|"', 'matches: "(["'),
        'matches: "(["',
        "at /steps/3/where/2/matches: not a regular expression:",
        "",
        id="predicate-bad-regex",
    ),
    pytest.param(
        ("{object_label_in: [car", "{path: objects, object_label_in: [car"),
        "path: objects, object_label_in",
        "at /steps/3/where/3/path: object_label_in looks at the objects of each message and takes no path",
        "",
        id="labels-take-no-path",
    ),
    pytest.param(
        ("source: greengrass", "source: greengrass\n    component: nvds-awsgg-deployment"),
        "source: greengrass",
        "at /steps/5/source: an assert_logs step has exactly one of component, source (found component, "
        "source)",
        "",
        id="logs-component-and-source",
    ),
    pytest.param(
        ('    contains: "Launched RTSP Streaming"\n', ""),
        "kind: assert_logs\n    component",
        "at /steps/4: an assert_logs step has exactly one of contains, regex",
        "contains: <text>, or regex",
        id="logs-no-text",
    ),
    pytest.param(
        ("component: nvds-awsgg-deployment\n    contains", "component: traffic\n    contains"),
        "component: traffic",
        "at /steps/4/component: component 'traffic' is not listed under components",
        "",
        id="logs-unlisted-component",
    ),
    pytest.param(
        ('regex: "ERROR .*deployment"', 'regex: "ERROR (deployment"'),
        'regex: "ERROR (deployment"',
        "at /steps/5/regex: not a regular expression: missing ), unterminated subpattern",
        "",
        id="logs-bad-regex",
    ),
    pytest.param(
        ("    device: ${device.3.thing}\n", ""),
        "kind: inject\n    fault: kill_device",
        "at /steps/8: fault kill_device needs device",
        "kill_device takes device, duration_s",
        id="inject-needs-device",
    ),
    pytest.param(
        ("fault: kill_device", "fault: stop_kafka"),
        "device: ${device.3.thing}",
        "at /steps/8/device: device is not used by fault stop_kafka",
        "stop_kafka takes duration_s",
        id="inject-key-not-used",
    ),
    pytest.param(
        ("device: ${device.3.thing}", "device: gateway-2"),
        "device: gateway-2",
        "at /steps/8/device: no thing 'gateway-2'",
        "did you mean 'gateway-1'?",
        id="inject-unknown-device",
    ),
    pytest.param(
        ("file: corrupt.zip", "file: missing.zip"),
        "file: missing.zip",
        "at /steps/9/file: file missing.zip does not exist",
        "",
        id="replace-artifact-file-missing",
    ),
    pytest.param(
        ('    version: "1.0.1"\n    file:', '    version: "1.0.2"\n    file:'),
        'version: "1.0.2"',
        "at /steps/9/version: nvds-awsgg-deployment 1.0.2 is not listed under "
        "components.nvds-awsgg-deployment",
        "",
        id="replace-artifact-unknown-version",
    ),
    pytest.param(
        ("devices: [jetson-1, jetson-2]", "devices: [jetson-1, jetson-7]"),
        "jetson-7]",
        "at /steps/2/devices/1: no thing 'jetson-7'",
        "",
        id="unknown-thing-in-devices",
    ),
]


@pytest.mark.parametrize(("edit", "where", "message", "hint"), SEMANTIC_CASES)
def test_errors_across_the_file_point_at_the_value(
    tmp_path: Path, edit: tuple[str, str], where: str, message: str, hint: str
) -> None:
    text = _edit(SCENARIO, *edit)
    report = lint_scenario(_write(tmp_path, text))
    _assert_finding(report, _at(text, where), message, hint)


def test_each_problem_is_reported_once(tmp_path: Path) -> None:
    """A value that fails the schema is not checked again across the file."""
    text = _edit(SCENARIO, "seconds: 2.5", "seconds: ${var.pause}")
    report = lint_scenario(_write(tmp_path, text))
    assert _errors(report) == [
        (_at(text, "seconds: ${var.pause}"), "at /steps/11/seconds: '${var.pause}' is not of type 'number'")
    ]


def test_an_invalid_recipe_is_reported_with_its_own_findings(tmp_path: Path) -> None:
    recipe = tmp_path / "broken" / "recipe.yaml"
    recipe.parent.mkdir()
    text = (
        (COMPONENT / "1.0.1" / "recipe.yaml")
        .read_text()
        .replace('ComponentVersion: "1.0.1"', "ComponentVersion: 1.0.xx")
    )
    recipe.write_text(text)
    scenario = _edit(SCENARIO, f"recipe: {COMPONENT}/1.0.1/recipe.yaml", "recipe: broken/recipe.yaml")
    report = lint_scenario(_write(tmp_path, scenario))
    _assert_finding(
        report,
        _at(scenario, "recipe: broken/recipe.yaml"),
        "at /components/nvds-awsgg-deployment/1.0.1/recipe: "
        "broken/recipe.yaml is not a valid recipe (1 error below)",
        "edge-harness lint recipe",
    )
    index = next(i for i, d in enumerate(report.diagnostics) if "is not a valid recipe" in d.message)
    following = report.diagnostics[index + 1]
    assert following.file == str(tmp_path / "broken" / "recipe.yaml")
    assert "ComponentVersion" in following.message


def test_recipe_name_must_be_the_key_it_is_listed_under(tmp_path: Path) -> None:
    scenario = _edit(SCENARIO, "components:\n  nvds-awsgg-deployment:\n", "components:\n  traffic-app:\n")
    report = lint_scenario(_write(tmp_path, scenario))
    _assert_finding(
        report,
        _at(scenario, f"recipe: {COMPONENT}/1.0.0"),
        "at /components/traffic-app/1.0.0/recipe: the recipe's ComponentName is 'nvds-awsgg-deployment', "
        "but it is listed under 'traffic-app'",
        "list it under components.nvds-awsgg-deployment",
    )


def test_the_artifact_must_be_the_zip_the_recipe_downloads(tmp_path: Path) -> None:
    spec = tmp_path / "artifact.yaml"
    spec.write_text("name: app\nlayers:\n  - source: corrupt.zip\n")
    renamed = _edit(SCENARIO, f"artifact: {COMPONENT}/1.0.1/artifact.yaml", "artifact: artifact.yaml")
    report = lint_scenario(_write(tmp_path, renamed))
    _assert_finding(
        report,
        _at(renamed, "artifact: artifact.yaml"),
        "at /components/nvds-awsgg-deployment/1.0.1/artifact: the artifact spec builds app.zip, "
        "but the recipe downloads s3://edge-harness-artifacts/nvds-awsgg-deployment/1.0.1/package.zip",
        "end in /app.zip",
    )
    dropped = _edit(SCENARIO, f"      artifact: {COMPONENT}/1.0.1/artifact.yaml\n", "")
    report = lint_scenario(_write(tmp_path, dropped))
    _assert_finding(
        report,
        _at(dropped, '"1.0.1":\n'),
        "at /components/nvds-awsgg-deployment/1.0.1: the recipe downloads "
        "s3://edge-harness-artifacts/nvds-awsgg-deployment/1.0.1/package.zip, but no artifact spec is given",
        "add artifact:",
    )
    # replace_artifact needs an uploaded ZIP too
    _assert_finding(
        report,
        _at(dropped, 'version: "1.0.1"\n    file'),
        "at /steps/9/version: nvds-awsgg-deployment 1.0.1 has no artifact: "
        "there is no uploaded ZIP to replace",
    )


@pytest.mark.parametrize(
    ("fault", "where", "pointer"),
    [
        ("fault: stop_kafka\n", "fault: stop_kafka", "fault"),
        ("fault: pause_service\n    service: kafka\n", "service: kafka", "service"),
    ],
)
def test_kafka_faults_need_our_own_broker(tmp_path: Path, fault: str, where: str, pointer: str) -> None:
    text = _edit(SCENARIO, "kafka: {}", 'kafka: {external: "broker:9092"}')
    text = _edit(text, "fault: kill_device\n    device: ${device.3.thing}\n", fault)
    report = lint_scenario(_write(tmp_path, text))
    name = fault.split()[1]
    assert _errors(report) == [
        (
            _at(text, where),
            f"at /steps/8/{pointer}: {name} needs the broker the scenario starts, "
            "and services.kafka is external",
        )
    ]
    _assert_finding(report, _at(text, where), name, "the harness cannot pause, stop or kill a broker")


def test_a_world_other_than_the_clips_is_a_warning(tmp_path: Path) -> None:
    text = _edit(SCENARIO, "world: {seed: 0, seconds: 10}", "world: {seed: 3, seconds: 10}")
    report = lint_scenario(_write(tmp_path, text))
    assert report.ok and len(report.warnings) == 2  # both versions play the seed-0 clip
    warning = report.warnings[0]
    assert warning.location == _at(text, "world:")
    assert warning.message == (
        "at /world: the clip of nvds-awsgg-deployment 1.0.0 is world {seed: 0, seconds: 10}, "
        "not the scenario's {seed: 3, seconds: 10}"
    )
    load_scenario(_write(tmp_path, text))  # warnings do not stop loading


# --- faults, sequences and a Triton server ------------------------------------------------------

MODELS = ROOT / "models_repo" / "B"
FAULTS = """\
name: faults
services:
  topics: [quickstart-events]
  triton: {models: @M@}
devices:
  - name: jetson
    count: 2
    thing_group: cams
components:
  nvds-awsgg-deployment:
    "1.0.1":
      recipe: @C@/1.0.1/recipe.yaml
      artifact: @C@/1.0.1/artifact.yaml
variables:
  grpc: "${triton.grpc}"
steps:
  - kind: inject
    name: power cut while installing
    fault: kill_device
    device: jetson-1
    duration_s: 2
    after_log:
      component: nvds-awsgg-deployment
      contains: "check: loading"
      within_s: 60
  - kind: inject
    fault: pause_service
    service: kafka
    duration_s: 3
    after_log: {regex: "Resolved components", device: any}
  - kind: inject
    fault: kill_service
    service: triton
  - kind: inject
    fault: stop_kafka
    duration_s: 5
  - kind: inject
    fault: s3_outage
    duration_s: 10
  - kind: inject
    fault: partition_device
    device: ${device.2.thing}
    duration_s: 15
    after_log: {contains: "Resolved components"}
  - kind: inject
    fault: pause_device
    device: jetson-2
    duration_s: 4
  - kind: inject
    fault: stop_triton
    duration_s: 1
  - kind: expect_messages
    topic: quickstart-events
    within_s: 15
    sequence: {field: id, per: sensorId, step: 30}
  - kind: expect_messages
    topic: quickstart-events
    within_s: 5
    schema: none
    sequence: {field: "frames[0].n"}
""".replace("@C@", str(COMPONENT)).replace("@M@", str(MODELS))


def test_faults_sequences_and_triton_load_into_the_model(tmp_path: Path) -> None:
    path = _write(tmp_path, FAULTS)
    assert lint_scenario(path).diagnostics == []
    scenario = load_scenario(path)
    assert scenario.services.triton == TritonSpec(models=MODELS)
    assert "triton.grpc" in scenario.references()
    steps = scenario.steps
    assert all(isinstance(step, InjectStep) for step in steps[:8])
    kill, pause, kill_triton, stop_kafka, outage, partition, pause_device, stop_triton = steps[:8]
    assert isinstance(kill, InjectStep) and kill.after_log == LogTrigger(
        contains="check: loading",
        devices=("jetson-1",),  # the step's device
        component="nvds-awsgg-deployment",
        within_s=60.0,
    )
    assert (kill.service_action, kill.service) == (None, None)
    assert isinstance(pause, InjectStep) and (pause.service, pause.service_action, pause.duration_s) == (
        "kafka",
        "pause",
        3.0,
    )
    assert pause.after_log == LogTrigger(regex="Resolved components", devices="any", within_s=120.0)
    assert isinstance(kill_triton, InjectStep)
    assert (kill_triton.service, kill_triton.service_action, kill_triton.duration_s) == (
        "triton",
        "kill",
        None,
    )
    # the legacy names are stop_service of their service
    assert isinstance(stop_kafka, InjectStep) and (stop_kafka.service, stop_kafka.service_action) == (
        "kafka",
        "stop",
    )
    assert isinstance(stop_triton, InjectStep) and (stop_triton.service, stop_triton.service_action) == (
        "triton",
        "stop",
    )
    assert isinstance(outage, InjectStep) and (outage.status, outage.duration_s, outage.service) == (
        503,
        10.0,
        None,
    )
    assert isinstance(partition, InjectStep) and partition.after_log is not None
    assert partition.after_log.devices == ("${device.2.thing}",)  # the step's device, substituted at run time
    assert isinstance(pause_device, InjectStep) and pause_device.after_log is None
    by_frame, by_counter = steps[8], steps[9]
    assert isinstance(by_frame, ExpectMessagesStep) and isinstance(by_counter, ExpectMessagesStep)
    assert by_frame.sequence == SequenceSpec(field="id", per="sensorId", step=30)
    assert by_counter.sequence == SequenceSpec(field="frames[0].n", per=None, step=1)


FAULT_SCHEMA_CASES = [
    pytest.param(
        ("fault: stop_kafka", "fault: pause_kafka"),
        "fault: pause_kafka",
        "at /steps/3/fault: 'pause_kafka' is not one of ['kill_device', 'restart_device', 'pause_device'",
        "kill_device: SIGKILL a core device",
        id="unknown-fault",
    ),
    pytest.param(
        ("service: kafka\n    duration_s: 3", "service: redis\n    duration_s: 3"),
        "service: redis",
        "at /steps/1/service: 'redis' is not one of ['kafka', 'triton', 'aws']",
        "pause_service, stop_service, kill_service: which service",
        id="unknown-service",
    ),
    pytest.param(
        ("fault: s3_outage\n    duration_s: 10", "fault: s3_outage\n    duration_s: 10\n    status: 200"),
        "status: 200",
        "at /steps/4/status: 200 is less than the minimum of 400",
        "s3_outage: the HTTP status",
        id="outage-status-not-an-error",
    ),
    pytest.param(
        ('contains: "check: loading"', 'contains: "check: loading"\n      within: 60'),
        "within: 60",
        "at /steps/0/after_log/within: unknown key 'within'",
        "did you mean 'within_s'?",
        id="after-log-unknown-key",
    ),
    pytest.param(
        ("sequence: {field: id, per: sensorId, step: 30}", "sequence: {per: sensorId}"),
        "sequence: {per: sensorId}",
        "at /steps/8/sequence: 'field' is a required property",
        "field: Path of a number in each message",
        id="sequence-needs-field",
    ),
    pytest.param(
        ("step: 30}", "step: 0}"),
        "step: 0}",
        "at /steps/8/sequence/step: 0 is less than or equal to the minimum of 0",
        "The expected increment",
        id="sequence-step-positive",
    ),
    pytest.param(
        ("triton: {models: ", "triton: {model: "),
        "model: ",
        "at /services/triton/model: unknown key 'model'",
        "did you mean 'models'?",
        id="triton-models-key",
    ),
]


@pytest.mark.parametrize(("edit", "where", "message", "hint"), FAULT_SCHEMA_CASES)
def test_fault_schema_errors_point_at_the_value(
    tmp_path: Path, edit: tuple[str, str], where: str, message: str, hint: str
) -> None:
    text = _edit(FAULTS, *edit)
    report = lint_scenario(_write(tmp_path, text))
    _assert_finding(report, _at(text, where), message, hint)


FAULT_SEMANTIC_CASES = [
    pytest.param(
        ("    device: jetson-2\n    duration_s: 4\n", "    device: jetson-2\n"),
        "kind: inject\n    fault: pause_device",
        "at /steps/6: fault pause_device needs duration_s",
        "pause_device takes device, duration_s, after_log",
        id="pause-device-needs-duration",
    ),
    pytest.param(
        ("    device: ${device.2.thing}\n    duration_s: 15\n", ""),
        "kind: inject\n    fault: partition_device",
        "at /steps/5: fault partition_device needs device, duration_s",
        "",
        id="partition-needs-device-and-duration",
    ),
    pytest.param(
        ("    fault: kill_service\n    service: triton\n", "    fault: kill_service\n"),
        "kind: inject\n    fault: kill_service",
        "at /steps/2: fault kill_service needs service",
        "kill_service takes service, duration_s, after_log",
        id="service-fault-needs-service",
    ),
    pytest.param(
        ("fault: s3_outage\n    duration_s: 10\n", "fault: s3_outage\n"),
        "kind: inject\n    fault: s3_outage",
        "at /steps/4: fault s3_outage needs duration_s",
        "s3_outage takes duration_s, status, after_log",
        id="outage-needs-duration",
    ),
    pytest.param(
        (
            "    device: jetson-2\n    duration_s: 4\n",
            "    device: jetson-2\n    duration_s: 4\n    service: kafka\n",
        ),
        "service: kafka\n  - kind: inject\n    fault: stop_triton",
        "at /steps/6/service: service is not used by fault pause_device",
        "pause_device takes device, duration_s, after_log",
        id="service-with-a-device-fault",
    ),
    pytest.param(
        ("fault: stop_kafka\n    duration_s: 5", "fault: stop_kafka\n    duration_s: 5\n    status: 503"),
        "status: 503",
        "at /steps/3/status: status is not used by fault stop_kafka",
        "",
        id="status-only-for-outages",
    ),
    pytest.param(
        ("fault: kill_service\n    service: triton", "fault: kill_service\n    service: aws"),
        "service: aws",
        "at /steps/2/service: kill_service of the AWS endpoint would lose its state",
        "pause_service with service: aws makes it stop answering and keeps its state",
        id="aws-would-lose-state",
    ),
    pytest.param(
        ('contains: "check: loading"', 'contains: "check: loading"\n      regex: check'),
        "regex: check",
        "at /steps/0/after_log/regex: after_log has exactly one of contains, regex (found contains, regex)",
        "contains: <text>, or regex: <regular expression>",
        id="after-log-contains-and-regex",
    ),
    pytest.param(
        ('{regex: "Resolved components", device: any}', "{device: any}"),
        "after_log: {device: any}",
        "at /steps/1/after_log: after_log has exactly one of contains, regex",
        "contains: <text>, or regex",
        id="after-log-neither",
    ),
    pytest.param(
        ('{regex: "Resolved components"', '{regex: "Resolved (components"'),
        'regex: "Resolved (components"',
        "at /steps/1/after_log/regex: not a regular expression: missing ), unterminated subpattern",
        "",
        id="after-log-bad-regex",
    ),
    pytest.param(
        ("component: nvds-awsgg-deployment\n      contains", "component: nvds-app\n      contains"),
        "component: nvds-app",
        "at /steps/0/after_log/component: component 'nvds-app' is not listed under components",
        "listed components: nvds-awsgg-deployment",
        id="after-log-unlisted-component",
    ),
    pytest.param(
        ("device: any}", "device: jetson-3}"),
        "device: jetson-3}",
        "at /steps/1/after_log/device: no thing 'jetson-3'",
        "did you mean 'jetson-2'? things: jetson-1, jetson-2",
        id="after-log-unknown-device",
    ),
    pytest.param(
        ("{field: id, per: sensorId, step: 30}", '{field: "objects[*]", per: sensorId, step: 30}'),
        'field: "objects[*]"',
        "at /steps/8/sequence/field: 'objects[*]' is not a path to one value of a message",
        "not [*]",
        id="sequence-field-one-value",
    ),
]


@pytest.mark.parametrize(("edit", "where", "message", "hint"), FAULT_SEMANTIC_CASES)
def test_fault_errors_across_the_file_point_at_the_value(
    tmp_path: Path, edit: tuple[str, str], where: str, message: str, hint: str
) -> None:
    text = _edit(FAULTS, *edit)
    report = lint_scenario(_write(tmp_path, text))
    _assert_finding(report, _at(text, where), message, hint)


def test_triton_faults_and_variables_need_a_declared_triton(tmp_path: Path) -> None:
    text = _edit(FAULTS, f"  triton: {{models: {MODELS}}}\n", "")
    report = lint_scenario(_write(tmp_path, text))
    assert _errors(report) == [
        (
            _at(text, 'grpc: "${triton.grpc}"'),
            "at /variables/grpc: ${triton.grpc}: the scenario starts no Triton server (services.triton)",
        ),
        (
            _at(text, "service: triton"),
            "at /steps/2/service: kill_service needs the scenario's Triton server, "
            "and services.triton is not declared",
        ),
        (
            _at(text, "fault: stop_triton"),
            "at /steps/7/fault: stop_triton needs the scenario's Triton server, "
            "and services.triton is not declared",
        ),
    ]
    _assert_finding(report, _at(text, 'grpc: "${triton.grpc}"'), "triton.grpc", "declare services: {triton:")


def test_the_triton_model_repository_must_exist_and_be_valid(tmp_path: Path) -> None:
    text = _edit(FAULTS, f"models: {MODELS}", "models: models")
    report = lint_scenario(_write(tmp_path, text))
    assert _errors(report) == [
        (
            _at(text, "models: models"),
            "at /services/triton/models: model repository models does not exist "
            f"(resolved to {tmp_path / 'models'})",
        )
    ]
    broken = tmp_path / "models" / "detector"
    (broken / "1").mkdir(parents=True)
    (broken / "config.pbtxt").write_text(
        'name: "detector"\nplatform: "onnxruntime_onnx"\nmax_batch_size: -3\n'
    )
    report = lint_scenario(_write(tmp_path, text))
    _assert_finding(
        report,
        _at(text, "models: models"),
        "at /services/triton/models: models is not a valid model repository (",
        f"edge-harness lint models {tmp_path / 'models'}",
    )
    index = next(
        i for i, d in enumerate(report.diagnostics) if "is not a valid model repository" in d.message
    )
    assert str(broken) in report.diagnostics[index + 1].file  # the repository's own findings follow


# --- the schema file -----------------------------------------------------------------------------


def test_the_schema_file_is_the_generated_schema() -> None:
    written = (ROOT / "schemas" / "scenario.schema.json").read_text()
    assert written == schema_json(), "run: python -m harness.scenario.schema > schemas/scenario.schema.json"
    jsonschema.Draft202012Validator.check_schema(json.loads(written))


def test_every_property_of_the_schema_has_a_description() -> None:
    missing: list[str] = []

    def walk(node: object, where: str) -> None:
        if isinstance(node, dict):
            for key, sub in node.get("properties", {}).items():
                if "description" not in sub:
                    missing.append(f"{where}/{key}")
            for key, sub in node.items():
                walk(sub, f"{where}/{key}")
        elif isinstance(node, list):
            for index, sub in enumerate(node):
                walk(sub, f"{where}/{index}")

    walk(SCENARIO_SCHEMA, "")
    assert missing == []
    kinds = [
        branch["properties"]["kind"]["const"]
        for branch in SCENARIO_SCHEMA["properties"]["steps"]["items"]["oneOf"]
    ]
    assert kinds == [
        "deploy",
        "wait_for",
        "expect_messages",
        "assert_logs",
        "inject",
        "sleep",
        "snapshot",
        "expect_iot_core",
        "set_secret",
        "update_shadow",
        "expect_shadow",
    ]


# --- ${…} references ----------------------------------------------------------------------------


def test_references_and_substitution() -> None:
    text = "${kafka.host};${kafka.port};${var.topic} costs $5, literal $${var.topic}"
    assert references(text) == ["kafka.host", "kafka.port", "var.topic"]
    values = {"kafka.host": "127.0.0.1", "kafka.port": "39092", "var.topic": "events"}
    assert substitute(text, values) == "127.0.0.1;39092;events costs $5, literal ${var.topic}"
    # a value is inserted as it is, not substituted again
    assert substitute("${a.b}", {"a.b": "${var.x}"}) == "${var.x}"
    assert references("no references") == [] and substitute("plain", {}) == "plain"


def test_an_unknown_name_names_it_and_lists_the_known_ones() -> None:
    with pytest.raises(UnknownVariableError) as caught:
        substitute("${var.topc}", {"var.topic": "t", "kafka.port": "1"})
    assert caught.value.name == "var.topc"
    assert caught.value.known == ["kafka.port", "var.topic"]
    assert str(caught.value) == "unknown variable ${var.topc}\n  hint: known names: kafka.port, var.topic"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a ${b", "'${' at character 3 of 'a ${b' is not closed"),
        ("${}", "${} is not a reference to a name"),
        ("${two words}", "${two words} is not a reference to a name"),
    ],
)
def test_malformed_references(text: str, message: str) -> None:
    with pytest.raises(VariableSyntaxError) as caught:
        references(text)
    assert caught.value.message == message


# --- edge-harness lint scenario ------------------------------------------------------------------


def test_cli_lint_scenario_exit_codes_and_output(tmp_path: Path) -> None:
    good = _write(tmp_path, SCENARIO, "good.yaml")
    warned = _write(
        tmp_path,
        _edit(SCENARIO, "world: {seed: 0, seconds: 10}", "world: {seed: 3, seconds: 10}"),
        "warned.yaml",
    )
    bad_text = _edit(SCENARIO, "target: traffic-cams", "target: traffic-cam")
    bad = _write(tmp_path, bad_text, "bad.yaml")
    runner = CliRunner()

    ok = runner.invoke(main, ["lint", "scenario", str(good)])
    assert ok.exit_code == 0, ok.output
    assert ok.output.strip() == "1 scenario, 0 errors, 0 warnings"
    warning = runner.invoke(main, ["lint", "scenario", str(good), str(warned)])
    assert warning.exit_code == 0 and "2 scenarios, 0 errors, 2 warnings" in warning.output
    strict = runner.invoke(main, ["lint", "scenario", "--strict", str(warned)])
    assert strict.exit_code == 1
    error = runner.invoke(main, ["lint", "scenario", str(bad)])
    assert error.exit_code == 1
    assert (
        f"{bad}:{_at(bad_text, 'target: traffic-cam')}: error: at /steps/0/target: "
        "no device is in thing group 'traffic-cam'" in error.output
    )
    assert "hint: thing groups of the devices: traffic-cams, lab" in error.output
    assert error.output.rstrip().endswith("1 scenario, 1 error, 0 warnings")


def test_cli_lint_scenario_json(tmp_path: Path) -> None:
    bad_text = _edit(SCENARIO, "target: traffic-cams", "target: traffic-cam")
    bad = _write(tmp_path, bad_text, "bad.yaml")
    result = CliRunner().invoke(main, ["lint", "scenario", "--format", "json", str(bad)])
    assert result.exit_code == 1
    findings = json.loads(result.stdout)
    assert findings == [
        {
            "severity": "error",
            "file": str(bad),
            "location": _at(bad_text, "target: traffic-cam"),
            "message": "at /steps/0/target: no device is in thing group 'traffic-cam'",
            "expected": "",
            "hint": "thing groups of the devices: traffic-cams, lab; or thing:<thing name>",
        }
    ]


# --- accuracy compared with an earlier step ------------------------------------------------------

_LATER_ACCURACY = """\
    seconds: 2.5
  - kind: expect_messages
    name: after the update
    topic: ${var.topic}
    within_s: 12
    accuracy:
      min_class_accuracy: 0.8
      improves_on: {step: @REF@, metrics: [class_accuracy, count_error]}
"""


def test_improves_on_loads_into_the_model(tmp_path: Path) -> None:
    text = _edit(SCENARIO, "    seconds: 2.5\n", _LATER_ACCURACY.replace("@REF@", "messages"))
    scenario = load_scenario(_write(tmp_path, text))
    later = scenario.steps[-1]
    assert isinstance(later, ExpectMessagesStep)
    assert later.accuracy == AccuracySpec(
        min_class_accuracy=0.8,
        improves_on=ImprovesOn(step="messages", metrics=("class_accuracy", "count_error")),
    )


@pytest.mark.parametrize(
    ("ref", "message", "hint"),
    [
        (
            "mesages",
            "no step has the id 'mesages'",
            "expect_messages steps with accuracy before this one: messages",
        ),
        (
            "v1",
            "step 'v1' (/steps/0) is a deploy step",
            "expect_messages steps with accuracy before this one",
        ),
        ("after the update", "step 'after the update' (/steps/12) does not come before this one", ""),
    ],
)
def test_improves_on_names_an_earlier_step_with_accuracy(
    tmp_path: Path, ref: str, message: str, hint: str
) -> None:
    text = _edit(SCENARIO, "    seconds: 2.5\n", _LATER_ACCURACY.replace("@REF@", ref))
    report = lint_scenario(_write(tmp_path, text))
    _assert_finding(
        report, _at(text, f"step: {ref},"), f"at /steps/12/accuracy/improves_on/step: {message}", hint
    )


def test_improves_on_a_step_without_accuracy_or_an_unknown_metric(tmp_path: Path) -> None:
    text = _edit(SCENARIO, "    seconds: 2.5\n", _LATER_ACCURACY.replace("@REF@", "messages"))
    text = _edit(
        text, "    accuracy: {min_roi_precision: 0.8, min_roi_recall: 0.6, max_count_error: 0.25}\n", ""
    )
    report = lint_scenario(_write(tmp_path, text))
    _assert_finding(
        report,
        _at(text, "step: messages,"),
        "at /steps/12/accuracy/improves_on/step: step 'messages' (/steps/3) has no accuracy",
        "no expect_messages steps with accuracy come before it",
    )
    text = _edit(SCENARIO, "    seconds: 2.5\n", _LATER_ACCURACY.replace("@REF@", "messages"))
    text = _edit(text, "metrics: [class_accuracy, count_error]", "metrics: [class_acuracy]")
    report = lint_scenario(_write(tmp_path, text))
    _assert_finding(
        report,
        _at(text, "class_acuracy]"),
        "at /steps/12/accuracy/improves_on/metrics/0: 'class_acuracy' is not one of "
        "['roi_precision', 'roi_recall', 'class_accuracy', 'count_error']",
    )


def test_images_of_the_docker_backend_load_and_a_bad_policy_points_at_it(tmp_path: Path) -> None:
    text = _edit(
        SCENARIO,
        "  backend: process\n",
        "  backend: docker\n  images: {kafka: team/kafka:7, policy: built}\n",
    )
    services = load_scenario(_write(tmp_path, text)).services
    assert (services.backend, services.images, services.image_policy) == (
        "docker",
        {"kafka": "team/kafka:7"},
        "built",
    )
    text = _edit(SCENARIO, "  backend: process\n", "  images: {policy: newest, mqtt: x}\n")
    report = lint_scenario(_write(tmp_path, text))
    _assert_finding(
        report,
        _at(text, "policy: newest"),
        "at /services/images/policy: 'newest' is not one of ['auto', 'upstream', 'built']",
    )
    _assert_finding(
        report,
        _at(text, "mqtt: x"),
        "at /services/images/mqtt: unknown key 'mqtt'",
        "known keys: aws, device, kafka, policy, triton",
    )
