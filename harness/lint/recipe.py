"""Greengrass V2 component recipes: parse JSON or YAML, check everything at once, canonicalise.

One implementation serves three readers: the cloud emulation (CreateComponentVersion), the
simulated core device (deployments) and ``edge-harness lint recipe``. The rules follow the code
that reads recipes for real — aws-greengrass-component-common (``ComponentRecipe.java``,
``ComponentArtifact.java``, ``PlatformSpecificManifest.java``, ``PlatformHelper.java``,
``SerializerFactory.java``, ``recipe_schema.json``) and the nucleus (``RecipeLoader.java``,
``GenericExternalService.java``, ``S3Downloader.java``, ``ArtifactDownloaderFactory.java``,
``ComponentManager.getFileName``) — and the developer guide's recipe reference. docs/recipes.md
lists every rule and where we differ from a real device.

Entry points: :func:`parse_recipe` and :func:`load_recipe` return a :class:`Recipe` or raise
:class:`RecipeError` carrying every finding; :func:`validate_recipe_text` and
:func:`check_recipe_file` return the findings without raising (for lint).
"""

from __future__ import annotations

import copy
import dataclasses
import io
import json
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.representer import SafeRepresenter

from harness.errors import Diagnostic, DiagnosticReport, ValidationError
from harness.lint.recipe_check import Checker, type_name
from harness.lint.recipe_lifecycle import (
    DEFAULT_TIMEOUTS,
    STEP_NAMES,
    LifecycleChecker,
    LifecycleResult,
    ScriptRef,
    SelectionMap,
    plain,
    select_lifecycle,
)
from harness.lint.recipe_load import DocPath, decode_text, load_text
from harness.lint.semver import (
    Version,
    intersect_requirements,
    parse_version,
    requirement_problems,
    version_problem,
    version_satisfies,
)
from harness.yamldoc import MAX_YAML_CHARS

__all__ = [
    "COMPONENT_TYPES",
    "DEFAULT_TIMEOUTS",
    "RECIPE_FORMAT_VERSION",
    "STEP_NAMES",
    "Artifact",
    "Dependency",
    "Manifest",
    "Recipe",
    "RecipeError",
    "SelectionMap",
    "Version",
    "check_recipe_file",
    "intersect_requirements",
    "load_recipe",
    "parse_recipe",
    "parse_version",
    "validate_document",
    "validate_recipe_text",
    "version_satisfies",
]

RECIPE_FORMAT_VERSION = "2020-01-25"  # RecipeFormatVersion.java: the only value
COMPONENT_TYPES = (
    "aws.greengrass.generic",
    "aws.greengrass.lambda",
    "aws.greengrass.plugin",
    "aws.greengrass.nucleus",
)
DEFAULT_COMPONENT_TYPE = "aws.greengrass.generic"
DEPENDENCY_TYPES = ("HARD", "SOFT")
UNARCHIVE_TYPES = ("NONE", "ZIP")
PERMISSION_TYPES = ("NONE", "OWNER", "ALL")
# ComponentRecipe.java COMPONENT_NAME_PATTERN "^[a-zA-Z0-9-_.]+$" (the '-' is literal there).
COMPONENT_NAME_PATTERN = re.compile(r"^[a-zA-Z0-9._-]+$")
MAX_COMPONENT_NAME_LENGTH = 128
DOCKER_MANAGER = "aws.greengrass.DockerApplicationManager"

_TOP_KEYS = (
    "RecipeFormatVersion",
    "ComponentName",
    "ComponentVersion",
    "ComponentType",
    "ComponentDescription",
    "ComponentPublisher",
    "ComponentSource",
    "ComponentConfiguration",
    "ComponentDependencies",
    "Manifests",
    "Lifecycle",
)
_MANIFEST_KEYS = ("Platform", "Name", "Lifecycle", "Selections", "Artifacts")
_ARTIFACT_KEYS = ("Uri", "Digest", "Algorithm", "Unarchive", "Permission")
_DEPENDENCY_KEYS = ("VersionRequirement", "DependencyType")
_PERMISSION_KEYS = ("Read", "Execute")
_CONFIGURATION_KEYS = ("DefaultConfiguration",)
# Values the nucleus reports for its own platform (PlatformResolver.java); others never match.
_KNOWN_PLATFORM_VALUES = {
    "os": ("linux", "windows", "darwin"),
    "architecture": ("amd64", "x86", "arm", "aarch64"),
}
# recipe_schema.json ComponentSource pattern.
_LAMBDA_ARN = re.compile(r"^arn:aws(-(cn|us-gov|iso(-[a-z])?))?:lambda:.*$")
# S3Downloader.S3_PATH_REGEX: lower-case "s3://", a bucket, then the key.
_S3_URI = re.compile(r"s3://([^/]+)/(.*)", re.DOTALL)
_URI_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
# Characters java.net.URI rejects anywhere (RFC 2396 "unwise" and controls, space).
_URI_BAD_CHARS = re.compile(r"[\s\"<>\\^`{|}\x00-\x1f\x7f]")
_SUPPORTED_SCHEMES = ("s3", "greengrass", "docker")
_DECOMPRESSED_REF = re.compile(r"\{artifacts:decompressedPath\}/([^/\s'\"`;&|)$]+)")
_ARTIFACT_PATH_REF = re.compile(r"\{artifacts:path\}/([^/\s'\"`;&|)$]+)")


class RecipeError(ValidationError):
    """A recipe that does not parse or fails a check; ``report`` holds every finding."""

    def __init__(self, report: DiagnosticReport, source: str = "<recipe>") -> None:
        self.source = source
        super().__init__(report, what=f"{source} is not a valid component recipe")


