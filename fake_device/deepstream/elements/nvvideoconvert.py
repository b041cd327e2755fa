"""nvvideoconvert: format, size and memory conversion between NVMM and system memory.

The bridge of every DeepStream pipeline: NV12 → RGBA for nvdsosd, NVMM → system memory for an
encoder or appsink, system memory → NVMM in front of nvstreammux. Each frame of a batch is
converted (crop, scale, flip, colour) with :func:`fake_device.deepstream.gst.scaling.transform_frame`;
when input and output describe the same frames (NVMM ↔ system memory of one format and size, no crop
or flip) the element passes buffers through untouched, as the memory is the same here.

Caps negotiation prefers the input's format and size, so ``nvvideoconvert ! capsfilter`` only
changes what the capsfilter asks for.
"""

from __future__ import annotations

from typing import Any

from fake_device.deepstream.gst.caps import NVMM_FEATURE, NVMM_FORMATS, nvmm_or_system_caps
from fake_device.deepstream.gst.carrier import attach_surface_layout
from fake_device.deepstream.gst.element import (
    BOOL,
    COMPUTE_HW_PROP,
    ENUM,
    GPU_ID,
    MEMORY_TYPE,
    STRING,
    UINT,
    PropertyStore,
    element_templates,
    enum_type,
    gproperties,
    interpolation_enum,
    post_error,
)
from fake_device.deepstream.gst.runtime import Gst, GstBase
from fake_device.deepstream.gst.scaling import FLIPS, Rect, Transform, transform_frame
from fake_device.deepstream.gst.surface import FrameLayout, SurfaceError, map_surface

FLIP_METHODS = (
    (0, "Identity (no rotation)", "none"),
    (1, "Rotate counter-clockwise 90 degrees", "counterclockwise"),
    (2, "Rotate 180 degrees", "rotate-180"),
    (3, "Rotate clockwise 90 degrees", "clockwise"),
    (4, "Flip horizontally", "horizontal-flip"),
    (5, "Flip across upper right/lower left diagonal", "upper-right-diagonal"),
    (6, "Flip vertically", "vertical-flip"),
    (7, "Flip across upper left/lower right diagonal", "upper-left-diagonal"),
)


def _crop_ok(value: Any) -> bool:
    try:
        Rect.parse(value or "")
    except ValueError:
        return False
    return True


PROPERTIES = (
    GPU_ID(),
    MEMORY_TYPE(),
    COMPUTE_HW_PROP(),
    ENUM("interpolation-method", interpolation_enum(), 6, "Set interpolation methods"),
    STRING(
        "src-crop",
        "0:0:0:0",
        "Pixel location left:top:width:height",
        supported=_crop_ok,
        unsupported="expected left:top:width:height in pixels",
    ),
    STRING(
        "dest-crop",
        "0:0:0:0",
        "Pixel location left:top:width:height",
        supported=_crop_ok,
        unsupported="expected left:top:width:height in pixels",
    ),
    ENUM(
        "flip-method",
        enum_type("GstNvVideoFlipMethod", FLIP_METHODS),
        0,
        "video flip methods",
        supported=lambda v: v in FLIPS,
        unsupported="rotations by 90 degrees and diagonal flips are not emulated (none, rotate-180, "
        "horizontal-flip and vertical-flip are)",
    ),
    UINT("output-buffers", 4, "number of output buffers", 1),
    BOOL(
        "disable-passthrough",
        False,
        "Disable passthrough mode at init time, applicable for nvvideoconvert only.",
    ),
)

# caps fields that describe the frames (the rest — batch-size, framerate … — passes through)
_FRAME_FIELDS = ("format", "width", "height", "pixel-aspect-ratio", "colorimetry", "chroma-site")


def _open_structure(structure: Gst.Structure) -> Gst.Structure:
    """``structure`` with any emulated format and any size: what the element can turn it into."""
    out = structure.copy()
    for name in _FRAME_FIELDS:
        out.remove_field(name)
    out.set_value("format", Gst.ValueList(list(NVMM_FORMATS)))
    out.set_value("width", Gst.IntRange(range(1, 2147483647)))
    out.set_value("height", Gst.IntRange(range(1, 2147483647)))
    return out


