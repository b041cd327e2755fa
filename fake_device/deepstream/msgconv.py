"""nvmsgconv: NvDsEventMsgMeta → DeepStream schema payloads (full JSON and minimal JSON).

Behaviour follows the open sources of DeepStream 9.1 (github NVIDIA/DeepStream):

* ``src/utils/nvmsgconv/deepstream_schema/eventmsg_payload.cpp`` — the payloads built from event
  metadata (``generate_event_message``, ``generate_event_message_minimal``);
* ``src/utils/nvmsgconv/deepstream_schema/dsmeta_payload.cpp`` — the ``msg2p-newapi`` payloads
  built straight from frame and object metadata;
* ``src/utils/nvmsgconv/deepstream_schema/deepstream_schema.cpp`` — the ``[sensorN]``,
  ``[placeN]``, ``[analyticsN]`` config parsers (GKeyFile and YAML);
* ``src/gst-plugins/gst-nvmsgconv/gstnvmsgconv.cpp`` — which events go into which payload,
  ``comp-id``, ``frame-interval``, ``dummy-payload``.

Payloads are byte-for-byte what DeepStream sends: json-glib's pretty printer
(``json_to_string(root, TRUE)``: two-space indent, ``"key" : value``, doubles printed with
``%.17g``), the same member order, the same int/double/string types, the same ``%g`` number format
inside the minimal schema's object strings. Only the random UUIDs and, for the new API, the
wall-clock timestamp differ from run to run.

The config parsers are stricter than DeepStream's: where DeepStream prints ``Unknown key`` and
carries on (or silently disables a group), the emulation raises :class:`~.errors.ConfigError`
naming file, line and a likely fix. docs/deepstream/msgconv.md lists every such difference.
"""

from __future__ import annotations

import difflib
import logging
import math
import re
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import IntEnum
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np

from fake_device.deepstream import cmemory
from fake_device.deepstream.cstruct import VoidPointer
from fake_device.deepstream.errors import ConfigError, read_config_text
from fake_device.deepstream.meta import (
    FrameMeta,
    NvDsMetaType,
    NvDsUserMeta,
    ObjectMeta,
    nvds_acquire_user_meta_from_pool,
    nvds_add_user_meta_to_frame,
    set_user_meta_callbacks,
)
from fake_device.deepstream.meta_event import (
    NvDsEventMsgMeta,
    NvDsFaceObject,
    NvDsPayload,
    NvDsPersonObject,
    NvDsVehicleObject,
)
from harness.errors import HarnessError

log = logging.getLogger(__name__)

# gst-nvmsgconv's defaults (gstnvmsgconv.cpp DEFAULT_PAYLOAD_TYPE / DEFAULT_FRAME_INTERVAL).
DEFAULT_FRAME_INTERVAL = 30
_UINT64_MASK = 0xFFFFFFFFFFFFFFFF


class MsgConvError(HarnessError):
    """nvmsgconv cannot start: a property combination DeepStream rejects or the emulation lacks."""


# -- the metadata -----------------------------------------------------------------------------


class EventType(IntEnum):
    """NvDsEventType (sources/includes/nvdsmeta_schema.h)."""

    ENTRY = 0
    EXIT = 1
    MOVING = 2
    STOPPED = 3
    EMPTY = 4
    PARKED = 5
    RESET = 6
    RESERVED = 0x100
    CUSTOM = 0x101

    @classmethod
    def parse(cls, value: EventType | int | str) -> EventType:
        """``"entry"``, ``"NVDS_EVENT_ENTRY"``, ``0`` or ``EventType.ENTRY`` → ``EventType.ENTRY``."""
        return _parse_enum(cls, value, "NVDS_EVENT_")


class ObjectType(IntEnum):
    """NvDsObjectType (nvdsmeta_schema.h). ``OBJECT_3D`` is ``NVDS_OBJECT_TYPE_3D``."""

    VEHICLE = 0
    PERSON = 1
    FACE = 2
    BAG = 3
    BICYCLE = 4
    ROADSIGN = 5
    VEHICLE_EXT = 6
    PERSON_EXT = 7
    FACE_EXT = 8
    OBJECT_3D = 9
    DUMMY = 10
    PRODUCT = 11
    PRODUCT_EXT = 12
    RESERVED = 0x100
    CUSTOM = 0x101
    UNKNOWN = 0x102

    @classmethod
    def parse(cls, value: ObjectType | int | str) -> ObjectType:
        """``"vehicle"``, ``"NVDS_OBJECT_TYPE_VEHICLE"``, ``0`` … → ``ObjectType.VEHICLE``."""
        if isinstance(value, str) and value.strip().upper() in ("3D", "NVDS_OBJECT_TYPE_3D"):
            return cls.OBJECT_3D
        return _parse_enum(cls, value, "NVDS_OBJECT_TYPE_")


class PayloadType(IntEnum):
    """NvDsPayloadType: nvmsgconv's ``payload-type`` property."""

    DEEPSTREAM = 0
    DEEPSTREAM_MINIMAL = 1
    DEEPSTREAM_PROTOBUF = 2
    CUSTOM = 0x101


_E = TypeVar("_E", bound=IntEnum)


def _parse_enum(cls: type[_E], value: _E | int | str, prefix: str) -> _E:
    if isinstance(value, str):
        name = value.strip().upper().replace("-", "_")
        name = name.removeprefix(prefix)
        try:
            return cls[name]
        except KeyError:
            names = [m.name.lower() for m in cls]
            raise ValueError(
                f"unknown {cls.__name__} {value!r}; {did_you_mean(value.lower(), names)}"
            ) from None
    try:
        return cls(int(value))
    except ValueError:
        raise ValueError(f"unknown {cls.__name__} {value!r}") from None


@dataclass
class Rect:
    """NvDsRect. Stored as given; used as C ``float`` (float32) like DeepStream does."""

    top: float = 0.0
    left: float = 0.0
    width: float = 0.0
    height: float = 0.0


@dataclass
class GeoLocation:
    """NvDsGeoLocation (doubles)."""

    lat: float = 0.0
    lon: float = 0.0
    alt: float = 0.0


@dataclass
class Coordinate:
    """NvDsCoordinate (doubles)."""

    x: float = 0.0
    y: float = 0.0
    z: float = 0.0


# Extension objects. A string left as None is a NULL ``gchar*``: the full schema prints it as JSON
# null (json-glib's set_string_member with NULL), the minimal schema as "" (eventmsg_payload.cpp
# to_str), exactly as a pyds app that leaves a field unset gets.


@dataclass
class VehicleObject:
    """NvDsVehicleObject (extMsg of VEHICLE / VEHICLE_EXT events)."""

    type: str | None = None
    make: str | None = None
    model: str | None = None
    color: str | None = None
    region: str | None = None
    license: str | None = None


@dataclass
class PersonObject:
    """NvDsPersonObject (extMsg of PERSON / PERSON_EXT events)."""

    gender: str | None = None
    hair: str | None = None
    cap: str | None = None
    apparel: str | None = None
    age: int = 0


@dataclass
class FaceObject:
    """NvDsFaceObject (extMsg of FACE / FACE_EXT events)."""

    gender: str | None = None
    hair: str | None = None
    cap: str | None = None
    glasses: str | None = None
    facialhair: str | None = None
    name: str | None = None
    eyecolor: str | None = None
    age: int = 0


@dataclass
class ProductObject:
    """NvDsProductObject (extMsg of PRODUCT / PRODUCT_EXT events)."""

    brand: str | None = None
    type: str | None = None
    shape: str | None = None


ExtMsg = VehicleObject | PersonObject | FaceObject | ProductObject

# DeepStream casts extMsg to the struct the object type implies; a mismatch is undefined behaviour
# in C, so the emulation refuses it instead of guessing.
_EXT_FOR_TYPE: dict[ObjectType, type] = {
    ObjectType.VEHICLE: VehicleObject,
    ObjectType.VEHICLE_EXT: VehicleObject,
    ObjectType.PERSON: PersonObject,
    ObjectType.PERSON_EXT: PersonObject,
    ObjectType.FACE: FaceObject,
    ObjectType.FACE_EXT: FaceObject,
    ObjectType.PRODUCT: ProductObject,
    ObjectType.PRODUCT_EXT: ProductObject,
}


