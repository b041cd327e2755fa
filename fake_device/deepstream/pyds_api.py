"""The ``pyds`` module of the simulated Jetson: NVIDIA's DeepStream Python bindings, on CPU.

A DeepStream app does ``import pyds`` and gets this (through ``fake_device/deepstream/site/pyds.py``,
on the PYTHONPATH of component processes only). The classes are the metadata model of
:mod:`.meta` and its siblings; the functions are pyds's, with pyds's signatures and semantics
(bindings/src/bindfunctions.cpp, bindschema.cpp, utils.cpp of NVIDIA-AI-IOT/deepstream_python_apps):

* ``gst_buffer_get_nvds_batch_meta(hash(gst_buffer))`` finds the batch meta the elements carry on
  the GstBuffer (:mod:`.gst.carrier`);
* the C-pointer helpers (``alloc_buffer``, ``memdup``, ``get_ptr``, ``get_string``, ``free_buffer``,
  ``generate_ts_rfc3339`` …) work on the emulated heap of :mod:`.cmemory`: copies are copies, a
  freed block is gone, a use after free is an error;
* ``user_copyfunc``/``user_releasefunc`` keep pyds's single slot per kind (the last function set is
  the one every user meta that was given one calls), ``unset_callback_funcs`` empties it for good;
* ``get_nvds_buf_surface(hash(gst_buffer), batch_id)`` is a writable numpy view of an RGBA/RGB frame
  in the buffer's memory;
* ``get_nvds_LayerInfo(tensor_meta, i)`` gives an output layer of an ``NvDsInferTensorMeta`` whose
  ``buffer`` is a real process address once passed through ``get_ptr`` (ctypes and numpy read the
  tensor directly), and ``get_detections(buffer, i)`` its ``i``-th float.

Everything else pyds has raises an AttributeError that names it and points to
docs/deepstream/supported.md (see :data:`NOT_EMULATED`), never a stand-in that returns something
wrong. docs/deepstream/pyds.md lists the differences from the C bindings.
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from fake_device.deepstream import cmemory
from fake_device.deepstream.cmemory import HostPointer, MemoryFault, Pointer, PointerTypeError
from fake_device.deepstream.cstruct import SUPPORTED_DOCS, CEnum
from fake_device.deepstream.meta import (
    GList,
    NvDsBaseMeta,
    NvDsBatchMeta,
    NvDsClassifierMeta,
    NvDsComp_BboxInfo,
    NvDsDisplayMeta,
    NvDsFrameMeta,
    NvDsLabelInfo,
    NvDsMetaPool,
    NvDsMetaType,
    NvDsObjectMeta,
    NvDsUserMeta,
    nvds_acquire_classifier_meta_from_pool,
    nvds_acquire_display_meta_from_pool,
    nvds_acquire_frame_meta_from_pool,
    nvds_acquire_label_info_meta_from_pool,
    nvds_acquire_meta_lock,
    nvds_acquire_obj_meta_from_pool,
    nvds_acquire_user_meta_from_pool,
    nvds_add_classifier_meta_to_object,
    nvds_add_display_meta_to_frame,
    nvds_add_frame_meta_to_batch,
    nvds_add_label_info_meta_to_classifier,
    nvds_add_obj_meta_to_frame,
    nvds_add_user_meta_to_batch,
    nvds_add_user_meta_to_frame,
    nvds_add_user_meta_to_obj,
    nvds_batch_meta_copy_func,
    nvds_batch_meta_release_func,
    nvds_clear_batch_user_meta_list,
    nvds_clear_display_meta_list,
    nvds_clear_frame_meta_list,
    nvds_clear_frame_user_meta_list,
    nvds_clear_obj_meta_list,
    nvds_clear_obj_user_meta_list,
    nvds_copy_batch_user_meta_list,
    nvds_copy_display_meta_list,
    nvds_copy_frame_meta_list,
    nvds_copy_frame_user_meta_list,
    nvds_copy_obj_meta_list,
    nvds_create_batch_meta,
    nvds_destroy_batch_meta,
    nvds_get_current_metadata_info,
    nvds_get_nth_frame_meta,
    nvds_get_user_meta_type,
    nvds_release_meta_lock,
    nvds_remove_classifier_meta_from_obj,
    nvds_remove_display_meta_from_frame,
    nvds_remove_frame_meta_from_batch,
    nvds_remove_label_info_meta_from_classifier,
    nvds_remove_obj_meta_from_frame,
    nvds_remove_user_meta_from_batch,
    nvds_remove_user_meta_from_frame,
    nvds_remove_user_meta_from_object,
    set_user_meta_callbacks,
)
from fake_device.deepstream.meta_analytics import NvDsAnalyticsFrameMeta, NvDsAnalyticsObjInfo
from fake_device.deepstream.meta_event import (
    NvDsCoordinate,
    NvDsEvent,
    NvDsEventMsgMeta,
    NvDsEventType,
    NvDsFaceObject,
    NvDsGeoLocation,
    NvDsObjectSignature,
    NvDsObjectType,
    NvDsPayload,
    NvDsPayloadType,
    NvDsPersonObject,
    NvDsRect,
    NvDsVehicleObject,
    copy_event_msg_meta,
    release_event_msg_meta,
)
from fake_device.deepstream.meta_infer import (
    NvDsInferAttribute,
    NvDsInferDataType,
    NvDsInferDims,
    NvDsInferDimsCHW,
    NvDsInferLayerInfo,
    NvDsInferNetworkInfo,
    NvDsInferObjectDetectionInfo,
    NvDsInferSegmentationMeta,
    NvDsInferTensorMeta,
    get_detections,
    get_nvds_LayerInfo,
)
from fake_device.deepstream.meta_osd import (
    NvBbox_Coords,
    NvOSD_Arrow_Head_Direction,
    NvOSD_ArrowParams,
    NvOSD_CircleParams,
    NvOSD_Color_info,
    NvOSD_ColorParams,
    NvOSD_FontParams,
    NvOSD_LineParams,
    NvOSD_MaskParams,
    NvOSD_Mode,
    NvOSD_RectParams,
    NvOSD_TextParams,
)
from fake_device.deepstream.meta_tracker import (
    NvDsTargetMiscDataBatch,
    NvDsTargetMiscDataFrame,
    NvDsTargetMiscDataObject,
    NvDsTargetMiscDataStream,
)
from harness.errors import HarnessError

#: the pyds release these bindings follow (deepstream_python_apps v1.2.0, DeepStream 7.1)
__version__ = "1.2.0"


class NvBufSurfaceMemType(CEnum):
    NVBUF_MEM_DEFAULT = 0
    NVBUF_MEM_CUDA_PINNED = 1
    NVBUF_MEM_CUDA_DEVICE = 2
    NVBUF_MEM_CUDA_UNIFIED = 3
    NVBUF_MEM_SURFACE_ARRAY = 4
    NVBUF_MEM_HANDLE = 5
    NVBUF_MEM_SYSTEM = 6


class NvBufSurfaceMemMapFlags(CEnum):
    NVBUF_MAP_READ = 0
    NVBUF_MAP_WRITE = 1
    NVBUF_MAP_READ_WRITE = 2


class GstNvDsMetaType(CEnum):
    NVDS_GST_INVALID_META = -1
    NVDS_BATCH_GST_META = 4096 + 1
    NVDS_DECODER_GST_META = 4096 + 2
    NVDS_DEWARPER_GST_META = 4096 + 3
    NVDS_RESERVED_GST_META = 4096 + 4096
    NVDS_GST_META_FORCE32 = 0x7FFFFFFF


class SurfaceFormatError(HarnessError, RuntimeError):
    """``get_nvds_buf_surface`` on a buffer that holds no RGBA/RGB frame (pyds raises RuntimeError)."""


# -- batch meta ------------------------------------------------------------------------------------
def _address(value: Any, call: str, what: str = "gst_buffer") -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise PointerTypeError(
            f"{call}: {what} must be the buffer's C address, hash(gst_buffer), not {type(value).__name__}",
            hint=f"call {call}(hash(gst_buffer))",
        )
    return value


def gst_buffer_get_nvds_batch_meta(buffer: int) -> NvDsBatchMeta | None:
    """The batch meta on the GstBuffer at C address ``buffer`` (``hash(gst_buffer)``), or None."""
    address = _address(buffer, "gst_buffer_get_nvds_batch_meta")
    from fake_device.deepstream.gst.carrier import batch_meta_at

    return batch_meta_at(address)


# -- C memory --------------------------------------------------------------------------------------
def alloc_buffer(size: int) -> int:
    """A zeroed buffer of ``size`` bytes; its address."""
    return cmemory.alloc(size)


def alloc_char_buffer(size: int) -> int:
    return cmemory.alloc(size)


def free_buffer(buffer: int) -> None:
    """Free a block by address; NULL (0) is a no-op."""
    cmemory.free(_address(buffer, "free_buffer", "buffer"), "free_buffer")


def free_gbuffer(buffer: Any) -> None:
    """Free the object a ``void *`` points to (an ``extMsg``, a copied meta); None is a no-op."""
    if buffer is None:
        return
    if isinstance(buffer, int):
        raise PointerTypeError(
            "free_gbuffer takes a pointer (a void * member or a pyds object), not an int address",
            hint="free an address with pyds.free_buffer",
        )
    if isinstance(buffer, HostPointer):
        raise MemoryFault(
            "free_gbuffer: the buffer is an output tensor the inference element owns; it is freed with "
            "the tensor meta (freeing it would crash a device)"
        )
    target = buffer.target if isinstance(buffer, Pointer) else buffer
    address = target.__dict__.get("_c_address") if hasattr(target, "__dict__") else None
    if address is not None:
        cmemory.free(address, "free_gbuffer")
    elif target.__dict__.get("_c_freed"):
        raise MemoryFault(f"free_gbuffer: the {type(target).__name__} was freed already (double free)")
    else:
        cmemory.mark_freed(target)


def get_string(ptr: int) -> str | None:
    """The C string at address ``ptr`` (None for NULL)."""
    return cmemory.string_at(_address(ptr, "get_string", "ptr"), "get_string")


def get_ptr(ptr: Any) -> int:
    """The C address of a pyds object (0 for None)."""
    return cmemory.address_of(ptr)


def strdup(ptr: int) -> int:
    return cmemory.strdup(_address(ptr, "strdup", "ptr"))


def strdup2str(ptr: int) -> str:
    text = cmemory.string_at(_address(ptr, "strdup2str", "ptr"), "strdup2str")
    return "" if text is None else text


def memdup(ptr: int, size: int) -> int:
    """A copy of the block at ``ptr`` (``size`` bytes of a buffer; a member-wise copy of a struct)."""
    return cmemory.memdup(_address(ptr, "memdup", "ptr"), size)


def generate_ts_rfc3339(buffer: int, size: int) -> None:
    """Write the current UTC time as ``YYYY-MM-DDTHH:MM:SS.mmmZ`` into the buffer at ``buffer``."""
    address = _address(buffer, "generate_ts_rfc3339", "buffer")
    now = time.time()
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"
    if size < len(text):
        raise MemoryFault(
            f"generate_ts_rfc3339: size {size} is too small for a {len(text)}-character timestamp",
            hint="use MAX_TIME_STAMP_LEN = 32 and a buffer of MAX_TIME_STAMP_LEN + 1, as the samples do",
        )
    cmemory.write_string(address, text, len(text) + 1, "generate_ts_rfc3339")


# -- user meta callbacks ------------------------------------------------------------------------------
class _CallbackSlot:
    """pyds's storage of the Python copy/release callbacks: one function per kind for the whole
    process (the last one set wins), and none at all after ``unset_callback_funcs``."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.copy: Callable[[Any, Any], Any] | None = None
        self.release: Callable[[Any, Any], None] | None = None
        self.stopped = False

    def store(self, kind: str, func: Callable[..., Any]) -> None:
        with self.lock:
            if not self.stopped:
                setattr(self, kind, func)

    def call(self, kind: str, data: Any, user_data: Any) -> Any:
        with self.lock:
            func = getattr(self, kind)
        return func(data, user_data) if func is not None else None

    def unset(self) -> None:
        with self.lock:
            self.copy = self.release = None
            self.stopped = True


