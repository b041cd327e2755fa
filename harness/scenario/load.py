"""Reading a scenario file: schema, then the rules that span the file, then the typed model.

A scenario is checked in three passes, and every problem of every pass is reported at once, each
as ``file:line:col: error: at /json/pointer: message`` with a hint:

1. YAML syntax (:func:`harness.yamldoc.parse_mapping`);
2. :data:`harness.scenario.schema.SCENARIO_SCHEMA` — an unknown key is reported at the key
   itself, with the closest known key ("did you mean timeout_s?");
3. rules the schema cannot express: versions deployed are listed under ``components``, deploy
   targets are thing groups or things of ``devices``, ``wait_for`` refers to an earlier deploy
   step, step ids are unique, files exist and recipes say the name and version they are listed
   under, ``${…}`` names are known, profiles exist, a step's keys fit together, accuracy has a
   world to be scored against.

A part of the file that failed the schema is left out of pass 3 (its data cannot be trusted), so
one mistake is not reported three times. :func:`load_scenario` raises with the findings or
returns a :class:`~harness.scenario.model.Scenario`; :func:`lint_scenario` only returns them.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fake_device.profiles import profile_names
from harness.errors import Diagnostic, DiagnosticReport, HarnessError, ValidationError
from harness.lint.recipe import Recipe, check_recipe_file
from harness.lint.semver import version_problem
from harness.package import ArtifactSpec, load_artifact_spec
from harness.scenario.model import (
    AccuracySpec,
    AssertLogsStep,
    ComponentDeploySpec,
    ComponentVersionSpec,
    DeployStep,
    Devices,
    DeviceSpec,
    ExpectIotCoreStep,
    ExpectMessagesStep,
    ExpectShadowStep,
    ImprovesOn,
    InjectStep,
    LogTrigger,
    Predicate,
    Scenario,
    SequenceSpec,
    ServicesSpec,
    SetSecretStep,
    SleepStep,
    SnapshotStep,
    Step,
    TritonSpec,
    UpdateShadowStep,
    WaitForStep,
    WorldSpec,
)
from harness.scenario.schema import (
    DEFAULTS,
    DEPLOYMENT_STATUSES,
    DEVICE_STATUSES,
    SCENARIO_SCHEMA,
    STEP_KINDS,
)
from harness.scenario.variables import VariableSyntaxError, known_names, reference_problem, references
from harness.yamldoc import location, parse_mapping, plain, pointer, read_text, schema_errors

if TYPE_CHECKING:
    from harness.targets.choice import TargetRequest

__all__ = ["lint_scenario", "load_scenario"]

#: A path into the document: keys and list indexes, as in the JSON pointers of messages.
Where = list[str | int]

_WHAT = "scenario"
_ADDITIONAL = re.compile(r"^Additional properties are not allowed \((.*) (?:was|were) unexpected\)$")
_REQUIRED = re.compile(r"^'(.*)' is a required property$")
_KIND_UNKNOWN = re.compile(r"^kind '(.*)' is not one of ")
_QUOTED = re.compile(r"'((?:[^'\\]|\\.)*)'")
# A message path: dotted keys, [n] and [*] (the runner's harness.scenario.checks.select).
_MESSAGE_PATH = re.compile(r"^[^.\[\]]+(?:\.[^.\[\]]+|\[(?:[0-9]+|\*)\])*$")
_PREDICATE_OPS = ("equals", "matches", "min_items", "object_label_in")
_WAIT_TARGETS = ("deployment", "component", "device")
# inject: the keys each fault takes (after_log: every fault), and those it needs.
_FAULT_KEYS = {
    "kill_device": ("device", "duration_s"),
    "restart_device": ("device", "duration_s"),
    "pause_device": ("device", "duration_s"),
    "partition_device": ("device", "duration_s"),
    "pause_service": ("service", "duration_s"),
    "stop_service": ("service", "duration_s"),
    "kill_service": ("service", "duration_s"),
    "stop_kafka": ("duration_s",),
    "stop_triton": ("duration_s",),
    "s3_outage": ("duration_s", "status"),
    "replace_artifact": ("component", "version", "file"),
}
_FAULT_NEEDS = {
    "kill_device": ("device",),
    "restart_device": ("device",),
    "pause_device": ("device", "duration_s"),
    "partition_device": ("device", "duration_s"),
    "pause_service": ("service",),
    "stop_service": ("service",),
    "kill_service": ("service",),
    "s3_outage": ("duration_s",),
    "replace_artifact": ("component", "version", "file"),
}
_INJECT_OPTIONAL = ("device", "service", "duration_s", "status", "component", "version", "file")
# the legacy service faults: the service they name
_LEGACY_SERVICE = {"stop_kafka": "kafka", "stop_triton": "triton"}


def load_scenario(path: str | Path, target: TargetRequest | None = None) -> Scenario:
    """Read and check a scenario file; raise :class:`ValidationError` listing every problem.

    With ``target``, a scenario that needs what the target cannot do (a device fault, device
    logs, a service the harness would have to run) is refused too, naming each step
    (:mod:`harness.scenario.requirements`). A missing or unreadable file raises
    :class:`HarnessError`.
    """
    scenario_path = Path(path)
    text = read_text(scenario_path, _WHAT)
    checker = _Checker(scenario_path, text)
    report = checker.run()
    if not report.ok:
        raise ValidationError(report, what=f"{scenario_path} is not a valid scenario")
    scenario = checker.build()
    if target is not None:
        from harness.scenario.requirements import target_findings

        choice = target.choose(scenario)
        refused = target_findings(scenario, choice)
        if not refused.ok:
            raise ValidationError(refused, what=f"{scenario_path} cannot run on {choice.label}")
    return scenario


def lint_scenario(path: str | Path, target: TargetRequest | None = None) -> DiagnosticReport:
    """Every finding about a scenario file (errors and warnings), without raising; with
    ``target``, also what the target cannot do for it (once the file itself is valid)."""
    if target is not None:
        report = lint_scenario(path)
        if report.ok:
            from harness.scenario.requirements import target_findings

            scenario = load_scenario(path)
            report.extend(target_findings(scenario, target.choose(scenario)))
        return report
    scenario_path = Path(path)
    try:
        text = read_text(scenario_path, _WHAT)
    except ValidationError as err:
        return err.report
    except HarnessError as err:
        report = DiagnosticReport()
        report.add(Diagnostic("error", str(scenario_path), err.message, hint=err.hint or ""))
        return report
    return _Checker(scenario_path, text).run()


class _Checker:
    """The passes over one file; ``run`` collects findings, ``build`` makes the model."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.file = str(path)
        self.text = text
        self.base = path.parent
        # findings in the scenario file, each with the findings in other files it introduces
        # (a recipe's own errors); reported in the order of the scenario's lines
        self.findings: list[tuple[tuple[int, int, int], list[Diagnostic]]] = []
        self.doc: Any = None  # ruamel round-trip document (positions)
        self.data: dict[str, Any] = {}  # plain data
        self.bad: list[Where] = []  # paths that failed the schema
        self.things: list[str] | None = None  # None: devices did not validate
        self.groups: list[str] = []
        self.variables: list[str] | None = None
        self.ids: dict[str, int] = {}  # step id → index of its first step
        self.clip_worlds: list[tuple[str, str, dict[str, Any]]] = []

    # --- findings ------------------------------------------------------------------------------

    def _doc_path(self, path: Where) -> list[Any]:
        """``path`` with each key as the document holds it (``1.0`` may be a float key there)."""
        node = self.doc
        out: list[Any] = []
        for part in path:
            key: Any = part
            if isinstance(node, dict) and not isinstance(part, int) and part not in node:
                key = next((k for k in node if str(k) == part), part)
            out.append(key)
            try:
                node = node[key]
            except (KeyError, IndexError, TypeError):
                node = None
        return out

    def _add(self, severity: str, path: Where, message: str, hint: str = "") -> None:
        where = location(self.doc, self._doc_path(path))
        line, _, col = where.partition(":")
        key = (int(line or 0), int(col or 0), len(self.findings))
        diagnostic = Diagnostic(
            severity, self.file, f"at {pointer(path)}: {message}", location=where, hint=hint
        )
        self.findings.append((key, [diagnostic]))

    def _attach(self, diagnostics: list[Diagnostic]) -> None:
        """Findings in another file, listed right after the last finding in this one."""
        self.findings[-1][1].extend(diagnostics)

    def error(self, path: Where, message: str, hint: str = "") -> None:
        self._add("error", path, message, hint)

    def warning(self, path: Where, message: str, hint: str = "") -> None:
        self._add("warning", path, message, hint)

    def valid(self, path: Where) -> bool:
        """Whether nothing at, inside or above ``path`` (the root excepted) failed the schema."""
        n = len(path)
        return not any(bad[:n] == path or (bad and path[: len(bad)] == bad) for bad in self.bad)

    # --- passes --------------------------------------------------------------------------------

    def run(self) -> DiagnosticReport:
        try:
            self.doc = parse_mapping(
                self.text,
                self.file,
                f"{self.file} is not a valid scenario",
                expected="a mapping with name, devices and steps",
            )
        except ValidationError as err:
            return err.report
        self.data = plain(self.doc)
        self._schema()
        self._services()
        self._devices()
        self._components()
        self._variables()
        self._references()
        self._steps()
        self._world()
        report = DiagnosticReport()
        for _, diagnostics in sorted(self.findings, key=lambda item: item[0]):
            for diagnostic in diagnostics:
                report.add(diagnostic)
        return report

    def _schema(self) -> None:
        for path, message in schema_errors(self.data, SCENARIO_SCHEMA):
            additional = _ADDITIONAL.match(message)
            if additional:
                known = sorted(_subschema(self.data, path).get("properties", {}))
                for key in _QUOTED.findall(additional.group(1)):
                    # not recorded as bad: the known keys next to it are still checked
                    self.error([*path, key], f"unknown key {key!r}", _key_hint(key, known))
                continue
            self.bad.append(path)
            required = _REQUIRED.match(message)
            if required:
                sub = _subschema(self.data, [*path, required.group(1)])
                hint = sub.get("description", "")
                self.error(path, message, f"{required.group(1)}: {hint}" if hint else "")
                continue
            if message.startswith("kind None is not one of"):
                self.error(path, "a step needs a kind", f"kinds: {', '.join(STEP_KINDS)}")
                continue
            kind = _KIND_UNKNOWN.match(message)
            if kind:
                self.error(path, message, _close_hint(kind.group(1), list(STEP_KINDS), "kinds"))
                continue
            if message.endswith("is not valid under any of the given schemas") and path[:1] == ["steps"]:
                message = f"a step is a mapping with a kind (one of {', '.join(STEP_KINDS)})"
            self.error(path, message, _subschema(self.data, path).get("description", ""))

    def _triton_declared(self) -> bool:
        services = self.data.get("services")
        return isinstance(services, dict) and isinstance(services.get("triton"), dict)

    def _services(self) -> None:
        self._bucket_policy()
        self._triton_models()

    def _bucket_policy(self) -> None:
        """``services.aws.bucket_policy`` is a policy document S3 would take (its ``${…}`` known)."""
        at: Where = ["services", "aws", "bucket_policy"]
        services = self.data.get("services")
        aws = services.get("aws") if isinstance(services, dict) else None
        if not isinstance(aws, dict) or "bucket_policy" not in aws or not self.valid(at):
            return
        path = self._file(aws["bucket_policy"], at, "bucket policy")
        if path is not None:
            from harness.scenario.policy_file import check_policy_file

            declared = self.data.get("variables")
            thing_count = None  # unknown unless the devices are valid
            if self.valid(["devices"]):
                thing_count = sum(len(_things(d)) for d in self.data.get("devices") or [])
            problem = check_policy_file(
                path, list(declared) if isinstance(declared, dict) else [], thing_count
            )
            if problem:
                self.error(at, problem[0], problem[1])

    def _triton_models(self) -> None:
        """``services.triton.models`` is a model repository tritonserver can load."""
        at: Where = ["services", "triton", "models"]
        if not self._triton_declared() or not self.valid(at):
            return
        value = self.data["services"]["triton"]["models"]
        folder = Path(os.path.normpath(self.base / value))
        if not folder.is_dir():
            state = "is a file" if folder.exists() else "does not exist"
            self.error(
                at,
                f"model repository {value} {state} (resolved to {folder.resolve()})",
                "a folder of <model>/config.pbtxt and <model>/<version>/ folders, relative to the "
                "folder of the scenario file",
            )
            return
        from harness.lint.model_repo import validate_model_repository

        errors = validate_model_repository(folder).errors
        if errors:
            self.error(
                at,
                f"{value} is not a valid model repository ({_plural(len(errors), 'error')} below)",
                f"edge-harness lint models {folder}",
            )
            self._attach(errors)

    def _devices(self) -> None:
        if not self.valid(["devices"]) or not isinstance(self.data.get("devices"), list):
            return
        origin: dict[str, int] = {}
        profiles = profile_names()
        for index, device in enumerate(self.data["devices"]):
            for thing in _things(device):
                if thing in origin:
                    self.error(
                        ["devices", index, "name"],
                        f"thing {thing!r} is also a thing of /devices/{origin[thing]}",
                        "give the entries different names (things are <name>-<n>)",
                    )
                    break
                origin[thing] = index
            profile = device.get("profile", DEFAULTS["device_profile"])
            if profile not in profiles:
                self.error(
                    ["devices", index, "profile"],
                    f"no device profile {profile!r}",
                    _close_hint(profile, profiles, "profiles (fake_device/profiles)"),
                )
        self.things = list(origin)
        self.groups = list(dict.fromkeys(d["thing_group"] for d in self.data["devices"]))

    def _components(self) -> None:
        for name, versions in _items(self.data.get("components")):
            for version, files in _items(versions):
                at: Where = ["components", name, version]
                if not self.valid(at):
                    continue
                problem = version_problem(version)
                if problem:
                    self.error(
                        at,
                        f"version {version!r} {problem}",
                        'component versions are semantic versions such as "1.0.0"; quote them so '
                        "YAML reads them as text",
                    )
                recipe = self._recipe(name, version, files["recipe"], [*at, "recipe"])
                artifact = None
                if "artifact" in files:
                    artifact = self._artifact(files["artifact"], [*at, "artifact"])
                if recipe is not None and (artifact is not None or "artifact" not in files):
                    self._recipe_artifacts(recipe, artifact, at)
                if artifact is not None:
                    for layer in artifact.layers:
                        if layer.world is not None:
                            self.clip_worlds.append((name, version, layer.world))

    def _file(self, value: str, at: Where, what: str) -> Path | None:
        """The path a scenario names (relative to the scenario's folder), or None if missing."""
        shown = Path(os.path.normpath(self.base / value))
        if not shown.is_file():
            state = "is a folder" if shown.is_dir() else "does not exist"
            self.error(
                at,
                f"{what} {value} {state} (resolved to {shown.resolve()})",
                "paths are relative to the folder of the scenario file",
            )
            return None
        return shown

    def _recipe(self, name: str, version: str, value: str, at: Where) -> Recipe | None:
        path = self._file(value, at, "recipe")
        if path is None:
            return None
        recipe, found = check_recipe_file(path)
        if recipe is None:
            errors = found.errors
            self.error(
                at,
                f"{value} is not a valid recipe ({_plural(len(errors), 'error')} below)",
                f"edge-harness lint recipe {path}",
            )
            self._attach(errors)
            return None
        if recipe.name != name:
            self.error(
                at,
                f"the recipe's ComponentName is {recipe.name!r}, but it is listed under {name!r}",
                f"list it under components.{recipe.name}, or correct ComponentName in {value}",
            )
        if recipe.version != version:
            self.error(
                at,
                f"the recipe's ComponentVersion is {recipe.version!r}, but it is listed under {version!r}",
                f'list it under "{recipe.version}", or correct ComponentVersion in {value}',
            )
        return recipe

    def _artifact(self, value: str, at: Where) -> ArtifactSpec | None:
        path = self._file(value, at, "artifact spec")
        if path is None:
            return None
        try:
            return load_artifact_spec(path)
        except ValidationError as err:
            errors = err.report.errors
            self.error(
                at,
                f"{value} is not a valid artifact spec ({_plural(len(errors), 'error')} below)",
                "the artifact spec format: docs/cli.md (edge-harness package)",
            )
            self._attach(errors)
        except HarnessError as err:
            self.error(at, err.message)
        return None

    def _recipe_artifacts(self, recipe: Recipe, artifact: ArtifactSpec | None, at: Where) -> None:
        """The uploaded ZIP must be one the recipe downloads, and S3 artifacts need an upload."""
        uris = [a for m in recipe.manifests for a in m.artifacts if a.scheme == "s3"]
        if artifact is not None:
            zip_name = f"{artifact.name}.zip"
            if uris and not any(a.file_name == zip_name for a in uris):
                listed = ", ".join(sorted({a.uri for a in uris}))
                self.error(
                    [*at, "artifact"],
                    f"the artifact spec builds {zip_name}, but the recipe downloads {listed}",
                    "the spec's name is the ZIP's name: make the recipe's URI end in /" + zip_name,
                )
            elif not uris:
                self.error(
                    [*at, "artifact"],
                    "the recipe has no s3:// artifact for this ZIP to be uploaded as",
                    "add the artifact to the recipe's Manifests[].Artifacts, or remove artifact:",
                )
        elif uris:
            self.error(
                at,
                f"the recipe downloads {uris[0].uri}, but no artifact spec is given to build and upload it",
                "add artifact: <path to artifact.yaml> next to recipe:",
            )

    def _variables(self) -> None:
        if self.valid(["variables"]):
            self.variables = list(self.data.get("variables") or {})

    def _references(self) -> None:
        thing_count = None if self.things is None else len(self.things)
        triton = self._triton_declared()
        secrets = [
            str(step.get("secret"))
            for step in self.data.get("steps") or []
            if isinstance(step, dict) and step.get("kind") == "set_secret"
        ]
        known = ", ".join(
            known_names(self.variables or [], len(self.things or []), triton=triton, secrets=secrets)
        )
        for path, text in _strings(self.data, []):
            if path == ["description"] or not self.valid(path):
                continue
            try:
                names = references(text)
            except VariableSyntaxError as err:
                self.error(path, err.message, err.hint or "")
                continue
            for name in names:
                if path[:1] == ["variables"] and name.startswith("var."):
                    self.error(
                        path,
                        f"${{{name}}}: a variable's value cannot use another variable",
                        "write the value out, or use the built-in names (kafka.*, aws.bucket, …)",
                    )
                    continue
                if name.startswith("var.") and self.variables is None:
                    continue  # variables failed the schema: already reported
                problem = reference_problem(
                    name, self.variables or [], thing_count, triton=triton, secrets=secrets
                )
                if problem:
                    hint = f"known names: {known}"
                    if name.startswith("triton.") and not triton:
                        hint = "declare services: {triton: {models: <model repository>}}; " + hint
                    self.error(path, problem, hint)

    # --- steps ---------------------------------------------------------------------------------

    def _steps(self) -> None:
        steps = self.data.get("steps")
        if not isinstance(steps, list):
            return
        for index, step in enumerate(steps):
            if not isinstance(step, dict) or not isinstance(step.get("kind"), str):
                continue
            step_id = _step_id(step, index)
            if step_id in self.ids:
                key = "id" if "id" in step else "name" if "name" in step else None
                self.error(
                    ["steps", index, *([key] if key else [])],
                    f"step id {step_id!r} is already used by /steps/{self.ids[step_id]}",
                    "give one of them another id: (the id defaults to the name)",
                )
                continue
            self.ids[step_id] = index
        for index, step in enumerate(steps):
            if not self.valid(["steps", index]):
                continue
            check = getattr(self, f"_step_{step['kind']}")
            check(["steps", index], step, index)

    def _step_deploy(self, at: Where, step: dict[str, Any], _index: int) -> None:
        target = step["target"]
        if self.things is not None and not _dynamic(target):
            if target.startswith("thing:"):
                self._thing(target.split(":", 1)[1], [*at, "target"])
            elif target not in self.groups:
                self.error(
                    [*at, "target"],
                    f"no device is in thing group {target!r}",
                    f"thing groups of the devices: {', '.join(self.groups)}; or thing:<thing name>",
                )
        for name, spec in step["components"].items():
            self._component_version(name, spec["version"], [*at, "components", name])

    def _step_wait_for(self, at: Where, step: dict[str, Any], index: int) -> None:
        given = [key for key in _WAIT_TARGETS if key in step]
        if len(given) != 1:
            found = f"found {', '.join(given)}" if given else "found none"
            self.error(
                at,
                f"a wait_for step waits for exactly one of deployment, component, device ({found})",
                "split it into one wait_for step each",
            )
            return
        what = given[0]
        only = {
            "reason_contains": "deployment",
            "state": "component",
            "version": "component",
        }
        for key, owner in only.items():
            if key in step and owner != what:
                self.error([*at, key], f"{key} is used only with {owner}:, not with {what}:")
        status = step.get("status")
        if what == "deployment":
            self._step_ref(step["deployment"], [*at, "deployment"], index, "deploy")
            if "devices" in step:
                self.error(
                    [*at, "devices"],
                    "devices is not used with deployment: every device the deployment targets is waited for",
                    "remove devices:, or deploy to thing:<thing name> to involve one device",
                )
            if status in DEVICE_STATUSES:
                self.error(
                    [*at, "status"],
                    f"{status} is a core device status, not a deployment's",
                    f"a deployment's status is one of {', '.join(DEPLOYMENT_STATUSES)}",
                )
        elif what == "component":
            if status is not None:
                self.error(
                    [*at, "status"],
                    "status is used with deployment: and device:; a component has a state",
                    "write state: RUNNING (or another lifecycle state)",
                )
            version = step.get("version")
            if version is None:
                self._component_version(step["component"], None, [*at, "component"])
            else:
                self._component_version(step["component"], version, at, name_key="component")
        else:
            if status in DEPLOYMENT_STATUSES:
                self.error(
                    [*at, "status"],
                    f"{status} is a deployment status, not a core device's",
                    f"a core device's status is one of {', '.join(DEVICE_STATUSES)}",
                )
            if "devices" in step:
                self.error(
                    [*at, "devices"],
                    "with device: the devices are named there; devices: is not used",
                    "write device: all | any | <thing name> | [<thing names>]",
                )
            self._devices_ref(step["device"], [*at, "device"])
        if "devices" in step and what == "component":
            self._devices_ref(step["devices"], [*at, "devices"])

    def _step_expect_messages(self, at: Where, step: dict[str, Any], index: int) -> None:
        schema = step.get("schema", DEFAULTS["message_schema"])
        for number, predicate in enumerate(step.get("where", [])):
            self._predicate([*at, "where", number], predicate, schema)
        if "accuracy" in step:
            ref = (step["accuracy"].get("improves_on") or {}).get("step")
            if ref is not None:
                self._step_ref(
                    ref, [*at, "accuracy", "improves_on", "step"], index, "expect_messages", "accuracy"
                )
            if "world" not in self.data:
                self.error(
                    [*at, "accuracy"],
                    "accuracy is scored against the scenario's world, and there is no world:",
                    "add world: {seed: …, seconds: …} — the world of the clip the artifact plays"
                    + self._clip_world_hint(),
                )
            if schema != "minimal":
                self.error(
                    [*at, "accuracy"],
                    f"accuracy is scored from minimal-schema messages, and schema is {schema}",
                    "set schema: minimal (msgconv payload-type 1)",
                )
        if "latency" in step and schema == "none":
            self.error(
                [*at, "latency"],
                "latency needs each message's @timestamp, and schema is none",
                "set schema: minimal or full",
            )
        for key in ("field", "per"):
            path = (step.get("sequence") or {}).get(key)
            if path is None:
                continue
            if not _MESSAGE_PATH.match(path) or "[*]" in path:
                self.error(
                    [*at, "sequence", key],
                    f"{path!r} is not a path to one value of a message",
                    "dotted keys with [n] for a list item (not [*]), e.g. id or sensor.id",
                )

    def _predicate(self, at: Where, predicate: dict[str, Any], schema: str) -> None:
        ops = [op for op in _PREDICATE_OPS if op in predicate]
        if len(ops) != 1:
            found = f"found {', '.join(ops)}" if ops else "found none"
            self.error(
                at,
                f"a predicate has exactly one of {', '.join(_PREDICATE_OPS)} ({found})",
                "write one predicate per check: - {path: objects, min_items: 1}",
            )
            return
        op = ops[0]
        if op == "object_label_in":
            if "path" in predicate:
                self.error(
                    [*at, "path"],
                    "object_label_in looks at the objects of each message and takes no path",
                    "remove path:",
                )
            if schema != "minimal":
                self.error(
                    [*at, "object_label_in"],
                    f"object_label_in reads minimal-schema object strings, and schema is {schema}",
                    "set schema: minimal, or check labels with {path: …, equals: …}",
                )
            return
        if "path" not in predicate:
            self.error(at, f"{op} needs a path", "e.g. {path: sensorId, equals: sensor-0}")
        elif not _MESSAGE_PATH.match(predicate["path"]):
            self.error(
                [*at, "path"],
                f"{predicate['path']!r} is not a message path",
                "dotted keys with [n] or [*] for list items, e.g. objects[*] or sensor.id",
            )
        if op == "matches":
            try:
                re.compile(predicate["matches"])
            except re.error as err:
                self.error([*at, "matches"], f"not a regular expression: {err}", "Python re syntax")

    def _step_assert_logs(self, at: Where, step: dict[str, Any], _index: int) -> None:
        for keys in (("component", "source"), ("contains", "regex")):
            given = [key for key in keys if key in step]
            if len(given) != 1:
                self.error(
                    at if not given else [*at, given[-1]],
                    f"an assert_logs step has exactly one of {keys[0]}, {keys[1]}"
                    + (f" (found {', '.join(given)})" if given else ""),
                    "component: <name> for its log, source: greengrass for the nucleus log"
                    if keys[0] == "component"
                    else "contains: <text>, or regex: <regular expression>",
                )
        if "component" in step:
            self._component_version(step["component"], None, [*at, "component"])
        if "regex" in step:
            try:
                re.compile(step["regex"])
            except re.error as err:
                self.error([*at, "regex"], f"not a regular expression: {err}", "Python re syntax")
        if "devices" in step:
            self._devices_ref(step["devices"], [*at, "devices"])

    def _step_inject(self, at: Where, step: dict[str, Any], _index: int) -> None:
        fault = step["fault"]
        takes = _FAULT_KEYS[fault]
        listed = ", ".join([*takes, "after_log"])
        for key in _INJECT_OPTIONAL:
            if key in step and key not in takes:
                self.error([*at, key], f"{key} is not used by fault {fault}", f"{fault} takes {listed}")
        missing = [key for key in _FAULT_NEEDS.get(fault, ()) if key not in step]
        if missing:
            self.error(at, f"fault {fault} needs {', '.join(missing)}", f"{fault} takes {listed}")
        if "device" in step and "device" in takes and not _dynamic(step["device"]):
            self._thing(step["device"], [*at, "device"])
        service = _LEGACY_SERVICE.get(fault, step.get("service") if "service" in takes else None)
        if service is not None:
            self._fault_service(fault, service, [*at, "fault" if fault in _LEGACY_SERVICE else "service"])
        if "after_log" in step:
            self._after_log([*at, "after_log"], step["after_log"])
        if fault == "replace_artifact" and not missing:
            name, version = step["component"], step["version"]
            if self._component_version(name, version, at, name_key="component"):
                files = self.data["components"][name][version]
                if isinstance(files, dict) and "artifact" not in files:
                    self.error(
                        [*at, "version"],
                        f"{name} {version} has no artifact: there is no uploaded ZIP to replace",
                        f"give components.{name}.{version} an artifact:",
                    )
            self._file(step["file"], [*at, "file"], "file")

    def _fault_service(self, fault: str, service: str, at: Where) -> None:
        """The service a fault names must be one this scenario runs, and survive the fault."""
        services = self.data.get("services") or {}
        if service == "kafka" and "external" in (services.get("kafka") or {}):
            self.error(
                at,
                f"{fault} needs the broker the scenario starts, and services.kafka is external",
                "remove services.kafka.external (the harness cannot pause, stop or kill a broker it "
                "does not run), or this step",
            )
        elif service == "triton" and not self._triton_declared():
            self.error(
                at,
                f"{fault} needs the scenario's Triton server, and services.triton is not declared",
                "declare services: {triton: {models: <model repository>}}, or this step",
            )
        elif service == "aws" and fault in ("stop_service", "kill_service"):
            self.error(
                at,
                f"{fault} of the AWS endpoint would lose its state: it keeps things, deployments "
                "and uploaded artifacts in memory, and would come back empty",
                "pause_service with service: aws makes it stop answering and keeps its state; "
                "s3_outage makes S3 alone fail",
            )

    def _after_log(self, at: Where, trigger: dict[str, Any]) -> None:
        given = [key for key in ("contains", "regex") if key in trigger]
        if len(given) != 1:
            self.error(
                at if not given else [*at, given[-1]],
                "after_log has exactly one of contains, regex"
                + (f" (found {', '.join(given)})" if given else ""),
                "contains: <text>, or regex: <regular expression>",
            )
        if "regex" in trigger:
            try:
                re.compile(trigger["regex"])
            except re.error as err:
                self.error([*at, "regex"], f"not a regular expression: {err}", "Python re syntax")
        if "component" in trigger:
            self._component_version(trigger["component"], None, [*at, "component"])
        if "device" in trigger:
            self._devices_ref(trigger["device"], [*at, "device"])

    def _step_sleep(self, at: Where, step: dict[str, Any], _index: int) -> None:
        """Nothing beyond the schema (seconds > 0)."""

    def _step_snapshot(self, at: Where, step: dict[str, Any], _index: int) -> None:
        """Nothing beyond the schema and the variable check of its url."""

    def _step_expect_iot_core(self, at: Where, step: dict[str, Any], _index: int) -> None:
        for number, predicate in enumerate(step.get("where", [])):
            self._predicate([*at, "where", number], predicate, "none")
        topic = step["topic"]
        levels = topic.split("/")
        if any(
            ("#" in level and (level != "#" or n != len(levels) - 1)) for n, level in enumerate(levels)
        ) or any("+" in level and level != "+" for level in levels):
            self.error(
                [*at, "topic"],
                f"{topic!r} is not an MQTT topic filter",
                "+ stands for a whole level and # only for the last one, e.g. fleet/+/telemetry/#",
            )

    def _step_set_secret(self, at: Where, step: dict[str, Any], _index: int) -> None:
        """Nothing beyond the schema; ``${secret.<name>.arn}`` is known to the reference check."""

    def _step_update_shadow(self, at: Where, step: dict[str, Any], _index: int) -> None:
        self._shadow_thing(at, step)

    def _step_expect_shadow(self, at: Where, step: dict[str, Any], _index: int) -> None:
        self._shadow_thing(at, step)
        for number, predicate in enumerate(step["where"]):
            self._predicate([*at, "where", number], predicate, "none")

    def _shadow_thing(self, at: Where, step: dict[str, Any]) -> None:
        if not _dynamic(step["thing"]):
            self._thing(step["thing"], [*at, "thing"])

    # --- cross-references ----------------------------------------------------------------------

    def _thing(self, thing: str, at: Where) -> None:
        if self.things is not None and thing not in self.things:
            self.error(at, f"no thing {thing!r}", _close_hint(thing, self.things, "things"))

    def _devices_ref(self, value: Any, at: Where) -> None:
        if isinstance(value, str):
            if value not in ("all", "any") and not _dynamic(value):
                self._thing(value, at)
            return
        for number, thing in enumerate(value):
            if not _dynamic(thing):
                self._thing(thing, [*at, number])

    def _step_ref(self, ref: str, at: Where, index: int, kind: str, key: str | None = None) -> None:
        """``ref`` is the id of a step of ``kind`` (that has ``key``) before step ``index``."""
        steps = self.data["steps"]
        what = f"{kind} steps" + (f" with {key}" if key else "")
        earlier = [
            _step_id(s, i)
            for i, s in enumerate(steps[:index])
            if isinstance(s, dict) and s.get("kind") == kind and (key is None or key in s)
        ]
        hint = f"{what} before this one: {', '.join(earlier)}" if earlier else f"no {what} come before it"
        target = self.ids.get(ref)
        if target is None:
            self.error(at, f"no step has the id {ref!r}", hint)
        elif steps[target].get("kind") != kind:
            self.error(at, f"step {ref!r} (/steps/{target}) is a {steps[target]['kind']} step", hint)
        elif key is not None and key not in steps[target]:
            self.error(at, f"step {ref!r} (/steps/{target}) has no {key}", hint)
        elif target >= index:
            self.error(at, f"step {ref!r} (/steps/{target}) does not come before this one", hint)

    def _component_version(self, name: str, version: str | None, at: Where, *, name_key: str = "") -> bool:
        """Whether component ``name`` (and ``version``) is listed under ``components``; reports
        at ``at`` + ``name_key`` (the name) and ``at`` + ``version`` (the version) otherwise."""
        listed = self.data.get("components") or {}
        if not isinstance(listed, dict):
            return False  # reported by the schema
        name_at = [*at, name_key] if name_key else at
        if name not in listed:
            self.error(
                name_at,
                f"component {name!r} is not listed under components",
                _close_hint(name, list(listed), "listed components"),
            )
            return False
        if not isinstance(listed[name], dict):
            return False
        if version is not None and version not in listed[name]:
            versions = ", ".join(listed[name])
            self.error(
                [*at, "version"],
                f"{name} {version} is not listed under components.{name}",
                f"listed versions: {versions}",
            )
            return False
        return True

    # --- the world -----------------------------------------------------------------------------

    def _world_values(self) -> tuple[int, float]:
        world = self.data.get("world") or {}
        return world.get("seed", DEFAULTS["world_seed"]), world.get("seconds", DEFAULTS["world_seconds"])

    def _clip_world_hint(self) -> str:
        if not self.clip_worlds:
            return ""
        _, _, clip = self.clip_worlds[0]
        seed, seconds = clip.get("seed", 0), clip.get("seconds", DEFAULTS["world_seconds"])
        return f" (the artifact's clip is world {{seed: {seed}, seconds: {seconds}}})"

    def _world(self) -> None:
        """The accuracy is scored against the scenario's world; a clip of another world would
        make the scores meaningless, so a mismatch is worth a warning."""
        if "world" not in self.data or not self.valid(["world"]):
            return
        seed, seconds = self._world_values()
        for name, version, clip in self.clip_worlds:
            clip_seed, clip_seconds = clip.get("seed", 0), clip.get("seconds", DEFAULTS["world_seconds"])
            if (clip_seed, float(clip_seconds)) != (seed, float(seconds)):
                self.warning(
                    ["world"],
                    f"the clip of {name} {version} is world {{seed: {clip_seed}, seconds: {clip_seconds}}}, "
                    f"not the scenario's {{seed: {seed}, seconds: {seconds}}}",
                    "accuracy is scored against the scenario's world: make the two the same",
                )

    # --- the model -----------------------------------------------------------------------------

    def build(self) -> Scenario:
        data = self.data
        services = data.get("services") or {}
        kafka = services.get("kafka") or {}
        images = services.get("images") or {}
        world = None
        if "world" in data:
            seed, seconds = self._world_values()
            world = WorldSpec(seed=int(seed), seconds=float(seconds))
        components = {
            name: {
                version: ComponentVersionSpec(
                    name=name,
                    version=version,
                    recipe=self._resolve(files["recipe"]),
                    artifact=self._resolve(files["artifact"]) if "artifact" in files else None,
                )
                for version, files in versions.items()
            }
            for name, versions in (data.get("components") or {}).items()
        }
        return Scenario(
            name=data["name"],
            description=data.get("description", ""),
            path=self.path.resolve(),
            services=ServicesSpec(
                backend=services.get("backend", DEFAULTS["backend"]),
                kafka_external=kafka.get("external"),
                topics=tuple(services.get("topics", ())),
                triton=TritonSpec(models=self._resolve(services["triton"]["models"]))
                if "triton" in services
                else None,
                images={k: v for k, v in images.items() if k != "policy"},
                image_policy=images.get("policy"),
                aws_enforce=bool((services.get("aws") or {}).get("enforce", False)),
                aws_bucket_policy=self._resolve(services["aws"]["bucket_policy"])
                if "bucket_policy" in (services.get("aws") or {})
                else None,
            ),
            world=world,
            devices=tuple(
                DeviceSpec(
                    name=d["name"],
                    count=d.get("count", DEFAULTS["device_count"]),
                    profile=d.get("profile", DEFAULTS["device_profile"]),
                    thing_group=d["thing_group"],
                )
                for d in data["devices"]
            ),
            components=components,
            variables={k: _text(v) for k, v in (data.get("variables") or {}).items()},
            steps=tuple(self._build_step(index, step) for index, step in enumerate(data["steps"])),
        )

    def _resolve(self, value: str) -> Path:
        return (self.base / value).resolve()

    def _line(self, path: Where) -> int:
        where = location(self.doc, self._doc_path(path))
        return int(where.split(":")[0]) if where else 0

    def _build_step(self, index: int, step: dict[str, Any]) -> Step:
        kind = step["kind"]
        name = step.get("name", f"{kind}-{index}")
        common: dict[str, Any] = {
            "kind": kind,
            "name": name,
            "id": step.get("id", name),
            "line": self._line(["steps", index]),
            "continue_on_failure": step.get("continue_on_failure", DEFAULTS["continue_on_failure"]),
        }
        if kind == "deploy":
            return DeployStep(
                **common,
                target=step["target"],
                components={
                    component: ComponentDeploySpec(
                        version=spec["version"],
                        merge=(spec.get("configuration") or {}).get("merge"),
                        reset=tuple((spec.get("configuration") or {}).get("reset", ())),
                    )
                    for component, spec in step["components"].items()
                },
                failure_handling=step.get("failure_handling", DEFAULTS["failure_handling"]),
                timeout_s=step.get("timeout_s"),
            )
        if kind == "wait_for":
            what = next(key for key in _WAIT_TARGETS if key in step)
            status = step.get("status")
            if status is None and what != "component":
                status = DEFAULTS["deployment_status" if what == "deployment" else "device_status"]
            return WaitForStep(
                **common,
                what=what,
                deployment=step.get("deployment"),
                status=status,
                reason_contains=step.get("reason_contains"),
                component=step.get("component"),
                state=step.get("state", DEFAULTS["component_state"]) if what == "component" else None,
                version=step.get("version"),
                devices=_devices_value(
                    step["device"] if what == "device" else step.get("devices", DEFAULTS["devices"])
                ),
                timeout_s=float(step.get("timeout_s", DEFAULTS["wait_timeout_s"])),
            )
        if kind == "expect_messages":
            min_count = step.get("min_count")
            if min_count is None and "min_rate_per_s" not in step:
                min_count = DEFAULTS["min_count"]
            latency = step.get("latency") or {}
            accuracy = step.get("accuracy")
            return ExpectMessagesStep(
                **common,
                topic=step["topic"],
                within_s=float(step["within_s"]),
                min_count=min_count,
                min_rate_per_s=_float(step.get("min_rate_per_s")),
                schema=step.get("schema", DEFAULTS["message_schema"]),
                where=tuple(
                    self._build_predicate(index, number, predicate)
                    for number, predicate in enumerate(step.get("where", []))
                ),
                latency_p50_ms=_float(latency.get("p50_ms")),
                latency_p95_ms=_float(latency.get("p95_ms")),
                accuracy=None
                if accuracy is None
                else AccuracySpec(
                    min_roi_precision=_float(accuracy.get("min_roi_precision")),
                    min_roi_recall=_float(accuracy.get("min_roi_recall")),
                    min_class_accuracy=_float(accuracy.get("min_class_accuracy")),
                    max_count_error=_float(accuracy.get("max_count_error")),
                    improves_on=None
                    if "improves_on" not in accuracy
                    else ImprovesOn(
                        step=accuracy["improves_on"]["step"],
                        metrics=tuple(accuracy["improves_on"]["metrics"]),
                    ),
                ),
                max_gap_s=_float(step.get("max_gap_s")),
                max_outage_s=_float(step.get("max_outage_s")),
                match=step.get("match", DEFAULTS["match"]),
                sequence=None
                if "sequence" not in step
                else SequenceSpec(
                    field=step["sequence"]["field"],
                    per=step["sequence"].get("per"),
                    step=step["sequence"].get("step", DEFAULTS["sequence_step"]),
                ),
            )
        if kind == "assert_logs":
            return AssertLogsStep(
                **common,
                component=step.get("component"),
                source=step.get("source"),
                contains=step.get("contains"),
                regex=step.get("regex"),
                within_s=float(step["within_s"]),
                absent=step.get("absent", DEFAULTS["absent"]),
                from_start=step.get("from_start", DEFAULTS["from_start"]),
                devices=_devices_value(step.get("devices", DEFAULTS["devices"])),
            )
        if kind == "inject":
            fault = step["fault"]
            trigger = step.get("after_log")
            return InjectStep(
                **common,
                fault=fault,
                device=step.get("device"),
                service=_LEGACY_SERVICE.get(fault, step.get("service")),
                duration_s=_float(step.get("duration_s")),
                status=step.get("status", DEFAULTS["outage_status"]) if fault == "s3_outage" else None,
                component=step.get("component"),
                version=step.get("version"),
                file=self._resolve(step["file"]) if "file" in step else None,
                after_log=None
                if trigger is None
                else LogTrigger(
                    contains=trigger.get("contains"),
                    regex=trigger.get("regex"),
                    devices=_devices_value(trigger["device"])
                    if "device" in trigger
                    else ((step["device"],) if "device" in step else "all"),
                    component=trigger.get("component"),
                    within_s=float(trigger.get("within_s", DEFAULTS["after_log_within_s"])),
                ),
            )
        if kind == "snapshot":
            return SnapshotStep(
                **common,
                url=step["url"],
                frames=int(step.get("frames", 1)),
                timeout_s=float(step.get("timeout_s", 30.0)),
            )
        if kind == "expect_iot_core":
            return ExpectIotCoreStep(
                **common,
                topic=step["topic"],
                within_s=float(step["within_s"]),
                min_count=int(step.get("min_count", DEFAULTS["min_count"])),
                where=tuple(
                    self._build_predicate(index, number, predicate)
                    for number, predicate in enumerate(step.get("where", []))
                ),
                match=step.get("match", DEFAULTS["match"]),
                from_start=step.get("from_start", DEFAULTS["iot_core_from_start"]),
            )
        if kind == "set_secret":
            return SetSecretStep(**common, secret=step["secret"], value=step["value"])
        if kind == "update_shadow":
            return UpdateShadowStep(
                **common, thing=step["thing"], shadow=step.get("shadow"), state=step["state"]
            )
        if kind == "expect_shadow":
            return ExpectShadowStep(
                **common,
                thing=step["thing"],
                shadow=step.get("shadow"),
                where=tuple(
                    self._build_predicate(index, number, predicate)
                    for number, predicate in enumerate(step["where"])
                ),
                within_s=float(step["within_s"]),
            )
        assert kind == "sleep", kind
        return SleepStep(**common, seconds=float(step["seconds"]))

    def _build_predicate(self, index: int, number: int, predicate: dict[str, Any]) -> Predicate:
        labels = predicate.get("object_label_in")
        return Predicate(
            path=predicate.get("path"),
            equals=predicate.get("equals"),
            matches=predicate.get("matches"),
            min_items=predicate.get("min_items"),
            object_label_in=tuple(labels) if labels is not None else None,
            line=self._line(["steps", index, "where", number]),
        )


