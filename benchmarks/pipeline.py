"""The traffic app on real GStreamer against raw ONNX Runtime and the old Python runtime, in one run.

What a pipeline run costs is only meaningful next to what the same work costs without it, on the
same machine at the same time (the machines are shared and noisy, so there are no absolute
thresholds). Everything plays one clip: world seed 2201 (held out), 1280×720 at 30 fps, H.264
without B-frames as a camera sends it (the world's own encoding has B-frames, which make any live
decoder hold frames back).

* **Baseline (raw)**: decode a frame with ``cv2.VideoCapture``, preprocess it as nvinferserver does
  (``cv2.dnn.blobFromImage`` to 640×640 RGB in [0, 1]) and run detector B's ONNX file with ONNX
  Runtime's default threads, one frame after the other. A pass runs before the first app run and
  after each one; a run's ratios use the mean of the passes right before and right after it, so
  that both sides see about the same load.
* **GStreamer runs** (the 1.0.1 artifact's ``deepstream_app.py`` as the recipe starts it, in a
  component process's DeepStream environment, ``-d no-display``, latency printing on):
  1 and 4 streams of the file as fast as possible (the config's ``model_repo``: the app starts
  tritonserver, tensors through shared memory), 1 stream over plain gRPC to a tritonserver started
  here, and 1 and 4 streams from an RTSP camera (:mod:`benchmarks.camera`: the clip served in real
  time, a live source). FPS is counted at the app's probe between its first and last batch (the
  app's own ``--stats-json`` figure includes its shut-down); 4 streams = ``-i`` four times, the
  muxer batches 4 and nvinferserver sends batches of 4.
* **Latency** (camera runs): frame → Kafka per message = the frame's latency line (decoder input →
  the probe, ``NVDS_ENABLE_LATENCY_MEASUREMENT``) + probe → a consumer (receive time −
  ``@timestamp``, which the app's probe writes); p95 ÷ raw per-frame p50, goal ≤ 2. With files
  played as fast as possible the frame latency is mostly queueing, so it is reported, not judged.
* **Per element** p50/p95 from the ``Comp name`` lines (``NVDS_ENABLE_COMPONENT_LATENCY_MEASUREMENT``).
* **The old Python runtime**: the traffic app as it was before it moved to GStreamer (its last
  revision with the emulation it ran on, ``fake_device`` and ``harness`` read from git history:
  the Python runtime is no longer in the tree) plays the same file, 1 and 4 streams, each right
  after the GStreamer run it is compared with; the GStreamer app must not be slower (FPS), and the
  CPU seconds each used for the same frames are compared too (load changes them least). When that
  revision cannot be read or does not run, the last figures recorded in docs/deepstream/pipeline.md
  are used and the report says so (not a same-run ratio).
* **Accuracy**: ``run_pipeline_eval`` on held-out seeds for detector B (1.0.1) and A (1.0.0).

``python -m benchmarks.pipeline [--quick] [--out DIR]`` writes ``DIR/pipeline.json`` and prints a
summary; ``python -m benchmarks --only pipeline`` does the same. A goal that is missed is reported
as missed: the figures are what this machine measured, with its load average beside them.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import numpy as np

from fake_device.deepstream.measure import summarize
from harness.errors import HarnessError
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

ROOT = Path(__file__).resolve().parents[1]
CLIP_SEED = 2201  # held out: detector training used seeds 1000-1999
STREAMS = 4
ACCURACY_SEEDS = (2101, 2102, 2103)
MODELS = {"B": "1.0.1", "A": "1.0.0"}
GOAL_FPS_RATIO = 0.85  # pipeline FPS / raw FPS, at least
GOAL_LATENCY_RATIO = 2.0  # camera p95 frame → Kafka / raw per-frame p50, at most
GOAL_NOT_SLOWER = 1.0  # GStreamer FPS / old Python runtime FPS, at least
GOAL_MOTA = 0.80
GOAL_COUNT_ERROR = 0.05
MODEL_NAME = "rtdetr"
WARMUP_FRAMES = 5
CAMERA_FPS = 30
#: the traffic app on the Python runtime: the last revision before it moved to GStreamer
PYTHON_RUNTIME_REVISION = "8af8b328d1c9e9c5a587958f515d281aaf856a17"
PYTHON_RUNTIME_APP = "scenarios/traffic/app/deepstream_app.py"
PYTHON_RUNTIME_SCRIPT = "deepstream_app_python_runtime.py"
#: docs/deepstream/pipeline.md, run B of 2026-11-25 (quiet machine): the fallback when the old
#: runtime cannot run here
PYTHON_RUNTIME_RECORDED = {"1_stream": 50.2, "4_streams": 43.7, "when": "2026-11-25, run B"}

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


# -- the clip ----------------------------------------------------------------------------------


def camera_clip(video: Path, out: Path) -> Path:
    """``video`` re-encoded once as a camera sends it: H.264 with I and P frames only, a key frame
    each second. Done before anything is measured; nothing re-encodes while a run plays."""
    from harness.world.video import ffmpeg_for_h264

    command = [
        ffmpeg_for_h264(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i", str(video),
        "-an", "-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-bf", "0", "-g", str(CAMERA_FPS),
        "-pix_fmt", "yuv420p", str(out),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"ffmpeg could not re-encode {video}: {done.stderr.strip()[-500:]}")
    return out


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


# -- app runs ----------------------------------------------------------------------------------


def _perf_median(stats: dict[str, Any]) -> list[float]:
    """Median of the app's ``**PERF`` intervals per stream, intervals with no frame left out (start-up,
    shut-down) and the last one (a partial interval at the end)."""
    rows = [fps for _, fps in (stats.get("perf") or {}).get("history", [])]
    rows = [row for row in rows if any(row)][:-1]
    return [round(statistics.median(col), 2) for col in zip(*rows, strict=True)] if rows else []


def _probe_to_kafka(app: AppRun) -> dict[str, Any] | None:
    if not app.messages_path.is_file():
        return None
    score = score_latency(read_messages(app.messages_path), app.messages_path)
    if score is None:
        return None
    return {
        "messages": score.messages,
        "p50": round(score.p50_ms, 1),
        "p95": round(score.p95_ms, 1),
        "max": round(score.max_ms, 1),
    }


def pipeline_figures(app: AppRun, *, streams: int, source: str) -> dict[str, Any]:
    """What one app run measured: FPS (overall, per stream, **PERF), latencies, elements, messages."""
    stats = app.stats
    measured = app.latency.throughput()
    seconds = measured[1] if measured else float(stats.get("seconds") or 0.0)
    per_source = {str(k): int(v) for k, v in (stats.get("frames_per_source") or {}).items()}
    elements = {
        name: {"p50": v["p50"], "p95": v["p95"], "count": v["count"]}
        for name, v in ((n, summarize(x)) for n, x in app.latency.elements_ms().items())
        if v["count"]
    }
    frame_to_kafka = app.frame_to_kafka_ms()
    return {
        "streams": streams,
        "source": source,
        "frames": app.frames,
        "fps": round(app.fps, 2),
        "fps_source": app.fps_source,
        "seconds_at_probe": round(seconds, 3),
        "fps_per_stream": {
            k: round(v / seconds, 2) if seconds else 0.0 for k, v in sorted(per_source.items())
        },
        "perf_median_per_stream": _perf_median(stats),
        "stats": {"seconds": stats.get("seconds"), "fps": stats.get("fps")},
        "frame_latency_ms": summarize(app.latency.frame_ms()),
        "frame_to_kafka_ms": summarize(frame_to_kafka) if frame_to_kafka is not None else None,
        "probe_to_kafka_ms": _probe_to_kafka(app),
        "messages": {"expected": app.messages_expected, "received": app.messages_received},
        "elements_ms": elements,
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


def triton_statistics(http_url: str) -> dict[str, Any]:
    """Where a request's time goes inside tritonserver (its statistics API, mean per request, ms):
    queue, input copy, the model's execute (the python backend running ONNX Runtime), output copy."""
    import tritonclient.http as httpclient

    client = httpclient.InferenceServerClient(http_url)
    try:
        (model,) = client.get_inference_statistics(model_name=MODEL_NAME)["model_stats"]
    finally:
        client.close()
    stats = model["inference_stats"]
    count = int(stats["success"]["count"])

    def mean(key: str) -> float | None:
        return round(int(stats[key]["ns"]) / count / 1e6, 2) if count else None

    return {
        "requests": count,
        "batches": int(model.get("execution_count", 0)),
        **{f"{key}_ms": mean(key) for key in ("queue", "compute_input", "compute_infer", "compute_output")},
    }


