"""Component versions and npm-style version requirements, as the Greengrass nucleus reads them.

Two different parsers are at work on a real core device, and this module keeps them apart:

* ``ComponentVersion`` is a semantic version (https://semver.org, 2.0.0) with the Greengrass
  limits of component-common's ``ComponentRecipe.java``: at most 64 characters and at most
  999999 for each of major, minor and patch. :func:`parse_version` checks exactly that.
* ``VersionRequirement`` (component dependencies, deployment requirements) is an npm-style range.
  The nucleus evaluates ranges with semver4j 3.1.0 in NPM mode (``Requirement.buildNPM``); ranges
  are parsed here with ``nodesemver``, a port of npm's own ``node-semver``, and evaluated the way
  semver4j does. semver4j agrees with npm on ``^``, ``~``, ``x``/``*`` ranges, hyphen ranges,
  ``>=a <b`` intersections and ``||``, except in these places:

  - **Prereleases.** npm lets a prerelease such as ``2.0.0-beta`` satisfy a comparator set only
    if one of the set's comparators names the same major.minor.patch with a prerelease. semver4j
    applies that rule only where a set has two or more comparators (its ``AND`` node in
    ``Requirement.isSatisfiedBy``); a set that is a single comparator (``*``, ``>=1.0.0``,
    ``<2.0.0``, ``1.2.3``) accepts prereleases. :func:`version_satisfies` follows the nucleus
    unless asked for ``semantics="npm"``.
  - **Partial versions after an operator** (``>1.2``, ``<=1.2``, ``=1``): semver4j pads them
    with zeros and compares (``>1.2`` means ``>1.2.0``; ``>=1.2`` even misses ``1.2.0``), npm
    treats them as x-ranges (``>1.2`` means ``>=1.3.0``). An ``x`` after an operator (``>=1.x``)
    is a parse error in semver4j. :func:`requirement_problems` reports both; evaluation here
    follows npm for these forms because the nucleus's reading is a bug nobody should rely on.
  - **Prerelease tags that contain ``-`` or start with a digit** in a range (``1.0.0-1``) are
    split by semver4j's tokenizer into a hyphen range; reported by :func:`requirement_problems`.
  - ``latest`` is a range in semver4j, not in npm: rejected here.

  Sources: vdurmont/semver4j v3.1.0 ``Requirement.java``, ``Tokenizer.java``, ``Semver.java``
  and ``Range.java``; the nucleus pins semver4j 3.1.0 in its ``pom.xml``.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import nodesemver

# Limits from component-common ComponentRecipe.java (COMPONENT_VERSION_LENGTH,
# COMPONENT_MAX_VERSION_NUMBER).
MAX_VERSION_LENGTH = 64
MAX_VERSION_NUMBER = 999999

# The regular expression published with the semver 2.0.0 specification (semver.org, FAQ).
_SEMVER = re.compile(
    r"^(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)"
    r"(?:-(?P<prerelease>(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)"
    r"(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+(?P<build>[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)

# An operator followed by a version with fewer than three numbers or an x/* part, e.g. ">1.2",
# "<= 1", ">=1.x". The lookahead stops at the end of the version token.
_OPERATOR_PARTIAL = re.compile(
    r"(?P<op><=|>=|<|>|=)\s*v?(?P<version>[0-9xX*]+(?:\.[0-9xX*]+)?(?:\.[0-9xX*]+)?)(?![0-9A-Za-z.+-])"
)
# A prerelease in a range that semver4j's tokenizer would split at its '-'.
_SPLIT_PRERELEASE = re.compile(r"\d+\.\d+\.\d+-(?P<pre>[0-9A-Za-z.-]+)")

Semantics = Literal["nucleus", "npm"]

# nodesemver logs every parsing step at DEBUG; `edge-harness -vv` should show our logs, not those.
logging.getLogger("nodesemver").setLevel(logging.WARNING)


@functools.total_ordering
@dataclass(frozen=True)
class Version:
    """A semantic version; ordered by semver 2.0 precedence (build metadata ignored)."""

    major: int
    minor: int
    patch: int
    prerelease: tuple[int | str, ...] = ()
    build: tuple[str, ...] = ()

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            text += "-" + ".".join(str(part) for part in self.prerelease)
        if self.build:
            text += "+" + ".".join(self.build)
        return text

    def _key(self) -> tuple:
        # A release sorts after its prereleases; numeric identifiers sort before alphanumeric ones.
        pre = tuple((0, part, "") if isinstance(part, int) else (1, 0, part) for part in self.prerelease)
        return (self.major, self.minor, self.patch, not self.prerelease, pre)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key() < other._key()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())


def version_problem(text: object) -> str:
    """Why ``text`` is not a valid component version (e.g. "is not a semantic version"), or ``""``."""
    if not isinstance(text, str):
        return f"is {type(text).__name__}, not text"
    if len(text) > MAX_VERSION_LENGTH:
        return f"is {len(text)} characters long (at most {MAX_VERSION_LENGTH})"
    match = _SEMVER.match(text)
    if match is None:
        return "is not a semantic version"
    if max(int(match.group(name)) for name in ("major", "minor", "patch")) > MAX_VERSION_NUMBER:
        return f"has a number above {MAX_VERSION_NUMBER} (major, minor and patch have at most 6 digits)"
    return ""


def parse_version(text: str) -> Version:
    """Parse a component version; raise ``ValueError`` saying what is wrong with it.

    Stricter than semver4j's STRICT mode, which also takes leading zeros and a fourth number:
    the service documents semver 2.0, and a version the service might reject should not pass.
    """
    problem = version_problem(text)
    if problem:
        raise ValueError(f"{text!r} {problem}")
    match = _SEMVER.match(text)
    assert match is not None
    prerelease = match.group("prerelease")
    build = match.group("build")
    return Version(
        int(match.group("major")),
        int(match.group("minor")),
        int(match.group("patch")),
        prerelease=tuple(int(p) if p.isdigit() else p for p in prerelease.split(".")) if prerelease else (),
        build=tuple(build.split(".")) if build else (),
    )


def is_version(text: object) -> bool:
    """Whether ``text`` is a valid component version."""
    return not version_problem(text)


# --- requirements --------------------------------------------------------------------------------


@functools.lru_cache(maxsize=512)
def _parse_range(requirement: str) -> nodesemver.Range:
    if not isinstance(requirement, str):
        raise ValueError(f"a version requirement is text, not {type(requirement).__name__}")
    try:
        return nodesemver.make_range(requirement, False)
    except (ValueError, TypeError, AttributeError, IndexError) as err:
        raise ValueError(f"{requirement!r} is not an npm-style version range") from err


def check_requirement(requirement: str) -> None:
    """Raise ``ValueError`` if ``requirement`` is not an npm-style range."""
    _parse_range(requirement)


def requirement_problems(requirement: str) -> list[tuple[str, str, str]]:
    """Every problem with a range, as ``(severity, message, hint)``; empty when it is fine.

    Errors are ranges that npm or the nucleus cannot parse; warnings are ranges that both parse
    but read differently (see the module docstring).
    """
    try:
        check_requirement(requirement)
    except ValueError as err:
        return [
            (
                "error",
                str(err),
                "use e.g. 1.2.3, ^1.2.0, ~1.2.0, 1.x, >=1.0.0 <2.0.0, 1.0.0 - 1.4.0 or ^1.0.0 || ^2.0.0",
            )
        ]
    problems: list[tuple[str, str, str]] = []
    for match in _OPERATOR_PARTIAL.finditer(requirement):
        op, version = match.group("op"), match.group("version")
        parts = version.split(".")
        if any(part in ("x", "X", "*") for part in parts):
            padded = ".".join(p if p.isdigit() else "0" for p in parts + ["0"] * (3 - len(parts)))
            problems.append(
                (
                    "error",
                    f"{op}{version}: the nucleus cannot parse an x after an operator",
                    f"write {op}{padded} or the x-range alone",
                )
            )
        elif len(parts) < 3:
            full = ".".join(parts + ["0"] * (3 - len(parts)))
            problems.append(
                (
                    "warning",
                    f"{op}{version}: npm reads a partial version after an operator as an x-range, "
                    "the nucleus (semver4j) pads it with zeros and gets the boundary wrong",
                    f"write all three numbers, e.g. {op}{full}",
                )
            )
    for match in _SPLIT_PRERELEASE.finditer(requirement):
        pre = match.group("pre")
        if pre[0].isdigit() or "-" in pre:
            problems.append(
                (
                    "warning",
                    f"{match.group(0)}: the nucleus (semver4j) splits this prerelease at '-' and reads "
                    "a hyphen range",
                    "use a prerelease tag that starts with a letter and has no '-', e.g. 1.0.0-rc.1",
                )
            )
    return problems


def version_satisfies(version: str | Version, requirement: str, *, semantics: Semantics = "nucleus") -> bool:
    """Whether ``version`` satisfies the npm-style ``requirement``.

    ``semantics="nucleus"`` (default) evaluates like the Greengrass nucleus (semver4j 3.1.0),
    ``"npm"`` like npm. They differ only for prereleases against a single-comparator set
    (module docstring). Raises ``ValueError`` for an invalid version or range.
    """
    candidate = nodesemver.make_semver(str(parse_version(str(version))), False)
    comparator_sets = _parse_range(requirement).set
    return any(
        nodesemver.test_set(
            comparators,
            candidate,
            include_prerelease=semantics == "nucleus" and len(comparators) == 1,
        )
        for comparators in comparator_sets
    )


@dataclass(frozen=True)
class VersionRequirements:
    """Several requirements on one component that must all hold (e.g. from several thing groups).

    Each requirement is evaluated on its own. (The nucleus joins them with spaces into one range
    in ``ComponentManager.mergeVersionRequirements``, which changes the meaning when one of them
    contains ``||`` — we do not copy that.)
    """

    requirements: tuple[str, ...]
    semantics: Semantics = "nucleus"

    def satisfied_by(self, version: str | Version) -> bool:
        return all(version_satisfies(version, r, semantics=self.semantics) for r in self.requirements)

    def select(self, candidates: Iterable[str | Version]) -> list[str]:
        """The candidates that satisfy every requirement, highest version first."""
        chosen = {str(c): parse_version(str(c)) for c in candidates if self.satisfied_by(c)}
        return sorted(chosen, key=lambda text: chosen[text], reverse=True)

    def best(self, candidates: Iterable[str | Version]) -> str | None:
        """The highest candidate that satisfies every requirement, or ``None`` (a conflict)."""
        selected = self.select(candidates)
        return selected[0] if selected else None

    def __str__(self) -> str:
        return " and ".join(f"({r})" for r in self.requirements) or "*"


def intersect_requirements(
    requirements: Iterable[str], *, semantics: Semantics = "nucleus"
) -> VersionRequirements:
    """Combine requirements into one :class:`VersionRequirements`; ``ValueError`` if one is invalid."""
    collected = tuple(requirements)
    for requirement in collected:
        check_requirement(requirement)
    return VersionRequirements(collected, semantics)
