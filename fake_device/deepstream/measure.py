"""Latency and throughput measurement, printed the way DeepStream prints it.

DeepStream switches latency measurement on with environment variables and prints from a probe on
the last element (src/utils/nvdsmeta/nvds_latency_meta.cpp ``nvds_measure_buffer_latency`` and
the probes of deepstream-app / the sample apps):

* ``NVDS_ENABLE_LATENCY_MEASUREMENT=1`` — per batch ``************BATCH-NUM = N**************``
  then, per frame, ``Source id = S Frame_num = F Frame latency = X (ms)``: from the frame's
  decoder input to the moment the batch reaches the probe;
* ``NVDS_ENABLE_COMPONENT_LATENCY_MEASUREMENT=1`` (also needs the first) — per element and batch
  ``Comp name = NAME in_system_timestamp = T out_system_timestamp = T component latency= X``,
  timestamps in milliseconds of the system clock. The muxer's line has its own shape with
  ``source_id``, ``pad_index`` and ``frame_num``.

DeepStream's source breaks those two ``Comp name`` lines with a backslash inside the string, so
its real output contains runs of spaces; here single spaces are printed. Parse with ``\\s+``.

DeepStream prints those lines for every batch: one line per element and frame, hundreds a second
at 30 fps, which a Greengrass component log then carries. ``EDGE_HARNESS_LATENCY_PRINT_EVERY=N``
(an emulation knob, not a DeepStream variable; default 1 = every batch, as DeepStream) prints the
lines of every N-th batch only, so a long scenario's component log stays small; measurement
itself still covers every batch.

``**PERF:`` lines come in two styles. ``deepstream-app`` follows its ``perf_cb``: every
``interval`` seconds one ``**PERF: cur (avg)\\t`` per source, a ``**PERF: FPS i (Avg)`` header
every 20 lines. ``python`` follows deepstream_python_apps' ``common/FPS.py`` (``PERF_DATA``,
which the seed's app uses): ``print("\\n**PERF: ", {'stream0': fps, ...}, "\\n")``.

Measurement is independent of printing: :class:`LatencyRecorder` keeps every frame's figures for
benchmarks and reports, whether or not anything is printed.
"""

from __future__ import annotations

import os
import re
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fake_device.deepstream.meta import BatchMeta

ENV_LATENCY = "NVDS_ENABLE_LATENCY_MEASUREMENT"
ENV_COMPONENT_LATENCY = "NVDS_ENABLE_COMPONENT_LATENCY_MEASUREMENT"
#: print the latency lines of every N-th batch only (the emulation's, see the module docstring)
ENV_PRINT_EVERY = "EDGE_HARNESS_LATENCY_PRINT_EVERY"
#: deepstream-app's default perf-measurement-interval-sec
DEFAULT_PERF_INTERVAL_S = 5.0
_PERF_HEADER_EVERY = 20
PERF_STYLES = ("deepstream-app", "python")

Printer = Callable[[str], None]


def _stdout(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def env_flag(environ: Mapping[str, str], name: str) -> bool:
    """DeepStream tests these variables with ``g_getenv`` and ``atoi``: any non-zero number is on."""
    value = environ.get(name, "").strip()
    try:
        return int(value) != 0
    except ValueError:
        return False


def print_every(environ: Mapping[str, str]) -> int:
    """``EDGE_HARNESS_LATENCY_PRINT_EVERY`` as a batch count ≥ 1 (1 when unset or not a number)."""
    try:
        return max(1, int(environ.get(ENV_PRINT_EVERY, "1").strip() or 1))
    except ValueError:
        return 1


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) with linear interpolation, as numpy's default does."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def summarize(values: Sequence[float]) -> dict[str, float]:
    """count, mean, p50, p95, p99 and max of a list of milliseconds."""
    if not values:
        return {"count": 0}
    return {
        "count": len(values),
        "mean": round(statistics.fmean(values), 3),
        "p50": round(percentile(values, 50), 3),
        "p95": round(percentile(values, 95), 3),
        "p99": round(percentile(values, 99), 3),
        "max": round(max(values), 3),
    }


#: a ``Comp name`` line, the muxer's (``component_latency =``) or any other element's
#: (``component latency=``), with DeepStream's runs of spaces; anything may come before it (a log
#: line's timestamp and logger) and after it (the nucleus log's ``. {context}``)
_COMPONENT_LINE = re.compile(
    r"Comp name\s*=\s*(\S+)\s.*?component[ _]latency\s*=\s*(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)"
)