def python_runtime_app(folder: Path, tree: Path) -> str | None:
    """The Python-runtime revision of the app, next to the artifact's, with the emulation it ran on.

    Its ``fake_device`` and ``harness`` packages are taken from the same revision into ``tree``
    (the app gets it as PYTHONPATH): the Python runtime is being taken apart in today's tree, so the
    old app measured on today's modules would be neither the old emulation nor runnable. Returns the
    script's name, or None when git cannot give that revision (a shallow or exported checkout).
    """
    paths = ("fake_device", "harness", PYTHON_RUNTIME_APP)
    command = ["git", "-C", str(ROOT), "archive", "--format=tar", PYTHON_RUNTIME_REVISION, *paths]
    done = subprocess.run(command, capture_output=True, check=False)
    if done.returncode != 0:
        return None
    tree.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(done.stdout)) as archive:
        archive.extractall(tree, filter="data")
    shutil.copyfile(tree / PYTHON_RUNTIME_APP, folder / PYTHON_RUNTIME_SCRIPT)
    return PYTHON_RUNTIME_SCRIPT


def _ratio(value: float | None, base: float | None) -> float | None:
    if value is None or not base:
        return None
    return round(value / base, 3)


def _goal(name: str, value: float | None, op: str, limit: float, note: str = "") -> dict[str, Any]:
    met = value is not None and (value >= limit if op == ">=" else value <= limit)
    goal = {"name": name, "value": value, "op": op, "limit": limit, "met": met}
    if note:
        goal["note"] = note
    return goal


