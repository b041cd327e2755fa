"""DeepStream's custom stream events and the ``stream-eos`` message (gst-nvevent.h, gst-nvmessage.h).

nvstreammux batches many sources into one stream, so per-source happenings travel downstream as
custom serialized events carrying the source id: pad added (400), pad deleted (401), stream EOS
(402) and stream segment (403), each with a structure named ``nv-pad-added`` … and a ``source-id``
field. The tracker and nvdsanalytics forget a source's state on them. The muxer also posts an
element message ``stream-eos`` with ``stream-id`` on the bus when one source ends (what
deepstream_python_apps' runtime_source_add_delete waits for).

The event types are not members of the GstEventType enum, which PyGObject refuses to build, so the
events are made and pushed through ctypes (``gst_event_new_custom`` + ``gst_pad_push_event``); on the
receiving side PyGObject shows them as ``Gst.EventType`` values whose ``int()`` is the type below.
"""

from __future__ import annotations

import ctypes

from fake_device.deepstream.gst.runtime import GObject, Gst

_EVENT_FLAGS = int(Gst.EventTypeFlags.DOWNSTREAM | Gst.EventTypeFlags.SERIALIZED)


def _event_type(number: int) -> int:
    return (number << Gst.EVENT_NUM_SHIFT) | _EVENT_FLAGS


PAD_ADDED = _event_type(400)
PAD_DELETED = _event_type(401)
STREAM_EOS = _event_type(402)
STREAM_SEGMENT = _event_type(403)

_NAMES = {
    PAD_ADDED: "nv-pad-added",
    PAD_DELETED: "nv-pad-deleted",
    STREAM_EOS: "nv-stream-eos",
    STREAM_SEGMENT: "nv-stream-segment",
}

_gst = ctypes.CDLL("libgstreamer-1.0.so.0")  # CDLL: releases the GIL while the event travels downstream
_gst.gst_event_new_custom.restype = ctypes.c_void_p
_gst.gst_event_new_custom.argtypes = (ctypes.c_int, ctypes.c_void_p)
_gst.gst_structure_new_empty.restype = ctypes.c_void_p
_gst.gst_structure_new_empty.argtypes = (ctypes.c_char_p,)
_gst.gst_structure_set_value.restype = None
_gst.gst_structure_set_value.argtypes = (ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p)
_gst.gst_pad_push_event.restype = ctypes.c_int
_gst.gst_pad_push_event.argtypes = (ctypes.c_void_p, ctypes.c_void_p)

_gobject = ctypes.CDLL("libgobject-2.0.so.0")
_gobject.g_value_init.restype = ctypes.c_void_p
_gobject.g_value_init.argtypes = (ctypes.c_void_p, ctypes.c_size_t)
_gobject.g_value_set_uint.restype = None
_gobject.g_value_set_uint.argtypes = (ctypes.c_void_p, ctypes.c_uint)
_gobject.g_type_from_name.restype = ctypes.c_size_t
_gobject.g_type_from_name.argtypes = (ctypes.c_char_p,)


class _GValue(ctypes.Structure):
    _fields_ = (("g_type", ctypes.c_size_t), ("data0", ctypes.c_uint64), ("data1", ctypes.c_uint64))


def push_stream_event(pad: Gst.Pad, event_type: int, source_id: int) -> bool:
    """Push the custom event ``event_type`` for ``source_id`` out of ``pad`` (a src pad)."""
    structure = _gst.gst_structure_new_empty(_NAMES[event_type].encode())
    value = _GValue()
    _gobject.g_value_init(ctypes.byref(value), _gobject.g_type_from_name(b"guint"))
    _gobject.g_value_set_uint(ctypes.byref(value), source_id)
    _gst.gst_structure_set_value(structure, b"source-id", ctypes.byref(value))  # copies a plain uint
    event = _gst.gst_event_new_custom(event_type, structure)  # takes the structure
    return bool(_gst.gst_pad_push_event(hash(pad), event))  # takes the event


def parse_stream_event(event: Gst.Event) -> tuple[int, int] | None:
    """``(event_type, source_id)`` of one of DeepStream's stream events, else None."""
    event_type = int(event.type)
    if event_type not in _NAMES:
        return None
    structure = event.get_structure()
    if structure is None or structure.get_name() != _NAMES[event_type]:
        return None
    ok, source_id = structure.get_uint("source-id")
    return (event_type, source_id) if ok else None


def stream_eos_message(element: Gst.Element, stream_id: int) -> Gst.Message:
    """The ``stream-eos`` element message nvstreammux posts when source ``stream_id`` ends."""
    structure = Gst.Structure.new_empty("stream-eos")
    structure.set_value("stream-id", GObject.Value(GObject.TYPE_UINT, stream_id))
    return Gst.Message.new_element(element, structure)
