"""Event messages for nvmsgconv (nvdsmeta_schema.h): NvDsEventMsgMeta and what hangs off it.

An app attaches an ``NvDsEventMsgMeta`` to a frame as a user meta of type
``NVDS_EVENT_MSG_META``; nvmsgconv turns each into a payload. The strings are C strings owned by
the meta: ``ts`` is a raw buffer address (``pyds.alloc_buffer`` +
``pyds.generate_ts_rfc3339``), ``sensorStr``/``objectId``/``otherAttrs``/``videoPath`` and the
strings of a vehicle/person/face object read as addresses and allocate on assignment.
``extMsg`` points at an ``NvDsVehicleObject``/``NvDsPersonObject``/… and ``extMsgSize`` says
one is there.

:func:`copy_event_msg_meta` and :func:`release_event_msg_meta` are what pyds installs on the
user meta with ``alloc_nvds_event_msg_meta(user_meta)`` (bindings/src/bindschema.cpp): a deep
copy of the strings and of a vehicle or person object, and freeing them.
"""

from __future__ import annotations

from typing import Any

from fake_device.deepstream import cmemory
from fake_device.deepstream.cstruct import (
    Buffer,
    CEnum,
    CString,
    Embedded,
    Enum,
    Float,
    Int,
    Plain,
    Struct,
    VoidPointer,
)


class NvDsEventType(CEnum):
    NVDS_EVENT_ENTRY = 0
    NVDS_EVENT_EXIT = 1
    NVDS_EVENT_MOVING = 2
    NVDS_EVENT_STOPPED = 3
    NVDS_EVENT_EMPTY = 4
    NVDS_EVENT_PARKED = 5
    NVDS_EVENT_RESET = 6
    NVDS_EVENT_RESERVED = 0x100
    NVDS_EVENT_CUSTOM = 0x101
    NVDS_EVENT_FORCE32 = 0x7FFFFFFF


class NvDsObjectType(CEnum):
    NVDS_OBJECT_TYPE_VEHICLE = 0
    NVDS_OBJECT_TYPE_PERSON = 1
    NVDS_OBJECT_TYPE_FACE = 2
    NVDS_OBJECT_TYPE_BAG = 3
    NVDS_OBJECT_TYPE_BICYCLE = 4
    NVDS_OBJECT_TYPE_ROADSIGN = 5
    NVDS_OBJECT_TYPE_VEHICLE_EXT = 6
    NVDS_OBJECT_TYPE_PERSON_EXT = 7
    NVDS_OBJECT_TYPE_FACE_EXT = 8
    NVDS_OBJECT_TYPE_3D = 9
    NVDS_OBJECT_TYPE_DUMMY = 10
    NVDS_OBJECT_TYPE_PRODUCT = 11
    NVDS_OBJECT_TYPE_PRODUCT_EXT = 12
    NVDS_OBJECT_TYPE_RESERVED = 0x100
    NVDS_OBJECT_TYPE_CUSTOM = 0x101
    NVDS_OBJECT_TYPE_UNKNOWN = 0x102
    NVDS_OBEJCT_TYPE_FORCE32 = 0x7FFFFFFF  # sic, DeepStream's spelling


class NvDsPayloadType(CEnum):
    NVDS_PAYLOAD_DEEPSTREAM = 0
    NVDS_PAYLOAD_DEEPSTREAM_MINIMAL = 1
    NVDS_PAYLOAD_DEEPSTREAM_PROTOBUF = 2
    NVDS_PAYLOAD_RESERVED = 0x100
    NVDS_PAYLOAD_CUSTOM = 0x101
    NVDS_PAYLOAD_FORCE32 = 0x7FFFFFFF


class NvDsRect(Struct):
    top = Float()
    left = Float()
    width = Float()
    height = Float()


class NvDsGeoLocation(Struct):
    lat = Float(double=True)
    lon = Float(double=True)
    alt = Float(double=True)


class NvDsCoordinate(Struct):
    x = Float(double=True)
    y = Float(double=True)
    z = Float(double=True)


class NvDsObjectSignature(Struct):
    """``signature`` is a ``double *`` of ``size`` values; here a list of floats (or None)."""

    signature = Plain(None)
    size = Int("guint")


class NvDsVehicleObject(Struct):
    type = CString()
    make = CString()
    model = CString()
    color = CString()
    region = CString()
    license = CString()


class NvDsPersonObject(Struct):
    gender = CString()
    hair = CString()
    cap = CString()
    apparel = CString()
    age = Int("guint")


class NvDsFaceObject(Struct):
    gender = CString()
    hair = CString()
    cap = CString()
    glasses = CString()
    facialhair = CString()
    name = CString()
    eyecolor = CString()
    age = Int("guint")