_SLOT = _CallbackSlot()


def _copy_trampoline(data: Any, user_data: Any) -> Any:
    return _SLOT.call("copy", data, user_data)


def _release_trampoline(data: Any, user_data: Any) -> None:
    _SLOT.call("release", data, user_data)


def _user_meta(meta: Any, call: str) -> NvDsUserMeta:
    if not isinstance(meta, NvDsUserMeta):
        raise PointerTypeError(f"{call}: meta must be an NvDsUserMeta, got {type(meta).__name__}")
    return meta


def _callable(func: Any, call: str) -> None:
    if not callable(func):
        raise PointerTypeError(
            f"{call}: func must be a function (data, user_data), got {type(func).__name__}"
        )


def user_copyfunc(meta: NvDsUserMeta, func: Callable[[Any, Any], Any]) -> None:
    """Make ``meta`` copy its data with ``func(data, user_data)`` (``data`` points to the user meta;
    the return value becomes the copy's ``user_meta_data``)."""
    _callable(func, "user_copyfunc")
    user_meta = _user_meta(meta, "user_copyfunc")
    _SLOT.store("copy", func)
    user_meta.__dict__["_copy_func"] = _copy_trampoline


def user_releasefunc(meta: NvDsUserMeta, func: Callable[[Any, Any], None]) -> None:
    """Make ``meta`` call ``func(data, user_data)`` when it is released."""
    _callable(func, "user_releasefunc")
    user_meta = _user_meta(meta, "user_releasefunc")
    _SLOT.store("release", func)
    user_meta.__dict__["_release_func"] = _release_trampoline


