"""Parsing Triton ``config.pbtxt`` files with Triton's own ModelConfig protobuf.

tritonclient ships the generated ``model_config_pb2`` module, so a file that parses here parses
in tritonserver too, and a file that does not gets the protobuf parser's line and column.

The protobuf text parser keeps no positions once parsing succeeds, so :func:`field_locations`
walks the token stream a second time to map field paths to line:column; semantic checks use it
to point at the offending line instead of just naming the file.
"""

from __future__ import annotations

import contextlib
import difflib
import re
from pathlib import Path

from google.protobuf import descriptor, descriptor_pool, text_format
from tritonclient.grpc import model_config_pb2

from harness.errors import Diagnostic, DiagnosticReport, ValidationError
from harness.lint.protobuf_text import enum_names, undefined_enum_values, value_error_line

ModelConfig = model_config_pb2.ModelConfig

# A path to a field as written in the text: field names, plus an index after repeated fields,
# e.g. ("input", 0, "dims") or ("instance_group", 1, "count").
FieldPath = tuple[str | int, ...]

_PROTO_URL = "https://github.com/triton-inference-server/common/blob/main/protobuf/model_config.proto"
_NO_FIELD = re.compile(r'Message type "(?P<type>[^"]*)" has no field named "(?P<field>[^"]*)"')
_NO_ENUM_VALUE = re.compile(r'Enum type "(?P<type>[^"]*)" has no value named (?P<value>\S+?)\.?$')


#: Parse errors reported per file at most; past a handful, the rest are usually echoes.
MAX_PARSE_ERRORS = 20
# a config.pbtxt is a few KB; a bigger file is a wrong name (a model saved as config.pbtxt)
_MAX_CONFIG_BYTES = 1 << 20


def parse_model_config(text: str, file: str) -> ModelConfig:
    """Parse protobuf text into a ModelConfig; raise :class:`ValidationError` naming file:line:col.

    protobuf's parser stops at the first error. To report every mistake of a file in one run,
    the line of an error is blanked and the text parsed again, as long as that line opens or
    closes no message or list (blanking ``input [`` would only produce echoes of it).
    """
    report = DiagnosticReport()
    lines = text.split("\n")
    parsed: ModelConfig | None = None
    while parsed is None and len(report.diagnostics) < MAX_PARSE_ERRORS:
        attempt = ModelConfig()
        try:
            text_format.Parse("\n".join(lines), attempt)
        except text_format.ParseError as err:
            report.extend(_report_parse_error(err, text, file))
            line = err.GetLine()
        except ValueError as err:
            # protobuf raises a bare ValueError for an enum number out of its 32-bit range
            line = value_error_line(err, "\n".join(lines))
            report.add(
                Diagnostic(
                    "error",
                    file,
                    f"{err}".rstrip("."),
                    location=str(line) if line else "",
                    expected="an enum value by its name, e.g. TYPE_FP32",
                    hint=f"see {_PROTO_URL}",
                )
            )
        except RecursionError:
            # protobuf's text parser recurses per nested message
            report.add(
                Diagnostic(
                    "error",
                    file,
                    "messages nested too deeply to parse",
                    hint="a model config nests a few levels; check for unbalanced '{' or '['",
                )
            )
            break
        else:
            parsed = attempt
            break
        if (
            not 0 < line <= len(lines)
            or not lines[line - 1].strip()
            or any(c in lines[line - 1] for c in "{}[]<>")
        ):
            break
        lines[line - 1] = ""
    if parsed is not None:
        _undefined_enums(parsed, "\n".join(lines), file, report)
    if not report.ok or parsed is None:
        raise ValidationError(report, what=f"{file} is not a valid model config")
    return parsed


def _undefined_enums(config: ModelConfig, text: str, file: str, report: DiagnosticReport) -> None:
    """proto3 enums take any number; tritonserver refuses one that names no value."""
    found = list(undefined_enum_values(config))
    if not found:
        return
    locations = field_locations(text)
    for path, enum, number in found:
        line, column = locations.get(path, (0, 0))
        shown = ".".join(str(p) for p in path)
        report.add(
            Diagnostic(
                "error",
                file,
                f"{shown} is {number}, which is no {enum.name} value",
                location=f"{line}:{column}" if line else "",
                expected="one of " + enum_names(enum),
                hint="write the value's name, not a number",
            )
        )