@dataclass
class EventMsg:
    """NvDsEventMsgMeta, with pyds's field names so code ports from a DeepStream app unchanged.

    ``ts`` is the event time: a string is used verbatim (a pyds app fills ``ts`` with
    ``generate_ts_rfc3339``), an int is nanoseconds since the epoch, a datetime is converted (naive
    = UTC). ``None`` — which DeepStream would print as ``null`` — means the frame's
    ``ntp_timestamp``, the capture time, so a consumer can compute frame → Kafka latency.
    A zero-filled NvDsEventMsgMeta (``pyds.alloc_nvds_event_msg_meta``) is an ENTRY event of a
    VEHICLE; the defaults here are the same.
    """

    # the user meta type an EventMsg appended to ``frame.user_meta`` is attached with
    nvds_meta_type: ClassVar[int] = NvDsMetaType.NVDS_EVENT_MSG_META

    type: EventType = EventType.ENTRY
    objType: ObjectType = ObjectType.VEHICLE
    bbox: Rect = field(default_factory=Rect)
    location: GeoLocation = field(default_factory=GeoLocation)
    coordinate: Coordinate = field(default_factory=Coordinate)
    objSignature: list[float] = field(default_factory=list)
    objClassId: int = 0
    sensorId: int = 0
    moduleId: int = 0
    placeId: int = 0
    componentId: int = 0
    frameId: int = 0
    confidence: float = 0.0
    trackingId: int = 0
    ts: str | int | datetime | None = None
    objectId: str | None = None
    sensorStr: str | None = None
    otherAttrs: str | None = None
    videoPath: str | None = None
    extMsg: ExtMsg | None = None

    def __post_init__(self) -> None:
        self.type = EventType.parse(self.type)
        self.objType = ObjectType.parse(self.objType)
        wanted = _EXT_FOR_TYPE.get(self.objType)
        if self.extMsg is not None and wanted is not None and not isinstance(self.extMsg, wanted):
            raise ValueError(
                f"objType {self.objType.name} needs extMsg of type {wanted.__name__}, "
                f"got {type(self.extMsg).__name__}"
            )

    @classmethod
    def from_object(cls, obj: ObjectMeta, frame: FrameMeta, **fields: Any) -> EventMsg:
        """The event a DeepStream probe builds for ``obj`` (deepstream-test4, the seed app).

        bbox, frameId, trackingId, confidence and objClassId come from the object, sensorId from
        the frame's source; ``fields`` set or override anything else. The confidence goes through
        a C ``float`` first, as ``msg_meta.confidence = obj_meta.confidence`` does.
        """
        values: dict[str, Any] = {
            "bbox": Rect(top=obj.top, left=obj.left, width=obj.width, height=obj.height),
            "frameId": frame.frame_num,
            "trackingId": obj.object_id,
            "confidence": _f32(obj.confidence),
            "objClassId": obj.class_id,
            "sensorId": frame.source_id,
        }
        values.update(fields)
        return cls(**values)


class Payload(bytes):
    """One NvDsPayload: the bytes nvmsgconv made, stamped with its ``comp-id``.

    nvmsgbroker's own ``comp-id`` filters on :attr:`component_id`, as in DeepStream.
    """

    # the user meta type a Payload appended to ``frame.user_meta`` is attached with
    nvds_meta_type: ClassVar[int] = NvDsMetaType.NVDS_PAYLOAD_META
    component_id: int

    def __new__(cls, data: bytes, component_id: int = 0) -> Payload:
        self = super().__new__(cls, data)
        self.component_id = component_id
        return self


# -- the metadata on the buffer ---------------------------------------------------------------
#
# On a Jetson an app's probe attaches each NvDsEventMsgMeta to its frame as a user meta of type
# NVDS_EVENT_MSG_META; nvmsgconv adds one NVDS_PAYLOAD_META user meta per payload to the same
# frame, and nvmsgbroker sends what it finds there (gstnvmsgconv.cpp add_payload_to_batch_meta,
# gstnvmsgbroker.cpp legacy_gst_nvmsgbroker_render). The functions below are that hand-over, on
# the pyds model of fake_device.deepstream.meta.


def _c_string(address: int, what: str) -> str | None:
    """A ``gchar *`` member of a pyds struct: None for NULL, else the text (a freed block is an error)."""
    return cmemory.string_at(address, what) if address else None


def _ext_from_meta(meta: NvDsEventMsgMeta) -> ExtMsg | None:
    # eventmsg_payload.cpp reads extMsg only when extMsgSize is non-zero.
    if not meta.extMsgSize:
        return None
    ext = VoidPointer.target(meta, "extMsg")
    if ext is None:
        raise ValueError(
            f"NvDsEventMsgMeta.extMsgSize is {meta.extMsgSize} but extMsg is NULL "
            "(DeepStream would dereference it and crash)"
        )
    if isinstance(ext, VehicleObject | PersonObject | FaceObject | ProductObject):
        return ext
    name = type(ext).__name__
    if isinstance(ext, NvDsVehicleObject):
        return VehicleObject(
            **{k: _c_string(getattr(ext, k), f"{name}.{k}") for k in ("type", "make", "model", "color")},
            region=_c_string(ext.region, f"{name}.region"),
            license=_c_string(ext.license, f"{name}.license"),
        )
    if isinstance(ext, NvDsPersonObject):
        strings = {k: _c_string(getattr(ext, k), f"{name}.{k}") for k in ("gender", "hair", "cap", "apparel")}
        return PersonObject(age=int(ext.age), **strings)
    if isinstance(ext, NvDsFaceObject):
        keys = ("gender", "hair", "cap", "glasses", "facialhair", "name", "eyecolor")
        return FaceObject(age=int(ext.age), **{k: _c_string(getattr(ext, k), f"{name}.{k}") for k in keys})
    raise ValueError(
        f"NvDsEventMsgMeta.extMsg points to a {name}; nvmsgconv reads an NvDsVehicleObject, "
        "NvDsPersonObject or NvDsFaceObject there"
    )


def event_from_meta(meta: NvDsEventMsgMeta) -> EventMsg:
    """The :class:`EventMsg` an app's ``NvDsEventMsgMeta`` describes, its C strings read.

    ``ts`` is the buffer ``pyds.alloc_buffer`` + ``generate_ts_rfc3339`` filled (NULL → the
    frame's capture time, see :class:`EventMsg`); a string freed before nvmsgconv reads it is an
    error naming the member, where DeepStream would read freed memory.
    """
    bbox, signature = meta.bbox, meta.objSignature.signature
    return EventMsg(
        type=EventType.parse(int(meta.type)),
        objType=ObjectType.parse(int(meta.objType)),
        bbox=Rect(top=bbox.top, left=bbox.left, width=bbox.width, height=bbox.height),
        location=GeoLocation(meta.location.lat, meta.location.lon, meta.location.alt),
        coordinate=Coordinate(meta.coordinate.x, meta.coordinate.y, meta.coordinate.z),
        objSignature=[float(v) for v in signature] if signature else [],
        objClassId=meta.objClassId,
        sensorId=meta.sensorId,
        moduleId=meta.moduleId,
        placeId=meta.placeId,
        componentId=meta.componentId,
        frameId=meta.frameId,
        confidence=meta.confidence,
        trackingId=meta.trackingId,
        ts=_c_string(meta.ts, "NvDsEventMsgMeta.ts"),
        objectId=_c_string(meta.objectId, "NvDsEventMsgMeta.objectId"),
        sensorStr=_c_string(meta.sensorStr, "NvDsEventMsgMeta.sensorStr"),
        otherAttrs=_c_string(meta.otherAttrs, "NvDsEventMsgMeta.otherAttrs"),
        videoPath=_c_string(meta.videoPath, "NvDsEventMsgMeta.videoPath"),
        extMsg=_ext_from_meta(meta),
    )


def _frame_user_metas(frame: FrameMeta) -> list[NvDsUserMeta]:
    metas = []
    node = frame.frame_user_meta_list
    while node is not None:
        metas.append(NvDsUserMeta.cast(node.data))
        node = node.next
    return metas


