"""Train the traffic detector from scratch on CPU and write both shipped variants.

    python scenarios/traffic/model/train.py                      # both variants into models_repo/
    python scenarios/traffic/model/train.py --variant B --steps 50 --repository /tmp/repo  # a smoke run

Two variants tell the over-the-air update story: model **A** (component version 1) finds
``vehicle``s; model **B** (the update) tells ``car, truck, bus, motorcycle`` apart, is wider and
trains longer, and must be measurably better even on the class-agnostic metric.

Reproducible by construction: seeded numpy and torch, ``torch.use_deterministic_algorithms``, a
fixed thread count (float reductions depend on it), world frames that are byte-identical for a
seed. Each model directory gets a ``PROVENANCE.json`` that says how it was made. Evaluation lives
in the harness (``edge-harness eval detector``) and never imports torch.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from data import (
    ALPHA,
    DEFAULT_SEED_COUNT,
    EVERY_KTH_FRAME,
    POSITIVE_VISIBILITY,
    REGRESSION_GAUSS,
    SECONDS_PER_SEED,
    STRIDE,
    Targets,
    TrainingSet,
    build_targets,
    cache_dir,
    render_training_set,
)
from export import OPSET, export_onnx, sha256, verify_against_torch, write_model_directory
from net import CenterNet, NetConfig

from harness.eval.contract import preprocess
from harness.eval.truth import HELD_OUT_FROM, TRAINING_SEEDS
from harness.world import CLASS_NAMES, WorldParams, iter_world

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parents[2]
THREADS = 2
#: what a model depends on besides the training scripts (recorded when uncommitted)
RELEVANT_PATHS = (
    "scenarios/traffic/model",
    "scenarios/traffic/world",
    "harness/world",
    "harness/eval/contract.py",
)
#: the code that shapes a model, hashed when the run starts (later edits do not belong to it)
SOURCE_SHA256 = {
    str(p.relative_to(PROJECT)): sha256(p)
    for p in sorted([*HERE.glob("*.py"), PROJECT / "harness" / "eval" / "contract.py"])
}
#: frames of this (training-reserved, never trained on) seed check ONNX Runtime against PyTorch
EXPORT_CHECK_SEED = TRAINING_SEEDS.stop - 1


@dataclass(frozen=True)
class Variant:
    """One shipped model: its classes, network width and training schedule."""

    name: str
    version: int  # the Triton version directory: bumped by the update
    labels: tuple[str, ...]
    class_of: tuple[int, ...]  # world class id → output channel
    net: NetConfig
    steps: int
    batch: int = 16
    lr: float = 2e-3
    weight_decay: float = 1e-4
    warmup: float = 0.05  # fraction of steps with a linear learning-rate ramp
    seed: int = 0
    augment: dict[str, float] = field(
        default_factory=lambda: {"gain": 0.25, "channel_gain": 0.05, "noise_max": 0.02}
    )


VARIANTS: dict[str, Variant] = {
    "A": Variant(
        name="A",
        version=1,
        labels=("vehicle",),
        class_of=(0, 0, 0, 0),
        net=NetConfig(classes=1, stem=16, widths=(32, 64, 96), head=32),
        steps=800,
        seed=1,
    ),
    "B": Variant(
        name="B",
        version=2,
        labels=CLASS_NAMES,
        class_of=(0, 1, 2, 3),
        net=NetConfig(classes=4, stem=16, widths=(32, 64, 128), head=48),
        steps=1100,
        seed=2,
    ),
}


def focal_loss(logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """CenterNet's penalty-reduced focal loss, normalised by the number of peaks.

    Cells near a peak (target close to 1) are barely punished for firing — the peak's exact
    cell is a matter of rounding — and ``weight`` silences cells covered by ignored vehicles.
    """
    positive = target.eq(1.0).float()
    prob = torch.sigmoid(logits)
    log_p, log_not_p = F.logsigmoid(logits), F.logsigmoid(-logits)
    pos = positive * (1 - prob) ** 2 * log_p
    neg = (1 - positive) * (1 - target) ** 4 * prob**2 * log_not_p
    total = -((pos + neg) * weight.unsqueeze(1)).sum()
    return total / positive.sum().clamp(min=1.0)


def box_loss(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """L1 on centre offset and log size, weighted by each cell's Gaussian (its closeness to the centre)."""
    per_cell = (pred - target).abs().sum(dim=1)
    return (per_cell * weight).sum() / weight.sum().clamp(min=1e-6)


