"""Run the traffic app end to end on held-out worlds and score it: ``eval pipeline --run``.

:func:`score_pipeline` scores files a run left behind; this module produces those files the way a
device would: for each seed it renders the world (:func:`~harness.world.write_world`, H.264 as a
camera sends it), plays its video through the component's app (``python3 deepstream_app.py`` from
the artifact folder, as a subprocess in the environment a component process gets on the simulated
device: real GStreamer, ``pyds`` and the nv* elements, exactly as the recipe runs it) into a real
Kafka broker (tansu), and records every message a consumer receives with the receive time. The run
is then scored per seed and over all seeds, so a goal such as "MOTA ≥ 0.80" is judged on more than
one clip.

Why a subprocess and not the pipeline in-process: the artifact is what ships, with its own
configs and model repository, and the app's command line, exit status and shutdown are part of
what is tested. What the run measured comes from what the app leaves behind, as on a Jetson: its
``--stats-json`` (frames, events, the frames that got events — nvmsgconv's minimal schema sends
one message for each), the latency lines DeepStream prints with ``NVDS_ENABLE_LATENCY_MEASUREMENT``
and ``NVDS_ENABLE_COMPONENT_LATENCY_MEASUREMENT`` (decoder input → the probe per frame, and per
element; read back from ``app.log`` by :func:`~fake_device.deepstream.measure.parse_latency_log`),
and the messages. Why a consumer thread that stamps ``time.time_ns()`` at receipt instead of the
broker's record timestamp: the latency that matters is the app's probe (where ``@timestamp`` is
written) → a consumer holding the message; with the frame's decoder → probe latency added it is
frame → Kafka (:meth:`AppRun.frame_to_kafka_ms`).

Everything that is started is stopped again on error and on Ctrl-C: the broker and temporary
folders through context managers, the app (which starts its own tritonserver) in a process group of
its own that is sent SIGTERM (a clean shutdown that also stops Triton), then SIGKILL. The app also
gets ``PR_SET_PDEATHSIG``, so it dies with the harness even when the harness is killed.

:func:`run_app` and :class:`MessageRecorder` are the building blocks; the pipeline benchmark
(``benchmarks/pipeline.py``) uses them for its throughput and latency runs.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from fake_device.deepstream.gst.environment import deepstream_environment
from fake_device.deepstream.measure import (
    ENV_COMPONENT_LATENCY,
    ENV_LATENCY,
    ENV_PRINT_EVERY,
    LatencyLog,
    parse_latency_log,
    summarize,
)
from harness.errors import HarnessError
from harness.eval.pipeline import (
    DEFAULT_MAX_COUNT_ERROR,
    DEFAULT_MIN_MOTA,
    MESSAGE_INTERVAL,
    CountScore,
    Goal,
    LatencyScore,
    Message,
    PipelineScore,
    parse_rfc3339_ns,
    read_messages,
    score_latency,
    score_pipeline,
)
from harness.eval.run import check_held_out
from harness.eval.truth import IGNORE_BELOW_VISIBILITY
from harness.services.base import _child_setup
from harness.services.keeper import keeper

if TYPE_CHECKING:
    from harness.services.kafka import KafkaClient

ROOT = Path(__file__).resolve().parents[2]
#: where the traffic app's component versions live (``<version>/artifact.yaml``)
COMPONENTS_DIR = ROOT / "scenarios" / "traffic" / "components" / "nvds-awsgg-deployment"
APP_SCRIPT = "deepstream_app.py"
#: the nvinferserver config the recipe passes with ``-g nvinferserver -c``
INFER_CONFIG = "config_infer_primary_rtdetr_triton.yml"
#: held-out seeds (not 1000-1999, the detector's training seeds) used when none are given
DEFAULT_SEEDS = "2101-2103"
DEFAULT_SECONDS = 20.0
#: how long to wait after the app exits for the consumer to see every delivered message
MESSAGE_WAIT_S = 15.0
#: SIGTERM first (the app stops Triton cleanly), SIGKILL after this many seconds
TERMINATE_GRACE_S = 20.0
_WORLD_MARKER = "world-params.json"
#: the worlds' videos are H.264, what nvv4l2decoder (and a camera) takes; MPEG-4 part 2 is refused
WORLD_CODEC = "h264"
#: DeepStream's latency printing, every batch: the run's latency figures are read from these lines
LATENCY_ENVIRONMENT = {ENV_LATENCY: "1", ENV_COMPONENT_LATENCY: "1", ENV_PRINT_EVERY: "1"}

#: ``on_step(done, total, description)``: called when a step starts, ``done`` steps finished
StepCallback = Callable[[int, int, str], None]


# -- where the artifact comes from -------------------------------------------------------------


def component_artifact(version: str, components_dir: Path = COMPONENTS_DIR) -> Path:
    """``1.0.1`` → ``…/nvds-awsgg-deployment/1.0.1/artifact.yaml``; a clear error when there is none."""
    spec = components_dir / version / "artifact.yaml"
    if spec.is_file():
        return spec
    known = sorted(p.parent.name for p in components_dir.glob("*/artifact.yaml"))
    raise HarnessError(
        f"component version {version!r} not found: there is no {spec} (looked in {components_dir})",
        hint=("versions there: " + ", ".join(known))
        if known
        else "pass --artifact PATH/artifact.yaml to use another artifact",
    )


# -- Kafka: a consumer that stamps the receive time --------------------------------------------


class MessageRecorder:
    """Consumes ``topic`` in a thread from offset 0; each message is stamped with ``time.time_ns()``.

    Used as a context manager around the app's run: entering starts the consumer (and returns once
    its partitions are assigned, so nothing the app sends can be missed), leaving stops it and writes
    ``path`` as ``{"received_ns": …, "payload": …}`` lines, the format :func:`read_messages` reads.

    ``poll()`` returns as soon as one message is there (``consume(n, timeout)`` would wait for the
    whole batch or the timeout, adding that wait to every latency), and ``fetch.wait.max.ms`` is
    short because a broker may hold a fetch for that long before answering with new data.
    """

    def __init__(self, kafka: KafkaClient, topic: str, path: Path, *, fetch_wait_ms: int = 10) -> None:
        self.kafka = kafka
        self.topic = topic
        self.path = Path(path)
        self.fetch_wait_ms = fetch_wait_ms
        self.records: list[tuple[int, bytes | None]] = []
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def received(self) -> int:
        with self._lock:
            return len(self.records)

    def start(self, timeout: float = 15.0) -> Self:
        partitions = self.kafka.partitions(self.topic, timeout=timeout)
        self._thread = threading.Thread(
            target=self._loop, args=(partitions,), name=f"kafka-recorder-{self.topic}", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(timeout):
            self.stop()
            raise HarnessError(f"kafka: the consumer of {self.topic!r} did not start within {timeout:g} s")
        if self.errors:
            self.stop()
            raise HarnessError(f"kafka: cannot consume {self.topic!r}: {self.errors[0]}")
        return self

    def _loop(self, partitions: list[int]) -> None:
        from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

        try:
            consumer = Consumer(
                {
                    **self.kafka.client_config(),
                    # assign() only: the group never joins or commits, so it never exists
                    "group.id": f"edge-harness-recorder-{uuid.uuid4().hex[:8]}",
                    "enable.auto.commit": False,
                    "enable.auto.offset.store": False,
                    "auto.offset.reset": "earliest",
                    "fetch.wait.max.ms": self.fetch_wait_ms,
                }
            )
        except KafkaException as err:
            self.errors.append(str(err))
            self._ready.set()
            return
        try:
            # explicit offset 0: the topic is new, and OFFSET_BEGINNING resolves lazily (slow on tansu)
            consumer.assign([TopicPartition(self.topic, p, 0) for p in partitions])
            self._ready.set()
            while not self._stop.is_set():
                msg = consumer.poll(0.05)
                if msg is None:
                    continue
                received = time.time_ns()
                err = msg.error()
                if err is None:
                    with self._lock:
                        self.records.append((received, msg.value()))
                elif err.code() != KafkaError._PARTITION_EOF:
                    self.errors.append(str(err))
        finally:
            self._ready.set()
            consumer.close()

    def wait_for(self, count: int, timeout: float) -> int:
        """Wait until ``count`` messages arrived or ``timeout`` passed; returns how many arrived."""
        deadline = time.monotonic() + timeout
        while self.received < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.received

    def stop(self) -> None:
        """Stop the consumer and write the file (safe to call twice)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        self.write()

    def write(self) -> None:
        lines = []
        with self._lock:
            records = list(self.records)
        for received, value in records:
            text = (value or b"").decode("utf-8", errors="replace")
            try:
                payload: Any = json.loads(text)
            except json.JSONDecodeError:
                payload = text  # kept as it came; scoring reports the line
            lines.append(json.dumps({"received_ns": received, "payload": payload}, separators=(",", ":")))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