def parse_component_latency(lines: Iterable[str]) -> dict[str, list[float]]:
    """Per-element latencies (ms) from ``Comp name = …`` lines, elements in the order they first
    appear (pipeline order: DeepStream prints a batch's elements from source to sink).

    Reads what :class:`LatencyRecorder` prints and what DeepStream itself prints (runs of spaces),
    also inside other text such as a Greengrass component log line.
    """
    out: dict[str, list[float]] = {}
    for line in lines:
        match = _COMPONENT_LINE.search(line)
        if match is not None:
            out.setdefault(match.group(1), []).append(float(match.group(2)))
    return out


_NUMBER = r"(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)"
_BATCH_LINE = re.compile(r"BATCH-NUM\s*=\s*(\d+)")
_FRAME_LINE = re.compile(r"Source id\s*=\s*(\d+)\s+Frame_num\s*=\s*(\d+)\s+Frame latency\s*=\s*" + _NUMBER)
#: a ``Comp name`` line with its two system timestamps (both line shapes, as _COMPONENT_LINE)
_COMPONENT_TIMES = re.compile(
    r"Comp name\s*=\s*(\S+)\s.*?in_system_timestamp\s*=\s*" + _NUMBER
    + r"\s+out_system_timestamp\s*=\s*" + _NUMBER
    + r"\s+component[ _]latency\s*=\s*" + _NUMBER
)  # fmt: skip


@dataclass(frozen=True)
class FrameLatency:
    """One ``Source id = S Frame_num = F Frame latency = X (ms)`` line; ``batch`` is the
    ``BATCH-NUM`` printed before it (None when the log has none)."""

    source_id: int
    frame_num: int
    latency_ms: float
    batch: int | None = None


@dataclass(frozen=True)
class ComponentLatency:
    """One ``Comp name = …`` line: the element, its system timestamps (ms) and latency (ms)."""

    name: str
    in_ms: float
    out_ms: float
    latency_ms: float
    batch: int | None = None


@dataclass
class LatencyLog:
    """What an app's stdout says about latency: every frame line and component line, in order.

    Read back from a log because a DeepStream app prints these figures and keeps nothing
    (``pyds.nvds_measure_buffer_latency`` returns only the number of frames), so the log is the
    one place a harness finds them — on a Jetson as here.
    """

    frames: list[FrameLatency] = field(default_factory=list)
    components: list[ComponentLatency] = field(default_factory=list)

    def frame_ms(self) -> list[float]:
        return [f.latency_ms for f in self.frames]

    def elements_ms(self) -> dict[str, list[float]]:
        """Per element latencies (ms), elements in the order they first appear."""
        out: dict[str, list[float]] = {}
        for comp in self.components:
            out.setdefault(comp.name, []).append(comp.latency_ms)
        return out

    def summary(self) -> dict[str, Any]:
        """The shape of :meth:`LatencyRecorder.summary`, from the printed lines."""
        return {
            "batches": len({f.batch for f in self.frames if f.batch is not None}),
            "frame_latency_ms": summarize(self.frame_ms()),
            "elements_ms": {name: summarize(values) for name, values in self.elements_ms().items()},
        }

    def frame_latency(self, source_id: int, frame_num: int) -> float | None:
        """The latency printed for that frame (the first, if a looping source repeats numbers)."""
        for frame in self.frames:
            if frame.source_id == source_id and frame.frame_num == frame_num:
                return frame.latency_ms
        return None

    def throughput(self) -> tuple[int, float] | None:
        """``(frames, seconds)`` between the first and the last printed batch at the measuring point.

        A batch reaches the measuring point when its last component hands it on, so its time there
        is the latest ``out_system_timestamp`` among its lines; the frames counted are those of the
        batches after the first. Unlike a clock started before and read after a run, this excludes
        the pipeline's start-up and shut-down. None without component lines for at least two
        batches, or when batches are missing in between (``EDGE_HARNESS_LATENCY_PRINT_EVERY`` > 1):
        then the frame count between them is not known.
        """
        arrival: dict[int, float] = {}
        for comp in self.components:
            if comp.batch is not None:
                arrival[comp.batch] = max(arrival.get(comp.batch, comp.out_ms), comp.out_ms)
        frames_in: dict[int, int] = {}
        for frame in self.frames:
            if frame.batch is not None:
                frames_in[frame.batch] = frames_in.get(frame.batch, 0) + 1
        batches = sorted(b for b in arrival if b in frames_in)
        if len(batches) < 2 or batches[-1] - batches[0] != len(batches) - 1:
            return None
        seconds = (arrival[batches[-1]] - arrival[batches[0]]) / 1000.0
        frames = sum(frames_in[b] for b in batches[1:])
        return (frames, seconds) if seconds > 0 else None