def learning_rate(variant: Variant, step: int) -> float:
    """Linear warm-up, then cosine decay to 2% of the peak."""
    warm = max(1, int(variant.steps * variant.warmup))
    if step < warm:
        return variant.lr * (step + 1) / warm
    progress = (step - warm) / max(1, variant.steps - warm)
    return variant.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * progress)))


def augment(images: torch.Tensor, generator: torch.Generator, settings: dict[str, float]) -> torch.Tensor:
    """Light photometric jitter, in place: the world already varies lighting and sensor noise."""
    n = images.shape[0]

    def uniform(shape: tuple[int, ...], spread: float) -> torch.Tensor:
        return (torch.rand(shape, generator=generator) * 2 - 1) * spread

    gain = (1 + uniform((n, 1, 1, 1), settings["gain"])) * (
        1 + uniform((n, 3, 1, 1), settings["channel_gain"])
    )
    sigma = torch.rand((n, 1, 1, 1), generator=generator) * settings["noise_max"]
    noise = torch.randn(images.shape, generator=generator).mul_(sigma)
    return images.mul_(gain).add_(noise).clamp_(0.0, 1.0)


@dataclass
class TrainingRun:
    net: CenterNet
    losses: list[dict[str, float]]
    wall_seconds: float
    final_loss: float


def train(variant: Variant, data: TrainingSet, targets: Targets, log_every: int = 50) -> TrainingRun:
    """Train one variant; every random draw comes from the variant's seed."""
    torch.manual_seed(variant.seed)
    rng = np.random.default_rng(variant.seed)
    generator = torch.Generator().manual_seed(variant.seed)
    net = CenterNet(variant.net).to(memory_format=torch.channels_last)
    net.train()
    optimizer = torch.optim.AdamW(net.parameters(), lr=variant.lr, weight_decay=variant.weight_decay)
    order: list[int] = []
    history: list[dict[str, float]] = []
    window: list[tuple[float, float, float]] = []
    started = time.monotonic()
    for step in range(variant.steps):
        if len(order) < variant.batch:  # epochs: every frame once before any twice
            order.extend(rng.permutation(len(data)).tolist())
        index = np.array(sorted(order[: variant.batch]))
        del order[: variant.batch]
        images = augment(torch.from_numpy(data.images(index)), generator, variant.augment)
        images = images.contiguous(memory_format=torch.channels_last)
        heat = torch.from_numpy(targets.heat[index].astype(np.float32))
        heat_weight = torch.from_numpy(targets.heat_weight[index].astype(np.float32))
        box = torch.from_numpy(targets.box[index].astype(np.float32))
        box_weight = torch.from_numpy(targets.box_weight[index].astype(np.float32))
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(variant, step)
        heat_logits, box_pred = net(images)
        l_heat = focal_loss(heat_logits.float(), heat, heat_weight)
        l_box = box_loss(box_pred.float(), box, box_weight)
        loss = l_heat + l_box
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 10.0)
        optimizer.step()
        window.append((loss.item(), l_heat.item(), l_box.item()))
        if (step + 1) % log_every == 0 or step + 1 == variant.steps:
            mean = np.mean(window, axis=0)
            window.clear()
            elapsed = time.monotonic() - started
            entry = {
                "step": step + 1,
                "loss": round(float(mean[0]), 4),
                "heat": round(float(mean[1]), 4),
                "box": round(float(mean[2]), 4),
                "lr": round(learning_rate(variant, step), 6),
                "seconds": round(elapsed, 1),
            }
            history.append(entry)
            print(
                f"[{variant.name}] step {entry['step']:5d}/{variant.steps}  loss {entry['loss']:.4f} "
                f"(heat {entry['heat']:.4f}, box {entry['box']:.4f})  lr {entry['lr']:.2e}  "
                f"{elapsed / (step + 1):.2f} s/step",
                flush=True,
            )
    net.eval()
    return TrainingRun(net, history, time.monotonic() - started, history[-1]["loss"])


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=PROJECT, capture_output=True, text=True, check=True, timeout=30
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip()