def measure(quick: bool = False, log: Log = _log) -> dict[str, Any]:
    """Every run above, in one go; returns the report (``pipeline.json`` without the machine header)."""
    from benchmarks.camera import RtspCamera
    from harness.package import build_artifact
    from harness.services.kafka import KafkaBroker
    from harness.services.triton import TritonServer

    clip_seconds = 4.0 if quick else 10.0
    accuracy_seeds = ACCURACY_SEEDS[:1] if quick else ACCURACY_SEEDS
    accuracy_seconds = 8.0 if quick else 20.0
    report: dict[str, Any] = {
        "quick": quick,
        "clip": {
            "seed": CLIP_SEED,
            "seconds": clip_seconds,
            "size": "1280x720",
            "fps": CAMERA_FPS,
            "encoding": "H.264 I/P frames (no B-frames), key frame each second",
        },
        "model": "B (component 1.0.1, models/rtdetr/2/model.onnx)",
    }
    walls: dict[str, float] = {}
    notes: list[str] = []
    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        base = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="edge-harness-bench-pipeline-")))
        log("building the 1.0.1 artifact and rendering the clip")
        folder = build_artifact(component_artifact(MODELS["B"]), base / "artifact")
        world = world_for(CLIP_SEED, clip_seconds, base / "worlds" / f"seed-{CLIP_SEED}")
        video = camera_clip(world / "video.mp4", base / "camera.mp4")
        onnx_file = folder / "models" / MODEL_NAME / "2" / "model.onnx"
        old_tree = base / "python-runtime"
        old_script = python_runtime_app(folder, old_tree)
        if old_script is None:
            notes.append(
                f"the Python-runtime app (git {PYTHON_RUNTIME_REVISION[:10]}) cannot be read: the "
                f"GStreamer app is compared with the figures recorded on {PYTHON_RUNTIME_RECORDED['when']}"
            )

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
        runs: dict[str, dict[str, Any]] = {}
        failed: dict[str, str] = {}  # runs that did not complete, with why

        def app(name: str, streams: int, source: str = "file", **kwargs: Any) -> None:
            load = round(os.getloadavg()[0], 2)
            inputs: list[Path | str] = [video] * streams
            camera: RtspCamera | None = None
            run_dir = base / "runs" / name
            if source == "camera":  # the run ends with the clip, as with a file
                camera = RtspCamera(video).start()
                inputs = [camera.url] * streams
            used = resource.getrusage(resource.RUSAGE_CHILDREN)
            try:
                result = timed(
                    name,
                    lambda: run_app(
                        folder,
                        inputs,
                        kafka,
                        run_dir,
                        tracks=False,
                        timeout=default_app_timeout(clip_seconds, streams),
                        **kwargs,
                    ),
                )
            except HarnessError as err:
                failed[name] = str(err).splitlines()[0]
                log(f"  {name} failed: {failed[name]}")
                return
            finally:
                if camera is not None:
                    camera.stop()
            # CPU of the app and what it started and reaped (tritonserver and its backend stub),
            # start-up included: far less sensitive to the machine's load than any rate
            done = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = done.ru_utime - used.ru_utime + done.ru_stime - used.ru_stime
            runs[name] = {
                **pipeline_figures(result, streams=streams, source=source),
                "load_average_1min": load,
                "cpu_seconds": round(cpu, 1) if result.returncode == 0 else None,
            }
            frame = runs[name]["frame_latency_ms"]
            log(f"  {runs[name]['fps']} FPS, frame latency p50/p95 {frame.get('p50')}/{frame.get('p95')} ms")
            raw(f"after {name}")
            before, after = raw_passes[-2], raw_passes[-1]
            runs[name]["baseline"] = {
                "passes": [before["label"], after["label"]],
                "fps": round((before["fps"] + after["fps"]) / 2, 2),
                "per_frame_p50_ms": round(
                    (before["per_frame_ms"]["p50"] + after["per_frame_ms"]["p50"]) / 2, 2
                ),
            }

        old_env = {"PYTHONPATH": str(old_tree)}  # the old app imports the emulation's modules

        def python_runtime(name: str, streams: int) -> None:
            # right after the GStreamer run it is compared with: both see about the same load
            if old_script is not None:
                app(name, streams, script=old_script, env=old_env)

        app("gst_1_stream_file", 1)
        python_runtime("python_runtime_1_stream_file", 1)
        with TritonServer(
            folder / "models", model_control_mode="explicit", load_models=[MODEL_NAME]
        ) as server:
            grpc_config = copy_with_grpc_backend(
                folder / INFER_CONFIG, server.grpc_url, folder / "config_infer_primary_rtdetr_triton_grpc.yml"
            )
            app("gst_1_stream_file_grpc", 1, infer_config=grpc_config.name)
            if "gst_1_stream_file_grpc" in runs:
                runs["gst_1_stream_file_grpc"]["triton_server"] = triton_statistics(server.http_url)
        app("gst_4_streams_file", STREAMS)
        python_runtime("python_runtime_4_streams_file", STREAMS)
        app("gst_1_stream_camera", 1, "camera")
        app("gst_4_streams_camera", STREAMS, "camera")
        for name, why in failed.items():
            notes.append(f"{name} did not complete: {why}")

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
        if figures["source"] == "camera":
            # a camera that is kept up with delivers 30 fps per stream; one that is not piles frames
            # up in front of the pipeline, and their latency grows
            figures["frames_sent"] = round(clip_seconds * CAMERA_FPS) * figures["streams"]
            figures["keeps_up"] = figures["frames"] >= 0.95 * figures["frames_sent"] and all(
                fps >= 0.95 * CAMERA_FPS for fps in figures["fps_per_stream"].values()
            )
            to_kafka = figures["frame_to_kafka_ms"] or {}
            figures["ratio_frame_to_kafka_p95_to_raw_p50"] = _ratio(to_kafka.get("p95"), raw_p50)
            figures["ratio_frame_latency_p95_to_raw_p50"] = _ratio(
                figures["frame_latency_ms"].get("p95"), raw_p50
            )
    comparison = _against_python_runtime(runs)

    def figure(run: str, key: str) -> Any:
        return runs.get(run, {}).get(key)

    goals = [
        _goal(
            "1 stream: FPS / raw FPS", figure("gst_1_stream_file", "ratio_fps_to_raw"), ">=", GOAL_FPS_RATIO
        ),
        _goal(
            f"{STREAMS} streams: FPS / raw FPS",
            figure("gst_4_streams_file", "ratio_fps_to_raw"),
            ">=",
            GOAL_FPS_RATIO,
        ),
        _goal(
            "1 camera: frame → Kafka p95 / raw per-frame p50",
            figure("gst_1_stream_camera", "ratio_frame_to_kafka_p95_to_raw_p50"),
            "<=",
            GOAL_LATENCY_RATIO,
            note="frame → Kafka per message: the frame's decoder → probe latency line + probe → consumer",
        ),
    ]
    for key, label in (("1_stream", "1 stream"), ("4_streams", f"{STREAMS} streams")):
        c = comparison[key]
        goals.append(
            _goal(
                f"{label}: GStreamer FPS / Python-runtime FPS",
                c["ratio"],
                ">=",
                GOAL_NOT_SLOWER,
                note=f"run right after it; CPU seconds GStreamer ÷ Python runtime {c['cpu_ratio']}"
                if c["same_run"]
                else f"against the figure recorded on {c['recorded']}",
            )
        )
    goals.append(_goal("model B: MOTA", accuracy["B"]["mota"], ">=", GOAL_MOTA))
    for source, count in accuracy["B"]["count_error"].items():
        goals.append(_goal(f"model B: count error ({source})", count["error"], "<=", GOAL_COUNT_ERROR))
    report.update(
        {
            "baseline": baseline,
            "runs": runs,
            "python_runtime": comparison,
            "accuracy": accuracy,
            "goals": goals,
            "notes": notes,
            "wall_seconds": {**walls, "total": round(time.monotonic() - started, 1)},
        }
    )
    return report


