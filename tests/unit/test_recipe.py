"""Greengrass component recipes: parsing JSON and YAML, the checks, the canonical form, version
ranges and ``edge-harness lint recipe``.

Bad recipes assert what a user reads: the JSON pointer of the bad field, the message and how
many errors there are, because a finding that points nowhere is as good as none.
"""

from __future__ import annotations

import json
import string
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.cli import main
from harness.errors import Diagnostic
from harness.lint.recipe import (
    Artifact,
    Dependency,
    Recipe,
    RecipeError,
    load_recipe,
    parse_recipe,
    validate_recipe_text,
)
from harness.lint.recipe_lifecycle import SelectionMap
from harness.lint.semver import (
    Version,
    intersect_requirements,
    parse_version,
    requirement_problems,
    version_satisfies,
)

pytestmark = pytest.mark.unit

RECIPES = Path(__file__).parent / "recipes"
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def errors_of(text: str | bytes, fmt: str | None = None) -> list[Diagnostic]:
    recipe, report = validate_recipe_text(text, source="r", fmt=fmt)
    assert (recipe is None) == bool(report.errors)
    return report.errors


def pointers(diagnostics: list[Diagnostic]) -> list[str]:
    """The JSON pointer part of each location (``/a/b (3:4)`` → ``/a/b``)."""
    return [d.location.split(" (")[0] for d in diagnostics]


def minimal(**overrides: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "RecipeFormatVersion": "2020-01-25",
        "ComponentName": "com.example.Minimal",
        "ComponentVersion": "1.0.0",
        "Manifests": [{"Lifecycle": {"Run": "echo hi"}}],
    }
    document.update(overrides)
    return {k: v for k, v in document.items() if v is not None}


# --- the seed's recipe ---------------------------------------------------------------------------


def test_seed_recipe_as_published_fails_with_exactly_its_two_defects() -> None:
    with pytest.raises(RecipeError) as caught:
        load_recipe(RECIPES / "seed_as_published.json")
    errors = caught.value.report.errors
    assert len(errors) == 2
    assert pointers(errors) == ["/ComponentVersion", "/Manifests/0/Artifacts/0/Unarchive"]
    version, unarchive = errors
    assert version.location == "/ComponentVersion (4:25)"
    assert "'1.0.xx' is not a semantic version" in version.message
    assert "MAJOR.MINOR.PATCH" in version.expected
    assert "'解压缩'" in unarchive.message
    assert unarchive.expected == "NONE or ZIP"
    assert "2 errors" in str(caught.value)


def test_seed_recipe_fixed_passes_and_warns_about_the_unpacked_folder() -> None:
    recipe = load_recipe(RECIPES / "seed_fixed.json")
    assert (recipe.name, recipe.version, recipe.component_type) == (
        "nvds-awsgg-deployment",
        "1.0.0",
        "aws.greengrass.generic",
    )
    assert recipe.description == "这是我第一个deepstream应用"
    assert recipe.default_configuration == {"ConnString": "localhost;9092;quickstart-events"}
    (manifest,) = recipe.manifests
    assert manifest.platform == {"os": "linux"}
    assert manifest.lifecycle["run"]["requiresprivilege"] is True
    assert manifest.lifecycle["run"]["script"].startswith("#!/bin/bash\ncd {artifacts:decompressedPath}")
    (artifact,) = manifest.artifacts
    assert artifact == Artifact("s3://your/s3/uri/package.zip", "ZIP", "ALL", "ALL", None, None)
    assert artifact.archive_folder_name == "package"
    # Greengrass unpacks package.zip into …/package/, so the Run script's cd would fail on a device.
    (warning,) = recipe.warnings
    assert warning.location.startswith("/Manifests/0/Lifecycle/Run/Script")
    assert "nvds-aws-gg" in warning.message
    assert warning.expected == "one of: package"


# --- a corpus of broken recipes ------------------------------------------------------------------