# -- the app as a subprocess -------------------------------------------------------------------


def expected_messages(stats: dict[str, Any]) -> int:
    """Frames that got events (``event_frames``): nvmsgconv's minimal schema sends one message each.

    An app that does not count them but counts its deliveries (the traffic app's revisions on the
    Python runtime: ``messages.delivered``) is taken at its word.
    """
    if "event_frames" not in stats and isinstance(stats.get("messages"), dict):
        return int(stats["messages"].get("delivered", 0))
    return int(stats.get("event_frames", 0))


@dataclass
class AppRun:
    """One run of ``deepstream_app.py``: what it was asked, what it printed and what Kafka received.

    ``stats`` is the app's ``--stats-json``; ``latency`` the latency lines of its log. The app's
    own ``seconds`` runs from its first frame at the probe until after the pipeline was torn down
    (tritonserver stopped), so :attr:`fps` is taken from the latency lines instead when there are
    any: frames over the time between the first and the last batch at the probe.
    """

    command: list[str]
    returncode: int
    wall_seconds: float
    log_path: Path
    stats_path: Path
    messages_path: Path
    messages_received: int
    stats: dict[str, Any]
    latency: LatencyLog = field(default_factory=LatencyLog)
    notes: list[str] = field(default_factory=list)
    #: the app's process id; the tritonserver it starts names it in its shared-memory prefix
    pid: int | None = None

    @property
    def frames(self) -> int:
        return int(self.stats.get("frames", 0))

    @property
    def streams(self) -> int:
        return max(1, len(self.stats.get("frames_per_source") or {}))

    @property
    def fps(self) -> float:
        """Frames per second at the probe while frames flowed (start-up and shut-down excluded)."""
        measured = self.latency.throughput()
        if measured is not None:
            frames, seconds = measured
            return frames / seconds
        return float(self.stats.get("fps", 0.0))

    @property
    def fps_source(self) -> str:
        return "latency lines" if self.latency.throughput() is not None else "stats"

    @property
    def events(self) -> int:
        return int(self.stats.get("events", 0))

    @property
    def messages_expected(self) -> int:
        return expected_messages(self.stats)

    def frame_to_kafka_ms(self) -> list[float] | None:
        """Per message: the frame's decoder → probe latency + probe → consumer.

        The second part is the receive time − ``@timestamp`` (written in the probe with
        ``generate_ts_rfc3339``, millisecond resolution); the first is the latency line of the
        message's frame (``id`` is the frame number). None with several streams: the minimal
        schema names no source (``sensorId`` is the app's constant), so a frame number is ambiguous.
        Messages whose frame has no latency line are left out.
        """
        if self.streams != 1 or not self.messages_path.is_file():
            return None
        values = []
        for message in read_messages(self.messages_path):
            frame_ms = self.latency.frame_latency(0, message.frame_id)
            if message.received_ns is None or frame_ms is None:
                continue
            try:
                probe_ns = parse_rfc3339_ns(message.timestamp)
            except ValueError:
                continue
            values.append(frame_ms + (message.received_ns - probe_ns) / 1e6)
        return values

    def to_dict(self) -> dict[str, Any]:
        frame_to_kafka = self.frame_to_kafka_ms()
        return {
            "command": self.command,
            "wall_seconds": round(self.wall_seconds, 3),
            "frames": self.frames,
            "fps": round(self.fps, 2),
            "fps_source": self.fps_source,
            "stats_seconds": self.stats.get("seconds"),
            "stats_fps": self.stats.get("fps"),
            "frames_per_source": self.stats.get("frames_per_source"),
            "events": self.events,
            "frame_latency_ms": summarize(self.latency.frame_ms()),
            "elements_ms": {name: summarize(v) for name, v in self.latency.elements_ms().items()},
            "frame_to_kafka_ms": summarize(frame_to_kafka) if frame_to_kafka is not None else None,
            "messages": {"expected": self.messages_expected, "received": self.messages_received},
            "log": str(self.log_path),
            "pid": self.pid,
            "notes": self.notes,
        }


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def terminate_app(proc: subprocess.Popen[bytes], grace: float = TERMINATE_GRACE_S) -> None:
    """SIGTERM to the app's process group (it stops Triton and flushes Kafka), SIGKILL if it lingers."""
    if proc.poll() is None:
        _signal_group(proc, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace)
    _signal_group(proc, signal.SIGKILL)  # anything of the group that is still there
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)