def frame_events(frame: FrameMeta) -> list[EventMsg]:
    """The events attached to ``frame``, in attachment order: every NVDS_EVENT_MSG_META user meta
    (an ``NvDsEventMsgMeta``, or an :class:`EventMsg` the Python runtime appended)."""
    events = []
    for user_meta in _frame_user_metas(frame):
        if user_meta.base_meta.meta_type != NvDsMetaType.NVDS_EVENT_MSG_META:
            continue
        data = user_meta.user_meta_data
        target = data.target if data is not None else None
        if isinstance(target, EventMsg):
            events.append(target)
        elif target is not None:
            events.append(event_from_meta(NvDsEventMsgMeta.cast(data)))
    return events


def _copy_payload(data: Any, user_data: Any = None) -> NvDsPayload:
    """gst_nvmsgconv_copy_meta: a new NvDsPayload with the same bytes (they are immutable here)."""
    source = NvDsPayload.cast(NvDsUserMeta.cast(data).user_meta_data)
    copy = NvDsPayload(payloadSize=source.payloadSize, componentId=source.componentId)
    copy.payload = VoidPointer.target(source, "payload")
    return copy


def attach_payloads(frame: FrameMeta, payloads: Iterable[Payload]) -> None:
    """Attach each payload to ``frame`` as an NVDS_PAYLOAD_META user meta holding an NvDsPayload
    (``payload`` the bytes, ``payloadSize``, ``componentId`` = nvmsgconv's comp-id)."""
    batch = frame.base_meta.batch_meta
    for payload in payloads:
        data = NvDsPayload(payloadSize=len(payload), componentId=payload.component_id)
        data.payload = payload
        user_meta = nvds_acquire_user_meta_from_pool(batch) if batch is not None else NvDsUserMeta()
        user_meta.user_meta_data = data
        user_meta.base_meta.meta_type = NvDsMetaType.NVDS_PAYLOAD_META
        set_user_meta_callbacks(user_meta, _copy_payload, None)
        nvds_add_user_meta_to_frame(frame, user_meta)


def frame_payloads(frame: FrameMeta) -> list[Payload]:
    """The payloads attached to ``frame`` (its NVDS_PAYLOAD_META user metas), in order."""
    payloads = []
    for user_meta in _frame_user_metas(frame):
        if user_meta.base_meta.meta_type != NvDsMetaType.NVDS_PAYLOAD_META:
            continue
        data = user_meta.user_meta_data
        target = data.target if data is not None else None
        if isinstance(target, Payload):
            payloads.append(target)
            continue
        meta = NvDsPayload.cast(data)
        raw = VoidPointer.target(meta, "payload")
        if not isinstance(raw, bytes | bytearray | memoryview):
            kind = "NULL" if raw is None else f"a {type(raw).__name__}"
            raise ValueError(f"NvDsPayload.payload is {kind}, not the bytes of a message")
        payloads.append(Payload(bytes(raw[: meta.payloadSize]), meta.componentId))
    return payloads


# -- json-glib's output format ----------------------------------------------------------------


def glib_json(value: Any) -> str:
    """``json_to_string(node, TRUE)`` of json-glib ≥ 1.8 for a tree of dict/list/str/int/float/None.

    Python ``int`` is a JSON int member (``%" G_GINT64_FORMAT``), ``float`` a double member:
    ``g_ascii_dtostr`` (``%.17g``) plus ``.0`` when that has neither ``.`` nor an exponent, so
    ``0.1`` prints as ``0.10000000000000001`` and ``100.0`` as ``100.0`` — what DeepStream sends.
    Empty objects print as ``{`` + indent + ``}``, empty arrays as ``[]`` (json-glib/json-generator.c
    dump_object / dump_array). Strings escape ``"``, ``\\`` and control characters only; UTF-8
    passes through.
    """
    out: list[str] = []
    _dump(out, value, 0)
    return "".join(out)


def _dump(out: list[str], value: Any, level: int) -> None:
    if value is None:
        out.append("null")
    elif isinstance(value, bool):
        out.append("true" if value else "false")
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, float):
        out.append(_dtostr(value))
    elif isinstance(value, str):
        out.append(f'"{_escape(value)}"')
    elif isinstance(value, dict):
        out.append("{")
        items = list(value.items())
        for i, (key, item) in enumerate(items):
            if i == 0:
                out.append("\n")
            out.append("  " * (level + 1))
            out.append(f'"{_escape(key)}" : ')
            _dump(out, item, level + 1)
            if i + 1 < len(items):
                out.append(",")
            out.append("\n")
        out.append("  " * level)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        if value:
            for i, item in enumerate(value):
                if i == 0:
                    out.append("\n")
                out.append("  " * (level + 1))
                _dump(out, item, level + 1)
                if i + 1 < len(value):
                    out.append(",")
                out.append("\n")
            out.append("  " * level)
        out.append("]")
    else:
        raise TypeError(f"cannot write {type(value).__name__} as JSON")


def _dtostr(value: float) -> str:
    text = format(value, ".17g")  # g_ascii_dtostr: "%.17g" in the C locale
    if "." not in text and "e" not in text and "E" not in text:
        text += ".0"
    return text


_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(text: str) -> str:
    # A C string ends at the first NUL: DeepStream never sees what follows it.
    text = text.split("\x00", 1)[0]
    parts = []
    for ch in text:
        if ch in _ESCAPES:
            parts.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ch == "\x7f":
            parts.append(f"\\u00{ord(ch):02x}")
        else:
            parts.append(ch)
    return "".join(parts)


# -- numbers and timestamps -------------------------------------------------------------------


def _f32(value: float) -> float:
    """The double a C ``float`` holding ``value`` converts to."""
    return float(np.float32(value))


def _g(value: float) -> str:
    """``std::ostream << value`` with default flags: ``%g``, 6 significant digits."""
    return format(value, "g")