BAD_CASES: dict[str, list[tuple[str, str]]] = {
    "bad_types.json": [
        ("/ComponentName", "ComponentName must be a string, not a list"),
        ("/ComponentDependencies", "ComponentDependencies must be an object, not a list"),
        ("/Manifests", "Manifests must be a list, not an object"),
    ],
    "bad_missing.yaml": [
        ("/RecipeFormatVersion", "RecipeFormatVersion is missing"),
        ("/ComponentVersion", "ComponentVersion is missing"),
        ("/Manifests", "Manifests is missing"),
    ],
    "bad_format_version.yaml": [
        ("/RecipeFormatVersion", "RecipeFormatVersion '2021-01-25' is not supported"),
    ],
    "bad_version_number.yaml": [
        ("/ComponentVersion", "ComponentVersion must be a string, not a number"),
    ],
    "bad_version_limits.json": [
        ("/ComponentVersion", "has a number above 999999"),
    ],
    "bad_lifecycle.yaml": [
        ("/Manifests/0/Lifecycle/Instal", "unknown lifecycle step 'Instal'"),
        ("/Manifests/0/Lifecycle/Startup/Timeout", "Timeout must be positive, not 0"),
        ("/Manifests/0/Lifecycle/Run/RequiresPrivilege", "RequiresPrivilege must be true or false"),
        ("/Manifests/0/Lifecycle/Run/Skipif", "Skipif 'exist /tmp/done' is neither"),
        ("/Manifests/0/Lifecycle/Run", "both Startup and Run are defined"),
    ],
    "bad_artifacts.yaml": [
        ("/Manifests/0/Platform/name", "platform regular expression /[unclosed/ does not compile"),
        ("/Manifests/0/Selections", "Selections must be a list, not a string"),
        ("/Manifests/0/Artifacts/0/Uri", "Uri scheme 'https' is not supported"),
        ("/Manifests/0/Artifacts/1/Unarchive", "Unarchive 'TAR' is not valid"),
        ("/Manifests/0/Artifacts/2/Permission/Read", "Permission Read 'EVERYONE' is not valid"),
        ("/Manifests/0/Artifacts/3/Uri", "the artifact has no Uri"),
    ],
    "bad_dependencies.json": [
        (
            "/ComponentDependencies/aws.greengrass.Nucleus/VersionRequirement",
            "is not an npm-style version range",
        ),
        (
            "/ComponentDependencies/com.example.Model/VersionRequirement",
            "cannot parse an x after an operator",
        ),
        ("/ComponentDependencies/com.example.Model/DependencyType", "DependencyType 'STRONG' is not valid"),
        ("/ComponentDependencies/com.example.Deps", "a component cannot depend on itself"),
        ("/ComponentDependencies/com.example.Config/VersionRequirement", "has no VersionRequirement"),
    ],
    "bad_empty_manifests.yaml": [
        ("/Manifests", "Manifests is empty"),
    ],
}


@pytest.mark.parametrize("name", sorted(BAD_CASES))
def test_bad_recipe_reports_every_problem_with_its_pointer(name: str) -> None:
    recipe, report = validate_recipe_text((RECIPES / name).read_bytes(), source=name)
    assert recipe is None
    found = [(pointer, d.message) for pointer, d in zip(pointers(report.errors), report.errors, strict=True)]
    expected = BAD_CASES[name]
    assert len(found) == len(expected), report.format()
    for pointer, fragment in expected:
        assert any(p == pointer and fragment in m for p, m in found), (pointer, fragment, report.format())
    # every error says where it is in the file, not just which field
    assert all(d.location.endswith(")") for d in report.errors), report.format()


def test_every_bad_file_in_the_corpus_has_expectations() -> None:
    on_disk = {p.name for p in RECIPES.glob("bad_*")}
    assert on_disk == set(BAD_CASES) | {"bad_syntax.json", "bad_syntax_tabs.yaml"}


def test_malformed_json_names_line_and_column() -> None:
    (error,) = errors_of((RECIPES / "bad_syntax.json").read_bytes(), fmt="json")
    assert error.location == "4:3"
    assert "Expecting ',' delimiter" in error.message
    assert "missing comma" in error.hint


def test_malformed_yaml_names_line_and_column() -> None:
    (error,) = errors_of((RECIPES / "bad_syntax_tabs.yaml").read_bytes(), fmt="yaml")
    assert error.location == "4:1"
    assert "tab" in error.hint


def test_sniffed_text_that_is_broken_json_is_read_as_yaml_after_a_warning() -> None:
    # YAML's flow style takes a trailing comma; the JSON problem still comes first.
    text = json.dumps(minimal())[:-1] + ",}"
    recipe, report = validate_recipe_text(text)
    assert recipe is not None
    (warning,) = report.diagnostics
    assert warning.message.startswith("not valid JSON (Expecting property name")
    assert warning.message.endswith("read as YAML")
    # with fmt="json" it is an error
    (error,) = errors_of(text, fmt="json")
    assert error.message.startswith("invalid JSON") and error.location.startswith("1:")