def parse_latency_log(lines: Iterable[str]) -> LatencyLog:
    """Frame and component lines of a log (DeepStream's or :class:`LatencyRecorder`'s), with the
    batch number each follows; other lines (``**PERF``, the app's own output) are skipped."""
    log = LatencyLog()
    batch: int | None = None
    for line in lines:
        if "BATCH-NUM" in line and (match := _BATCH_LINE.search(line)):
            batch = int(match.group(1))
        elif "Frame latency" in line and (match := _FRAME_LINE.search(line)):
            source, num, value = match.groups()
            log.frames.append(FrameLatency(int(source), int(num), float(value), batch))
        elif "Comp name" in line and (match := _COMPONENT_TIMES.search(line)):
            name, t_in, t_out, value = match.groups()
            log.components.append(ComponentLatency(name, float(t_in), float(t_out), float(value), batch))
    return log


def parse_frame_latency(lines: Iterable[str]) -> list[FrameLatency]:
    """The ``Frame latency`` lines of a log (see :func:`parse_latency_log`)."""
    return parse_latency_log(lines).frames


@dataclass
class LatencyRecorder:
    """Frame and per-element latencies of every batch that reached the measuring point.

    Latency marks are ``(element, in, out)`` in seconds of ``time.monotonic()`` (see
    :class:`~.meta.FrameMeta`); printed timestamps are converted to milliseconds of the system
    clock, as DeepStream prints them. ``print_frames`` / ``print_components`` follow the two
    environment variables (:meth:`from_environment`).
    """

    print_frames: bool = False
    print_components: bool = False
    printer: Printer = _stdout
    print_every: int = 1  # print the lines of batch 0, N, 2N, … (measure all of them)
    frame_ms: list[float] = field(default_factory=list)
    element_ms: dict[str, list[float]] = field(default_factory=dict)
    batches: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    # offset from time.monotonic() to the system clock in ms, fixed once so that printed
    # timestamps are consistent with each other
    _clock_offset_ms: float = field(default_factory=lambda: time.time() * 1000.0 - time.monotonic() * 1000.0)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None, **kwargs: Any) -> LatencyRecorder:
        env = os.environ if environ is None else environ
        frames = env_flag(env, ENV_LATENCY)
        # nvds_get_enable_per_component_latency_measurement: only meaningful with the first one
        components = frames and env_flag(env, ENV_COMPONENT_LATENCY)
        kwargs.setdefault("print_every", print_every(env))
        return cls(print_frames=frames, print_components=components, **kwargs)

    def _system_ms(self, monotonic_s: float) -> float:
        return monotonic_s * 1000.0 + self._clock_offset_ms

    def measure(self, batch: BatchMeta, out_time: float | None = None) -> list[float]:
        """Record (and print if enabled) one batch at the measuring point; returns frame latencies (ms)."""
        out = time.monotonic() if out_time is None else out_time
        lines: list[str] = []
        latencies: list[float] = []
        with self._lock:
            batch_num = self.batches
            self.batches += 1
            printed = batch_num % max(1, self.print_every) == 0
            print_frames = self.print_frames and printed
            print_components = self.print_components and printed
            if print_frames:
                lines.append(f"\n************BATCH-NUM = {batch_num}**************\n")
            seen: set[tuple[str, float, float]] = set()
            for frame in batch.frames:
                if not frame.latency:
                    continue
                start = frame.latency[0][1]
                latency = (out - start) * 1000.0
                latencies.append(latency)
                self.frame_ms.append(latency)
                for mark in frame.latency:
                    name, t_in, t_out = mark
                    if mark in seen:
                        # a batched element leaves the same mark on each of its frames; DeepStream
                        # keeps one NvDsMetaCompLatency per element and batch
                        continue
                    seen.add(mark)
                    comp_ms = (t_out - t_in) * 1000.0
                    self.element_ms.setdefault(name, []).append(comp_ms)
                    if print_components:
                        lines.append(
                            self._component_line(name, frame.source_id, frame.frame_num, t_in, t_out)
                        )
            if print_frames:
                for frame, latency in zip((f for f in batch.frames if f.latency), latencies, strict=True):
                    lines.append(
                        f"Source id = {frame.source_id} Frame_num = {frame.frame_num} "
                        f"Frame latency = {latency:f} (ms) \n"
                    )
        if lines:
            self.printer("".join(lines))
        return latencies

    def _component_line(self, name: str, source_id: int, frame_num: int, t_in: float, t_out: float) -> str:
        t_in_ms, t_out_ms = self._system_ms(t_in), self._system_ms(t_out)
        comp = t_out_ms - t_in_ms
        if name.startswith("nvstreammux-") or name == "stream-muxer":
            return (
                f"Comp name = {name} source_id = {source_id} pad_index = {source_id} "
                f"frame_num = {frame_num} in_system_timestamp = {t_in_ms:f} "
                f"out_system_timestamp = {t_out_ms:f} component_latency = {comp:f}\n"
            )
        return (
            f"Comp name = {name} in_system_timestamp = {t_in_ms:f} "
            f"out_system_timestamp = {t_out_ms:f} component latency= {comp:f}\n"
        )

    def summary(self) -> dict[str, Any]:
        """Frame latency and per-element latency statistics (ms)."""
        with self._lock:
            return {
                "batches": self.batches,
                "frame_latency_ms": summarize(self.frame_ms),
                "elements_ms": {name: summarize(values) for name, values in self.element_ms.items()},
            }


