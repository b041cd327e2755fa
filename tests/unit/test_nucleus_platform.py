"""Device platform (profiles, platformOverride) and manifest selection."""

from __future__ import annotations

from pathlib import Path

import pytest

from fake_device.nucleus import DeploymentError
from fake_device.nucleus.platform import current_platform, select_manifest
from fake_device.profiles import ProfileError, load_profile, profile_names
from harness.lint.recipe import parse_recipe

RECIPE = """
RecipeFormatVersion: '2020-01-25'
ComponentName: com.example.Detector
ComponentVersion: 1.0.0
Manifests:
  - Name: jetson
    Platform: {os: linux, architecture: aarch64}
    Lifecycle: {Run: run-jetson}
  - Name: pc
    Platform: {os: linux, architecture: amd64}
    Lifecycle: {Run: run-pc}
"""


def test_builtin_profiles() -> None:
    assert {"jetson-agx-xavier", "x86-64-host"} <= set(profile_names())
    jetson = load_profile("jetson-agx-xavier")
    assert jetson.platform == {"os": "linux", "architecture": "aarch64"}  # no architecture.detail
    assert jetson.cpus == 8 and jetson.memory_bytes == 32 * 2**30
    assert load_profile("x86-64-host").platform == {"os": "linux", "architecture": "amd64"}


@pytest.mark.parametrize(("profile", "run"), [("jetson-agx-xavier", "run-jetson"), ("x86-64-host", "run-pc")])
def test_manifest_follows_the_profile(profile: str, run: str) -> None:
    manifest = select_manifest(parse_recipe(RECIPE), load_profile(profile).platform)
    assert manifest.effective_lifecycle["run"]["script"] == run


def test_platform_override_replaces_string_values_only() -> None:
    detected = {"os": "linux", "architecture": "aarch64"}
    override = {"architecture": "amd64", "gpu": "xavier", "list": ["x"], "map": {"a": "b"}}
    assert current_platform(detected, override) == {"os": "linux", "architecture": "amd64", "gpu": "xavier"}
    assert current_platform(detected, None) == detected


def test_no_matching_manifest_names_platform_and_manifests() -> None:
    with pytest.raises(DeploymentError) as caught:
        select_manifest(parse_recipe(RECIPE), {"os": "windows", "architecture": "amd64"})
    err = caught.value
    assert err.code == "LOCAL_RECIPE_NOT_FOUND"
    assert err.error_stack == ("COMPONENT_PACKAGE_LOADING_ERROR", "LOCAL_RECIPE_NOT_FOUND")
    text = str(err)
    assert (
        "Failed to find usable recipe for current platform: {os=windows, architecture=amd64}, "
        "for package: 'com.example.Detector-v1.0.0' in the local package store"
    ) in text
    assert "Manifests[0] (jetson) Platform {os=linux, architecture=aarch64}" in text
    assert "Manifests[1] (pc) Platform {os=linux, architecture=amd64}" in text


def test_bad_profile_reports_file_and_pointer(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "name: bad\nplatform: {os: linux, architecture: x86_64}\nresources: {cpus: 0, memory: 2GB}\n"
    )
    with pytest.raises(ProfileError) as caught:
        load_profile(path)
    text = str(caught.value)
    assert f"{path}:/platform/architecture: error: 'x86_64' is not one of" in text
    assert f"{path}:/resources/cpus: error: 0 is less than or equal to the minimum of 0" in text
    assert f"{path}:/resources/memory: error: " in text


def test_missing_profile_lists_the_builtin_ones(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="no such device profile") as caught:
        load_profile("jetson-nano-2gb")
    assert "jetson-agx-xavier" in str(caught.value)