def test_unknown_keys_are_warnings_and_dropped_from_the_document() -> None:
    recipe = parse_recipe(json.dumps(minimal(ComponentVersin="2.0.0", Tags={"a": "b"})))
    messages = {d.location.split(" ")[0]: d for d in recipe.warnings}
    assert messages["/ComponentVersin"].hint == "did you mean ComponentVersion?"
    assert "unknown key 'Tags'" in messages["/Tags"].message
    assert "Tags" not in recipe.document and "ComponentVersin" not in recipe.document


def test_wrong_types_at_depth_are_errors_at_their_pointer() -> None:
    document = minimal(
        Manifests=[
            {
                "Platform": ["linux"],
                "Lifecycle": {"Run": {"Script": "x", "Timeout": "soon", "Setenv": {"A": {"b": 1}}}},
                "Artifacts": "s3://b/k",
            },
            None,
        ],
        ComponentConfiguration={"DefaultConfiguration": [1, 2]},
    )
    errors = errors_of(json.dumps(document))
    assert pointers(errors) == [
        "/ComponentConfiguration/DefaultConfiguration",
        "/Manifests/0/Platform",
        "/Manifests/0/Lifecycle/Run/Timeout",
        "/Manifests/0/Lifecycle/Run/Setenv/A",
        "/Manifests/0/Artifacts",
        "/Manifests/1",
    ]


def test_duplicate_artifact_file_names_in_one_manifest() -> None:
    artifacts = [{"Uri": "s3://bucket-a/app.zip"}, {"Uri": "s3://bucket-b/v2/app.zip", "Unarchive": "ZIP"}]
    (error,) = errors_of(json.dumps(minimal(Manifests=[{"Artifacts": artifacts}])))
    assert pointers([error]) == ["/Manifests/0/Artifacts/1/Uri"]
    assert "'app.zip' is already used by artifact 0" in error.message


@pytest.mark.parametrize(
    ("uri", "fragment"),
    [
        ("S3://bucket/key", "is not s3://<bucket>/<key>"),
        ("s3://bucket", "is not s3://<bucket>/<key>"),
        ("s3://bucket/dir/", "names no object"),
        ("s3://bucket/my file.zip", "character ' '"),
        ("file:///tmp/app.zip", "scheme 'file' is not supported"),
        ("app.zip", "has no scheme"),
    ],
)
def test_bad_artifact_uris(uri: str, fragment: str) -> None:
    (error,) = errors_of(json.dumps(minimal(Manifests=[{"Artifacts": [{"Uri": uri}]}])))
    assert fragment in error.message


def test_docker_artifacts_need_the_docker_manager_dependency() -> None:
    document = minimal(Manifests=[{"Artifacts": [{"Uri": "docker:nginx:latest"}]}])
    recipe = parse_recipe(json.dumps(document))
    assert any("Docker application manager" in d.message for d in recipe.warnings)
    document["ComponentDependencies"] = {
        "aws.greengrass.DockerApplicationManager": {"VersionRequirement": "^2"}
    }
    assert not any("Docker" in d.message for d in parse_recipe(json.dumps(document)).warnings)


@pytest.mark.parametrize(
    ("step", "severity", "fragment"),
    [
        ({"Script": "x", "RequiresPrivilege": "true"}, None, ""),
        ({"Script": "x", "RequiresPrivilege": "True"}, "warning", "is read as false"),
        ({"Script": "x", "Skipif": "!exists /tmp/x"}, None, ""),
        ({"Script": "x", "Skipif": "onpath  git"}, None, ""),
        ({"Script": "x", "Skipif": "OnPath git"}, "error", "is neither"),
        ({"Script": "x", "Timeout": "30"}, None, ""),
        ({"Script": "x", "Timeout": 2.5}, "warning", "cut to 2 seconds"),
        ({"Script": "x", "Timeout": True}, "error", "whole number of seconds"),
        ({"Script": "x", "Setenv": "A=1"}, "warning", "Setenv is a string and is ignored"),
        ({"Script": "x", "Timeout": 10, "Foo": 1}, "warning", "unknown key 'Foo'"),
    ],
)
def test_lifecycle_step_fields(step: dict[str, Any], severity: str | None, fragment: str) -> None:
    _, report = validate_recipe_text(json.dumps(minimal(Manifests=[{"Lifecycle": {"Install": step}}])))
    if severity is None:
        assert report.diagnostics == []
    else:
        (finding,) = report.diagnostics
        assert finding.severity == severity and fragment in finding.message


