"""nvinfer on the CPU: the TensorRT element, with the model's ONNX file run in-process by ONNX Runtime.

On a Jetson, gst-nvinfer builds (or loads) a TensorRT engine from ``onnx-file`` and runs it in
the GStreamer process. The engine is GPU-specific and cannot run here, so :class:`NvInfer` runs
the ONNX file it is built from with ONNX Runtime in-process — the CPU analogue of an in-process
engine, and the same graph nvinferserver serves through Triton.

Everything around the model is shared with the nvinferserver emulation: the config is converted
to an :class:`~.inferserver_config.InferServerConfig`
(:meth:`~.nvinfer_config.NvInferConfig.to_inferserver_config`) and the element is an
:class:`~.inferserver.NvInferServer` with an :class:`~.inferserver.OnnxRuntimeBackend`, so
frame scaling, colour conversion, normalisation,
batching, the bounding-box parsers and the mapping back to the frame are the same code. Only the
detection post-processing differs, because nvinfer's differs from nvinferserver's
(nvdsinfer_context_impl_output_parsing.cpp and gstnvinfer_meta_utils.cpp in NVIDIA/DeepStream):
NMS with each class's own IoU threshold, a post-cluster threshold, a top-k per class (also
without clustering), then the element's per-class size and ROI filters and
``filter-out-class-ids`` on the boxes in frame pixels.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from fake_device.deepstream.bbox_parsers import (
    Detections,
    ScaleGeometry,
    cluster_nms,
    filter_detections,
    map_to_frame,
)
from fake_device.deepstream.inferserver import NvInferServer, OnnxRuntimeBackend
from fake_device.deepstream.nvinfer_config import CLUSTER_NMS, NvInferConfig, load_nvinfer_config


class NvInfer(NvInferServer):
    """gst-nvinfer's inference engine (a detector or a classifier), driven by its key-file config.

    The ``nvinfer`` GStreamer element (:mod:`.elements.nvinfer`) runs one; the old Python runtime
    uses it as its element through :meth:`process`.

    ``threads`` is ONNX Runtime's intra-op thread count (None: ONNX Runtime's default, one per
    core). ``batch-size`` caps the frames per inference call; ``name`` is the element name in
    each frame's latency marks. ``process(batch)``, ``close()`` and the context manager behave as
    :class:`~.inferserver.NvInferServer`'s. ``nvinfer_config`` is the parsed file, ``config`` its
    nvinferserver equivalent.
    """

    #: get_converted_buffer truncates the scaled size but does not round it to even numbers
    EVEN_DESTINATION = False

    def __init__(
        self,
        config: NvInferConfig | str | Path,
        *,
        name: str = "primary-inference",
        threads: int | None = None,
    ) -> None:
        if threads is not None and threads < 1:
            raise ValueError(
                f"threads must be at least 1 (or None for ONNX Runtime's default), got {threads}"
            )
        self.nvinfer_config = config if isinstance(config, NvInferConfig) else load_nvinfer_config(config)
        nv = self.nvinfer_config
        try:
            backend = OnnxRuntimeBackend(nv.onnx_file, intra_op_threads=threads or 0)
        except Exception as err:  # onnxruntime raises its own types for a bad file
            raise nv.error(f"cannot load onnx-file {nv.onnx_file}: {err}", "onnx-file") from err
        try:
            converted = nv.to_inferserver_config(
                {n: s.dims for n, s in backend.inputs.items()},
                {n: s.dims for n, s in backend.outputs.items()},
                model_max_batch_size=backend.max_batch_size,
            )
        except BaseException:
            backend.close()
            raise
        super().__init__(converted, backend=backend, name=name)
        attrs = nv.class_attrs
        self._filter_out = np.asarray(sorted(nv.filter_out_class_ids), np.int64)
        self._min_w = np.asarray([a.detected_min_w for a in attrs], np.float32)
        self._min_h = np.asarray([a.detected_min_h for a in attrs], np.float32)
        self._max_w = np.asarray([a.detected_max_w for a in attrs], np.float32)
        self._max_h = np.asarray([a.detected_max_h for a in attrs], np.float32)
        self._roi_top = np.asarray([a.roi_top_offset for a in attrs], np.float32)
        self._roi_bottom = np.asarray([a.roi_bottom_offset for a in attrs], np.int64)

    # -- per frame ---------------------------------------------------------------------------
    def postprocess(self, outputs: Mapping[str, np.ndarray], geometry: ScaleGeometry) -> Detections:
        """One frame's output tensors → detections in frame pixels, as nvinfer produces them.

        Parse and drop rows under their class's pre-cluster threshold (shared with
        nvinferserver), cluster per class (:meth:`cluster`), map back to the frame, then apply
        the element's filters (:meth:`attach_filter`).
        """
        assert self.config.detection is not None, "postprocess() is for detectors"
        thresholds = self.config.detection.pre_thresholds
        parsed = self._parse(outputs, self.network, thresholds)
        clustered = self.cluster(filter_detections(parsed, thresholds))
        return self.attach_filter(map_to_frame(clustered, geometry), geometry.src_height)

    def cluster(self, detections: Detections) -> Detections:
        """DetectPostprocessor's clustering, class by class (the output is grouped by class too).

        cluster-mode=2: greedy NMS with the class's ``nms-iou-threshold``, then only scores
        strictly above its ``post-cluster-threshold``. Both modes then keep the class's ``topk``
        best (a stable sort by score; ``topk`` unset keeps all and the parser's order).
        """
        nms = self.nvinfer_config.cluster_mode == CLUSTER_NMS
        pieces = []
        for class_id, attrs in enumerate(self.nvinfer_config.class_attrs):
            rows = detections.select(detections.class_ids == class_id)
            if not len(rows):
                continue
            if nms:
                rows = cluster_nms(rows, attrs.nms_iou_threshold)
                rows = rows.select(rows.scores > attrs.post_cluster_threshold)
            if attrs.topk >= 0:
                rows = rows.select(np.argsort(-rows.scores, kind="stable")[: attrs.topk])
            pieces.append(rows)
        return Detections.joined(pieces)

    def attach_filter(self, detections: Detections, frame_height: int) -> Detections:
        """attach_metadata_detector's filters, on boxes in frame pixels.

        Dropped: classes in ``filter-out-class-ids``; boxes narrower/lower than the class's
        ``detected-min-w/h`` or (when set) wider/higher than ``detected-max-w/h``; boxes whose top
        is above ``roi-top-offset`` or whose bottom is below ``frame_height - roi-bottom-offset``.
        The bottom test applies with offset 0 too, so a box reaching past the frame's bottom
        (e.g. in letterbox padding) is dropped. DeepStream compares single-precision floats, and
        so does this. ``frame_height`` is the height the frame was scaled from (even, as muxer
        frames are).
        """
        if not len(detections):
            return detections
        cls = detections.class_ids
        left, top, width, height = detections.boxes.astype(np.float32).T
        del left
        bottom_limit = (frame_height - self._roi_bottom[cls]).astype(np.float32)
        keep = ~np.isin(cls, self._filter_out)
        keep &= ~(width < self._min_w[cls]) & ~(height < self._min_h[cls])
        keep &= ~((self._max_w[cls] > 0) & (width > self._max_w[cls]))
        keep &= ~((self._max_h[cls] > 0) & (height > self._max_h[cls]))
        keep &= ~(top < self._roi_top[cls]) & ~(top + height > bottom_limit)
        return detections.select(keep)