def read_model_config_text(path: Path) -> str:
    """Read a ``config.pbtxt`` as UTF-8; raise :class:`ValidationError` if it cannot be read.

    A FIFO is refused before it is opened (opening one waits for a writer).
    """
    import stat

    report = DiagnosticReport()
    what = f"{path} is not a valid model config"
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            report.add(
                Diagnostic(
                    "error",
                    str(path),
                    "not a regular file (a folder, FIFO, socket or device)",
                    hint="config.pbtxt is the model's protobuf text config file",
                )
            )
            raise ValidationError(report, what=what)
        if info.st_size > _MAX_CONFIG_BYTES:
            report.add(
                Diagnostic(
                    "error",
                    str(path),
                    f"{info.st_size:,} bytes is not a model config",
                    hint="config.pbtxt is a few KB of protobuf text: is a model saved under its name?",
                )
            )
            raise ValidationError(report, what=what)
        data = path.read_bytes()
    except OSError as err:
        report.add(
            Diagnostic(
                "error", str(path), f"cannot read: {err.strerror}", hint="check the file's permissions"
            )
        )
        raise ValidationError(report, what=what) from err
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        report.add(
            Diagnostic(
                "error",
                str(path),
                f"not UTF-8 text (byte {err.start})",
                location=str(line),
                hint="save the file as UTF-8",
            )
        )
        raise ValidationError(report, what=what) from err


def load_model_config(path: Path) -> ModelConfig:
    """Read and parse one ``config.pbtxt``."""
    return parse_model_config(read_model_config_text(path), str(path))


# --- positions of fields in a config that parsed -------------------------------------------------


def field_locations(text: str) -> dict[FieldPath, tuple[int, int]]:
    """Map each field written in ``text`` to its 1-based (line, column).

    Repeated fields get one entry for the field itself (its first occurrence) and one per
    element, e.g. ``("input",)``, ``("input", 0)``, ``("input", 0, "name")``. Only meant for text
    that :func:`parse_model_config` accepted; on anything unexpected the map built so far is
    returned, because a missing position only costs the user a line number.
    """
    locations: dict[FieldPath, tuple[int, int]] = {}
    tokenizer = text_format.Tokenizer(text.splitlines())
    with contextlib.suppress(text_format.ParseError, ValueError, KeyError, AttributeError):
        _walk_message(tokenizer, ModelConfig.DESCRIPTOR, (), locations, end=None)
    return locations


def _position(tokenizer: text_format.Tokenizer) -> tuple[int, int]:
    # The tokenizer counts from 0; editors and protobuf's own errors count from 1.
    return tokenizer._line + 1, tokenizer._column + 1


def _walk_message(
    tokenizer: text_format.Tokenizer,
    message: descriptor.Descriptor,
    prefix: FieldPath,
    locations: dict[FieldPath, tuple[int, int]],
    end: str | None,
) -> None:
    counts: dict[str, int] = {}
    while not tokenizer.AtEnd() and tokenizer.token != end:
        where = _position(tokenizer)
        name = tokenizer.token
        field = message.fields_by_name.get(name)
        if field is None:
            raise ValueError(name)
        tokenizer.NextToken()
        tokenizer.TryConsume(":")
        locations.setdefault((*prefix, name), where)
        if tokenizer.TryConsume("["):
            while not tokenizer.TryConsume("]"):
                _walk_value(tokenizer, field, (*prefix, name, counts.get(name, 0)), locations)
                counts[name] = counts.get(name, 0) + 1
                tokenizer.TryConsume(",")
        elif field.is_repeated:
            locations[(*prefix, name, counts.get(name, 0))] = where
            _walk_value(tokenizer, field, (*prefix, name, counts.get(name, 0)), locations, where)
            counts[name] = counts.get(name, 0) + 1
        else:
            _walk_value(tokenizer, field, (*prefix, name), locations, where)
        if not tokenizer.TryConsume(","):
            tokenizer.TryConsume(";")