def test_plugin_components_only_warn_about_unknown_steps() -> None:
    document = minimal(ComponentType="aws.greengrass.plugin", Manifests=[{"Lifecycle": {"Launch": "x"}}])
    recipe = parse_recipe(json.dumps(document))
    assert "unknown lifecycle step 'Launch' is ignored" in recipe.warnings[0].message


def test_non_json_python_values_in_a_document_are_errors_not_exceptions() -> None:
    recipe = parse_recipe(json.dumps(minimal()))
    with pytest.raises(RecipeError) as caught:
        recipe.with_document(
            {**recipe.document, "ComponentConfiguration": {"DefaultConfiguration": {1: {2, 3}}}}
        )
    assert "key 1 is not a string" in caught.value.report.errors[0].message


def test_bytes_that_are_not_utf8() -> None:
    (error,) = errors_of(b"RecipeFormatVersion: \xff")
    assert "not UTF-8" in error.message


# --- canonical form ------------------------------------------------------------------------------


def test_json_and_yaml_with_mixed_key_case_parse_to_the_same_recipe() -> None:
    from_json = load_recipe(RECIPES / "good_hello.json")
    from_yaml = load_recipe(RECIPES / "good_hello.yaml")
    assert from_json == from_yaml
    assert from_json.warnings == () and from_yaml.warnings == ()
    recipe = from_yaml
    assert list(recipe.document) == [
        "RecipeFormatVersion",
        "ComponentName",
        "ComponentVersion",
        "ComponentType",
        "ComponentDescription",
        "ComponentPublisher",
        "ComponentConfiguration",
        "ComponentDependencies",
        "Manifests",
        "Lifecycle",
    ]
    assert recipe.component_type == "aws.greengrass.generic"
    assert recipe.dependencies == {"aws.greengrass.Nucleus": Dependency(">=2.0.0 <3.0.0", "SOFT")}
    jetson, other = recipe.manifests
    assert jetson.lifecycle == {
        "install": {
            "script": "pip3 install -r {artifacts:decompressedPath}/app/requirements.txt",
            "skipif": "onpath pip3-never",
            "timeout": 300,
        },
        "run": {
            "script": "python3 {artifacts:decompressedPath}/app/hello.py",
            "requiresprivilege": True,
            "setenv": {"PYTHONUNBUFFERED": "1"},
        },
    }
    assert recipe.document["Manifests"][0]["Lifecycle"]["Install"]["Skipif"] == "onpath pip3-never"
    assert jetson.artifacts[0] == Artifact("s3://example-bucket/hello/app.zip", "ZIP", "ALL", "OWNER")
    assert jetson.artifacts[1] == Artifact("s3://example-bucket/hello/model.onnx")
    assert jetson.effective_lifecycle == jetson.lifecycle
    # the second manifest has no lifecycle of its own: the global one, selected by "generic"
    assert other.lifecycle == {}
    assert other.effective_lifecycle == {"run": {"script": "echo hello from {artifacts:path}"}}
    assert isinstance(recipe.lifecycle, dict) and isinstance(recipe.lifecycle, SelectionMap)


def test_yaml_date_like_format_version_stays_a_string() -> None:
    text = "RecipeFormatVersion: 2020-01-25\nComponentName: a\nComponentVersion: 1.0.0\nManifests: [{}]\n"
    recipe = parse_recipe(text)
    assert recipe.document["RecipeFormatVersion"] == "2020-01-25"
    assert "RecipeFormatVersion: '2020-01-25'" in recipe.to_yaml()
    assert parse_recipe(recipe.to_yaml()) == recipe


def test_yaml_booleans_follow_jackson_and_yaml_1_2() -> None:
    text = (
        "RecipeFormatVersion: 2020-01-25\nComponentName: a\nComponentVersion: 1.0.0\nManifests: [{}]\n"
        "ComponentConfiguration:\n  DefaultConfiguration:\n"
        "    {a: yes, b: TRUE, c: on, d: 010, e: ~, f: 2020-01-25}\n"
    )
    assert parse_recipe(text).default_configuration == {
        "a": "yes",
        "b": True,
        "c": "on",
        "d": 10,
        "e": None,
        "f": "2020-01-25",
    }