@dataclass(frozen=True)
class Artifact:
    """One artifact of a manifest, with the defaults of ``ComponentArtifact``/``Permission``."""

    uri: str
    unarchive: str = "NONE"
    permission_read: str = "OWNER"
    permission_execute: str = "NONE"
    digest: str | None = None
    algorithm: str | None = None

    @property
    def scheme(self) -> str:
        match = _URI_SCHEME.match(self.uri)
        return match.group(1).lower() if match else ""

    @property
    def file_name(self) -> str:
        """The name the artifact is stored under: the last path segment of the URI
        (``S3Downloader.getArtifactFilename``, ``GreengrassRepositoryDownloader``)."""
        rest = self.uri.split(":", 1)[-1]
        return rest.rstrip("/").rsplit("/", 1)[-1] if "/" in rest else rest

    @property
    def archive_folder_name(self) -> str:
        """The folder a ZIP is extracted into under ``{artifacts:decompressedPath}``: the file
        name minus its last extension, unless the only dot is the first character
        (``ComponentManager.getFileName``: ``package.zip`` → ``package``, ``a.tar.zip`` → ``a.tar``)."""
        name = self.file_name
        return name[: name.rindex(".")] if name.find(".") > 0 else name


@dataclass(frozen=True)
class Manifest:
    """One entry of ``Manifests``.

    ``platform`` maps attribute to template (a null template is stored as ``*``, which is how
    ``PlatformHelper`` treats it). ``lifecycle`` is this manifest's own lifecycle in canonical
    form (see :mod:`harness.lint.recipe_lifecycle`); ``effective_lifecycle`` is what the nucleus
    runs for it: ``lifecycle`` if not empty, else the global lifecycle filtered by
    ``selections`` (+ ``all``), as ``RecipeLoader.convertLifecycleFromFile`` does.
    """

    platform: dict[str, str]
    name: str | None
    lifecycle: dict[str, Any]
    artifacts: tuple[Artifact, ...]
    selections: tuple[str, ...]
    effective_lifecycle: dict[str, Any] = field(default_factory=dict)

    def matches(self, device_platform: Mapping[str, str]) -> bool:
        """Whether a device with these platform attributes may use this manifest
        (``PlatformHelper.isRequirementSatisfied``): every template must match; no templates
        match every device."""
        return all(
            _platform_attribute_matches(name, device_platform.get(name), template)
            for name, template in self.platform.items()
        )


@dataclass(frozen=True)
class Dependency:
    version_requirement: str
    dependency_type: str = "HARD"


@dataclass(frozen=True)
class Recipe:
    """A recipe that passed every check.

    ``document`` is the whole recipe as JSON data with every key in its canonical spelling
    (``RecipeFormatVersion``, ``Manifests[].Artifacts[].Permission.Read``, ``Lifecycle.Run.Script``,
    …), enum values canonical (``ZIP``, ``SOFT``, ``aws.greengrass.generic``), unknown keys
    dropped (each was a warning) and everything else as written — what the service would store.
    ``lifecycle`` is the global lifecycle in canonical form, selection-key levels kept as
    :class:`SelectionMap`. ``warnings`` are the findings that did not stop the recipe; they do
    not take part in equality, so the same recipe written in JSON and YAML compares equal.
    """

    document: dict[str, Any]
    name: str
    version: str
    component_type: str
    description: str | None
    publisher: str | None
    dependencies: dict[str, Dependency]
    default_configuration: dict[str, Any]
    manifests: tuple[Manifest, ...]
    lifecycle: dict[str, Any]
    warnings: tuple[Diagnostic, ...] = field(default=(), compare=False)
    component_source: str | None = None

    def to_json(self) -> str:
        return json.dumps(self.document, indent=2, ensure_ascii=False) + "\n"

    def to_yaml(self) -> str:
        """The document as YAML; strings that YAML would read as something else (``2020-01-25``,
        ``1.0``, ``true``) are quoted by the dumper."""
        yaml = YAML(typ="safe", pure=True)
        yaml.Representer = _RecipeRepresenter
        yaml.default_flow_style = False
        yaml.allow_unicode = True
        yaml.width = 4096
        yaml.sort_base_mapping_type_on_output = False
        buffer = io.StringIO()
        yaml.dump(self.document, buffer)
        return buffer.getvalue()

    def with_document(self, document: dict[str, Any], *, source: str = "<recipe>") -> Recipe:
        """Check a changed document (e.g. the cloud adding ``Digest``/``Algorithm`` to
        artifacts) and return it as a new Recipe; raises :class:`RecipeError`."""
        recipe, report = validate_document(document, source=source)
        if recipe is None:
            raise RecipeError(report, source)
        return recipe

    def select_manifest(self, device_platform: Mapping[str, str]) -> Manifest | None:
        """The first manifest whose platform matches (``PlatformHelper.findBestMatch``);
        ``None`` means the deployment fails on that device."""
        return next((m for m in self.manifests if m.matches(device_platform)), None)

    @property
    def parsed_version(self) -> Version:
        return parse_version(self.version)


class _RecipeRepresenter(SafeRepresenter):
    """Double-quotes text with Unicode line separators: ruamel.yaml would write them raw in a
    plain or single-quoted scalar, where a YAML reader takes them for line breaks."""

    def represent_text(self, data: str) -> Any:
        style = '"' if any(ch in data for ch in "\x85\u2028\u2029") else None
        return self.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_RecipeRepresenter.add_representer(str, _RecipeRepresenter.represent_text)


#: The longest recipe text read (the bound of every YAML text here; a real recipe is a few KB).
MAX_RECIPE_BYTES = MAX_YAML_CHARS

# --- entry points --------------------------------------------------------------------------------