def format_rfc3339_ms(ns: int) -> str:
    """Nanoseconds since the epoch → ``2018-04-11T04:59:59.828Z`` (UTC, milliseconds truncated).

    The format of gstnvmsgconv.cpp generate_ts_from_frame_ntp / generate_ts_rfc3339:
    ``strftime("%Y-%m-%dT%H:%M:%S")`` on gmtime, then ``".%.3dZ"`` of ``tv_nsec / 1000000``.
    """
    if ns < 0:
        raise ValueError(f"timestamp {ns} ns is before the epoch")
    seconds, rest = divmod(int(ns), 1_000_000_000)
    stamp = datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{rest // 1_000_000:03d}Z"


def _datetime_ns(value: datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    delta = value - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


def _event_ts(event: EventMsg, frame: FrameMeta) -> str:
    ts = event.ts
    if ts is None:
        return format_rfc3339_ms(frame.ntp_timestamp)
    if isinstance(ts, str):
        return ts
    if isinstance(ts, datetime):
        return format_rfc3339_ms(_datetime_ns(ts))
    return format_rfc3339_ms(int(ts))


# -- GLib key files ---------------------------------------------------------------------------


@dataclass
class KeyFileEntry:
    """One ``key=value`` line: the raw value as GKeyFile stores it, and its 1-based line."""

    key: str
    raw: str
    line: int


@dataclass
class KeyFileGroup:
    """A ``[group]`` with its entries in file order (a repeated header adds to the same group)."""

    name: str
    line: int
    entries: list[KeyFileEntry] = field(default_factory=list)

    def get(self, key: str) -> KeyFileEntry | None:
        """The entry GKeyFile returns for ``key``: the last one, if the key is repeated."""
        for entry in reversed(self.entries):
            if entry.key == key:
                return entry
        return None

    def key_names(self) -> list[str]:
        """Distinct keys in order of first appearance."""
        return list(dict.fromkeys(e.key for e in self.entries))


_GLIB_SPACE = " \t\n\r\f\v"
_DOUBLE_RE = re.compile(
    r"[ \t\n\r\f\v]*[+-]?"  # g_ascii_strtod skips leading space
    r"(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|inf|infinity|nan)",
    re.IGNORECASE,
)


class KeyFile:
    """A GLib key file (the ``.txt`` configs of DeepStream), read the way ``GKeyFile`` reads it.

    Kept small and line-aware so every error can name ``file:line``. Rules reproduced from GLib
    (checked against libglib 2.74): ``#`` starts a comment only at the start of a line; leading
    whitespace of a line and around ``=`` is dropped, trailing whitespace of a value is kept;
    quotes are ordinary characters (``description="x"`` is the 3-character string with quotes);
    a repeated group header continues the group; a repeated key wins with its last value.
    """

    def __init__(self, path: str | Path, groups: dict[str, KeyFileGroup]) -> None:
        self.path = str(path)
        self.groups = groups

    @classmethod
    def load(cls, path: str | Path) -> KeyFile:
        return cls.parse(read_config_text(path, "file", missing="file does not exist"), path)

    @classmethod
    def parse(cls, text: str, path: str | Path = "<string>") -> KeyFile:
        groups: dict[str, KeyFileGroup] = {}
        current: KeyFileGroup | None = None
        for number, raw_line in enumerate(text.split("\n"), start=1):
            line = raw_line.removesuffix("\r").lstrip(_GLIB_SPACE)
            if not line or line.startswith("#"):
                continue
            if line.startswith("["):
                close = line.find("]")
                if close < 0 or line[close + 1 :].strip(" \t"):
                    raise ConfigError(
                        path,
                        f"line {line!r} is not a key-value pair, group, or comment",
                        line=number,
                        expected="[group-name]",
                        hint="a group header is '[name]' alone on its line; comments start with '#'",
                    )
                name = line[1:close]
                if not name:
                    raise ConfigError(
                        path, "empty group name []", line=number, hint="name the group, e.g. [sensor0]"
                    )
                current = groups.setdefault(name, KeyFileGroup(name, number))
                continue
            equal = line.find("=")
            if equal <= 0:
                raise ConfigError(
                    path,
                    f"line {line!r} is not a key-value pair, group, or comment",
                    line=number,
                    expected="key=value",
                    hint="write key=value, '[group]' or a '#' comment (a comment cannot follow a value)",
                )
            if current is None:
                raise ConfigError(
                    path,
                    "the file does not start with a group",
                    line=number,
                    hint="put a [group] header before the first key",
                )
            key = line[:equal].rstrip(_GLIB_SPACE)
            value = line[equal + 1 :].lstrip(_GLIB_SPACE)
            current.entries.append(KeyFileEntry(key, value, number))
        return cls(path, groups)

    # -- values, as g_key_file_get_* parse them ------------------------------------------------
    def string(self, entry: KeyFileEntry) -> str:
        """g_key_file_get_string: ``\\s \\n \\t \\r \\\\`` escapes; any other escape is an error."""
        return self._unescape(entry, entry.raw, in_list=False)

    def boolean(self, entry: KeyFileEntry) -> bool:
        """g_key_file_get_boolean: exactly ``true``/``1`` or ``false``/``0`` (trailing space ok)."""
        value = entry.raw.rstrip(_GLIB_SPACE)
        if value in ("true", "1"):
            return True
        if value in ("false", "0"):
            return False
        raise ConfigError(
            self.path,
            f"{entry.key}={entry.raw!r} is not a boolean",
            line=entry.line,
            expected="1, 0, true or false (lower case)",
            hint=f"GLib's key files know no yes/no/on/off: write {entry.key}=1 or {entry.key}=0",
        )

    def string_list(self, entry: KeyFileEntry) -> list[str]:
        """g_key_file_get_string_list: ``;``-separated, ``\\;`` escapes it, a trailing ``;`` is fine."""
        pieces: list[str] = []
        current: list[str] = []
        chars = iter(entry.raw)
        for ch in chars:
            if ch == "\\":
                current.append(self._escape_char(entry, next(chars, ""), in_list=True))
            elif ch == ";":
                pieces.append("".join(current))
                current = []
            else:
                current.append(ch)
        if current:
            pieces.append("".join(current))
        return pieces

    def double_list(self, entry: KeyFileEntry) -> list[float]:
        """g_key_file_get_double_list: every item must be a whole number text (g_ascii_strtod)."""
        values = []
        for item in self.string_list(entry):
            if not _DOUBLE_RE.fullmatch(item):
                raise ConfigError(
                    self.path,
                    f"{entry.key}: {item!r} is not a number",
                    line=entry.line,
                    expected="numbers separated by ';' without spaces after them",
                    hint="GLib reads each item as a C double: digits, '.', an exponent; no units or spaces",
                )
            values.append(float(item))
        return values

    def _unescape(self, entry: KeyFileEntry, raw: str, *, in_list: bool) -> str:
        out: list[str] = []
        chars = iter(raw)
        for ch in chars:
            out.append(self._escape_char(entry, next(chars, ""), in_list=in_list) if ch == "\\" else ch)
        return "".join(out)

    def _escape_char(self, entry: KeyFileEntry, ch: str, *, in_list: bool) -> str:
        simple = {"s": " ", "n": "\n", "t": "\t", "r": "\r", "\\": "\\"}
        if ch in simple:
            return simple[ch]
        if in_list and ch == ";":
            return ";"
        what = "an escape character at the end of the line" if not ch else f"the invalid escape '\\{ch}'"
        raise ConfigError(
            self.path,
            f"{entry.key} contains {what}",
            line=entry.line,
            hint="GKeyFile knows \\s \\n \\t \\r \\\\ (and \\; in lists); write a backslash as \\\\",
        )


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """``"did you mean 'x'?"`` for the closest candidate, else the list of candidates."""
    options = list(candidates)
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if close:
        return f"did you mean {close[0]!r}?"
    return "known: " + ", ".join(options)


# -- the msgconv config -----------------------------------------------------------------------


@dataclass(frozen=True)
class SensorConfig:
    """A ``[sensorN]`` group (NvDsSensorObject). Omitted keys stay empty / zero, as upstream."""

    id: str = ""
    type: str = ""
    description: str = ""
    location: tuple[float, float, float] = (0.0, 0.0, 0.0)
    coordinate: tuple[float, float, float] = (0.0, 0.0, 0.0)
    line: int = 0


@dataclass(frozen=True)
class PlaceConfig:
    """A ``[placeN]`` group (NvDsPlaceObject); ``sub_field1..3`` are ``place-sub-field1..3``."""

    id: str = ""
    name: str = ""
    type: str = ""
    location: tuple[float, float, float] = (0.0, 0.0, 0.0)
    coordinate: tuple[float, float, float] = (0.0, 0.0, 0.0)
    sub_field1: str = ""
    sub_field2: str = ""
    sub_field3: str = ""
    line: int = 0


@dataclass(frozen=True)
class AnalyticsConfig:
    """An ``[analyticsN]`` group (NvDsAnalyticsObject)."""

    id: str = ""
    description: str = ""
    source: str = ""
    version: str = ""
    line: int = 0


@dataclass
class MsgConvConfig:
    """The static sensor / place / analytics descriptions, keyed by the N of their group name.

    ``disabled`` lists groups present but not enabled (DeepStream skips them silently; the
    emulation remembers them to explain a failed lookup).
    """

    path: str
    sensors: dict[int, SensorConfig] = field(default_factory=dict)
    places: dict[int, PlaceConfig] = field(default_factory=dict)
    analytics: dict[int, AnalyticsConfig] = field(default_factory=dict)
    disabled: dict[str, int] = field(default_factory=dict)

    def sensor_id(self, index: int) -> str | None:
        """``[sensor<index>] id`` — what the minimal schema's ``sensorId`` shows for ``sensorId``."""
        sensor = self.sensors.get(index)
        return sensor.id if sensor is not None else None


_GROUP_KINDS = ("sensor", "place", "analytics")
_KEYS: dict[str, tuple[str, ...]] = {
    "sensor": ("enable", "id", "type", "description", "location", "coordinate"),
    "place": (
        "enable",
        "id",
        "type",
        "name",
        "location",
        "coordinate",
        "place-sub-field1",
        "place-sub-field2",
        "place-sub-field3",
    ),
    "analytics": ("enable", "id", "description", "source", "version"),
}
_TRIPLE_SHAPE = {"location": "lat;lon;alt", "coordinate": "x;y;z"}
_PLACE_FIELDS = {
    "place-sub-field1": "sub_field1",
    "place-sub-field2": "sub_field2",
    "place-sub-field3": "sub_field3",
}


def load_msgconv_config(path: str | Path) -> MsgConvConfig:
    """Parse an nvmsgconv ``config``: a GLib key file, or YAML when the name ends in .yml/.yaml.

    nvmsgconv.cpp nvds_msg2p_ctx_create picks the parser by suffix the same way (``.csv`` is a
    third, legacy format the emulation does not read).
    """
    text_path = str(path)
    if text_path.endswith(".csv"):
        raise ConfigError(
            path,
            "CSV msgconv configs are not supported",
            hint="describe the sensors in a key file ([sensor0] …) or YAML (sensor0: …)",
        )
    if text_path.endswith((".yml", ".yaml")):
        return _load_yaml(Path(path))
    return _load_key_file(Path(path))


def _group_kind(path: str | Path, name: str, line: int) -> tuple[str, int] | None:
    """``sensor3`` → ("sensor", 3); None for the YAML-only ds3d::datamap group.

    deepstream_schema.cpp matches the prefix with strncmp and the number with sscanf("%u"); the
    emulation wants exactly ``<kind><digits>``.
    """
    if name.startswith("ds3d::datamap"):
        return None
    for kind in _GROUP_KINDS:
        if name.startswith(kind):
            digits = name[len(kind) :]
            if digits.isdigit() and digits.isascii():
                return kind, int(digits)
            raise ConfigError(
                path,
                f"group name {name!r} has no number after {kind!r}",
                line=line,
                expected=f"{kind}<N>, e.g. {kind}0",
                hint=f"number the group: {kind}0 is what sensor-id / place-id 0 of an event refers to",
            )
    stem = name.rstrip("0123456789")
    suffix = name[len(stem) :] or "0"
    close = difflib.get_close_matches(stem.lower(), _GROUP_KINDS, n=1, cutoff=0.6)
    hint = (
        f"did you mean {close[0]}{suffix}?" if close else "nvmsgconv reads [sensorN], [placeN], [analyticsN]"
    )
    raise ConfigError(path, f"unknown group {name!r}", line=line, hint=hint)


def _check_key(path: str | Path, kind: str, group: str, key: str, line: int) -> None:
    if key not in _KEYS[kind]:
        raise ConfigError(
            path,
            f"unknown key {key!r} in [{group}]",
            line=line,
            hint=did_you_mean(key, _KEYS[kind]) + f" ([{kind}N] keys: {', '.join(_KEYS[kind])})",
        )


def _triple(path: str | Path, key: str, values: list[float], line: int) -> tuple[float, float, float]:
    """Three numbers; a location's latitude and longitude within the globe.

    nvmsgconv copies them into the payload unchecked, so a latitude of 991 reaches every
    consumer of the messages; the emulation refuses it where it is written.
    """
    if len(values) != 3:
        raise ConfigError(
            path,
            f"{key} has {len(values)} value{'s' if len(values) != 1 else ''}",
            line=line,
            expected=f"3 numbers {_TRIPLE_SHAPE[key]}",
            hint="separate the numbers with ';', e.g. "
            + ("1.2966;103.8764;25.0" if key == "location" else "0;0;0"),
        )
    if not all(math.isfinite(v) for v in values):
        raise ConfigError(
            path,
            f"{key} {';'.join(map(str, values))} is not three finite numbers",
            line=line,
            expected=f"3 numbers {_TRIPLE_SHAPE[key]}",
            hint="nan and inf cannot be written in the JSON payloads",
        )
    if key == "location":
        lat, lon, _ = values
        for name, value, limit in (("latitude", lat, 90), ("longitude", lon, 180)):
            if not -limit <= value <= limit:
                raise ConfigError(
                    path,
                    f"location: {name} {value:g} is outside -{limit}..{limit}",
                    line=line,
                    expected="lat;lon;alt in degrees (latitude -90..90, longitude -180..180) and metres",
                    hint="the order is latitude;longitude;altitude (a swapped or mistyped value)",
                )
    return values[0], values[1], values[2]


def _build(kind: str, fields_: dict[str, Any], line: int) -> SensorConfig | PlaceConfig | AnalyticsConfig:
    if kind == "sensor":
        return SensorConfig(line=line, **fields_)
    if kind == "place":
        return PlaceConfig(line=line, **{_PLACE_FIELDS.get(k, k): v for k, v in fields_.items()})
    return AnalyticsConfig(line=line, **fields_)


def _store(
    config: MsgConvConfig,
    seen: dict[tuple[str, int], str],
    kind: str,
    index: int,
    name: str,
    line: int,
    item: SensorConfig | PlaceConfig | AnalyticsConfig | None,
) -> None:
    if (kind, index) in seen:
        # e.g. [sensor0] and [sensor00]: DeepStream fails with "Duplicate entries for sensor00".
        raise ConfigError(
            config.path,
            f"[{name}] describes {kind} {index} again (see [{seen[kind, index]}])",
            line=line,
            hint=f"keep one group per {kind} number ({kind}0 and {kind}00 are the same); DeepStream "
            "fails on the duplicate",
        )
    seen[kind, index] = name
    if item is None:
        config.disabled[name] = index
    elif kind == "sensor":
        config.sensors[index] = item  # type: ignore[assignment]
    elif kind == "place":
        config.places[index] = item  # type: ignore[assignment]
    else:
        config.analytics[index] = item  # type: ignore[assignment]


def _load_key_file(path: Path) -> MsgConvConfig:
    key_file = KeyFile.load(path)
    config = MsgConvConfig(path=str(path))
    seen: dict[tuple[str, int], str] = {}
    for name, group in key_file.groups.items():
        kind_index = _group_kind(path, name, group.line)
        if kind_index is None:
            raise ConfigError(
                path,
                f"unknown group {name!r}",
                line=group.line,
                hint="nvmsgconv reads [sensorN], [placeN] and [analyticsN] groups",
            )
        kind, index = kind_index
        for entry in group.entries:
            _check_key(path, kind, name, entry.key, entry.line)
        enable = group.get("enable")
        # deepstream_schema.cpp: g_key_file_get_boolean failing (no key) reads as "not enabled".
        if enable is None or not key_file.boolean(enable):
            if enable is None:
                log.warning("%s:%d: [%s] has no enable=1 and is ignored", path, group.line, name)
            _store(config, seen, kind, index, name, group.line, None)
            continue
        values: dict[str, Any] = {}
        for key in group.key_names():
            if key == "enable":
                continue
            entry = group.get(key)
            assert entry is not None
            if key in _TRIPLE_SHAPE:
                values[key] = _triple(path, key, key_file.double_list(entry), entry.line)
            else:
                values[key] = key_file.string(entry)
        _store(config, seen, kind, index, name, group.line, _build(kind, values, group.line))
    return config


def _load_yaml(path: Path) -> MsgConvConfig:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError
    from ruamel.yaml.nodes import MappingNode, ScalarNode

    from harness.yamldoc import YAML_SYNTAX_HINT, YamlLimitError, check_yaml

    text = read_config_text(path, "file", missing="file does not exist")
    try:
        # compose() keeps each scalar's text as written: yaml-cpp's as<std::string>() also returns
        # the text ("1.10" stays "1.10", "007" stays "007").
        check_yaml(text)
        root = YAML(typ="rt").compose(text)
    except YamlLimitError as err:
        raise ConfigError(path, err.problem, line=err.line, hint=err.hint) from None
    except MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        raise ConfigError(
            path,
            f"not valid YAML: {err.problem}",
            line=mark.line + 1 if mark else 0,
            hint=YAML_SYNTAX_HINT,
        ) from None
    except YAMLError as err:
        raise ConfigError(path, f"not valid YAML: {err}", hint=YAML_SYNTAX_HINT) from None
    config = MsgConvConfig(path=str(path))
    seen_index: dict[tuple[str, int], str] = {}
    if root is None:
        return config
    if not isinstance(root, MappingNode):
        raise ConfigError(
            path,
            "the top level must be a mapping of groups",
            line=root.start_mark.line + 1,
            hint="write groups such as 'sensor0:' at the start of a line, their keys indented below",
        )
    seen: set[str] = set()
    for key_node, group_node in root.value:
        name = str(key_node.value)
        line = key_node.start_mark.line + 1
        if name in seen:
            raise ConfigError(
                path, f"group {name!r} appears twice", line=line, hint="merge the two or renumber one"
            )
        seen.add(name)
        kind_index = _group_kind(path, name, line)
        if kind_index is None:
            continue  # ds3d::datamap: lidar fusion settings, nothing the video payloads use
        kind, index = kind_index
        if not isinstance(group_node, MappingNode):
            raise ConfigError(
                path,
                f"{name} must be a mapping of keys",
                line=line,
                hint=f"indent its keys under '{name}:', e.g. '  enable: 1'",
            )
        entries: dict[str, tuple[str, int]] = {}
        for k_node, v_node in group_node.value:
            key = str(k_node.value)
            key_line = k_node.start_mark.line + 1
            _check_key(path, kind, name, key, key_line)
            if key in entries:
                raise ConfigError(
                    path, f"key {key!r} appears twice in {name}", line=key_line, hint="keep one of them"
                )
            if not isinstance(v_node, ScalarNode):
                raise ConfigError(
                    path,
                    f"{name}.{key} must be a single value",
                    line=key_line,
                    hint="write it on one line; lists are 'a;b;c' text, as in the key-file format",
                )
            entries[key] = (str(v_node.value), key_line)
        enable = entries.pop("enable", None)
        # deepstream_schema.cpp reads enable with as<gboolean>() (an int): 1 enables, 0 or no key
        # disables, "true" makes yaml-cpp throw.
        if enable is not None and not re.fullmatch(r"[+-]?\d+", enable[0]):
            raise ConfigError(
                path,
                f"{name}.enable: {enable[0]!r} is not an integer",
                line=enable[1],
                expected="1 or 0",
                hint="DeepStream reads enable as a number (yaml-cpp throws on true/yes): write 1 or 0",
            )
        if enable is None or int(enable[0]) == 0:
            if enable is None:
                log.warning("%s:%d: %s has no 'enable: 1' and is ignored", path, line, name)
            _store(config, seen_index, kind, index, name, line, None)
            continue
        values: dict[str, Any] = {}
        for key, (text_value, key_line) in entries.items():
            if key in _TRIPLE_SHAPE:
                items = text_value.split(";")
                numbers = []
                for item in items:
                    if not _DOUBLE_RE.fullmatch(item.rstrip()):
                        raise ConfigError(
                            path,
                            f"{name}.{key}: {item!r} is not a number",
                            line=key_line,
                            expected=f"3 numbers {_TRIPLE_SHAPE[key]}",
                            hint="separate the three numbers with ';', no units or spaces",
                        )
                    numbers.append(float(item))
                values[key] = _triple(path, key, numbers, key_line)
            else:
                values[key] = text_value
        _store(config, seen_index, kind, index, name, line, _build(kind, values, line))
    return config


# -- the converter ----------------------------------------------------------------------------

_EVENT_NAMES = {
    EventType.ENTRY: "entry",
    EventType.EXIT: "exit",
    EventType.MOVING: "moving",
    EventType.STOPPED: "stopped",
    EventType.PARKED: "parked",
    EventType.EMPTY: "empty",
    EventType.RESET: "reset",
}

# eventmsg_payload.cpp object_enum_to_str: the *_EXT types fall through to "Unknown".
_MINIMAL_TYPE_NAMES = {
    ObjectType.VEHICLE: "Vehicle",
    ObjectType.FACE: "Face",
    ObjectType.PERSON: "Person",
    ObjectType.BAG: "Bag",
    ObjectType.BICYCLE: "Bicycle",
    ObjectType.ROADSIGN: "RoadSign",
    ObjectType.CUSTOM: "Custom",
    ObjectType.PRODUCT: "Product",
}


def _s(value: str | None) -> str:
    """eventmsg_payload.cpp to_str: NULL → ""."""
    return "" if value is None else value


class NvMsgConv:
    """The nvmsgconv element: events (or, with ``msg2p_newapi``, objects) → payloads.

    ``payload_type`` 0 is the full DeepStream schema — one JSON document per event — and needs
    ``config_path``; 1 is the minimal schema — one JSON document per frame — for which the config
    is optional (without it, ``sensorId`` is ``"0"`` unless an event carries ``sensorStr``).
    ``comp_id`` ≠ 0 converts only events whose ``componentId`` matches and stamps the payloads
    with it. ``msg2p_newapi`` builds payloads from ``frame.objects`` every ``frame_interval``-th
    frame instead of from events. ``dummy_payload`` sends a minimal payload with no objects for
    frames without events.

    ``strict`` (default) turns DeepStream's "No entry for sensorN in configuration file" — after
    which it sends ``"sensor" : null`` — into a :class:`ConfigError`; ``strict=False`` sends the
    null and logs the upstream message. ``clock`` (ns since the epoch) is the wall clock of the
    new API's timestamps; ``uuid_factory`` makes message and event ids (both injectable for tests).
    """

    def __init__(
        self,
        config_path: str | Path | None = None,
        payload_type: PayloadType | int = PayloadType.DEEPSTREAM,
        *,
        msg2p_newapi: bool = False,
        frame_interval: int = DEFAULT_FRAME_INTERVAL,
        comp_id: int = 0,
        dummy_payload: bool = False,
        strict: bool = True,
        clock: Callable[[], int] = time.time_ns,
        uuid_factory: Callable[[], str] | None = None,
    ) -> None:
        try:
            self.payload_type = PayloadType(int(payload_type))
        except ValueError:
            raise MsgConvError(
                f"nvmsgconv: unknown payload-type {payload_type!r}",
                hint="0 = full DeepStream schema, 1 = minimal schema",
            ) from None
        if self.payload_type not in (PayloadType.DEEPSTREAM, PayloadType.DEEPSTREAM_MINIMAL):
            raise MsgConvError(
                f"nvmsgconv: payload-type {int(self.payload_type)} ({self.payload_type.name}) "
                "is not emulated",
                hint="use payload-type 0 (full JSON schema) or 1 (minimal JSON schema)",
            )
        if frame_interval < 1:
            raise MsgConvError(
                f"nvmsgconv: frame-interval must be ≥ 1, not {frame_interval}",
                hint="frame-interval=N sends the payload of every Nth frame; 1 sends all",
            )
        if comp_id < 0:
            raise MsgConvError(
                f"nvmsgconv: comp-id must be ≥ 0, not {comp_id}",
                hint="comp-id is the component id nvmsgbroker filters on; 0 is the default",
            )
        if config_path is None and self.payload_type == PayloadType.DEEPSTREAM:
            # nvmsgconv.cpp nvds_msg2p_ctx_create: g_return_val_if_fail (file, NULL) → "unable to
            # create instance" and the element fails to start.
            raise MsgConvError(
                "nvmsgconv: payload-type 0 (full schema) needs a config file",
                hint="set config to a file with [sensor0], [place0] and [analytics0] groups "
                "(see scenarios/traffic/app/msgconv_config.txt)",
            )
        self.config = load_msgconv_config(config_path) if config_path is not None else None
        self.msg2p_newapi = msg2p_newapi
        self.frame_interval = frame_interval
        self.comp_id = comp_id
        self.dummy_payload = dummy_payload
        self.strict = strict
        self._clock = clock
        self._uuid = uuid_factory or (lambda: str(uuid.uuid4()))

    # -- public ------------------------------------------------------------------------------
    def convert(self, frame: FrameMeta, events: Sequence[EventMsg] | None = None) -> list[Payload]:
        """The payloads nvmsgconv attaches to ``frame``.

        ``events`` default to the frame's NVDS_EVENT_MSG_META user metas (:func:`frame_events`:
        where a DeepStream probe attaches them). With ``msg2p_newapi`` events are ignored.
        """
        if self.msg2p_newapi:
            return [self._payload(text) for text in self._convert_new_api(frame)]
        if events is None:
            events = frame_events(frame)
        selected = [e for e in events if not self.comp_id or e.componentId == self.comp_id]
        if self.payload_type == PayloadType.DEEPSTREAM:
            return [self._payload(self._full(e, frame)) for e in selected]
        if selected:
            return [self._payload(self._minimal(selected, frame))]
        if self.dummy_payload:
            # gstnvmsgconv.cpp: a zero-filled event with the frame's number, source and capture
            # time stands in; with no events the objects array stays empty.
            dummy = EventMsg(frameId=frame.frame_num, sensorId=frame.source_id, ts=frame.ntp_timestamp)
            return [self._payload(self._minimal([], frame, header=dummy))]
        return []

    def _payload(self, text: str) -> Payload:
        return Payload(text.encode("utf-8"), self.comp_id)

    # -- config lookups ----------------------------------------------------------------------
    def _lookup(self, kind: str, index: int, *, source: str = "", null_as: str = "") -> Any:
        """The config group ``[<kind><index>]``; ``source`` and ``null_as`` word the error."""
        config = self.config
        table: dict[int, Any] = {}
        if config is not None:
            table = {"sensor": config.sensors, "place": config.places, "analytics": config.analytics}[kind]
        found = table.get(index)
        if found is None:
            if self.strict and config is not None:
                defined = ", ".join(f"[{kind}{i}]" for i in sorted(table)) or "none"
                disabled = [
                    name for name, i in config.disabled.items() if i == index and name.startswith(kind)
                ]
                hint = (
                    f"[{disabled[0]}] is there but not enabled: add enable=1"
                    if disabled
                    else f"add a [{kind}{index}] group with enable=1 (enabled {kind} groups: {defined})"
                )
                field_name = {"sensor": "sensorId", "place": "placeId", "analytics": "moduleId"}[kind]
                source = source or f"an event has {field_name} {index}"
                null_as = null_as or f'"{_JSON_MEMBER[kind]}" : null'
                raise ConfigError(
                    config.path,
                    f"{source} but there is no enabled [{kind}{index}] group "
                    f"(DeepStream would send {null_as})",
                    hint=hint,
                )
            # eventmsg_payload.cpp prints this and leaves the member null.
            log.warning("No entry for %s%d in configuration file", kind, index)
        return found

    # -- payload type 0 ----------------------------------------------------------------------
    def _full(self, event: EventMsg, frame: FrameMeta) -> str:
        """eventmsg_payload.cpp generate_event_message: one document per event."""
        message_id = self._uuid()
        place = self._place(event)
        sensor = self._sensor(self._lookup("sensor", event.sensorId))
        analytics = self._analytics(self._lookup("analytics", event.moduleId))
        obj = self._object(event)
        event_obj: dict[str, Any] = {"id": self._uuid()}
        if event.type in _EVENT_NAMES:
            event_obj["type"] = _EVENT_NAMES[event.type]
        else:
            log.warning("Unknown event type")
        root = {
            "messageid": message_id,
            "mdsversion": "1.0",
            "@timestamp": _event_ts(event, frame),
            "place": place,
            "sensor": sensor,
            "analyticsModule": analytics,
            "object": obj,
            "event": event_obj,
            "videoPath": _s(event.videoPath),
        }
        return glib_json(root)

    def _place(self, event: EventMsg) -> dict[str, Any] | None:
        place: PlaceConfig | None = self._lookup("place", event.placeId)
        if place is None:
            return None
        out: dict[str, Any] = {
            "id": place.id,
            "name": place.name,
            "type": place.type,
            "location": _lat_lon_alt(place.location),
        }
        f1, f2, f3 = place.sub_field1, place.sub_field2, place.sub_field3
        sub: dict[str, Any]
        if event.type in (EventType.MOVING, EventType.STOPPED):
            sub, name = {"id": f1, "name": f2, "level": f3}, "aisle"
        elif event.type in (EventType.EMPTY, EventType.PARKED):
            sub, name = {"id": f1, "type": f2, "level": f3}, "parkingSpot"
        elif event.type in (EventType.ENTRY, EventType.EXIT):
            # Only plain VEHICLE (not VEHICLE_EXT) gets an aisle, as upstream.
            if event.objType == ObjectType.VEHICLE:
                sub, name = {"id": f1, "name": f2, "level": f3}, "aisle"
            else:
                sub, name = {"name": f1, "lane": f2, "level": f3}, "entrance"
        else:
            # "Event type not implemented": the sub object is built but never attached.
            return out
        sub["coordinate"] = _xyz(place.coordinate)
        out[name] = sub
        return out

    @staticmethod
    def _sensor(sensor: SensorConfig | None) -> dict[str, Any] | None:
        if sensor is None:
            return None
        return {
            "id": sensor.id,
            "type": sensor.type,
            "description": sensor.description,
            "location": _lat_lon_alt(sensor.location),
            "coordinate": _xyz(sensor.coordinate),
        }

    @staticmethod
    def _analytics(analytics: AnalyticsConfig | None) -> dict[str, Any] | None:
        if analytics is None:
            return None
        return {
            "id": analytics.id,
            "description": analytics.description,
            "source": analytics.source,
            "version": analytics.version,
        }

    def _object(self, event: EventMsg) -> dict[str, Any]:
        obj: dict[str, Any] = {
            "id": str(event.trackingId & _UINT64_MASK),  # "%lu" of the guint64
            "speed": 0.0,
            "direction": 0.0,
            "orientation": 0.0,
        }
        ext = event.extMsg
        kind = event.objType
        confidence = float(event.confidence)
        if kind in (ObjectType.VEHICLE, ObjectType.VEHICLE_EXT):
            v = ext if isinstance(ext, VehicleObject) else None
            obj["vehicle"] = {
                "type": v.type if v else "",
                "make": v.make if v else "",
                "model": v.model if v else "",
                "color": v.color if v else "",
                "licenseState": v.region if v else "",
                "license": v.license if v else "",
                "confidence": confidence if v else 1.0,
            }
        elif kind in (ObjectType.PERSON, ObjectType.PERSON_EXT):
            p = ext if isinstance(ext, PersonObject) else None
            obj["person"] = {
                "age": int(p.age) if p else 0,
                "gender": p.gender if p else "",
                "hair": p.hair if p else "",
                "cap": p.cap if p else "",
                "apparel": p.apparel if p else "",
                "confidence": confidence if p else 1.0,
            }
        elif kind in (ObjectType.FACE, ObjectType.FACE_EXT):
            f = ext if isinstance(ext, FaceObject) else None
            obj["face"] = {
                "age": int(f.age) if f else 0,
                "gender": f.gender if f else "",
                "hair": f.hair if f else "",
                "cap": f.cap if f else "",
                "glasses": f.glasses if f else "",
                "facialhair": f.facialhair if f else "",
                "name": f.name if f else "",
                "eyecolor": f.eyecolor if f else "",
                "confidence": confidence if f else 1.0,
            }
        elif kind in (ObjectType.PRODUCT, ObjectType.PRODUCT_EXT):
            pr = ext if isinstance(ext, ProductObject) else None
            obj["product"] = {
                "brand": pr.brand if pr else "",
                "type": pr.type if pr else "",
                "shape": pr.shape if pr else "",
            }
        elif kind == ObjectType.UNKNOWN:
            if event.objectId is not None:
                obj[event.objectId] = {}
        else:
            log.warning("Object type not implemented")
        obj["bbox"] = _bbox_ints(event.bbox.left, event.bbox.top, event.bbox.width, event.bbox.height)
        if event.objSignature:
            obj["signature"] = [float(v) for v in event.objSignature]
        obj["location"] = _lat_lon_alt((event.location.lat, event.location.lon, event.location.alt))
        obj["coordinate"] = _xyz((event.coordinate.x, event.coordinate.y, event.coordinate.z))
        obj["pose"] = {}  # always present; joints only when the event carries a pose
        return obj

    # -- payload type 1 ----------------------------------------------------------------------
    def _minimal(self, events: Sequence[EventMsg], frame: FrameMeta, header: EventMsg | None = None) -> str:
        """eventmsg_payload.cpp generate_event_message_minimal: one document per frame.

        Frame id, timestamp and sensor come from the first event ("all events are associated
        with the same frame"), or from ``header`` for a dummy payload.
        """
        objects = [self._minimal_object(e) for e in events]
        first = header if header is not None else events[0]
        if first.sensorStr is not None:
            sensor_id = first.sensorStr
        elif self.config is not None:
            sensor = self._lookup("sensor", first.sensorId, null_as='"sensorId" : ""')
            sensor_id = sensor.id if sensor is not None else ""
        else:
            sensor_id = "0"
        root = {
            "version": "4.0",
            "id": str(first.frameId),
            "@timestamp": _event_ts(first, frame),
            "sensorId": sensor_id,
            "objects": objects,
        }
        return glib_json(root)

    @staticmethod
    def _minimal_object(event: EventMsg) -> str:
        kind = event.objType
        if kind == ObjectType.DUMMY:
            return ""
        left, top = np.float32(event.bbox.left), np.float32(event.bbox.top)
        right = left + np.float32(event.bbox.width)  # float + float in C: float32
        bottom = top + np.float32(event.bbox.height)
        if kind == ObjectType.UNKNOWN:
            type_name = event.objectId if event.objectId is not None else "Unknown"
        else:
            type_name = _MINIMAL_TYPE_NAMES.get(kind, "Unknown")
        parts = [
            str(event.trackingId & _UINT64_MASK),
            _g(float(left)),
            _g(float(top)),
            _g(float(right)),
            _g(float(bottom)),
            type_name,
        ]
        text = "|".join(parts)
        ext = event.extMsg
        if ext is None:
            text += "|#||||||"
        elif isinstance(ext, VehicleObject) and kind in (ObjectType.VEHICLE, ObjectType.VEHICLE_EXT):
            fields_ = (ext.type, ext.make, ext.model, ext.color, ext.license, ext.region)
            text += "|#|" + "|".join(_s(v) for v in fields_)
        elif isinstance(ext, PersonObject) and kind in (ObjectType.PERSON, ObjectType.PERSON_EXT):
            text += f"|#|{_s(ext.gender)}|{int(ext.age)}|{_s(ext.hair)}|{_s(ext.cap)}|{_s(ext.apparel)}"
        elif isinstance(ext, FaceObject) and kind in (ObjectType.FACE, ObjectType.FACE_EXT):
            # Upstream writes an empty field between name and eyecolor ("<< "|" << "|""): kept.
            text += (
                f"|#|{_s(ext.gender)}|{int(ext.age)}|{_s(ext.hair)}|{_s(ext.cap)}|{_s(ext.glasses)}"
                f"|{_s(ext.facialhair)}|{_s(ext.name)}||{_s(ext.eyecolor)}"
            )
        elif isinstance(ext, ProductObject) and kind in (ObjectType.PRODUCT, ObjectType.PRODUCT_EXT):
            text += f"|#|{_s(ext.brand)}|{_s(ext.type)}|{_s(ext.shape)}"
        else:
            log.warning("Object type (%d) not implemented", int(kind))
        return f"{text}|{_g(float(event.confidence))}"

    # -- msg2p-newapi ------------------------------------------------------------------------
    def _convert_new_api(self, frame: FrameMeta) -> list[str]:
        """gstnvmsgconv.cpp with msg2p-newapi: payloads from the frame's objects (dsmeta_payload.cpp)."""
        if self.frame_interval and frame.frame_num % self.frame_interval:
            return []
        if self.payload_type == PayloadType.DEEPSTREAM_MINIMAL:
            return [self._dsmeta_minimal(frame)]
        return [self._dsmeta_full(frame, obj) for obj in frame.objects]

    def _now(self) -> str:
        # dsmeta_payload.cpp stamps the conversion time (generate_ts_rfc3339), not the capture time.
        return format_rfc3339_ms(self._clock())

    def _dsmeta_full(self, frame: FrameMeta, obj: ObjectMeta) -> str:
        message_id = self._uuid()
        source = f"frame source_id {frame.source_id} (msg2p-newapi looks every group up by it)"
        place: PlaceConfig | None = self._lookup("place", frame.source_id, source=source)
        place_obj: dict[str, Any] | None = None
        if place is not None:
            place_obj = {
                "id": place.id,
                "name": place.name,
                "type": place.type,
                "location": _lat_lon_alt(place.location),
                "place-sub-field": {
                    "id": place.sub_field1,
                    "name": place.sub_field2,
                    "level": place.sub_field3,
                    "coordinate": _xyz(place.coordinate),
                },
            }
        sensor = self._sensor(self._lookup("sensor", frame.source_id, source=source))
        analytics = self._analytics(self._lookup("analytics", frame.source_id, source=source))
        # The scale factors of dsmeta_payload.cpp are `(float)w / (pw == 0) ? 1 : pw`, which
        # C parses as `((float)w / (pw == 0)) ? 1 : pw` — 1 for every real frame: boxes stay in
        # muxer pixels.
        obj_out: dict[str, Any] = {
            "id": str(obj.object_id & _UINT64_MASK),
            "speed": 0.0,
            "direction": 0.0,
            "orientation": 0.0,
            obj.obj_label: {"confidence": _f32(obj.confidence)},
            "bbox": _bbox_ints(obj.left, obj.top, obj.width, obj.height),
            "location": {},
            "coordinate": {},
        }
        root = {
            "messageid": message_id,
            "mdsversion": "1.0",
            "@timestamp": self._now(),
            "place": place_obj,
            "sensor": sensor,
            "analyticsModule": analytics,
            "object": obj_out,
            "event": {"id": self._uuid(), "type": ""},
            "videoPath": "",
        }
        return glib_json(root)

    def _dsmeta_minimal(self, frame: FrameMeta) -> str:
        objects = []
        for obj in frame.objects:
            left, top = np.float32(obj.left), np.float32(obj.top)
            right = left + np.float32(obj.width)
            bottom = top + np.float32(obj.height)
            # No classifier metadata in the emulation, so no "|#|labels|confidence" tail (upstream
            # appends the confidence only after classifier labels).
            objects.append(
                f"{obj.object_id & _UINT64_MASK}|{_g(float(left))}|{_g(float(top))}|{_g(float(right))}"
                f"|{_g(float(bottom))}|{obj.obj_label}"
            )
        sensor_id = "0"
        if self.config is not None:
            sensor = self.config.sensors.get(frame.source_id)
            if sensor is not None:
                sensor_id = sensor.id
            elif self.strict:
                self._lookup(
                    "sensor",
                    frame.source_id,
                    source=f"frame source_id {frame.source_id}",
                    null_as='"sensorId" : "0"',
                )
        root = {
            "version": "4.0",
            "id": str(frame.frame_num),
            "@timestamp": self._now(),
            "sensorId": sensor_id,
            "objects": objects,
        }
        return glib_json(root)


_JSON_MEMBER = {"sensor": "sensor", "place": "place", "analytics": "analyticsModule"}


def _lat_lon_alt(values: Sequence[float]) -> dict[str, float]:
    return {"lat": float(values[0]), "lon": float(values[1]), "alt": float(values[2])}


def _xyz(values: Sequence[float]) -> dict[str, float]:
    return {"x": float(values[0]), "y": float(values[1]), "z": float(values[2])}


def _bbox_ints(left: float, top: float, width: float, height: float) -> dict[str, int]:
    """json_object_set_int_member of C floats: float32 sums, truncated toward zero."""
    l32, t32 = np.float32(left), np.float32(top)
    r32, b32 = l32 + np.float32(width), t32 + np.float32(height)
    values = (l32, t32, r32, b32)
    if not all(math.isfinite(float(v)) for v in values):
        raise ValueError(f"bbox has a non-finite coordinate: {[float(v) for v in values]}")
    return {
        "topleftx": int(l32),
        "toplefty": int(t32),
        "bottomrightx": int(r32),
        "bottomrighty": int(b32),
    }