def test_yaml_infinity_is_an_error_at_its_pointer() -> None:
    text = "RecipeFormatVersion: 2020-01-25\nComponentName: a\nComponentVersion: 1.0.0\nManifests: [{}]\n"
    text += "ComponentConfiguration: {DefaultConfiguration: {Limit: .inf}}\n"
    (error,) = errors_of(text)
    assert error.location == "/ComponentConfiguration/DefaultConfiguration/Limit (5:56)"
    assert "not a JSON number" in error.message


def test_to_yaml_keeps_unicode_line_separators() -> None:
    recipe = parse_recipe(json.dumps(minimal(ComponentDescription="a\x85b\u2028c 中文")))
    assert parse_recipe(recipe.to_yaml()).description == "a\x85b\u2028c 中文"
    assert "中文" in recipe.to_yaml()


def test_repeated_keys_warn_and_the_last_wins() -> None:
    text = "RecipeFormatVersion: 2020-01-25\nComponentName: a\nComponentName: b\ncomponentversion: 1.0.0\n"
    text += "ComponentVersion: 2.0.0\nManifests: [{}]\n"
    recipe = parse_recipe(text)
    assert (recipe.name, recipe.version) == ("b", "2.0.0")
    assert len(recipe.warnings) == 2


@pytest.mark.parametrize(
    ("uri", "file_name", "folder"),
    [
        ("s3://b/dir/package.zip", "package.zip", "package"),
        ("s3://b/a.tar.zip", "a.tar.zip", "a.tar"),
        ("s3://b/README", "README", "README"),
        ("s3://b/.hidden", ".hidden", ".hidden"),
        ("greengrass:model.onnx", "model.onnx", "model"),
    ],
)
def test_artifact_file_and_archive_folder_names(uri: str, file_name: str, folder: str) -> None:
    artifact = Artifact(uri)
    assert (artifact.file_name, artifact.archive_folder_name) == (file_name, folder)


def test_with_document_rechecks_and_keeps_cloud_digests() -> None:
    recipe = load_recipe(RECIPES / "seed_fixed.json")
    document = json.loads(recipe.to_json())
    document["Manifests"][0]["Artifacts"][0].update(Digest="q83vEjRWeJA=", Algorithm="SHA-256")
    updated = recipe.with_document(document)
    assert updated.manifests[0].artifacts[0].digest == "q83vEjRWeJA="
    assert updated.document["Manifests"][0]["Artifacts"][0]["Algorithm"] == "SHA-256"
    document["ComponentVersion"] = "one"
    with pytest.raises(RecipeError):
        recipe.with_document(document)


def test_manifest_selection_follows_platform_helper() -> None:
    document = minimal(
        Manifests=[
            {"Name": "windows", "Platform": {"os": "windows"}},
            {"Name": "jetson", "Platform": {"os": "linux", "architecture": "/aarch64|arm/"}},
            {"Name": "any-linux", "Platform": {"os": "linux", "runtime": "*"}},
        ]
    )
    recipe = parse_recipe(json.dumps(document))
    assert recipe.select_manifest({"os": "linux", "architecture": "aarch64"}).name == "jetson"
    assert recipe.select_manifest({"os": "linux", "architecture": "amd64"}).name == "any-linux"
    assert recipe.select_manifest({"os": "darwin", "architecture": "amd64"}) is None


def test_global_lifecycle_selection_and_stray_keys() -> None:
    document = minimal(
        Manifests=[{"Selections": ["jetson"]}, {}],
        Lifecycle={
            "jetson": {"Run": "jetson-run"},
            "all": {"Run": "generic-run", "Install": "x"},
            "Run": "y",
        },
    )
    recipe = parse_recipe(json.dumps(document))
    assert [m.effective_lifecycle for m in recipe.manifests] == [
        {"run": {"script": "jetson-run"}},
        {"run": {"script": "generic-run"}, "install": {"script": "x"}},
    ]
    (warning,) = recipe.warnings
    assert (
        warning.location.startswith("/Lifecycle/Run (") and "stands beside selection keys" in warning.message
    )


# --- versions and ranges -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("1.0.0", True),
        ("0.0.1-alpha.1+build.7", True),
        ("999999.999999.999999", True),
        ("1000000.0.0", False),
        ("1.0", False),
        ("1.0.xx", False),
        ("01.0.0", False),
        ("1.0.0.0", False),
        ("v1.0.0", False),
        ("1.0.0-", False),
        ("1." + "0" * 70 + ".0", False),
    ],
)
def test_parse_version(text: str, ok: bool) -> None:
    if ok:
        assert str(parse_version(text)) == text
    else:
        with pytest.raises(ValueError):
            parse_version(text)


