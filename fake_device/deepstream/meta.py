"""DeepStream's metadata model (nvdsmeta.h) — the one the emulated elements and ``pyds`` share.

A batch (``NvDsBatchMeta``) holds frames (``NvDsFrameMeta``), a frame holds objects
(``NvDsObjectMeta``), display metas and user metas; an object holds classifier metas (with label
infos) and user metas. The classes are pyds's, with pyds's member names, C types and zero
defaults (see :mod:`.cstruct`); the ``*_list`` members read as :class:`GList` views with ``.data``
and ``.next`` (None at the end) that stay valid while the list is changed, the way the seed app
walks ``obj_meta_list`` and removes objects as it goes. The ``nvds_*`` functions are DeepStream's
(acquire from the batch's pools, add, remove, clear, copy, release with the user metas'
callbacks).

Coordinates are muxer pixels (the streammux output resolution), as in DeepStream after
nvinferserver has mapped boxes back.

The emulated elements predate this model and use shorter names; these stay, documented per class
(``BatchMeta``/``FrameMeta``/``ObjectMeta`` are the same classes):

* ``NvDsBatchMeta.frames`` is the list behind ``frame_meta_list``;
* ``NvDsFrameMeta.objects`` is the list behind ``obj_meta_list``; ``user_meta`` is the
  ``user_meta_data`` of each user meta in ``frame_user_meta_list`` (appending wraps the value in
  a user meta); ``analytics`` is the NvDsAnalyticsFrameMeta user meta; ``image`` (BGR uint8 at
  muxer resolution, for the Python runtime that carries pixels on the meta), ``latency`` (per
  element (name, in, out) marks in ``time.monotonic()`` seconds) and ``decode_time`` have no
  DeepStream counterpart;
* ``NvDsObjectMeta.left/top/width/height`` are ``rect_params``'s, ``right``/``bottom``/``tracked``
  are derived, ``analytics`` is the NvDsAnalyticsObjInfo user meta.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, MutableSequence
from operator import attrgetter
from typing import Any, overload

from fake_device.deepstream import cmemory
from fake_device.deepstream.cmemory import Pointer, PointerTypeError
from fake_device.deepstream.cstruct import (
    Array,
    CEnum,
    CharArray,
    CharPointer,
    Embedded,
    Enum,
    Float,
    Int,
    IntArray,
    Plain,
    Ref,
    Struct,
    VoidPointer,
    WeakRef,
)
from fake_device.deepstream.meta_analytics import (
    FRAME_USER_META,
    OBJ_USER_META,
    FrameAnalytics,
    NvDsAnalyticsFrameMeta,
    NvDsAnalyticsObjInfo,
    ObjectAnalytics,
)
from fake_device.deepstream.meta_osd import (
    NvBbox_Coords,
    NvOSD_ArrowParams,
    NvOSD_CircleParams,
    NvOSD_LineParams,
    NvOSD_MaskParams,
    NvOSD_RectParams,
    NvOSD_TextParams,
)
from harness.errors import HarnessError

__all__ = [
    "MAX_ELEMENTS_IN_DISPLAY_META",
    "MAX_LABEL_SIZE",
    "UNTRACKED_OBJECT_ID",
    "BatchMeta",
    "FrameAnalytics",
    "FrameMeta",
    "GList",
    "MetaError",
    "NvDsBaseMeta",
    "NvDsBatchMeta",
    "NvDsClassifierMeta",
    "NvDsComp_BboxInfo",
    "NvDsDisplayMeta",
    "NvDsFrameMeta",
    "NvDsLabelInfo",
    "NvDsMetaPool",
    "NvDsMetaType",
    "NvDsObjectMeta",
    "NvDsUserMeta",
    "ObjectAnalytics",
    "ObjectMeta",
]

MAX_USER_FIELDS = 4
MAX_RESERVED_FIELDS = 4
MAX_LABEL_SIZE = 128
MAX_ELEMENTS_IN_DISPLAY_META = 16
# NvDsObjectMeta.object_id of an object no tracker has seen (nvdsmeta.h UNTRACKED_OBJECT_ID).
UNTRACKED_OBJECT_ID = 0xFFFFFFFFFFFFFFFF


class MetaError(HarnessError, ValueError):
    """A metadata call DeepStream would turn into a crash or corruption (removing an object
    that is not in the frame, more than 16 rectangles in a display meta)."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint or "see docs/deepstream/pyds.md")


class NvDsMetaType(CEnum):
    """nvdsmeta.h of DeepStream 9.1 (values differ between releases: compare by name)."""

    NVDS_INVALID_META = -1
    NVDS_BATCH_META = 1
    NVDS_FRAME_META = 2
    NVDS_OBJ_META = 3
    NVDS_DISPLAY_META = 4
    NVDS_CLASSIFIER_META = 5
    NVDS_LABEL_INFO_META = 6
    NVDS_USER_META = 7
    NVDS_PAYLOAD_META = 8
    NVDS_EVENT_MSG_META = 9
    NVDS_OPTICAL_FLOW_META = 10
    NVDS_LATENCY_MEASUREMENT_META = 11
    NVDSINFER_TENSOR_OUTPUT_META = 12
    NVDSINFER_SEGMENTATION_META = 13
    NVDS_CROP_IMAGE_META = 14
    NVDS_TRACKER_PAST_FRAME_META = 15
    NVDS_TRACKER_BATCH_REID_META = 16
    NVDS_TRACKER_OBJ_REID_META = 17
    NVDS_TRACKER_TERMINATED_LIST_META = 18
    NVDS_TRACKER_SHADOW_LIST_META = 19
    NVDS_OBJ_VISIBILITY = 20
    NVDS_OBJ_IMAGE_FOOT_LOCATION = 21
    NVDS_OBJ_WORLD_FOOT_LOCATION = 22
    NVDS_OBJ_IMAGE_CONVEX_HULL = 23
    NVDS_OBJ_3D_META = 24
    NVDS_AUDIO_BATCH_META = 25
    NVDS_AUDIO_FRAME_META = 26
    NVDS_PREPROCESS_FRAME_META = 27
    NVDS_PREPROCESS_BATCH_META = 28
    NVDS_CUSTOM_MSG_BLOB = 29
    NVDS_ROI_META = 30
    NVDS_CUSTOM_MSG_SPARSE4D = 31
    NVDS_FRAME_META_NVDSANALYTICS = 32
    NVDS_OBJ_META_NVDSANALYTICS = 33
    NVDS_RESERVED_META = 4095
    NVDS_GST_CUSTOM_META = 4096
    NVDS_START_USER_META = 4096 + 4096 + 1
    NVDS_FORCE32_META = 0x7FFFFFFF


# -- user meta types ---------------------------------------------------------------------------
_quarks: dict[str, int] = {}
_quarks_lock = threading.Lock()


