"""The bookkeeping shared by the recipe checks: findings with JSON pointers and positions, key
matching that ignores case, and type checks that report instead of raising.

Every check takes the raw value and a path, reports what is wrong and returns ``None`` (or a
default) so that the next check still runs: a user sees every problem of a recipe at once.
"""

from __future__ import annotations

import difflib
import json
import math
from typing import Any

from harness.errors import Diagnostic, DiagnosticReport
from harness.lint.recipe_load import MAX_DEPTH, DocPath


def json_pointer(path: DocPath) -> str:
    """RFC 6901 pointer for ``path`` (``""`` is the whole document)."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in path)


def type_name(value: Any) -> str:
    """How a user would name the JSON type of ``value``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def scalar_text(value: bool | int | float) -> str:
    """A number or boolean as Jackson reads it into a string field (``true``, ``10``, ``1.5``)."""
    return json.dumps(value)


class Checker:
    """Collects diagnostics for one recipe; knows where each path is in the source text."""

    def __init__(
        self,
        source: str,
        value_positions: dict[DocPath, tuple[int, int]] | None = None,
        key_positions: dict[DocPath, tuple[int, int]] | None = None,
        *,
        lint: bool = False,
    ) -> None:
        self.source = source
        self.report = DiagnosticReport()
        self._values = value_positions or {}
        self._keys = key_positions or {}
        self.lint = lint

    # --- reporting ------------------------------------------------------------------------------

    def location(self, path: DocPath, *, key: bool = False) -> str:
        """``pointer (line:col)``; a path that is not in the text (a missing key) gets the
        position of its nearest ancestor that is."""
        position = self._keys.get(path) if key else None
        probe = path
        while position is None:
            position = self._values.get(probe)
            if not probe:
                break
            probe = probe[:-1]
        pointer = json_pointer(path)
        if position is None:
            return pointer
        where = f"{position[0]}:{position[1]}"
        return f"{pointer} ({where})" if pointer else where

    def error(
        self, path: DocPath, message: str, expected: str = "", hint: str = "", *, key: bool = False
    ) -> None:
        self._add("error", path, message, expected, hint, key)

    def warning(
        self, path: DocPath, message: str, expected: str = "", hint: str = "", *, key: bool = False
    ) -> None:
        self._add("warning", path, message, expected, hint, key)

    def device_failure(
        self, path: DocPath, message: str, expected: str = "", hint: str = "", *, key: bool = False
    ) -> None:
        """A recipe the service accepts but that cannot work on any device.

        The cloud takes it (so this is a warning there, as a deployment of it must fail on the
        device, not at CreateComponentVersion); lint, whose job is to say so first, makes it an
        error.
        """
        self._add("error" if self.lint else "warning", path, message, expected, hint, key)

    def _add(self, severity: str, path: DocPath, message: str, expected: str, hint: str, key: bool) -> None:
        self.report.add(
            Diagnostic(
                severity,
                self.source,
                message,
                location=self.location(path, key=key),
                expected=expected,
                hint=hint,
            )
        )

    # --- structure ------------------------------------------------------------------------------

    def fields(
        self, mapping: dict[str, Any], path: DocPath, known: tuple[str, ...], what: str
    ) -> dict[str, Any]:
        """The values of ``known`` keys by their canonical spelling, matched ignoring case.

        Jackson reads recipes with ``ACCEPT_CASE_INSENSITIVE_PROPERTIES`` and the nucleus
        ignores unknown properties (``RecipeLoader.parseRecipe`` disables
        ``FAIL_ON_UNKNOWN_PROPERTIES``), so unknown keys are warnings. The returned dict also
        maps ``"<Canonical>@"`` to the key as written, for pointers.
        """
        by_lower = {name.lower(): name for name in known}
        found: dict[str, Any] = {}
        for written, value in mapping.items():
            canonical = by_lower.get(written.lower())
            if canonical is None:
                self._unknown_key(path, written, known, what)
                continue
            if canonical in found:
                self.warning(
                    (*path, written),
                    f"{written!r} repeats {found[canonical + '@']!r} (recipe keys ignore case); "
                    "the last one is used",
                    hint="keep one of them",
                    key=True,
                )
            found[canonical] = value
            found[canonical + "@"] = written
        return found

    def _unknown_key(self, path: DocPath, written: str, known: tuple[str, ...], what: str) -> None:
        close = difflib.get_close_matches(written.lower(), [k.lower() for k in known], n=1, cutoff=0.75)
        if close:
            suggestion = next(k for k in known if k.lower() == close[0])
            hint = f"did you mean {suggestion}?"
        elif written == "<<":
            hint = "YAML merge keys are not merged by the nucleus's YAML parser; write the keys out"
        else:
            hint = f"known keys: {', '.join(known)}"
        self.warning((*path, written), f"unknown key {written!r} in {what} is ignored", hint=hint, key=True)

    def mapping(self, value: Any, path: DocPath, what: str, example: str = "") -> dict[str, Any] | None:
        if isinstance(value, dict):
            return value
        self.error(
            path,
            f"{what} must be an object, not {type_name(value)}",
            expected="an object (key: value pairs)",
            hint=example,
        )
        return None

    def text(
        self, value: Any, path: DocPath, what: str, *, coerce: bool = True, hint: str = ""
    ) -> str | None:
        """A string field. Numbers and booleans are read as their text, as Jackson does, with a
        warning; anything else is an error."""
        if isinstance(value, str):
            return value
        if coerce and isinstance(value, bool | int | float) and not _non_finite(value):
            text = scalar_text(value)
            self.warning(
                path,
                f"{what} is {type_name(value)}; it is read as the text {text!r}",
                hint="quote it so that it stays text in every tool",
            )
            return text
        self.error(path, f"{what} must be a string, not {type_name(value)}", expected="a string", hint=hint)
        return None

    def enum(
        self, value: Any, path: DocPath, what: str, choices: tuple[str, ...], hint: str = ""
    ) -> str | None:
        """A value from ``choices``, matched ignoring case (Jackson's
        ``ACCEPT_CASE_INSENSITIVE_ENUMS``; ``Unarchive.fromString`` upper-cases); returns the
        canonical spelling."""
        if isinstance(value, str):
            for choice in choices:
                if value.lower() == choice.lower():
                    return choice
            shown = repr(value)
        else:
            shown = type_name(value)
        self.error(path, f"{what} {shown} is not valid", expected=" or ".join(choices), hint=hint)
        return None

    def json_value(self, value: Any, path: DocPath, depth: int = 0) -> bool:
        """Whether ``value`` is plain JSON (finite numbers, string keys); reports each place
        where it is not. Documents from :func:`Recipe.with_document` can hold anything."""
        if depth > MAX_DEPTH:
            self.error(path, f"nested more than {MAX_DEPTH} levels deep")
            return False
        if value is None or isinstance(value, str | bool | int):
            return True
        if isinstance(value, float):
            if math.isfinite(value):
                return True
            self.error(path, f"{value} is not a JSON number", expected="a finite number")
            return False
        if isinstance(value, list):
            return all([self.json_value(item, (*path, i), depth + 1) for i, item in enumerate(value)])
        if isinstance(value, dict):
            ok = True
            for key, item in value.items():
                if not isinstance(key, str):
                    self.error((*path, str(key)), f"key {key!r} is not a string", expected="string keys")
                    ok = False
                    continue
                ok = self.json_value(item, (*path, key), depth + 1) and ok
            return ok
        self.error(path, f"{type(value).__name__} is not a JSON value", expected="JSON data")
        return False


def _non_finite(value: bool | int | float) -> bool:
    return isinstance(value, float) and not math.isfinite(value)
