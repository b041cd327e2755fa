"""The traffic app's pipeline against raw ONNX Runtime, and its accuracy, measured in one run.

What a pipeline run costs is only meaningful next to what the same work costs without it, on
the same machine at the same time (the machines are shared and noisy, so there are no absolute
thresholds). The baseline is the shortest honest loop over the same clip: decode a frame with
``cv2.VideoCapture``, preprocess it as nvinferserver does (``cv2.dnn.blobFromImage`` to 640x640
RGB in [0, 1]) and run detector B's ONNX file with ONNX Runtime's default threads, one frame after
the other. It is measured before the first pipeline run and after each one; a run's ratios use the
mean of the passes right before and right after it, so that both sides see about the same load.

Pipeline runs (the 1.0.1 artifact, i.e. the app as the recipe starts it, ``-d no-display``):

* 1 stream as fast as possible, through Triton with shared memory (the config's ``model_repo``:
  the app starts tritonserver) and over plain gRPC (a tritonserver started here, the config
  copied with ``grpc { url }``): FPS over the pipeline's running time and the ``**PERF`` figures,
  and FPS / raw FPS (goal ≥ 0.85);
* 1 stream live (``--live``: the file is paced at 30 fps like a camera): frame → Kafka latency
  from a consumer (receive time − ``@timestamp``, the capture time) and the app's own frame
  latency (decoder input → end of the pipeline); p95 / raw per-frame p50 (goal ≤ 2);
* 4 streams (the clip four times; the muxer batches 4, nvinferserver sends batches of 4), as
  fast as possible and live;
* per element p50/p95 (the app's ``--stats-json``) for each run;
* accuracy: ``run_pipeline_eval`` on held-out seeds for detector B (1.0.1) and A (1.0.0):
  MOTA, IDF1, counting error (goal for B: MOTA ≥ 0.80, count error ≤ 5%).

``python -m benchmarks.pipeline [--quick] [--out DIR]`` writes ``DIR/pipeline.json`` and prints a
summary; ``python -m benchmarks --only pipeline`` does the same. A goal that is missed is reported
as missed: the figures are what this machine measured.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import numpy as np

from harness.eval.pipeline import read_messages, score_latency
from harness.eval.pipeline_run import (
    INFER_CONFIG,
    AppRun,
    MessageRecorder,
    component_artifact,
    copy_with_grpc_backend,
    default_app_timeout,
    run_app,
    run_pipeline_eval,
    world_for,
)

CLIP_SEED = 2201  # held out: detector training used seeds 1000-1999
STREAMS = 4
ACCURACY_SEEDS = (2101, 2102, 2103)
MODELS = {"B": "1.0.1", "A": "1.0.0"}
GOAL_FPS_RATIO = 0.85  # pipeline FPS / raw FPS, at least
GOAL_LATENCY_RATIO = 2.0  # live p95 frame → Kafka / raw per-frame p50, at most
GOAL_MOTA = 0.80
GOAL_COUNT_ERROR = 0.05
MODEL_NAME = "rtdetr"
WARMUP_FRAMES = 5

Log = Callable[[str], None]


def _log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def _ms(values: list[float]) -> dict[str, float]:
    arr = np.asarray(values) * 1000.0
    return {
        "p50": round(float(np.percentile(arr, 50)), 2),
        "p95": round(float(np.percentile(arr, 95)), 2),
        "mean": round(float(arr.mean()), 2),
    }


# -- the baseline ------------------------------------------------------------------------------


def raw_onnxruntime(video: Path, onnx_file: Path) -> dict[str, Any]:
    """Decode + blobFromImage + ONNX Runtime inference per frame, sequentially, with its default threads."""
    import cv2
    import onnxruntime as ort

    runtime = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    name = runtime.get_inputs()[0].name
    capture = cv2.VideoCapture(str(video))
    try:
        ok, image = capture.read()
        if not ok:
            raise RuntimeError(f"cannot decode {video}")
        warm = cv2.dnn.blobFromImage(image, 1 / 255.0, (640, 640), swapRB=True)
        for _ in range(WARMUP_FRAMES):  # first runs allocate; the pipeline's Triton is warm too
            runtime.run(None, {name: warm})
    finally:
        capture.release()
    capture = cv2.VideoCapture(str(video))
    decode, preprocess, inference, total = [], [], [], []
    started = time.perf_counter()
    try:
        while True:
            t0 = time.perf_counter()
            ok, image = capture.read()
            if not ok:
                break
            t1 = time.perf_counter()
            blob = cv2.dnn.blobFromImage(image, 1 / 255.0, (640, 640), swapRB=True)
            t2 = time.perf_counter()
            runtime.run(None, {name: blob})
            t3 = time.perf_counter()
            decode.append(t1 - t0)
            preprocess.append(t2 - t1)
            inference.append(t3 - t2)
            total.append(t3 - t0)
    finally:
        capture.release()
    seconds = time.perf_counter() - started
    return {
        "frames": len(total),
        "seconds": round(seconds, 3),
        "fps": round(len(total) / seconds, 2),
        "per_frame_ms": _ms(total),
        "decode_ms": _ms(decode),
        "preprocess_ms": _ms(preprocess),
        "inference_ms": _ms(inference),
        "onnxruntime_threads": "default (intra-op = cores)",
    }


# -- pipeline runs -----------------------------------------------------------------------------


def _elements(stats: dict[str, Any]) -> dict[str, dict[str, float]]:
    elements = stats.get("latency", {}).get("elements_ms", {})
    return {
        name: {"p50": v.get("p50"), "p95": v.get("p95")} for name, v in elements.items() if v.get("count")
    }


def _kafka_latency(app: AppRun) -> dict[str, Any] | None:
    score = score_latency(read_messages(app.messages_path), app.messages_path)
    if score is None:
        return None
    return {
        "messages": score.messages,
        "p50_ms": round(score.p50_ms, 1),
        "p95_ms": round(score.p95_ms, 1),
        "p99_ms": round(score.p99_ms, 1),
        "max_ms": round(score.max_ms, 1),
    }


def pipeline_figures(app: AppRun, *, streams: int, live: bool) -> dict[str, Any]:
    """What one app run measured: FPS (overall, per stream, **PERF), latencies, elements."""
    stats = app.stats
    seconds = float(stats.get("seconds") or 0.0)
    per_source = {int(k): int(v) for k, v in stats.get("frames_per_source", {}).items()}
    perf = stats.get("perf", {})
    history = [fps for _, fps in perf.get("history", [])]
    # PERF lines: drop the last one, printed at end of stream over a partial interval
    full = history[:-1] if len(history) > 1 else history
    perf_median = [round(statistics.median(col), 2) for col in zip(*full, strict=True)] if full else []
    frame = stats.get("latency", {}).get("frame_latency_ms", {})
    return {
        "streams": streams,
        "live": live,
        "frames": app.frames,
        "seconds": round(seconds, 3),
        "fps": round(app.fps, 2),
        "fps_per_stream": {
            str(k): round(v / seconds, 2) if seconds else 0.0 for k, v in sorted(per_source.items())
        },
        "perf": {
            "average_fps_per_stream": [s.get("fps") for s in perf.get("sources", [])],
            "median_of_perf_lines_per_stream": perf_median,
            "lines": len(history),
        },
        "frame_latency_ms": {k: frame.get(k) for k in ("count", "p50", "p95", "p99", "max")},
        "kafka_latency_ms": _kafka_latency(app),
        "messages": {
            "sent": app.messages_sent,
            "delivered": app.messages_delivered,
            "received": app.messages_received,
        },
        "elements_ms": _elements(stats),
        "wall_seconds": round(app.wall_seconds, 1),
        "notes": app.notes,
    }


def kafka_floor(kafka: Any, run_dir: Path, messages: int = 40, gap_s: float = 0.03) -> dict[str, Any]:
    """Producer → broker → the recorder with nothing else running: what any Kafka latency includes.

    The producer has librdkafka's defaults, as the app's nvmsgbroker (no proto-cfg) does.
    """
    from confluent_kafka import Producer

    topic = f"pipeline-bench-floor-{os.getpid()}"
    kafka.create_topic(topic)
    path = run_dir / "floor.jsonl"
    try:
        with MessageRecorder(kafka, topic, path) as recorder:
            producer = Producer({"bootstrap.servers": kafka.bootstrap_servers})
            for _ in range(messages):
                producer.produce(topic, json.dumps({"sent_ns": time.time_ns()}).encode())
                producer.poll(0)
                time.sleep(gap_s)
            producer.flush(10)
            recorder.wait_for(messages, 10)
    finally:
        with contextlib.suppress(Exception):
            kafka.delete_topic(topic)
    values = []
    for line in path.read_text().splitlines():
        doc = json.loads(line)
        values.append((doc["received_ns"] - doc["payload"]["sent_ns"]) / 1e9)
    return {"messages": len(values), "latency_ms": _ms(values) if values else None}


def _ratio(value: float | None, base: float | None) -> float | None:
    if value is None or not base:
        return None
    return round(value / base, 3)


def _goal(name: str, value: float | None, op: str, limit: float) -> dict[str, Any]:
    met = value is not None and (value >= limit if op == ">=" else value <= limit)
    return {"name": name, "value": value, "op": op, "limit": limit, "met": met}


def measure(quick: bool = False, log: Log = _log) -> dict[str, Any]:
    """Every run above, in one go; returns the report (``pipeline.json`` without the machine header)."""
    from harness.package import build_artifact
    from harness.services.kafka import KafkaBroker
    from harness.services.triton import TritonServer

    clip_seconds = 4.0 if quick else 10.0
    accuracy_seeds = ACCURACY_SEEDS[:1] if quick else ACCURACY_SEEDS
    accuracy_seconds = 8.0 if quick else 20.0
    report: dict[str, Any] = {
        "quick": quick,
        "clip": {"seed": CLIP_SEED, "seconds": clip_seconds, "size": "1280x720", "fps": 30},
        "model": "B (component 1.0.1, models/rtdetr/2/model.onnx)",
    }
    walls: dict[str, float] = {}
    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        base = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="edge-harness-bench-pipeline-")))
        log("building the 1.0.1 artifact and rendering the clip")
        folder = build_artifact(component_artifact(MODELS["B"]), base / "artifact")
        video = world_for(CLIP_SEED, clip_seconds, base / "worlds" / f"seed-{CLIP_SEED}") / "video.mp4"
        onnx_file = folder / "models" / MODEL_NAME / "2" / "model.onnx"

        def timed(name: str, function: Callable[[], Any]) -> Any:
            log(name)
            t0 = time.monotonic()
            try:
                return function()
            finally:
                walls[name] = round(time.monotonic() - t0, 1)

        raw_passes: list[dict[str, Any]] = []

        def raw(label: str) -> None:
            load = round(os.getloadavg()[0], 2)
            figures = timed(f"raw ONNX Runtime ({label})", lambda: raw_onnxruntime(video, onnx_file))
            raw_passes.append({"label": label, "load_average_1min": load, **figures})

        raw("before the first run")
        kafka = stack.enter_context(KafkaBroker())
        report["kafka_floor"] = timed("Kafka floor", lambda: kafka_floor(kafka, base))
        timeout1 = default_app_timeout(clip_seconds, 1)
        timeout4 = default_app_timeout(clip_seconds, STREAMS)
        runs: dict[str, dict[str, Any]] = {}

        def app(name: str, streams: int, live: bool, **kwargs: Any) -> None:
            load = round(os.getloadavg()[0], 2)
            result = timed(
                name,
                lambda: run_app(
                    folder,
                    [video] * streams,
                    kafka,
                    base / "runs" / name,
                    live=live,
                    tracks=False,
                    timeout=timeout4 if streams > 1 else timeout1,
                    **kwargs,
                ),
            )
            runs[name] = {**pipeline_figures(result, streams=streams, live=live), "load_average_1min": load}
            log(f"  {runs[name]['fps']} FPS, frame latency p95 {runs[name]['frame_latency_ms']['p95']} ms")

        def baseline_after(name: str) -> None:
            """A raw pass right after the run; the run's baseline is it and the pass right before."""
            raw(f"after {name}")
            before, after = raw_passes[-2], raw_passes[-1]
            runs[name]["baseline"] = {
                "passes": [before["label"], after["label"]],
                "fps": round((before["fps"] + after["fps"]) / 2, 2),
                "per_frame_p50_ms": round(
                    (before["per_frame_ms"]["p50"] + after["per_frame_ms"]["p50"]) / 2, 2
                ),
            }

        app("1_stream_fast_shm", 1, False)
        baseline_after("1_stream_fast_shm")
        with TritonServer(
            folder / "models", model_control_mode="explicit", load_models=[MODEL_NAME]
        ) as server:
            grpc_config = copy_with_grpc_backend(
                folder / INFER_CONFIG, server.grpc_url, folder / "config_infer_primary_rtdetr_triton_grpc.yml"
            )
            app("1_stream_fast_grpc", 1, False, infer_config=grpc_config.name)
        baseline_after("1_stream_fast_grpc")
        for name, streams, live in (
            ("1_stream_live_shm", 1, True),
            ("4_streams_fast_shm", STREAMS, False),
            ("4_streams_live_shm", STREAMS, True),
        ):
            app(name, streams, live)
            baseline_after(name)

        accuracy: dict[str, Any] = {}
        for model, version in MODELS.items():
            result = timed(
                f"accuracy, model {model}",
                lambda model=model, version=version: run_pipeline_eval(
                    component_version=version,
                    seeds=accuracy_seeds,
                    seconds=accuracy_seconds,
                    out_dir=base / "accuracy" / model,
                    worlds_dir=base / "worlds",
                    kafka=kafka,
                ),
            )
            agg = result.aggregate
            counts = {c.source: c.to_dict() for c in agg.counts}
            accuracy[model] = {
                "component_version": version,
                "seeds": list(accuracy_seeds),
                "seconds": accuracy_seconds,
                "mota": round(agg.mota, 4),
                "idf1": round(agg.idf1, 4),
                "id_switches": agg.id_switches,
                "false_positives": agg.false_positives,
                "misses": agg.misses,
                "gt_rows": agg.gt_rows,
                "count_error": counts,
                "per_seed": [
                    {
                        "seed": run.seed,
                        "mota": round(run.score.tracking.mota, 4) if run.score.tracking else None,
                        "idf1": round(run.score.tracking.idf1, 4) if run.score.tracking else None,
                        "count_tracks": run.score.count_tracks.to_dict() if run.score.count_tracks else None,
                        "fps": round(run.app.fps, 2),
                    }
                    for run in result.runs
                ],
            }
            log(f"  MOTA {agg.mota:.3f}, IDF1 {agg.idf1:.3f}, counts {counts}")

    baseline = {
        "passes": raw_passes,
        "fps": round(statistics.fmean(r["fps"] for r in raw_passes), 2),
        "per_frame_p50_ms": round(statistics.fmean(r["per_frame_ms"]["p50"] for r in raw_passes), 2),
        "how": "one pass before the first run and one after each run; each run's ratios use the mean of "
        "the pass right before and the pass right after it, so both see about the same machine load",
    }
    for figures in runs.values():
        raw_fps, raw_p50 = figures["baseline"]["fps"], figures["baseline"]["per_frame_p50_ms"]
        figures["ratio_fps_to_raw"] = _ratio(figures["fps"], raw_fps)
        if figures["live"]:
            kafka_p95 = (figures["kafka_latency_ms"] or {}).get("p95_ms")
            figures["ratio_kafka_p95_to_raw_p50"] = _ratio(kafka_p95, raw_p50)
            frame_p95 = figures["frame_latency_ms"]["p95"]
            figures["ratio_frame_latency_p95_to_raw_p50"] = _ratio(frame_p95, raw_p50)
            # a live stream that keeps up delivers its 30 fps; one that does not falls behind. A late
            # frame is decoded (and stamped) when the pipeline gets to it, so the latencies above do
            # not include that lag: it is the run's length beyond the clip's
            figures["keeps_up"] = all(fps >= 0.95 * 30 for fps in figures["fps_per_stream"].values())
            figures["behind_real_time_at_end_s"] = round(max(0.0, figures["seconds"] - clip_seconds), 2)
    goals = [
        _goal(
            "1 stream, Triton shm: FPS / raw FPS",
            runs["1_stream_fast_shm"]["ratio_fps_to_raw"],
            ">=",
            GOAL_FPS_RATIO,
        ),
        _goal(
            "1 stream, Triton gRPC: FPS / raw FPS",
            runs["1_stream_fast_grpc"]["ratio_fps_to_raw"],
            ">=",
            GOAL_FPS_RATIO,
        ),
        _goal(
            "1 stream live: frame → Kafka p95 / raw per-frame p50",
            runs["1_stream_live_shm"]["ratio_kafka_p95_to_raw_p50"],
            "<=",
            GOAL_LATENCY_RATIO,
        ),
        _goal("model B: MOTA", accuracy["B"]["mota"], ">=", GOAL_MOTA),
    ]
    for source, count in accuracy["B"]["count_error"].items():
        goals.append(_goal(f"model B: count error ({source})", count["error"], "<=", GOAL_COUNT_ERROR))
    report.update(
        {
            "baseline": baseline,
            "runs": runs,
            "accuracy": accuracy,
            "goals": goals,
            "wall_seconds": {**walls, "total": round(time.monotonic() - started, 1)},
        }
    )
    return report