def _tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


@contextlib.contextmanager
def app_process(
    command: Sequence[str], *, cwd: Path, log_path: Path, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Start the app as its own process group, output to ``log_path``; nothing of it outlives the block."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            list(command),
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
            start_new_session=True,
            # PR_SET_PDEATHSIG: the app dies with the harness however it dies (and its
            # tritonserver with the app in turn)
            preexec_fn=_child_setup,
        )
        keeper.watch_group(proc.pid)  # what the app starts in its group goes too
        try:
            yield proc
        finally:
            terminate_app(proc)
            keeper.forget_group(proc.pid)


def input_uri(source: Path | str) -> str:
    """A video file → its ``file://`` URI; a string with a scheme (``rtsp://…``) is kept as it is."""
    if isinstance(source, str) and "://" in source:
        return source
    return Path(source).resolve().as_uri()


def app_command(
    inputs: Sequence[Path | str],
    conn_str: str,
    *,
    infer_config: str = INFER_CONFIG,
    live: bool = False,
    tracks: Path | None = None,
    stats: Path | None = None,
    extra: Sequence[str] = (),
    script: str = APP_SCRIPT,
) -> list[str]:
    """The recipe's command line (``-g nvinferserver -c …``), without display, plus the test options.

    ``python3`` as the recipe says: :func:`~fake_device.deepstream.gst.environment.deepstream_environment`
    puts the interpreter that carries ``pyds`` first on PATH, as a Jetson's system Python carries it.
    """
    command = ["python3", script, "-g", "nvinferserver", "-c", infer_config]
    for source in inputs:
        command += ["-i", input_uri(source)]
    command += [f"--conn-str={conn_str}", "-d", "no-display"]
    if live:
        command.append("--live")
    if tracks is not None:
        command += ["--track-output", str(tracks)]
    if stats is not None:
        command += ["--stats-json", str(stats)]
    return [*command, *extra]