def nvds_get_user_meta_type(meta_descriptor: str) -> NvDsMetaType:
    """The meta type of a user meta descriptor ("ORG.COMPONENT.DESC").

    pyds computes ``g_quark_from_string(descriptor) + NVDS_START_USER_META``: the same string gives
    the same type within a process. Quarks are numbered here in order of first use (GLib's
    numbers depend on what the process interned before), so compare types, never hard-code them.
    """
    if not isinstance(meta_descriptor, str):
        raise PointerTypeError(
            f"nvds_get_user_meta_type takes a str descriptor, not {type(meta_descriptor).__name__}"
        )
    with _quarks_lock:
        quark = _quarks.get(meta_descriptor)
        if quark is None:
            quark = _quarks[meta_descriptor] = len(_quarks) + 1
    return NvDsMetaType(quark + NvDsMetaType.NVDS_START_USER_META)


# -- GList -------------------------------------------------------------------------------------
class GList:
    """A node of a metadata list as pyds exposes it: ``data`` (a pointer to cast), ``next`` and
    ``prev`` (None at the ends).

    The node refers to its element, not to a position, so taking ``next`` before removing the
    current element (as the seed app does) continues with the right one. Reading ``next`` of a
    node whose element was removed is an error (in C its node was freed).
    """

    __slots__ = ("_item", "_items", "_pos")

    def __init__(self, items: list[Any], pos: int) -> None:
        self._items = items
        self._pos = pos
        self._item = items[pos]

    def _index(self) -> int:
        items, pos = self._items, self._pos
        if pos < len(items) and items[pos] is self._item:
            return pos
        for i, item in enumerate(items):
            if item is self._item:
                self._pos = i
                return i
        raise cmemory.MemoryFault(
            f"GList: the {type(self._item).__name__} of this node was removed from its list, and the "
            "node with it",
            hint="read l.next before calling nvds_remove_* on l's element, as NVIDIA's samples do",
        )

    @property
    def data(self) -> Pointer:
        return Pointer(self._item)

    @property
    def next(self) -> GList | None:
        i = self._index() + 1
        return GList(self._items, i) if i < len(self._items) else None

    @property
    def prev(self) -> GList | None:
        i = self._index() - 1
        return GList(self._items, i) if i >= 0 else None

    def __repr__(self) -> str:
        return f"<pyds.GList object at 0x{id(self):x}>"


def _view(storage: str, doc: str) -> property:
    def get(self: Any) -> GList | None:
        items = self.__dict__[storage]
        return GList(items, 0) if items else None

    def set_(self: Any, value: Any) -> None:
        raise AttributeError(
            f"{type(self).__name__}: the list is changed with nvds_add_*/nvds_remove_*/nvds_clear_*, "
            "not by assigning it"
        )

    return property(get, set_, doc=doc)


class _ListMember(Plain):
    """A Python list behind a GList view (the compat names ``frames``/``objects``)."""

    def __init__(self) -> None:
        super().__init__(factory=list)

    def __set__(self, obj: Any, value: Any) -> None:
        obj.__dict__[self.name] = value if isinstance(value, list) else list(value)


def _counted(storage: str, ctype: str) -> property:
    """A count DeepStream keeps in step with a list (num_obj_meta, num_frames_in_batch,
    num_labels): read from the list; assigning the same number is accepted."""

    def get(self: Any) -> int:
        return len(self.__dict__[storage])

    def set_(self: Any, value: int) -> None:
        if value != len(self.__dict__[storage]):
            raise MetaError(
                f"{type(self).__name__}: this {ctype} count is kept equal to the length of its list "
                f"({len(self.__dict__[storage])}); got {value}",
                hint="add or remove elements with nvds_add_*/nvds_remove_*: the count follows",
            )

    return property(get, set_)


def _rect_member(name: str) -> property:
    """``ObjectMeta.left``/``top``/``width``/``height``: the elements' short names for the members of
    the object's ``rect_params``, read and written there (the box pyds apps see)."""

    def set_(self: Any, value: float) -> None:
        setattr(self.rect_params, name, value)

    return property(attrgetter(f"rect_params.{name}"), set_)


# -- structs -----------------------------------------------------------------------------------
class NvDsComp_BboxInfo(Struct):
    """A component's unclipped box (``org_bbox_coords``)."""

    org_bbox_coords = Embedded(NvBbox_Coords)


class NvDsBaseMeta(Struct):
    """What every meta starts with: its batch, its type and a user context pointer.

    The copy/release callbacks (not bound by pyds) are set with ``pyds.user_copyfunc`` /
    ``user_releasefunc`` / ``alloc_nvds_event_msg_meta(user_meta)`` or :func:`set_user_meta_callbacks`.
    """

    batch_meta = WeakRef("NvDsBatchMeta")
    meta_type = Enum(NvDsMetaType)
    uContext = VoidPointer()

    _not_emulated = {  # noqa: RUF012
        "copy_func": "not bound by pyds; use pyds.user_copyfunc",
        "release_func": "not bound by pyds; use pyds.user_releasefunc",
    }


def _base(meta_type: NvDsMetaType) -> Embedded:
    return Embedded(NvDsBaseMeta, meta_type=meta_type)


class NvDsMetaPool(Struct):
    """A batch's pool of one meta type.

    Pools grow as needed: ``num_full_elements`` counts the metas acquired and not yet released,
    ``max_elements_in_pool`` is the size the batch was created with or the high-water mark.
    """

    meta_type = Enum(NvDsMetaType)
    max_elements_in_pool = Int("guint")
    num_empty_elements = Int("guint")
    num_full_elements = Int("guint")

    _not_emulated = {  # noqa: RUF012
        "element_size": "the emulation has no C struct sizes",
        "empty_list": "pools do not keep spare elements here",
        "full_list": "pools do not keep their elements here",
    }

    def _take(self) -> None:
        d = self.__dict__
        d["num_full_elements"] += 1
        if d["num_full_elements"] > d["max_elements_in_pool"]:
            d["max_elements_in_pool"] = d["num_full_elements"]
        d["num_empty_elements"] = d["max_elements_in_pool"] - d["num_full_elements"]

    def _give_back(self) -> None:
        d = self.__dict__
        if d["num_full_elements"] > 0:
            d["num_full_elements"] -= 1
        d["num_empty_elements"] = d["max_elements_in_pool"] - d["num_full_elements"]


class NvDsUserMeta(Struct):
    """A user meta: ``base_meta.meta_type`` says what ``user_meta_data`` points to."""

    base_meta = _base(NvDsMetaType.NVDS_USER_META)
    user_meta_data = VoidPointer()


class NvDsLabelInfo(Struct):
    """One classifier result."""

    base_meta = _base(NvDsMetaType.NVDS_LABEL_INFO_META)
    num_classes = Int("guint")
    result_label = CharArray(MAX_LABEL_SIZE)
    pResult_label = CharPointer()
    result_class_id = Int("guint")
    label_id = Int("guint")
    result_prob = Float()


