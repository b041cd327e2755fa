"""nvmultistreamtiler: the frames of a batch composed into one 2D tiled frame.

As NVIDIA's gst-nvtiler (open source since DeepStream 9): source N goes to tile N in row-major order
(``rows`` × ``columns`` tiles over ``width`` × ``height``, each frame stretched to its tile); a
source missing from a batch keeps its previous picture (the tiler keeps a scratch frame against
flicker); ``show-source`` N ≥ 0 shows that source alone over the whole output. The output carries
a NEW batch meta of one frame (``frame_num`` counts the tiler's outputs, ``source_frame_width/height``
are the tiled size) whose objects are the input objects with their boxes scaled into their tiles,
so nvdsosd behind the tiler draws them in the right place.
"""

from __future__ import annotations

import numpy as np

from fake_device.deepstream.gst.caps import nvmm_caps
from fake_device.deepstream.gst.carrier import attach_batch_meta, attach_surface_layout, batch_meta_of
from fake_device.deepstream.gst.element import (
    BOOL,
    COMPUTE_HW_PROP,
    ENUM,
    GPU_ID,
    INT,
    INT_MAX,
    MEMORY_TYPE,
    UINT,
    PropertyStore,
    element_templates,
    gproperties,
    interpolation_enum,
    post_error,
)
from fake_device.deepstream.gst.runtime import GObject, Gst, GstBase
from fake_device.deepstream.gst.scaling import Rect, Transform, fill_black, transform_frame
from fake_device.deepstream.gst.surface import FrameLayout, FrameView, SurfaceError, map_surface
from fake_device.deepstream.meta import BatchMeta, FrameMeta, ObjectMeta


def _round_up_4(value: int) -> int:
    return (value + 3) & ~3


PROPERTIES = (
    UINT("rows", 1, "Number of rows in the tiled 2D output", 1, 1024),
    UINT("columns", 1, "Number of columns in the tiled 2D output", 1, 1024),
    UINT("width", 1920, "Width of the tiled 2D output", 16, 32768),
    UINT("height", 1080, "Height of the tiled 2D output", 16, 32768),
    GPU_ID(),
    INT("show-source", -1, "Index of the source to show. Negative value shows all tiles", -1, INT_MAX),
    COMPUTE_HW_PROP(),
    MEMORY_TYPE(),
    ENUM("interpolation-method", interpolation_enum(), 6, "Set interpolation methods"),
    UINT("buffer-pool-size", 4, "Number of buffers in tiler's internal pool", 1, 1024),
    BOOL(
        "square-seq-grid",
        False,
        "Sequentially place sources in a square grid",
        supported=lambda v: not v,
        unsupported="sources are placed by source id (the default grid)",
    ),
)