set_user_copyfunc = user_copyfunc
set_user_releasefunc = user_releasefunc


def register_user_copyfunc(func: Callable[[Any, Any], Any]) -> None:
    """Kept by pyds for old apps; does nothing (use ``user_copyfunc``)."""


def register_user_releasefunc(func: Callable[[Any, Any], None]) -> None:
    """Kept by pyds for old apps; does nothing (use ``user_releasefunc``)."""


def unset_callback_funcs() -> None:
    """Drop the Python callbacks for good (apps call it before exiting)."""
    _SLOT.unset()


# -- event messages -------------------------------------------------------------------------------
def alloc_nvds_event_msg_meta(user_meta: NvDsUserMeta | None = None) -> NvDsEventMsgMeta:
    """A zeroed NvDsEventMsgMeta. Given the user meta it will go into (pyds ≥ 1.1), that user meta
    gets pyds's own copy and release callbacks; without it (older apps) the app sets them with
    ``user_copyfunc``/``user_releasefunc``."""
    if user_meta is not None:
        set_user_meta_callbacks(
            _user_meta(user_meta, "alloc_nvds_event_msg_meta"), copy_event_msg_meta, release_event_msg_meta
        )
    return NvDsEventMsgMeta()


def alloc_nvds_vehicle_object() -> NvDsVehicleObject:
    return NvDsVehicleObject()


