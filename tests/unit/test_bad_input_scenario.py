"""Scenarios (and the other YAML documents read through harness.yamldoc) on bad input: a located
error with a hint from `lint scenario`, `lint PATH` and the loader, never a traceback or a hang."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from harness.cli import main
from harness.errors import HarnessError, ValidationError
from harness.scenario.load import lint_scenario, load_scenario
from harness.yamldoc import MAX_YAML_CHARS, YamlLimitError, check_yaml

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = (ROOT / "scenarios" / "traffic_ota.yaml").read_text(encoding="utf-8")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A scenarios folder whose relative paths (traffic/…) resolve as in the repository."""
    (tmp_path / "traffic").symlink_to(ROOT / "scenarios" / "traffic")
    return tmp_path


def write(folder: Path, text: str | bytes, name: str = "scenario.yaml") -> Path:
    path = folder / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def lint(*args: str) -> Result:
    return CliRunner().invoke(main, ["lint", *args])


def bomb(levels: int = 10) -> str:
    lines = ['b0: &b0 ["x","x","x","x","x","x","x","x","x"]']
    lines += [f"b{i}: &b{i} [{', '.join([f'*b{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def test_the_traffic_scenario_itself_passes(folder: Path) -> None:
    assert lint_scenario(write(folder, SCENARIO)).ok


@pytest.mark.parametrize(("char", "shown"), [("\x01", "U+0001"), ("\x00", "NUL"), ("\x1b", "U+001B")])
def test_a_control_character_is_an_error_at_its_line_and_column(folder: Path, char: str, shown: str) -> None:
    text = SCENARIO.replace("name: traffic", f"name: traf{char}fic", 1)
    assert text != SCENARIO
    path = write(folder, text)
    line = text[: text.index(char)].count("\n") + 1
    result = lint("scenario", str(path))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert (
        f"{path}:{line}:11: error: control character {shown} in the text; YAML allows none" in result.output
    )
    assert "hint: delete it" in result.output
    tree = lint(str(folder))  # lint PATH classifies it (not "binary, skipped") and says the same
    assert tree.exit_code == 1 and f"control character {shown}" in tree.output


def test_nesting_deeper_than_the_bound_is_an_error_in_every_entry_point(folder: Path) -> None:
    path = write(folder, SCENARIO + "extra: " + "[" * 600 + "]" * 600 + "\n")
    for result in (lint("scenario", str(path)), lint(str(path))):
        assert result.exit_code == 1 and "RecursionError" not in result.output
        assert "error: nested more than 100 levels deep" in result.output
    with pytest.raises(ValidationError, match="nested more than 100 levels deep"):
        load_scenario(path)


@pytest.mark.timeout(60)
def test_an_alias_bomb_is_refused_in_lint_scenario_and_the_loader(folder: Path) -> None:
    path = write(folder, SCENARIO + bomb())
    assert path.stat().st_size - len(SCENARIO) < 1100
    result = lint("scenario", str(path))
    assert result.exit_code == 1
    assert "error: the document expands to more than 100,000 values (through its aliases)" in result.output
    assert "hint: write the values out instead of repeating them through aliases" in result.output
    with pytest.raises(ValidationError, match="expands to more than 100,000 values"):
        load_scenario(path)


def test_a_million_devices_is_refused_with_a_hint(folder: Path) -> None:
    assert "    count: 1\n" in SCENARIO
    text = SCENARIO.replace("    count: 1\n", "    count: 1000000\n", 1)
    path = write(folder, text)
    (error,) = lint_scenario(path).errors
    assert error.message == "at /devices/0/count: 1000000 is greater than the maximum of 100"
    assert "each simulated device is a nucleus process" in error.hint
    assert error.location == f"{text[: text.index('count: 1000000')].count(chr(10)) + 1}:5"


def test_a_byte_that_is_not_utf8_is_an_error_at_its_line(folder: Path) -> None:
    path = write(folder, SCENARIO.encode().replace(b"name: traffic", b"name: caf\xe9", 1))
    (error,) = lint_scenario(path).errors
    assert error.message.startswith("not UTF-8 text (byte 0xe9 at offset")
    assert error.location.endswith(":10") and error.hint.startswith("save the file as UTF-8")


def test_a_fifo_or_a_folder_is_an_error_with_a_hint_not_a_hang(folder: Path) -> None:
    os.mkfifo(folder / "fifo.yaml")
    (error,) = lint_scenario(folder / "fifo.yaml").errors
    assert "is not a regular file (a FIFO, socket or device)" in error.message
    assert error.hint == "point at the scenario file itself"
    (error,) = lint_scenario(folder).errors
    assert "is a folder" in error.message and error.hint == "name the scenario file inside it"
    with pytest.raises(HarnessError, match="does not exist") as err:
        load_scenario(folder / "missing.yaml")
    assert err.value.hint


def test_a_document_that_is_not_a_mapping_has_a_hint(folder: Path) -> None:
    (error,) = lint_scenario(write(folder, "- just\n- a list\n")).errors
    assert error.message == "the document must be a YAML mapping"
    assert error.hint == "write 'key: value' lines at the top level"


def test_malformed_yaml_has_a_hint(folder: Path) -> None:
    (error,) = lint_scenario(write(folder, "name: x\n\tdevices: []\n")).errors
    assert error.message.startswith("malformed YAML:") and error.location == "2:1"
    assert error.hint


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("a: &a [*a]\n", "alias *a is inside the collection it refers to (recursive)"),
        ("a: " + "{x: " * 101 + "1" + "}" * 101 + "\n", "nested more than 100 levels deep"),
        (
            "a: &a " + "[" * 60 + "1" + "]" * 60 + "\nb: " + "[" * 50 + "*a" + "]" * 50 + "\n",
            "*a nests the document",
        ),
        ("x" * (MAX_YAML_CHARS + 1), "characters long; at most 1,048,576 are read"),
        ("a: b\u202ec\n", ""),  # a bidi mark is text: YAML allows it, the schema checks the value
    ],
)
def test_the_shared_yaml_check(text: str, problem: str) -> None:
    if not problem:
        check_yaml(text)
        return
    with pytest.raises(YamlLimitError) as err:
        check_yaml(text)
    assert problem in err.value.problem and err.value.hint