class NvMultiStreamTiler(PropertyStore, GstBase.BaseTransform):
    __gtype_name__ = "GstNvMultiStreamTiler"
    __gstmetadata__ = (
        "Stream Tiler DS",
        "Generic",
        "Tile input multistream buffer into a 2D array (edge-harness: CPU emulation)",
        "edge-harness",
    )
    __gsttemplates__ = element_templates(nvmm_caps(), nvmm_caps())
    FACTORY_NAME = "nvmultistreamtiler"
    RANK = Gst.Rank.PRIMARY
    PROPERTIES = PROPERTIES
    __gproperties__ = gproperties(PROPERTIES)

    def __init__(self) -> None:
        super().__init__()
        self.init_properties()
        self.in_layout: FrameLayout | None = None
        self.out_layout: FrameLayout | None = None
        self._scratch: list[np.ndarray] | None = None  # the last output: tiles of absent sources stay
        self._frame_num = 0

    def _size(self) -> tuple[int, int]:
        return _round_up_4(self.prop("width")), _round_up_4(self.prop("height"))

    def do_change_state(self, transition: Gst.StateChange) -> Gst.StateChangeReturn:
        if self.refuses_to_start(transition):
            return Gst.StateChangeReturn.FAILURE
        if transition == Gst.StateChange.PAUSED_TO_READY:
            self._scratch = None
            self._frame_num = 0
        return GstBase.BaseTransform.do_change_state(self, transition)

    def property_changed(self, name: str, value: object) -> None:
        if name in ("width", "height"):
            self.reconfigure_src()
        if name in ("rows", "columns", "show-source"):
            self._scratch = None

    # -- caps --------------------------------------------------------------------------------------
    def do_transform_caps(
        self, direction: Gst.PadDirection, caps: Gst.Caps, filter: Gst.Caps | None
    ) -> Gst.Caps:
        out = Gst.Caps.new_empty()
        width, height = self._size()
        for i in range(caps.get_size()):
            structure = caps.get_structure(i).copy()
            if direction == Gst.PadDirection.SINK:  # towards src: the tiled size, one frame
                structure.set_value("width", GObject.Value(GObject.TYPE_INT, width))
                structure.set_value("height", GObject.Value(GObject.TYPE_INT, height))
                if structure.has_field("batch-size"):
                    structure.set_value("batch-size", GObject.Value(GObject.TYPE_INT, 1))
            else:  # towards sink: any size and batch
                for name in ("width", "height", "batch-size"):
                    structure.remove_field(name)
            out.append_structure_full(structure, caps.get_features(i).copy())
        if filter is not None:
            out = filter.intersect_full(out, Gst.CapsIntersectMode.FIRST)
        return out

    def do_set_caps(self, incaps: Gst.Caps, outcaps: Gst.Caps) -> bool:
        try:
            self.in_layout = FrameLayout.from_caps(incaps)
            self.out_layout = FrameLayout.from_caps(outcaps)
        except SurfaceError as err:
            self.refuse_caps(incaps, str(err))
            return False
        self._scratch = None
        return True

    def do_transform_size(
        self, direction: Gst.PadDirection, caps: Gst.Caps, size: int, othercaps: Gst.Caps
    ) -> tuple[bool, int]:
        try:
            return True, FrameLayout.from_caps(othercaps).size
        except SurfaceError:
            return False, 0

    # -- tiles -------------------------------------------------------------------------------------
    def _tile(self, source_id: int) -> Rect | None:
        assert self.out_layout is not None
        width, height = self.out_layout.width, self.out_layout.height
        show = self.prop("show-source")
        if show >= 0:
            return Rect(0, 0, width, height) if source_id == show else None
        rows, columns = self.prop("rows"), self.prop("columns")
        if source_id >= rows * columns:
            return None
        tile_w, tile_h = width // columns, height // rows
        row, column = divmod(source_id, columns)
        return Rect(column * tile_w, row * tile_h, tile_w, tile_h)

    def do_transform(self, inbuf: Gst.Buffer, outbuf: Gst.Buffer) -> Gst.FlowReturn:
        assert self.in_layout is not None and self.out_layout is not None
        batch = batch_meta_of(inbuf)
        if batch is None:
            post_error(
                self,
                f"{self.get_name()}: GstNvTiler: FATAL ERROR; NvDsMeta->NvDsBatchMeta missing in the "
                "input buffer",
                domain=Gst.StreamError,
                code=Gst.StreamError.FAILED,
            )
            return Gst.FlowReturn.ERROR
        try:
            out_frame = self._compose(inbuf, outbuf, batch)
        except (SurfaceError, ValueError) as err:
            post_error(self, f"{self.get_name()}: {err}", domain=Gst.StreamError, code=Gst.StreamError.FAILED)
            return Gst.FlowReturn.ERROR
        attach_batch_meta(outbuf, BatchMeta(frames=[out_frame], max_frames_in_batch=1))
        attach_surface_layout(outbuf, self.out_layout)
        self._frame_num += 1
        return Gst.FlowReturn.OK

    def _compose(self, inbuf: Gst.Buffer, outbuf: Gst.Buffer, batch: BatchMeta) -> FrameMeta:
        assert self.in_layout is not None and self.out_layout is not None
        interpolation = self.prop("interpolation-method")
        out_frame = FrameMeta(
            source_id=0,
            frame_num=self._frame_num,
            ntp_timestamp=batch.frames[0].ntp_timestamp if batch.frames else 0,
            source_frame_width=self.out_layout.width,
            source_frame_height=self.out_layout.height,
            buf_pts=outbuf.pts if outbuf.pts != Gst.CLOCK_TIME_NONE else 0,
            batch_id=0,
        )
        with (
            map_surface(inbuf, self.in_layout) as src,
            map_surface(outbuf, self.out_layout, write=True) as dst,
        ):
            target = dst.frames[0]
            if self._scratch is None:
                fill_black(target)
            else:
                _restore(target, self._scratch)
            for frame in batch.frames:
                tile = self._tile(frame.source_id)
                if tile is None or frame.batch_id >= src.num_filled:
                    continue
                transform = Transform(interpolation=interpolation, dest_crop=tile, blank_outside=False)
                transform_frame(src.frames[frame.batch_id], target, transform)
                sx = tile.width / self.in_layout.width
                sy = tile.height / self.in_layout.height
                for obj in frame.objects:
                    out_frame.objects.append(_scaled_object(obj, tile, sx, sy))
            self._scratch = [plane.copy() for plane in target.planes]
        return out_frame


def _restore(frame: FrameView, planes: list[np.ndarray]) -> None:
    for dst, src in zip(frame.planes, planes, strict=True):
        dst[...] = src


def _scaled_object(obj: ObjectMeta, tile: Rect, sx: float, sy: float) -> ObjectMeta:
    return ObjectMeta(
        class_id=obj.class_id,
        confidence=obj.confidence,
        left=tile.left + obj.left * sx,
        top=tile.top + obj.top * sy,
        width=obj.width * sx,
        height=obj.height * sy,
        obj_label=obj.obj_label,
        object_id=obj.object_id,
        tracker_confidence=obj.tracker_confidence,
        unique_component_id=obj.unique_component_id,
    )


ELEMENT = NvMultiStreamTiler