def alloc_nvds_person_object() -> NvDsPersonObject:
    return NvDsPersonObject()


def alloc_nvds_face_object() -> NvDsFaceObject:
    return NvDsFaceObject()


def alloc_nvds_payload() -> NvDsPayload:
    return NvDsPayload()


def alloc_nvds_event() -> NvDsEvent:
    return NvDsEvent()


# -- casts of old apps ------------------------------------------------------------------------------
glist_get_nvds_batch_meta = NvDsBatchMeta.cast
glist_get_nvds_frame_meta = NvDsFrameMeta.cast
glist_get_nvds_object_meta = NvDsObjectMeta.cast
glist_get_nvds_user_meta = NvDsUserMeta.cast
glist_get_nvds_classifier_meta = NvDsClassifierMeta.cast
glist_get_nvds_display_meta = NvDsDisplayMeta.cast
glist_get_nvds_label_info = NvDsLabelInfo.cast
glist_get_nvds_event_msg_meta = NvDsEventMsgMeta.cast
glist_get_nvds_vehicle_object = NvDsVehicleObject.cast
glist_get_nvds_person_object = NvDsPersonObject.cast
glist_get_nvds_tensor_meta = NvDsInferTensorMeta.cast


# -- frames ---------------------------------------------------------------------------------------
class _GstMapInfo(ctypes.Structure):
    _fields_ = (
        ("memory", ctypes.c_void_p),
        ("flags", ctypes.c_int),
        ("data", ctypes.c_void_p),
        ("size", ctypes.c_size_t),
        ("maxsize", ctypes.c_size_t),
        ("user_data", ctypes.c_void_p * 4),
        ("_gst_reserved", ctypes.c_void_p * 4),
    )


