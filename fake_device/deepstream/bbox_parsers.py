"""Detector output parsing for the nvinferserver emulation: parsers, clustering, mapping back.

In DeepStream a detector's raw output tensors go through three steps before they become
``NvDsObjectMeta``: a bounding-box parser (``custom_parse_bbox_func`` in a custom library; the seed
uses DeepStream-Yolo's ``NvDsInferParseYolo``), the per-class threshold filter and clustering of
the detection post-processor (``DetectPostprocessor`` in
src/utils/nvdsinferserver/infer_postprocess.cpp), and the inverse of the frame scaling
(``attachDetectionMetadata`` in src/gst-plugins/gst-nvinferserver/gstnvinferserver_meta_utils.cpp).
This module reproduces each step on numpy arrays, one frame at a time, so that a box the
emulation reports is the box DeepStream would report for the same tensors — including the
corner cases (class ids truncated, boxes clamped to the network, boxes under one pixel dropped,
no clipping to the frame after mapping back).

Parsers see the network's coordinates (pixels of the network input, e.g. 640×640); only
:func:`map_to_frame` knows about the muxer frame.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

#: the lyuwenyu RT-DETR export's second input; the emulation feeds the network size (w, h)
ORIG_TARGET_SIZES_INPUT = "orig_target_sizes"


@dataclass(frozen=True)
class NetworkInfo:
    """NvDsInferNetworkInfo: the network input's size, which parsers clamp boxes to."""

    width: int
    height: int
    channels: int


@dataclass(frozen=True)
class Detections:
    """A frame's parsed objects (NvDsInferParseObjectInfo), one row per object.

    ``boxes`` are ``left, top, width, height`` (float32, as DeepStream's struct), in network
    pixels until :func:`map_to_frame` moves them to the frame.
    """

    boxes: np.ndarray  # [N, 4] left, top, width, height
    scores: np.ndarray  # [N]
    class_ids: np.ndarray  # [N] int64

    def __len__(self) -> int:
        return len(self.scores)

    @classmethod
    def empty(cls) -> Detections:
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64))

    @classmethod
    def joined(cls, pieces: Sequence[Detections]) -> Detections:
        """The rows of ``pieces`` one after another (none: empty): the per-class results of a frame
        become one list in class order, as DeepStream appends each class's objects to its vector."""
        if not pieces:
            return cls.empty()
        return cls(
            np.concatenate([p.boxes for p in pieces]),
            np.concatenate([p.scores for p in pieces]),
            np.concatenate([p.class_ids for p in pieces]),
        )

    def select(self, index: np.ndarray) -> Detections:
        """The rows picked by a boolean mask or an index array, in that order."""
        return Detections(self.boxes[index], self.scores[index], self.class_ids[index])


ParseFunc = Callable[[Mapping[str, np.ndarray], NetworkInfo, Sequence[float]], Detections]


class LayoutError(ValueError):
    """The model's outputs do not have the layout the configured parser reads."""


# --- shared steps of the DeepStream-Yolo parsers -------------------------------------------------


