"""Recipes on bad input: `lint recipe`, `lint PATH` and the AWS endpoint's CreateComponentVersion end
in a located error with a hint, never a traceback or a hang, and lint fails what no device can run."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from harness.cli import main
from harness.cloud.protocol import AwsServiceError
from harness.cloud.store import RegionState
from harness.lint.recipe import check_recipe_file, validate_recipe_text

RECIPES = Path(__file__).parent / "recipes"
HEAD = "RecipeFormatVersion: '2020-01-25'\nComponentName: com.example.Bad\nComponentVersion: 1.0.0\n"


def alias_bomb(levels: int = 10) -> str:
    """About 1 KB of YAML whose aliases expand to 9**levels values."""
    lines = ['l0: &l0 ["x","x","x","x","x","x","x","x","x"]']
    for level in range(1, levels):
        ref = f"*l{level - 1}"
        lines.append(f"l{level}: &l{level} [{', '.join([ref] * 9)}]")
    return "\n".join(lines) + "\n"


def _lint(*args: str) -> Result:
    return CliRunner().invoke(main, ["lint", *args])


def test_an_alias_bomb_is_refused_at_its_line_by_lint_recipe(tmp_path: Path) -> None:
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(HEAD + alias_bomb())
    assert len(alias_bomb()) < 1100
    result = _lint("recipe", str(recipe))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "error: the document expands to more than 100,000 values (through its aliases)" in result.output
    assert (
        f"{recipe}:" in result.output
        and "hint: write the values out instead of repeating them" in result.output
    )


def test_the_aws_endpoint_refuses_an_alias_bomb_as_inline_recipe() -> None:
    state = RegionState("123456789012", "us-east-1")
    text = (HEAD + alias_bomb()).encode()
    with pytest.raises(AwsServiceError) as err:
        state.greengrass.create_component_version(text, tags=None, client_token=None)
    assert "The recipe is not valid" in str(err.value)
    assert "expands to more than 100,000 values" in str(err.value)


def test_a_control_character_is_an_error_at_its_line_and_column(tmp_path: Path) -> None:
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(HEAD + "ComponentDescription: bell\x07here\n")
    _, report = check_recipe_file(recipe)
    (error,) = report.errors
    assert (
        error.location == "4:27" and error.message == "control character U+0007 in the text; YAML allows none"
    )
    assert "delete it" in error.hint


def test_nesting_deeper_than_the_bound_is_an_error_not_a_recursion_error(tmp_path: Path) -> None:
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(HEAD + "ComponentConfiguration: " + "[" * 600 + "]" * 600 + "\n")
    result = _lint(str(recipe))
    assert result.exit_code == 1 and "RecursionError" not in result.output
    assert "error: nested more than 100 levels deep" in result.output
    assert "hint: flatten the structure" in result.output


def test_a_recursive_alias_is_an_error(tmp_path: Path) -> None:
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(HEAD + "ComponentConfiguration: &loop\n  DefaultConfiguration: *loop\n")
    _, report = check_recipe_file(recipe)
    (error,) = report.errors
    assert "alias *loop is inside the collection it refers to (recursive)" in error.message
    assert error.location == "5:25"


def test_deep_json_is_an_error(tmp_path: Path) -> None:
    recipe = tmp_path / "recipe.json"
    recipe.write_text('{"RecipeFormatVersion": "2020-01-25", "x": ' + "[" * 5000 + "]" * 5000 + "}")
    _, report = check_recipe_file(recipe)
    assert [e.message for e in report.errors] == ["the document is nested more than 100 levels deep"]


@pytest.mark.parametrize("lifecycle_at", ["global", "manifest"])
def test_lifecycle_null_fails_lint_and_warns_elsewhere(tmp_path: Path, lifecycle_at: str) -> None:
    """`Lifecycle:` with the steps not indented under it is null: the steps are lost."""
    if lifecycle_at == "global":
        text = HEAD + "Manifests:\n  - Platform: {os: linux}\nLifecycle:\nRun: python3 app.py\n"
        where = "/Lifecycle (6:1)"
    else:
        text = HEAD + "Manifests:\n  - Platform: {os: linux}\n    Lifecycle:\n    Run: python3 app.py\n"
        where = "/Manifests/0/Lifecycle (6:5)"
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(text)
    result = _lint("recipe", str(recipe))
    assert result.exit_code == 1
    assert f"{where}: error: Lifecycle is null, so it has no steps" in result.output
    assert "hint: indent the steps under Lifecycle:" in result.output
    # the service takes it: a warning where the recipe is read for the cloud or a scenario
    loaded, report = validate_recipe_text(text, fmt="yaml")
    assert loaded is not None and any("Lifecycle is null" in w.message for w in report.warnings)


def test_the_seed_recipe_with_only_its_version_fixed_fails_lint_all(tmp_path: Path) -> None:
    result = _lint(str(RECIPES / "seed_fixed.json"))
    assert result.exit_code == 1
    assert "error: {artifacts:decompressedPath}/nvds-aws-gg: no ZIP artifact" in result.output
    assert "the script fails on every device" in result.output
    assert "package.zip → {artifacts:decompressedPath}/package/" in result.output


def test_a_non_utf8_recipe_in_a_tree_is_an_error_not_skipped(tmp_path: Path) -> None:
    recipe = tmp_path / "recipe.yaml"
    recipe.write_bytes(HEAD.encode() + b"ComponentDescription: caf\xe9\n")
    result = _lint(str(tmp_path))
    assert result.exit_code == 1, result.output
    assert "error: not UTF-8 text (invalid byte at offset" in result.output
    assert "hint: save the file as UTF-8" in result.output
    assert "(recipe 1)" in result.output


def test_a_fifo_named_as_a_recipe_is_refused_not_read(tmp_path: Path) -> None:
    fifo = tmp_path / "recipe.json"
    os.mkfifo(fifo)
    _, report = check_recipe_file(fifo)
    (error,) = report.errors
    assert error.message == "the recipe is not a regular file (a FIFO, socket or device)"
    result = _lint(str(tmp_path))  # the walk skips it without opening it
    assert result.exit_code == 0 and "1 skipped" in result.output


def test_a_huge_recipe_is_refused_before_parsing() -> None:
    text = json.dumps({"RecipeFormatVersion": "2020-01-25", "pad": "x" * (1 << 20)})
    recipe, report = validate_recipe_text(text)
    assert recipe is None
    assert [e.message for e in report.errors] == ["the recipe text is longer than 1,048,576 bytes"]


#: a whole recipe, one top-level key per entry
_PARTS = {
    "RecipeFormatVersion": "RecipeFormatVersion: '2020-01-25'\n",
    "ComponentName": "ComponentName: com.example.Bad\n",
    "ComponentVersion": "ComponentVersion: 1.0.0\n",
    "Manifests": "Manifests:\n  - Platform: {os: linux}\n    Lifecycle: {Run: echo hi}\n",
}


@pytest.mark.parametrize(
    ("missing", "example"),
    [
        ("RecipeFormatVersion", "RecipeFormatVersion: '2020-01-25'"),
        ("ComponentName", "ComponentName: com.example.Detector"),
        ("ComponentVersion", "ComponentVersion: '1.0.0'"),
        ("Manifests", "Manifests: [{Platform: {os: linux}"),
    ],
)
def test_a_missing_top_level_key_has_a_hint_with_an_example(missing: str, example: str) -> None:
    text = "".join(part for key, part in _PARTS.items() if key != missing)
    _, report = validate_recipe_text(text, source="recipe.yaml")
    (error,) = [e for e in report.errors if e.message == f"{missing} is missing"]
    assert example in error.hint, error.hint