class NvDsClassifierMeta(Struct):
    """A classifier's results for an object (``label_info_list``)."""

    base_meta = _base(NvDsMetaType.NVDS_CLASSIFIER_META)
    unique_component_id = Int("gint", signed=True)
    _label_info = Plain(factory=list)
    label_info_list = _view("_label_info", "NvDsLabelInfo list")
    num_labels = _counted("_label_info", "num_labels")

    _not_emulated = {"classifier_type": "not bound by pyds"}  # noqa: RUF012


class _Counter(Int):
    """A display meta count: at most 16 (MAX_ELEMENTS_IN_DISPLAY_META)."""

    def __init__(self, what: str) -> None:
        super().__init__("guint")
        self.what = what

    def __set__(self, obj: Any, value: Any) -> None:
        number = self.convert(obj, value)
        if number > MAX_ELEMENTS_IN_DISPLAY_META:
            raise MetaError(
                f"NvDsDisplayMeta.{self.name} = {number}: a display meta holds at most "
                f"{MAX_ELEMENTS_IN_DISPLAY_META} {self.what} (MAX_ELEMENTS_IN_DISPLAY_META)",
                hint="acquire another display meta for the rest",
            )
        obj.__dict__[self.name] = number


class NvDsDisplayMeta(Struct):
    """What to draw on a frame besides its objects: up to 16 each of rectangles, labels, lines,
    arrows and circles (``num_*`` say how many of each array are used)."""

    base_meta = _base(NvDsMetaType.NVDS_DISPLAY_META)
    num_rects = _Counter("rects")
    num_labels = _Counter("labels")
    num_lines = _Counter("lines")
    num_arrows = _Counter("arrows")
    num_circles = _Counter("circles")
    rect_params = Array(NvOSD_RectParams, MAX_ELEMENTS_IN_DISPLAY_META)
    text_params = Array(NvOSD_TextParams, MAX_ELEMENTS_IN_DISPLAY_META)
    line_params = Array(NvOSD_LineParams, MAX_ELEMENTS_IN_DISPLAY_META)
    arrow_params = Array(NvOSD_ArrowParams, MAX_ELEMENTS_IN_DISPLAY_META)
    circle_params = Array(NvOSD_CircleParams, MAX_ELEMENTS_IN_DISPLAY_META)
    misc_osd_data = IntArray(MAX_USER_FIELDS)
    reserved = IntArray(MAX_RESERVED_FIELDS)

    def used(self, name: str) -> list[Any]:
        """The elements of ``rect_params``/``text_params``/… in use (``num_*`` of them), for the
        drawing element."""
        count = {
            "rect_params": "num_rects",
            "text_params": "num_labels",
            "line_params": "num_lines",
            "arrow_params": "num_arrows",
            "circle_params": "num_circles",
        }[name]
        array: Array = type(self).__dict__[name]
        return array.elements(self)[: self.__dict__[count]]


def _find_user_meta(items: list[NvDsUserMeta], meta_type: int) -> NvDsUserMeta | None:
    for user_meta in items:
        if user_meta.base_meta.__dict__["meta_type"] == meta_type:
            return user_meta
    return None


def _payload(user_meta: NvDsUserMeta) -> Any:
    return user_meta.__dict__.get("_p_user_meta_data")


def _meta_type_for(value: Any) -> int:
    """The user meta type a payload added through the compat views gets."""
    if isinstance(value, NvDsAnalyticsObjInfo):
        return nvds_get_user_meta_type(OBJ_USER_META)
    if isinstance(value, NvDsAnalyticsFrameMeta):
        return nvds_get_user_meta_type(FRAME_USER_META)
    return getattr(type(value), "nvds_meta_type", NvDsMetaType.NVDS_USER_META)


def _wrap(owner_batch: NvDsBatchMeta | None, value: Any) -> NvDsUserMeta:
    user_meta = nvds_acquire_user_meta_from_pool(owner_batch) if owner_batch is not None else NvDsUserMeta()
    user_meta.user_meta_data = value
    user_meta.base_meta.meta_type = _meta_type_for(value)
    return user_meta


def _set_single(owner: Any, storage: str, meta_type: int, value: Any) -> None:
    """Replace the user meta of ``meta_type`` in ``owner``'s list with one holding ``value``."""
    items: list[NvDsUserMeta] = owner.__dict__[storage]
    old = _find_user_meta(items, meta_type)
    if old is not None:
        items.remove(old)
        _release_user_meta(old)
    if value is not None:
        items.append(_wrap(_batch_of(owner), value))


class NvDsObjectMeta(Struct):
    """An object in a frame.

    Constructed directly (the elements' way, ``ObjectMeta(class_id, confidence, left, top, width,
    height, ...)``) an object starts untracked (``object_id`` = UNTRACKED_OBJECT_ID); acquired from
    a pool it starts zeroed as DeepStream's (set ``object_id`` explicitly, as nvinfer does).
    """

    base_meta = _base(NvDsMetaType.NVDS_OBJ_META)
    parent = Ref("NvDsObjectMeta")
    unique_component_id = Int("gint", signed=True)
    class_id = Int("gint", signed=True)
    object_id = Int("guint64", 64)
    detector_bbox_info = Embedded(NvDsComp_BboxInfo)
    tracker_bbox_info = Embedded(NvDsComp_BboxInfo)
    confidence = Float()
    tracker_confidence = Float()
    rect_params = Embedded(NvOSD_RectParams)
    mask_params = Embedded(NvOSD_MaskParams)
    text_params = Embedded(NvOSD_TextParams)
    obj_label = CharArray(MAX_LABEL_SIZE)
    _classifier_meta = Plain(factory=list)
    _obj_user_meta = Plain(factory=list)
    classifier_meta_list = _view("_classifier_meta", "NvDsClassifierMeta list")
    obj_user_meta_list = _view("_obj_user_meta", "NvDsUserMeta list")
    misc_obj_info = IntArray(MAX_USER_FIELDS)
    reserved = IntArray(MAX_RESERVED_FIELDS)

    def __init__(
        self,
        class_id: int = 0,
        confidence: float = 0.0,
        left: float = 0.0,
        top: float = 0.0,
        width: float = 0.0,
        height: float = 0.0,
        obj_label: str = "",
        object_id: int = UNTRACKED_OBJECT_ID,
        tracker_confidence: float = 0.0,
        unique_component_id: int = 0,
        analytics: NvDsAnalyticsObjInfo | None = None,
        **members: Any,
    ) -> None:
        super().__init__(
            class_id=class_id,
            confidence=confidence,
            object_id=object_id,
            tracker_confidence=tracker_confidence,
            unique_component_id=unique_component_id,
            **members,
        )
        if left or top or width or height:
            self.__dict__["rect_params"] = NvOSD_RectParams(left=left, top=top, width=width, height=height)
        if obj_label:
            self.obj_label = obj_label
        if analytics is not None:
            self.analytics = analytics

    # -- the elements' names -------------------------------------------------------------------
    left = _rect_member("left")
    top = _rect_member("top")
    width = _rect_member("width")
    height = _rect_member("height")

    @property
    def right(self) -> float:
        rect = self.rect_params
        return rect.left + rect.width

    @property
    def bottom(self) -> float:
        rect = self.rect_params
        return rect.top + rect.height

    @property
    def tracked(self) -> bool:
        return self.object_id != UNTRACKED_OBJECT_ID

    @property
    def analytics(self) -> NvDsAnalyticsObjInfo | None:
        """The NvDsAnalyticsObjInfo nvdsanalytics attached (None if none)."""
        items = self.__dict__["_obj_user_meta"]
        if not items:
            return None
        found = _find_user_meta(items, nvds_get_user_meta_type(OBJ_USER_META))
        return None if found is None else _payload(found)

    @analytics.setter
    def analytics(self, value: NvDsAnalyticsObjInfo | None) -> None:
        _set_single(self, "_obj_user_meta", nvds_get_user_meta_type(OBJ_USER_META), value)


