"""YAML documents validated against a JSON Schema, with ``file:line:col`` in every message.

World presets, artifact specs and scenarios are YAML written by people. They are read with
ruamel.yaml's round-trip loader, which keeps the position of every key and item, so that a
JSON Schema violation (found by ``jsonschema``) is reported at the line of the offending value
together with its JSON pointer, e.g. ``scenarios/x.yaml:12:5: error: at /steps/2/timeout: …``.

Every YAML reader of the project (these documents, recipes, tracker and msgconv configs, lint's
detection) first passes its text through :func:`check_yaml`, the one place that bounds what a
YAML text may cost: its size, its nesting depth and what its aliases expand to. A 1 KB alias
bomb expands to billions of nodes and a few hundred ``[`` exhaust Python's stack in the
composer; both must end in a located error, not in a hang or a traceback. Control characters,
which ruamel.yaml rejects without a line number, are reported here at their line and column.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jsonschema
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)

from harness.errors import Diagnostic, DiagnosticReport, HarnessError, ValidationError

#: Bounds of any YAML text read here. People write these files by hand: none comes near them.
MAX_YAML_CHARS = 1 << 20
#: Nesting depth; the composer and the validators recurse a few frames per level, so a few hundred
#: levels end in RecursionError.
MAX_YAML_DEPTH = 100
#: Nodes of the document once every alias is expanded (what the loaders and validators walk).
MAX_YAML_NODES = 100_000

# What ruamel.yaml's reader refuses (Reader.NON_PRINTABLE): C0 controls other than tab and line
# breaks, DEL and C1 controls other than NEL, surrogates, U+FFFE/U+FFFF.
_NON_PRINTABLE = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_ALIAS_HINT = (
    "write the values out instead of repeating them through aliases (*name); a YAML alias "
    "that repeats aliases is how an 'alias bomb' blows a few lines up to billions of values"
)


class YamlLimitError(HarnessError):
    """A YAML text that no reader here accepts: a control character, or past one of the bounds.

    ``line`` and ``column`` are 1-based (0: the text as a whole). Callers turn it into their own
    error type with :meth:`diagnostic` or the attributes, so the message reads the same everywhere.
    """

    def __init__(self, problem: str, *, line: int = 0, column: int = 0, hint: str) -> None:
        super().__init__(problem, hint=hint)
        self.problem = problem
        self.line = line
        self.column = column

    @property
    def location(self) -> str:
        return f"{self.line}:{self.column}" if self.line else ""

    def diagnostic(self, file: str) -> Diagnostic:
        return Diagnostic("error", file, self.problem, location=self.location, hint=self.hint or "")


def check_yaml(text: str) -> None:
    """Raise :class:`YamlLimitError` unless ``text`` is safe to hand to a YAML loader.

    Syntax errors are left to the caller's loader (it words them for its format); only what
    would crash or hang it is reported here: a character the YAML reader refuses, more than
    :data:`MAX_YAML_CHARS`, nesting deeper than :data:`MAX_YAML_DEPTH`, aliases that expand to
    more than :data:`MAX_YAML_NODES` nodes or that refer to a collection they are inside of.
    The check runs on parser events, which ruamel.yaml produces without recursion and without
    expanding aliases, so it costs one pass over the text whatever the text is.
    """
    if len(text) > MAX_YAML_CHARS:
        raise YamlLimitError(
            f"the text is {len(text):,} characters long; at most {MAX_YAML_CHARS:,} are read",
            hint="this is not a hand-written YAML file: check the path",
        )
    bad = _NON_PRINTABLE.search(text)
    if bad is not None:
        line, column = _line_column(text, bad.start())
        code = ord(bad.group())
        name = "NUL" if code == 0 else f"U+{code:04X}"
        raise YamlLimitError(
            f"control character {name} in the text; YAML allows none",
            line=line,
            column=column,
            hint="delete it (a copy-paste or an editor left it), or write it as an escape such as "
            f'"\\x{code:02x}" inside a double-quoted string'
            if code < 0x100
            else "delete it (a copy-paste or an editor left it)",
        )
    _check_structure(text)


def _line_column(text: str, offset: int) -> tuple[int, int]:
    line_start = text.rfind("\n", 0, offset) + 1
    return text.count("\n", 0, offset) + 1, offset - line_start + 1


def _check_structure(text: str) -> None:
    """Depth and expanded size from the event stream; aliases count as what they refer to."""
    # one entry per open collection: [expanded nodes so far, height of the tallest child, anchor]
    open_nodes: list[list[Any]] = []
    anchors: dict[str, tuple[int, int]] = {}  # anchor -> (expanded nodes, height)
    total = 0

    def close(size: int, height: int, anchor: str | None) -> None:
        if anchor:
            anchors[anchor] = (size, height)
        if open_nodes:
            open_nodes[-1][0] += size
            open_nodes[-1][1] = max(open_nodes[-1][1], height)

    def where(event: Any) -> dict[str, int]:
        mark = event.start_mark
        return {"line": mark.line + 1, "column": mark.column + 1}

    try:
        for event in YAML(typ="safe", pure=True).parse(text):
            if isinstance(event, MappingStartEvent | SequenceStartEvent):
                if len(open_nodes) >= MAX_YAML_DEPTH:
                    raise YamlLimitError(
                        f"nested more than {MAX_YAML_DEPTH} levels deep",
                        hint="flatten the structure; no input of edge-harness nests this deep",
                        **where(event),
                    )
                total += 1
                open_nodes.append([1, 0, event.anchor])
            elif isinstance(event, MappingEndEvent | SequenceEndEvent):
                size, height, anchor = open_nodes.pop()
                close(size, height + 1, anchor)
            elif isinstance(event, ScalarEvent):
                total += 1
                close(1, 1, event.anchor)
            elif isinstance(event, AliasEvent):
                if any(node[2] == event.anchor for node in open_nodes):
                    raise YamlLimitError(
                        f"alias *{event.anchor} is inside the collection it refers to (recursive)",
                        hint="no input of edge-harness is recursive: replace the alias with the values",
                        **where(event),
                    )
                size, height = anchors.get(event.anchor, (1, 1))  # undefined: the loader reports it
                if len(open_nodes) + height > MAX_YAML_DEPTH:
                    raise YamlLimitError(
                        f"alias *{event.anchor} nests the document more than {MAX_YAML_DEPTH} levels deep",
                        hint=_ALIAS_HINT,
                        **where(event),
                    )
                total += size
                close(size, height, None)
            if total > MAX_YAML_NODES:
                raise YamlLimitError(
                    f"the document expands to more than {MAX_YAML_NODES:,} values (through its aliases)",
                    hint=_ALIAS_HINT,
                    **where(event),
                )
    except YAMLError:
        return


def read_text(path: Path, what: str) -> str:
    """A file's UTF-8 text, or a clear error (missing, not a regular file, too big, not text).

    A FIFO or a device is refused before it is opened: opening one blocks until a writer comes.
    """
    import stat

    try:
        info = path.stat()
    except FileNotFoundError:
        raise HarnessError(
            f"{what} {path} does not exist", hint="paths are relative to the current folder"
        ) from None
    except OSError as err:
        raise HarnessError(f"cannot read {what} {path}: {err.strerror}", hint=_os_hint(err)) from err
    if stat.S_ISDIR(info.st_mode):
        raise HarnessError(f"{what} {path} is a folder", hint=f"name the {what} file inside it")
    if not stat.S_ISREG(info.st_mode):
        raise HarnessError(
            f"{what} {path} is not a regular file (a FIFO, socket or device)",
            hint=f"point at the {what} file itself",
        )
    if info.st_size > MAX_YAML_CHARS * 4:
        raise HarnessError(
            f"{what} {path} is {info.st_size:,} bytes; a {what} is a small text file",
            hint="check the path",
        )
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        report = DiagnosticReport()
        line = err.object.count(b"\n", 0, err.start) + 1
        line_start = err.object.rfind(b"\n", 0, err.start) + 1
        column = len(err.object[line_start : err.start].decode("utf-8", "replace")) + 1
        report.add(
            Diagnostic(
                "error",
                str(path),
                f"not UTF-8 text (byte 0x{err.object[err.start]:02x} at offset {err.start})",
                location=f"{line}:{column}",
                expected="UTF-8 text",
                hint="save the file as UTF-8 (an editor set to Latin-1 or Windows-1252 writes such bytes)",
            )
        )
        raise ValidationError(report, what=f"{path} is not a valid {what}") from err
    except OSError as err:
        raise HarnessError(f"cannot read {what} {path}: {err.strerror}", hint=_os_hint(err)) from err


def _os_hint(err: OSError) -> str:
    import errno

    if err.errno in (errno.EACCES, errno.EPERM):
        return "check the file's permissions"
    if err.errno == errno.ENAMETOOLONG:
        return "a path component is longer than 255 bytes: shorten the name"
    if err.errno == errno.ELOOP:
        return "a symbolic link in the path points back at itself"
    return "check the path"


#: The usual causes of a YAML syntax error in a hand-written file.
YAML_SYNTAX_HINT = (
    "indent with spaces (not tabs) and quote values that contain ': ' or ' #' or start with "
    "one of { [ * & ! % @ `"
)


def parse_mapping(text: str, file: str, what: str, *, expected: str = "a YAML mapping") -> CommentedMap:
    """Round-trip parse; a syntax error or a non-mapping document raises :class:`ValidationError`."""
    report = DiagnosticReport()
    try:
        check_yaml(text)
        doc = YAML(typ="rt").load(text)
    except YamlLimitError as err:
        report.add(err.diagnostic(file))
        raise ValidationError(report, what=what) from None
    except MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        location = f"{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        problem = err.problem or err.context or "syntax error"
        if err.context and err.context_mark is not None and err.context_mark is not mark:
            problem += f" ({err.context} that starts at line {err.context_mark.line + 1})"
        hint = YAML_SYNTAX_HINT
        if "found duplicate key" in problem:
            hint = "each key may appear once in a mapping: remove or rename one of them"
        elif "tab" in problem:
            hint = "YAML indents with spaces; replace the tab characters"
        report.add(Diagnostic("error", file, f"malformed YAML: {problem}", location=location, hint=hint))
        raise ValidationError(report, what=what) from None
    except (YAMLError, ValueError, TypeError, OverflowError) as err:
        # unmarked reader/constructor errors (a bad !!timestamp or !!binary value, an odd tag)
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        report.add(Diagnostic("error", file, f"malformed YAML: {first}", hint=YAML_SYNTAX_HINT))
        raise ValidationError(report, what=what) from None
    if not isinstance(doc, dict):
        report.add(
            Diagnostic(
                "error",
                file,
                "the document must be a YAML mapping",
                expected=expected,
                hint="write 'key: value' lines at the top level",
            )
        )
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