def validate_recipe_text(
    text: str | bytes, *, source: str = "<recipe>", fmt: str | None = None, lint: bool = False
) -> tuple[Recipe | None, DiagnosticReport]:
    """Parse and check recipe text; the Recipe is ``None`` when there is an error.

    ``lint``: what the service accepts but no device can run (a script that cds into a folder no
    ZIP unpacks into, a ``Lifecycle`` left null by a mis-indented block) is an error, not a warning.
    """
    report = DiagnosticReport()
    if fmt not in (None, "json", "yaml"):
        raise ValueError(f"fmt must be 'json', 'yaml' or None, not {fmt!r}")
    if len(text) > MAX_RECIPE_BYTES:
        report.add(
            Diagnostic(
                "error",
                source,
                f"the recipe text is longer than {MAX_RECIPE_BYTES:,} bytes",
                hint="a recipe is a small JSON or YAML document",
            )
        )
        return None, report
    decoded, problem = decode_text(text, source)
    if decoded is None:
        report.add(problem)  # type: ignore[arg-type]
        return None, report
    loaded = load_text(decoded, source, fmt)
    for diagnostic in loaded.diagnostics:
        report.add(diagnostic)
    if not loaded.ok:
        return None, report
    checker = Checker(source, loaded.value_positions, loaded.key_positions, lint=lint)
    recipe = _RecipeBuilder(checker).build(loaded.data)
    report.extend(checker.report)
    if not report.ok:
        return None, report
    assert recipe is not None
    return _with_warnings(recipe, report), report


def validate_document(document: Any, *, source: str = "<recipe>") -> tuple[Recipe | None, DiagnosticReport]:
    """Check recipe data that did not come from text (no line numbers)."""
    checker = Checker(source)
    recipe = _RecipeBuilder(checker).build(copy.deepcopy(document))
    if not checker.report.ok:
        return None, checker.report
    assert recipe is not None
    return _with_warnings(recipe, checker.report), checker.report


def parse_recipe(text: str | bytes, *, source: str = "<recipe>", fmt: str | None = None) -> Recipe:
    """Parse recipe text. ``fmt`` is "json", "yaml" or ``None`` to sniff (JSON when the text
    starts with ``{``, else YAML). Raises :class:`RecipeError` with every finding."""
    recipe, report = validate_recipe_text(text, source=source, fmt=fmt)
    if recipe is None:
        raise RecipeError(report, source)
    return recipe


def load_recipe(path: Path) -> Recipe:
    """Read a recipe file; the format comes from the suffix (.json, .yaml, .yml), else sniffed."""
    recipe, report = check_recipe_file(path)
    if recipe is None:
        raise RecipeError(report, str(path))
    return recipe


def check_recipe_file(path: Path, *, lint: bool = False) -> tuple[Recipe | None, DiagnosticReport]:
    """Like :func:`load_recipe` but returns the findings instead of raising (for lint).

    ``lint`` as in :func:`validate_recipe_text`. A FIFO, a device or a huge file is refused
    before it is read (reading a FIFO waits for a writer forever).
    """
    path = Path(path)
    report = DiagnosticReport()
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            kind = (
                "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file (a FIFO, socket or device)"
            )
            report.add(Diagnostic("error", str(path), f"the recipe is {kind}", hint="name the recipe file"))
            return None, report
        if info.st_size > MAX_RECIPE_BYTES:
            report.add(
                Diagnostic(
                    "error",
                    str(path),
                    f"the recipe is {info.st_size:,} bytes; at most {MAX_RECIPE_BYTES:,} are read",
                    hint="a recipe is a small JSON or YAML file: check the path",
                )
            )
            return None, report
        data = path.read_bytes()
    except OSError as err:
        report.add(
            Diagnostic(
                "error",
                str(path),
                f"cannot read the recipe: {err.strerror or err}",
                hint="check the path and the file's permissions",
            )
        )
        return None, report
    suffix = path.suffix.lower()
    fmt = "json" if suffix == ".json" else "yaml" if suffix in (".yaml", ".yml") else None
    return validate_recipe_text(data, source=str(path), fmt=fmt, lint=lint)


def _with_warnings(recipe: Recipe, report: DiagnosticReport) -> Recipe:
    return dataclasses.replace(recipe, warnings=tuple(report.warnings))


# --- checks --------------------------------------------------------------------------------------


