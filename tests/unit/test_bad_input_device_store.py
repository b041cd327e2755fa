"""A device's own store files on bad input: a corrupted or hostile ``config/effectiveConfig.yaml``
or ``deployments/current.json`` ends the device's boot (and ``device status``) in a located error
with a hint, never a traceback or a hang; so does a damaged ``run/status.json`` in ``device status``."""

from __future__ import annotations

import json
import os
import pwd
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from fake_device.nucleus.store import DeploymentRecord, EffectiveConfig, load_effective_config
from harness.cli import main
from harness.errors import HarnessError

pytestmark = pytest.mark.unit

GOOD = EffectiveConfig(thing_name="jetson-1", root_path="/greengrass/v2").to_yaml()


def alias_bomb(levels: int = 10) -> str:
    lines = ['l0: &l0 ["x","x","x","x","x","x","x","x","x"]']
    for level in range(1, levels):
        lines.append(f"l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * 9)}]")
    return "\n".join(lines) + "\n"


def _root(tmp_path: Path, config: str | None = None, record: str | None = None) -> Path:
    if config is not None:
        (tmp_path / "config").mkdir()
        (tmp_path / "config" / "effectiveConfig.yaml").write_text(config)
    if record is not None:
        (tmp_path / "deployments").mkdir()
        (tmp_path / "deployments" / "current.json").write_text(record)
    return tmp_path


def _status(root: Path) -> Result:
    return CliRunner().invoke(main, ["device", "status", "--root", str(root)])


def _config_error(tmp_path: Path, text: str) -> str:
    root = _root(tmp_path, text)
    with pytest.raises(HarnessError) as err:
        load_effective_config(root / "config" / "effectiveConfig.yaml")
    return str(err.value)


def test_a_good_effective_config_still_loads(tmp_path: Path) -> None:
    root = _root(tmp_path, GOOD)
    assert load_effective_config(root / "config" / "effectiveConfig.yaml").thing_name == "jetson-1"


def test_a_control_character_is_an_error_at_its_line_and_column(tmp_path: Path) -> None:
    text = _config_error(tmp_path, GOOD + "extra: bell\x07\n")
    line = GOOD.count("\n") + 1
    assert f"effectiveConfig.yaml:{line}:12: error: control character U+0007 in the text" in text
    assert "hint: delete it" in text


def test_an_alias_bomb_is_an_error_not_a_hang(tmp_path: Path) -> None:
    text = _config_error(tmp_path, alias_bomb())
    assert "error: the document expands to more than 100,000 values (through its aliases)" in text
    assert "hint: write the values out instead of repeating them through aliases" in text


def test_a_huge_file_is_refused_before_parsing(tmp_path: Path) -> None:
    text = _config_error(tmp_path, "pad: " + "x" * (5 << 20) + "\n")
    assert "device configuration" in text and "is 5,242,8" in text
    assert "hint:" in text


def test_malformed_yaml_is_located(tmp_path: Path) -> None:
    text = _config_error(tmp_path, "services:\n  a: [1, 2\n")
    assert "effectiveConfig.yaml:3:1: error: malformed YAML" in text


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ("- a list\n", "the document must be a YAML mapping"),
        ("services: [a, b]\n", "at /services: services must be a mapping of component names"),
        ("services:\n  com.example.App: 3\n", "at /services/com.example.App: a component's entry must be"),
        ("system: text\n", "at /system: system must be a mapping"),
    ],
)
def test_a_document_of_the_wrong_shape_is_located(tmp_path: Path, document: str, problem: str) -> None:
    text = _config_error(tmp_path, document)
    assert problem in text and "hint: " in text


def test_device_status_reports_a_hostile_config_without_a_traceback(tmp_path: Path) -> None:
    result = _status(_root(tmp_path, alias_bomb()))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "effectiveConfig.yaml:6:10: error:" in result.output and "expands to more than" in result.output


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        ("[1, 2]", "a deployment record must be a JSON object"),
        ('{"job_id": "j", "document": {}, "surprise": 1}', "unknown key surprise"),
        ('{"document": {}}', "job_id is missing"),
        ("[" * 5000 + "]" * 5000, "nested more than"),
        ('{"job_id": "j", "document": {}, "stage": 3}', "stage must be a string"),
    ],
)
def test_a_corrupted_deployment_record_is_located(tmp_path: Path, record: str, problem: str) -> None:
    root = _root(tmp_path, GOOD, record)
    with pytest.raises(HarnessError) as err:
        DeploymentRecord.load(root / "deployments" / "current.json")
    text = str(err.value)
    assert f"{root / 'deployments' / 'current.json'}" in text and problem in text and "hint: " in text
    result = _status(root)
    assert result.exit_code == 1 and "Traceback" not in result.output and problem in result.output


