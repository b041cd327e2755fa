"""What every emulated DeepStream element shares: its property table, its errors, its filter base.

Properties are declared once, in a compact table (:class:`Prop`) with DeepStream's names, types,
defaults, ranges and blurbs as ``gst-inspect-1.0`` shows them on a Jetson; the table becomes the
GObject properties and the generic get/set. A property value the emulation does not reproduce is
never silently accepted: the element remembers it and, when it starts (or at once if it runs),
posts a GStreamer ERROR naming the element, the property and docs/deepstream/supported.md, the way a
DeepStream element refuses a setting it cannot honour.

:class:`DeepStreamFilter` is the in-place ``GstBase.BaseTransform`` base of the metadata elements
(nvinfer, nvtracker, nvdsanalytics, nvdsosd, nvmsgconv …): NVMM caps on both pads, the batch meta of
each buffer handed to :meth:`DeepStreamFilter.process_batch`.
"""

from __future__ import annotations

import ctypes
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar

from fake_device.deepstream.gst.caps import nvmm_caps
from fake_device.deepstream.gst.carrier import batch_meta_of
from fake_device.deepstream.gst.runtime import GLib, GObject, Gst, GstBase
from fake_device.deepstream.gst.surface import FrameLayout, Surface, SurfaceError, map_surface

SUPPORTED_DOC = "docs/deepstream/supported.md"

UINT_MAX = GLib.MAXUINT
INT_MAX = GLib.MAXINT
UINT64_MAX = GLib.MAXUINT64

_READWRITE = GObject.ParamFlags.READWRITE

# -- enum types ----------------------------------------------------------------------------------


class _GEnumValue(ctypes.Structure):
    _fields_ = (("value", ctypes.c_int), ("value_name", ctypes.c_char_p), ("value_nick", ctypes.c_char_p))


_gobject = ctypes.CDLL("libgobject-2.0.so.0")
_gobject.g_enum_register_static.restype = ctypes.c_size_t
_gobject.g_enum_register_static.argtypes = (ctypes.c_char_p, ctypes.c_void_p)
_enum_tables: dict[str, Any] = {}  # GLib keeps pointers into these arrays for the process's life
_enum_lock = threading.Lock()


def enum_type(name: str, values: tuple[tuple[int, str, str], ...]) -> GObject.GType:
    """The GEnum type ``name`` with ``(value, name, nick)`` entries, registered once per process.

    DeepStream declares enum properties (``nvbuf-memory-type``, ``compute-hw`` …); apps set them with
    integers and gst-launch lines with nicks or numbers, and GObject accepts both for an enum type.
    """
    with _enum_lock:
        try:
            return GObject.type_from_name(name)  # registered already (PyGObject raises if not)
        except RuntimeError:
            pass
        entries = [_GEnumValue(v, n.encode(), k.encode()) for v, n, k in values]
        table = (_GEnumValue * (len(entries) + 1))(*entries, _GEnumValue(0, None, None))
        _enum_tables[name] = table
        _gobject.g_enum_register_static(name.encode(), ctypes.addressof(table))
        return GObject.type_from_name(name)


# The enums DeepStream's elements share (nvbufsurface.h, gst-nvcommon).
MEMORY_TYPES = (
    (0, "Default memory allocated, specific to particular platform", "nvbuf-mem-default"),
    (1, "Allocate Pinned/Host cuda memory", "nvbuf-mem-cuda-pinned"),
    (2, "Allocate Device cuda memory", "nvbuf-mem-cuda-device"),
    (3, "Allocate Unified cuda memory", "nvbuf-mem-cuda-unified"),
    (4, "Allocate Surface Array memory, applicable for Jetson", "nvbuf-mem-surface-array"),
)
COMPUTE_HW = (
    (0, "Default, GPU for Tesla, VIC for Jetson", "Default"),
    (1, "GPU", "GPU"),
    (2, "VIC", "VIC"),
)
CUDADEC_MEMTYPES = (
    (0, "Memory type Device", "memtype_device"),
    (1, "Memory type Host Pinned", "memtype_pinned"),
    (2, "Memory type Unified", "memtype_unified"),
)
INTERPOLATION_METHODS = (
    (0, "Nearest", "Nearest"),
    (1, "Bilinear", "Bilinear"),
    (2, "GPU - Cubic, VIC - 5 Tap", "Algo-1"),
    (3, "GPU - Super, VIC - 10 Tap", "Algo-2"),
    (4, "GPU - Lanczos, VIC - Smart", "Algo-3"),
    (5, "GPU - Ignored, VIC - Nicest", "Algo-4"),
    (6, "GPU - Nearest, VIC - Nearest", "Default"),
)