class NvDsEventMsgMeta(Struct):
    """One event for nvmsgconv (the members pyds binds)."""

    nvds_meta_type = 9  # NvDsMetaType.NVDS_EVENT_MSG_META, when attached through frame.user_meta

    type = Enum(NvDsEventType)
    objType = Enum(NvDsObjectType)
    bbox = Embedded(NvDsRect)
    location = Embedded(NvDsGeoLocation)
    coordinate = Embedded(NvDsCoordinate)
    objSignature = Embedded(NvDsObjectSignature)
    objClassId = Int("gint", signed=True)
    sensorId = Int("gint", signed=True)
    moduleId = Int("gint", signed=True)
    placeId = Int("gint", signed=True)
    componentId = Int("gint", signed=True)
    frameId = Int("gint", signed=True)
    confidence = Float(double=True)
    trackingId = Int("guint64", 64)
    ts = Buffer()
    objectId = CString()
    sensorStr = CString()
    otherAttrs = CString()
    videoPath = CString()
    extMsg = VoidPointer()
    extMsgSize = Int("guint")

    _not_emulated = {  # noqa: RUF012
        "pose": "not bound by pyds",
        "embedding": "not bound by pyds",
    }


class NvDsEvent(Struct):
    eventType = Enum(NvDsEventType)
    metadata = Plain(None)


class NvDsPayload(Struct):
    """What nvmsgconv attaches for nvmsgbroker: ``payload`` (``void *``) of ``payloadSize`` bytes."""

    nvds_meta_type = 8  # NvDsMetaType.NVDS_PAYLOAD_META

    payload = VoidPointer()
    payloadSize = Int("guint")
    componentId = Int("guint")


_VEHICLE_STRINGS = ("type", "make", "model", "color", "license", "region")
_PERSON_STRINGS = ("gender", "cap", "hair", "apparel")


def _dup(address: int) -> int:
    return cmemory.strdup(address) if address else 0


def _free(address: int, what: str) -> None:
    if address:
        cmemory.free(address, what)


def copy_event_msg_meta(data: Any, user_data: Any = None) -> NvDsEventMsgMeta:
    """pyds's built-in copy callback: a new meta with its own copies of the strings and of the
    vehicle or person object (other members copied as they are, the signature shared)."""
    user_meta = data.target if isinstance(data, cmemory.Pointer) else data
    src = NvDsEventMsgMeta.cast(user_meta.user_meta_data)
    dst = NvDsEventMsgMeta()
    for name in ("type", "objType", "bbox", "location", "coordinate", "objSignature", "objClassId"):
        setattr(dst, name, getattr(src, name))
    for name in ("sensorId", "moduleId", "placeId", "componentId", "frameId", "confidence", "trackingId"):
        setattr(dst, name, getattr(src, name))
    d, s = dst.__dict__, src.__dict__
    for name in ("ts", "objectId", "sensorStr", "otherAttrs", "videoPath"):
        d[name] = _dup(s[name])
    ext = VoidPointer.target(src, "extMsg")
    if src.extMsgSize > 0 and ext is not None:
        if src.objType == NvDsObjectType.NVDS_OBJECT_TYPE_VEHICLE:
            obj: Struct = NvDsVehicleObject()
            names = _VEHICLE_STRINGS
        elif src.objType == NvDsObjectType.NVDS_OBJECT_TYPE_PERSON:
            obj = NvDsPersonObject()
            obj.age = ext.age
            names = _PERSON_STRINGS
        else:
            return dst
        for name in names:
            obj.__dict__[name] = _dup(ext.__dict__[name])
        dst.extMsg = obj
        dst.extMsgSize = src.extMsgSize
    return dst


def release_event_msg_meta(data: Any, user_data: Any = None) -> None:
    """pyds's built-in release callback: frees the strings and the vehicle or person object."""
    user_meta = data.target if isinstance(data, cmemory.Pointer) else data
    if user_meta is None:
        return
    pointer = user_meta.user_meta_data
    if pointer is None:
        return
    src = NvDsEventMsgMeta.cast(pointer)
    d = src.__dict__
    for name in ("ts", "objectId", "sensorStr", "otherAttrs", "videoPath"):
        _free(d[name], f"NvDsEventMsgMeta.{name}")
        d[name] = 0
    ext = VoidPointer.target(src, "extMsg")
    if src.extMsgSize > 0 and ext is not None:
        names: tuple[str, ...] = ()
        if src.objType == NvDsObjectType.NVDS_OBJECT_TYPE_VEHICLE:
            names = _VEHICLE_STRINGS
        elif src.objType == NvDsObjectType.NVDS_OBJECT_TYPE_PERSON:
            names = _PERSON_STRINGS
        for name in names:
            _free(ext.__dict__[name], f"{type(ext).__name__}.{name}")
        cmemory.mark_freed(ext)
        d["extMsgSize"] = 0