def test_a_record_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "current.json"
    DeploymentRecord("job-1", {"a": 1}, stage="merged", tracked=["x"]).save(path)
    loaded = DeploymentRecord.load(path)
    assert loaded is not None and loaded.job_id == "job-1" and loaded.stage == "merged"
    assert DeploymentRecord.load(tmp_path / "absent.json") is None
    assert json.loads(path.read_text())["tracked"] == ["x"]


class _Iot:
    """The two IoT calls a device makes before it reads its store (provisioning): accepted."""

    def create_thing(self, **_: object) -> None:
        return None

    def add_thing_to_thing_group(self, **_: object) -> None:
        return None


def test_the_device_refuses_to_boot_on_a_hostile_config_and_keeps_the_file(tmp_path: Path) -> None:
    from fake_device.nucleus.kernel import CoreDevice

    root = _root(tmp_path, alias_bomb())
    before = (root / "config" / "effectiveConfig.yaml").read_bytes()
    me = pwd.getpwuid(os.geteuid()).pw_name  # a component user who can reach tmp_path
    core = CoreDevice(root, "jetson-1", client_factory=lambda service: _Iot(), component_user=me)
    try:
        with pytest.raises(HarnessError) as err:
            core.boot()
    finally:
        core.stop()
    assert "effectiveConfig.yaml:6:10: error: the document expands to more than 100,000 values" in str(
        err.value
    )
    # nothing was started and the file is left as it was, for whoever looks at it
    assert (root / "config" / "effectiveConfig.yaml").read_bytes() == before


def _status_root(tmp_path: Path, status: str | bytes) -> Path:
    root = _root(tmp_path, GOOD)
    (root / "run").mkdir()
    path = root / "run" / "status.json"
    if isinstance(status, bytes):
        path.write_bytes(status)
    else:
        path.write_text(status)
    return root


@pytest.mark.parametrize(
    ("status", "problem"),
    [
        ('{"thing": "jetson-1", "pid": 12', "1:32: error: malformed JSON"),  # truncated
        ("", "1:1: error: malformed JSON"),
        ("[1, 2]", "a device status must be a JSON object"),
        ("[" * 5000 + "]" * 5000, "nested more than"),
        ('{"pid": ' + "9" * 5000 + "}", "a number too long to read"),
        ('{"pid": true}', "at /pid: pid must be a process id"),
        ('{"pid": -1}', "at /pid: pid must be a process id"),
        ('{"pid": 99999999999999999999}', "at /pid: pid must be a process id"),
        ('{"thing": ["x"]}', "at /thing: thing must be a string"),
        ('{"components": [1]}', "at /components: components must be an object"),
        ('{"components": {"com.example.App": 3}}', "at /components/com.example.App: each component"),
        (
            '{"components": {"com.example.App": {"state": {}}}}',
            "at /components/com.example.App/state: state must be a string",
        ),
        (b'{"thing": "\xff"}', "not UTF-8 text"),
    ],
)
def test_device_status_reports_a_damaged_status_file(
    tmp_path: Path, status: str | bytes, problem: str
) -> None:
    root = _status_root(tmp_path, status)
    result = _status(root)
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert str(root / "run" / "status.json") in result.output
    assert problem in result.output and "hint: " in result.output


def test_device_status_refuses_a_status_file_that_is_a_fifo(tmp_path: Path) -> None:
    root = _root(tmp_path, GOOD)
    (root / "run").mkdir()
    os.mkfifo(root / "run" / "status.json")
    result = _status(root)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "is not a regular file" in result.output


def test_device_status_reads_a_good_status_file(tmp_path: Path) -> None:
    good = EffectiveConfig(
        thing_name="jetson-1",
        services={"com.example.App": {"version": "1.0.0"}},
        group_roots={"thing/jetson-1": {"com.example.App": {"groupConfigArn": "a"}}},
    ).to_yaml()
    root = _root(tmp_path, good)
    (root / "run").mkdir()
    status = {
        "thing": "jetson-1",
        "pid": os.getpid(),
        "components": {"com.example.App": {"version": "1.0.0", "state": "RUNNING", "statusCode": ""}},
    }
    (root / "run" / "status.json").write_text(json.dumps(status))
    result = CliRunner().invoke(main, ["device", "status", "--root", str(root), "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["deviceRunning"] is True
    assert report["components"]["com.example.App"]["state"] == "RUNNING"