def _wait(proc: subprocess.Popen[bytes], timeout: float, stop_when: Callable[[], bool] | None) -> int:
    """The app's exit status; with ``stop_when``, SIGTERM to its group once that says so."""
    if stop_when is None:
        return proc.wait(timeout=timeout)
    deadline = time.monotonic() + timeout
    while proc.poll() is None:
        if stop_when():
            _signal_group(proc, signal.SIGTERM)
            return proc.wait(timeout=max(1.0, min(TERMINATE_GRACE_S, deadline - time.monotonic())))
        if time.monotonic() > deadline:
            raise subprocess.TimeoutExpired(proc.args, timeout)
        time.sleep(0.2)
    return proc.returncode


def default_app_timeout(seconds: float, streams: int = 1) -> float:
    """Generous: start-up (Triton) plus ten times real time per stream on a slow shared machine."""
    return 120.0 + 10.0 * seconds * max(1, streams)


def run_app(
    folder: Path,
    inputs: Sequence[Path | str],
    kafka: KafkaClient,
    run_dir: Path,
    *,
    infer_config: str = INFER_CONFIG,
    live: bool = False,
    tracks: bool = True,
    timeout: float = 600.0,
    env: dict[str, str] | None = None,
    extra: Sequence[str] = (),
    script: str = APP_SCRIPT,
    stop_when: Callable[[], bool] | None = None,
) -> AppRun:
    """Play ``inputs`` (video files, or URIs such as ``rtsp://…``) through the app in ``folder`` into
    a fresh topic; record what Kafka delivers.

    The app runs in the DeepStream environment with latency printing on (``LATENCY_ENVIRONMENT``;
    ``env`` is applied after it). A live source never ends on its own: ``stop_when`` is then asked
    every 0.2 s while the app runs, and once it says so the app gets SIGTERM — it drains its
    pipeline with an end-of-stream and must exit 0, as at the end of a file. Leaves ``app.log``,
    ``stats.json``, ``messages.jsonl`` and (``tracks``, one stream only) ``tracks.txt`` in
    ``run_dir``. Raises :class:`HarnessError` (with the log's tail) when the app fails or times out;
    the app is stopped in every case.
    """
    if tracks and len(inputs) != 1:
        raise HarnessError("tracks.txt holds one stream: run several streams with tracks=False")
    if not (folder / script).is_file():
        raise HarnessError(f"{folder} has no {script}: not the traffic app's artifact")
    run_dir.mkdir(parents=True, exist_ok=True)
    paths = {name: run_dir / name for name in ("app.log", "stats.json", "messages.jsonl", "tracks.txt")}
    for path in paths.values():
        path.unlink(missing_ok=True)
    topic = f"pipeline-run-{uuid.uuid4().hex[:10]}"
    kafka.create_topic(topic)
    host, port = kafka.bootstrap_servers.split(",")[0].rsplit(":", 1)
    command = app_command(
        inputs,
        f"{host};{port};{topic}",
        infer_config=infer_config,
        live=live,
        tracks=paths["tracks.txt"] if tracks else None,
        stats=paths["stats.json"],
        extra=extra,
        script=script,
    )
    notes: list[str] = []
    environment = deepstream_environment({**os.environ, **LATENCY_ENVIRONMENT, **(env or {})})
    try:
        with MessageRecorder(kafka, topic, paths["messages.jsonl"]) as recorder:
            started = time.monotonic()
            with app_process(command, cwd=folder, log_path=paths["app.log"], env=environment) as proc:
                pid = proc.pid
                try:
                    returncode = _wait(proc, timeout, stop_when)
                except subprocess.TimeoutExpired:
                    raise HarnessError(
                        f"the app did not finish within {timeout:g} s (stopped); "
                        f"its log: {paths['app.log']}\n" + _tail(paths["app.log"]),
                    ) from None
            wall = time.monotonic() - started
            if returncode != 0:
                raise HarnessError(
                    f"the app exited with status {returncode}; its log: {paths['app.log']}\n"
                    + _tail(paths["app.log"]),
                    hint="run the command in the log's first line from the artifact folder to see it live",
                )
            try:
                stats = json.loads(paths["stats.json"].read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as err:
                raise HarnessError(f"the app left no readable {paths['stats.json']}: {err}") from None
            expected = expected_messages(stats)
            received = recorder.wait_for(expected, MESSAGE_WAIT_S)
            if received < expected:
                notes.append(
                    f"the consumer received {received} of the {expected} messages expected (one per "
                    f"frame with events) within {MESSAGE_WAIT_S:g} s"
                )
            if recorder.errors:
                notes.append(f"consumer errors: {'; '.join(recorder.errors[:3])}")
    finally:
        with contextlib.suppress(Exception):
            kafka.delete_topic(topic)
    received = recorder.received  # also what came after the wait, up to the consumer's stop
    if received > expected:
        notes.append(f"the consumer received {received} messages, {expected} expected (redeliveries?)")
    with paths["app.log"].open(encoding="utf-8", errors="replace") as log:
        latency = parse_latency_log(log)
    if not latency.frames:
        notes.append(f"no latency lines in {paths['app.log']}: latency figures and the probe FPS are missing")
    return AppRun(
        command=command,
        returncode=returncode,
        wall_seconds=wall,
        log_path=paths["app.log"],
        stats_path=paths["stats.json"],
        messages_path=paths["messages.jsonl"],
        messages_received=received,
        stats=stats,
        latency=latency,
        notes=notes,
        pid=pid,
    )


# -- worlds ------------------------------------------------------------------------------------


def world_for(seed: int, seconds: float, directory: Path) -> Path:
    """Render the seed's world into ``directory``, or reuse it when the same world is already there.

    Rendering is deterministic, so a world made with the same seed, length and generator is the
    same world; the benchmark scores two models on one set of worlds this way.
    """
    from harness.world import GENERATOR_VERSION, WorldParams, write_world

    wanted = {"seed": seed, "seconds": seconds, "generator_version": GENERATOR_VERSION, "codec": WORLD_CODEC}
    marker = directory / _WORLD_MARKER
    files = ("video.mp4", "gt.txt", "truth.json")
    with contextlib.suppress(OSError, json.JSONDecodeError):
        if json.loads(marker.read_text()) == wanted and all((directory / f).is_file() for f in files):
            return directory
    marker.unlink(missing_ok=True)
    write_world(WorldParams(seed=seed, seconds=seconds), directory, codec=WORLD_CODEC)
    marker.write_text(json.dumps(wanted) + "\n")
    return directory


# -- results -----------------------------------------------------------------------------------


@dataclass
class SeedRun:
    """One seed: its world, the app's run and the score."""

    seed: int
    world_dir: Path
    run_dir: Path
    app: AppRun
    score: PipelineScore

    def to_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "world": str(self.world_dir),
            "run_dir": str(self.run_dir),
            "app": self.app.to_dict(),
            "score": self.score.to_dict(),
        }


