"""Evaluation against the synthetic world's truth: detectors and whole pipeline runs.

Detector: the seed's RT-DETR contract, COCO metrics. Runtime code: ONNX Runtime and pycocotools,
never torch (training lives in ``scenarios/traffic/model``). Entry point: :func:`evaluate_detector`,
or ``edge-harness eval detector``. The shipped models and their figures: models_repo/README.md.

Pipeline: a run's ``tracks.txt`` and Kafka messages scored for tracking (MOTA, IDF1), ROI
membership, counting and latency. Entry point: :func:`score_pipeline`, or
``edge-harness eval pipeline``; docs/evaluation.md explains the metrics. :func:`run_pipeline_eval`
(``eval pipeline --run``) makes such runs itself: the app of a component artifact on held-out
worlds, into a real Kafka broker, scored per seed and over all seeds (docs/deepstream/pipeline.md).
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
from harness.eval.pipeline import (
    CountScore,
    Goal,
    LatencyScore,
    MembershipScore,
    Message,
    MessageObject,
    PipelineScore,
    TrackingScore,
    TrackRow,
    TrackWriter,
    WorldTruth,
    load_world_truth,
    read_messages,
    read_tracks,
    score_pipeline,
)
from harness.eval.pipeline_run import (
    AggregateScore,
    AppRun,
    CountTotal,
    MessageRecorder,
    PipelineRunResult,
    SeedRun,
    component_artifact,
    run_app,
    run_pipeline_eval,
)
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
    "AggregateScore",
    "AppRun",
    "ClassAP",
    "CountScore",
    "CountTotal",
    "DetectionMetrics",
    "Evaluation",
    "FrameDetections",
    "FrameTruth",
    "Goal",
    "LatencyScore",
    "MembershipScore",
    "Message",
    "MessageObject",
    "MessageRecorder",
    "ModelFiles",
    "OnnxDetector",
    "PipelineRunResult",
    "PipelineScore",
    "RowComparison",
    "SeedRun",
    "TrackRow",
    "TrackWriter",
    "TrackingScore",
    "WorldTruth",
    "coco_metrics",
    "compare_rows",
    "component_artifact",
    "evaluate_detector",
    "frame_truth",
    "load_world_truth",
    "parse_seeds",
    "preprocess",
    "read_messages",
    "read_tracks",
    "resize_rgb",
    "resolve_model",
    "run_app",
    "run_pipeline_eval",
    "score_pipeline",
    "to_frame_boxes",
]