def _walk_value(
    tokenizer: text_format.Tokenizer,
    field: descriptor.FieldDescriptor,
    path: FieldPath,
    locations: dict[FieldPath, tuple[int, int]],
    where: tuple[int, int] | None = None,
) -> None:
    locations.setdefault(path, where or _position(tokenizer))
    if field.type == descriptor.FieldDescriptor.TYPE_MESSAGE:
        close = ">" if tokenizer.token == "<" else "}"
        tokenizer.NextToken()
        _walk_message(tokenizer, field.message_type, path, locations, end=close)
        tokenizer.Consume(close)
        return
    is_string = tokenizer.token[:1] in ("'", '"')
    tokenizer.NextToken()
    while is_string and tokenizer.token[:1] in ("'", '"'):  # "a" "b" is one concatenated string
        tokenizer.NextToken()


# --- readable parse errors -----------------------------------------------------------------------


def _report_parse_error(err: text_format.ParseError, text: str, file: str) -> DiagnosticReport:
    line, column = err.GetLine(), err.GetColumn()
    lines = text.splitlines()
    source_line = lines[line - 1] if line and 0 < line <= len(lines) else ""
    detail = _strip_protobuf_prefixes(str(err), source_line)
    expected = ""
    hint = f"see {_PROTO_URL}"

    if match := _NO_FIELD.search(detail):
        detail, expected, hint = _explain_unknown_field(match, source_line, column, hint)
    elif match := _NO_ENUM_VALUE.search(detail):
        detail, expected, hint = _explain_bad_enum(match, hint)
    elif "/*" in source_line:
        hint = "the protobuf text format has only `#` line comments; replace `/* … */` with `# …`"

    report = DiagnosticReport()
    report.add(
        Diagnostic(
            "error",
            file,
            detail.rstrip(".") + (f": {source_line.strip()!r}" if source_line.strip() else ""),
            location=f"{line}:{column}" if line else "",
            expected=expected,
            hint=hint,
        )
    )
    return report


def _strip_protobuf_prefixes(detail: str, source_line: str) -> str:
    """Drop protobuf's ``line:col :`` and quoted-source-line prefixes; the diagnostic has both."""
    detail = re.sub(r"^\d+:\d+\s*:\s*", "", detail)
    for quoted in (f"'{source_line}': ", "'': "):
        if detail.startswith(quoted):
            return detail[len(quoted) :]
    return detail


def _explain_unknown_field(
    match: re.Match[str], source_line: str, column: int, hint: str
) -> tuple[str, str, str]:
    type_name = match.group("type")
    short_type = type_name.rsplit(".", 1)[-1]
    # Report the whole key as written (protobuf stops at the first non-ASCII character).
    key_match = re.match(r"\s*([^\s:{\[<]+)", source_line[max(0, column - 1) :])
    key = key_match.group(1) if key_match else match.group("field")
    detail = f"unknown field {key!r} in {short_type}"
    expected = _expected_fields(type_name)
    if any(ord(ch) > 127 for ch in key):
        hint = (
            "field names are the protobuf's English names (e.g. `input [` / `output [`, `name`, "
            "`data_type`, `dims`); this looks like a translated config — restore the original keys"
        )
    else:
        close = difflib.get_close_matches(key, _field_names(type_name), n=1)
        if close:
            hint = f"did you mean `{close[0]}`? {hint}"
    return detail, expected, hint


def _explain_bad_enum(match: re.Match[str], hint: str) -> tuple[str, str, str]:
    type_name, value = match.group("type"), match.group("value")
    try:
        names = [v.name for v in descriptor_pool.Default().FindEnumTypeByName(type_name).values]
    except KeyError:
        names = []
    detail = f"invalid value {value!r} for {type_name.split('.', 1)[-1]}"
    expected = "one of " + ", ".join(names) if names else ""
    suggestion = [n for n in names if n.endswith("_" + value.upper())] or difflib.get_close_matches(
        value, names, n=1
    )
    if suggestion:
        hint = f"did you mean {suggestion[0]}?"
    return detail, expected, hint


def _field_names(type_name: str) -> list[str]:
    try:
        message = descriptor_pool.Default().FindMessageTypeByName(type_name)
    except KeyError:
        return []
    return list(message.fields_by_name)


def _expected_fields(type_name: str) -> str:
    if type_name == "inference.ModelConfig":
        return "a ModelConfig field such as name, platform, backend, max_batch_size, input, output"
    names = _field_names(type_name)
    if not names:
        return ""
    return f"a {type_name.rsplit('.', 1)[-1]} field: " + ", ".join(names)
