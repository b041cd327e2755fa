"""Lifecycle steps the nucleus accepts although they run nothing or cannot run: an empty step, a
step without Script, a step split into platform keys — and the split that does work (selection
keys in the global Lifecycle).

The nucleus keeps whatever map a recipe's Lifecycle holds (component-common's recipe model is a
``Map<String, Object>``) and decides when it runs the step (``GenericExternalService.run``): no
value → nothing done; a map without ``script`` → "Missing script", ``<STEP>_CONFIG_NOT_VALID``.
So these recipes pass (with a warning that says what the device will do), and the canonical form
keeps the difference the device acts on: ``{"script": None}`` runs nothing, ``{}`` fails.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from harness.lint.recipe import parse_recipe, validate_recipe_text

pytestmark = pytest.mark.unit

HEAD = "RecipeFormatVersion: '2020-01-25'\nComponentName: com.example.Steps\nComponentVersion: '1.0.0'\n"


def _lint(text: str) -> tuple[Any, list[tuple[str, str, str]]]:
    recipe, report = validate_recipe_text(HEAD + text, source="steps.yaml")
    return recipe, [(d.severity, d.location.split(" ")[0], d.message) for d in report.diagnostics]


def test_a_step_with_no_value_is_accepted_and_runs_nothing() -> None:
    recipe, found = _lint(
        "Manifests:\n  - Platform: {os: linux}\n    Lifecycle:\n      install:\n      run:\n"
    )
    assert recipe is not None
    assert recipe.manifests[0].effective_lifecycle == {"install": {"script": None}, "run": {"script": None}}
    assert [(sev, where) for sev, where, _ in found] == [
        ("warning", "/Manifests/0/Lifecycle/install"),
        ("warning", "/Manifests/0/Lifecycle/run"),
    ]
    assert "the lifecycle step 'run' is empty: the nucleus runs nothing for it" in found[1][2]


def test_an_empty_script_is_accepted_and_runs_nothing() -> None:
    recipe, found = _lint("Manifests:\n  - Lifecycle:\n      Run:\n        Script:\n        Timeout: 5\n")
    assert recipe is not None
    assert recipe.manifests[0].effective_lifecycle == {"run": {"script": None, "timeout": 5}}
    assert found == [("warning", "/Manifests/0/Lifecycle/Run/Script", found[0][2])]
    assert "Script is empty" in found[0][2]


def test_a_step_split_into_posix_and_windows_in_a_manifest_is_accepted_and_says_it_will_not_run() -> None:
    recipe, found = _lint(
        "Manifests:\n  - Platform: {os: all}\n    Lifecycle:\n      run:\n"
        "        windows: echo w\n        posix: echo p\n"
    )
    assert recipe is not None
    # no script: the device reports RUN_CONFIG_NOT_VALID, as the nucleus does since 2.0.3
    assert recipe.manifests[0].effective_lifecycle == {"run": {}}
    (missing,) = [f for f in found if f[1] == "/Manifests/0/Lifecycle/run/Script"]
    assert missing[0] == "warning" and "RUN_CONFIG_NOT_VALID" in missing[2]
    report = validate_recipe_text(
        HEAD + "Manifests:\n  - Lifecycle:\n      run:\n        windows: a\n        posix: b\n"
    )[1]
    (hinted,) = [d for d in report.diagnostics if "Script" in d.message]
    assert "posix, windows here are not platform selectors" in hinted.hint
    assert all(d.severity == "warning" for d in report.diagnostics)


def test_a_script_split_into_platform_keys_is_accepted_with_the_same_warning() -> None:
    recipe, found = _lint(
        "Manifests:\n  - Lifecycle:\n      Install:\n        Script:\n          posix: echo p\n"
        "          windows: echo w\n"
    )
    assert recipe is not None and recipe.manifests[0].effective_lifecycle == {"install": {}}
    (finding,) = found
    assert finding[0] == "warning" and finding[1] == "/Manifests/0/Lifecycle/Install/Script"
    assert "Script is an object" in finding[2] and "INSTALL_CONFIG_NOT_VALID" in finding[2]


def test_a_bootstrap_without_script_is_said_to_fail_the_deployment() -> None:
    _, found = _lint("Manifests:\n  - Lifecycle:\n      Bootstrap:\n        RequiresPrivilege: true\n")
    (finding,) = found
    assert finding[0] == "warning" and "fails the deployment" in finding[2]


def test_posix_and_windows_work_as_selections_of_the_global_lifecycle() -> None:
    document: dict[str, Any] = {
        "RecipeFormatVersion": "2020-01-25",
        "ComponentName": "com.example.Split",
        "ComponentVersion": "1.0.0",
        "Manifests": [
            {"Platform": {"os": "linux"}, "Selections": ["posix"]},
            {"Platform": {"os": "windows"}, "Selections": ["windows"]},
        ],
        "Lifecycle": {"Run": {"posix": "echo p", "windows": "echo w"}, "Install": {"Script": {"posix": "i"}}},
    }
    recipe = parse_recipe(json.dumps(document))
    assert not recipe.warnings
    assert recipe.manifests[0].effective_lifecycle == {
        "run": {"script": "echo p"},
        "install": {"script": "i"},
    }
    # no selection matches Install's Script for windows: filterPlatform leaves an empty step,
    # which the nucleus fails (Missing script) rather than skips
    assert recipe.manifests[1].effective_lifecycle == {"run": {"script": "echo w"}, "install": {}}


def test_lint_makes_a_step_that_fails_on_every_device_an_error() -> None:
    split = "Manifests:\n  - Lifecycle:\n      Run:\n        posix: echo p\n      Shutdown: {Timeout: 5}\n"
    recipe, report = validate_recipe_text(HEAD + split, source="steps.yaml", lint=True)
    assert recipe is None
    (error,) = report.errors
    assert (
        error.location.startswith("/Manifests/0/Lifecycle/Run/Script")
        and "RUN_CONFIG_NOT_VALID" in error.message
    )
    # a shutdown without script is only logged by the nucleus: a warning even for lint
    assert any(d.location.startswith("/Manifests/0/Lifecycle/Shutdown/Script") for d in report.warnings)
    empty = validate_recipe_text(HEAD + "Manifests:\n  - Lifecycle:\n      Run:\n", source="e", lint=True)
    assert empty[0] is not None and not empty[1].errors