class _RecipeBuilder:
    """Checks a recipe document section by section and assembles the Recipe."""

    def __init__(self, checker: Checker) -> None:
        self.c = checker
        self.document: dict[str, Any] = {}

    def build(self, data: Any) -> Recipe | None:
        if not isinstance(data, dict):
            self.c.error(
                (),
                f"a recipe must be an object, not {type_name(data)}",
                expected="an object with RecipeFormatVersion, ComponentName, ComponentVersion and Manifests",
            )
            return None
        if not self.c.json_value(data, ()):
            return None
        found = self.c.fields(data, (), _TOP_KEYS, "the recipe")
        at = _Written(found)
        self._format_version(found, at)
        name = self._component_name(found, at)
        version = self._component_version(found, at)
        component_type = self._component_type(found, at)
        description = self._optional_text(found, at, "ComponentDescription")
        publisher = self._optional_text(found, at, "ComponentPublisher")
        source = self._component_source(found, at)
        configuration = self._configuration(found, at)
        dependencies = self._dependencies(found, at, name)
        manifests_raw = self._manifest_list(found, at)
        strict_steps = component_type not in ("aws.greengrass.plugin", "aws.greengrass.nucleus")
        manifests = [
            self._manifest(m, (at("Manifests"), i), strict_steps) for i, m in enumerate(manifests_raw)
        ]
        if manifests_raw:
            self.document["Manifests"] = [m.document for m in manifests if m is not None]
        selections = {s for m in manifests if m is not None for s in m.manifest.selections}
        global_lifecycle = LifecycleChecker(self.c, {*selections, "all"}, strict_steps=strict_steps).section(
            found.get("Lifecycle"), (at("Lifecycle"),)
        )
        self._null_lifecycle(found, (at("Lifecycle"),))
        if "Lifecycle" in found:
            self.document["Lifecycle"] = global_lifecycle.document
        finished = self._finish_manifests(manifests, global_lifecycle, found, at, dependencies)
        if not self.c.report.ok or name is None or version is None:
            return None
        return Recipe(
            document=_ordered(self.document),
            name=name,
            version=version,
            component_type=component_type or DEFAULT_COMPONENT_TYPE,
            description=description,
            publisher=publisher,
            dependencies=dependencies,
            default_configuration=configuration,
            manifests=finished,
            lifecycle=global_lifecycle.canonical,
            component_source=source,
        )

    # --- top level ------------------------------------------------------------------------------

    def _required(self, found: dict[str, Any], at: _Written, key: str, expected: str, hint: str) -> bool:
        """Whether ``key`` is there; its absence is an error whose hint says what the key is for."""
        if key in found and found[key] is not None:
            return True
        self.c.error((at(key),), f"{key} is missing", expected=expected, hint=hint)
        return False

    def _format_version(self, found: dict[str, Any], at: _Written) -> None:
        hint = (
            "the first line of every recipe says which recipe format it is written in: "
            f"RecipeFormatVersion: '{RECIPE_FORMAT_VERSION}'"
        )
        if not self._required(found, at, "RecipeFormatVersion", f'"{RECIPE_FORMAT_VERSION}"', hint):
            return
        value = found["RecipeFormatVersion"]
        if value != RECIPE_FORMAT_VERSION:
            shown = repr(value) if isinstance(value, str) else type_name(value)
            self.c.error(
                (at("RecipeFormatVersion"),),
                f"RecipeFormatVersion {shown} is not supported",
                expected=f'"{RECIPE_FORMAT_VERSION}" (the only recipe format)',
                hint=f"write RecipeFormatVersion: '{RECIPE_FORMAT_VERSION}'",
            )
            return
        self.document["RecipeFormatVersion"] = value

    def _component_name(self, found: dict[str, Any], at: _Written) -> str | None:
        hint = (
            "the name deployments refer to the component by, in reverse domain style: "
            "ComponentName: com.example.Detector"
        )
        if not self._required(found, at, "ComponentName", "a name such as com.example.Detector", hint):
            return None
        path = (at("ComponentName"),)
        name = self.c.text(found["ComponentName"], path, "ComponentName")
        if name is None:
            return None
        problem = component_name_problem(name)
        if problem:
            self.c.error(
                path,
                problem,
                expected=f"letters, digits, '-', '_' and '.', at most {MAX_COMPONENT_NAME_LENGTH} characters",
                hint="use reverse domain style, e.g. com.example.TrafficDetector",
            )
            return None
        self.document["ComponentName"] = name
        return name

    def _component_version(self, found: dict[str, Any], at: _Written) -> str | None:
        hint = (
            "each published version of a component has its own recipe; a deployment names the "
            "version it installs: ComponentVersion: '1.0.0'"
        )
        if not self._required(found, at, "ComponentVersion", "a semantic version such as 1.0.0", hint):
            return None
        path = (at("ComponentVersion"),)
        value = found["ComponentVersion"]
        expected = "a semantic version MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD], e.g. 1.0.0"
        if not isinstance(value, str):
            self.c.error(
                path,
                f"ComponentVersion must be a string, not {type_name(value)}",
                expected=expected,
                hint="quote it and give all three numbers, e.g. '1.0.0'",
            )
            return None
        problem = version_problem(value)
        if problem:
            self.c.error(
                path,
                f"ComponentVersion {value!r} {problem}",
                expected=expected,
                hint="publish each change under a new, higher version, e.g. 1.0.1 after 1.0.0",
            )
            return None
        self.document["ComponentVersion"] = value
        return value

    def _component_type(self, found: dict[str, Any], at: _Written) -> str | None:
        if found.get("ComponentType") is None:
            return DEFAULT_COMPONENT_TYPE
        value = self.c.enum(
            found["ComponentType"],
            (at("ComponentType"),),
            "ComponentType",
            COMPONENT_TYPES,
            hint="leave ComponentType out: the service sets aws.greengrass.generic",
        )
        if value is not None:
            self.document["ComponentType"] = value
        return value

    def _optional_text(self, found: dict[str, Any], at: _Written, key: str) -> str | None:
        if found.get(key) is None:
            return None
        value = self.c.text(found[key], (at(key),), key)
        if value is not None:
            self.document[key] = value
        return value

    def _component_source(self, found: dict[str, Any], at: _Written) -> str | None:
        value = self._optional_text(found, at, "ComponentSource")
        if value is not None and not _LAMBDA_ARN.match(value):
            self.c.warning(
                (at("ComponentSource"),),
                f"ComponentSource {value!r} is not a Lambda function ARN",
                expected="arn:aws:lambda:…",
                hint="leave ComponentSource out unless the component runs a Lambda function",
            )
        return value

    def _configuration(self, found: dict[str, Any], at: _Written) -> dict[str, Any]:
        if found.get("ComponentConfiguration") is None:
            return {}
        path = (at("ComponentConfiguration"),)
        mapping = self.c.mapping(
            found["ComponentConfiguration"],
            path,
            "ComponentConfiguration",
            "e.g. {DefaultConfiguration: {...}}",
        )
        if mapping is None:
            return {}
        inner = self.c.fields(mapping, path, _CONFIGURATION_KEYS, "ComponentConfiguration")
        document: dict[str, Any] = {}
        defaults: dict[str, Any] = {}
        if inner.get("DefaultConfiguration") is not None:
            value = self.c.mapping(
                inner["DefaultConfiguration"],
                (*path, inner["DefaultConfiguration@"]),
                "DefaultConfiguration",
                'e.g. {"ConnString": "localhost;9092;events"}',
            )
            if value is not None:
                document["DefaultConfiguration"] = defaults = value
        self.document["ComponentConfiguration"] = document
        return copy.deepcopy(defaults)

    def _dependencies(
        self, found: dict[str, Any], at: _Written, own_name: str | None
    ) -> dict[str, Dependency]:
        if found.get("ComponentDependencies") is None:
            return {}
        path = (at("ComponentDependencies"),)
        mapping = self.c.mapping(
            found["ComponentDependencies"],
            path,
            "ComponentDependencies",
            "e.g. {aws.greengrass.Nucleus: {VersionRequirement: '^2.0.0'}}",
        )
        if mapping is None:
            return {}
        document: dict[str, Any] = {}
        dependencies: dict[str, Dependency] = {}
        for name, value in mapping.items():
            result = self._dependency(name, value, (*path, name), own_name)
            if result is not None:
                document[name], dependencies[name] = result
        self.document["ComponentDependencies"] = document
        return dependencies

    def _dependency(
        self, name: str, value: Any, path: DocPath, own_name: str | None
    ) -> tuple[dict[str, Any], Dependency] | None:
        ok = True
        problem = component_name_problem(name)
        if problem:
            self.c.error(path, f"dependency {problem}", expected="a component name", key=True)
            ok = False
        if own_name is not None and name == own_name:
            self.c.error(path, "a component cannot depend on itself", key=True, hint="remove this dependency")
            ok = False
        mapping = self.c.mapping(value, path, f"dependency {name}", "e.g. {VersionRequirement: '^1.0.0'}")
        if mapping is None:
            return None
        fields = self.c.fields(mapping, path, _DEPENDENCY_KEYS, f"dependency {name}")
        requirement = self._version_requirement(fields, path)
        dependency_type = "HARD"
        document: dict[str, Any] = {}
        if fields.get("DependencyType") is not None:
            chosen = self.c.enum(
                fields["DependencyType"],
                (*path, fields["DependencyType@"]),
                "DependencyType",
                DEPENDENCY_TYPES,
                hint="HARD restarts this component when the dependency changes state, SOFT does not",
            )
            ok = ok and chosen is not None
            dependency_type = chosen or dependency_type
        if requirement is None or not ok:
            return None
        document["VersionRequirement"] = requirement
        if fields.get("DependencyType") is not None:
            document["DependencyType"] = dependency_type
        return document, Dependency(requirement, dependency_type)

    def _version_requirement(self, fields: dict[str, Any], path: DocPath) -> str | None:
        if fields.get("VersionRequirement") is None:
            self.c.error(
                (*path, "VersionRequirement"),
                "the dependency has no VersionRequirement",
                expected="an npm-style range such as ^1.0.0",
            )
            return None
        where = (*path, fields["VersionRequirement@"])
        requirement = self.c.text(fields["VersionRequirement"], where, "VersionRequirement")
        if requirement is None:
            return None
        failed = False
        for severity, message, hint in requirement_problems(requirement):
            report = self.c.error if severity == "error" else self.c.warning
            report(where, message, expected="an npm-style range such as ^1.0.0", hint=hint)
            failed = failed or severity == "error"
        return None if failed else requirement

    # --- manifests ------------------------------------------------------------------------------

    def _manifest_list(self, found: dict[str, Any], at: _Written) -> list[Any]:
        expected = "a non-empty list of manifests"
        hint = (
            "each manifest names the platforms it applies to and the lifecycle and artifacts used "
            "there, e.g. Manifests: [{Platform: {os: linux}, Lifecycle: {Run: ...}, Artifacts: [...]}]"
        )
        if not self._required(found, at, "Manifests", expected, hint):
            return []
        value = found["Manifests"]
        path = (at("Manifests"),)
        if not isinstance(value, list):
            self.c.error(
                path, f"Manifests must be a list, not {type_name(value)}", expected=expected, hint=hint
            )
            return []
        if not value:
            self.c.error(
                path,
                "Manifests is empty: no core device can install this component",
                expected=expected,
                hint=hint,
            )
        return value

    def _null_lifecycle(self, found: dict[str, Any], path: DocPath) -> None:
        """``Lifecycle:`` with nothing after it is null: usually steps that lost their indent."""
        if "Lifecycle" in found and found["Lifecycle"] is None:
            self.c.device_failure(
                path,
                "Lifecycle is null, so it has no steps",
                expected="an object of lifecycle steps, e.g. {Run: python3 app.py}",
                hint="indent the steps under Lifecycle: (a key with nothing after it is null), "
                "or remove the key",
                key=True,
            )

    def _manifest(self, value: Any, path: DocPath, strict_steps: bool) -> _CheckedManifest | None:
        if value is None:
            self.c.error(path, "a manifest is null", expected="an object", hint="remove the empty entry")
            return None
        mapping = self.c.mapping(value, path, "a manifest", "e.g. {Platform: {os: linux}, Lifecycle: {...}}")
        if mapping is None:
            return None
        fields = self.c.fields(mapping, path, _MANIFEST_KEYS, "a manifest")
        at = _Written(fields)
        document: dict[str, Any] = {}
        platform = self._platform(fields, at, path, document)
        name = None
        if fields.get("Name") is not None:
            name = self.c.text(fields["Name"], (*path, at("Name")), "Name")
            if name is not None:
                document["Name"] = name
        lifecycle = LifecycleChecker(self.c, (), strict_steps=strict_steps).section(
            fields.get("Lifecycle"), (*path, at("Lifecycle"))
        )
        self._null_lifecycle(fields, (*path, at("Lifecycle")))
        if "Lifecycle" in fields:
            document["Lifecycle"] = lifecycle.document
        selections = self._selections(fields, at, path, document)
        artifacts = self._artifacts(fields, at, path, document)
        manifest = Manifest(
            platform=platform,
            name=name,
            lifecycle=lifecycle.canonical,
            artifacts=artifacts,
            selections=selections,
        )
        return _CheckedManifest(_ordered(document, _MANIFEST_KEYS), manifest, lifecycle)

    def _platform(
        self, fields: dict[str, Any], at: _Written, path: DocPath, document: dict
    ) -> dict[str, str]:
        if fields.get("Platform") is None:
            return {}
        where = (*path, at("Platform"))
        mapping = self.c.mapping(
            fields["Platform"], where, "Platform", "e.g. {os: linux, architecture: aarch64}"
        )
        if mapping is None:
            return {}
        platform: dict[str, str] = {}
        written: dict[str, Any] = {}
        for key, value in mapping.items():
            if value is None:  # PlatformHelper treats a null template as a wildcard
                written[key], platform[key] = None, "*"
                continue
            template = self._platform_value(key, value, (*where, key))
            if template is not None:
                written[key] = platform[key] = template
        document["Platform"] = written
        return platform

    def _platform_value(self, key: str, value: Any, path: DocPath) -> str | None:
        template = self.c.text(value, path, f"platform attribute {key}")
        if template is None:
            return None
        if template == "*":
            return template
        if len(template) >= 2 and template.startswith("/") and template.endswith("/"):
            try:
                re.compile(template[1:-1])
            except re.error as err:
                self.c.error(
                    path,
                    f"platform regular expression {template} does not compile: {err}",
                    expected="/regex/ (a Java regular expression matched against the whole value)",
                )
                return None
            return template
        if template in ("all", "any"):
            if key not in _KNOWN_PLATFORM_VALUES:
                self.c.warning(
                    path,
                    f"{template!r} is a wildcard only for os and architecture; "
                    f"for {key} it must match exactly",
                    hint="use * to match any value",
                )
            return template
        if not re.match(r"[a-zA-Z0-9]", template):
            self.c.warning(
                path,
                f"platform value {template!r} does not start with a letter or digit and never matches",
                expected="*, /regex/ or a value starting with a letter or digit",
            )
            return template
        known = _KNOWN_PLATFORM_VALUES.get(key)
        if known and template not in known:
            self.c.warning(
                path,
                f"no core device reports {key} {template!r} (values are case-sensitive)",
                expected=" or ".join(known),
                hint="Jetson devices report os linux and architecture aarch64"
                if key in ("os", "architecture")
                else "",
            )
        return template

    def _selections(
        self, fields: dict[str, Any], at: _Written, path: DocPath, document: dict
    ) -> tuple[str, ...]:
        if fields.get("Selections") is None:
            return ()
        where = (*path, at("Selections"))
        value = fields["Selections"]
        if not isinstance(value, list):
            self.c.error(
                where,
                f"Selections must be a list, not {type_name(value)}",
                expected="a list of selection keys, e.g. [linux, all]",
            )
            return ()
        selections = []
        for i, item in enumerate(value):
            text = self.c.text(item, (*where, i), "a selection key")
            if text is not None:
                selections.append(text)
        document["Selections"] = selections
        return tuple(selections)

    # --- artifacts ------------------------------------------------------------------------------

    def _artifacts(
        self, fields: dict[str, Any], at: _Written, path: DocPath, document: dict
    ) -> tuple[Artifact, ...]:
        if fields.get("Artifacts") is None:
            return ()
        where = (*path, at("Artifacts"))
        value = fields["Artifacts"]
        if not isinstance(value, list):
            self.c.error(
                where, f"Artifacts must be a list, not {type_name(value)}", expected="a list of artifacts"
            )
            return ()
        documents: list[dict[str, Any]] = []
        artifacts: list[Artifact] = []
        names: dict[str, int] = {}
        for i, item in enumerate(value):
            result = self._artifact(item, (*where, i))
            if result is None:
                continue
            documents.append(result[0])
            artifact = result[1]
            artifacts.append(artifact)
            if artifact.scheme == "docker":
                continue
            if artifact.file_name in names:
                self.c.error(
                    (*where, i, _written_key(item, "Uri")),
                    f"artifact file name {artifact.file_name!r} is already used by "
                    f"artifact {names[artifact.file_name]}",
                    expected="a unique file name for each artifact of a manifest",
                    hint="both would be downloaded to the same file in {artifacts:path}",
                )
            names.setdefault(artifact.file_name, i)
        document["Artifacts"] = documents
        return tuple(artifacts)

    def _artifact(self, value: Any, path: DocPath) -> tuple[dict[str, Any], Artifact] | None:
        if value is None:
            self.c.error(
                path, "an artifact is null", expected="an object with Uri", hint="remove the empty entry"
            )
            return None
        mapping = self.c.mapping(
            value, path, "an artifact", "e.g. {Uri: s3://bucket/app.zip, Unarchive: ZIP}"
        )
        if mapping is None:
            return None
        fields = self.c.fields(mapping, path, _ARTIFACT_KEYS, "an artifact")
        at = _Written(fields)
        document: dict[str, Any] = {}
        uri = self._uri(fields, at, path)
        ok = uri is not None
        digest = self._optional_field_text(fields, at, path, "Digest", document)
        algorithm = self._optional_field_text(fields, at, path, "Algorithm", document)
        if (digest is None) != (algorithm is None):
            self.c.warning(
                (*path, at("Algorithm" if digest is None else "Digest")),
                "Digest and Algorithm come as a pair; the nucleus checks the digest only when both are set",
                hint="leave both out: the service computes them when you create the component version",
            )
        unarchive = "NONE"
        if fields.get("Unarchive") is not None:
            chosen = self.c.enum(
                fields["Unarchive"],
                (*path, at("Unarchive")),
                "Unarchive",
                UNARCHIVE_TYPES,
                hint="ZIP extracts the archive into "
                "{artifacts:decompressedPath}/<file name without extension>",
            )
            ok = ok and chosen is not None
            unarchive = chosen or unarchive
            document["Unarchive"] = unarchive
        read, execute, ok_permission = self._permission(fields, at, path, document)
        if not (ok and ok_permission):
            return None
        assert uri is not None
        document["Uri"] = uri
        artifact = Artifact(uri, unarchive, read, execute, digest, algorithm)
        return _ordered(document, _ARTIFACT_KEYS), artifact

    def _optional_field_text(
        self, fields: dict[str, Any], at: _Written, path: DocPath, key: str, document: dict
    ) -> str | None:
        if fields.get(key) is None:
            return None
        value = self.c.text(fields[key], (*path, at(key)), key, coerce=False)
        if value is not None:
            document[key] = value
        return value

    def _uri(self, fields: dict[str, Any], at: _Written, path: DocPath) -> str | None:
        expected = "s3://<bucket>/<key>, greengrass:<name> or docker:<image>"
        if fields.get("Uri") is None:
            self.c.error((*path, at("Uri")), "the artifact has no Uri", expected=expected)
            return None
        where = (*path, at("Uri"))
        uri = self.c.text(fields["Uri"], where, "Uri", coerce=False)
        if uri is None:
            return None
        problem, hint = uri_problem(uri)
        if problem:
            self.c.error(where, problem, expected=expected, hint=hint)
            return None
        return uri

    def _permission(
        self, fields: dict[str, Any], at: _Written, path: DocPath, document: dict
    ) -> tuple[str, str, bool]:
        read, execute, ok = "OWNER", "NONE", True
        if fields.get("Permission") is None:
            return read, execute, ok
        where = (*path, at("Permission"))
        mapping = self.c.mapping(fields["Permission"], where, "Permission", "e.g. {Read: ALL, Execute: ALL}")
        if mapping is None:
            return read, execute, False
        inner = self.c.fields(mapping, where, _PERMISSION_KEYS, "Permission")
        written: dict[str, str] = {}
        for key in _PERMISSION_KEYS:
            if inner.get(key) is None:
                continue
            chosen = self.c.enum(
                inner[key],
                (*where, inner[key + "@"]),
                f"Permission {key}",
                PERMISSION_TYPES,
                hint="artifacts cannot be made writable; Execute implies Read",
            )
            if chosen is None:
                ok = False
                continue
            written[key] = chosen
        document["Permission"] = written
        return written.get("Read", read), written.get("Execute", execute), ok

    # --- whole-recipe checks ----------------------------------------------------------------------

    def _finish_manifests(
        self,
        manifests: list[_CheckedManifest | None],
        global_lifecycle: LifecycleResult,
        found: dict[str, Any],
        at: _Written,
        dependencies: dict[str, Dependency],
    ) -> tuple[Manifest, ...]:
        finished: list[Manifest] = []
        reported: set[tuple[str, str]] = set()
        for index, entry in enumerate(manifests):
            if entry is None:
                continue
            manifest, own = entry.manifest, entry.lifecycle
            uses_own = bool(manifest.lifecycle)
            effective = (
                plain(manifest.lifecycle)
                if uses_own
                else plain(select_lifecycle(global_lifecycle.canonical, manifest.selections))
            )
            finished.append(
                Manifest(
                    manifest.platform,
                    manifest.name,
                    manifest.lifecycle,
                    manifest.artifacts,
                    manifest.selections,
                    effective,
                )
            )
            section = own if uses_own else global_lifecycle
            self._startup_and_run(effective, section, index, uses_own, reported)
            self._artifact_references(manifest, section.scripts, reported)
            self._docker_dependency(manifest, (at("Manifests"), index), dependencies, reported)
        return tuple(finished)

    def _startup_and_run(
        self, effective: dict[str, Any], section: LifecycleResult, index: int, uses_own: bool, reported: set
    ) -> None:
        if "startup" not in effective or "run" not in effective:
            return
        path = section.step_paths.get("run", section.path)
        message = "both Startup and Run are defined; a component has one of them"
        if not uses_own:
            message += f" (in the global Lifecycle as selected for manifest {index})"
        key = (json_path_key(path), message)
        if key in reported:
            return
        reported.add(key)
        self.c.error(
            path,
            message,
            expected="Startup (a background process that reports RUNNING) or Run (the main process)",
            hint="the nucleus runs only Startup when both exist; remove one",
        )

    def _artifact_references(self, manifest: Manifest, scripts: list[ScriptRef], reported: set) -> None:
        """Warn about ``{artifacts:decompressedPath}/X`` and ``{artifacts:path}/X`` where no
        artifact of the manifest provides X: the script would fail on a device."""
        folders = sorted({a.archive_folder_name for a in manifest.artifacts if a.unarchive == "ZIP"})
        files = sorted({a.file_name for a in manifest.artifacts if a.scheme != "docker"})
        for ref in scripts:
            if not ref.selected_by(manifest.selections):
                continue
            path, script = ref.path, ref.script
            for match in _DECOMPRESSED_REF.finditer(script):
                if match.group(1) not in folders:
                    self._reference_warning(path, match.group(0), folders, manifest, reported, unpacked=True)
            for match in _ARTIFACT_PATH_REF.finditer(script):
                if match.group(1) not in files:
                    self._reference_warning(path, match.group(0), files, manifest, reported, unpacked=False)

    def _reference_warning(
        self,
        path: DocPath,
        reference: str,
        available: list[str],
        manifest: Manifest,
        reported: set,
        unpacked: bool,
    ) -> None:
        name = reference.rsplit("/", 1)[-1]
        if unpacked:
            message = f"{reference}: no ZIP artifact of this manifest unpacks into a folder named {name!r}"
            zips = [a for a in manifest.artifacts if a.unarchive == "ZIP"]
            hint = (
                "Greengrass extracts each ZIP into a folder named after the file minus its extension: "
                + ", ".join(
                    f"{a.file_name} → {{artifacts:decompressedPath}}/{a.archive_folder_name}/" for a in zips
                )
                if zips
                else "set Unarchive: ZIP on the archive artifact"
            )
        else:
            message = f"{reference}: no artifact of this manifest is named {name!r}"
            hint = "artifacts are stored under their URI's last path segment"
        key = (json_path_key(path), message)
        if key in reported:
            return
        reported.add(key)
        if available:
            expected = "one of: " + ", ".join(available)
        else:
            expected = "an artifact with Unarchive: ZIP" if unpacked else "an artifact with that file name"
        if unpacked:
            # nothing else ever writes under {artifacts:decompressedPath}: the folder cannot exist
            self.c.device_failure(path, message + "; the script fails on every device", expected, hint)
        else:
            self.c.warning(path, message, expected=expected, hint=hint)

    def _docker_dependency(
        self, manifest: Manifest, path: DocPath, dependencies: dict[str, Dependency], reported: set
    ) -> None:
        if DOCKER_MANAGER in dependencies or not any(a.scheme == "docker" for a in manifest.artifacts):
            return
        key = (json_path_key(path), "docker")
        if key in reported:
            return
        reported.add(key)
        self.c.warning(
            path,
            "docker: artifacts are pulled by the Docker application manager, which is not a dependency",
            hint=f"add {DOCKER_MANAGER} to ComponentDependencies; the simulated device does not pull images",
        )