def test_version_precedence_follows_semver() -> None:
    ordered = [
        "1.0.0-2",
        "1.0.0-10",
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-beta",
        "1.0.0-rc.1",
        "1.0.0",
        "1.0.1",
    ]
    assert [str(v) for v in sorted(parse_version(t) for t in reversed(ordered))] == ordered
    assert parse_version("1.0.0+a") == parse_version("1.0.0+b")
    assert isinstance(parse_version("1.2.3"), Version)


@pytest.mark.parametrize(
    ("requirement", "version", "nucleus", "npm"),
    [
        ("^1.0.0", "1.9.3", True, True),
        ("^1.0.0", "2.0.0", False, False),
        ("^0.2.3", "0.2.9", True, True),
        ("^0.2.3", "0.3.0", False, False),
        ("~1.2", "1.2.9", True, True),
        ("~1.2", "1.3.0", False, False),
        ("~1.2.3", "1.2.2", False, False),
        (">=1.0.0 <2.0.0", "1.5.0", True, True),
        (">=1.0.0 <2.0.0", "2.0.0", False, False),
        ("1.x", "1.99.0", True, True),
        ("1.x", "2.0.0", False, False),
        ("1.2.x", "1.2.7", True, True),
        ("*", "7.0.0", True, True),
        ("", "7.0.0", True, True),
        ("^1.0.0 || ^3.0.0", "3.1.0", True, True),
        ("^1.0.0 || ^3.0.0", "2.1.0", False, False),
        ("1.0.0 - 2.0.0", "2.0.0", True, True),
        ("1.0.0 - 2", "2.9.9", True, True),
        ("1.2.3", "1.2.3", True, True),
        ("=1.2.3", "1.2.4", False, False),
        # prereleases: excluded unless a comparator names the same tuple with a prerelease ...
        ("^1.0.0", "1.5.0-beta", False, False),
        (">=1.0.0 <2.0.0", "2.0.0-beta", False, False),
        ("^1.2.3-beta.2", "1.2.3-beta.10", True, True),
        ("^1.2.3-beta.2", "1.2.4-beta", False, False),
        # ... but semver4j skips that rule for a single comparator, npm does not
        ("*", "1.0.0-alpha", True, False),
        (">=1.0.0", "2.0.0-beta", True, False),
        ("<2.0.0", "1.0.0-rc.1", True, False),
    ],
)
def test_version_satisfies(requirement: str, version: str, nucleus: bool, npm: bool) -> None:
    assert version_satisfies(version, requirement) is nucleus
    assert version_satisfies(version, requirement, semantics="npm") is npm


@pytest.mark.parametrize(
    ("requirement", "expected"),
    [
        ("^1.0.0", []),
        (">=1.0.0 <2.0.0 || 3.x", []),
        ("latest", ["error"]),
        ("one", ["error"]),
        (">=1.x", ["error"]),
        (">1.2", ["warning"]),
        ("1.0.0-1", ["warning"]),
    ],
)
def test_requirement_problems(requirement: str, expected: list[str]) -> None:
    assert [severity for severity, _, _ in requirement_problems(requirement)] == expected


def test_intersect_requirements_picks_the_highest_common_version() -> None:
    candidates = ["1.0.0", "1.2.0", "1.9.0", "1.10.0", "2.0.0", "2.1.0-beta"]
    combined = intersect_requirements(["^1.0.0", ">=1.2.0"])
    assert combined.select(candidates) == ["1.10.0", "1.9.0", "1.2.0"]
    assert combined.best(candidates) == "1.10.0"
    assert intersect_requirements(["^1.0.0", "^2.0.0"]).best(candidates) is None
    # each requirement on its own: "||" keeps its meaning next to another requirement
    assert intersect_requirements(["^1.0.0 || ^2.0.0", ">=1.5.0"]).select(candidates) == [
        "2.0.0",
        "1.10.0",
        "1.9.0",
    ]
    with pytest.raises(ValueError):
        intersect_requirements(["^1.0.0", "nope"])


# --- properties ----------------------------------------------------------------------------------

