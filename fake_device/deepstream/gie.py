"""What nvinfer and nvinferserver do to a batch: choose what to infer on, infer, attach the results.

Both DeepStream elements (a "GIE", GPU Inference Engine, in DeepStream's words) work the same way
around their model, and so does this module around an engine (:class:`~.inferserver.NvInferServer`
or :class:`~.nvinfer.NvInfer`, which own pre-processing, the model and the parsers):

* **primary** (``process-mode=1``, full frames): every ``interval + 1``-th batch, each frame is
  scaled into the network and the detections become ``NvDsObjectMeta`` of the frame
  (gst_nvinfer_process_full_frame, attach_metadata_detector);
* **secondary** (``process-mode=2``, objects): each object of the frames that passes the element's
  filters — made by ``operate-on-gie-id``, of a class in ``operate-on-class-ids``, within the
  input-object size limits — is cropped and scaled into the network (should_infer_object,
  gst_nvinfer_process_objects). A classifier's results become an ``NvDsClassifierMeta`` with one
  ``NvDsLabelInfo`` per attribute on the object (attach_metadata_classifier); a secondary
  detector's boxes become child objects offset by their parent's corner. Tracked objects are
  remembered per source: a classifier infers a tracked object again only when its area grew by
  more than 20 % or ``secondary-reinfer-interval`` frames passed, and attaches the remembered
  result otherwise; in ``classifier-async-mode`` results appear from the object's next frame on,
  and untracked objects are skipped.

Frames come as objects with ``layout.format``, ``layout.width``, ``layout.height`` and ``planes``
(the GStreamer surface's :class:`~.gst.surface.FrameView`), one per ``batch_id``; metadata is
DeepStream's object model (:mod:`.meta`). The files named above are in github NVIDIA/DeepStream,
src/gst-plugins/gst-nvinfer and gst-nvinferserver.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from fake_device.deepstream.attribute_parser import Attribute, attribute_label
from fake_device.deepstream.bbox_parsers import Detections, ScaleGeometry
from fake_device.deepstream.inferserver import NvInferServer
from fake_device.deepstream.meta import (
    MAX_LABEL_SIZE,
    UNTRACKED_OBJECT_ID,
    NvDsBatchMeta,
    NvDsFrameMeta,
    NvDsMetaType,
    NvDsObjectMeta,
    nvds_acquire_classifier_meta_from_pool,
    nvds_acquire_label_info_meta_from_pool,
    nvds_acquire_obj_meta_from_pool,
    nvds_acquire_user_meta_from_pool,
    nvds_add_classifier_meta_to_object,
    nvds_add_label_info_meta_to_classifier,
    nvds_add_obj_meta_to_frame,
    nvds_add_user_meta_to_frame,
    nvds_add_user_meta_to_obj,
)
from fake_device.deepstream.meta_infer import NvDsInferTensorMeta

#: REINFER_AREA_THRESHOLD: a tracked object is classified again when its area grew by more than this
REINFER_AREA_THRESHOLD = 0.2
#: the object history of a source is trimmed every MAP_CLEANUP_INTERVAL frames of it, dropping
#: objects not seen for CLEANUP_ACCESS_CRITERIA frames
MAP_CLEANUP_INTERVAL = 1800
CLEANUP_ACCESS_CRITERIA = 150
#: DEFAULT_REINFER_INTERVAL (G_MAXINT): never again for a classifier, every frame for a detector
DEFAULT_REINFER_INTERVAL = 2**31 - 1

#: the formats the pads of nvinfer and nvinferserver accept
FORMATS = ("NV12", "RGBA")

RED = (1.0, 0.0, 0.0, 1.0)
Colour = tuple[float, float, float, float]


def parse_class_ids(text: str) -> tuple[int, ...]:
    """``infer-on-class-ids`` / ``filter-out-class-ids``: integers separated by any one character.

    The elements read them with a stringstream (``str >> id; str.get()``), so ``0:2:3`` and
    ``0;2;3`` both work; negative ids are skipped.
    """
    ids = []
    for piece in text.replace(";", ":").replace(",", ":").split(":"):
        piece = piece.strip()
        if piece and piece.lstrip("-").isdigit() and int(piece) >= 0:
            ids.append(int(piece))
    return tuple(ids)


class FrameSource(Protocol):
    """One frame of a batched surface (:class:`~.gst.surface.FrameView` has this shape)."""

    layout: Any  # .format, .width, .height
    planes: tuple[np.ndarray, ...]


@dataclass(frozen=True)
class GieSettings:
    """The element's settings after its config file and its properties (properties win)."""

    unique_id: int
    full_frame: bool = True
    interval: int = 0
    operate_on_gie_id: int = -1
    operate_on_class_ids: tuple[int, ...] = ()
    min_object: tuple[int, int] = (0, 0)
    max_object: tuple[int, int] = (0, 0)  # 0: no limit
    reinfer_interval: int = DEFAULT_REINFER_INTERVAL
    async_mode: bool = False
    output_tensor_meta: bool = False
    #: a secondary detector infers a tracked object again on every frame while
    #: ``reinfer_interval`` is the default (nvinfer); nvinferserver infers it once
    detector_reinfers_by_default: bool = True
    #: per class: border colour and background colour (None: no background); other classes red
    colours: tuple[tuple[Colour, Colour | None], ...] = ()