@dataclass(frozen=True)
class CountTotal:
    """A counting source over all seeds: counts summed, then one relative error."""

    source: str
    predicted: int
    truth: int

    @property
    def error(self) -> float:
        if self.truth == 0:
            return 0.0 if self.predicted == 0 else math.inf
        return abs(self.predicted - self.truth) / self.truth

    def to_dict(self) -> dict[str, Any]:
        error = self.error
        return {
            "source": self.source,
            "predicted": self.predicted,
            "truth": self.truth,
            "error": None if math.isinf(error) else round(error, 4),
        }


@dataclass
class AggregateScore:
    """The seeds taken together, as if they were one long clip.

    MOTA = 1 − (FP + FN + IDSW) / GT rows with every term summed over the seeds; IDF1 = 2·IDTP /
    (GT rows + predictions), IDTP recovered per seed as IDR × GT rows. Averaging per-seed MOTA
    instead would weigh a quiet clip like a busy one.
    """

    seeds: int
    frames: int
    gt_rows: int
    predictions: int
    false_positives: int
    misses: int
    id_switches: int
    mota: float
    idf1: float
    counts: list[CountTotal]
    latency: LatencyScore | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "seeds": self.seeds,
            "frames": self.frames,
            "gt_rows": self.gt_rows,
            "predictions": self.predictions,
            "false_positives": self.false_positives,
            "misses": self.misses,
            "id_switches": self.id_switches,
            "mota": None if math.isnan(self.mota) else round(self.mota, 4),
            "idf1": None if math.isnan(self.idf1) else round(self.idf1, 4),
            "counting": {c.source: c.to_dict() for c in self.counts},
            "latency": self.latency.to_dict() if self.latency else None,
        }


