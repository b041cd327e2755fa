"""The NvDsBatchMeta (a Python object) carried on the GstBuffer itself.

On a Jetson the batch meta is a GstMeta on the buffer, and ``pyds.gst_buffer_get_nvds_batch_meta``
finds it from the buffer's C address (``hash(gst_buffer)`` in a pad probe). A table keyed by that
address would be wrong: the address changes whenever a buffer is copied (videoconvert, encoders, a
writable copy behind a tee) and the buffer pool REUSES addresses, so a lookup returns another
frame's meta. Instead the object rides in a GstCustomMeta whose GstStructure holds PyObject-typed
fields:

* the meta has no tags, so GstBaseTransform, videoconvert and the video encoders copy it to their
  output buffers; copying the structure takes a new reference to the same Python object (the batch
  meta is shared between a buffer and its copies, as DeepStream shares it between tee branches);
* the buffer owns the reference, so the object lives exactly as long as a buffer carrying it.

PyGObject hands out a *copy* of a structure it does not own, so the fields are read and written
through ctypes (``gst_buffer_get_custom_meta`` → ``gst_custom_meta_get_structure`` →
``gst_structure_get_value``/``set_value``), which also makes a lookup from the address alone possible.
Besides the batch meta the structure holds the surface layout (:mod:`.surface`), so that
``pyds.get_nvds_buf_surface(address, batch_id)`` can find the frames without the buffer's caps, and,
on a decoded frame before the muxer, its latency marks (the decoder's ``(name, in, out)``), which
the muxer moves into the frame's meta as DeepStream's muxer takes over the decoder's latency meta.
"""

from __future__ import annotations

import ctypes
import threading
from typing import Any

from fake_device.deepstream.gst.runtime import Gst

META_NAME = "NvDsBatchMetaCarrier"
BATCH_META_FIELD = "batch-meta"
SURFACE_FIELD = "surface-layout"
LATENCY_FIELD = "latency-marks"

# PyDLL keeps the GIL across the calls: setting and unsetting a PyObject GValue runs Py_INCREF/DECREF.
_gst = ctypes.PyDLL("libgstreamer-1.0.so.0")
_gobject = ctypes.PyDLL("libgobject-2.0.so.0")
_vp, _cp = ctypes.c_void_p, ctypes.c_char_p
for _fn, _res, _args in (
    (_gst.gst_buffer_get_custom_meta, _vp, [_vp, _cp]),
    (_gst.gst_custom_meta_get_structure, _vp, [_vp]),
    (_gst.gst_structure_get_value, _vp, [_vp, _cp]),
    (_gst.gst_structure_set_value, None, [_vp, _cp, _vp]),
    (_gst.gst_structure_remove_field, None, [_vp, _cp]),
    (_gst.gst_mini_object_is_writable, ctypes.c_int, [_vp]),
    (_gobject.g_type_from_name, ctypes.c_size_t, [_cp]),
    (_gobject.g_value_init, _vp, [_vp, ctypes.c_size_t]),
    (_gobject.g_value_set_boxed, None, [_vp, _vp]),
    (_gobject.g_value_unset, None, [_vp]),
):
    _fn.restype, _fn.argtypes = _res, _args


class _GValue(ctypes.Structure):
    """GValue: a GType and two 64-bit data words (the PyObject pointer is the first)."""

    _fields_ = (("g_type", ctypes.c_size_t), ("data0", ctypes.c_uint64), ("data1", ctypes.c_uint64))


_lock = threading.Lock()
_pyobject_gtype = 0


def ensure_registered() -> None:
    """Register the custom meta once per process (idempotent, thread-safe)."""
    global _pyobject_gtype
    if _pyobject_gtype:
        return
    with _lock:
        if _pyobject_gtype:
            return
        if Gst.Meta.get_info(META_NAME) is None:
            # no tags: every transform and encoder copies it (see the module docstring)
            Gst.Meta.register_custom(META_NAME, [], None, None)
        gtype = _gobject.g_type_from_name(b"PyObject")
        if not gtype:  # registered by PyGObject on import; absent only if gi is broken
            raise RuntimeError("the PyObject GType is not registered; is PyGObject imported?")
        _pyobject_gtype = gtype


def _structure_at(address: int) -> int:
    meta = _gst.gst_buffer_get_custom_meta(address, META_NAME.encode())
    if not meta:
        return 0
    return _gst.gst_custom_meta_get_structure(meta) or 0


def _set_field(buffer: Gst.Buffer, field: str, obj: Any) -> None:
    ensure_registered()
    address = hash(buffer)
    structure = _structure_at(address)
    if not structure:
        if not _gst.gst_mini_object_is_writable(address):
            raise ValueError(
                "cannot attach metadata to a buffer that is not writable "
                "(make it writable first: Gst.Buffer.make_writable / a copy)"
            )
        if buffer.add_custom_meta(META_NAME) is None:
            raise RuntimeError(f"gst_buffer_add_custom_meta({META_NAME}) failed")
        structure = _structure_at(address)
    value = _GValue()
    _gobject.g_value_init(ctypes.byref(value), _pyobject_gtype)
    _gobject.g_value_set_boxed(ctypes.byref(value), id(obj))  # boxed copy of a PyObject = a new reference
    _gst.gst_structure_set_value(structure, field.encode(), ctypes.byref(value))  # copies (another ref)
    _gobject.g_value_unset(ctypes.byref(value))  # drops ours; the structure keeps one


def _get_field(address: int, field: str) -> Any:
    if not address:
        return None
    ensure_registered()
    structure = _structure_at(address)
    if not structure:
        return None
    value = _gst.gst_structure_get_value(structure, field.encode())
    if not value:
        return None
    pointer = _GValue.from_address(value).data0
    if not pointer:
        return None
    return ctypes.cast(ctypes.c_void_p(pointer), ctypes.py_object).value


def attach_batch_meta(buffer: Gst.Buffer, meta: Any) -> None:
    """Put ``meta`` (the NvDsBatchMeta) on ``buffer``, replacing any batch meta it carries.

    ``buffer`` must be writable when it carries no meta yet (adding a GstMeta changes it).
    """
    _set_field(buffer, BATCH_META_FIELD, meta)


def batch_meta_of(buffer: Gst.Buffer) -> Any:
    """The batch meta ``buffer`` carries, or None."""
    return _get_field(hash(buffer), BATCH_META_FIELD)


def batch_meta_at(address: int) -> Any:
    """The batch meta of the GstBuffer at C address ``address`` (``hash(gst_buffer)``), or None.

    This is what ``pyds.gst_buffer_get_nvds_batch_meta(hash(gst_buffer))`` receives.
    """
    return _get_field(address, BATCH_META_FIELD)


def attach_surface_layout(buffer: Gst.Buffer, layout: Any) -> None:
    """Record how ``buffer``'s memory is laid out (a :class:`.surface.FrameLayout`)."""
    _set_field(buffer, SURFACE_FIELD, layout)


def surface_layout_at(address: int) -> Any:
    """The surface layout recorded on the buffer at ``address``, or None."""
    return _get_field(address, SURFACE_FIELD)


def attach_latency_marks(buffer: Gst.Buffer, marks: list[tuple[str, float, float]]) -> None:
    """Put latency marks ``(element, in, out)`` (``time.monotonic()`` seconds) on a frame buffer."""
    _set_field(buffer, LATENCY_FIELD, marks)


def latency_marks_of(buffer: Gst.Buffer) -> list[tuple[str, float, float]]:
    """The latency marks ``buffer`` carries (a new list; empty when there are none)."""
    return list(_get_field(hash(buffer), LATENCY_FIELD) or ())
