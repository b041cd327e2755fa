"""nvmultistreamtiler: the frames of a batch composed into one 2D tiled frame.

As NVIDIA's gst-nvtiler (open source since DeepStream 9): source N goes to tile N in row-major order
(``rows`` × ``columns`` tiles over ``width`` × ``height``, each frame stretched to its tile); a
source missing from a batch keeps its previous picture (the tiler keeps a scratch frame against
flicker); ``show-source`` N ≥ 0 shows that source alone over the whole output.

The batch meta is transformed, not replaced (DeepStream's INvTiler: "iterate through
NvDsBatchMeta->NvDsFrameMeta[according to stream id]->NvDsObjectMeta list and scale all bounding
boxes to the computed tile rect"; the plugin's output is "transformed metadata (NvDsBatchMeta)"):
every frame meta stays, with its user metas — the event messages a probe attached before the tiler
still reach nvmsgconv behind it, as in the seed's app — and its objects' boxes are scaled into the
frame's tile, so nvdsosd behind the tiler draws them in the right place. Every frame now refers to
the one composed surface (``batch_id`` 0). Objects of a source that has no tile (``show-source``
names another) keep their boxes.
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
from fake_device.deepstream.meta import BatchMeta, ObjectMeta


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

    def _size(self) -> tuple[int, int]:
        return _round_up_4(self.prop("width")), _round_up_4(self.prop("height"))

    def do_change_state(self, transition: Gst.StateChange) -> Gst.StateChangeReturn:
        if self.refuses_to_start(transition):
            return Gst.StateChangeReturn.FAILURE
        if transition == Gst.StateChange.PAUSED_TO_READY:
            self._scratch = None
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
            self._compose(inbuf, outbuf, batch)
        except (SurfaceError, ValueError) as err:
            post_error(self, f"{self.get_name()}: {err}", domain=Gst.StreamError, code=Gst.StreamError.FAILED)
            return Gst.FlowReturn.ERROR
        attach_batch_meta(outbuf, batch)
        attach_surface_layout(outbuf, self.out_layout)
        return Gst.FlowReturn.OK

    def _compose(self, inbuf: Gst.Buffer, outbuf: Gst.Buffer, batch: BatchMeta) -> None:
        """Blit each frame into its tile and scale its objects' boxes into the tile, in place."""
        assert self.in_layout is not None and self.out_layout is not None
        interpolation = self.prop("interpolation-method")
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
                    _scale_into(obj, tile, sx, sy)
            self._scratch = [plane.copy() for plane in target.planes]
        for frame in batch.frames:
            frame.batch_id = 0


def _restore(frame: FrameView, planes: list[np.ndarray]) -> None:
    for dst, src in zip(frame.planes, planes, strict=True):
        dst[...] = src


def _scale_into(obj: ObjectMeta, tile: Rect, sx: float, sy: float) -> None:
    rect = obj.rect_params
    rect.left = tile.left + rect.left * sx
    rect.top = tile.top + rect.top * sy
    rect.width = rect.width * sx
    rect.height = rect.height * sy


ELEMENT = NvMultiStreamTiler