def _dedupe(messages: Sequence[Message]) -> list[Message]:
    """One message per frame (Kafka may redeliver; the later receive time is the consumer's)."""
    first: dict[int, Message] = {}
    for message in messages:
        first.setdefault(message.frame_id, message)
    return list(first.values())


def aggregate(runs: Sequence[SeedRun]) -> AggregateScore:
    """Sum the per-seed figures (see :class:`AggregateScore`)."""
    gt_rows = predictions = fp = fn = idsw = frames = 0
    idtp = 0.0
    totals: dict[str, list[int]] = {}
    latencies: list[Message] = []
    for run in runs:
        score = run.score
        frames += score.frames
        t = score.tracking
        if t is not None:
            gt_rows += t.gt_rows
            predictions += t.predictions
            fp += t.false_positives
            fn += t.misses
            idsw += t.id_switches
            if t.gt_rows and not math.isnan(t.idr):
                idtp += t.idr * t.gt_rows
        count: CountScore | None
        for count in (score.count_tracks, score.count_messages):
            if count is not None:
                total = totals.setdefault(count.source, [0, 0])
                total[0] += count.predicted
                total[1] += count.truth
        if score.messages_file is not None and score.messages_file.is_file():
            latencies += _dedupe(read_messages(score.messages_file))
    mota = 1.0 - (fp + fn + idsw) / gt_rows if gt_rows else math.nan
    idf1 = 2.0 * idtp / (gt_rows + predictions) if gt_rows + predictions else math.nan
    return AggregateScore(
        seeds=len(runs),
        frames=frames,
        gt_rows=gt_rows,
        predictions=predictions,
        false_positives=fp,
        misses=fn,
        id_switches=idsw,
        mota=mota,
        idf1=idf1,
        counts=[CountTotal(source, p, t) for source, (p, t) in totals.items()],
        latency=score_latency(latencies) if latencies else None,
    )