def _export_check_frames(count: int = 4) -> np.ndarray:
    frames = []
    for frame in iter_world(WorldParams(seed=EXPORT_CHECK_SEED, seconds=count * 10 / 30)):
        if (frame.index - 1) % 10 == 0:
            frames.append(preprocess(frame.image))
    return np.stack(frames[:count])


def provenance(
    variant: Variant, run: TrainingRun, data: TrainingSet, onnx_file: Path, check: dict[str, float]
) -> dict[str, object]:
    """Everything needed to tell how this model file came to be (and to make it again)."""
    import cv2
    import onnx
    import onnxruntime

    status = _git("status", "--porcelain")
    # uncommitted changes to what shapes the model: its scripts, the world, the preprocessing
    changed = _git("status", "--porcelain", "--", *RELEVANT_PATHS)
    return {
        "model": f"models_repo/{variant.name}/rtdetr/{variant.version}/model.onnx",
        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "onnx_sha256": sha256(onnx_file),
        "onnx_bytes": onnx_file.stat().st_size,
        "produced_by": {
            "script": str(Path(__file__).resolve().relative_to(PROJECT)),
            "command": " ".join([Path(sys.executable).name, *sys.argv]),
            "git_commit": _git("rev-parse", "HEAD"),
            "git_dirty": bool(status) if status is not None else None,
            "git_uncommitted_relevant": [line[3:] for line in changed.splitlines()] if changed else [],
            "source_sha256": SOURCE_SHA256,
        },
        "environment": {
            "torch": torch.__version__,
            "numpy": np.__version__,
            "opencv": cv2.__version__,
            "onnx": onnx.__version__,
            "onnxruntime": onnxruntime.__version__,
            "python": platform.python_version(),
            "threads": torch.get_num_threads(),
            "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
            "machine": platform.machine(),
        },
        "architecture": {
            "kind": "CenterNet-style CNN, decode (3x3 max-pool peaks, top-300) inside the graph",
            "net": variant.net.to_dict(),
            "parameters": sum(p.numel() for p in run.net.parameters()),
            "output_stride_px": STRIDE,
            "opset": OPSET,
        },
        "labels": list(variant.labels),
        "training": {
            "seed": variant.seed,
            "steps": variant.steps,
            "batch_size": variant.batch,
            "optimizer": "AdamW",
            "lr": variant.lr,
            "lr_schedule": f"linear warm-up {variant.warmup:.0%} of steps, cosine to 2%",
            "weight_decay": variant.weight_decay,
            "augment": variant.augment,
            "wall_seconds": round(run.wall_seconds, 1),
            "final_loss": run.final_loss,
            "loss_history": run.losses,
        },
        "data": {
            "world_seeds": f"{data.seeds[0]}-{data.seeds[-1]}",
            "seeds_reserved_for_training": f"{TRAINING_SEEDS.start}-{TRAINING_SEEDS.stop - 1}",
            "held_out_for_evaluation": f"{HELD_OUT_FROM} and above (never rendered by training)",
            "seconds_per_seed": data.description["seconds_per_seed"],
            "every_kth_frame": data.description["every_kth_frame"],
            "frames": len(data),
            "positives": f"visibility >= {POSITIVE_VISIBILITY}; lower-visibility vehicles are ignored "
            "regions in the heatmap loss",
            "target": f"elliptical Gaussian (alpha {ALPHA}); "
            f"box regressed where Gaussian >= {REGRESSION_GAUSS}",
            "preprocessing": "harness.eval.contract.resize_rgb (cv2 bilinear 1280x720 -> 640x640, RGB), /255",
        },
        "export_check": {"seed": EXPORT_CHECK_SEED, **check},
    }