def _thresholds(class_ids: np.ndarray, thresholds: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Per row: whether the class id indexes the threshold table, and that class's threshold.

    DeepStream-Yolo indexes ``perClassPreclusterThreshold[classId]`` without a range check (an out
    of range id reads past the vector); the emulation treats such a row as failing the threshold,
    which is what ``filterDetectionOutput`` would do with it anyway.
    """
    table = np.asarray(thresholds, dtype=np.float32)
    valid = (class_ids >= 0) & (class_ids < len(table))
    per_row = np.full(class_ids.shape, np.inf, dtype=np.float32)
    per_row[valid] = table[class_ids[valid]]
    return valid, per_row


def _clamp_xyxy(xyxy: np.ndarray, network: NetworkInfo) -> np.ndarray:
    """convertBBox of nvdsparsebbox_Yolo.cpp: corners clamped to [0, netW] / [0, netH] (not netW-1),
    then width/height clamped to the same range; returns left, top, width, height."""
    net_w, net_h = np.float32(network.width), np.float32(network.height)
    x1 = np.clip(xyxy[:, 0], 0, net_w)
    y1 = np.clip(xyxy[:, 1], 0, net_h)
    x2 = np.clip(xyxy[:, 2], 0, net_w)
    y2 = np.clip(xyxy[:, 3], 0, net_h)
    return np.stack([x1, y1, np.clip(x2 - x1, 0, net_w), np.clip(y2 - y1, 0, net_h)], axis=1)


def _proposals(
    xyxy: np.ndarray,
    scores: np.ndarray,
    class_ids: np.ndarray,
    network: NetworkInfo,
    thresholds: Sequence[float],
) -> Detections:
    """decodeTensorYolo + addBBoxProposal: threshold per class (``score < thr`` drops, equal keeps),
    clamp to the network, drop boxes narrower or lower than one pixel."""
    xyxy = np.asarray(xyxy, dtype=np.float32).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float32).reshape(-1)
    class_ids = np.asarray(class_ids, dtype=np.int64).reshape(-1)
    valid, per_row = _thresholds(class_ids, thresholds)
    keep = valid & ~(scores < per_row)
    boxes = _clamp_xyxy(xyxy[keep], network)
    big_enough = (boxes[:, 2] >= 1) & (boxes[:, 3] >= 1)
    return Detections(boxes[big_enough], scores[keep][big_enough], class_ids[keep][big_enough])


def _only_output(outputs: Mapping[str, np.ndarray], parser: str) -> np.ndarray:
    if not outputs:
        raise LayoutError(f"{parser}: the model returned no output tensor")
    # DeepStream-Yolo reads outputLayersInfo[0]: the first output in the model's order.
    return next(iter(outputs.values()))


def _yolo_rows(outputs: Mapping[str, np.ndarray], parser: str) -> np.ndarray:
    rows = _only_output(outputs, parser)
    if rows.ndim != 2 or rows.shape[1] != 6:
        raise LayoutError(
            f"{parser}: expected the first output to be [N, 6] (x1, y1, x2, y2, score, class), "
            f"got {list(rows.shape)}"
        )
    return rows.astype(np.float32, copy=False)


# --- the parsers ---------------------------------------------------------------------------------


def parse_yolo(
    outputs: Mapping[str, np.ndarray], network: NetworkInfo, thresholds: Sequence[float]
) -> Detections:
    """DeepStream-Yolo's ``NvDsInferParseYolo`` (nvdsinfer_custom_impl_Yolo/nvdsparsebbox_Yolo.cpp).

    One output ``[N, 6]`` per frame: ``x1, y1, x2, y2`` in network pixels, score, class id as a
    float. The class id is converted with a C cast (truncation toward zero, not rounding).
    """
    rows = _yolo_rows(outputs, "NvDsInferParseYolo")
    class_ids = np.trunc(rows[:, 5]).astype(np.int64)
    return _proposals(rows[:, :4], rows[:, 4], class_ids, network, thresholds)


def parse_yolo_cuda(
    outputs: Mapping[str, np.ndarray], network: NetworkInfo, thresholds: Sequence[float]
) -> Detections:
    """DeepStream-Yolo's ``NvDsInferParseYoloCuda`` (nvdsparsebbox_Yolo_cuda.cu).

    The same decoding on the GPU, with two differences that show downstream: every row comes
    back (a row under its threshold becomes an all-zero object of class 0 with confidence 0),
    and boxes under one pixel are *not* dropped. With a zero threshold for class 0 those zero
    rows survive DeepStream's own threshold filter, as on a device.
    """
    rows = _yolo_rows(outputs, "NvDsInferParseYoloCuda")
    class_ids = np.trunc(rows[:, 5]).astype(np.int64)
    valid, per_row = _thresholds(class_ids, thresholds)
    keep = valid & ~(rows[:, 4] < per_row)
    boxes = np.zeros((len(rows), 4), np.float32)  # thrust::device_vector value-initialises
    boxes[keep] = _clamp_xyxy(rows[keep, :4], network)
    scores = np.where(keep, rows[:, 4], np.float32(0)).astype(np.float32)
    return Detections(boxes, scores, np.where(keep, class_ids, 0))


def parse_rtdetr(
    outputs: Mapping[str, np.ndarray], network: NetworkInfo, thresholds: Sequence[float]
) -> Detections:
    """The official RT-DETR export (lyuwenyu/RT-DETR): ``labels [N]``, ``boxes [N, 4]``, ``scores [N]``.

    Boxes are ``x1, y1, x2, y2`` in the pixels given by the model's ``orig_target_sizes`` input
    (``w, h``). The emulation feeds the network size there, so boxes arrive in network pixels
    like every other parser's and then get the NvDsInferParseYolo treatment (threshold, clamp,
    under-one-pixel drop). DeepStream-Yolo has no parser for this layout (its exporter rewrites
    the graph to the ``[N, 6]`` layout); the name is the emulation's.
    """
    missing = [n for n in ("labels", "boxes", "scores") if n not in outputs]
    if missing:
        raise LayoutError(
            f"NvDsInferParseRTDETR: the model has no output named {', '.join(missing)} "
            f"(it has {', '.join(outputs) or 'none'})"
        )
    boxes = outputs["boxes"]
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise LayoutError(f"NvDsInferParseRTDETR: expected boxes [N, 4], got {list(boxes.shape)}")
    labels = np.asarray(outputs["labels"]).reshape(-1)
    class_ids = labels.astype(np.int64) if labels.dtype.kind in "iu" else np.trunc(labels).astype(np.int64)
    return _proposals(boxes, outputs["scores"], class_ids, network, thresholds)


def parse_rtdetr_ultralytics(
    outputs: Mapping[str, np.ndarray], network: NetworkInfo, thresholds: Sequence[float]
) -> Detections:
    """The Ultralytics RT-DETR export: ``output0 [N, 4 + nc]``, normalised ``cx, cy, w, h`` then
    one score per class. The class is the best-scoring one, its score the confidence; boxes are
    scaled to network pixels and then treated as NvDsInferParseYolo treats its rows. The name is
    the emulation's (DeepStream-Yolo's exporter rewrites this graph to the ``[N, 6]`` layout)."""
    rows = _only_output(outputs, "NvDsInferParseRTDETRUltralytics")
    if rows.ndim != 2 or rows.shape[1] < 5:
        raise LayoutError(
            "NvDsInferParseRTDETRUltralytics: expected the first output to be [N, 4 + classes] "
            f"(cx, cy, w, h normalised, class scores), got {list(rows.shape)}"
        )
    rows = rows.astype(np.float32, copy=False)
    class_scores = rows[:, 4:]
    class_ids = class_scores.argmax(axis=1).astype(np.int64)
    scores = class_scores[np.arange(len(rows)), class_ids]
    scale = np.array([network.width, network.height], np.float32)
    centre, size = rows[:, 0:2] * scale, rows[:, 2:4] * scale
    xyxy = np.concatenate([centre - size / 2, centre + size / 2], axis=1)
    return _proposals(xyxy, scores, class_ids, network, thresholds)


#: DetectNet_v2's box normalisation (bboxNorm in DetectPostprocessor::parseBoundingBox)
_DETECTNET_BBOX_NORM = 35.0


def _detectnet_layers(outputs: Mapping[str, np.ndarray]) -> tuple[str, str]:
    """The coverage and box outputs: the last output whose name contains ``cov`` / ``bbox``."""
    cov = [name for name in outputs if "cov" in name]
    bbox = [name for name in outputs if "bbox" in name]
    if not cov:
        raise LayoutError(
            "Could not find output coverage layer for parsing objects "
            f"(no output name contains 'cov'; outputs: {', '.join(outputs) or 'none'})"
        )
    if not bbox:
        raise LayoutError(
            "Could not find output bbox layer for parsing objects "
            f"(no output name contains 'bbox'; outputs: {', '.join(outputs) or 'none'})"
        )
    return cov[-1], bbox[-1]


def parse_detectnet(
    outputs: Mapping[str, np.ndarray], network: NetworkInfo, thresholds: Sequence[float]
) -> Detections:
    """nvinfer's and nvinferserver's built-in parser, used when no custom one is named.

    DetectPostprocessor::parseBoundingBox (nvdsinfer_context_impl_output_parsing.cpp) reads a
    DetectNet_v2 grid (NVIDIA's TrafficCamNet, PeopleNet, …): a coverage output ``[C, H, W]``
    (per class and grid cell, a confidence) and a box output ``[4C, H, W]`` (per class the
    planes x1, y1, x2, y2 as offsets from the cell centre, normalised by 35). A cell is kept when
    its confidence is not under the class's threshold; corners are clipped to the network
    (``>= width`` → ``width - 1``, negative → 0) and a box whose corners cross is dropped. Objects
    come out class by class, row by row.
    """
    cov_name, bbox_name = _detectnet_layers(outputs)
    cov, bbox = np.asarray(outputs[cov_name], np.float32), np.asarray(outputs[bbox_name], np.float32)
    if cov.ndim != 3 or bbox.ndim != 3:
        raise LayoutError(
            f"expected coverage [C, H, W] and bbox [4C, H, W] outputs, got {cov_name} "
            f"{list(cov.shape)} and {bbox_name} {list(bbox.shape)}"
        )
    classes, grid_h, grid_w = cov.shape
    if bbox.shape != (4 * classes, grid_h, grid_w):
        raise LayoutError(
            f"the bbox output {bbox_name} {list(bbox.shape)} does not match the coverage output "
            f"{cov_name} {list(cov.shape)} (expected [{4 * classes}, {grid_h}, {grid_w}])"
        )
    norm = np.float32(_DETECTNET_BBOX_NORM)
    stride_x = -(-network.width // grid_w)  # DIVIDE_AND_ROUND_UP
    stride_y = -(-network.height // grid_h)
    centre_x = (np.arange(grid_w, dtype=np.float32) * stride_x + np.float32(0.5)) / norm
    centre_y = (np.arange(grid_h, dtype=np.float32) * stride_y + np.float32(0.5)) / norm
    net_w, net_h = np.float32(network.width), np.float32(network.height)
    pieces: list[Detections] = []
    for class_id in range(min(classes, len(thresholds))):
        rows, cols = np.nonzero(~(cov[class_id] < np.float32(thresholds[class_id])))
        if not len(rows):
            continue
        planes = bbox[4 * class_id : 4 * class_id + 4, rows, cols]
        x1 = (planes[0] - centre_x[cols]) * -norm
        y1 = (planes[1] - centre_y[rows]) * -norm
        x2 = (planes[2] + centre_x[cols]) * norm
        y2 = (planes[3] + centre_y[rows]) * norm
        for value, limit in ((x1, net_w), (x2, net_w), (y1, net_h), (y2, net_h)):
            value[value >= limit] = limit - 1
            value[value < 0] = 0
        keep = ~((x2 - x1) < 0) & ~((y2 - y1) < 0)
        boxes = np.stack([x1, y1, x2 - x1, y2 - y1], axis=1)[keep]
        scores = cov[class_id, rows, cols][keep]
        pieces.append(Detections(boxes, scores, np.full(len(scores), class_id, np.int64)))
    return Detections.joined(pieces)


#: custom_parse_bbox_func → parser. The first two are DeepStream-Yolo's exported symbols.
PARSERS: dict[str, ParseFunc] = {
    "NvDsInferParseYolo": parse_yolo,
    "NvDsInferParseYoloCuda": parse_yolo_cuda,
    "NvDsInferParseRTDETR": parse_rtdetr,
    "NvDsInferParseRTDETRUltralytics": parse_rtdetr_ultralytics,
}

#: the name of the built-in parser: none is configured (no parse-bbox-func-name / custom_parse_bbox_func)
BUILTIN_PARSER = ""

#: what each parser reads, for error messages
LAYOUTS: dict[str, str] = {
    "NvDsInferParseYolo": "one output [N, 6]: x1, y1, x2, y2 (network pixels), score, class id",
    "NvDsInferParseYoloCuda": "one output [N, 6]: x1, y1, x2, y2 (network pixels), score, class id",
    "NvDsInferParseRTDETR": "outputs labels [N], boxes [N, 4] (x1, y1, x2, y2), scores [N]; "
    "input orig_target_sizes [2]",
    "NvDsInferParseRTDETRUltralytics": "one output [N, 4 + classes]: cx, cy, w, h (normalised), class scores",
    BUILTIN_PARSER: "DetectNet_v2 outputs: coverage [C, H, W] (a name with 'cov') and boxes [4C, H, W] "
    "(a name with 'bbox')",
}


def parser_for(name: str) -> ParseFunc:
    """The parser a config names; the built-in DetectNet_v2 one for ``BUILTIN_PARSER`` (no name)."""
    return parse_detectnet if name == BUILTIN_PARSER else PARSERS[name]


def describe_parser(name: str) -> str:
    """How messages name a parser."""
    return "the built-in DetectNet_v2 parser" if name == BUILTIN_PARSER else name


def layout_problem(parser: str, outputs: Mapping[str, Sequence[int]]) -> str | None:
    """Why a model with these output dims (per frame, no batch) cannot feed ``parser``; None if it can.

    Checked once when the element starts, so that a model/parser mismatch fails with both
    layouts named instead of on the first frame.
    """
    if parser != BUILTIN_PARSER and parser not in PARSERS:
        return f"unknown parser {parser!r}"
    probe = {name: np.zeros([max(int(d), 1) for d in dims], np.float32) for name, dims in outputs.items()}
    try:
        parser_for(parser)(probe, NetworkInfo(2, 2, 3), [1.0])
    except LayoutError as err:
        return str(err).removeprefix(f"{parser}: ")
    return None


# --- DeepStream's detection post-processing ------------------------------------------------------


def filter_detections(detections: Detections, thresholds: Sequence[float]) -> Detections:
    """filterDetectionOutput: drop rows whose class is not configured or whose score is under it."""
    valid, per_row = _thresholds(detections.class_ids, thresholds)
    return detections.select(valid & ~(detections.scores < per_row))


def _iou(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    """computeIoU of DetectPostprocessor::nonMaximumSuppression (boxes as left, top, width, height)."""
    ix = np.minimum(box[0] + box[2], others[:, 0] + others[:, 2]) - np.maximum(box[0], others[:, 0])
    iy = np.minimum(box[1] + box[3], others[:, 1] + others[:, 3]) - np.maximum(box[1], others[:, 1])
    inter = np.clip(ix, 0, None) * np.clip(iy, 0, None)
    union = box[2] * box[3] + others[:, 2] * others[:, 3] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union == 0, 0.0, inter / union)


def cluster_nms(detections: Detections, iou_threshold: float, topk: int = 0) -> Detections:
    """clusterAndFillDetectionOutputNMS: greedy NMS per class, then the ``topk`` best overall.

    Per class, rows are taken by score (stable: ties keep their order) and a row is kept when
    its IoU with every kept row is ``<= iou_threshold``. Kept rows come out class by class.
    DeepStream then applies ``topk`` with ``std::nth_element``, which leaves the survivors in an
    unspecified order; the emulation sorts them by score.
    """
    kept: list[int] = []
    for class_id in np.unique(detections.class_ids):
        rows = np.flatnonzero(detections.class_ids == class_id)
        rows = rows[np.argsort(-detections.scores[rows], kind="stable")]
        chosen: list[int] = []
        for row in rows:
            if chosen and np.any(_iou(detections.boxes[row], detections.boxes[chosen]) > iou_threshold):
                continue
            chosen.append(int(row))
        kept.extend(chosen)
    index = np.asarray(kept, dtype=np.int64)
    if topk > 0 and topk < len(index):
        index = index[np.argsort(-detections.scores[index], kind="stable")[:topk]]
    return detections.select(index)


# --- frame scaling and its inverse ---------------------------------------------------------------


@dataclass(frozen=True)
class ScaleGeometry:
    """How one frame, or one object's crop of it, was put into the network input.

    The source rectangle starts at ``src_left, src_top`` (0, 0 for a full frame; an object's
    corner rounded up to even numbers) and is ``src_width × src_height`` (rounded down to even
    numbers); it is scaled to ``dst_width × dst_height`` and placed at ``offset_left, offset_top``
    in the network input, the rest being black padding.
    """

    src_width: int
    src_height: int
    dst_width: int
    dst_height: int
    offset_left: int
    offset_top: int
    scale_x: float
    scale_y: float
    src_left: int = 0
    src_top: int = 0


def _round_down_even(value: int) -> int:
    return int(value) & ~1


def _round_up_even(value: int) -> int:
    return (int(value) + 1) & ~1


def scale_geometry(
    frame_width: float,
    frame_height: float,
    network: NetworkInfo,
    *,
    maintain_aspect_ratio: bool,
    symmetric_padding: bool,
    left: float = 0,
    top: float = 0,
    even_destination: bool = True,
) -> ScaleGeometry:
    """The scaling of a full frame (``left = top = 0``) or of an object's rectangle.

    As nvinferserver (CropSurfaceConverter::resizeBatch in infer_preprocess.cpp) and nvinfer
    (get_converted_buffer in gstnvinfer.cpp) do it: the corner is truncated to integers and
    rounded up to even numbers, the size truncated and rounded down to even numbers. With
    ``maintain_aspect_ratio`` the rectangle fills the network's width or height (whichever
    limits) and the other side is padded: bottom/right by default, split evenly with
    ``symmetric_padding`` (the odd pixel goes to the bottom/right). nvinferserver rounds the
    scaled size down to even numbers (``even_destination``, its CUDA path needs them); nvinfer
    only truncates it.
    """
    src_w, src_h = _round_down_even(frame_width), _round_down_even(frame_height)
    if src_w <= 0 or src_h <= 0:
        raise ValueError(f"frame {frame_width}x{frame_height} is too small to scale")
    dst_w, dst_h = network.width, network.height
    if maintain_aspect_ratio:
        h_dest = network.width * src_h / src_w
        w_dest = network.height * src_w / src_h
        if h_dest <= network.height:
            dst_h = int(h_dest)
        else:
            dst_w = int(w_dest)
    if even_destination:
        dst_w, dst_h = _round_down_even(dst_w), _round_down_even(dst_h)
    pad_left = pad_top = 0
    if symmetric_padding:
        pad_left = (network.width - dst_w) // 2
        pad_top = (network.height - dst_h) // 2
    return ScaleGeometry(
        src_w,
        src_h,
        dst_w,
        dst_h,
        pad_left,
        pad_top,
        dst_w / src_w,
        dst_h / src_h,
        _round_up_even(left),
        _round_up_even(top),
    )


def map_to_frame(detections: Detections, geometry: ScaleGeometry) -> Detections:
    """Network pixels → frame pixels: ``(x − offset) / scale + crop origin`` (attachDetectionMetadata).

    Boxes are not clipped to the frame: DeepStream 6/7 do not clip either (only with
    ``clip_object_outside_roi``), so a box in the padding maps outside the frame. The crop
    origin is 0 for full frames; for an object the element adds its parent's corner instead
    (``rect_params.left += parent.left``), as DeepStream does, so ``src_left``/``src_top`` are not
    added here.
    """
    boxes = detections.boxes.astype(np.float64)
    boxes[:, 0] = (boxes[:, 0] - geometry.offset_left) / geometry.scale_x
    boxes[:, 1] = (boxes[:, 1] - geometry.offset_top) / geometry.scale_y
    boxes[:, 2] /= geometry.scale_x
    boxes[:, 3] /= geometry.scale_y
    return Detections(boxes, detections.scores, detections.class_ids)