@dataclass
class PipelineRunResult:
    """What :func:`run_pipeline_eval` did and measured (``to_dict`` is the ``--json`` document).

    ``passed`` is judged on the aggregate over all seeds; each seed's own goals are in its score.
    """

    artifact: Path
    component_version: str | None
    seeds: list[int]
    seconds: float
    out_dir: Path | None  # None: a temporary folder, removed at the end
    runs: list[SeedRun]
    aggregate: AggregateScore
    goals: list[Goal]
    wall_seconds: float
    class_aware: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(g.met for g in self.goals)

    @property
    def missed(self) -> list[Goal]:
        return [g for g in self.goals if not g.met]

    def to_dict(self) -> dict[str, Any]:
        def goal(g: Goal) -> dict[str, Any]:
            value = g.value
            shown = None if value is None or math.isnan(value) or math.isinf(value) else round(value, 4)
            return {"name": g.name, "value": shown, "op": g.op, "limit": g.limit, "met": g.met}

        return {
            "artifact": str(self.artifact),
            "component_version": self.component_version,
            "seeds": self.seeds,
            "seconds": self.seconds,
            "class_aware": self.class_aware,
            "files_kept": self.out_dir is not None,
            "out_dir": str(self.out_dir) if self.out_dir is not None else None,
            "wall_seconds": round(self.wall_seconds, 1),
            "runs": [run.to_dict() for run in self.runs],
            "aggregate": self.aggregate.to_dict(),
            "goals": [goal(g) for g in self.goals],
            "passed": self.passed,
            "notes": self.notes,
        }


def _goals(agg: AggregateScore, min_mota: float, max_count_error: float) -> list[Goal]:
    goals = [Goal("MOTA", agg.mota, ">=", min_mota, math.isfinite(agg.mota) and agg.mota >= min_mota)]
    for count in agg.counts:
        goals.append(
            Goal(
                f"count error ({count.source})",
                count.error,
                "<=",
                max_count_error,
                count.error <= max_count_error,
            )
        )
    return goals


# -- the whole run -----------------------------------------------------------------------------


def _check_args(seeds: Sequence[int], seconds: float, allow_training_seeds: bool) -> None:
    if not seeds:
        raise HarnessError("no seeds to run", hint=f"e.g. --seeds {DEFAULT_SEEDS}")
    if not math.isfinite(seconds) or seconds <= 0:
        raise HarnessError(f"--seconds must be a positive number, got {seconds}")
    if not allow_training_seeds:
        check_held_out(seeds)


def resolve_artifact(artifact: str | Path | None, component_version: str | None) -> Path:
    """Exactly one of an artifact spec and a component version → the spec's path."""
    if (artifact is None) == (component_version is None):
        raise HarnessError("give either an artifact spec or a component version (one of them)")
    if component_version is not None:
        return component_artifact(component_version)
    spec = Path(artifact)  # type: ignore[arg-type]
    if spec.is_dir():
        spec = spec / "artifact.yaml"
    if not spec.is_file():
        raise HarnessError(f"artifact spec {spec} does not exist")
    return spec