def _checkpoint_file(variant: Variant, data: TrainingSet) -> Path:
    """Where a trained network is kept, keyed by everything that shaped it (incl. the sources)."""
    key_parts = {
        "variant": {k: (v.to_dict() if isinstance(v, NetConfig) else v) for k, v in variant.__dict__.items()},
        "data": {k: v for k, v in data.description.items() if k not in ("render_seconds", "cache")},
        "sources": {p.name: sha256(p) for p in (HERE / "net.py", HERE / "data.py", HERE / "train.py")},
        "torch": torch.__version__,
    }
    key = hashlib.sha256(json.dumps(key_parts, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return cache_dir() / "checkpoints" / f"{variant.name}-{key}.pt"


def produce(variant: Variant, data: TrainingSet, repository: Path, *, reuse: bool = False) -> Path:
    """Train (or, with ``reuse``, load the identical earlier run), export, verify, write; returns the
    model directory. The trained weights are saved before export, so a failed export costs no
    retraining."""
    checkpoint = _checkpoint_file(variant, data)
    if reuse and checkpoint.is_file():
        saved = torch.load(checkpoint, weights_only=False)
        net = CenterNet(variant.net)
        net.load_state_dict(saved["state_dict"])
        run = TrainingRun(net.eval(), saved["losses"], saved["wall_seconds"], saved["final_loss"])
        print(f"[{variant.name}] reusing {checkpoint}", flush=True)
    else:
        print(f"[{variant.name}] targets for {len(data)} frames", flush=True)
        targets = build_targets(data, np.array(variant.class_of))
        run = train(variant, data, targets)
        del targets
        checkpoint.parent.mkdir(parents=True, exist_ok=True)
        torch.save(
            {
                "state_dict": run.net.state_dict(),
                "losses": run.losses,
                "wall_seconds": run.wall_seconds,
                "final_loss": run.final_loss,
            },
            checkpoint,
        )
    run.net.to(memory_format=torch.contiguous_format)
    with tempfile.TemporaryDirectory() as tmp:
        onnx_file = Path(tmp) / "model.onnx"
        export_onnx(run.net, onnx_file)
        check = verify_against_torch(run.net, onnx_file, _export_check_frames())
        model_dir = write_model_directory(
            repository / variant.name, variant.version, onnx_file, variant.labels
        )
    shipped = model_dir / str(variant.version) / "model.onnx"
    record = provenance(variant, run, data, shipped, check)
    (model_dir / "PROVENANCE.json").write_text(json.dumps(record, indent=2) + "\n")
    print(
        f"[{variant.name}] {run.wall_seconds:.0f} s, final loss {run.final_loss:.4f}, "
        f"{shipped.stat().st_size / 1e6:.2f} MB -> {model_dir}",
        flush=True,
    )
    return model_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--variant", choices=[*VARIANTS, "all"], default="all")
    parser.add_argument("--repository", type=Path, default=PROJECT / "models_repo", help="models_repo root")
    parser.add_argument("--steps", type=int, help="override the variant's step count (smoke runs)")
    parser.add_argument("--seeds", type=int, default=DEFAULT_SEED_COUNT, help="training seeds to render")
    parser.add_argument("--seconds", type=float, default=SECONDS_PER_SEED, help="seconds rendered per seed")
    parser.add_argument("--every", type=int, default=EVERY_KTH_FRAME, help="keep every k-th frame")
    parser.add_argument(
        "--reuse-checkpoint",
        action="store_true",
        help="export the weights of an identical earlier run instead of training again",
    )
    args = parser.parse_args(argv)

    torch.set_num_threads(THREADS)
    torch.use_deterministic_algorithms(True)
    started = time.monotonic()
    seeds = list(TRAINING_SEEDS)[: args.seeds]
    data = render_training_set(seeds, seconds=args.seconds, every=args.every)
    print(
        f"training set: {len(data)} frames from seeds {seeds[0]}-{seeds[-1]} "
        f"({data.description.get('render_seconds', 'cached')} s to render)",
        flush=True,
    )
    names = list(VARIANTS) if args.variant == "all" else [args.variant]
    for name in names:
        variant = VARIANTS[name]
        if args.steps is not None:
            variant = Variant(**{**variant.__dict__, "steps": args.steps})
        produce(variant, data, args.repository, reuse=args.reuse_checkpoint)
    print(f"done in {time.monotonic() - started:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