def _against_python_runtime(runs: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """GStreamer FPS against the old runtime's: from this run when it ran, else the recorded figure."""
    out = {}
    for key, gst, old in (
        ("1_stream", "gst_1_stream_file", "python_runtime_1_stream_file"),
        ("4_streams", "gst_4_streams_file", "python_runtime_4_streams_file"),
    ):
        fps = runs.get(gst, {}).get("fps")
        cpu = runs.get(gst, {}).get("cpu_seconds")
        old_cpu = None
        if old in runs:
            old_fps, same_run, recorded = runs[old]["fps"], True, None
            old_cpu = runs[old].get("cpu_seconds")
        else:
            old_fps, same_run, recorded = PYTHON_RUNTIME_RECORDED[key], False, PYTHON_RUNTIME_RECORDED["when"]
        out[key] = {
            "gstreamer_fps": fps,
            "python_runtime_fps": old_fps,
            "ratio": _ratio(fps, old_fps),
            # CPU seconds of the whole run (start-up included) for the same frames: what load
            # changes least; below 1 = the GStreamer app needed less CPU
            "gstreamer_cpu_seconds": cpu,
            "python_runtime_cpu_seconds": old_cpu,
            "cpu_ratio": _ratio(cpu, old_cpu),
            "same_run": same_run,
            "recorded": recorded,
        }
    return out


# -- the summary -------------------------------------------------------------------------------


def _cell(value: Any, fmt: str = "{}") -> str:
    return "—" if value is None else fmt.format(value)


def _pair(summary: dict[str, Any] | None) -> str:
    if not summary or not summary.get("count"):
        return "—"
    return f"{summary['p50']:.0f}/{summary['p95']:.0f}"


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
        + ", ".join(f"{r['fps']:.1f} (load {r['load_average_1min']})" for r in base["passes"])
        + " FPS; each run is compared with the passes right before and after it)",
        soft_wrap=True,
    )
    table = Table(title="app runs", title_justify="left", show_edge=False)
    columns = (
        "run",
        "load",
        "CPU s",
        "FPS",
        "FPS/stream",
        "PERF med.",
        "raw FPS",
        "÷ raw",
        "frame lat. p50/p95",
    )
    for column in (*columns, "→Kafka p50/p95 (n)", "raw p50", "p95 ÷ raw p50", "keeps up"):
        table.add_column(column, justify="left" if column == "run" else "right")
    for name, run in report["runs"].items():
        to_kafka = run["frame_to_kafka_ms"]
        table.add_row(
            name,
            f"{run['load_average_1min']:.1f}",
            _cell(run.get("cpu_seconds"), "{:.1f}"),
            f"{run['fps']:.1f}",
            "/".join(f"{v:.1f}" for v in run["fps_per_stream"].values()),
            "/".join(f"{v:.1f}" for v in run["perf_median_per_stream"]),
            f"{run['baseline']['fps']:.1f}",
            _cell(run["ratio_fps_to_raw"], "{:.2f}"),
            _pair(run["frame_latency_ms"]),
            f"{_pair(to_kafka)} ({to_kafka['count']})" if to_kafka else "—",
            f"{run['baseline']['per_frame_p50_ms']:.1f}",
            _cell(run.get("ratio_frame_to_kafka_p95_to_raw_p50"), "{:.1f}"),
            {True: "yes", False: "no"}.get(run.get("keeps_up"), "—"),
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
    for note in report.get("notes", []):
        console.print(f"[dim]note: {note}[/]", soft_wrap=True)
    for goal in report["goals"]:
        mark = "[green]✓ met[/]" if goal["met"] else "[bold red]✗ missed[/]"
        extra = f" [dim]({goal['note']})[/]" if goal.get("note") else ""
        console.print(
            f"{mark}  {goal['name']}: {_cell(goal['value'])} (goal {goal['op']} {goal['limit']}){extra}",
            soft_wrap=True,
        )
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
    report["machine"]["load_average_at_end"] = [round(v, 2) for v in os.getloadavg()]
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
    """Pipeline throughput, latency and accuracy against raw ONNX Runtime and the Python runtime."""
    run_and_write(out, quick=quick)


if __name__ == "__main__":
    main()