def run_pipeline_eval(
    artifact: str | Path | None = None,
    *,
    component_version: str | None = None,
    seeds: Sequence[int] = (2101, 2102, 2103),
    seconds: float = DEFAULT_SECONDS,
    out_dir: str | Path | None = None,
    worlds_dir: str | Path | None = None,
    min_mota: float = DEFAULT_MIN_MOTA,
    max_count_error: float = DEFAULT_MAX_COUNT_ERROR,
    min_visibility: float = IGNORE_BELOW_VISIBILITY,
    class_aware: bool = False,
    allow_training_seeds: bool = False,
    kafka: KafkaClient | None = None,
    app_timeout: float | None = None,
    on_step: StepCallback | None = None,
) -> PipelineRunResult:
    """Build the artifact, then per seed: render the world, run the app, score; then aggregate.

    ``artifact`` is an ``artifact.yaml`` (or its folder); ``component_version`` names one of the
    traffic app's versions instead (``1.0.1``: detector B). ``out_dir`` keeps every file (the
    built app, worlds, ``tracks.txt``, ``messages.jsonl``, ``stats.json``, ``app.log`` per seed);
    without it they go to a temporary folder that is removed. ``worlds_dir`` shares rendered
    worlds between calls. ``kafka`` is a running broker to use; without it a tansu broker is
    started for the run and stopped at the end. Arguments are checked (held-out seeds, the
    artifact) before anything is started.
    """
    from harness.package import build_artifact, load_artifact_spec

    seeds = list(seeds)
    _check_args(seeds, seconds, allow_training_seeds)
    spec_path = resolve_artifact(artifact, component_version)
    spec = load_artifact_spec(spec_path)
    timeout = app_timeout if app_timeout is not None else default_app_timeout(seconds)
    total_steps = 1 + 3 * len(seeds)
    done = 0

    def step(description: str) -> None:
        nonlocal done
        if on_step is not None:
            on_step(done, total_steps, description)
        done += 1

    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        if out_dir is None:
            base = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="edge-harness-pipeline-run-")))
        else:
            base = Path(out_dir)
            base.mkdir(parents=True, exist_ok=True)
        worlds = Path(worlds_dir) if worlds_dir is not None else base / "worlds"
        step(f"building {spec_path}")
        folder = build_artifact(spec, base / "artifact")
        for needed in (APP_SCRIPT, INFER_CONFIG):
            if not (folder / needed).is_file():
                raise HarnessError(
                    f"the artifact of {spec_path} has no {needed}: not the traffic app",
                    hint=f"built into {folder}",
                )
        if kafka is None:
            from harness.services.kafka import KafkaBroker

            kafka = stack.enter_context(KafkaBroker())
        runs: list[SeedRun] = []
        for seed in seeds:
            step(f"seed {seed}: rendering {seconds:g} s of world")
            world = world_for(seed, seconds, worlds / f"seed-{seed}")
            step(f"seed {seed}: running the app")
            run_dir = base / "runs" / f"seed-{seed}"
            app = run_app(folder, [world / "video.mp4"], kafka, run_dir, timeout=timeout)
            step(f"seed {seed}: scoring")
            score = score_pipeline(
                world,
                tracks=run_dir / "tracks.txt",
                messages=run_dir / "messages.jsonl",
                min_visibility=min_visibility,
                class_aware=class_aware,
                message_interval=MESSAGE_INTERVAL,
                min_mota=min_mota,
                max_count_error=max_count_error,
                allow_training_seeds=allow_training_seeds,
            )
            score.notes.extend(app.notes)
            (run_dir / "score.json").write_text(json.dumps(score.to_dict(), indent=2) + "\n")
            runs.append(SeedRun(seed, world, run_dir, app, score))
        agg = aggregate(runs)
        if on_step is not None:
            on_step(total_steps, total_steps, "done")
        result = PipelineRunResult(
            artifact=spec_path,
            component_version=component_version,
            seeds=seeds,
            seconds=seconds,
            out_dir=base if out_dir is not None else None,
            runs=runs,
            aggregate=agg,
            goals=_goals(agg, min_mota, max_count_error),
            wall_seconds=time.monotonic() - started,
            class_aware=class_aware,
        )
    return result


def copy_with_grpc_backend(config: Path, url: str, out: Path) -> Path:
    """A copy of an nvinferserver config whose backend is ``triton { grpc { url } }``.

    The ``model_repo { … }`` block is replaced; everything else (model name, pre- and
    post-processing) stays, so the same element talks to an already running Triton over plain
    gRPC (no shared memory) instead of starting one. The copy is parsed back to be sure.
    """
    from fake_device.deepstream.inferserver_config import load_inferserver_config

    text = config.read_text(encoding="utf-8")
    replaced, count = re.subn(r"model_repo\s*\{[^{}]*\}", f'grpc {{ url: "{url}" }}', text)
    if count != 1:
        raise HarnessError(f"{config}: expected one model_repo {{ … }} block to replace, found {count}")
    out.write_text(replaced, encoding="utf-8")
    parsed = load_inferserver_config(out)
    if parsed.backend.grpc_url != url:
        raise HarnessError(f"{out}: the gRPC backend did not parse back (got {parsed.backend.grpc_url!r})")
    return out