def memory_type_enum() -> GObject.GType:
    return enum_type("GstNvBufMemoryType", MEMORY_TYPES)


def compute_hw_enum() -> GObject.GType:
    return enum_type("GstNvComputeHWType", COMPUTE_HW)


def interpolation_enum() -> GObject.GType:
    return enum_type("GstNvInterpolationMethod", INTERPOLATION_METHODS)


# -- property tables -----------------------------------------------------------------------------

_NUMERIC = {
    "uint": GObject.TYPE_UINT,
    "int": GObject.TYPE_INT,
    "uint64": GObject.TYPE_UINT64,
    "int64": GObject.TYPE_INT64,
    "float": GObject.TYPE_FLOAT,
    "double": GObject.TYPE_DOUBLE,
}


@dataclass(frozen=True)
class Prop:
    """One GObject property as DeepStream declares it.

    ``kind`` is uint, int, uint64, int64, float, double, bool, string, or ``enum`` with ``enum``
    the GType. ``supported`` says whether the emulation reproduces a value (None: every value);
    ``unsupported`` explains what a refused value would need.
    """

    name: str
    kind: str
    default: Any
    blurb: str
    minimum: Any = None
    maximum: Any = None
    enum: Any = None
    supported: Callable[[Any], bool] | None = None
    unsupported: str = "this value is not emulated"
    writable: bool = True

    def pspec(self) -> tuple[Any, ...]:
        nick = self.name.replace("-", " ").title()
        flags = _READWRITE if self.writable else GObject.ParamFlags.READABLE
        if self.kind == "bool":
            return (GObject.TYPE_BOOLEAN, nick, self.blurb, self.default, flags)
        if self.kind == "string":
            return (GObject.TYPE_STRING, nick, self.blurb, self.default, flags)
        if self.kind == "enum":
            return (self.enum, nick, self.blurb, self.default, flags)
        if self.kind in _NUMERIC:
            return (_NUMERIC[self.kind], nick, self.blurb, self.minimum, self.maximum, self.default, flags)
        raise ValueError(f"property {self.name}: unknown kind {self.kind!r}")

    def normalise(self, value: Any) -> Any:
        """Python value of a GValue as the element keeps it (enums as plain ints)."""
        if self.kind == "enum" and value is not None:
            return int(value)
        return value

    def problem(self, value: Any) -> str | None:
        if self.supported is None or self.supported(value):
            return None
        return self.unsupported


def gproperties(props: tuple[Prop, ...]) -> dict[str, tuple[Any, ...]]:
    """``__gproperties__`` of a property table."""
    return {p.name: p.pspec() for p in props}


def UINT(name: str, default: int, blurb: str, minimum: int = 0, maximum: int = UINT_MAX, **kw: Any) -> Prop:
    return Prop(name, "uint", default, blurb, minimum, maximum, **kw)


def INT(
    name: str, default: int, blurb: str, minimum: int = -INT_MAX - 1, maximum: int = INT_MAX, **kw: Any
) -> Prop:
    return Prop(name, "int", default, blurb, minimum, maximum, **kw)


def BOOL(name: str, default: bool, blurb: str, **kw: Any) -> Prop:
    return Prop(name, "bool", default, blurb, **kw)


def STRING(name: str, default: str | None, blurb: str, **kw: Any) -> Prop:
    return Prop(name, "string", default, blurb, **kw)


def ENUM(name: str, gtype: Any, default: int, blurb: str, **kw: Any) -> Prop:
    return Prop(name, "enum", default, blurb, enum=gtype, **kw)


# Properties (almost) every DeepStream element has.
def GPU_ID() -> Prop:
    return UINT(
        "gpu-id",
        0,
        "Set GPU Device ID",
        supported=lambda v: v == 0,
        unsupported="the emulated device has one GPU: gpu-id must be 0",
    )


def MEMORY_TYPE(blurb: str = "Type of NvBufSurface Memory to be allocated for output buffers") -> Prop:
    return ENUM("nvbuf-memory-type", memory_type_enum(), 0, blurb)


def COMPUTE_HW_PROP(blurb: str = "Compute Scaling HW") -> Prop:
    return ENUM("compute-hw", compute_hw_enum(), 0, blurb)


# The decoder's settings, on nvv4l2decoder and again on nvurisrcbin (which hands them to its decoder).
def DROP_FRAME_INTERVAL() -> Prop:
    return UINT(
        "drop-frame-interval",
        0,
        "Interval to drop the frames,ex: value of 5 means every 5th frame will be given by decoder, "
        "rest all dropped",
        0,
        30,
    )