_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)
_json_scalar = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.floats(allow_nan=False) | _text
_json = st.recursive(
    _json_scalar,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4),
    max_leaves=20,
)
_versions = st.builds(
    lambda a, b, c, pre: f"{a}.{b}.{c}" + (f"-{pre}" if pre else ""),
    st.integers(0, 999999),
    st.integers(0, 999999),
    st.integers(0, 999999),
    st.sampled_from(["", "alpha", "beta.1", "rc.2"]),
)
_names = st.from_regex(r"[A-Za-z0-9._-]{1,40}", fullmatch=True)
_ranges = st.sampled_from(
    ["^1.0.0", "~2.1.0", ">=1.0.0 <2.0.0", "1.x", "*", "^1.0.0 || ^2.0.0", "1.0.0 - 1.5.0"]
)


def _case(key: str, style: int) -> str:
    return [key, key.lower(), key.upper()][style % 3]


@st.composite
def _steps(draw: st.DrawFn) -> dict[str, Any]:
    steps: dict[str, Any] = {}
    names = draw(
        st.lists(st.sampled_from(["Install", "Run", "Shutdown", "Recover", "Bootstrap"]), unique=True)
    )
    for name in names:
        script = draw(_text.filter(lambda s: "{artifacts:" not in s))
        if draw(st.booleans()):
            steps[name] = script
        else:
            step: dict[str, Any] = {"Script": script}
            if draw(st.booleans()):
                step["RequiresPrivilege"] = draw(st.booleans())
            if draw(st.booleans()):
                step["Timeout"] = draw(st.integers(1, 3600))
            if draw(st.booleans()):
                step["Setenv"] = draw(
                    st.dictionaries(st.from_regex(r"[A-Z_]{1,8}", fullmatch=True), _text, max_size=3)
                )
            steps[name] = step
    return steps


@st.composite
def valid_recipes(draw: st.DrawFn) -> dict[str, Any]:
    """Recipes that pass every check, with random key case."""
    style = draw(st.integers(0, 2))
    manifests = []
    for index in range(draw(st.integers(1, 3))):
        manifest: dict[str, Any] = {}
        if draw(st.booleans()):
            manifest["Platform"] = {"os": draw(st.sampled_from(["linux", "windows", "*", "/linux|darwin/"]))}
        if draw(st.booleans()):
            manifest["Name"] = draw(_text)
        manifest["Lifecycle"] = draw(_steps())
        files = draw(st.lists(st.from_regex(r"[a-z0-9]{1,10}\.(zip|py|onnx)", fullmatch=True), unique=True))
        manifest["Artifacts"] = [
            {"Uri": f"s3://bucket-{index}/{name}", "Unarchive": draw(st.sampled_from(["NONE", "ZIP", "zip"]))}
            for name in files
        ]
        manifests.append({_case(k, style + index): v for k, v in manifest.items()})
    recipe: dict[str, Any] = {
        "RecipeFormatVersion": "2020-01-25",
        "ComponentName": draw(_names),
        "ComponentVersion": draw(_versions),
        "ComponentDescription": draw(_text),
        "ComponentConfiguration": {"DefaultConfiguration": draw(st.dictionaries(_text, _json, max_size=4))},
        "ComponentDependencies": {
            name: {
                "VersionRequirement": draw(_ranges),
                "DependencyType": draw(st.sampled_from(["HARD", "soft"])),
            }
            for name in draw(st.lists(_names.map(lambda n: "dep." + n), max_size=3, unique=True))
        },
        "Manifests": manifests,
    }
    return {_case(k, style): v for k, v in recipe.items()}


@SETTINGS
@given(valid_recipes())
def test_valid_recipes_round_trip_through_json_and_yaml(document: dict[str, Any]) -> None:
    recipe = parse_recipe(json.dumps(document))
    again_json = parse_recipe(recipe.to_json())
    again_yaml = parse_recipe(recipe.to_yaml(), fmt="yaml")
    assert again_json.document == recipe.document == again_yaml.document
    assert again_json == recipe == again_yaml


def _parse_or_recipe_error(text: str | bytes, fmt: str | None = None) -> Recipe | None:
    try:
        return parse_recipe(text, fmt=fmt)
    except RecipeError as err:
        assert err.report.errors
        return None


@SETTINGS
@given(_json)
def test_arbitrary_json_never_raises_anything_but_recipe_error(value: Any) -> None:
    _parse_or_recipe_error(json.dumps(value))
    _parse_or_recipe_error(json.dumps(value), fmt="yaml")


