"""``edge-harness eval``: measure a detector against the synthetic world's exact truth."""

from __future__ import annotations

import json
import math
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from harness.cli import HarnessGroup
from harness.errors import EXIT_FAILED, HarnessError
from harness.eval.metrics import ClassAP, DetectionMetrics
from harness.eval.run import Evaluation, evaluate_detector, frames_per_seed, parse_seeds
from harness.eval.truth import HELD_OUT_FROM, IGNORE_BELOW_VISIBILITY


@click.group("eval", cls=HarnessGroup)
def eval_group() -> None:
    """Score models against the synthetic world's ground truth."""


@eval_group.command("detector")
@click.option(
    "--model",
    "model",
    required=True,
    type=click.Path(path_type=Path),
    help="An .onnx file, a Triton model directory (e.g. models_repo/B/rtdetr) or a one-model repository.",
)
@click.option(
    "--seeds",
    default=f"{HELD_OUT_FROM}-{HELD_OUT_FROM + 4}",
    show_default=True,
    help=f"World seeds: a range and/or a list (9000-9004,9010). Held-out seeds start at {HELD_OUT_FROM}.",
)
@click.option("--seconds", type=float, default=10.0, show_default=True, help="Seconds of world per seed.")
@click.option("--every", type=int, default=3, show_default=True, help="Score every N-th frame (30 fps).")
@click.option("--batch", type=int, default=4, show_default=True, help="Frames per ONNX Runtime call.")
@click.option(
    "--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), help="Also write the results here."
)
@click.option(
    "--min-map50",
    type=float,
    help="Exit 1 when mAP@0.5 (class-aware if the model has the world's classes, else agnostic) is lower.",
)
@click.option(
    "--allow-training-seeds", is_flag=True, help="Permit seeds 1000-1999 (the detector's training data)."
)
def detector(
    model: Path,
    seeds: str,
    seconds: float,
    every: int,
    batch: int,
    json_out: Path | None,
    min_map50: float | None,
    allow_training_seeds: bool,
) -> None:
    """Run an ONNX detector (the seed's RT-DETR contract) on world frames and report COCO mAP.

    Frames are prepared as DeepStream feeds the model (plain resize of 1280x720 to 640x640, RGB,
    /255), boxes are mapped back to 1280x720 and scored with pycocotools: mAP@0.5, mAP@0.5:0.95,
    AP per class, and the vehicle-agnostic figures (all classes merged) that compare a one-class
    model with a four-class one. Vehicles less than 30% visible are ignore regions.
    """
    seed_list = parse_seeds(seeds)
    if not math.isfinite(seconds) or seconds <= 0:
        raise HarnessError(f"--seconds must be a positive number, got {seconds}")
    err = Console(stderr=True)
    total = frames_per_seed(seconds, every) * len(seed_list)
    with Progress(
        TextColumn("[bold]evaluating[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("frames"),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task("eval", total=total)
        result = evaluate_detector(
            model,
            seed_list,
            seconds=seconds,
            every=every,
            batch=batch,
            allow_training_seeds=allow_training_seeds,
            on_frames=lambda n: progress.advance(task, n),
        )
    _print(result)
    if json_out is not None:
        try:
            json_out.parent.mkdir(parents=True, exist_ok=True)
            json_out.write_text(json.dumps(result.to_dict(), indent=2) + "\n")
        except OSError as error:
            raise HarnessError(f"cannot write {json_out}: {error.strerror or error}") from error
        err.print(f"written {json_out}")
    if min_map50 is not None and result.headline.map50 < min_map50:
        err.print(f"[bold red]mAP@0.5 {result.headline.map50:.3f} is below {min_map50:.3f}[/]")
        raise SystemExit(EXIT_FAILED)


def _fmt(value: float | None) -> str:
    return "—" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3f}"


def _print(result: Evaluation) -> None:
    console = Console(highlight=False)
    seeds = result.seeds
    span = (
        f"{seeds[0]}-{seeds[-1]}"
        if seeds == list(range(seeds[0], seeds[-1] + 1))
        else ",".join(map(str, seeds))
    )
    console.print(
        f"[bold]{result.model.onnx}[/] on seeds {span}: {result.frames} frames, "
        f"{result.truth_objects} truth boxes ({result.ignored_objects} ignored: visibility < "
        f"{IGNORE_BELOW_VISIBILITY})"
    )
    table = Table(show_edge=False)
    for column in ("class", "truth", "detections", "AP@0.5", "AP@0.5:0.95", "recall@0.5"):
        table.add_column(column, justify="left" if column == "class" else "right")

    def row(name: str, ap: ClassAP, style: str | None = None) -> None:
        table.add_row(
            name,
            str(ap.truth),
            str(ap.detections),
            _fmt(ap.ap50),
            _fmt(ap.ap),
            _fmt(ap.recall50),
            style=style,
        )

    def mean_row(name: str, metrics: DetectionMetrics) -> None:
        table.add_row(
            name, "", "", _fmt(metrics.map50), _fmt(metrics.map), _fmt(metrics.recall50), style="bold"
        )

    if result.class_aware is not None:
        for name, ap in result.class_aware.per_class.items():
            row(name, ap)
        mean_row("mean (class-aware)", result.class_aware)
        table.add_section()
    for name, ap in result.agnostic.per_class.items():
        row(f"{name} (agnostic)", ap, style="bold")
    console.print(table)
    for note in result.notes:
        console.print(f"[dim]note: {note}[/]")
    console.print(
        f"[dim]inference {result.timing['inference_ms_per_frame']} ms/frame (ONNX Runtime, CPU); "
        f"rendering {result.timing['render_s']} s[/]"
    )