def CUDADEC_MEMTYPE(enum_name: str) -> Prop:
    """``cudadec-memtype``, its enum registered under each element's own type name (as DeepStream's)."""
    return ENUM(
        "cudadec-memtype",
        enum_type(enum_name, CUDADEC_MEMTYPES),
        0,
        "Set to specify memory type for cuda decoder buffers",
    )


# -- errors -------------------------------------------------------------------------------------


def post_error(
    element: Gst.Element,
    text: str,
    debug: str = "",
    *,
    domain: Any = Gst.CoreError,
    code: Any = Gst.CoreError.FAILED,
) -> None:
    """Post a GStreamer ERROR message from ``element`` (what GST_ELEMENT_ERROR does in C)."""
    error = GLib.Error.new_literal(domain.quark(), text, int(code))
    element.post_message(Gst.Message.new_error(element, error, debug or text))


def post_missing_batch_meta(element: Gst.Element, hint: str) -> None:
    """Post the ERROR of a DeepStream element given a buffer without ``NvDsBatchMeta``.

    Every element after nvstreammux needs the batch meta nvstreammux attaches and fails the stream
    with the same text when it is missing; only the hint (where nvstreammux belongs) is the
    element's own.
    """
    post_error(
        element,
        f"{element.get_name()}: NvDsBatchMeta not found for input buffer.",
        hint,
        domain=Gst.StreamError,
        code=Gst.StreamError.FAILED,
    )


class PropertyStore:
    """Mixin: the generic GObject get/set over a class's ``PROPERTIES`` table.

    Call :meth:`init_properties` in ``__init__``. Subclasses react to a change in
    :meth:`property_changed` and read values with :meth:`prop`.
    """

    PROPERTIES: ClassVar[tuple[Prop, ...]] = ()

    _values: dict[str, Any]
    _problems: dict[str, str]
    _props_by_name: dict[str, Prop]

    def init_properties(self) -> None:
        self._props_by_name = {p.name: p for p in type(self).PROPERTIES}
        self._values = {p.name: p.default for p in type(self).PROPERTIES}
        self._problems = {}

    def prop(self, name: str) -> Any:
        return self._values[name]

    def do_get_property(self, pspec: GObject.ParamSpec) -> Any:
        return self._values[pspec.name]

    def do_set_property(self, pspec: GObject.ParamSpec, value: Any) -> None:
        prop = self._props_by_name[pspec.name]
        value = prop.normalise(value)
        self._values[prop.name] = value
        problem = prop.problem(value)
        if problem is None:
            self._problems.pop(prop.name, None)
        else:
            self._problems[prop.name] = f"{prop.name}={value!r}: {problem}"
            if self.current_state >= Gst.State.READY:  # type: ignore[attr-defined]
                self.report_unsupported()
        self.property_changed(prop.name, value)

    def property_changed(self, name: str, value: Any) -> None:
        """Hook: ``name`` was set to ``value``."""

    def unsupported_message(self) -> str | None:
        if not self._problems:
            return None
        name = self.get_name()  # type: ignore[attr-defined]
        listed = "; ".join(self._problems.values())
        return f"{name}: not emulated on this device: {listed} (see {SUPPORTED_DOC})"

    def report_unsupported(self) -> bool:
        """Post the ERROR for refused settings; True if there were any."""
        message = self.unsupported_message()
        if message is None:
            return False
        post_error(self, message, domain=Gst.CoreError, code=Gst.CoreError.NOT_IMPLEMENTED)  # type: ignore[arg-type]
        return True

    def refuse_caps(self, caps: Gst.Caps | None, why: str) -> None:
        """Post the ERROR for caps the emulation cannot handle."""
        text = caps.to_string() if caps is not None else "(none)"
        post_error(
            self,  # type: ignore[arg-type]
            f"{self.get_name()}: caps not emulated: {why} (see {SUPPORTED_DOC})",  # type: ignore[attr-defined]
            f"caps: {text}",
            domain=Gst.CoreError,
            code=Gst.CoreError.NEGOTIATION,
        )

    def refuses_to_start(self, transition: Gst.StateChange) -> bool:
        """For ``do_change_state``: True (after posting the ERROR) when NULL→READY meets refused
        settings. PyGObject hooks up only the ``do_*`` methods a GObject class defines itself, not
        a mixin's, so each element base class calls this from its own ``do_change_state``."""
        return transition == Gst.StateChange.NULL_TO_READY and self.report_unsupported()


