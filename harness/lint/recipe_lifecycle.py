"""Lifecycle sections of a recipe: checks, the canonical form, and selection for a manifest.

Two spellings of a lifecycle come out of a check:

* the **document form**, kept in ``Recipe.document``: step and field names in the spelling of
  the developer guide (``Run``, ``Script``, ``RequiresPrivilege``, ``Skipif``, ``Timeout``,
  ``Setenv``), values as written, so that the recipe round-trips;
* the **canonical form**, in ``Manifest.lifecycle`` and ``Recipe.lifecycle``: lower-case names
  (``run``, ``script``, ``requiresprivilege``, ``skipif``, ``timeout``, ``setenv``) — the way the
  nucleus looks them up in its case-insensitive configuration store — every step an object
  (``"echo hi"`` becomes ``{"script": "echo hi"}``), ``requiresprivilege`` a bool read with the
  nucleus's ``Coerce.toBoolean``, ``timeout`` an int, ``setenv`` values strings.

Only fields that are written appear; defaults (:data:`DEFAULT_TIMEOUTS`, no privilege) are the
reader's to apply.

In the global ``Lifecycle`` a level of keys may be *selection keys* (from the manifests'
``Selections``, plus ``all``). Such a level is a :class:`SelectionMap` in the canonical form;
:func:`select_lifecycle` resolves them for one manifest as ``PlatformResolver.filterPlatform``
does in the nucleus.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from harness.lint.recipe_check import Checker, scalar_text, type_name
from harness.lint.recipe_load import DocPath

# Step names (nucleus Lifecycle.java / GenericExternalService.java; uninstall since 2.17).
STEP_NAMES: dict[str, str] = {
    "setenv": "Setenv",
    "bootstrap": "Bootstrap",
    "install": "Install",
    "startup": "Startup",
    "run": "Run",
    "shutdown": "Shutdown",
    "recover": "Recover",
    "uninstall": "Uninstall",
}
STEP_FIELDS: dict[str, str] = {
    "script": "Script",
    "requiresprivilege": "RequiresPrivilege",
    "skipif": "Skipif",
    "timeout": "Timeout",
    "setenv": "Setenv",
}
# Seconds (nucleus Lifecycle.java DEFAULT_*_TIMEOUT*, GenericExternalService bootstrap); run: none.
DEFAULT_TIMEOUTS: dict[str, int | None] = {
    "bootstrap": 120,
    "install": 120,
    "startup": 120,
    "run": None,
    "shutdown": 15,
    "recover": 60,
    "uninstall": 120,
}
ALL_SELECTION = "all"
#: platform keywords of the nucleus before 2.0.3 (PlatformResolver.RANKS), which resolved them
#: inside a lifecycle step; still written in old recipes (aws-greengrass-testing keeps the list)
PLATFORM_KEYWORDS = frozenset(
    {
        "all",
        "any",
        "unix",
        "posix",
        "linux",
        "debian",
        "windows",
        "fedora",
        "ubuntu",
        "macos",
        "raspbian",
        "qnx",
        "cygwin",
        "freebsd",
        "solaris",
        "sunos",
    }
)

# GenericExternalService.SKIP_COMMAND_REGEX "(exists|onpath) +(.+)", matched after trimming and
# after an optional leading "!" that negates the check.
_SKIPIF = re.compile(r"(exists|onpath) +(.+)", re.DOTALL)
# Coerce.toBoolean: strings that read as true; every other string is false.
_TRUE_STRINGS = frozenset({"true", "yes", "on", "t", "y", "Y"})

_STEP_EXAMPLE = "e.g. Run: python3 app.py, or Run: {Script: python3 app.py, RequiresPrivilege: true}"


class SelectionMap(dict):
    """A level of the global lifecycle whose keys are selection keys (e.g. ``linux``, ``all``)."""


@dataclass(frozen=True)
class ScriptRef:
    """A script found in a lifecycle, where it is, and the selection keys that lead to it."""

    path: DocPath
    script: str
    levels: tuple[tuple[frozenset[str], str], ...] = ()

    def selected_by(self, selections: Iterable[str] | None) -> bool:
        """Whether a manifest with ``selections`` runs this script (same rule as :func:`select_lifecycle`)."""
        order = [*(selections or ()), ALL_SELECTION]
        return all(_first_present(order, keys) == taken for keys, taken in self.levels)


def _first_present(order: list[str], keys: frozenset[str]) -> str | None:
    return next((key for key in order if key in keys), None)


@dataclass
class LifecycleResult:
    """The two forms of one lifecycle section, and where its scripts are (for later checks)."""

    path: DocPath = ()
    document: dict[str, Any] = field(default_factory=dict)
    canonical: dict[str, Any] = field(default_factory=dict)
    scripts: list[ScriptRef] = field(default_factory=list)
    # where each step (canonical name) is first written, for pointers
    step_paths: dict[str, DocPath] = field(default_factory=dict)


class LifecycleChecker:
    """Checks one lifecycle section (a manifest's or the global one)."""

    def __init__(
        self, checker: Checker, selections: Iterable[str] = (), *, strict_steps: bool = True
    ) -> None:
        self.checker = checker
        # Selection keys are matched exactly, as filterPlatform does (Set.contains).
        self.selections = frozenset(selections)
        self.strict_steps = strict_steps
        self.scripts: list[ScriptRef] = []
        # the selection levels above the value being checked: (keys of the level, key taken)
        self._levels: list[tuple[frozenset[str], str]] = []
        self.step_paths: dict[str, DocPath] = {}

    def section(self, value: Any, path: DocPath) -> LifecycleResult:
        if value is None:
            return LifecycleResult(path)
        mapping = self.checker.mapping(value, path, "Lifecycle", "e.g. Lifecycle: {Run: python3 app.py}")
        if mapping is None:
            return LifecycleResult(path)
        document, canonical = self._level(mapping, path)
        return LifecycleResult(path, document, canonical, self.scripts, self.step_paths)

    # --- levels ---------------------------------------------------------------------------------

    def _selection_level(
        self, mapping: dict[str, Any], path: DocPath, inner: Any
    ) -> tuple[dict, SelectionMap]:
        """A level keyed by selection keys; other keys beside them are ignored upstream
        (``PlatformResolver.checkForBadSelectorMap`` logs them)."""
        document: dict[str, Any] = {}
        canonical = SelectionMap()
        present = ", ".join(sorted(self.selections & set(mapping)))
        for key, value in mapping.items():
            if key not in self.selections:
                self.checker.warning(
                    (*path, key),
                    f"{key!r} stands beside selection keys ({present}) and is ignored",
                    hint="put it under a selection key, e.g. all",
                    key=True,
                )
                continue
            self._levels.append((frozenset(self.selections & set(mapping)), key))
            try:
                document[key], canonical[key] = inner(value, (*path, key))
            finally:
                self._levels.pop()
        return document, canonical

    def _level(self, mapping: dict[str, Any], path: DocPath) -> tuple[dict, dict]:
        if self.selections & set(mapping):
            return self._selection_level(mapping, path, self._level_value)
        document: dict[str, Any] = {}
        canonical: dict[str, Any] = {}
        for key, value in mapping.items():
            name = STEP_NAMES.get(key.lower())
            if name is None:
                self._unknown_step(key, path)
                continue
            if name in document:
                self.checker.warning(
                    (*path, key), f"lifecycle step {key!r} appears twice (names ignore case)", key=True
                )
            self.step_paths.setdefault(name.lower(), (*path, key))
            check = self.setenv if name == "Setenv" else self._step
            result = check(value, (*path, key))
            if result is not None:
                document[name], canonical[name.lower()] = result
        return document, canonical

    def _level_value(self, value: Any, path: DocPath) -> tuple[dict, dict]:
        mapping = self.checker.mapping(value, path, "a lifecycle selection", "put lifecycle steps under it")
        return self._level(mapping, path) if mapping is not None else ({}, {})

    def _unknown_step(self, key: str, path: DocPath) -> None:
        valid = ", ".join(STEP_NAMES.values())
        message = f"unknown lifecycle step {key!r}"
        hint = f"valid steps: {valid}"
        if self.selections:
            hint += f"; selection keys here: {', '.join(sorted(self.selections))}"
        if self.strict_steps:
            self.checker.error((*path, key), message, expected=f"one of {valid}", hint=hint, key=True)
        else:
            self.checker.warning((*path, key), message + " is ignored", hint=hint, key=True)

    # --- steps ----------------------------------------------------------------------------------

    def _step(self, value: Any, path: DocPath) -> tuple[Any, Any] | None:
        if isinstance(value, dict) and self.selections & set(value):
            return self._selection_level(value, path, self._step_or_empty)
        if value is None:
            # Jackson keeps the null; GenericExternalService.run finds no command: NothingDone
            self.checker.warning(
                path,
                f"the lifecycle step {path[-1]!r} is empty: the nucleus runs nothing for it",
                hint="write its script, or leave the step out",
            )
            return None, {"script": None}
        if isinstance(value, str | bool | int | float):
            script = self.checker.text(value, path, "a lifecycle step")
            if script is None:
                return None
            self.scripts.append(ScriptRef(path, script, tuple(self._levels)))
            return value if isinstance(value, str) else script, {"script": script}
        if not isinstance(value, dict):
            self.checker.error(
                path,
                f"a lifecycle step must be a script or an object, not {type_name(value)}",
                expected="a string, or an object with Script",
                hint=_STEP_EXAMPLE,
            )
            return None
        return self._step_object(value, path)

    def _step_or_empty(self, value: Any, path: DocPath) -> tuple[Any, Any]:
        return self._step(value, path) or ({}, {})

    def _step_object(self, value: dict[str, Any], path: DocPath) -> tuple[dict, dict]:
        found = self.checker.fields(value, path, tuple(STEP_FIELDS.values()), "a lifecycle step")
        document: dict[str, Any] = {}
        canonical: dict[str, Any] = {}
        if "Script" not in found:
            self._no_script(value, path)
        checks = {
            "Script": self._script,
            "RequiresPrivilege": self._requires_privilege,
            "Skipif": self._skipif,
            "Timeout": self._timeout,
            "Setenv": self.setenv,
        }
        for name, check in checks.items():
            if name not in found:
                continue
            result = check(found[name], (*path, found[name + "@"]))
            if result is not None:
                document[name], canonical[name.lower()] = result
        return document, canonical

    def _no_script(
        self, value: dict[str, Any], path: DocPath, what: str = "the lifecycle step has no Script"
    ) -> None:
        """A step object without Script: the nucleus takes the recipe (its recipe model keeps any
        map) and fails the step when it runs it (``GenericExternalService.run``: "Missing script",
        ``<STEP>_CONFIG_NOT_VALID``; a failed bootstrap fails the deployment)."""
        step = str(path[-1]).lower() if path else ""
        platform_keys = sorted(k for k in value if k.lower() in PLATFORM_KEYWORDS)
        consequence = {
            "install": "INSTALL_CONFIG_NOT_VALID: the component turns ERRORED, then BROKEN",
            "startup": "STARTUP_CONFIG_NOT_VALID: the component turns ERRORED, then BROKEN",
            "run": "RUN_CONFIG_NOT_VALID: the component turns ERRORED, then BROKEN",
            "bootstrap": "a bootstrap failure (exit code 1) that fails the deployment",
        }.get(step, "nothing run, and a 'Missing script' error in its log")
        hint = _STEP_EXAMPLE
        if platform_keys:
            hint = (
                f"{', '.join(platform_keys)} here are not platform selectors: the nucleus resolves "
                "selection keys only in the recipe's global Lifecycle, for a manifest's Selections "
                "(platform keys inside a manifest's step were dropped in nucleus 2.0.3); write one "
                "manifest per platform, or move the step to the global Lifecycle and give each "
                "manifest its Selections"
            )
        # install/startup/run/bootstrap fail on every device: an error for lint, a warning where
        # the service reads the recipe (it takes it); shutdown and recover only log the error
        report = self.checker.device_failure if step in _FAILING_STEPS else self.checker.warning
        report(
            (*path, "Script"),
            f"{what}; the nucleus accepts the recipe and reports {consequence}",
            expected="Script: the shell commands to run",
            hint=hint,
        )

    def _script(self, value: Any, path: DocPath) -> tuple[Any, Any] | None:
        if isinstance(value, dict) and self.selections & set(value):
            return self._selection_level(value, path, self._script_or_empty)
        if value is None:
            self.checker.warning(
                path, "Script is empty: the nucleus runs nothing for this step", hint="write the script"
            )
            return None, None
        if isinstance(value, dict):
            # the nucleus finds a map where it wants the command: "Missing script", as without one
            self._no_script(value, path[:-1], what="Script is an object, not a script")
            return None
        script = self.checker.text(value, path, "Script")
        if script is None:
            return None
        self.scripts.append(ScriptRef(path, script, tuple(self._levels)))
        return (value if isinstance(value, str) else script), script

    def _script_or_empty(self, value: Any, path: DocPath) -> tuple[Any, Any]:
        return self._script(value, path) or ("", "")

    def _requires_privilege(self, value: Any, path: DocPath) -> tuple[Any, bool] | None:
        """A boolean; the recipe schema also allows a string, which the nucleus reads with
        ``Coerce.toBoolean`` (true only for true/yes/on/t/y/Y, case-sensitive)."""
        if isinstance(value, bool):
            return value, value
        if isinstance(value, str):
            result = value in _TRUE_STRINGS
            if value not in ("true", "false"):
                self.checker.warning(
                    path,
                    f"RequiresPrivilege {value!r} is read as {str(result).lower()}",
                    expected="true or false",
                    hint="write a boolean: the nucleus takes only true/yes/on/t/y/Y (exact case) as true",
                )
            return value, result
        if isinstance(value, int | float):
            self.checker.warning(
                path,
                f"RequiresPrivilege {scalar_text(value)} is read as {str(value != 0).lower()}",
                expected="true or false",
            )
            return value, int(value) != 0
        self.checker.error(
            path, f"RequiresPrivilege must be true or false, not {type_name(value)}", expected="true or false"
        )
        return None

    def _skipif(self, value: Any, path: DocPath) -> tuple[str, str] | None:
        if not isinstance(value, str):
            self.checker.error(
                path, f"Skipif must be a string, not {type_name(value)}", expected=_SKIPIF_FORMS
            )
            return None
        expression = value.strip()
        if expression.startswith("!"):
            expression = expression[1:].strip()
        if _SKIPIF.fullmatch(expression) is None:
            self.checker.error(
                path,
                f"Skipif {value!r} is neither 'onpath <program>' nor 'exists <file>'",
                expected=_SKIPIF_FORMS,
                hint="the nucleus puts the component into ERRORED for any other Skipif (lower case, "
                "separated by spaces)",
            )
            return None
        return value, value

    def _timeout(self, value: Any, path: DocPath) -> tuple[Any, int] | None:
        """Seconds; the nucleus reads it with ``Coerce.toInt`` (numbers truncated, digit strings
        parsed, anything else 0 — which would time the step out at once)."""
        seconds: int | None = None
        if isinstance(value, bool):
            seconds = None
        elif isinstance(value, int):
            seconds = value
        elif isinstance(value, float):
            seconds = int(value) if math.isfinite(value) else None
            if seconds is not None and seconds != value:
                self.checker.warning(
                    path, f"Timeout {value} is cut to {seconds} seconds", expected="whole seconds"
                )
        elif isinstance(value, str) and re.fullmatch(r"[+-]?\d+", value.strip()):
            seconds = int(value.strip())
        if seconds is None:
            self.checker.error(
                path,
                f"Timeout must be a whole number of seconds, not {type_name(value)}"
                + (f" {value!r}" if isinstance(value, str) else ""),
                expected="a positive integer, e.g. 120",
            )
            return None
        if seconds <= 0:
            self.checker.error(
                path,
                f"Timeout must be positive, not {seconds}",
                expected="a positive integer, e.g. 120",
                hint="leave Timeout out to get the default",
            )
            return None
        return value, seconds

    def setenv(self, value: Any, path: DocPath) -> tuple[Any, dict[str, str]] | None:
        """Environment variables: an object of names to text (numbers and booleans become text,
        as ``Coerce.toString`` does). A string is allowed by the schema but ignored by the nucleus
        (``addEnv`` takes only a map)."""
        if isinstance(value, str):
            self.checker.warning(
                path, "Setenv is a string and is ignored", expected="an object of NAME: value", key=False
            )
            return None
        mapping = self.checker.mapping(value, path, "Setenv", "e.g. Setenv: {MODEL_DIR: /models}")
        if mapping is None:
            return None
        document: dict[str, Any] = {}
        canonical: dict[str, str] = {}
        for name, item in mapping.items():
            if isinstance(item, str):
                text: str | None = item
            elif isinstance(item, bool | int | float) and math.isfinite(item):
                text = scalar_text(item)
            else:
                self.checker.error(
                    (*path, name),
                    f"environment variable {name} must be text, not {type_name(item)}",
                    expected="a string, number or boolean",
                )
                text = None
            if text is not None:
                document[name], canonical[name] = item, text
        return document, canonical


_FAILING_STEPS = frozenset({"install", "startup", "run", "bootstrap"})
_SKIPIF_FORMS = "'onpath <program>' or 'exists <file>', optionally with a leading '!'"


# --- selection -----------------------------------------------------------------------------------


def select_lifecycle(lifecycle: dict[str, Any], selections: Iterable[str] | None) -> dict[str, Any]:
    """The part of the canonical global lifecycle a manifest with ``selections`` runs.

    At each :class:`SelectionMap` level the first of the manifest's selections that is present
    wins, then ``all``; a level without a match is dropped (``PlatformResolver.filterPlatform``).
    """
    order = [*(selections or ()), ALL_SELECTION]
    selected = _select(lifecycle, order)
    return selected if isinstance(selected, dict) else {}


def _select(node: Any, order: list[str]) -> Any:
    if isinstance(node, SelectionMap):
        for key in order:
            if key in node and node[key] is not None:
                return _select(node[key], order)
        return None
    if isinstance(node, dict):
        result = {}
        for key, value in node.items():
            chosen = _select(value, order)
            if chosen is not None:
                result[key] = chosen
        return result
    return node


def plain(node: Any) -> Any:
    """A canonical lifecycle with :class:`SelectionMap` levels turned into plain dicts."""
    if isinstance(node, dict):
        return {key: plain(value) for key, value in node.items()}
    return node