class _UserMetaData(MutableSequence[Any]):
    """The ``user_meta_data`` of a frame's user metas, as a list (the elements' ``frame.user_meta``).

    Inserting a value wraps it in a user meta whose type follows the value
    (NvDsEventMsgMeta → NVDS_EVENT_MSG_META, NvDsPayload → NVDS_PAYLOAD_META, analytics metas →
    their user meta types, a class with an ``nvds_meta_type`` attribute → that, else
    NVDS_USER_META); deleting releases the user meta.
    """

    __slots__ = ("_frame",)

    def __init__(self, frame: NvDsFrameMeta) -> None:
        self._frame = frame

    @property
    def _items(self) -> list[NvDsUserMeta]:
        return self._frame.__dict__["_frame_user_meta"]

    def __len__(self) -> int:
        return len(self._items)

    @overload
    def __getitem__(self, index: int) -> Any: ...
    @overload
    def __getitem__(self, index: slice) -> list[Any]: ...
    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return [_payload(m) for m in self._items[index]]
        return _payload(self._items[index])

    def __setitem__(self, index: Any, value: Any) -> None:
        if isinstance(index, slice):
            old = self._items[index]
            self._items[index] = [_wrap(_batch_of(self._frame), v) for v in value]
        else:
            old = [self._items[index]]
            self._items[index] = _wrap(_batch_of(self._frame), value)
        for user_meta in old:
            _release_user_meta(user_meta)

    def __delitem__(self, index: Any) -> None:
        old = self._items[index] if isinstance(index, slice) else [self._items[index]]
        del self._items[index]
        for user_meta in old:
            _release_user_meta(user_meta)

    def insert(self, index: int, value: Any) -> None:
        self._items.insert(index, _wrap(_batch_of(self._frame), value))

    def __iter__(self) -> Iterator[Any]:
        return (_payload(m) for m in list(self._items))

    def __repr__(self) -> str:
        return repr(list(self))

    def __eq__(self, other: object) -> bool:
        return list(self) == other if isinstance(other, list | _UserMetaData) else NotImplemented


class NvDsFrameMeta(Struct):
    """A frame of a batch: its source, number and times, its objects, display and user metas.

    The constructor takes the elements' positional order (source_id, frame_num, ntp_timestamp,
    source_frame_width, source_frame_height, image, …); ``pad_index`` defaults to ``source_id``,
    as nvstreammux sets both from the sink pad. ``ntp_timestamp`` is the capture time in
    nanoseconds since the epoch (what ``attach-sys-ts`` gives).
    """

    base_meta = _base(NvDsMetaType.NVDS_FRAME_META)
    pad_index = Int("guint")
    batch_id = Int("guint")
    frame_num = Int("gint", signed=True)
    buf_pts = Int("guint64", 64)
    ntp_timestamp = Int("guint64", 64)
    source_id = Int("guint")
    num_surfaces_per_frame = Int("gint", signed=True)
    source_frame_width = Int("guint")
    source_frame_height = Int("guint")
    surface_type = Int("guint")
    surface_index = Int("guint")
    bInferDone = Int("gboolean", signed=True)
    objects = _ListMember()
    _display_meta = Plain(factory=list)
    _frame_user_meta = Plain(factory=list)
    obj_meta_list = _view("objects", "NvDsObjectMeta list")
    display_meta_list = _view("_display_meta", "NvDsDisplayMeta list")
    frame_user_meta_list = _view("_frame_user_meta", "NvDsUserMeta list")
    num_obj_meta = _counted("objects", "num_obj_meta")
    misc_frame_info = IntArray(MAX_USER_FIELDS)
    reserved = IntArray(MAX_RESERVED_FIELDS)
    # the Python runtime's own (see the module docstring)
    image = Plain(None)
    decode_time = Plain(0.0)
    latency = Plain(factory=list)

    _not_emulated = {  # noqa: RUF012
        "pipeline_width": "not bound by pyds",
        "pipeline_height": "not bound by pyds",
    }

    def __init__(
        self,
        source_id: int = 0,
        frame_num: int = 0,
        ntp_timestamp: int = 0,
        source_frame_width: int = 0,
        source_frame_height: int = 0,
        image: Any = None,
        buf_pts: int = 0,
        batch_id: int = 0,
        objects: Iterable[NvDsObjectMeta] | None = None,
        analytics: NvDsAnalyticsFrameMeta | None = None,
        user_meta: Iterable[Any] | None = None,
        decode_time: float = 0.0,
        latency: list[tuple[str, float, float]] | None = None,
        **members: Any,
    ) -> None:
        members.setdefault("pad_index", source_id)
        super().__init__(
            source_id=source_id,
            frame_num=frame_num,
            ntp_timestamp=ntp_timestamp,
            source_frame_width=source_frame_width,
            source_frame_height=source_frame_height,
            buf_pts=buf_pts,
            batch_id=batch_id,
            **members,
        )
        d = self.__dict__
        d["image"] = image
        d["decode_time"] = decode_time
        if latency is not None:
            d["latency"] = latency
        if objects is not None:
            self.objects = objects
        if analytics is not None:
            self.analytics = analytics
        if user_meta is not None:
            self.user_meta.extend(user_meta)

    @property
    def user_meta(self) -> _UserMetaData:
        return _UserMetaData(self)

    @user_meta.setter
    def user_meta(self, values: Iterable[Any]) -> None:
        view = _UserMetaData(self)
        values = list(values)
        del view[:]
        view.extend(values)

    @property
    def analytics(self) -> NvDsAnalyticsFrameMeta | None:
        """The NvDsAnalyticsFrameMeta nvdsanalytics attached (None if none)."""
        found = _find_user_meta(self.__dict__["_frame_user_meta"], nvds_get_user_meta_type(FRAME_USER_META))
        return None if found is None else _payload(found)

    @analytics.setter
    def analytics(self, value: NvDsAnalyticsFrameMeta | None) -> None:
        _set_single(self, "_frame_user_meta", nvds_get_user_meta_type(FRAME_USER_META), value)