_GST_MAP_READ = 1
_gst_lib: Any = None


def _buffer_memory(address: int) -> np.ndarray:
    """The GstBuffer's memory as a writable byte array, mapped and unmapped as pyds does (the
    pointer stays valid while the buffer lives: probes hold it)."""
    global _gst_lib
    if _gst_lib is None:
        lib = ctypes.CDLL("libgstreamer-1.0.so.0")
        lib.gst_buffer_map.restype = ctypes.c_int
        lib.gst_buffer_map.argtypes = (ctypes.c_void_p, ctypes.POINTER(_GstMapInfo), ctypes.c_int)
        lib.gst_buffer_unmap.restype = None
        lib.gst_buffer_unmap.argtypes = (ctypes.c_void_p, ctypes.POINTER(_GstMapInfo))
        _gst_lib = lib
    info = _GstMapInfo()
    if not _gst_lib.gst_buffer_map(address, ctypes.byref(info), _GST_MAP_READ):
        raise MemoryFault(f"get_nvds_buf_surface: cannot map the buffer at 0x{address:x}")
    try:
        raw = (ctypes.c_uint8 * info.size).from_address(info.data)
        return np.ctypeslib.as_array(raw)
    finally:
        _gst_lib.gst_buffer_unmap(address, ctypes.byref(info))


def get_nvds_buf_surface(gst_buffer: int, batchID: int) -> np.ndarray:
    """Frame ``batchID`` of the buffer at ``gst_buffer`` as a (height, width, channels) uint8 view
    of the buffer's memory (writes change the frame downstream elements see); RGBA or RGB only,
    as pyds."""
    address = _address(gst_buffer, "get_nvds_buf_surface")
    from fake_device.deepstream.gst.carrier import surface_layout_at
    from fake_device.deepstream.gst.surface import FrameView

    layout = surface_layout_at(address)
    if layout is None:
        raise SurfaceFormatError(
            "get_nvds_buf_surface: the buffer carries no NvBufSurface (it did not come through nvstreammux)",
            hint=f"call it in a probe after nvstreammux; see {SUPPORTED_DOCS}",
        )
    if layout.format not in ("RGBA", "RGB"):
        raise SurfaceFormatError(
            "get_nvds_buf_Surface: Currently we only support RGBA/RGB color Format "
            f"(this buffer is {layout.format})",
            hint="convert before the probe: nvvideoconvert ! capsfilter "
            "caps=video/x-raw(memory:NVMM),format=RGBA, as deepstream-imagedata-multistream does",
        )
    memory = _buffer_memory(address)
    count = layout.frames_in(memory.size)
    if not 0 <= batchID < count:
        raise MemoryFault(f"get_nvds_buf_surface: batch_id {batchID} is outside the batch of {count} frames")
    return FrameView(memory, batchID * layout.size, layout, batchID).image


