"""Parsing Triton ``config.pbtxt`` files with Triton's own ModelConfig protobuf.

tritonclient ships the generated ``model_config_pb2`` module, so a file that parses here parses
in tritonserver too, and a file that does not gets the protobuf parser's line and column.
"""

from __future__ import annotations

import re
from pathlib import Path

from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2

from harness.errors import Diagnostic, DiagnosticReport, ValidationError

ModelConfig = model_config_pb2.ModelConfig

_NO_FIELD = re.compile(r'has no field named "(?P<field>[^"]*)"')


def parse_model_config(text: str, file: str) -> ModelConfig:
    """Parse protobuf text into a ModelConfig; raise :class:`ValidationError` naming file:line:col."""
    config = ModelConfig()
    try:
        text_format.Parse(text, config)
    except text_format.ParseError as err:
        raise ValidationError(
            _report_parse_error(err, text, file), what=f"{file} is not a valid model config"
        )
    return config


def load_model_config(path: Path) -> ModelConfig:
    """Read and parse one ``config.pbtxt``."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        report = DiagnosticReport()
        report.add(
            Diagnostic(
                "error", str(path), f"not UTF-8 text (byte {err.start})", hint="save the file as UTF-8"
            )
        )
        raise ValidationError(report, what=f"{path} is not a valid model config") from err
    except OSError as err:
        report = DiagnosticReport()
        report.add(Diagnostic("error", str(path), f"cannot read: {err.strerror}"))
        raise ValidationError(report, what=f"{path} is not a valid model config") from err
    return parse_model_config(text, str(path))


def _report_parse_error(err: text_format.ParseError, text: str, file: str) -> DiagnosticReport:
    line, column = err.GetLine(), err.GetColumn()
    detail = str(err)
    # protobuf prefixes "line:col : "; keep only the explanation
    detail = re.sub(r"^\d+:\d+\s*:\s*", "", detail)
    hint = "see https://github.com/triton-inference-server/common/blob/main/protobuf/model_config.proto"
    expected = ""
    match = _NO_FIELD.search(detail)
    source_line = text.splitlines()[line - 1] if 0 < line <= len(text.splitlines()) else ""
    if match:
        # Report the whole key as written (protobuf stops at the first non-ASCII character).
        key_match = re.match(r"\s*([^\s:{\[]+)", source_line[max(0, column - 1) :])
        key = key_match.group(1) if key_match else match.group("field")
        detail = f"unknown field {key!r} in ModelConfig"
        expected = "a ModelConfig field such as name, platform, backend, max_batch_size, input, output"
        if any(ord(ch) > 127 for ch in key):
            hint = (
                "field names are the protobuf's English names (e.g. `input [` / `output [`, "
                "`data_type`, `dims`); this looks like a translated config — restore the original keys"
            )
    report = DiagnosticReport()
    report.add(
        Diagnostic(
            "error",
            file,
            detail + (f": {source_line.strip()!r}" if source_line.strip() else ""),
            location=f"{line}:{column}" if line else "",
            expected=expected,
            hint=hint,
        )
    )
    return report