# --- small functions -----------------------------------------------------------------------------


def _dynamic(text: str) -> bool:
    """Whether ``text`` depends on values known only while running (a ``${…}`` reference);
    a malformed reference counts too (the reference check reports it once)."""
    try:
        return bool(references(text))
    except VariableSyntaxError:
        return True


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _items(value: Any) -> Iterator[tuple[str, Any]]:
    return iter(value.items()) if isinstance(value, dict) else iter(())


def _things(device: dict[str, Any]) -> list[str]:
    count = device.get("count", DEFAULTS["device_count"])
    return [f"{device['name']}-{n}" for n in range(1, count + 1)]


def _step_id(step: dict[str, Any], index: int) -> str:
    name = step.get("name", f"{step.get('kind')}-{index}")
    return str(step.get("id", name))


def _devices_value(value: Any) -> Devices:
    if isinstance(value, str):
        return value if value in ("all", "any") else (value,)
    return tuple(value)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _text(value: Any) -> str:
    """A variable's value as text (``9092`` → ``"9092"``, ``1.0`` → ``"1.0"``)."""
    return value if isinstance(value, str) else str(value)


def _strings(node: Any, path: Where) -> Iterator[tuple[Where, str]]:
    """Every string value of the data with its path (keys are not values)."""
    if isinstance(node, str):
        yield path, node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(value, [*path, key])
    elif isinstance(node, list):
        for number, value in enumerate(node):
            yield from _strings(value, [*path, number])