class NvDsBatchMeta(Struct):
    """A batch: its frames (``frames`` is the list behind ``frame_meta_list``), batch-level user
    metas and the pools metas are acquired from.

    ``BatchMeta(frames, max_frames_in_batch)`` is the elements' constructor; the frames' base meta
    then points at this batch. Pools are created on first use when the batch was not made with
    :func:`nvds_create_batch_meta`.
    """

    base_meta = _base(NvDsMetaType.NVDS_BATCH_META)
    max_frames_in_batch = Int("guint")
    frames = _ListMember()
    _batch_user_meta = Plain(factory=list)
    frame_meta_list = _view("frames", "NvDsFrameMeta list")
    batch_user_meta_list = _view("_batch_user_meta", "NvDsUserMeta list")
    num_frames_in_batch = _counted("frames", "num_frames_in_batch")
    frame_meta_pool = Ref("NvDsMetaPool")
    obj_meta_pool = Ref("NvDsMetaPool")
    classifier_meta_pool = Ref("NvDsMetaPool")
    display_meta_pool = Ref("NvDsMetaPool")
    user_meta_pool = Ref("NvDsMetaPool")
    label_info_meta_pool = Ref("NvDsMetaPool")
    misc_batch_info = IntArray(MAX_USER_FIELDS)
    reserved = IntArray(MAX_RESERVED_FIELDS)

    _not_emulated = {"meta_mutex": "use pyds.nvds_acquire_meta_lock / nvds_release_meta_lock"}  # noqa: RUF012

    def __del__(self) -> None:
        # DeepStream releases a batch's user metas when the buffer carrying it is freed; here that
        # is when the last reference to the batch goes (the carrier holds one per buffer)
        if "frames" in self.__dict__:
            _release_on_free(self)

    def __init__(
        self, frames: Iterable[NvDsFrameMeta] | None = None, max_frames_in_batch: int = 0, **members: Any
    ) -> None:
        super().__init__(max_frames_in_batch=max_frames_in_batch, **members)
        self.base_meta.batch_meta = self
        if frames is not None:
            self.frames = frames
            for frame in self.frames:
                frame.base_meta.batch_meta = self


# -- ownership ---------------------------------------------------------------------------------
def _batch_of(meta: Any) -> NvDsBatchMeta | None:
    base = meta.__dict__.get("base_meta")
    return None if base is None else base.batch_meta


_POOLS = {
    "frame_meta_pool": NvDsMetaType.NVDS_FRAME_META,
    "obj_meta_pool": NvDsMetaType.NVDS_OBJ_META,
    "classifier_meta_pool": NvDsMetaType.NVDS_CLASSIFIER_META,
    "display_meta_pool": NvDsMetaType.NVDS_DISPLAY_META,
    "user_meta_pool": NvDsMetaType.NVDS_USER_META,
    "label_info_meta_pool": NvDsMetaType.NVDS_LABEL_INFO_META,
}
_POOL_OF = {
    NvDsFrameMeta: "frame_meta_pool",
    NvDsObjectMeta: "obj_meta_pool",
    NvDsClassifierMeta: "classifier_meta_pool",
    NvDsDisplayMeta: "display_meta_pool",
    NvDsUserMeta: "user_meta_pool",
    NvDsLabelInfo: "label_info_meta_pool",
}


def _pool(batch: NvDsBatchMeta, name: str, size: int = 0) -> NvDsMetaPool:
    pool = batch.__dict__[name]
    if pool is None:
        pool = NvDsMetaPool(meta_type=_POOLS[name], max_elements_in_pool=size, num_empty_elements=size)
        batch.__dict__[name] = pool
    return pool


def _acquire(batch: NvDsBatchMeta, cls: type[Any], what: str) -> Any:
    if not isinstance(batch, NvDsBatchMeta):
        raise PointerTypeError(f"{what}(batch_meta): expected an NvDsBatchMeta, got {type(batch).__name__}")
    _pool(batch, _POOL_OF[cls])._take()
    meta = cls.__new__(cls)
    Struct.__init__(meta)
    meta.base_meta.batch_meta = batch
    meta.__dict__["_c_pooled"] = True
    return meta


def _give_back(meta: Any) -> None:
    d = meta.__dict__
    if d.pop("_c_pooled", False):
        batch = _batch_of(meta)
        if batch is not None:
            _pool(batch, _POOL_OF[type(meta)])._give_back()
    cmemory.mark_freed(meta)


def _release_user_meta(user_meta: NvDsUserMeta) -> None:
    release = user_meta.__dict__.pop("_release_func", None)
    if release is not None:
        release(Pointer(user_meta), None)
    _give_back(user_meta)


def _release_on_free(batch: NvDsBatchMeta) -> None:
    """Call the release callbacks of a freed batch's user metas (each once). A user meta that
    belongs to another batch (shared by a shallow frame copy) is left to that batch."""
    state = batch.__dict__
    user_metas = list(state["_batch_user_meta"])
    for frame in state["frames"]:
        d = frame.__dict__
        user_metas += d["_frame_user_meta"]
        for obj in d["objects"]:
            user_metas += obj.__dict__["_obj_user_meta"]
    for user_meta in user_metas:
        owner = _batch_of(user_meta)
        if user_meta.__dict__.get("_release_func") is not None and (owner is None or owner is batch):
            release = user_meta.__dict__.pop("_release_func")
            release(Pointer(user_meta), None)


def _release_object(obj: NvDsObjectMeta) -> None:
    d = obj.__dict__
    for classifier in d["_classifier_meta"]:
        _release_classifier(classifier)
    d["_classifier_meta"] = []
    for user_meta in d["_obj_user_meta"]:
        _release_user_meta(user_meta)
    d["_obj_user_meta"] = []
    _give_back(obj)


def _release_classifier(classifier: NvDsClassifierMeta) -> None:
    for label in classifier.__dict__["_label_info"]:
        _give_back(label)
    classifier.__dict__["_label_info"] = []
    _give_back(classifier)


def _release_frame(frame: NvDsFrameMeta) -> None:
    d = frame.__dict__
    for obj in d["objects"]:
        _release_object(obj)
    d["objects"] = []
    for display in d["_display_meta"]:
        _give_back(display)
    d["_display_meta"] = []
    for user_meta in d["_frame_user_meta"]:
        _release_user_meta(user_meta)
    d["_frame_user_meta"] = []
    _give_back(frame)