# --- helpers -------------------------------------------------------------------------------------


class _Written:
    """Maps a canonical key to the key as written in the document (for pointers)."""

    def __init__(self, fields: dict[str, Any]) -> None:
        self._fields = fields

    def __call__(self, canonical: str) -> str:
        return self._fields.get(canonical + "@", canonical)


@dataclass
class _CheckedManifest:
    document: dict[str, Any]
    manifest: Manifest
    lifecycle: LifecycleResult


def _written_key(mapping: Any, canonical: str) -> str:
    if isinstance(mapping, dict):
        for key in mapping:
            if isinstance(key, str) and key.lower() == canonical.lower():
                return key
    return canonical


def json_path_key(path: DocPath) -> str:
    return "/".join(str(part) for part in path)


def _ordered(document: dict[str, Any], order: tuple[str, ...] = _TOP_KEYS) -> dict[str, Any]:
    """The document's keys in the order of the developer guide, for stable output."""
    return {key: document[key] for key in order if key in document}


def component_name_problem(name: str) -> str:
    """Why ``name`` is not a valid component name, or ``""`` (ComponentRecipe.componentName)."""
    if not name:
        return "component name is empty"
    if len(name) > MAX_COMPONENT_NAME_LENGTH:
        return f"component name is {len(name)} characters long (at most {MAX_COMPONENT_NAME_LENGTH})"
    if not COMPONENT_NAME_PATTERN.match(name):
        bad = sorted({ch for ch in name if not COMPONENT_NAME_PATTERN.match(ch)})
        return f"component name {name!r} contains {' '.join(repr(ch) for ch in bad)}"
    return ""


