"""What protobuf's text parser lets through or throws past its own ParseError.

Triton's model config and nvinferserver's config are proto3 messages read with
``google.protobuf.text_format``. Two things escape the parser's ParseError there:

* proto3 enums are open: ``data_type: -1`` or ``kind: 7`` parse, and tritonserver or nvinferserver
  fail later on a value no name stands for. :func:`undefined_enum_values` finds them.
* a number out of an enum's 32-bit range (``data_type: 4294967296``) raises a bare ValueError
  without a line; :func:`value_error_line` finds the line that holds the number.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from google.protobuf import descriptor

#: A field path as the position maps of the parsers write them: names, and indexes of repeated fields.
FieldPath = tuple[str | int, ...]


def undefined_enum_values(message: Any, path: FieldPath = ()) -> Iterator[tuple[FieldPath, Any, int]]:
    """(field path, enum descriptor, value) for every enum field holding a number with no name."""
    for field, value in message.ListFields():
        at = (*path, field.name)
        if field.type == descriptor.FieldDescriptor.TYPE_ENUM:
            values = list(value) if _repeated(field) else [value]
            for index, number in enumerate(values):
                if number not in field.enum_type.values_by_number:
                    yield ((*at, index) if _repeated(field) else at), field.enum_type, number
        elif field.type == descriptor.FieldDescriptor.TYPE_MESSAGE:
            if field.message_type.GetOptions().map_entry:
                value_field = field.message_type.fields_by_name["value"]
                if value_field.type == descriptor.FieldDescriptor.TYPE_MESSAGE:
                    for item in value.values():
                        yield from undefined_enum_values(item, at)
                continue
            if _repeated(field):
                for index, item in enumerate(value):
                    yield from undefined_enum_values(item, (*at, index))
            else:
                yield from undefined_enum_values(value, at)


def _repeated(field: Any) -> bool:
    if hasattr(field, "is_repeated"):  # protobuf >= 6 (label is deprecated there)
        return bool(field.is_repeated)
    return field.label == descriptor.FieldDescriptor.LABEL_REPEATED


def value_error_line(err: ValueError, text: str) -> int:
    """The 1-based line of the number a ValueError of the parser names (0 if not found)."""
    match = re.search(r"(-?\d[\w.+-]*)\s*$", str(err))
    if match is None:
        return 0
    token = re.compile(rf"(?<![\w.]){re.escape(match.group(1))}(?![\w.])")
    for number, line in enumerate(text.splitlines(), start=1):
        if token.search(line.split("#", 1)[0]):
            return number
    return 0


def enum_names(enum: Any) -> str:
    return ", ".join(value.name for value in enum.values)
