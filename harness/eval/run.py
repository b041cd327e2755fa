"""Scoring a detector on held-out world seeds: render, infer, map back, measure.

Each seed's world is rendered at the preset's size (1280×720, like the DeepStream streammux),
every ``every``-th frame goes through the contract's preprocessing and the ONNX model in
batches, and the rows come back to frame pixels before they are scored against the world's
truth — the same geometry DeepStream applies when it scales the parser's boxes to the frame.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import HarnessError
from harness.eval.contract import FrameDetections, preprocess, to_frame_boxes
from harness.eval.metrics import AGNOSTIC_NAME, DetectionMetrics, coco_metrics
from harness.eval.model import ModelFiles, OnnxDetector, file_sha256, resolve_model
from harness.eval.truth import (
    HELD_OUT_FROM,
    IGNORE_BELOW_VISIBILITY,
    TRAINING_SEEDS,
    FrameTruth,
    frame_truth,
)
from harness.world import CLASS_NAMES, World, WorldParams
from harness.world_bounds import MAX_SEED

#: detections at or below this score are not scored (the tail of the top-300 is near zero)
MIN_SCORE = 0.001
MAX_SEEDS = 1000


def parse_seeds(text: str) -> list[int]:
    """``9000-9004``, ``9000,9002`` or a mix → the seeds, in order, without repeats."""
    seeds: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        match = re.fullmatch(r"(\d+)(?:\s*-\s*(\d+))?", part)
        if not match:
            raise HarnessError(
                f"bad seed list {text!r}: {part!r} is not a seed or a range",
                hint="write seeds as 9000-9004 or 9000,9002,9010",
            )
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) is not None else first
        if last < first:
            raise HarnessError(
                f"bad seed range {part!r}: it ends before it starts", hint=f"did you mean {last}-{first}?"
            )
        if last > MAX_SEED:
            raise HarnessError(f"seed {last} is too large (world seeds go up to 2**63-1)")
        if last - first + 1 + len(seeds) > MAX_SEEDS:
            raise HarnessError(f"{part!r} asks for more than {MAX_SEEDS} seeds", hint="evaluate fewer seeds")
        seeds.extend(s for s in range(first, last + 1) if s not in seeds)
    return seeds


def check_held_out(seeds: Sequence[int]) -> None:
    """Refuse seeds the shipped detector was trained on: they would flatter it."""
    used = [s for s in seeds if s in TRAINING_SEEDS]
    if used:
        shown = ", ".join(map(str, used[:5])) + (", …" if len(used) > 5 else "")
        raise HarnessError(
            f"seeds {shown} are reserved for training the detector "
            f"({TRAINING_SEEDS.start}-{TRAINING_SEEDS.stop - 1})",
            hint=f"evaluate on held-out seeds (from {HELD_OUT_FROM}), or pass --allow-training-seeds "
            "to measure the fit on training data on purpose",
        )


@dataclass
class Evaluation:
    """The result of one evaluation run (``to_dict`` is the ``--json`` document)."""

    model: ModelFiles
    seeds: list[int]
    seconds: float
    every: int
    frames: int
    truth_objects: int
    ignored_objects: int
    class_aware: DetectionMetrics | None
    agnostic: DetectionMetrics
    timing: dict[str, float]
    notes: list[str] = field(default_factory=list)

    @property
    def headline(self) -> DetectionMetrics:
        """Class-aware figures when the model's classes are the world's, otherwise agnostic."""
        return self.class_aware or self.agnostic

    def to_dict(self) -> dict[str, Any]:
        import onnxruntime

        return {
            "model": {
                "onnx": str(self.model.onnx),
                "sha256": file_sha256(self.model.onnx),
                "labels": list(self.model.labels) if self.model.labels else None,
                "labels_file": str(self.model.labels_file) if self.model.labels_file else None,
            },
            "world": {
                "seeds": self.seeds,
                "seconds": self.seconds,
                "every": self.every,
                "frames": self.frames,
            },
            "truth": {
                "objects": self.truth_objects,
                "ignored": self.ignored_objects,
                "ignore_rule": f"visibility < {IGNORE_BELOW_VISIBILITY}: COCO crowd region (neither found "
                "nor missed)",
            },
            "metric": "COCO bbox (pycocotools): AP over 101 recall points, maxDets 100, area all",
            "class_aware": self.class_aware.to_dict() if self.class_aware else None,
            "agnostic": self.agnostic.to_dict(),
            "timing": self.timing,
            "onnxruntime": onnxruntime.__version__,
            "notes": self.notes,
        }


def _class_mapping(labels: tuple[str, ...] | None) -> tuple[list[int] | None, list[str]]:
    """Model class id → world class id, when every label is a world class; plus notes."""
    if labels is None:
        return None, ["no labels.txt found: only the vehicle-agnostic metric is computed"]
    if all(label in CLASS_NAMES for label in labels):
        return [CLASS_NAMES.index(label) for label in labels], []
    if len(labels) == 1:
        return None, [f"one-class model ({labels[0]!r}): only the vehicle-agnostic metric applies"]
    return None, [
        f"labels {list(labels)} are not the world's classes {list(CLASS_NAMES)}: "
        "only the vehicle-agnostic metric is computed"
    ]


def evaluate_detector(
    model: Path,
    seeds: Sequence[int],
    *,
    seconds: float = 10.0,
    every: int = 3,
    batch: int = 4,
    allow_training_seeds: bool = False,
    on_frames: Callable[[int], None] | None = None,
) -> Evaluation:
    """Run ``model`` on every ``every``-th frame of ``seconds`` of each seed's world and score it."""
    if not seeds:
        raise HarnessError("no seeds to evaluate", hint="e.g. --seeds 9000-9004")
    if every < 1:
        raise HarnessError(f"--every must be at least 1, got {every}")
    if batch < 1:
        raise HarnessError(f"--batch must be at least 1, got {batch}")
    if not allow_training_seeds:
        check_held_out(seeds)
    files = resolve_model(model)
    detector = OnnxDetector(files.onnx)
    to_world, notes = _class_mapping(files.labels)
    label_count = len(files.labels) if files.labels else None

    truth: dict[int, FrameTruth] = {}
    detections: dict[int, FrameDetections] = {}
    pending: list[tuple[int, np.ndarray, tuple[int, int]]] = []
    timing = {"render_s": 0.0, "inference_s": 0.0}

    def flush() -> None:
        if not pending:
            return
        started = time.perf_counter()
        rows = detector.infer(np.stack([p[1] for p in pending]))
        timing["inference_s"] += time.perf_counter() - started
        for (image_id, _, (width, height)), image_rows in zip(pending, rows, strict=True):
            found = to_frame_boxes(image_rows, width, height, min_score=MIN_SCORE)
            if label_count is not None and len(found) and int(found.class_ids.max()) >= label_count:
                raise HarnessError(
                    f"{files.onnx}: output class id {int(found.class_ids.max())}, but "
                    f"{files.labels_file} lists {label_count} label(s)",
                    hint="labels.txt must have one line per class the model outputs",
                )
            if to_world is not None:
                found = FrameDetections(found.boxes, found.scores, np.array(to_world)[found.class_ids])
            detections[image_id] = found
        if on_frames is not None:
            on_frames(len(pending))
        pending.clear()

    for seed in seeds:
        world = World(WorldParams(seed=seed, seconds=seconds))
        started = time.perf_counter()
        for frame in world.frames():
            if (frame.index - 1) % every:
                continue
            image_id = len(truth) + 1
            truth[image_id] = frame_truth(frame.objects)
            pending.append((image_id, preprocess(frame.image), (world.width, world.height)))
            if len(pending) == batch:
                timing["render_s"] += time.perf_counter() - started
                flush()
                started = time.perf_counter()
        timing["render_s"] += time.perf_counter() - started
    flush()

    agnostic = coco_metrics(truth, detections, [AGNOSTIC_NAME], agnostic=True)
    class_aware = coco_metrics(truth, detections, CLASS_NAMES) if to_world is not None else None
    frames = len(truth)
    timing = {
        "render_s": round(timing["render_s"], 2),
        "inference_s": round(timing["inference_s"], 2),
        "inference_ms_per_frame": round(1000 * timing["inference_s"] / max(1, frames), 2),
    }
    return Evaluation(
        model=files,
        seeds=list(seeds),
        seconds=seconds,
        every=every,
        frames=frames,
        truth_objects=sum(len(t) for t in truth.values()),
        ignored_objects=sum(int(t.ignore.sum()) for t in truth.values()),
        class_aware=class_aware,
        agnostic=agnostic,
        timing=timing,
        notes=notes,
    )


def frames_per_seed(seconds: float, every: int, fps: float = 30.0) -> int:
    """How many frames one seed contributes (for progress bars)."""
    total = max(1, round(seconds * fps))
    return (total + every - 1) // every