@SETTINGS
@given(st.text(alphabet=string.printable + "{}[]:-'\"!&*#|>%@`é中", max_size=200))
def test_arbitrary_text_never_raises_anything_but_recipe_error(text: str) -> None:
    _parse_or_recipe_error(text)
    _parse_or_recipe_error(text.encode("utf-8"), fmt="json")


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


def _mutate(document: Any, path: tuple, replacement: Any, delete: bool) -> Any:
    if not path:
        return replacement
    parent = document
    for part in path[:-1]:
        parent = parent[part]
    if delete and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = replacement
    return document


@SETTINGS
@given(st.data())
def test_mutated_valid_recipes_never_raise_anything_but_recipe_error(data: st.DataObject) -> None:
    document = json.loads((RECIPES / "good_hello.json").read_text())
    path = data.draw(st.sampled_from(_paths(document)))
    replacement = data.draw(_json)
    mutated = _mutate(document, path, replacement, data.draw(st.booleans()))
    recipe = _parse_or_recipe_error(json.dumps(mutated))
    if recipe is not None:
        assert parse_recipe(recipe.to_json()) == recipe == parse_recipe(recipe.to_yaml(), fmt="yaml")


# --- the command ---------------------------------------------------------------------------------


def test_cli_lint_recipe_fails_on_the_published_seed_recipe() -> None:
    result = CliRunner().invoke(main, ["lint", "recipe", str(RECIPES / "seed_as_published.json")])
    assert result.exit_code == 1
    assert (
        "seed_as_published.json:/ComponentVersion (4:25): error: ComponentVersion '1.0.xx'" in result.output
    )
    assert "/Manifests/0/Artifacts/0/Unarchive (28:34): error" in result.output
    assert "expected: NONE or ZIP" in result.output
    # the cd into …/nvds-aws-gg fails on every device: lint says so as an error
    assert "/Manifests/0/Lifecycle/Run/Script (21:31): error:" in result.output
    assert result.output.rstrip().endswith("1 recipe, 3 errors, 0 warnings")


def test_cli_lint_recipe_passes_good_recipes_and_strict_fails_on_warnings(tmp_path: Path) -> None:
    warned = tmp_path / "warned.json"
    document = json.loads((RECIPES / "good_hello.json").read_text(encoding="utf-8"))
    warned.write_text(json.dumps({**document, "Colour": "red"}), encoding="utf-8")  # unknown key: a warning
    files = [str(RECIPES / "good_hello.json"), str(RECIPES / "good_hello.yaml"), str(warned)]
    result = CliRunner().invoke(main, ["lint", "recipe", *files])
    assert result.exit_code == 0, result.output
    assert "3 recipes, 0 errors, 1 warning" in result.output
    strict = CliRunner().invoke(main, ["lint", "recipe", "--strict", *files])
    assert strict.exit_code == 1


def test_cli_lint_recipe_fails_on_the_seed_recipe_with_only_its_version_fixed() -> None:
    """The service takes it (a warning when loading), but its Run script cds into a folder that
    package.zip never unpacks into: every device fails, so lint fails."""
    result = CliRunner().invoke(main, ["lint", "recipe", str(RECIPES / "seed_fixed.json")])
    assert result.exit_code == 1, result.output
    assert (
        "seed_fixed.json:/Manifests/0/Lifecycle/Run/Script (21:31): error: "
        "{artifacts:decompressedPath}/nvds-aws-gg: no ZIP artifact of this manifest unpacks into a folder "
        "named 'nvds-aws-gg'; the script fails on every device"
    ) in result.output
    assert "expected: one of: package" in result.output
    assert "hint: Greengrass extracts each ZIP into a folder named after the file" in result.output


def test_cli_lint_recipe_json_output_and_unreadable_files(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    result = CliRunner().invoke(
        main, ["lint", "recipe", "--format", "json", str(RECIPES / "bad_syntax.json"), str(missing)]
    )
    assert result.exit_code == 1
    findings = json.loads(result.stdout)
    assert [f["location"] for f in findings] == ["4:3", ""]
    assert "cannot read the recipe" in findings[1]["message"]
    assert set(findings[0]) == {"severity", "file", "location", "message", "expected", "hint"}


def test_cli_lint_recipe_needs_a_file() -> None:
    assert CliRunner().invoke(main, ["lint", "recipe"]).exit_code == 2
