"""Inference latency of the shipped detectors (models_repo A and B) in ONNX Runtime on the CPU.

What a pipeline on this machine can expect per frame, at the two batch sizes the model config
allows to matter (1: one camera; 4: ``max_batch_size``, several cameras through dynamic
batching). The baseline is each model's batch-1 latency; ``ratio_per_frame`` says what batching
4 frames saves (or costs) per frame. Inputs are real world frames, preprocessed as DeepStream
would, so the top-300 decode sees realistic heatmaps. Batch sizes are interleaved round by round
so that load from other processes on a shared machine hits both alike.

``python -m benchmarks.detector_inference [REPEATS]`` prints the JSON.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MODELS = {"A": ROOT / "models_repo" / "A", "B": ROOT / "models_repo" / "B"}
THREADS = 2
WARMUP = 5
BATCHES = (1, 4)


def _frames() -> np.ndarray:
    from harness.eval import preprocess
    from harness.world import WorldParams, iter_world

    images = [
        preprocess(f.image) for f in iter_world(WorldParams(seed=9000, seconds=2.0)) if f.index % 15 == 1
    ]
    return np.stack(images[:4])


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def measure(repeats: int = 100) -> dict[str, Any]:
    """Median and p95 latency per call and per frame, frames/s, for batch 1 and 4 of each model."""
    import onnxruntime

    from harness.eval import OnnxDetector, resolve_model

    frames = _frames()
    inputs = {b: np.ascontiguousarray(frames[:b]) for b in BATCHES}
    results: dict[str, Any] = {}
    for name, path in MODELS.items():
        files = resolve_model(path)
        detector = OnnxDetector(files.onnx, threads=THREADS)
        for _ in range(WARMUP):
            for b in BATCHES:
                detector.infer(inputs[b])
        samples: dict[int, list[float]] = {b: [] for b in BATCHES}
        for _ in range(repeats):
            for b in BATCHES:
                started = time.perf_counter()
                detector.infer(inputs[b])
                samples[b].append((time.perf_counter() - started) * 1000)
        per_batch: dict[str, Any] = {}
        for b in BATCHES:
            median, p95 = statistics.median(samples[b]), _percentile(samples[b], 95)
            per_batch[f"batch{b}"] = {
                "median_ms": round(median, 2),
                "p95_ms": round(p95, 2),
                "median_ms_per_frame": round(median / b, 2),
                "p95_ms_per_frame": round(p95 / b, 2),
                "frames_per_s": round(1000 * b / median, 1),
            }
        base = per_batch["batch1"]
        for b in BATCHES[1:]:
            entry = per_batch[f"batch{b}"]
            entry["ratio_per_frame_median"] = round(entry["median_ms_per_frame"] / base["median_ms"], 3)
            entry["ratio_per_frame_p95"] = round(entry["p95_ms_per_frame"] / base["p95_ms"], 3)
        results[name] = {
            "onnx": str(files.onnx.relative_to(ROOT)),
            "onnx_mb": round(files.onnx.stat().st_size / 1e6, 2),
            "labels": list(files.labels or ()),
            **per_batch,
        }
    return {
        "repeats": repeats,
        "onnxruntime_version": onnxruntime.__version__,
        "onnxruntime_threads": THREADS,
        "input": "world seed 9000 frames, 1280x720 -> [B, 3, 640, 640]",
        "baseline": "batch1 of the same model",
        "results": results,
    }


if __name__ == "__main__":
    print(json.dumps(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 100), indent=2))