def _remove(items: list[Any], meta: Any, call: str, where: str) -> None:
    for i, item in enumerate(items):
        if item is meta:
            del items[i]
            return
    raise MetaError(
        f"{call}: the {type(meta).__name__} is not in the {where} (removed already, or added elsewhere)",
        hint="remove a meta once, from the list it was added to",
    )


def _check(value: Any, cls: type[Any], call: str, arg: str) -> None:
    if not isinstance(value, cls):
        raise PointerTypeError(f"{call}: {arg} must be an {cls.__name__}, got {type(value).__name__}")


# -- DeepStream's functions ----------------------------------------------------------------------
def nvds_create_batch_meta(max_batch_size: int) -> NvDsBatchMeta:
    """A batch for up to ``max_batch_size`` frames, with its pools."""
    batch = NvDsBatchMeta(max_frames_in_batch=max_batch_size)
    for name in _POOLS:
        _pool(batch, name, max_batch_size)
    return batch


def nvds_destroy_batch_meta(batch_meta: NvDsBatchMeta) -> bool:
    """Release every meta of the batch, calling the user metas' release callbacks.

    DeepStream does this when the GstBuffer carrying the batch is freed.
    """
    _check(batch_meta, NvDsBatchMeta, "nvds_destroy_batch_meta", "batch_meta")
    d = batch_meta.__dict__
    with _meta_lock(batch_meta):
        for frame in d["frames"]:
            _release_frame(frame)
        d["frames"] = []
        for user_meta in d["_batch_user_meta"]:
            _release_user_meta(user_meta)
        d["_batch_user_meta"] = []
    return True


_lock_creation = threading.Lock()


def _meta_lock(batch_meta: NvDsBatchMeta) -> threading.RLock:
    """The batch's GRecMutex, made on first use (most batches are never locked)."""
    lock = batch_meta.__dict__.get("_lock")
    if lock is None:
        with _lock_creation:
            lock = batch_meta.__dict__.setdefault("_lock", threading.RLock())
    return lock


def nvds_acquire_meta_lock(batch_meta: NvDsBatchMeta) -> None:
    """Lock the batch's metadata against other threads (recursive, as GRecMutex)."""
    _meta_lock(batch_meta).acquire()


def nvds_release_meta_lock(batch_meta: NvDsBatchMeta) -> None:
    _meta_lock(batch_meta).release()


def nvds_acquire_frame_meta_from_pool(batch_meta: NvDsBatchMeta) -> NvDsFrameMeta:
    return _acquire(batch_meta, NvDsFrameMeta, "nvds_acquire_frame_meta_from_pool")


def nvds_add_frame_meta_to_batch(batch_meta: NvDsBatchMeta, frame_meta: NvDsFrameMeta) -> None:
    _check(frame_meta, NvDsFrameMeta, "nvds_add_frame_meta_to_batch", "frame_meta")
    frame_meta.base_meta.batch_meta = batch_meta
    batch_meta.frames.append(frame_meta)


def nvds_remove_frame_meta_from_batch(batch_meta: NvDsBatchMeta, frame_meta: NvDsFrameMeta) -> None:
    _remove(batch_meta.frames, frame_meta, "nvds_remove_frame_meta_from_batch", "batch's frame_meta_list")
    _release_frame(frame_meta)


def nvds_acquire_obj_meta_from_pool(batch_meta: NvDsBatchMeta) -> NvDsObjectMeta:
    """A zeroed object meta (``object_id`` 0, as DeepStream's pool gives it)."""
    return _acquire(batch_meta, NvDsObjectMeta, "nvds_acquire_obj_meta_from_pool")


def nvds_add_obj_meta_to_frame(
    frame_meta: NvDsFrameMeta, obj_meta: NvDsObjectMeta, obj_parent: NvDsObjectMeta | None = None
) -> None:
    _check(frame_meta, NvDsFrameMeta, "nvds_add_obj_meta_to_frame", "frame_meta")
    _check(obj_meta, NvDsObjectMeta, "nvds_add_obj_meta_to_frame", "obj_meta")
    obj_meta.parent = obj_parent
    if _batch_of(obj_meta) is None:
        obj_meta.base_meta.batch_meta = _batch_of(frame_meta)
    frame_meta.__dict__["objects"].append(obj_meta)


def nvds_remove_obj_meta_from_frame(frame_meta: NvDsFrameMeta, obj_meta: NvDsObjectMeta) -> None:
    """Take the object out of the frame and release it (its classifier and user metas too)."""
    _check(frame_meta, NvDsFrameMeta, "nvds_remove_obj_meta_from_frame", "frame_meta")
    _remove(
        frame_meta.__dict__["objects"], obj_meta, "nvds_remove_obj_meta_from_frame", "frame's obj_meta_list"
    )
    _release_object(obj_meta)


def nvds_acquire_classifier_meta_from_pool(batch_meta: NvDsBatchMeta) -> NvDsClassifierMeta:
    return _acquire(batch_meta, NvDsClassifierMeta, "nvds_acquire_classifier_meta_from_pool")


def nvds_add_classifier_meta_to_object(obj_meta: NvDsObjectMeta, classifier_meta: NvDsClassifierMeta) -> None:
    _check(classifier_meta, NvDsClassifierMeta, "nvds_add_classifier_meta_to_object", "classifier_meta")
    obj_meta.__dict__["_classifier_meta"].append(classifier_meta)


def nvds_remove_classifier_meta_from_obj(
    obj_meta: NvDsObjectMeta, classifier_meta: NvDsClassifierMeta
) -> None:
    _remove(
        obj_meta.__dict__["_classifier_meta"],
        classifier_meta,
        "nvds_remove_classifier_meta_from_obj",
        "object's classifier_meta_list",
    )
    _release_classifier(classifier_meta)


def nvds_acquire_label_info_meta_from_pool(batch_meta: NvDsBatchMeta) -> NvDsLabelInfo:
    return _acquire(batch_meta, NvDsLabelInfo, "nvds_acquire_label_info_meta_from_pool")


def nvds_add_label_info_meta_to_classifier(
    classifier_meta: NvDsClassifierMeta, label_info_meta: NvDsLabelInfo
) -> None:
    _check(label_info_meta, NvDsLabelInfo, "nvds_add_label_info_meta_to_classifier", "label_info_meta")
    classifier_meta.__dict__["_label_info"].append(label_info_meta)


def nvds_remove_label_info_meta_from_classifier(
    classifier_meta: NvDsClassifierMeta, label_info_meta: NvDsLabelInfo
) -> None:
    _remove(
        classifier_meta.__dict__["_label_info"],
        label_info_meta,
        "nvds_remove_label_info_meta_from_classifier",
        "classifier's label_info_list",
    )
    _give_back(label_info_meta)


