"""Training frames from the synthetic world, and the CenterNet targets built from its truth.

No traffic dataset can be downloaded here, and the world knows every box exactly, so the
detector learns from world frames. Seeds are split once and for all:

* ``1000–1999`` are reserved for training (:data:`TRAINING_SEEDS`; the default set uses the first
  :data:`DEFAULT_SEED_COUNT` of them);
* ``9000`` and above are held out for evaluation (``edge-harness eval detector --seeds 9000-9004``)
  and never rendered by this module — :func:`render_training_set` refuses them.

Frames are prepared exactly as inference prepares them (``harness.eval.contract.resize_rgb``:
plain resize to 640×640, RGB). The network's first operation is a 2×2 average pool, so the set
keeps each frame as the 2×2 *sums* of the 640×640 uint8 image (uint16, exact): dividing by
4·255 gives precisely what the pooled network sees, in an eighth of the memory of 640×640 floats.

A vehicle whose ``visibility`` (the seen fraction of its silhouette) is below
:data:`POSITIVE_VISIBILITY` is not a positive: the heatmap loss ignores its box instead of
calling it background, so the detector is neither taught to find vehicles hidden behind the
bridge nor punished when it does. The evaluation ignores the same vehicles (iscrowd regions).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.eval.contract import INPUT_SIZE, resize_rgb
from harness.eval.truth import HELD_OUT_FROM, IGNORE_BELOW_VISIBILITY, TRAINING_SEEDS
from harness.world import GENERATOR_VERSION, WorldParams, iter_world, load_preset

DEFAULT_SEED_COUNT = 100
#: seconds rendered per training seed (after the world's own traffic warm-up)
SECONDS_PER_SEED = 5.0
#: keep every k-th frame: consecutive frames at 30 fps are nearly identical
EVERY_KTH_FRAME = 5
#: the same threshold the evaluation uses for its ignore regions
POSITIVE_VISIBILITY = IGNORE_BELOW_VISIBILITY
#: output grid stride in pixels of the 640×640 input (2× pool, then stride 4)
STRIDE = 8
GRID = INPUT_SIZE // STRIDE
POOLED = INPUT_SIZE // 2
#: Gaussian spread relative to the box (TTFNet's alpha): sigma = ALPHA * size / 6
ALPHA = 0.54
MIN_SIGMA = 0.4
#: cells whose Gaussian value is at least this regress the box (not only the peak cell)
REGRESSION_GAUSS = 0.3
#: an ignored vehicle's footprint is grown by this many cells before it masks the heatmap loss
IGNORE_MARGIN = 1


@dataclass
class TrainingSet:
    """Rendered frames and their truth, in pixels of the 640×640 model input."""

    pooled: np.ndarray  # [N, 320, 320, 3] uint16: 2×2 sums of the 640×640 RGB input
    boxes: list[np.ndarray]  # per frame [M, 4] float32 x1, y1, x2, y2 (640×640 input pixels)
    classes: list[np.ndarray]  # per frame [M] int64, the world's class ids
    visibility: list[np.ndarray]  # per frame [M] float32
    seeds: list[int]
    description: dict[str, object]

    def __len__(self) -> int:
        return len(self.pooled)

    def images(self, index: np.ndarray) -> np.ndarray:
        """Float32 NCHW images in [0, 1] as the network sees them after its 2×2 pool."""
        batch = self.pooled[index].astype(np.float32) / np.float32(4 * 255)
        return np.ascontiguousarray(batch.transpose(0, 3, 1, 2))


def _render_seed(
    args: tuple[int, float, int],
) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    seed, seconds, every = args
    pooled, boxes, classes, visibility = [], [], [], []
    for frame in iter_world(WorldParams(seed=seed, seconds=seconds)):
        if (frame.index - 1) % every:
            continue
        height, width = frame.image.shape[:2]
        rgb = resize_rgb(frame.image).astype(np.uint16)
        pooled.append(rgb.reshape(POOLED, 2, POOLED, 2, 3).sum(axis=(1, 3), dtype=np.uint16))
        sx, sy = INPUT_SIZE / width, INPUT_SIZE / height
        objs = frame.objects
        boxes.append(
            np.array(
                [[o.x * sx, o.y * sy, (o.x + o.w) * sx, (o.y + o.h) * sy] for o in objs], np.float32
            ).reshape(-1, 4)
        )
        classes.append(np.array([o.class_id for o in objs], np.int64))
        visibility.append(np.array([o.visibility for o in objs], np.float32))
    return np.stack(pooled), boxes, classes, visibility


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/edge-harness/detector-training`` (``~/.cache`` when unset)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "edge-harness" / "detector-training"


def _cache_file(description: dict[str, object]) -> Path:
    key = hashlib.sha256(json.dumps(description, sort_keys=True).encode()).hexdigest()[:16]
    return cache_dir() / f"{key}.npz"


def render_training_set(
    seeds: list[int], *, seconds: float = SECONDS_PER_SEED, every: int = EVERY_KTH_FRAME, workers: int = 2
) -> TrainingSet:
    """Render (or load from the cache) every ``every``-th frame of ``seconds`` of each seed.

    The cache key covers the seeds, the sampling, the world's generator version and the preset's
    bytes, so a change to the world renders afresh instead of training on stale frames.
    """
    bad = [s for s in seeds if s not in TRAINING_SEEDS]
    if bad:
        raise ValueError(
            f"training seeds must come from {TRAINING_SEEDS.start}-{TRAINING_SEEDS.stop - 1} "
            f"(seeds from {HELD_OUT_FROM} are held out for evaluation); got {bad[:5]}"
        )
    description: dict[str, object] = {
        "generator_version": GENERATOR_VERSION,
        "preset_sha256": load_preset("highway").sha256,
        "seeds": list(seeds),
        "seconds_per_seed": float(seconds),
        "every_kth_frame": every,
        "input_size": INPUT_SIZE,
        "layout": "pooled-sums-u16/1",
    }
    cache = _cache_file(description)
    if cache.is_file():
        with np.load(cache, allow_pickle=False) as npz:
            counts = npz["counts"]
            splits = np.cumsum(counts)[:-1]
            return TrainingSet(
                pooled=npz["pooled"],
                boxes=np.split(npz["boxes"], splits),
                classes=np.split(npz["classes"], splits),
                visibility=np.split(npz["visibility"], splits),
                seeds=list(seeds),
                description={**description, "cache": str(cache)},
            )
    started = time.monotonic()
    jobs = [(s, seconds, every) for s in seeds]
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            parts = list(pool.map(_render_seed, jobs))
    else:
        parts = [_render_seed(job) for job in jobs]
    pooled = np.concatenate([p[0] for p in parts])
    boxes = [b for p in parts for b in p[1]]
    classes = [c for p in parts for c in p[2]]
    visibility = [v for p in parts for v in p[3]]
    description["render_seconds"] = round(time.monotonic() - started, 1)
    cache.parent.mkdir(parents=True, exist_ok=True)
    partial = cache.with_suffix(f".{os.getpid()}.partial.npz")
    np.savez(
        partial,
        pooled=pooled,
        counts=np.array([len(b) for b in boxes]),
        boxes=np.concatenate(boxes),
        classes=np.concatenate(classes),
        visibility=np.concatenate(visibility),
    )
    partial.replace(cache)
    return TrainingSet(pooled, boxes, classes, visibility, list(seeds), description)


@dataclass
class Targets:
    """What the network is trained to output on its 80×80 grid, for every frame of a set."""

    heat: np.ndarray  # [N, C, 80, 80] float16, Gaussian peaks (exactly 1 at the centre cell)
    heat_weight: np.ndarray  # [N, 80, 80] uint8, 0 where an ignored vehicle lies
    box: np.ndarray  # [N, 4, 80, 80] float16: offset x, offset y (cells), log w, log h (cells)
    box_weight: np.ndarray  # [N, 80, 80] float16, Gaussian value of the owning vehicle, 0 elsewhere


def _gaussian(cx: float, cy: float, sx: float, sy: float) -> tuple[slice, slice, np.ndarray]:
    """An elliptical Gaussian centred on the cell holding (cx, cy), cut to the grid."""
    ci, cj = min(int(cy), GRID - 1), min(int(cx), GRID - 1)
    ry, rx = max(1, math.ceil(3 * sy)), max(1, math.ceil(3 * sx))
    i0, i1 = max(0, ci - ry), min(GRID, ci + ry + 1)
    j0, j1 = max(0, cj - rx), min(GRID, cj + rx + 1)
    ii = np.arange(i0, i1, dtype=np.float32)[:, None] - ci
    jj = np.arange(j0, j1, dtype=np.float32)[None, :] - cj
    return slice(i0, i1), slice(j0, j1), np.exp(-(jj**2) / (2 * sx**2) - ii**2 / (2 * sy**2))


def build_targets(data: TrainingSet, class_of: np.ndarray) -> Targets:
    """CenterNet targets; ``class_of`` maps world class ids to output channels (all 0 for model A).

    Box regression is dense around each centre (cells with Gaussian ≥ :data:`REGRESSION_GAUSS`,
    weighted by it, as TTFNet does): many supervised cells per vehicle make the short CPU
    training converge faster than supervising the single peak cell. Where vehicles overlap,
    the smaller one owns the cell — it is the one in front on this camera.
    """
    n, channels = len(data), int(class_of.max()) + 1
    heat = np.zeros((n, channels, GRID, GRID), np.float32)
    ignore = np.zeros((n, GRID, GRID), bool)
    box = np.zeros((n, 4, GRID, GRID), np.float32)
    box_weight = np.zeros((n, GRID, GRID), np.float32)
    grid = np.arange(GRID, dtype=np.float32)
    for k in range(n):
        boxes, vis = data.boxes[k] / STRIDE, data.visibility[k]
        areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        for m in np.argsort(-areas, kind="stable"):
            x1, y1, x2, y2 = boxes[m]
            if vis[m] < POSITIVE_VISIBILITY:
                i0, i1 = max(0, int(y1) - IGNORE_MARGIN), min(GRID, math.ceil(y2) + IGNORE_MARGIN)
                j0, j1 = max(0, int(x1) - IGNORE_MARGIN), min(GRID, math.ceil(x2) + IGNORE_MARGIN)
                ignore[k, i0:i1, j0:j1] = True
                continue
            w, h = max(x2 - x1, 1e-3), max(y2 - y1, 1e-3)
            cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
            rows, cols, g = _gaussian(cx, cy, max(MIN_SIGMA, ALPHA * w / 6), max(MIN_SIGMA, ALPHA * h / 6))
            c = class_of[data.classes[k][m]]
            np.maximum(heat[k, c, rows, cols], g, out=heat[k, c, rows, cols])
            own = g >= REGRESSION_GAUSS
            box[k, 0][rows, cols] = np.where(own, cx - grid[cols][None, :], box[k, 0][rows, cols])
            box[k, 1][rows, cols] = np.where(own, cy - grid[rows][:, None], box[k, 1][rows, cols])
            box[k, 2][rows, cols] = np.where(own, math.log(w), box[k, 2][rows, cols])
            box[k, 3][rows, cols] = np.where(own, math.log(h), box[k, 3][rows, cols])
            box_weight[k][rows, cols] = np.where(own, g, box_weight[k][rows, cols])
    # positives keep their loss even where an ignored vehicle overlaps them
    heat_weight = (~ignore | (heat.max(axis=1) >= REGRESSION_GAUSS)).astype(np.uint8)
    return Targets(
        heat.astype(np.float16), heat_weight, box.astype(np.float16), box_weight.astype(np.float16)
    )
