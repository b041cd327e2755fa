"""COCO-style detection metrics over world frames, computed by pycocotools in memory.

pycocotools is the reference implementation of the COCO metric (101-point interpolated AP, greedy
matching by score, crowd regions that absorb detections); reimplementing it would only invite
subtle differences from the figures people compare against. This module's job is to turn the
world's truth and the model's detections into COCO structures without writing JSON files, keep
pycocotools' progress prints off the console, and read the per-class numbers out of its
precision/recall arrays.

Two views of the same run:

* **class-aware** — a detection must carry the right class (only for models whose labels are
  world classes);
* **vehicle-agnostic** — every truth and every detection is one class, ``vehicle``. This is the
  figure that compares a one-class model with a four-class model.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from harness.eval.contract import FrameDetections
from harness.eval.truth import FrameTruth

AGNOSTIC_NAME = "vehicle"
#: COCO's maxDets: the metric scores at most this many detections per image and class
MAX_DETS = 100


@dataclass(frozen=True)
class ClassAP:
    """One class's figures. ``None`` when the frames hold no (non-ignored) truth of the class."""

    truth: int  # truth boxes that count (crowd regions excluded)
    detections: int
    ap50: float | None  # AP at IoU 0.5
    ap: float | None  # AP averaged over IoU 0.50:0.05:0.95
    recall50: float | None  # recall at IoU 0.5 with up to MAX_DETS detections per image


@dataclass(frozen=True)
class DetectionMetrics:
    """mAP figures of one view (class-aware or agnostic). Means skip classes without truth."""

    map50: float
    map: float
    map75: float
    recall50: float
    per_class: dict[str, ClassAP]

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _coco_box(image_id: int, category_id: int, box: Sequence[float]) -> dict[str, object]:
    """The COCO fields of one box given as x1, y1, x2, y2 (COCO wants x, y, w, h and the area)."""
    x1, y1, x2, y2 = (float(v) for v in box)
    return {
        "image_id": int(image_id),
        "category_id": category_id,
        "bbox": [x1, y1, x2 - x1, y2 - y1],
        "area": (x2 - x1) * (y2 - y1),
    }


def _coco_objects(
    truth: Mapping[int, FrameTruth],
    detections: Mapping[int, FrameDetections],
    class_names: Sequence[str],
    agnostic: bool,
) -> tuple[object, object]:
    from pycocotools.coco import COCO

    def category(class_id: int) -> int:
        return 1 if agnostic else int(class_id) + 1  # COCO category ids start at 1

    names = [AGNOSTIC_NAME] if agnostic else list(class_names)
    categories = [{"id": i + 1, "name": n} for i, n in enumerate(names)]
    images = [{"id": int(image_id)} for image_id in sorted(truth)]
    annotations = []
    for image_id in sorted(truth):
        t = truth[image_id]
        for box, class_id, ignore in zip(t.boxes, t.class_ids, t.ignore, strict=True):
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    **_coco_box(image_id, category(class_id), box),
                    "iscrowd": int(bool(ignore)),
                }
            )
    results = []
    for image_id, d in detections.items():
        if image_id not in truth:
            raise ValueError(f"detections for image {image_id}, which has no truth entry")
        for box, score, class_id in zip(d.boxes, d.scores, d.class_ids, strict=True):
            if not agnostic and not 0 <= class_id < len(class_names):
                raise ValueError(f"class id {class_id} outside the {len(class_names)} classes")
            results.append(
                {
                    "id": len(results) + 1,
                    **_coco_box(image_id, category(class_id), box),
                    "score": float(score),
                    "iscrowd": 0,
                }
            )
    quiet = io.StringIO()
    with contextlib.redirect_stdout(quiet):
        gt = COCO()
        gt.dataset = {"images": images, "categories": categories, "annotations": annotations}
        gt.createIndex()
        dt = COCO()
        dt.dataset = {"images": images, "categories": categories, "annotations": results}
        dt.createIndex()
    return gt, dt


def _mean(values: Sequence[float]) -> float:
    """A mean over the values pycocotools filled in (-1 marks 'no truth for this class')."""
    arr = np.asarray(values, dtype=np.float64)
    arr = arr[arr > -1]
    return float(arr.mean()) if arr.size else float("nan")


def coco_metrics(
    truth: Mapping[int, FrameTruth],
    detections: Mapping[int, FrameDetections],
    class_names: Sequence[str],
    *,
    agnostic: bool = False,
) -> DetectionMetrics:
    """COCO mAP@0.5, mAP@0.5:0.95 (and @0.75), recall@0.5 and per-class AP.

    ``truth`` and ``detections`` are keyed by image id; every image with detections must have a
    truth entry (possibly empty). With ``agnostic`` all classes merge into ``vehicle``.
    """
    from pycocotools.cocoeval import COCOeval

    gt, dt = _coco_objects(truth, detections, class_names, agnostic)
    names = [AGNOSTIC_NAME] if agnostic else list(class_names)
    quiet = io.StringIO()
    with contextlib.redirect_stdout(quiet):
        evaluator = COCOeval(gt, dt, iouType="bbox")
        evaluator.params.maxDets = [1, 10, MAX_DETS]
        evaluator.evaluate()
        evaluator.accumulate()
    precision = evaluator.eval["precision"]  # [T IoU, R recall points, K classes, A areas, M maxDets]
    recall = evaluator.eval["recall"]  # [T, K, A, M]
    iou_thresholds = evaluator.params.iouThrs
    t50 = int(np.argmin(np.abs(iou_thresholds - 0.5)))
    t75 = int(np.argmin(np.abs(iou_thresholds - 0.75)))
    area_all, max_dets = 0, len(evaluator.params.maxDets) - 1
    per_class: dict[str, ClassAP] = {}
    for k, name in enumerate(names):
        category_id = k + 1
        counted = sum(
            1 for a in gt.dataset["annotations"] if a["category_id"] == category_id and not a["iscrowd"]
        )
        found = sum(1 for a in dt.dataset["annotations"] if a["category_id"] == category_id)
        p = precision[:, :, k, area_all, max_dets]
        has_truth = counted > 0
        per_class[name] = ClassAP(
            truth=counted,
            detections=found,
            ap50=_mean(p[t50]) if has_truth else None,
            ap=_mean(p.ravel()) if has_truth else None,
            recall50=float(recall[t50, k, area_all, max_dets]) if has_truth else None,
        )
    # COCO's own summary: the mean over every filled precision entry (classes, recall points
    # and, for mAP, IoU thresholds), i.e. the mean of the per-class APs
    at_all = precision[:, :, :, area_all, max_dets]
    return DetectionMetrics(
        map50=_mean(at_all[t50].ravel()),
        map=_mean(at_all.ravel()),
        map75=_mean(at_all[t75].ravel()),
        recall50=_mean(recall[t50, :, area_all, max_dets]),
        per_class=per_class,
    )