def nvds_acquire_display_meta_from_pool(batch_meta: NvDsBatchMeta) -> NvDsDisplayMeta:
    return _acquire(batch_meta, NvDsDisplayMeta, "nvds_acquire_display_meta_from_pool")


def nvds_add_display_meta_to_frame(frame_meta: NvDsFrameMeta, display_meta: NvDsDisplayMeta) -> None:
    _check(display_meta, NvDsDisplayMeta, "nvds_add_display_meta_to_frame", "display_meta")
    frame_meta.__dict__["_display_meta"].append(display_meta)


def nvds_remove_display_meta_from_frame(frame_meta: NvDsFrameMeta, display_meta: NvDsDisplayMeta) -> None:
    _remove(
        frame_meta.__dict__["_display_meta"],
        display_meta,
        "nvds_remove_display_meta_from_frame",
        "frame's display_meta_list",
    )
    _give_back(display_meta)


def nvds_acquire_user_meta_from_pool(batch_meta: NvDsBatchMeta) -> NvDsUserMeta:
    return _acquire(batch_meta, NvDsUserMeta, "nvds_acquire_user_meta_from_pool")


def nvds_add_user_meta_to_batch(batch_meta: NvDsBatchMeta, user_meta: NvDsUserMeta) -> None:
    _check(user_meta, NvDsUserMeta, "nvds_add_user_meta_to_batch", "user_meta")
    batch_meta.__dict__["_batch_user_meta"].append(user_meta)


def nvds_add_user_meta_to_frame(frame_meta: NvDsFrameMeta, user_meta: NvDsUserMeta) -> None:
    _check(frame_meta, NvDsFrameMeta, "nvds_add_user_meta_to_frame", "frame_meta")
    _check(user_meta, NvDsUserMeta, "nvds_add_user_meta_to_frame", "user_meta")
    frame_meta.__dict__["_frame_user_meta"].append(user_meta)


def nvds_add_user_meta_to_obj(obj_meta: NvDsObjectMeta, user_meta: NvDsUserMeta) -> None:
    _check(obj_meta, NvDsObjectMeta, "nvds_add_user_meta_to_obj", "obj_meta")
    _check(user_meta, NvDsUserMeta, "nvds_add_user_meta_to_obj", "user_meta")
    obj_meta.__dict__["_obj_user_meta"].append(user_meta)


def nvds_remove_user_meta_from_batch(batch_meta: NvDsBatchMeta, user_meta: NvDsUserMeta) -> None:
    _remove(
        batch_meta.__dict__["_batch_user_meta"],
        user_meta,
        "nvds_remove_user_meta_from_batch",
        "batch's batch_user_meta_list",
    )
    _release_user_meta(user_meta)


def nvds_remove_user_meta_from_frame(frame_meta: NvDsFrameMeta, user_meta: NvDsUserMeta) -> None:
    _remove(
        frame_meta.__dict__["_frame_user_meta"],
        user_meta,
        "nvds_remove_user_meta_from_frame",
        "frame's frame_user_meta_list",
    )
    _release_user_meta(user_meta)


def nvds_remove_user_meta_from_object(obj_meta: NvDsObjectMeta, user_meta: NvDsUserMeta) -> None:
    _remove(
        obj_meta.__dict__["_obj_user_meta"],
        user_meta,
        "nvds_remove_user_meta_from_object",
        "object's obj_user_meta_list",
    )
    _release_user_meta(user_meta)


def set_user_meta_callbacks(
    user_meta: NvDsUserMeta,
    copy_func: Callable[[Any, Any], Any] | None,
    release_func: Callable[[Any, Any], None] | None,
) -> None:
    """Set a user meta's copy and release callbacks (``base_meta.copy_func``/``release_func`` in C).

    Both are called with (a pointer to the user meta, None); ``copy_func`` returns the copy's
    ``user_meta_data``.
    """
    d = user_meta.__dict__
    d["_copy_func"] = copy_func
    d["_release_func"] = release_func


def _items_from(node: GList | None, call: str) -> list[Any]:
    if node is None:
        return []
    if not isinstance(node, GList):
        raise PointerTypeError(f"{call}: expected a list (GList) or None, got {type(node).__name__}")
    return node._items[node._index() :]


def _owner_list(node: GList | None, items: list[Any], call: str) -> None:
    if node is not None and node._items is not items:
        raise MetaError(f"{call}: the list given is not this meta's own list")


def nvds_clear_frame_meta_list(batch_meta: NvDsBatchMeta, meta_list: GList | None) -> None:
    """Release all frames of the batch (``meta_list`` is its ``frame_meta_list``)."""
    _owner_list(meta_list, batch_meta.frames, "nvds_clear_frame_meta_list")
    for frame in batch_meta.frames:
        _release_frame(frame)
    batch_meta.frames = []


def nvds_clear_obj_meta_list(frame_meta: NvDsFrameMeta, meta_list: GList | None) -> None:
    _owner_list(meta_list, frame_meta.objects, "nvds_clear_obj_meta_list")
    for obj in frame_meta.objects:
        _release_object(obj)
    frame_meta.objects = []


def nvds_clear_display_meta_list(frame_meta: NvDsFrameMeta, meta_list: GList | None) -> None:
    items = frame_meta.__dict__["_display_meta"]
    _owner_list(meta_list, items, "nvds_clear_display_meta_list")
    for display in items:
        _give_back(display)
    frame_meta.__dict__["_display_meta"] = []


def _clear_user_metas(owner: Any, storage: str, meta_list: GList | None, call: str) -> None:
    items = owner.__dict__[storage]
    _owner_list(meta_list, items, call)
    for user_meta in items:
        _release_user_meta(user_meta)
    owner.__dict__[storage] = []


def nvds_clear_batch_user_meta_list(batch_meta: NvDsBatchMeta, meta_list: GList | None) -> None:
    _clear_user_metas(batch_meta, "_batch_user_meta", meta_list, "nvds_clear_batch_user_meta_list")


def nvds_clear_frame_user_meta_list(frame_meta: NvDsFrameMeta, meta_list: GList | None) -> None:
    _clear_user_metas(frame_meta, "_frame_user_meta", meta_list, "nvds_clear_frame_user_meta_list")


def nvds_clear_obj_user_meta_list(object_meta: NvDsObjectMeta, meta_list: GList | None) -> None:
    _clear_user_metas(object_meta, "_obj_user_meta", meta_list, "nvds_clear_obj_user_meta_list")


def nvds_get_nth_frame_meta(frame_meta_list: GList | None, index: int) -> NvDsFrameMeta | None:
    items = _items_from(frame_meta_list, "nvds_get_nth_frame_meta")
    return items[index] if 0 <= index < len(items) else None