def unmap_nvds_buf_surface(gst_buffer: int, batchID: int) -> None:
    """Jetson apps unmap after ``get_nvds_buf_surface``; the emulated surface needs no unmapping."""
    _address(gst_buffer, "unmap_nvds_buf_surface")


def get_segmentation_masks(data: Any) -> np.ndarray:
    """The (height, width) int32 class map of an NvDsInferSegmentationMeta."""
    meta = NvDsInferSegmentationMeta.cast(data)
    if meta.class_map is None:
        return np.zeros((meta.height, meta.width), dtype=np.int32)
    return meta.class_map


def configure_source_for_ntp_sync(src_elem: int) -> None:
    """DeepStream makes an RTSP source deliver NTP-synchronised timestamps; the emulated sources
    already stamp frames with the capture time, so there is nothing to configure."""
    _address(src_elem, "configure_source_for_ntp_sync", "src_elem")


_recorder: Any = None


def nvds_measure_buffer_latency(gst_buffer: int) -> int:
    """With ``NVDS_ENABLE_LATENCY_MEASUREMENT=1``: print each frame's latency since decoding, as
    DeepStream does, and return how many frames were measured; 0 otherwise."""
    global _recorder
    address = _address(gst_buffer, "nvds_measure_buffer_latency")
    from fake_device.deepstream.measure import LatencyRecorder

    if _recorder is None:
        _recorder = LatencyRecorder.from_environment(os.environ, printer=_print)
    if not _recorder.print_frames:
        return 0
    batch = gst_buffer_get_nvds_batch_meta(address)
    if batch is None:
        print(f"Batch meta not found for buffer 0x{address:x}", flush=True)
        return 0
    return len(_recorder.measure(batch))