@dataclass
class _SourceRate:
    frames_total: int = 0
    frames_interval: int = 0
    first_time: float | None = None


class PerfMeter:
    """deepstream-app's ``**PERF:`` lines: current and average FPS per source.

    :meth:`tick` is called for each frame leaving the pipeline; every ``interval`` seconds
    (checked on each tick and by :meth:`poll`) one line is printed. ``enabled=False`` still counts
    (for :meth:`summary`) but prints nothing.
    """

    def __init__(
        self,
        num_sources: int,
        *,
        interval: float = DEFAULT_PERF_INTERVAL_S,
        enabled: bool = True,
        style: str = "deepstream-app",
        printer: Printer = _stdout,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if style not in PERF_STYLES:
            raise ValueError(f"perf style must be one of {', '.join(PERF_STYLES)}, not {style!r}")
        if interval <= 0:
            raise ValueError(f"perf interval must be positive, not {interval}")
        self.interval = interval
        self.enabled = enabled
        self.style = style
        self._printer = printer
        self._clock = clock
        self._sources = [_SourceRate() for _ in range(max(1, num_sources))]
        self._lock = threading.Lock()
        self._started = clock()
        self._last = self._started
        self._lines = 0
        self.history: list[tuple[float, list[float]]] = []  # (seconds since start, fps per source)

    def tick(self, source_id: int, count: int = 1) -> None:
        with self._lock:
            while source_id >= len(self._sources):
                self._sources.append(_SourceRate())
            rate = self._sources[source_id]
            if rate.first_time is None:
                rate.first_time = self._clock()
            rate.frames_total += count
            rate.frames_interval += count
        self.poll()

    def poll(self, *, force: bool = False) -> None:
        """Print a line if the interval has passed (or ``force``, e.g. at end of stream)."""
        with self._lock:
            now = self._clock()
            elapsed = now - self._last
            if elapsed < self.interval and not (force and elapsed > 0):
                return
            self._last = now
            current, average = [], []
            for rate in self._sources:
                current.append(rate.frames_interval / elapsed if elapsed > 0 else 0.0)
                since = now - rate.first_time if rate.first_time is not None else 0.0
                average.append(rate.frames_total / since if since > 0 else 0.0)
                rate.frames_interval = 0
            self.history.append((now - self._started, current))
            if self.style == "python":
                fps = {f"stream{i}": round(c, 2) for i, c in enumerate(current)}
                text = f"\n**PERF:  {fps} \n\n"
            else:
                text = self._app_line(current, average)
        if self.enabled:
            self._printer(text)

    def _app_line(self, current: list[float], average: list[float]) -> str:
        text = ""
        if self._lines % _PERF_HEADER_EVERY == 0:
            # perf_cb: g_print ("\n**PERF:  ") — two spaces, in the header and in every line
            text += "\n**PERF:  " + "".join(f"FPS {i} (Avg)\t" for i in range(len(current))) + "\n"
        self._lines += 1
        text += "**PERF:  " + "".join(f"{c:.2f} ({a:.2f})\t" for c, a in zip(current, average, strict=True))
        text += "\n"
        return text

    def summary(self) -> dict[str, Any]:
        with self._lock:
            now = self._clock()
            out = []
            for rate in self._sources:
                since = now - rate.first_time if rate.first_time is not None else 0.0
                out.append(
                    {
                        "frames": rate.frames_total,
                        "fps": round(rate.frames_total / since, 3) if since else 0.0,
                    }
                )
            return {
                "sources": out,
                "history": [(round(t, 3), [round(f, 3) for f in fps]) for t, fps in self.history],
            }