def test_an_alias_bomb_in_a_world_preset_or_artifact_spec_is_refused(tmp_path: Path) -> None:
    from harness.package import load_artifact_spec

    spec = write(tmp_path, "layers:\n  - source: .\n" + bomb(), "artifact.yaml")
    with pytest.raises(ValidationError, match="expands to more than 100,000 values"):
        load_artifact_spec(spec)


def test_a_device_profile_past_the_yaml_bounds_is_a_located_error(tmp_path: Path) -> None:
    from fake_device.profiles import ProfileError, load_profile

    path = write(tmp_path, "name: x\n" + bomb(), "profile.yaml")
    with pytest.raises(ProfileError) as err:
        load_profile(path)
    (error,) = err.value.report.errors
    assert "expands to more than 100,000 values" in error.message and error.location
    path = write(tmp_path, b"name: caf\xe9\n", "latin.yaml")
    with pytest.raises(ProfileError, match="not UTF-8 text"):
        load_profile(path)


def test_publishing_a_recipe_past_the_yaml_bounds_is_an_error_not_a_hang(tmp_path: Path) -> None:
    from harness.scenario.fleet import _load_recipe

    path = write(tmp_path, "RecipeFormatVersion: '2020-01-25'\n" + bomb(), "recipe.yaml")
    with pytest.raises(HarnessError, match=r"recipe\.yaml:\d+:\d+: the document expands") as err:
        _load_recipe(path)
    assert err.value.hint
