"""YAML documents validated against a JSON Schema, with ``file:line:col`` in every message.

World presets, artifact specs and scenarios are YAML written by people. They are read with
ruamel.yaml's round-trip loader, which keeps the position of every key and item, so that a
JSON Schema violation (found by ``jsonschema``) is reported at the line of the offending value
together with its JSON pointer, e.g. ``scenarios/x.yaml:12:5: error: at /steps/2/timeout: …``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from harness.errors import Diagnostic, DiagnosticReport, HarnessError, ValidationError


def read_text(path: Path, what: str) -> str:
    """A file's UTF-8 text, or a clear error (missing file, not text)."""
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        report = DiagnosticReport()
        report.add(Diagnostic("error", str(path), f"not UTF-8 text (byte {err.start})"))
        raise ValidationError(report, what=f"{path} is not a valid {what}") from err
    except FileNotFoundError:
        raise HarnessError(f"{what} {path} does not exist") from None
    except OSError as err:
        raise HarnessError(f"cannot read {what} {path}: {err.strerror}") from err


def parse_mapping(text: str, file: str, what: str, *, expected: str = "a YAML mapping") -> CommentedMap:
    """Round-trip parse; a syntax error or a non-mapping document raises :class:`ValidationError`."""
    report = DiagnosticReport()
    try:
        doc = YAML(typ="rt").load(text)
    except MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        location = f"{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        problem = err.problem or err.context or "syntax error"
        if err.context and err.context_mark is not None and err.context_mark is not mark:
            problem += f" ({err.context} that starts at line {err.context_mark.line + 1})"
        report.add(Diagnostic("error", file, f"malformed YAML: {problem}", location=location))
        raise ValidationError(report, what=what) from None
    if not isinstance(doc, dict):
        report.add(Diagnostic("error", file, "the document must be a YAML mapping", expected=expected))
        raise ValidationError(report, what=what)
    return doc


def schema_errors(
    doc: Any, schema: dict[str, Any], *, discriminator: str = "kind"
) -> list[tuple[list[str | int], str]]:
    """Schema violations as (path, message), sorted by path.

    A ``oneOf`` failure says little by itself ("is not valid under any of the given schemas");
    when the branches are told apart by a ``const`` ``discriminator`` property (``kind``, or a
    step's name), the matching branch's own errors are reported instead.
    """
    found: list[tuple[list[str | int], str]] = []
    validator = jsonschema.Draft202012Validator(schema)
    for error in validator.iter_errors(doc):
        path = list(error.absolute_path)
        if error.validator != "oneOf":
            found.append((path, error.message))
            continue
        found.extend(_one_of_errors(error, path, discriminator))
    return sorted(found, key=lambda item: [str(p) for p in item[0]])


def _one_of_errors(
    error: jsonschema.ValidationError, path: list[str | int], discriminator: str
) -> list[tuple[list[str | int], str]]:
    branches: list[dict[str, Any]] = error.validator_value
    kinds = [b.get("properties", {}).get(discriminator, {}).get("const") for b in branches]
    if not all(isinstance(k, str) for k in kinds) or not isinstance(error.instance, dict):
        return [(path, error.message)]
    kind = error.instance.get(discriminator)
    if kind not in kinds:
        where = [*path, discriminator] if kind is not None else path
        return [(where, f"{discriminator} {kind!r} is not one of {kinds}")]
    branch = jsonschema.Draft202012Validator(branches[kinds.index(kind)])
    return [([*path, *sub.absolute_path], sub.message) for sub in branch.iter_errors(error.instance)]


def pointer(path: Any) -> str:
    """RFC 6901 JSON pointer of a path."""
    parts = [str(p).replace("~", "~0").replace("/", "~1") for p in path]
    return "/" + "/".join(parts) if parts else "/"


def location(doc: Any, path: list[str | int]) -> str:
    """line:col of the value at ``path`` (of its key for mappings), or of its nearest parent."""
    node = doc
    best = ""
    if isinstance(node, CommentedMap | CommentedSeq):
        best = f"{node.lc.line + 1}:{node.lc.col + 1}"
    for part in path:
        try:
            if isinstance(node, CommentedMap) and part in node:
                line, col = node.lc.key(part)
                best = f"{line + 1}:{col + 1}"
                node = node[part]
            elif isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
                line, col = node.lc.item(part)
                best = f"{line + 1}:{col + 1}"
                node = node[part]
            else:
                break
        except (KeyError, IndexError, TypeError, AttributeError):
            break
    return best


def diagnostic(
    doc: Any, file: str, path: list[str | int], message: str, *, expected: str = "", hint: str = ""
) -> Diagnostic:
    """An error at ``path`` of ``doc``: ``file:line:col: error: at /pointer: message``."""
    return Diagnostic(
        "error",
        file,
        f"at {pointer(path)}: {message}",
        location=location(doc, path),
        expected=expected,
        hint=hint,
    )


def validate(doc: Any, schema: dict[str, Any], file: str, what: str, *, discriminator: str = "kind") -> None:
    """Raise :class:`ValidationError` listing every schema violation of ``doc``."""
    report = DiagnosticReport()
    for path, message in schema_errors(doc, schema, discriminator=discriminator):
        report.add(diagnostic(doc, file, path, message))
    if not report.ok:
        raise ValidationError(report, what=what)


def plain(node: Any) -> Any:
    """ruamel's round-trip types → plain dict/list/int/float/str/bool for JSON and hashing."""
    if isinstance(node, dict):
        return {str(k): plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [plain(v) for v in node]
    if isinstance(node, bool):
        return bool(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    return node
