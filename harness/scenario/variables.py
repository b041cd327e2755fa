"""``${…}`` references in scenario strings: finding them and replacing them with values.

Some values exist only when a scenario runs — the broker's port, the bucket the artifacts went
to, a free port — so the model keeps strings as written and the runner substitutes them once it
knows the values. The loader checks every reference up front (:func:`reference_problem`), so a
typo fails at ``edge-harness lint scenario`` with its line instead of minutes into a run.

Syntax: ``${name}`` where name is dotted (``var.topic``, ``kafka.port``, ``device.1.thing``);
``$${`` is a literal ``${``. A ``$`` not followed by ``{`` or ``$`` is an ordinary character.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from harness.errors import HarnessError

__all__ = [
    "BUILTIN_NAMES",
    "TRITON_NAMES",
    "UnknownVariableError",
    "VariableSyntaxError",
    "known_names",
    "reference_problem",
    "references",
    "substitute",
]

#: Names that always exist while a scenario runs.
BUILTIN_NAMES = (
    "kafka.host",
    "kafka.port",
    "kafka.bootstrap",
    "aws.bucket",
    "aws.account",
    "aws.device_role",
)
#: Names that exist when the scenario declares ``services.triton`` (the server's host:port).
TRITON_NAMES = ("triton.grpc", "triton.http")

_TOKEN = re.compile(r"\$\$|\$\{([^{}]*)\}|\$\{")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_-]+)*$")
_FREE_PORT = re.compile(r"^free_port\.[A-Za-z_][A-Za-z0-9_-]*$")
_DEVICE_THING = re.compile(r"^device\.([0-9]+)\.thing$")


class VariableSyntaxError(HarnessError):
    """A ``${`` that is not closed, or a reference whose name is not a dotted name."""


class UnknownVariableError(HarnessError):
    """A reference to a name that has no value; ``name`` and the ``known`` names are kept."""

    def __init__(self, name: str, known: Iterable[str]) -> None:
        self.name = name
        self.known = sorted(known)
        listed = ", ".join(self.known) if self.known else "none"
        super().__init__(f"unknown variable ${{{name}}}", hint=f"known names: {listed}")


def _scan(text: str) -> list[tuple[int, int, str | None]]:
    """(start, end, name) of each ``${name}``; name None for the ``$$`` escape."""
    found: list[tuple[int, int, str | None]] = []
    for match in _TOKEN.finditer(text):
        token = match.group(0)
        if token == "$$":
            found.append((match.start(), match.end(), None))
            continue
        if match.group(1) is None:
            raise VariableSyntaxError(
                f"'${{' at character {match.start() + 1} of {text!r} is not closed",
                hint="write ${name}, or $${ for a literal '${'",
            )
        name = match.group(1).strip()
        if not _NAME.match(name):
            raise VariableSyntaxError(
                f"${{{match.group(1)}}} is not a reference to a name",
                hint="names are dotted, e.g. ${var.topic} or ${kafka.port}; write $${ for a literal '${'",
            )
        found.append((match.start(), match.end(), name))
    return found


def references(text: str) -> list[str]:
    """The names ``text`` refers to, in order of appearance (repeats kept).

    Raises :class:`VariableSyntaxError` for an unclosed ``${`` or a malformed name.
    """
    return [name for _, _, name in _scan(text) if name is not None]


def substitute(text: str, values: Mapping[str, str]) -> str:
    """``text`` with each ``${name}`` replaced by ``values[name]`` and ``$${`` by ``${``.

    Raises :class:`UnknownVariableError` naming the missing name and listing the known ones,
    or :class:`VariableSyntaxError`. Values are inserted as they are (not substituted again).
    """
    out: list[str] = []
    position = 0
    for start, end, name in _scan(text):
        out.append(text[position:start])
        if name is None:
            out.append("$")
        elif name in values:
            out.append(str(values[name]))
        else:
            raise UnknownVariableError(name, values)
        position = end
    out.append(text[position:])
    return "".join(out)


def known_names(
    variables: Iterable[str], thing_count: int, *, triton: bool = False, secrets: Iterable[str] = ()
) -> list[str]:
    """The names a scenario may use, for messages (patterns shown as ``free_port.<name>``);
    ``triton``: the scenario declares a Triton server; ``secrets``: the secrets its set_secret
    steps create (``secret.<name>.arn``)."""
    names = [f"var.{v}" for v in variables]
    names += [f"secret.{name}.arn" for name in secrets]
    names += BUILTIN_NAMES
    if triton:
        names += TRITON_NAMES
    names.append("free_port.<name>")
    if thing_count == 1:
        names.append("device.1.thing")
    elif thing_count:
        names.append(f"device.<1..{thing_count}>.thing")
    return names


def reference_problem(
    name: str,
    variables: Iterable[str],
    thing_count: int | None,
    *,
    triton: bool = False,
    secrets: Iterable[str] = (),
) -> str:
    """Why ``name`` cannot be resolved in a scenario with these user ``variables`` and this many
    things, or ``""``. ``thing_count`` None means unknown (the devices did not validate);
    ``triton``: the scenario declares ``services.triton``, whose endpoints are ``triton.*``."""
    if name in BUILTIN_NAMES or _FREE_PORT.match(name):
        return ""
    if name.startswith("secret.") and name.endswith(".arn"):
        if name[len("secret.") : -len(".arn")] in set(secrets):
            return ""
        return f"${{{name}}}: no set_secret step creates secret {name[len('secret.') : -len('.arn')]!r}"
    if name in TRITON_NAMES:
        return "" if triton else f"${{{name}}}: the scenario starts no Triton server (services.triton)"
    if name.startswith("var."):
        if name[4:] in set(variables):
            return ""
        return f"${{{name}}}: no variable {name[4:]!r} under variables"
    device = _DEVICE_THING.match(name)
    if device:
        if thing_count is None:
            return ""
        n = int(device.group(1))
        if 1 <= n <= thing_count:
            return ""
        return f"${{{name}}}: there are {thing_count} things, numbered from 1"
    return f"unknown variable ${{{name}}}"