def _print(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


# -- what pyds has and the emulation does not ------------------------------------------------------
NOT_EMULATED: dict[str, str] = {
    **dict.fromkeys(
        (
            "NvBufSurface",
            "NvBufSurfaceParams",
            "NvBufSurfacePlaneParams",
            "NvBufSurfaceMappedAddr",
            "NvBufSurfaceCreateParams",
            "NvBufSurfaceColorFormat",
            "NvBufSurfaceLayout",
            "NvBufSurfaceCreate",
            "NvBufSurfaceDestroy",
            "NvBufSurfaceMap",
            "NvBufSurfaceUnMap",
            "NvBufSurfaceCopy",
            "NvBufSurfaceSyncForCpu",
            "NvBufSurfaceSyncForDevice",
            "NvBufSurfaceFromFd",
            "NvBufSurfaceMemSet",
            "NvBufSurfaceMapEglImage",
            "glist_get_nvds_Surface_Params",
            "get_nvds_buf_surface_gpu",
        ),
        "the emulated NvBufSurface is system memory; read frames with get_nvds_buf_surface",
    ),
    **dict.fromkeys(
        ("NvDsOpticalFlowMeta", "NvOFFlowVector", "get_optical_flow_vectors"),
        "nvof (optical flow) is not emulated",
    ),
    **dict.fromkeys(
        (
            "NvDsObjEncOutParams",
            "NvDsObjEncUsrArgs",
            "nvds_obj_enc_create_context",
            "nvds_obj_enc_process",
            "nvds_obj_enc_finish",
            "nvds_obj_enc_destroy_context",
        ),
        "the JPEG object encoder is not emulated",
    ),
    **dict.fromkeys(
        ("gst_element_send_nvevent_new_stream_reset", "gst_element_send_nvevent_interval_update"),
        "custom events sent from the app are not emulated",
    ),
    **dict.fromkeys(
        ("NvDsMeta", "gst_buffer_add_nvds_meta"),
        "custom GstMeta from Python is not emulated; attach user metas to the batch meta instead",
    ),
    **dict.fromkeys(
        ("NvDsVehicleObjectExt", "NvDsPersonObjectExt", "NvDsFaceObjectWithExt", "NvDsObjReid"),
        "not emulated",
    ),
    **dict.fromkeys(("ROI_STATUS_360D", "RectDim"), "the 360-degree (parking) metadata is not emulated"),
    **dict.fromkeys(
        (
            "NvOSD_FrameTextParams",
            "NvOSD_FrameRectParams",
            "NvOSD_FrameLineParams",
            "NvOSD_FrameArrowParams",
            "NvOSD_FrameCircleParams",
        ),
        "nvll_osd's direct drawing API is not emulated; attach display metas",
    ),
    **dict.fromkeys(
        ("CustomDataStruct", "alloc_custom_struct"), "the custom-binding example is not emulated"
    ),
}


def __getattr__(name: str) -> Any:
    reason = NOT_EMULATED.get(name)
    if reason is not None:
        raise AttributeError(
            f"pyds.{name} is part of NVIDIA's pyds but not emulated here: {reason} (see {SUPPORTED_DOCS})",
            name=name,
        )
    raise AttributeError(f"module 'pyds' has no attribute {name!r}", name=name)


_ENUMS = (
    NvDsMetaType,
    NvDsEventType,
    NvDsObjectType,
    NvDsPayloadType,
    NvOSD_Mode,
    NvOSD_Arrow_Head_Direction,
    NvDsInferDataType,
    NvBufSurfaceMemType,
    NvBufSurfaceMemMapFlags,
    GstNvDsMetaType,
)
# pybind11's export_values(): every enum value is also a module attribute (pyds.NVDS_EVENT_MSG_META)
for _enum in _ENUMS:
    globals().update(_enum.__members__)

__all__ = [
    "GList",
    "GstNvDsMetaType",
    "NvBbox_Coords",
    "NvBufSurfaceMemMapFlags",
    "NvBufSurfaceMemType",
    "NvDsAnalyticsFrameMeta",
    "NvDsAnalyticsObjInfo",
    "NvDsBaseMeta",
    "NvDsBatchMeta",
    "NvDsClassifierMeta",
    "NvDsComp_BboxInfo",
    "NvDsCoordinate",
    "NvDsDisplayMeta",
    "NvDsEvent",
    "NvDsEventMsgMeta",
    "NvDsEventType",
    "NvDsFaceObject",
    "NvDsFrameMeta",
    "NvDsGeoLocation",
    "NvDsInferAttribute",
    "NvDsInferDataType",
    "NvDsInferDims",
    "NvDsInferDimsCHW",
    "NvDsInferLayerInfo",
    "NvDsInferNetworkInfo",
    "NvDsInferObjectDetectionInfo",
    "NvDsInferSegmentationMeta",
    "NvDsInferTensorMeta",
    "NvDsLabelInfo",
    "NvDsMetaPool",
    "NvDsMetaType",
    "NvDsObjectMeta",
    "NvDsObjectSignature",
    "NvDsObjectType",
    "NvDsPayload",
    "NvDsPayloadType",
    "NvDsPersonObject",
    "NvDsRect",
    "NvDsTargetMiscDataBatch",
    "NvDsTargetMiscDataFrame",
    "NvDsTargetMiscDataObject",
    "NvDsTargetMiscDataStream",
    "NvDsUserMeta",
    "NvDsVehicleObject",
    "NvOSD_ArrowParams",
    "NvOSD_Arrow_Head_Direction",
    "NvOSD_CircleParams",
    "NvOSD_ColorParams",
    "NvOSD_Color_info",
    "NvOSD_FontParams",
    "NvOSD_LineParams",
    "NvOSD_MaskParams",
    "NvOSD_Mode",
    "NvOSD_RectParams",
    "NvOSD_TextParams",
    "alloc_buffer",
    "alloc_char_buffer",
    "alloc_nvds_event",
    "alloc_nvds_event_msg_meta",
    "alloc_nvds_face_object",
    "alloc_nvds_payload",
    "alloc_nvds_person_object",
    "alloc_nvds_vehicle_object",
    "configure_source_for_ntp_sync",
    "free_buffer",
    "free_gbuffer",
    "generate_ts_rfc3339",
    "get_detections",
    "get_nvds_LayerInfo",
    "get_nvds_buf_surface",
    "get_ptr",
    "get_segmentation_masks",
    "get_string",
    "glist_get_nvds_batch_meta",
    "glist_get_nvds_classifier_meta",
    "glist_get_nvds_display_meta",
    "glist_get_nvds_event_msg_meta",
    "glist_get_nvds_frame_meta",
    "glist_get_nvds_label_info",
    "glist_get_nvds_object_meta",
    "glist_get_nvds_person_object",
    "glist_get_nvds_tensor_meta",
    "glist_get_nvds_user_meta",
    "glist_get_nvds_vehicle_object",
    "gst_buffer_get_nvds_batch_meta",
    "memdup",
    "nvds_acquire_classifier_meta_from_pool",
    "nvds_acquire_display_meta_from_pool",
    "nvds_acquire_frame_meta_from_pool",
    "nvds_acquire_label_info_meta_from_pool",
    "nvds_acquire_meta_lock",
    "nvds_acquire_obj_meta_from_pool",
    "nvds_acquire_user_meta_from_pool",
    "nvds_add_classifier_meta_to_object",
    "nvds_add_display_meta_to_frame",
    "nvds_add_frame_meta_to_batch",
    "nvds_add_label_info_meta_to_classifier",
    "nvds_add_obj_meta_to_frame",
    "nvds_add_user_meta_to_batch",
    "nvds_add_user_meta_to_frame",
    "nvds_add_user_meta_to_obj",
    "nvds_batch_meta_copy_func",
    "nvds_batch_meta_release_func",
    "nvds_clear_batch_user_meta_list",
    "nvds_clear_display_meta_list",
    "nvds_clear_frame_meta_list",
    "nvds_clear_frame_user_meta_list",
    "nvds_clear_obj_meta_list",
    "nvds_clear_obj_user_meta_list",
    "nvds_copy_batch_user_meta_list",
    "nvds_copy_display_meta_list",
    "nvds_copy_frame_meta_list",
    "nvds_copy_frame_user_meta_list",
    "nvds_copy_obj_meta_list",
    "nvds_create_batch_meta",
    "nvds_destroy_batch_meta",
    "nvds_get_current_metadata_info",
    "nvds_get_nth_frame_meta",
    "nvds_get_user_meta_type",
    "nvds_measure_buffer_latency",
    "nvds_release_meta_lock",
    "nvds_remove_classifier_meta_from_obj",
    "nvds_remove_display_meta_from_frame",
    "nvds_remove_frame_meta_from_batch",
    "nvds_remove_label_info_meta_from_classifier",
    "nvds_remove_obj_meta_from_frame",
    "nvds_remove_user_meta_from_batch",
    "nvds_remove_user_meta_from_frame",
    "nvds_remove_user_meta_from_object",
    "register_user_copyfunc",
    "register_user_releasefunc",
    "set_user_copyfunc",
    "set_user_releasefunc",
    "strdup",
    "strdup2str",
    "unmap_nvds_buf_surface",
    "unset_callback_funcs",
    "user_copyfunc",
    "user_releasefunc",
    *(name for _enum in _ENUMS for name in _enum.__members__),
]