def uri_problem(uri: str) -> tuple[str, str]:
    """Why an artifact URI would fail on a core device, with a hint; ``("", "")`` if it is fine."""
    bad = _URI_BAD_CHARS.search(uri)
    if bad:
        return (
            f"Uri {uri!r} is not a valid URI (character {bad.group(0)!r} at {bad.start()})",
            "percent-encode spaces and special characters (space = %20)",
        )
    match = _URI_SCHEME.match(uri)
    if match is None:
        return f"Uri {uri!r} has no scheme", "upload the file to S3 and write s3://<bucket>/<key>"
    scheme = match.group(1).lower()
    if scheme not in _SUPPORTED_SCHEMES:
        return (
            f"Uri scheme {match.group(1)!r} is not supported by the nucleus",
            "upload the file to S3 and write s3://<bucket>/<key> (ArtifactDownloaderFactory knows "
            "s3, greengrass and docker)",
        )
    if scheme == "s3":
        s3 = _S3_URI.fullmatch(uri)
        if s3 is None:
            return (
                f"Uri {uri!r} is not s3://<bucket>/<key>",
                "write the scheme in lower case: s3://bucket/key",
            )
        if not s3.group(2) or s3.group(2).endswith("/"):
            return (
                f"Uri {uri!r} names no object (the key is empty or ends with '/')",
                "end the URI with a file name",
            )
    elif not uri.split(":", 1)[1]:
        return f"Uri {uri!r} names nothing after the scheme", ""
    return "", ""


def _platform_attribute_matches(name: str, label: str | None, template: str | None) -> bool:
    """PlatformHelper.isAttributeSatisfied."""
    if template is None or template == "*":
        return True
    if not label:
        return False
    if len(template) >= 2 and template.startswith("/") and template.endswith("/"):
        try:
            return re.fullmatch(template[1:-1], label) is not None
        except re.error:
            return False
    if name in ("os", "architecture") and template in ("all", "any"):
        return True
    if not re.match(r"[a-zA-Z0-9]", template):
        return False
    return template == label