@dataclass
class ObjectHistory:
    """GstNvInferObjectHistory: what the element remembers about one tracked object."""

    last_inferred_frame_num: int = 0
    last_accessed_frame_num: int = 0
    last_inferred_area: float = 0.0
    cached: list[Attribute] = field(default_factory=list)


@dataclass
class SourceHistory:
    """GstNvInferSourceInfo: the object histories of one source (pad index)."""

    objects: dict[int, ObjectHistory] = field(default_factory=dict)
    last_seen_frame_num: int = 0
    last_cleanup_frame_num: int = 0


@dataclass
class _Job:
    """One network input: a frame or an object's crop, and where its results go."""

    frame_meta: NvDsFrameMeta
    obj_meta: NvDsObjectMeta | None
    source: FrameSource
    geometry: ScaleGeometry
    history: ObjectHistory | None = None


class Gie:
    """The batch logic of nvinfer / nvinferserver around an engine.

    ``name`` is the element's name, used in the latency marks each frame gets
    (``(name, t_in, t_out)`` in ``NvDsFrameMeta.latency``, as :mod:`.measure` reads them).
    """

    def __init__(self, engine: NvInferServer, settings: GieSettings, *, name: str) -> None:
        self.engine = engine
        self.settings = settings
        self.name = name
        self.labels = engine.config.labels
        self._interval_counter = 0
        self._sources: dict[int, SourceHistory] = {}

    # -- a batch ------------------------------------------------------------------------------
    def process(self, batch_meta: NvDsBatchMeta, frames: Sequence[FrameSource]) -> None:
        """Infer on ``batch_meta``'s frames (``frames[frame_meta.batch_id]``) and attach the results."""
        t_in = time.monotonic()
        if self.settings.full_frame:
            skip = self._interval_counter % (self.settings.interval + 1) > 0
            self._interval_counter += 1
            if not skip:
                self._full_frames(batch_meta, frames)
        else:
            self._objects(batch_meta, frames)
        t_out = time.monotonic()
        for frame_meta in batch_meta.frames:
            frame_meta.latency.append((self.name, t_in, t_out))

    def _full_frames(self, batch_meta: NvDsBatchMeta, frames: Sequence[FrameSource]) -> None:
        jobs = []
        for frame_meta in batch_meta.frames:
            source = _frame(frames, frame_meta)
            geometry = self.engine.geometry(source.layout.width, source.layout.height)
            jobs.append(_Job(frame_meta, None, source, geometry))
        self._run(jobs)

    def _objects(self, batch_meta: NvDsBatchMeta, frames: Sequence[FrameSource]) -> None:
        s = self.settings
        classifier = self.engine.config.classification is not None
        jobs: list[_Job] = []
        pending: list[tuple[ObjectHistory, NvDsObjectMeta]] = []
        for frame_meta in batch_meta.frames:
            source_history = self._sources.setdefault(frame_meta.pad_index, SourceHistory())
            frame_num = frame_meta.frame_num
            source_history.last_seen_frame_num = frame_num
            source = None
            for obj in list(frame_meta.objects):  # a secondary detector adds objects as it goes
                tracked = obj.object_id != UNTRACKED_OBJECT_ID
                if s.async_mode and not tracked:
                    continue  # "Cannot infer on untracked objects in asynchronous mode"
                history = source_history.objects.get(obj.object_id) if tracked else None
                needed = self._should_infer(obj, frame_num, history, classifier)
                if not needed and classifier and history is not None and not s.async_mode:
                    history.last_accessed_frame_num = frame_num
                    pending.append((history, obj))
                    continue
                if history is not None and s.async_mode:
                    self._attach_classification(frame_meta, obj, history.cached)
                    history.last_accessed_frame_num = frame_num
                if not needed:
                    continue
                source = source or _frame(frames, frame_meta)
                geometry = self._crop(obj, source)
                if geometry is None:
                    continue
                if tracked and history is None:
                    history = source_history.objects[obj.object_id] = ObjectHistory()
                if history is not None:
                    history.last_inferred_frame_num = frame_num
                    history.last_accessed_frame_num = frame_num
                    history.last_inferred_area = obj.rect_params.width * obj.rect_params.height
                jobs.append(_Job(frame_meta, obj, source, geometry, history))
        self._run(jobs)
        for history, obj in pending:
            self._attach_classification(None, obj, history.cached)
        for source_history in self._sources.values():
            self._clean_up(source_history)

    def _should_infer(
        self, obj: NvDsObjectMeta, frame_num: int, history: ObjectHistory | None, classifier: bool
    ) -> bool:
        s = self.settings
        rect = obj.rect_params
        if s.operate_on_gie_id > -1 and obj.unique_component_id != s.operate_on_gie_id:
            return False
        if rect.width < s.min_object[0] or rect.height < s.min_object[1]:
            return False
        if s.max_object[0] > 0 and rect.width > s.max_object[0]:
            return False
        if s.max_object[1] > 0 and rect.height > s.max_object[1]:
            return False
        if s.operate_on_class_ids and obj.class_id not in s.operate_on_class_ids:
            return False
        if history is None:
            return True
        since = frame_num - history.last_inferred_frame_num
        overdue = since < 0 or since > s.reinfer_interval  # DeepStream's unsigned difference wraps
        if classifier:
            grown = history.last_inferred_area * (1 + REINFER_AREA_THRESHOLD) < rect.width * rect.height
            return grown or overdue
        return overdue or (s.detector_reinfers_by_default and s.reinfer_interval == DEFAULT_REINFER_INTERVAL)

    def _crop(self, obj: NvDsObjectMeta, source: FrameSource) -> ScaleGeometry | None:
        """The object's rectangle, clipped to the frame, as the engine scales it; None if too small."""
        rect = obj.rect_params
        width, height = source.layout.width, source.layout.height
        left, top = max(0.0, rect.left), max(0.0, rect.top)
        right, bottom = min(float(width), rect.left + rect.width), min(float(height), rect.top + rect.height)
        try:
            geometry = self.engine.geometry(right - left, bottom - top, left, top)
        except ValueError:  # under 2 pixels after rounding
            return None
        # the corner is rounded up to even numbers: keep the rectangle inside the frame
        over_w = geometry.src_left + geometry.src_width - width
        over_h = geometry.src_top + geometry.src_height - height
        if over_w > 0 or over_h > 0:
            try:
                geometry = self.engine.geometry(
                    geometry.src_width - max(0, over_w), geometry.src_height - max(0, over_h), left, top
                )
            except ValueError:
                return None
        return geometry

    def _clean_up(self, source_history: SourceHistory) -> None:
        """cleanup_history_map: forget objects unseen for a while, every MAP_CLEANUP_INTERVAL frames."""
        if source_history.last_seen_frame_num - source_history.last_cleanup_frame_num < MAP_CLEANUP_INTERVAL:
            return
        source_history.last_cleanup_frame_num = source_history.last_seen_frame_num
        seen = source_history.last_seen_frame_num
        source_history.objects = {
            object_id: history
            for object_id, history in source_history.objects.items()
            if seen - history.last_accessed_frame_num <= CLEANUP_ACCESS_CRITERIA
        }

    # -- inference and results ------------------------------------------------------------------
    def _run(self, jobs: list[_Job]) -> None:
        if not jobs:
            return
        engine = self.engine
        step = engine.batch_size
        for start in range(0, len(jobs), step):  # one request per batch-size, filled in place
            chunk = jobs[start : start + step]
            tensors = engine.input_batch(len(chunk))
            for job, slot in zip(chunk, tensors, strict=True):
                engine.tensor(job.source.layout.format, job.source.planes, job.geometry, out=slot)
            for job, outputs in zip(chunk, engine.run(tensors), strict=True):
                job.frame_meta.bInferDone = 1
                if engine.config.classification is not None:
                    self._classified(job, engine.classify(outputs))
                elif engine.config.detection is not None:
                    self._attach_detections(job, engine.postprocess(outputs, job.geometry))
                # else network-type=100 / postprocess { other {} }: the app parses the tensor meta
                if self.settings.output_tensor_meta and not self.settings.async_mode:
                    self._attach_tensor_meta(job, outputs)

    def _classified(self, job: _Job, attributes: list[Attribute]) -> None:
        if job.history is not None:
            job.history.cached = attributes  # merge_classification_output: the latest result wins
        if self.settings.async_mode:
            return  # attached when the object shows up again
        if job.obj_meta is None:  # a full-frame classifier
            self._attach_classification(job.frame_meta, None, attributes, source=job.source)
        else:
            self._attach_classification(job.frame_meta, job.obj_meta, attributes)

    def _attach_detections(self, job: _Job, detections: Detections) -> None:
        frame_meta, parent = job.frame_meta, job.obj_meta
        batch = frame_meta.base_meta.batch_meta
        colours = self.settings.colours
        for (left, top, width, height), score, class_id in zip(
            detections.boxes.tolist(), detections.scores.tolist(), detections.class_ids.tolist(), strict=True
        ):
            obj = nvds_acquire_obj_meta_from_pool(batch)
            obj.unique_component_id = self.settings.unique_id
            obj.confidence = score
            obj.object_id = UNTRACKED_OBJECT_ID
            obj.class_id = class_id
            rect = obj.rect_params
            if parent is not None:
                left += parent.rect_params.left
                top += parent.rect_params.top
            rect.left, rect.top, rect.width, rect.height = left, top, width, height
            original = obj.detector_bbox_info.org_bbox_coords
            original.left, original.top = rect.left, rect.top
            original.width, original.height = rect.width, rect.height
            rect.border_width = 3
            border, background = colours[class_id] if 0 <= class_id < len(colours) else (RED, None)
            rect.border_color.set(*border)
            rect.has_bg_color = int(background is not None)
            if background is not None:
                rect.bg_color.set(*background)
            label = self.labels[class_id] if 0 <= class_id < len(self.labels) else None
            if label:
                obj.obj_label = _truncate(label)
                obj.text_params.display_text = label
            _text_style(obj)
            nvds_add_obj_meta_to_frame(frame_meta, obj, parent)

    def _attach_classification(
        self,
        frame_meta: NvDsFrameMeta | None,
        obj: NvDsObjectMeta | None,
        attributes: Sequence[Attribute],
        *,
        source: FrameSource | None = None,
    ) -> None:
        """attach_metadata_classifier: nothing when no attribute has a label."""
        label = attribute_label(attributes)
        if not attributes or not label:
            return
        if obj is None:  # full frame: one object covering the frame carries the result
            assert frame_meta is not None and source is not None
            obj = nvds_acquire_obj_meta_from_pool(frame_meta.base_meta.batch_meta)
            rect = obj.rect_params
            rect.left, rect.top = 0.0, 0.0
            rect.width, rect.height = source.layout.width, source.layout.height
            rect.has_bg_color = 0
            rect.bg_color.set(1.0, 1.0, 0.0, 0.4)
            rect.border_width = 6
            rect.border_color.set(*RED)
            obj.unique_component_id = self.settings.unique_id
            obj.object_id = UNTRACKED_OBJECT_ID
            obj.class_id = -1
            obj.text_params.display_text = ""
            _text_style(obj)
            nvds_add_obj_meta_to_frame(frame_meta, obj, None)
        batch = obj.base_meta.batch_meta
        classifier = nvds_acquire_classifier_meta_from_pool(batch)
        classifier.unique_component_id = self.settings.unique_id
        for attribute in attributes:
            info = nvds_acquire_label_info_meta_from_pool(batch)
            info.label_id = attribute.attribute_index
            info.result_class_id = attribute.value
            info.result_prob = attribute.confidence
            if attribute.label:
                info.result_label = _truncate(attribute.label)
            nvds_add_label_info_meta_to_classifier(classifier, info)
        text = obj.text_params
        previous = _string(text.display_text)
        if previous is None:
            text.display_text = ""
            _text_style(obj)
            previous = ""
        text.display_text = f"{previous} {label}"
        nvds_add_classifier_meta_to_object(obj, classifier)

    def _attach_tensor_meta(self, job: _Job, outputs: dict[str, np.ndarray]) -> None:
        """attach_tensor_output_meta: the raw outputs as user meta of the frame (primary) or object.

        The meta holds copies of the outputs: ``outputs`` are views of the request's buffers (shared
        memory with Triton), which the next request overwrites.
        """
        batch = job.frame_meta.base_meta.batch_meta
        user_meta = nvds_acquire_user_meta_from_pool(batch)
        gpu_ids = self.engine.config.gpu_ids
        user_meta.user_meta_data = NvDsInferTensorMeta.of(
            self.settings.unique_id, self.engine.network, outputs, gpu_id=gpu_ids[0] if gpu_ids else 0
        )
        user_meta.base_meta.meta_type = NvDsMetaType.NVDSINFER_TENSOR_OUTPUT_META
        if job.obj_meta is None:
            nvds_add_user_meta_to_frame(job.frame_meta, user_meta)
        else:
            nvds_add_user_meta_to_obj(job.obj_meta, user_meta)