# -- the summary -------------------------------------------------------------------------------


def _cell(value: Any, fmt: str = "{}") -> str:
    return "—" if value is None else fmt.format(value)


def print_summary(report: dict[str, Any]) -> None:
    """Tables for people; the JSON holds everything."""
    from rich.console import Console
    from rich.table import Table

    # written to a file or a pipe, rich would wrap the wide tables at 80 columns
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
    base = report["baseline"]
    console.print(
        f"[bold]baseline[/] raw ONNX Runtime, decode + preprocess + inference per frame, mean of "
        f"{len(base['passes'])} passes: {base['fps']} FPS, p50 {base['per_frame_p50_ms']} ms (passes: "
        + ", ".join(f"{r['fps']:.1f}" for r in base["passes"])
        + " FPS; each run is compared with the passes right before and after it)",
        soft_wrap=True,
    )
    table = Table(title="pipeline runs", title_justify="left", show_edge=False)
    for column in (
        "run",
        "FPS",
        "FPS/stream",
        "PERF med.",
        "raw FPS",
        "÷ raw FPS",
        "frame lat. p50/p95",
        "Kafka p50/p95/p99 (n)",
        "raw p50",
        "p95 ÷ raw p50",
        "behind",
    ):
        table.add_column(column, justify="left" if column == "run" else "right")
    for name, run in report["runs"].items():
        frame = run["frame_latency_ms"]
        kafka = run["kafka_latency_ms"]
        per_stream = list(run["fps_per_stream"].values())
        table.add_row(
            name,
            f"{run['fps']:.1f}",
            "/".join(f"{v:.1f}" for v in per_stream),
            "/".join(f"{v:.1f}" for v in run["perf"]["median_of_perf_lines_per_stream"]),
            f"{run['baseline']['fps']:.1f}",
            _cell(run["ratio_fps_to_raw"], "{:.2f}"),
            f"{frame['p50']:.0f}/{frame['p95']:.0f} ms",
            f"{kafka['p50_ms']:.0f}/{kafka['p95_ms']:.0f}/{kafka['p99_ms']:.0f} ms ({kafka['messages']})"
            if kafka
            else "—",
            f"{run['baseline']['per_frame_p50_ms']:.1f} ms",
            _cell(run.get("ratio_kafka_p95_to_raw_p50"), "{:.1f}"),
            _cell(run.get("behind_real_time_at_end_s"), "{:.1f} s"),
        )
    console.print(table)
    names = list(report["runs"])
    elements: list[str] = []
    for run in report["runs"].values():
        elements += [e for e in run["elements_ms"] if e not in elements]
    table = Table(title="per element p50/p95 ms", title_justify="left", show_edge=False)
    table.add_column("element")
    for name in names:
        table.add_column(name.replace("_", " "), justify="right")
    for element in elements:
        row = [element]
        for name in names:
            value = report["runs"][name]["elements_ms"].get(element)
            row.append(f"{value['p50']:.1f}/{value['p95']:.1f}" if value else "—")
        table.add_row(*row)
    console.print(table)
    table = Table(title="accuracy (run_pipeline_eval, aggregate over seeds)", title_justify="left")
    for column in ("model", "seeds × s", "MOTA", "IDF1", "ID sw.", "count tracks", "count msgs"):
        table.add_column(column, justify="right")
    for model, acc in report["accuracy"].items():
        counts = acc["count_error"]

        def count(source: str, counts: dict[str, Any] = counts) -> str:
            c = counts.get(source)
            if not c:
                return "—"
            error = "inf" if c["error"] is None else f"{100 * c['error']:.1f}%"
            return f"{c['predicted']}/{c['truth']} ({error})"

        table.add_row(
            model,
            f"{len(acc['seeds'])} × {acc['seconds']:g}",
            f"{acc['mota']:.3f}",
            f"{acc['idf1']:.3f}",
            str(acc["id_switches"]),
            count("tracks"),
            count("messages"),
        )
    console.print(table)
    floor = report.get("kafka_floor", {}).get("latency_ms")
    if floor:
        console.print(
            f"Kafka floor (producer → tansu → consumer): p50 {floor['p50']} ms, p95 {floor['p95']} ms"
        )
    for goal in report["goals"]:
        mark = "[green]✓ met[/]" if goal["met"] else "[bold red]✗ missed[/]"
        console.print(f"{mark}  {goal['name']}: {_cell(goal['value'])} (goal {goal['op']} {goal['limit']})")
    console.print(f"[dim]wall time {report['wall_seconds']['total']} s[/]")


def machine() -> dict[str, Any]:
    import onnxruntime

    return {
        "python": platform.python_version(),
        "cpus": len(os.sched_getaffinity(0)),
        "node": platform.node(),
        "load_average_at_start": [round(v, 2) for v in os.getloadavg()],
        "onnxruntime": onnxruntime.__version__,
    }


def run_and_write(out: Path, quick: bool = False) -> Path:
    """Measure, write ``out/pipeline.json``, print the summary; returns the file's path."""
    header = {"when": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "machine": machine()}
    report = {**header, **measure(quick=quick)}
    out.mkdir(parents=True, exist_ok=True)
    path = out / "pipeline.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print_summary(report)
    click.echo(f"written {path}", err=True)
    return path


@click.command()
@click.option("--quick", is_flag=True, help="Shorter clips, one accuracy seed (a smoke run, noisier).")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("benchmarks/results"),
    show_default=True,
    help="Folder for pipeline.json.",
)
def main(quick: bool, out: Path) -> None:
    """Pipeline throughput, latency and accuracy against raw ONNX Runtime (several minutes)."""
    run_and_write(out, quick=quick)


if __name__ == "__main__":
    main()