def _subschema(data: Any, path: Where) -> dict[str, Any]:
    """The part of the schema that describes the value at ``path`` (a step's own branch)."""
    schema: dict[str, Any] = SCENARIO_SCHEMA
    node = data
    for part in path:
        schema = _branch(schema, node)
        if isinstance(part, int):
            schema = schema.get("items", {})
        elif part in schema.get("properties", {}):
            schema = schema["properties"][part]
        else:
            extra = schema.get("additionalProperties")
            schema = extra if isinstance(extra, dict) else {}
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            node = None
    return _branch(schema, node)


def _branch(schema: dict[str, Any], node: Any) -> dict[str, Any]:
    if "oneOf" in schema and isinstance(node, dict):
        for branch in schema["oneOf"]:
            if branch.get("properties", {}).get("kind", {}).get("const") == node.get("kind"):
                return branch
    return schema


def _close_hint(value: str, known: list[str], what: str = "known values") -> str:
    close = difflib.get_close_matches(value, known, n=1)
    listed = f"{what}: {', '.join(known)}" if known else f"there are no {what}"
    return f"did you mean {close[0]!r}? {listed}" if close else listed


def _key_hint(key: str, known: list[str]) -> str:
    if not known:
        return "this mapping takes no keys"
    return _close_hint(key, known, "known keys")