class NvVideoConvert(PropertyStore, GstBase.BaseTransform):
    __gtype_name__ = "Gstnvvideoconvert"
    __gstmetadata__ = (
        "NvVidConv Plugin",
        "Filter/Converter/Video/Scaler",
        "Converts video from one colorspace to another & Resizes (edge-harness: CPU emulation)",
        "edge-harness",
    )
    __gsttemplates__ = element_templates(nvmm_or_system_caps(), nvmm_or_system_caps())
    FACTORY_NAME = "nvvideoconvert"
    RANK = Gst.Rank.PRIMARY
    PROPERTIES = PROPERTIES
    __gproperties__ = gproperties(PROPERTIES)

    def __init__(self) -> None:
        super().__init__()
        self.init_properties()
        self.in_layout: FrameLayout | None = None
        self.out_layout: FrameLayout | None = None

    def do_change_state(self, transition: Gst.StateChange) -> Gst.StateChangeReturn:
        if self.refuses_to_start(transition):
            return Gst.StateChangeReturn.FAILURE
        return GstBase.BaseTransform.do_change_state(self, transition)

    def _transform(self) -> Transform:
        return Transform(
            interpolation=self.prop("interpolation-method"),
            src_crop=Rect.parse(self.prop("src-crop") or ""),
            dest_crop=Rect.parse(self.prop("dest-crop") or ""),
            flip=self.prop("flip-method"),
        )

    # -- caps --------------------------------------------------------------------------------------
    def do_transform_caps(
        self, direction: Gst.PadDirection, caps: Gst.Caps, filter: Gst.Caps | None
    ) -> Gst.Caps:
        out = Gst.Caps.new_empty()
        for nvmm in (True, False):  # the same memory first: no bridge when none is asked for
            for i in range(caps.get_size()):
                features = caps.get_features(i)
                same = features is not None and features.contains(NVMM_FEATURE)
                if same != nvmm:
                    continue
                out.append_structure_full(caps.get_structure(i).copy(), features.copy())
        for i in range(caps.get_size()):  # then anything else: other memory, format, size
            opened = _open_structure(caps.get_structure(i))
            for feature in (NVMM_FEATURE, None):
                features = Gst.CapsFeatures.from_string(feature) if feature else Gst.CapsFeatures.new_empty()
                out.append_structure_full(opened.copy(), features)
        if filter is not None:
            out = filter.intersect_full(out, Gst.CapsIntersectMode.FIRST)
        return out

    def do_fixate_caps(self, direction: Gst.PadDirection, caps: Gst.Caps, othercaps: Gst.Caps) -> Gst.Caps:
        """Keep the input's format and size where the other side allows it.

        GstBaseTransform puts the downstream element's own caps first in ``othercaps`` when it
        answers a caps query (nvmultistreamtiler's sink accepts any size but lists its tiled size
        first), so the first structure is not what the other side asks for. DeepStream's
        nvvideoconvert simplifies the caps before it fixates towards the input's size; here the
        first structure in the first structure's memory that can keep the input's size wins, and
        only when none can does the first one.
        """
        structure = caps.get_structure(0)
        fmt = structure.get_string("format")
        size = [tuple(structure.get_int(name)) for name in ("width", "height")]
        preferred = Gst.Caps.new_empty()
        chosen: tuple[Gst.Structure, Gst.CapsFeatures] | None = None
        for i in range(othercaps.get_size()):
            target = othercaps.get_structure(i).copy()  # PyGObject hands out copies: edit, then append
            if fmt is not None and target.has_field("format"):
                target.fixate_field_string("format", fmt)
            for name in ("width", "height"):
                ok, value = structure.get_int(name)
                if ok and target.has_field(name):
                    target.fixate_field_nearest_int(name, value)
            ok, num, den = structure.get_fraction("framerate")
            if ok and target.has_field("framerate"):
                target.fixate_field_nearest_fraction("framerate", num, den)
            keeps_size = all(
                not ok or not target.has_field(name) or tuple(target.get_int(name)) == (True, value)
                for name, (ok, value) in zip(("width", "height"), size, strict=True)
            )
            same_memory = othercaps.get_features(i).is_equal(othercaps.get_features(0))
            if keeps_size and same_memory and chosen is None:
                chosen = (target, othercaps.get_features(i).copy())
            else:
                preferred.append_structure_full(target, othercaps.get_features(i).copy())
        if chosen is not None:
            first = Gst.Caps.new_empty()
            first.append_structure_full(*chosen)
            preferred = first
        return preferred.fixate()

    def do_set_caps(self, incaps: Gst.Caps, outcaps: Gst.Caps) -> bool:
        try:
            self.in_layout = FrameLayout.from_caps(incaps)
            self.out_layout = FrameLayout.from_caps(outcaps)
            transform = self._transform()
        except (SurfaceError, ValueError) as err:
            self.refuse_caps(incaps, str(err))
            return False
        same_frames = (
            self.in_layout == self.out_layout
            and transform.src_crop is None
            and transform.dest_crop is None
            and transform.flip == 0
        )
        self.set_passthrough(same_frames and not self.prop("disable-passthrough"))
        return True

    def do_transform_size(
        self, direction: Gst.PadDirection, caps: Gst.Caps, size: int, othercaps: Gst.Caps
    ) -> tuple[bool, int]:
        try:
            this = FrameLayout.from_caps(caps)
            other = FrameLayout.from_caps(othercaps)
            frames = this.frames_in(size)
        except SurfaceError:
            return False, 0
        return True, frames * other.size

    # -- data --------------------------------------------------------------------------------------
    def do_transform(self, inbuf: Gst.Buffer, outbuf: Gst.Buffer) -> Gst.FlowReturn:
        assert self.in_layout is not None and self.out_layout is not None
        try:
            transform = self._transform()
            with (
                map_surface(inbuf, self.in_layout) as src,
                map_surface(outbuf, self.out_layout, write=True) as dst,
            ):
                if src.num_filled != dst.num_filled:
                    raise SurfaceError(f"{src.num_filled} frames in, room for {dst.num_filled} out")
                for incoming, outgoing in zip(src.frames, dst.frames, strict=True):
                    transform_frame(incoming, outgoing, transform)
            attach_surface_layout(outbuf, self.out_layout)
        except (SurfaceError, ValueError) as err:
            post_error(self, f"{self.get_name()}: {err}", domain=Gst.StreamError, code=Gst.StreamError.FORMAT)
            return Gst.FlowReturn.ERROR
        return Gst.FlowReturn.OK


ELEMENT = NvVideoConvert
