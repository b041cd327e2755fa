"""Detector evaluation: the seed's RT-DETR contract, COCO metrics on the synthetic world's truth.

Runtime code: ONNX Runtime and pycocotools, never torch (training lives in
``scenarios/traffic/model``). Entry point: :func:`evaluate_detector`, or
``edge-harness eval detector``. The shipped models and their figures: models_repo/README.md.
"""

from harness.eval.contract import (
    INPUT_NAME,
    INPUT_SIZE,
    MAX_DETECTIONS,
    OUTPUT_NAME,
    FrameDetections,
    RowComparison,
    compare_rows,
    preprocess,
    resize_rgb,
    to_frame_boxes,
)
from harness.eval.metrics import ClassAP, DetectionMetrics, coco_metrics
from harness.eval.model import ModelFiles, OnnxDetector, resolve_model
from harness.eval.run import Evaluation, evaluate_detector, parse_seeds
from harness.eval.truth import (
    HELD_OUT_FROM,
    IGNORE_BELOW_VISIBILITY,
    TRAINING_SEEDS,
    FrameTruth,
    frame_truth,
)

__all__ = [
    "HELD_OUT_FROM",
    "IGNORE_BELOW_VISIBILITY",
    "INPUT_NAME",
    "INPUT_SIZE",
    "MAX_DETECTIONS",
    "OUTPUT_NAME",
    "TRAINING_SEEDS",
    "ClassAP",
    "DetectionMetrics",
    "Evaluation",
    "FrameDetections",
    "FrameTruth",
    "ModelFiles",
    "OnnxDetector",
    "RowComparison",
    "coco_metrics",
    "compare_rows",
    "evaluate_detector",
    "frame_truth",
    "parse_seeds",
    "preprocess",
    "resize_rgb",
    "resolve_model",
    "to_frame_boxes",
]