# -- copies --------------------------------------------------------------------------------------
def _copy_user_meta(src: NvDsUserMeta, batch: NvDsBatchMeta | None) -> NvDsUserMeta:
    """A user meta for ``batch`` whose data is what the source's copy callback returns (the same
    data when it has none)."""
    dst = nvds_acquire_user_meta_from_pool(batch) if batch is not None else NvDsUserMeta()
    s = src.__dict__
    dst.base_meta.meta_type = src.base_meta.meta_type
    dst.__dict__["_p_uContext"] = src.base_meta.__dict__.get("_p_uContext")
    copy_func = s.get("_copy_func")
    data = copy_func(Pointer(src), None) if copy_func is not None else _payload(src)
    dst.user_meta_data = data
    set_user_meta_callbacks(dst, copy_func, s.get("_release_func"))
    return dst


def _copy_plain(src: Any, batch: NvDsBatchMeta | None, lists: tuple[str, ...]) -> Any:
    dst = src._c_memcpy()
    dst.__dict__.pop("_c_pooled", None)
    if batch is not None:
        _pool(batch, _POOL_OF[type(src)])._take()
        dst.__dict__["_c_pooled"] = True
    dst.base_meta.batch_meta = batch
    for name in lists:
        dst.__dict__[name] = []
    return dst


def _copy_object(src: NvDsObjectMeta, batch: NvDsBatchMeta | None) -> NvDsObjectMeta:
    dst = _copy_plain(src, batch, ("_classifier_meta", "_obj_user_meta"))
    for classifier in src.__dict__["_classifier_meta"]:
        copied = _copy_plain(classifier, batch, ("_label_info",))
        copied.__dict__["_label_info"] = [
            _copy_plain(label, batch, ()) for label in classifier.__dict__["_label_info"]
        ]
        dst.__dict__["_classifier_meta"].append(copied)
    dst.__dict__["_obj_user_meta"] = [_copy_user_meta(m, batch) for m in src.__dict__["_obj_user_meta"]]
    return dst


def _copy_objects(sources: list[NvDsObjectMeta], batch: NvDsBatchMeta | None) -> list[NvDsObjectMeta]:
    copies = [_copy_object(obj, batch) for obj in sources]
    by_source = {id(s): c for s, c in zip(sources, copies, strict=True)}
    for copied in copies:
        parent = copied.__dict__["parent"]
        if parent is not None:
            copied.__dict__["parent"] = by_source.get(id(parent), parent)
    return copies


def _copy_frame(src: NvDsFrameMeta, batch: NvDsBatchMeta | None) -> NvDsFrameMeta:
    dst = _copy_plain(src, batch, ("objects", "_display_meta", "_frame_user_meta"))
    d, s = dst.__dict__, src.__dict__
    d["latency"] = list(s["latency"])
    d["objects"] = _copy_objects(s["objects"], batch)
    d["_display_meta"] = [_copy_plain(m, batch, ()) for m in s["_display_meta"]]
    d["_frame_user_meta"] = [_copy_user_meta(m, batch) for m in s["_frame_user_meta"]]
    return dst


def nvds_copy_batch_user_meta_list(src_user_meta_list: GList | None, dst_batch_meta: NvDsBatchMeta) -> None:
    for user_meta in _items_from(src_user_meta_list, "nvds_copy_batch_user_meta_list"):
        dst_batch_meta.__dict__["_batch_user_meta"].append(_copy_user_meta(user_meta, dst_batch_meta))


def nvds_copy_frame_user_meta_list(src_user_meta_list: GList | None, dst_frame_meta: NvDsFrameMeta) -> None:
    batch = _batch_of(dst_frame_meta)
    for user_meta in _items_from(src_user_meta_list, "nvds_copy_frame_user_meta_list"):
        dst_frame_meta.__dict__["_frame_user_meta"].append(_copy_user_meta(user_meta, batch))


def nvds_copy_obj_user_meta_list(src_user_meta_list: GList | None, dst_object_meta: NvDsObjectMeta) -> None:
    batch = _batch_of(dst_object_meta)
    for user_meta in _items_from(src_user_meta_list, "nvds_copy_obj_user_meta_list"):
        dst_object_meta.__dict__["_obj_user_meta"].append(_copy_user_meta(user_meta, batch))


def nvds_copy_display_meta_list(src_display_meta: GList | None, dst_frame_meta: NvDsFrameMeta) -> None:
    batch = _batch_of(dst_frame_meta)
    for display in _items_from(src_display_meta, "nvds_copy_display_meta_list"):
        dst_frame_meta.__dict__["_display_meta"].append(_copy_plain(display, batch, ()))


def nvds_copy_obj_meta_list(src_obj_meta_list: GList | None, dst_frame_meta: NvDsFrameMeta) -> None:
    batch = _batch_of(dst_frame_meta)
    sources = _items_from(src_obj_meta_list, "nvds_copy_obj_meta_list")
    dst_frame_meta.objects.extend(_copy_objects(sources, batch))


def nvds_copy_frame_meta_list(src_frame_meta_list: GList | None, dst_batch_meta: NvDsBatchMeta) -> None:
    for frame in _items_from(src_frame_meta_list, "nvds_copy_frame_meta_list"):
        dst_batch_meta.frames.append(_copy_frame(frame, dst_batch_meta))


def copy_batch_meta(batch_meta: NvDsBatchMeta) -> NvDsBatchMeta:
    """A deep copy of a batch, each user meta copied with its copy callback (what DeepStream
    does when a buffer's metadata is copied to another buffer)."""
    dst = nvds_create_batch_meta(batch_meta.max_frames_in_batch)
    nvds_copy_frame_meta_list(batch_meta.frame_meta_list, dst)
    nvds_copy_batch_user_meta_list(batch_meta.batch_user_meta_list, dst)
    return dst


def nvds_batch_meta_copy_func(data: Any, user_data: Any = None) -> Pointer:
    """The GstMeta copy function of a batch meta: a pointer to a deep copy."""
    batch = NvDsBatchMeta.cast(data)
    return Pointer(copy_batch_meta(batch))


def nvds_batch_meta_release_func(data: Any, user_data: Any = None) -> None:
    """The GstMeta release function of a batch meta."""
    nvds_destroy_batch_meta(NvDsBatchMeta.cast(data))


def nvds_get_current_metadata_info(batch_meta: NvDsBatchMeta) -> bool:
    """Print the batch's pools (DeepStream's debugging aid); True."""
    lines = []
    for name in _POOLS:
        pool = batch_meta.__dict__[name]
        if pool is not None:
            lines.append(
                f"{name}: {pool.num_full_elements} in use, {pool.num_empty_elements} free "
                f"of {pool.max_elements_in_pool}"
            )
    print("\n".join(lines) if lines else "batch meta has no pools", flush=True)
    return True


#: the names the emulated elements use
BatchMeta = NvDsBatchMeta
FrameMeta = NvDsFrameMeta
ObjectMeta = NvDsObjectMeta
