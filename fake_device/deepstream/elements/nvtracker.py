"""nvtracker: multi-object tracking on the batch meta, with the emulated NvSORT tracker.

On a Jetson, nvtracker loads NVIDIA's low-level library (``ll-lib-file``, in DeepStream 6 and later
always ``libnvds_nvmultiobjecttracker.so``) and configures it with ``ll-config-file``. Here that
library name selects the emulated NvMultiObjectTracker (:class:`~fake_device.deepstream.tracker.
NvSortTracker`, NvSORT / IOU / NvDCF-without-visual-tracker configs); any other library is refused
when the element starts, with the reason. What the element adds to the metadata follows
gstnvtracker / nvtracker_proc.cpp:

* every object a target reports gets ``object_id``, ``tracker_confidence`` and
  ``tracker_bbox_info`` (the target's own, unclipped box), and the text nvdsosd writes: Serif 10,
  white on black, 20 px above the box, ``"<label> <id>"`` with ``display-tracking-id``;
* every other object of the classes it tracks is removed from the frame (its id stayed
  ``UNTRACKED_OBJECT_ID``); with ``operate-on-class-ids`` objects of other classes are left alone;
* with ``enablePastFrame: 1`` in the config, each batch carries an ``NvDsTargetMiscDataBatch`` as
  batch user meta of type ``NVDS_TRACKER_PAST_FRAME_META`` (what deepstream-test2 reads);
* nvstreammux's pad-deleted event drops that stream's targets; its stream-EOS event does so only
  with bit 2 of ``tracking-id-reset-mode``, and then ids start from 0 again.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path, PurePosixPath

from fake_device.deepstream import cmemory
from fake_device.deepstream.blas import single_threaded_blas
from fake_device.deepstream.errors import ConfigError
from fake_device.deepstream.gst import events
from fake_device.deepstream.gst.caps import nvmm_caps
from fake_device.deepstream.gst.element import (
    BOOL,
    COMPUTE_HW_PROP,
    GPU_ID,
    INT,
    INT_MAX,
    STRING,
    SUPPORTED_DOC,
    UINT,
    DeepStreamFilter,
    element_templates,
    gproperties,
    post_error,
)
from fake_device.deepstream.gst.runtime import GLib, Gst, GstBase
from fake_device.deepstream.meta import (
    UNTRACKED_OBJECT_ID,
    NvDsBatchMeta,
    NvDsFrameMeta,
    NvDsMetaType,
    NvDsObjectMeta,
    nvds_acquire_user_meta_from_pool,
    nvds_add_user_meta_to_batch,
    nvds_remove_obj_meta_from_frame,
)
from fake_device.deepstream.meta_tracker import (
    NvDsTargetMiscDataBatch,
    NvDsTargetMiscDataFrame,
    NvDsTargetMiscDataObject,
    NvDsTargetMiscDataStream,
)
from fake_device.deepstream.tracker import NvSortTracker, PastTarget, TrackerConfig, load_tracker_config
from harness.errors import HarnessError

log = logging.getLogger(__name__)

#: the low-level library of DeepStream 6 and later (NvSORT, IOU, NvDCF, NvDeepSORT configs)
MULTI_OBJECT_TRACKER = "libnvds_nvmultiobjecttracker.so"
#: DeepStream 5's separate libraries, gone since 6.0
_LEGACY_LIBRARIES = {
    "libnvds_mot_iou.so": "the IOU tracker",
    "libnvds_mot_klt.so": "the KLT tracker",
    "libnvds_nvdcf.so": "the NvDCF tracker",
}

#: tracking-id-reset-mode bits (invtracker_proc.h TrackingIdResetMode)
RESET_NEW_ID_AFTER_STREAM_RESET = 1
RESET_FROM_ZERO_AFTER_EOS = 2

# text nvtracker gives a tracked object (nvtracker_proc.cpp updateFrameMeta)
_TEXT_FONT = "Serif"
_TEXT_SIZE = 10
_TEXT_ABOVE = 20


def _class_ids(text: str | None) -> frozenset[int] | None:
    """``operate-on-class-ids`` ("1;2"): the classes tracked, or None for all."""
    if not text or not text.strip():
        return None
    ids: set[int] = set()
    for part in text.replace(",", ";").split(";"):
        part = part.strip()
        if not part:
            continue
        try:
            ids.add(int(part))
        except ValueError:
            raise ValueError(
                f"operate-on-class-ids={text!r}: {part!r} is not a class id "
                "(expected semicolon-separated integers, e.g. 0;2)"
            ) from None
    return frozenset(ids) or None


def _valid_class_ids(text: str | None) -> bool:
    try:
        _class_ids(text)
    except ValueError:
        return False
    return True


class NvTracker(DeepStreamFilter):
    """The nvtracker element (see the module docstring)."""

    __gtype_name__ = "GstNvTracker"
    __gstmetadata__ = (
        "NvTracker plugin",
        "NvTracker functionality",
        "Gstreamer object tracking element (edge-harness: emulated NvMultiObjectTracker on CPU)",
        "edge-harness",
    )
    __gsttemplates__ = element_templates(
        nvmm_caps(("I420", "NV12", "RGBA")), nvmm_caps(("I420", "NV12", "RGBA"))
    )
    FACTORY_NAME = "nvtracker"
    RANK = Gst.Rank.PRIMARY
    PROPERTIES = (
        UINT("tracker-width", 960, "Frame width at which the tracker should operate, in pixels"),
        UINT("tracker-height", 544, "Frame height at which the tracker should operate, in pixels"),
        GPU_ID(),
        STRING("ll-config-file", None, "Low-level library config file path"),
        STRING("ll-lib-file", None, "Low-level library file path"),
        UINT(
            "tracking-surface-type",
            0,
            "Set Tracking Surface Type, default is ALL, (1) => SPOT Surface, (2) => AISLE Surface",
        ),
        COMPUTE_HW_PROP(),
        BOOL("display-tracking-id", True, "Display tracking id in object text"),
        UINT("tracking-id-reset-mode", 0, "Tracking ID reset mode when stream reset or EOS happens", 0, 3),
        BOOL("input-tensor-meta", False, "Use preprocess tensormeta if available for tensor-meta-gie-id"),
        UINT(
            "tensor-meta-gie-id",
            0,
            "Tensor Meta GIE ID to be used, property valid only if input-tensor-meta is TRUE",
        ),
        UINT("user-meta-pool-size", 32, "Tracker user meta buffer pool size", 1),
        STRING(
            "sub-batches",
            None,
            "Configuration of sub-batches. Can be specified in 2 ways.",
            supported=lambda v: not v,
            unsupported="sub-batches (one low-level tracker per group of streams) are not emulated; "
            "leave it unset: one tracker serves every stream",
        ),
        INT(
            "sub-batch-err-recovery-trial-cnt",
            0,
            "Number of max. trials to reinitialize the low level tracker library of a sub-batch "
            "in case of a processing failure",
            -1,
            INT_MAX,
        ),
        STRING(
            "operate-on-class-ids",
            "",
            "Class IDs of objects on which this tracker must operate. Semicolon separated integer array.",
            supported=_valid_class_ids,
            unsupported="expected semicolon-separated integer class ids, e.g. 0;2",
        ),
    )
    __gproperties__ = gproperties(PROPERTIES)

    def __init__(self) -> None:
        super().__init__()
        self.tracker: NvSortTracker | None = None

    # -- start: library and config -----------------------------------------------------------------
    def do_start(self) -> bool:
        single_threaded_blas()  # the Kalman maths is tiny; OpenBLAS's idle pool would spin (blas.py)
        try:
            self.tracker = NvSortTracker(self._load_config())
        except ConfigError as err:
            post_error(
                self,
                f"{self.get_name()}: ll-config-file: {err}",
                'DeepStream says "gstnvtracker: Failed to initialize trackerIface"',
                domain=Gst.LibraryError,
                code=Gst.LibraryError.SETTINGS,
            )
            return False
        except HarnessError as err:
            post_error(self, str(err), domain=Gst.LibraryError, code=Gst.LibraryError.INIT)
            return False
        config = self.tracker.config
        if config.ignored:
            self._warn(
                f"{self.get_name()}: {config.source}: NvDCF's visual tracking is not emulated; targets "
                f"are tracked by motion and IoU/size association alone (ignored: {', '.join(config.ignored)})"
            )
        return True

    def do_stop(self) -> bool:
        self.tracker = None
        return True

    def _load_config(self) -> TrackerConfig:
        name = self.get_name()
        library = self.prop("ll-lib-file")
        if not library:
            raise HarnessError(
                f"{name}: ll-lib-file is not set: nvtracker needs a low-level tracker library",
                hint=f"set ll-lib-file=/opt/nvidia/deepstream/deepstream/lib/{MULTI_OBJECT_TRACKER}",
            )
        base = PurePosixPath(library).name
        if base in _LEGACY_LIBRARIES:
            raise HarnessError(
                f"{name}: ll-lib-file={library}: {_LEGACY_LIBRARIES[base]} library of DeepStream 5 "
                "does not exist in DeepStream 6 and later",
                hint=f"use {MULTI_OBJECT_TRACKER} with an IOU, NvSORT or NvDCF config in ll-config-file",
            )
        if base != MULTI_OBJECT_TRACKER:
            raise HarnessError(
                f"{name}: ll-lib-file={library}: only NVIDIA's {MULTI_OBJECT_TRACKER} is emulated "
                f"(a custom low-level tracker library cannot be loaded; see {SUPPORTED_DOC})",
                hint=f"set ll-lib-file to .../{MULTI_OBJECT_TRACKER}",
            )
        path = self.prop("ll-config-file")
        if not path:
            return TrackerConfig()  # the library's defaults, as with no ll-config-file on a device
        if ";" in path.strip().strip(";"):
            raise ConfigError(
                path,
                "a list of config files is one per sub-batch, and sub-batches are not emulated",
                hint="name a single config file",
            )
        return load_tracker_config(Path(path.strip().strip(";")))

    def _warn(self, text: str) -> None:
        log.warning("%s", text)
        error = GLib.Error.new_literal(Gst.LibraryError.quark(), text, int(Gst.LibraryError.SETTINGS))
        self.post_message(Gst.Message.new_warning(self, error, text))

    # -- stream events from nvstreammux ----------------------------------------------------------
    def do_sink_event(self, event: Gst.Event) -> bool:
        parsed = events.parse_stream_event(event)
        if parsed is not None and self.tracker is not None:
            kind, source_id = parsed
            if kind == events.PAD_DELETED:
                self.tracker.remove_source(source_id)
            elif (
                kind == events.STREAM_EOS and self.prop("tracking-id-reset-mode") & RESET_FROM_ZERO_AFTER_EOS
            ):
                self.tracker.remove_source(source_id, restart_ids=True)
        return GstBase.BaseTransform.do_sink_event(self, event)

    # -- one batch -------------------------------------------------------------------------------
    def process_batch(self, buffer: Gst.Buffer, batch_meta: NvDsBatchMeta) -> None:
        tracker = self.tracker
        if tracker is None:
            raise RuntimeError("the tracker was not started")
        t_in = time.monotonic()
        classes = _class_ids(self.prop("operate-on-class-ids"))
        surface_type = self.prop("tracking-surface-type")
        past: list[tuple[NvDsFrameMeta, list[PastTarget]]] = []
        for frame in list(batch_meta.frames):
            if surface_type and frame.surface_type != surface_type:
                continue
            objects = [o for o in frame.objects if classes is None or o.class_id in classes]
            tracks = tracker.track(frame.pad_index, frame.frame_num, objects)
            reported = {id(t.obj) for t in tracks.objects}
            for obj in objects:
                if id(obj) not in reported and obj.object_id == UNTRACKED_OBJECT_ID:
                    nvds_remove_obj_meta_from_frame(frame, obj)
            for tracked in tracks.objects:
                self._annotate(tracked.obj, tracked.box, tracked.confidence)
            if tracks.past:
                past.append((frame, tracks.past))
        if tracker.config.enable_past_frame:
            self._attach_past_frames(batch_meta, past)
        t_out = time.monotonic()
        name = self.get_name()
        for frame in batch_meta.frames:
            frame.latency.append((name, t_in, t_out))

    def _annotate(
        self, obj: NvDsObjectMeta, box: tuple[float, float, float, float], confidence: float
    ) -> None:
        """tracker_bbox_info, tracker_confidence and the object's text, as nvtracker_proc fills them."""
        coords = obj.tracker_bbox_info.org_bbox_coords
        coords.left, coords.top, coords.width, coords.height = box
        obj.tracker_confidence = confidence
        text = obj.text_params
        text.font_params.font_name = _TEXT_FONT
        text.font_params.font_size = _TEXT_SIZE
        text.font_params.font_color.set(1.0, 1.0, 1.0, 1.0)
        text.set_bg_clr = 1
        text.text_bg_clr.set(0.0, 0.0, 0.0, 1.0)
        if self.prop("display-tracking-id"):
            current = cmemory.string_at(text.display_text) if text.display_text else None
            text.display_text = f"{current if current is not None else obj.obj_label} {obj.object_id}"
        text.x_offset = max(0, int(obj.rect_params.left))
        text.y_offset = max(0, int(obj.rect_params.top) - _TEXT_ABOVE)

    @staticmethod
    def _attach_past_frames(
        batch_meta: NvDsBatchMeta, past: list[tuple[NvDsFrameMeta, list[PastTarget]]]
    ) -> None:
        """The batch's NvDsTargetMiscDataBatch: one stream entry per frame with past data."""
        data = NvDsTargetMiscDataBatch()
        for frame, targets in past:
            stream = NvDsTargetMiscDataStream(
                streamID=frame.pad_index, surfaceStreamID=(frame.pad_index << 32) | frame.surface_index
            )
            for target in targets:
                entry = NvDsTargetMiscDataObject(uniqueId=target.target_id, classId=target.class_id)
                entry.objLabel = target.label[:127]
                for f in target.frames:
                    record = NvDsTargetMiscDataFrame(frameNum=f.frame_num, confidence=f.confidence, age=f.age)
                    rect = record.tBbox
                    rect.left, rect.top, rect.width, rect.height = f.box
                    entry.append(record)
                stream.append(entry)
            data.append(stream)
        user_meta = nvds_acquire_user_meta_from_pool(batch_meta)
        user_meta.user_meta_data = data
        user_meta.base_meta.meta_type = NvDsMetaType.NVDS_TRACKER_PAST_FRAME_META
        nvds_add_user_meta_to_batch(batch_meta, user_meta)


ELEMENT = NvTracker
