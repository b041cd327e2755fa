"""``edge-harness eval``: measure a detector or a pipeline run against the synthetic world's exact truth."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from fake_device.deepstream.measure import percentile
from harness.cli import HarnessGroup
from harness.errors import EXIT_FAILED, HarnessError
from harness.eval.metrics import ClassAP, DetectionMetrics
from harness.eval.pipeline import (
    DEFAULT_MAX_COUNT_ERROR,
    DEFAULT_MIN_MOTA,
    MESSAGE_INTERVAL,
    CountScore,
    MembershipScore,
    PipelineScore,
    score_pipeline,
)
from harness.eval.pipeline_run import (
    DEFAULT_SECONDS,
    DEFAULT_SEEDS,
    PipelineRunResult,
    run_pipeline_eval,
)
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


@eval_group.command("pipeline")
@click.option(
    "--truth",
    "truth_dir",
    type=click.Path(path_type=Path),
    help="The world directory the run saw (gt.txt, truth.json from edge-harness world make).",
)
@click.option(
    "--tracks",
    type=click.Path(dir_okay=False, path_type=Path),
    help="tracks.txt: frame,id,x,y,w,h,conf,class,-1,roi per tracked object.",
)
@click.option(
    "--messages",
    type=click.Path(dir_okay=False, path_type=Path),
    help='messages.jsonl: one minimal-schema payload per line, or {"received_ns": …, "payload": …}.',
)
@click.option(
    "--min-visibility",
    type=click.FloatRange(0.0, 1.0),
    default=IGNORE_BELOW_VISIBILITY,
    show_default=True,
    help="Truth boxes less visible than this are don't care: neither found nor missed.",
)
@click.option(
    "--class-aware", is_flag=True, help="Require the world class (the model's labels must be them)."
)
@click.option(
    "--message-interval",
    type=click.IntRange(min=0),
    default=MESSAGE_INTERVAL,
    show_default=True,
    help="The app sends every N-th frame (frame_num % N == 0); 0 scores only frames that have a message.",
)
@click.option(
    "--min-mota",
    type=float,
    default=DEFAULT_MIN_MOTA,
    show_default=True,
    help="Goal: exit 1 when MOTA is lower.",
)
@click.option(
    "--max-count-error",
    type=click.FloatRange(min=0.0),
    default=DEFAULT_MAX_COUNT_ERROR,
    show_default=True,
    help="Goal: exit 1 when |counted - truth| / truth is higher.",
)
@click.option(
    "--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), help="Also write the results here."
)
@click.option(
    "--allow-training-seeds",
    is_flag=True,
    help="Permit a world of seeds 1000-1999 (the detector's training data).",
)
@click.option(
    "--run",
    "run_mode",
    is_flag=True,
    help="Run the traffic app on held-out worlds (render, play through Triton into Kafka) and score it.",
)
@click.option(
    "--component-version",
    metavar="VERSION",
    help="With --run: the traffic app's component version to run (1.0.1: detector B, 1.0.0: A).",
)
@click.option(
    "--artifact",
    "artifact_spec",
    type=click.Path(path_type=Path),
    help="With --run: any artifact.yaml of the traffic app, instead of --component-version.",
)
@click.option(
    "--seeds",
    help=f"With --run: world seeds, a range and/or a list [default: {DEFAULT_SEEDS}].",
)
@click.option(
    "--seconds",
    type=float,
    help=f"With --run: seconds of world per seed [default: {DEFAULT_SECONDS:g}].",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="With --run: keep every file here (app, worlds, tracks, messages, logs); default: a temporary "
    "folder that is removed.",
)
def pipeline(
    truth_dir: Path | None,
    tracks: Path | None,
    messages: Path | None,
    min_visibility: float,
    class_aware: bool,
    message_interval: int,
    min_mota: float,
    max_count_error: float,
    json_out: Path | None,
    allow_training_seeds: bool,
    run_mode: bool,
    component_version: str | None,
    artifact_spec: Path | None,
    seeds: str | None,
    seconds: float | None,
    out_dir: Path | None,
) -> None:
    """Score a DeepStream pipeline run (tracks.txt and/or Kafka messages) against a world's truth.

    Tracking: MOTA, IDF1, MOTP, ID switches (py-motmetrics, IoU >= 0.5). ROI membership:
    precision and recall of the objects reported in the ROI. Counting: distinct tracking ids vs
    the vehicles that were in the ROI. Latency: receive time - @timestamp when the consumer
    recorded it. Exit 1 when a goal (--min-mota, --max-count-error) is missed.

    With --run, the run is made here: for each seed the world is rendered, the component's app
    plays it (Triton, Kafka on a tansu broker) and the run is scored; goals are judged on the
    aggregate over the seeds.
    """
    run_options = {
        "--component-version": component_version,
        "--artifact": artifact_spec,
        "--seeds": seeds,
        "--seconds": seconds,
        "--out": out_dir,
    }
    if run_mode:
        scoring = (("--truth", truth_dir), ("--tracks", tracks), ("--messages", messages))
        given = [name for name, value in scoring if value is not None]
        if given:
            raise click.UsageError(
                f"--run makes its own run: {', '.join(given)} score an existing one (leave out --run)"
            )
        if message_interval != MESSAGE_INTERVAL:
            raise click.UsageError(
                f"--run: the app sends every {MESSAGE_INTERVAL}th frame; drop --message-interval"
            )
        if (component_version is None) == (artifact_spec is None):
            raise click.UsageError("--run needs --component-version VERSION or --artifact SPEC (one of them)")
        _run_pipeline(
            artifact_spec=artifact_spec,
            component_version=component_version,
            seeds=seeds or DEFAULT_SEEDS,
            seconds=DEFAULT_SECONDS if seconds is None else seconds,
            out_dir=out_dir,
            min_visibility=min_visibility,
            class_aware=class_aware,
            min_mota=min_mota,
            max_count_error=max_count_error,
            json_out=json_out,
            allow_training_seeds=allow_training_seeds,
        )
        return
    misplaced = [name for name, value in run_options.items() if value is not None]
    if misplaced:
        raise click.UsageError(f"{', '.join(misplaced)} only with --run")
    if truth_dir is None:
        raise click.UsageError("give --truth DIR (the world the run saw), or --run to make a run")
    if tracks is None and messages is None:
        raise click.UsageError("give --tracks, --messages or both")
    result = score_pipeline(
        truth_dir,
        tracks,
        messages,
        min_visibility=min_visibility,
        class_aware=class_aware,
        message_interval=message_interval,
        min_mota=min_mota,
        max_count_error=max_count_error,
        allow_training_seeds=allow_training_seeds,
    )
    _print_pipeline(result)
    _finish(result, json_out, Console(stderr=True, highlight=False))


def _finish(result: Any, json_out: Path | None, err: Console) -> None:
    """Write the JSON (if asked) and exit 1 naming every missed goal."""
    if json_out is not None:
        try:
            json_out.parent.mkdir(parents=True, exist_ok=True)
            json_out.write_text(json.dumps(result.to_dict(), indent=2) + "\n")
        except OSError as error:
            raise HarnessError(f"cannot write {json_out}: {error.strerror or error}") from error
        err.print(f"written {json_out}")
    if not result.passed:
        err.print(
            "[bold red]goal missed:[/] " + "; ".join(goal.describe() for goal in result.missed),
            soft_wrap=True,
        )
        raise SystemExit(EXIT_FAILED)


def _pct(value: float | None) -> str:
    return "—" if value is None or math.isnan(value) else f"{100 * value:.1f}%"


def _error(value: float) -> str:
    return "inf" if math.isinf(value) else _pct(value)


def _print_pipeline(result: PipelineScore) -> None:
    console = Console(highlight=False)
    console.print(
        f"[bold]{result.truth_dir}[/]"
        + (f" (seed {result.seed})" if result.seed is not None else "")
        + f": {result.frames} frames, ROI {result.roi_label}; "
        f"truth less than {result.min_visibility:g} visible is don't care"
        + ("; class-aware" if result.class_aware else "; vehicle-agnostic"),
        soft_wrap=True,
    )
    t = result.tracking
    if t is not None:
        table = Table(title="tracking", title_justify="left", show_edge=False)
        for column in ("MOTA", "IDF1", "MOTP", "ID sw.", "FP", "FN", "GT objects", "tracks", "don't care"):
            table.add_column(column, justify="right")
        table.add_row(
            _fmt(t.mota),
            _fmt(t.idf1),
            _fmt(t.motp),
            str(t.id_switches),
            str(t.false_positives),
            str(t.misses),
            str(t.gt_objects),
            str(t.tracks),
            f"{t.dont_care_predictions}/{t.dont_care_rows}",
        )
        console.print(table)
    memberships: list[MembershipScore] = [m for m in (result.roi_messages, result.roi_tracks) if m]
    if memberships:
        table = Table(title=f"ROI {result.roi_label} membership", title_justify="left", show_edge=False)
        table.add_column("source", no_wrap=True, min_width=8)
        for column in ("frames", "truth", "reported", "TP", "FP", "FN", "ign.", "prec.", "recall", "class"):
            table.add_column(column, justify="right")
        for m in memberships:
            table.add_row(
                m.source,
                str(m.frames),
                str(m.truth),
                str(m.predicted),
                str(m.true_positives),
                str(m.false_positives),
                str(m.false_negatives),
                str(m.ignored),
                _fmt(m.precision),
                _fmt(m.recall),
                _fmt(m.class_accuracy),
            )
        console.print(table)
    counts: list[CountScore] = [c for c in (result.count_messages, result.count_tracks) if c]
    if counts:
        table = Table(title=f"ROI {result.roi_label} counting", title_justify="left", show_edge=False)
        for column in ("source", "class", "counted", "truth", "error"):
            table.add_column(column, justify="left" if column in ("source", "class") else "right")
        for c in counts:
            table.add_row(c.source, "all", str(c.predicted), str(c.truth), _error(c.error), style="bold")
            for name, per in (c.per_class or {}).items():
                if per.predicted or per.truth:
                    table.add_row("", name, str(per.predicted), str(per.truth), _error(per.error))
        console.print(table)
    if result.latency is not None:
        lat = result.latency
        console.print(
            f"@timestamp → Kafka consumer latency over {lat.messages} messages: p50 {lat.p50_ms:.1f} ms, "
            f"p95 {lat.p95_ms:.1f} ms, p99 {lat.p99_ms:.1f} ms (max {lat.max_ms:.1f} ms)",
            soft_wrap=True,
        )
    for note in result.notes:
        console.print(f"[dim]note: {note}[/]", soft_wrap=True)
    for goal in result.goals:
        mark = "[green]✓[/]" if goal.met else "[bold red]✗[/]"
        console.print(f"{mark} {goal.describe()}")


def _run_pipeline(
    *,
    artifact_spec: Path | None,
    component_version: str | None,
    seeds: str,
    seconds: float,
    out_dir: Path | None,
    min_visibility: float,
    class_aware: bool,
    min_mota: float,
    max_count_error: float,
    json_out: Path | None,
    allow_training_seeds: bool,
) -> None:
    """``eval pipeline --run``: run, print the per-seed table and the aggregate, exit 1 on a missed goal."""
    seed_list = parse_seeds(seeds)
    err = Console(stderr=True, highlight=False)
    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("steps"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as progress:
        bar = progress.add_task("starting", total=None)

        def on_step(done: int, total: int, description: str) -> None:
            progress.update(bar, completed=done, total=total, description=description)

        result = run_pipeline_eval(
            artifact_spec,
            component_version=component_version,
            seeds=seed_list,
            seconds=seconds,
            out_dir=out_dir,
            min_mota=min_mota,
            max_count_error=max_count_error,
            min_visibility=min_visibility,
            class_aware=class_aware,
            allow_training_seeds=allow_training_seeds,
            on_step=on_step,
        )
    _print_run(result)
    _finish(result, json_out, err)


def _count_cell(count: CountScore | None) -> str:
    if count is None:
        return "—"
    return f"{count.predicted}/{count.truth} ({_error(count.error)})"


def _print_run(result: PipelineRunResult) -> None:
    console = Console(highlight=False)
    what = f"component {result.component_version}" if result.component_version else str(result.artifact)
    console.print(
        f"[bold]{what}[/] on {len(result.seeds)} seed(s) × {result.seconds:g} s "
        f"({'class-aware' if result.class_aware else 'vehicle-agnostic'}; {result.wall_seconds:.0f} s)",
        soft_wrap=True,
    )
    table = Table(show_edge=False)
    columns = ("seed", "frames", "FPS", "MOTA", "IDF1", "ID sw.", "FP", "FN")
    for column in (*columns, "count tracks", "count msgs", "msgs recv/expected", "probe→Kafka p50"):
        table.add_column(column, justify="right")
    for run in result.runs:
        score, app = run.score, run.app
        t = score.tracking
        lat = score.latency
        table.add_row(
            str(run.seed),
            str(app.frames),
            f"{app.fps:.1f}",
            _fmt(t.mota if t else None),
            _fmt(t.idf1 if t else None),
            str(t.id_switches) if t else "—",
            str(t.false_positives) if t else "—",
            str(t.misses) if t else "—",
            _count_cell(score.count_tracks),
            _count_cell(score.count_messages),
            f"{app.messages_received}/{app.messages_expected}",
            f"{lat.p50_ms:.0f} ms" if lat else "—",
        )
    agg = result.aggregate
    counts = {c.source: c for c in agg.counts}

    def total_cell(source: str) -> str:
        c = counts.get(source)
        return f"{c.predicted}/{c.truth} ({_error(c.error)})" if c else "—"

    received = sum(r.app.messages_received for r in result.runs)
    expected = sum(r.app.messages_expected for r in result.runs)
    table.add_section()
    table.add_row(
        "all",
        str(sum(r.app.frames for r in result.runs)),
        "",
        _fmt(agg.mota),
        _fmt(agg.idf1),
        str(agg.id_switches),
        str(agg.false_positives),
        str(agg.misses),
        total_cell("tracks"),
        total_cell("messages"),
        f"{received}/{expected}",
        f"{agg.latency.p50_ms:.0f} ms" if agg.latency else "—",
        style="bold",
    )
    console.print(table)
    if agg.latency is not None:
        lat = agg.latency
        console.print(
            f"probe → Kafka latency (@timestamp, written in the app's probe → the consumer) over "
            f"{lat.messages} messages: p50 {lat.p50_ms:.1f} ms, p95 {lat.p95_ms:.1f} ms, "
            f"p99 {lat.p99_ms:.1f} ms",
            soft_wrap=True,
        )
    frame_ms = [v for r in result.runs for v in (r.app.frame_to_kafka_ms() or [])]
    if frame_ms:
        p50, p95 = percentile(frame_ms, 50), percentile(frame_ms, 95)
        console.print(
            f"frame → Kafka latency (decoder → probe from the app's latency lines + probe → Kafka) over "
            f"{len(frame_ms)} messages: p50 {p50:.1f} ms, p95 {p95:.1f} ms (files played as fast as "
            "possible, so queueing included)",
            soft_wrap=True,
        )
    for run in result.runs:
        for note in run.score.notes:
            console.print(f"[dim]seed {run.seed}: {note}[/]", soft_wrap=True)
    if result.out_dir is not None:
        console.print(f"[dim]files: {result.out_dir}[/]", soft_wrap=True)
    for goal in result.goals:
        mark = "[green]✓[/]" if goal.met else "[bold red]✗[/]"
        console.print(f"{mark} {goal.describe()} (all seeds)")
