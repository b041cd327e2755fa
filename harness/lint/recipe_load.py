"""Reading recipe text (JSON or YAML) into plain data plus the line:column of every value.

Recipes reach a core device through Jackson (``SerializerFactory`` in aws-greengrass-component-
common): JSON through Jackson's JSON parser, YAML through jackson-dataformat-yaml 2.16. The YAML
reading here matches that where it matters:

* Unquoted ``2020-01-25`` stays the string ``"2020-01-25"`` (Jackson reports YAML timestamps as
  text; PyYAML and ruamel's constructors would make a ``date`` out of it).
* ``true``/``false`` (any case) are booleans, ``yes``/``no``/``on``/``off`` are strings, as in
  Jackson 2.16's ``YAMLParser._matchYAMLBoolean`` and the YAML 1.2 core schema.
* Keys are the text written in the file (``1: x`` has the key ``"1"``), as Jackson's field names.
* A repeated key is a warning and the last value wins, as in Jackson (which has no duplicate
  detection by default).

Anchors and aliases are expanded (not checked against Jackson, which may not); ``<<`` merge keys
are not merged (Jackson does not merge them either: the recipe checks report ``<<`` as an unknown
key).

The document is composed with ruamel.yaml into nodes, which carry their positions, and the
nodes are turned into plain ``dict``/``list``/scalars here. JSON text is decoded with the
``json`` module (exact JSON semantics) and composed by ruamel.yaml as well, only for positions:
JSON is YAML 1.2, so the node positions are the JSON positions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from harness.errors import Diagnostic
from harness.yamldoc import MAX_YAML_DEPTH, YamlLimitError, check_yaml

# A path into a document: keys of objects and indexes of lists.
DocPath = tuple[str | int, ...]

# Documents nested deeper than this are rejected instead of exhausting the Python stack; no
# recipe needs a fraction of it. The same bound as every YAML text (harness.yamldoc).
MAX_DEPTH = MAX_YAML_DEPTH

_YAML_HINT = (
    "indent with spaces (not tabs) and quote values that contain ': ' or ' #' or start with "
    "one of { [ * & ! % @ `"
)
_JSON_HINT = (
    "JSON allows no comments, no trailing commas and only double-quoted strings; "
    "a missing comma at the end of the previous line is the usual cause"
)


@dataclass
class LoadedText:
    """What the loader found: the data (``None`` if the text does not parse) and where things are."""

    fmt: str  # "json" | "yaml"
    data: Any = None
    # 1-based (line, column) of each value, and of each key of an object, by path.
    value_positions: dict[DocPath, tuple[int, int]] = field(default_factory=dict)
    key_positions: dict[DocPath, tuple[int, int]] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(d.severity == "error" for d in self.diagnostics)


class _TooDeep(Exception):
    """Raised inside the node walk; turned into one diagnostic."""


def decode_text(data: str | bytes, source: str) -> tuple[str | None, Diagnostic | None]:
    """Bytes to text as the service reads them: UTF-8, a byte-order mark allowed."""
    if isinstance(data, str):
        return data.removeprefix("\ufeff"), None
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as err:
        return None, Diagnostic(
            "error",
            source,
            f"not UTF-8 text (invalid byte at offset {err.start})",
            expected="a UTF-8 encoded JSON or YAML recipe",
            hint="save the file as UTF-8",
        )


def load_text(text: str, source: str, fmt: str | None) -> LoadedText:
    """Parse ``text`` as ``fmt`` ("json" | "yaml"), or sniff it when ``fmt`` is ``None``.

    Sniffing mirrors how the service takes an inline recipe in either format: text that starts
    with ``{`` is read as JSON; if it is not valid JSON but valid YAML (YAML's flow style is
    laxer), it is read as YAML with a warning; everything else is read as YAML.
    """
    if fmt == "json":
        return _load_json(text, source)
    if fmt == "yaml":
        return _load_yaml(text, source)
    if text.lstrip().startswith(("{", "[")):
        as_json = _load_json(text, source)
        if as_json.ok:
            return as_json
        as_yaml = _load_yaml(text, source)
        if not as_yaml.ok:
            return as_json
        first = as_json.diagnostics[0]
        as_yaml.diagnostics.insert(
            0,
            Diagnostic(
                "warning",
                source,
                f"not valid JSON ({first.message.removeprefix('invalid JSON: ')}); read as YAML",
                location=first.location,
                hint="fix the JSON: other tools read a recipe that starts with '{' as JSON",
            ),
        )
        return as_yaml
    return _load_yaml(text, source)


# --- JSON ----------------------------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _load_json(text: str, source: str) -> LoadedText:
    loaded = LoadedText("json")
    try:
        loaded.data = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as err:
        loaded.diagnostics.append(
            Diagnostic(
                "error",
                source,
                f"invalid JSON: {err.msg}",
                location=f"{err.lineno}:{err.colno}",
                hint=_JSON_HINT,
            )
        )
        return loaded
    except ValueError as err:
        loaded.diagnostics.append(Diagnostic("error", source, f"invalid JSON: {err}", hint=_JSON_HINT))
        return loaded
    except RecursionError:
        loaded.diagnostics.append(_too_deep(source))
        return loaded
    # Positions (and repeated keys) come from the same text composed as YAML; if that fails
    # (e.g. tabs where YAML allows none) the findings just carry no line numbers.
    try:
        check_yaml(text)
        node = _compose(text)
        if node is not None:
            walk = _NodeWalk(source)
            walk.convert(node, (), 0)
            loaded.value_positions = walk.value_positions
            loaded.key_positions = walk.key_positions
            loaded.diagnostics.extend(walk.diagnostics)
    except (YAMLError, YamlLimitError, _TooDeep, RecursionError, ValueError, TypeError):
        pass
    return loaded


# --- YAML ----------------------------------------------------------------------------------------


def _compose(text: str) -> Node | None:
    yaml = YAML(typ="safe", pure=True)
    return yaml.compose(text)


def _load_yaml(text: str, source: str) -> LoadedText:
    loaded = LoadedText("yaml")
    try:
        check_yaml(text)
        node = _compose(text)
    except YamlLimitError as err:
        loaded.diagnostics.append(err.diagnostic(source))
        return loaded
    except MarkedYAMLError as err:
        loaded.diagnostics.append(_yaml_error(err, source))
        return loaded
    except YAMLError as err:
        # e.g. ReaderError for control characters: no mark, but a useful message.
        loaded.diagnostics.append(Diagnostic("error", source, f"invalid YAML: {err}", hint=_YAML_HINT))
        return loaded
    except RecursionError:
        loaded.diagnostics.append(_too_deep(source))
        return loaded
    if node is None:
        loaded.diagnostics.append(
            Diagnostic("error", source, "the recipe is empty", expected="a JSON or YAML object")
        )
        return loaded
    walk = _NodeWalk(source)
    try:
        loaded.data = walk.convert(node, (), 0)
    except (_TooDeep, RecursionError):
        loaded.diagnostics.append(_too_deep(source))
        loaded.data = None
        return loaded
    loaded.value_positions = walk.value_positions
    loaded.key_positions = walk.key_positions
    loaded.diagnostics.extend(walk.diagnostics)
    return loaded


def _yaml_error(err: MarkedYAMLError, source: str) -> Diagnostic:
    mark = err.problem_mark or err.context_mark
    location = f"{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
    parts = [p for p in (err.context, err.problem) if p]
    message = "invalid YAML: " + ("; ".join(parts) if parts else str(err).splitlines()[0])
    hint = _YAML_HINT
    if "\\t" in (err.problem or "") or "tab" in (err.problem or ""):
        hint = "YAML indents with spaces; replace the tab characters"
    elif "single document" in (err.problem or ""):
        hint = "a recipe is one YAML document: remove the extra '---' separator"
    return Diagnostic("error", source, message, location=location, hint=hint)


def _too_deep(source: str) -> Diagnostic:
    return Diagnostic(
        "error",
        source,
        f"the document is nested more than {MAX_DEPTH} levels deep",
        hint="a recipe (or a recursive YAML alias) this deep is not a component recipe",
    )


_TAG_NULL = "tag:yaml.org,2002:null"
_TAG_BOOL = "tag:yaml.org,2002:bool"
_TAG_INT = "tag:yaml.org,2002:int"
_TAG_FLOAT = "tag:yaml.org,2002:float"


class _NodeWalk:
    """Turns composed YAML nodes into plain data, noting positions and repeated keys."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.value_positions: dict[DocPath, tuple[int, int]] = {}
        self.key_positions: dict[DocPath, tuple[int, int]] = {}
        self.diagnostics: list[Diagnostic] = []
        self._constructor = YAML(typ="safe", pure=True).constructor

    def convert(self, node: Node, path: DocPath, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise _TooDeep
        self.value_positions[path] = _position(node)
        if isinstance(node, MappingNode):
            return self._mapping(node, path, depth)
        if isinstance(node, SequenceNode):
            return [self.convert(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        return self._scalar(node)

    def _mapping(self, node: MappingNode, path: DocPath, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                self.diagnostics.append(
                    Diagnostic(
                        "error",
                        self.source,
                        "a key must be plain text, not a list or an object",
                        location=_location(key_node),
                        hint="recipe keys are names such as ComponentName",
                    )
                )
                continue
            key = str(key_node.value)
            if key in result:
                self.diagnostics.append(
                    Diagnostic(
                        "warning",
                        self.source,
                        f"key {key!r} appears more than once; the last value is used",
                        location=_location(key_node),
                        hint="remove one of them",
                    )
                )
            self.key_positions[(*path, key)] = _position(key_node)
            result[key] = self.convert(value_node, (*path, key), depth + 1)
        return result

    def _scalar(self, node: Node) -> Any:
        tag = getattr(node.tag, "value", node.tag)
        value = node.value
        if not isinstance(node, ScalarNode) or getattr(node, "style", None):
            return value  # quoted scalars are always text
        try:
            if tag == _TAG_NULL:
                return None
            if tag == _TAG_BOOL:
                lowered = value.lower()
                return lowered == "true" if lowered in ("true", "false") else value
            if tag == _TAG_INT:
                return self._constructor.construct_yaml_int(node)
            if tag == _TAG_FLOAT:
                # .inf and .nan stay floats: the recipe checks reject them with a pointer
                return self._constructor.construct_yaml_float(node)
        except (ValueError, TypeError, YAMLError):
            return value
        # timestamps, binary, custom tags: the text as written
        return value


def _position(node: Node) -> tuple[int, int]:
    mark = node.start_mark
    return (mark.line + 1, mark.column + 1)


def _location(node: Node) -> str:
    line, column = _position(node)
    return f"{line}:{column}"
