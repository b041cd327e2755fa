"""The device's platform attributes and the choice of a recipe's manifest.

A core device describes itself with platform attributes — ``os`` and ``architecture`` detected
by ``config/PlatformResolver.java`` (plus ``architecture.detail`` on 32-bit ARM only), then any
string value of the nucleus's ``platformOverride`` configuration on top. The same map is what
the nucleus sends to ResolveComponentCandidates and what picks the manifest of a recipe
(``PlatformHelper.findBestMatch``: the first manifest, in order, whose every Platform entry
matches; see :meth:`harness.lint.recipe.Manifest.matches`).

A simulated device gets its detected attributes from its profile (fake_device/profiles), not
from the machine the simulator runs on: that is what lets an x86 CI runner play a Jetson.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fake_device.nucleus import DeploymentError
from harness.lint.recipe import Manifest, Recipe

__all__ = ["ARCHITECTURE_VALUES", "OS_VALUES", "current_platform", "platform_text", "select_manifest"]

#: PlatformResolver: the values the nucleus detects (anything else is "unknown")
OS_VALUES = ("linux", "windows", "darwin")
ARCHITECTURE_VALUES = ("amd64", "x86", "arm", "aarch64")
#: architecture.detail is only detected for these ("uname -m" on ARM); a Jetson has none
ARM_ARCHITECTURE_DETAILS = ("armv6l", "armv7l", "armv8l", "armv6b", "armv7b", "armv8b")


def current_platform(detected: Mapping[str, str], platform_override: Any = None) -> dict[str, str]:
    """``PlatformResolver.getCurrentPlatform``: the detected attributes, then each entry of
    ``platformOverride`` whose value is a string (maps and lists are ignored by the nucleus)."""
    platform = dict(detected)
    if isinstance(platform_override, Mapping):
        for key, value in platform_override.items():
            if isinstance(value, str):
                platform[str(key)] = value
    return platform


def platform_text(platform: Mapping[str, str]) -> str:
    """A platform as Java prints a map (``{os=linux, architecture=aarch64}``)."""
    return "{" + ", ".join(f"{k}={v}" for k, v in platform.items()) + "}"


def _manifest_text(index: int, manifest: Manifest) -> str:
    label = f"Manifests[{index}]" + (f" ({manifest.name})" if manifest.name else "")
    wanted = platform_text(manifest.platform) if manifest.platform else "{} (any platform)"
    return f"{label} Platform {wanted}"


def select_manifest(recipe: Recipe, platform: Mapping[str, str]) -> Manifest:
    """The manifest the device uses, or :class:`DeploymentError` ``LOCAL_RECIPE_NOT_FOUND``.

    The message is the nucleus's (``ComponentStore.getPackageRecipe``, after
    ``RecipeLoader.loadFromFile`` found no manifest); the hint lists every manifest tried.
    """
    manifest = recipe.select_manifest(platform)
    if manifest is not None:
        return manifest
    tried = "; ".join(_manifest_text(i, m) for i, m in enumerate(recipe.manifests))
    raise DeploymentError(
        "LOCAL_RECIPE_NOT_FOUND",
        f"Failed to find usable recipe for current platform: {platform_text(platform)}, for package: "
        f"'{recipe.name}-v{recipe.version}' in the local package store",
        error_stack=["COMPONENT_PACKAGE_LOADING_ERROR", "LOCAL_RECIPE_NOT_FOUND"],
        hint=f"no manifest matches; tried {tried}",
    )