def element_templates(sink: Gst.Caps, src: Gst.Caps) -> tuple[Gst.PadTemplate, Gst.PadTemplate]:
    """The always-present ``sink`` and ``src`` templates of a filter."""
    return (
        Gst.PadTemplate.new("sink", Gst.PadDirection.SINK, Gst.PadPresence.ALWAYS, sink),
        Gst.PadTemplate.new("src", Gst.PadDirection.SRC, Gst.PadPresence.ALWAYS, src),
    )


def request_pad_index(pad: Gst.Pad) -> int:
    """The number of a request pad (``sink_3`` → 3): nvstreammux's sink pads and nvstreamdemux's src
    pads are numbered by the source they carry (the frame meta's ``pad_index``)."""
    return int(pad.get_name().rsplit("_", 1)[1])


def own_templates(element: Gst.Element) -> dict[str, Gst.PadTemplate]:
    """The ``__gsttemplates__`` of ``element``'s class by name template.

    An element that makes its pads itself (a bin's ghost pads, a demuxer's request pads) makes them
    from the templates its class declares, so they carry the caps ``gst-inspect-1.0`` shows.
    """
    return {t.name_template: t for t in type(element).__gsttemplates__}  # type: ignore[attr-defined]


class DeepStreamFilter(PropertyStore, GstBase.BaseTransform):
    """In-place base of the DeepStream metadata elements.

    Subclasses set ``__gstmetadata__``, ``PROPERTIES`` and ``__gproperties__ = gproperties(...)``,
    and implement :meth:`process_batch`. ``__gsttemplates__`` must be set on each registered class
    (not only inherited): PyGObject gives a subclass of a Python element no templates of its own
    when a factory creates it. ``MODIFIES_FRAMES = True`` (nvdsosd) makes every buffer writable
    before :meth:`process_batch`; otherwise buffers pass through untouched and only the metadata
    (a Python object shared with every copy of the buffer) changes.
    """

    __gsttemplates__ = element_templates(nvmm_caps(), nvmm_caps())
    MODIFIES_FRAMES: ClassVar[bool] = False
    REQUIRES_BATCH_META: ClassVar[bool] = True

    def __init__(self) -> None:
        super().__init__()
        self.init_properties()
        self.layout: FrameLayout | None = None
        self.set_in_place(True)
        self.set_passthrough(not self.MODIFIES_FRAMES)

    # -- hooks ------------------------------------------------------------------------------------
    def process_batch(self, buffer: Gst.Buffer, batch_meta: Any) -> Gst.FlowReturn | None:
        """Work on one batch; return None or OK to push it, ERROR after :func:`post_error`."""
        return None

    def caps_changed(self, caps: Gst.Caps) -> bool:
        """Hook: new input caps (``self.layout`` is set); False refuses them."""
        return True

    # -- GstBaseTransform -----------------------------------------------------------------------
    def do_change_state(self, transition: Gst.StateChange) -> Gst.StateChangeReturn:
        if self.refuses_to_start(transition):
            return Gst.StateChangeReturn.FAILURE
        return GstBase.BaseTransform.do_change_state(self, transition)

    def do_set_caps(self, incaps: Gst.Caps, outcaps: Gst.Caps) -> bool:
        try:
            self.layout = FrameLayout.from_caps(incaps)
        except SurfaceError as err:
            if self.MODIFIES_FRAMES:
                self.refuse_caps(incaps, str(err))
                return False
            self.layout = None  # a metadata-only element does not look at the pixels
        return self.caps_changed(incaps)

    def do_transform_ip(self, buffer: Gst.Buffer) -> Gst.FlowReturn:
        batch_meta = batch_meta_of(buffer)
        if batch_meta is None and self.REQUIRES_BATCH_META:
            post_missing_batch_meta(
                self, "the buffer did not pass an nvstreammux: put nvstreammux upstream of this element"
            )
            return Gst.FlowReturn.ERROR
        try:
            result = self.process_batch(buffer, batch_meta)
        except Exception as err:  # an element must fail the pipeline, never kill the streaming thread
            post_error(
                self,
                f"{self.get_name()}: {err}",
                traceback.format_exc(),
                domain=Gst.StreamError,
                code=Gst.StreamError.FAILED,
            )
            return Gst.FlowReturn.ERROR
        return Gst.FlowReturn.OK if result is None else result

    @contextmanager
    def surface(self, buffer: Gst.Buffer, *, write: bool = False) -> Iterator[Surface]:
        """The frames of ``buffer`` (the negotiated layout); ``write`` needs MODIFIES_FRAMES."""
        if self.layout is None:
            raise SurfaceError(f"{self.get_name()}: no raw video caps negotiated")
        with map_surface(buffer, self.layout, write=write) as surface:
            yield surface