def _frame(frames: Sequence[FrameSource], frame_meta: NvDsFrameMeta) -> FrameSource:
    index = frame_meta.batch_id
    if not 0 <= index < len(frames):
        raise ValueError(
            f"frame meta of source {frame_meta.source_id} has batch_id {index}, but the buffer holds "
            f"{len(frames)} frame(s)"
        )
    return frames[index]


def _truncate(label: str) -> str:
    """g_strlcpy into a MAX_LABEL_SIZE array: at most MAX_LABEL_SIZE - 1 bytes."""
    data = label.encode("utf-8")[: MAX_LABEL_SIZE - 1]
    return data.decode("utf-8", errors="ignore")


def _string(address: int) -> str | None:
    from fake_device.deepstream import cmemory

    return cmemory.string_at(address) if address else None


def _text_style(obj: NvDsObjectMeta) -> None:
    """The label style nvinfer gives an object: white Serif 11 on black, 10 px above the box.

    The offsets are unsigned in DeepStream; a box at the top edge gets 0 (a Jetson's float to
    unsigned conversion saturates).
    """
    rect, text = obj.rect_params, obj.text_params
    text.x_offset = max(0, int(rect.left))
    text.y_offset = max(0, int(rect.top - 10))
    text.set_bg_clr = 1
    text.text_bg_clr.set(0.0, 0.0, 0.0, 1.0)
    text.font_params.font_name = "Serif"
    text.font_params.font_size = 11
    text.font_params.font_color.set(1.0, 1.0, 1.0, 1.0)
