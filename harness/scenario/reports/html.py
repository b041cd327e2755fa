"""The HTML report: one self-contained file a person opens to see what a run did and why it failed.

Self-contained on purpose: a CI artifact is downloaded and opened from disk, often offline, and
a report that fetched scripts or fonts would break (or leak) there. So the CSS is inline, charts
are inline SVG drawn by matplotlib and frames are base64 ``data:`` URIs; nothing is referenced by
URL. The SVGs are vector (sharp at any zoom, searchable text) and need no JavaScript.

Charts are drawn with matplotlib's object-oriented API on Agg canvases (``Figure`` +
``FigureCanvasAgg``, saved with ``format="svg"``) and styled inside ``rc_context``: pyplot's
global figure manager is never touched, so rendering is safe inside a test process or a runner
thread. ``svg.hashsalt`` is set per chart so element ids are deterministic and never collide
between the charts sharing one page.

The text is rendered by jinja2 from ``templates/report.html.j2`` with autoescape on: step
messages, log excerpts and device names are data from the run and are always escaped.
"""

from __future__ import annotations

import base64
import functools
import io
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
import matplotlib
from markupsafe import Markup
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from harness.scenario.reports.junit import xml_text
from harness.scenario.result import ScenarioResult, TimelineEvent, write_atomic

# -- colours (GitHub Primer palette: readable on white, distinguishable in print) --------------

GREEN, BLUE, RED, DARK_RED, ORANGE = "#2da44e", "#0969da", "#cf222e", "#82071e", "#e16f24"
AMBER, DARK_AMBER, GREY, LIGHT_GREY, PURPLE = "#d4a72c", "#9a6700", "#8c959f", "#d0d7de", "#8250df"
#: badge colours; the screenshot test looks for them in the rendered page
BADGE_PASSED, BADGE_FAILED = "#1a7f37", "#cf222e"

#: lifecycle states (docs/device.md) and deployment statuses (IoT job execution, Greengrass detailed status)
STATE_COLOURS: dict[str, str] = {
    "RUNNING": GREEN,
    "FINISHED": BLUE,
    "ERRORED": RED,
    "BROKEN": DARK_RED,
    "NEW": LIGHT_GREY,
    "INSTALLED": GREY,
    "STARTING": AMBER,
    "STOPPING": DARK_AMBER,
    "QUEUED": LIGHT_GREY,
    "CREATED": LIGHT_GREY,
    "IN_PROGRESS": AMBER,
    "ACTIVE": AMBER,
    "ROLLING_BACK": ORANGE,
    "SUCCEEDED": GREEN,
    "SUCCESSFUL": GREEN,
    "COMPLETED": GREEN,
    "FAILED_ROLLBACK_COMPLETE": ORANGE,  # failed, but the device is back where it was
    "CANCELED": GREY,
    "REMOVED": GREY,
}
STEP_COLOURS = {"passed": GREEN, "failed": RED, "error": DARK_RED, "skipped": LIGHT_GREY}
#: deployment statuses after which nothing more happens to that deployment on the device
_OPEN_DEPLOYMENT = {"QUEUED", "CREATED", "IN_PROGRESS", "ACTIVE", "ROLLING_BACK", "PENDING"}
SERIES = ("#0969da", "#e16f24", "#8250df", "#1a7f37", "#bf3989", "#0a3069", "#9a6700", "#57606a")
PHASE_COLOURS = ("#0969da", "#8250df", "#1a7f37", "#e16f24", "#bf3989", "#57606a", "#9a6700", "#0a3069",
                 "#1b7c83", "#6e7781", "#953800", "#4c2889")  # fmt: skip


def state_colour(state: str) -> str:
    """Colour of a state: the table above, else by what its name says (runner-defined states)."""
    key = state.upper()
    if key in STATE_COLOURS:
        return STATE_COLOURS[key]
    if any(
        word in key for word in ("FAIL", "ERROR", "BROKEN", "KILL", "CRASH", "DOWN", "REJECT", "TIMED_OUT")
    ):
        return RED
    if any(word in key for word in ("ROLLBACK", "ROLLING")):
        return ORANGE
    if any(word in key for word in ("RUN", "SUCCE", "COMPLETE", "UP", "START", "ONLINE", "HEALTHY", "READY")):
        return GREEN
    return GREY


# -- chart plumbing ----------------------------------------------------------------------------

_STYLE = {
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Liberation Sans", "Arial", "Helvetica"],
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "axes.edgecolor": "#8c959f",
    "axes.labelcolor": "#24292f",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.color": "#eaeef2",
    "grid.linewidth": 0.8,
    "xtick.color": "#57606a",
    "ytick.color": "#24292f",
    "legend.frameon": False,
    "legend.fontsize": 8.5,
    "svg.fonttype": "none",  # text stays text: small, sharp, searchable with Ctrl-F
}
_SVG_PROLOGUE = re.compile(r"<\?xml[^>]*\?>\s*|<!DOCTYPE[^>]*>\s*|<metadata>.*?</metadata>\s*", re.S)
_SVG_SIZE = re.compile(r'\s(?:width|height)="[^"]*"')
FULL_WIDTH_IN, HALF_WIDTH_IN = 11.6, 5.7


@dataclass
class Chart:
    """An inline SVG and a one-line summary of what it shows (next to the section heading)."""

    svg: Markup
    caption: str


def _svg(fig: Figure, label: str) -> Markup:
    """``fig`` as an ``<svg>`` element scaled by CSS: no prologue, no metadata, no fixed size."""
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", pad_inches=0.08, metadata={"Date": None})
    text = _SVG_PROLOGUE.sub("", buffer.getvalue()).strip()
    head_end = text.index(">")
    head = _SVG_SIZE.sub("", text[:head_end])
    aria = str(Markup.escape(label))
    return Markup(f'{head} class="chart" role="img" aria-label="{aria}"{text[head_end:]}')


def _chart(salt: str) -> Callable[[Callable[..., Chart | None]], Callable[..., Chart | None]]:
    """Run a chart builder with the report style and a per-chart id salt."""

    def wrap(build: Callable[..., Chart | None]) -> Callable[..., Chart | None]:
        @functools.wraps(build)
        def run(*args: Any, **kwargs: Any) -> Chart | None:
            with matplotlib.rc_context({**_STYLE, "svg.hashsalt": f"edge-harness-{salt}"}):
                return build(*args, **kwargs)

        return run

    return wrap


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)  # Agg canvas; savefig(format="svg") hands over to the SVG backend
    return fig


def _colour_map(keys: Iterable[str]) -> dict[str, str]:
    return {key: SERIES[i % len(SERIES)] for i, key in enumerate(keys)}


def _event_markers(ax: Any, result: ScenarioResult, *, labels: bool) -> None:
    """Deployment starts (dashed blue) and injected faults (dotted red) as vertical lines.

    With ``labels``, each line is named above the plot; labels that would overlap are stacked on
    rows (a deployment often follows the fault injected for it within a second).
    """
    marks: list[tuple[float, str, str, str]] = []
    first: dict[str, float] = {}
    for event in result.timeline:
        if event.kind == "deployment":
            first[event.name] = min(first.get(event.name, event.time), event.time)
        elif event.kind == "inject":
            marks.append((event.time - result.started, f"inject: {event.name}", RED, ":"))
    marks += [(t - result.started, f"deploy: {name}", BLUE, "--") for name, t in first.items()]
    x0, x1 = _time_limits(result)
    axes_pt = ax.get_position().width * ax.figure.get_figwidth() * 72
    row_ends: list[float] = []  # where the last label of each row ends, in data units
    for x, text, colour, style in sorted(marks):
        ax.axvline(x, color=colour, linestyle=style, linewidth=1.1, alpha=0.85, zorder=1)
        if not labels:
            continue
        width = (len(text) * 4.9 + 8) / axes_pt * (x1 - x0)  # 8-pt text, about 4.9 pt a character
        row = next((i for i, end in enumerate(row_ends) if x > end), len(row_ends))
        if row == len(row_ends):
            row_ends.append(0.0)
        row_ends[row] = x + width
        ax.annotate(
            text,
            xy=(x, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(2, 3 + 11 * row),
            textcoords="offset points",
            fontsize=8,
            color=colour,
            ha="left",
            va="bottom",
        )


def _legend_above(ax: Any) -> None:
    """Series names in a row above the plot, where they never hide a line."""
    count = len(ax.get_legend_handles_labels()[1])
    ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=min(3, count), borderaxespad=0.2)


def _time_limits(result: ScenarioResult) -> tuple[float, float]:
    last = max(
        [result.duration_s]
        + [e.time - result.started for e in result.timeline]
        + [m.received - result.started for m in result.messages]
        + [t - result.started for t, _s, _v in result.fps]
    )
    return (
        min(0.0, *(e.time - result.started for e in result.timeline)) if result.timeline else 0.0,
        last * 1.01 or 1.0,
    )


# -- the charts --------------------------------------------------------------------------------


@dataclass
class _Lane:
    label: str
    spans: list[tuple[float, float, str, str]]  # start, end, state, text inside
    points: list[tuple[float, str]]  # a terminal state: time, state


def _lanes(result: ScenarioResult, end: float) -> list[_Lane]:
    """Steps first, then per device: device events, deployments, each component."""
    t0 = result.started
    lanes: list[_Lane] = []
    if result.steps:
        lanes.append(
            _Lane(
                "scenario · steps",
                [
                    (s.started - t0, s.started - t0 + max(s.duration_s, 0.0), s.status, str(s.index))
                    for s in result.steps
                ],
                [],
            )
        )
    groups: dict[tuple[str, str, str], list[TimelineEvent]] = {}
    for event in sorted(result.timeline, key=lambda e: e.time):
        if event.kind in ("device", "deployment", "component"):
            lane_name = {"component": event.name, "deployment": "deployments", "device": "device"}[event.kind]
            groups.setdefault((event.device, event.kind, lane_name), []).append(event)
    order = {"device": 0, "deployment": 1, "component": 2}
    devices = result.devices()
    for (device, kind, lane_name), events in sorted(
        groups.items(),
        key=lambda kv: (devices.index(kv[0][0]) if kv[0][0] in devices else 99, order[kv[0][1]]),
    ):
        lane = _Lane(f"{device or 'fleet'} · {lane_name}", [], [])
        if kind == "deployment":
            by_name: dict[str, list[TimelineEvent]] = {}
            for event in events:
                by_name.setdefault(event.name, []).append(event)
            for series in by_name.values():
                for event, after in zip(series, [*series[1:], None], strict=True):
                    if event.state.upper() in _OPEN_DEPLOYMENT:
                        stop = after.time - t0 if after else end
                        lane.spans.append((event.time - t0, stop, event.state, event.name))
                    else:
                        lane.points.append((event.time - t0, event.state))
        else:
            for event, after in zip(events, [*events[1:], None], strict=True):
                stop = after.time - t0 if after else end
                lane.spans.append((event.time - t0, stop, event.state, event.version or ""))
        lanes.append(lane)
    return lanes


@_chart("timeline")
def timeline_chart(result: ScenarioResult) -> Chart | None:
    """One lane per device/component, coloured spans per state, deployment and inject markers."""
    if not result.timeline and not result.steps:
        return None
    x0, x1 = _time_limits(result)
    lanes = _lanes(result, x1)
    fig = _figure(FULL_WIDTH_IN, 1.3 + 0.32 * len(lanes))
    ax = fig.add_subplot()
    ax.grid(axis="y", visible=False)
    seen: dict[str, str] = {}
    width = x1 - x0
    for row, lane in enumerate(lanes):
        y = len(lanes) - 1 - row
        is_steps = lane.label == "scenario · steps"
        for start, stop, state, text in lane.spans:
            colour = STEP_COLOURS.get(state, GREY) if is_steps else state_colour(state)
            seen.setdefault(f"step {state}" if is_steps else state, colour)
            ax.barh(
                y,
                max(stop - start, width * 0.002),
                left=start,
                height=0.62,
                color=colour,
                edgecolor="white",
                linewidth=0.6,
            )
            if text and (stop - start) > width * (0.012 * len(text) + 0.01):
                dark = colour in (LIGHT_GREY, AMBER)
                ax.text(
                    (start + stop) / 2,
                    y,
                    text,
                    ha="center",
                    va="center",
                    fontsize=7.5,
                    color="#24292f" if dark else "white",
                )
        for at, state in lane.points:
            colour = state_colour(state)
            ax.plot([at], [y], marker="D", markersize=7, color=colour, markeredgecolor="white", zorder=4)
            ax.text(
                at + width * 0.006, y, state, va="center", ha="left", fontsize=7.5, color=colour, zorder=4
            )
            seen.setdefault(state, colour)
    for row in range(1, len(lanes)):  # a rule between one device's lanes and the next's
        if lanes[row].label.split(" · ")[0] != lanes[row - 1].label.split(" · ")[0]:
            ax.axhline(len(lanes) - row - 0.5, color="#8c959f", linewidth=0.8, zorder=0)
    ax.set_yticks(range(len(lanes)), [lane.label for lane in reversed(lanes)])
    ax.set_ylim(-0.6, len(lanes) - 0.4)
    ax.set_xlim(x0, x1)
    ax.set_xlabel("seconds since the scenario started")
    _event_markers(ax, result, labels=True)
    by_colour: dict[str, list[str]] = {}
    for state, colour in seen.items():
        by_colour.setdefault(colour, []).append(state)
    handles = [Patch(color=c, label=" / ".join(states)) for c, states in by_colour.items()]
    fig.legend(handles=handles, loc="outside lower center", ncol=min(5, len(handles)))
    devices = result.devices()
    return Chart(
        _svg(fig, "timeline"), f"{len(lanes)} lanes, {len(devices)} device(s), {len(result.timeline)} events"
    )


@_chart("latency")
def latency_histogram(result: ScenarioResult) -> Chart | None:
    """Frame → Kafka latency histogram, one colour per device, p50/p95/p99 lines."""
    stats = result.latency_summary()
    if not stats.get("count"):
        return None
    fig = _figure(HALF_WIDTH_IN, 3.3)
    ax = fig.add_subplot()
    devices = [d for d in result.devices() if result.latencies_ms(d)]
    values_all = result.latencies_ms()
    bins = _bins(values_all)
    if len(devices) > 1:
        data = [result.latencies_ms(d) for d in devices]
        colours = [c for c in _colour_map(devices).values()]
        ax.hist(data, bins=bins, stacked=True, label=devices, color=colours, edgecolor="white", linewidth=0.4)
    else:
        ax.hist(
            values_all,
            bins=bins,
            color=SERIES[0],
            edgecolor="white",
            linewidth=0.4,
            label=devices[0] if devices else "all messages",
        )
    for key, style, colour in (("p50", "-", "#24292f"), ("p95", "--", RED), ("p99", ":", DARK_RED)):
        ax.axvline(
            stats[key], color=colour, linestyle=style, linewidth=1.3, label=f"{key} {stats[key]:.1f} ms"
        )
    ax.set_xlabel("frame → Kafka latency (ms)")
    ax.set_ylabel("messages")
    _legend_above(ax)
    return Chart(_svg(fig, "frame to Kafka latency histogram"), f"{stats['count']} messages")


def _bins(values: Sequence[float]) -> int | list[float]:
    lo, hi = min(values), max(values)
    if hi - lo < 1e-9:
        return [lo - 0.5, hi + 0.5]
    return max(10, min(60, int(math.sqrt(len(values)) * 2)))


@_chart("elements")
def element_chart(result: ScenarioResult) -> Chart | None:
    """Per-element latency: p50 bar, whisker to p95, in pipeline order top to bottom."""
    rows = [(name, s) for name, s in result.element_latency_ms.items() if s.get("count", 1) and "p50" in s]
    if not rows:
        return None
    fig = _figure(HALF_WIDTH_IN, max(3.3, 0.75 + 0.36 * len(rows)))
    ax = fig.add_subplot()
    ax.grid(axis="y", visible=False)
    names = [name for name, _s in rows]
    p50 = [s["p50"] for _n, s in rows]
    p95 = [s.get("p95", s["p50"]) for _n, s in rows]
    ys = list(range(len(rows)))[::-1]
    ax.barh(ys, p50, color=SERIES[0], height=0.6, label="p50")
    ax.errorbar(
        p50,
        ys,
        xerr=[[0] * len(rows), [max(b - a, 0.0) for a, b in zip(p50, p95, strict=True)]],
        fmt="none",
        ecolor="#24292f",
        capsize=3,
        linewidth=1,
        label="p95",
    )
    top = max(p95)
    for y, a, b in zip(ys, p50, p95, strict=True):
        ax.text(b + top * 0.02, y, f"{a:.2f} / {b:.2f}", va="center", fontsize=7.5, color="#57606a")
    ax.set_yticks(ys, names)
    ax.set_xlim(0, top * 1.3 or 1.0)
    ax.set_xlabel("latency per batch (ms): bar p50, whisker p95")
    return Chart(_svg(fig, "per-element latency"), f"{len(rows)} elements")


@_chart("fps")
def fps_chart(result: ScenarioResult) -> Chart | None:
    """FPS of every stream over time, from the app's ``**PERF`` lines."""
    if not result.fps:
        return None
    series: dict[str, list[tuple[float, float]]] = {}
    for t, stream, fps in sorted(result.fps):
        series.setdefault(stream, []).append((t - result.started, fps))
    fig = _figure(HALF_WIDTH_IN, 3.1)
    ax = fig.add_subplot()
    for (stream, points), colour in zip(series.items(), _colour_map(series).values(), strict=True):
        xs, ys = zip(*points, strict=True)
        ax.plot(xs, ys, marker="o", markersize=2.5, linewidth=1.4, color=colour, label=stream)
    _event_markers(ax, result, labels=False)
    ax.set_xlim(*_time_limits(result))
    ax.set_ylim(bottom=0)
    ax.set_xlabel("seconds since the scenario started")
    ax.set_ylabel("frames per second")
    _legend_above(ax)
    return Chart(_svg(fig, "frames per second over time"), f"{len(series)} stream(s)")


_NICE_BINS_S = (1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0)


@_chart("rate")
def message_rate_chart(result: ScenarioResult) -> Chart | None:
    """Messages per second over time, per device and topic."""
    if not result.messages:
        return None
    x0, x1 = _time_limits(result)
    # about 40 bins: a rate of a few messages a second still reads as a level, not as noise
    bin_s = next((b for b in _NICE_BINS_S if b >= (x1 - x0) / 40), _NICE_BINS_S[-1])
    count = max(1, math.ceil((x1 - x0) / bin_s))
    series: dict[str, list[float]] = {}
    for m in result.messages:
        key = f"{m.device} · {m.topic}" if m.device else m.topic
        bucket = min(count - 1, max(0, int((m.received - result.started - x0) // bin_s)))
        series.setdefault(key, [0.0] * count)[bucket] += 1.0 / bin_s
    edges = [x0 + i * bin_s for i in range(count + 1)]
    fig = _figure(HALF_WIDTH_IN, 3.1)
    ax = fig.add_subplot()
    for (key, rates), colour in zip(
        sorted(series.items()), _colour_map(sorted(series)).values(), strict=True
    ):
        ax.stairs(rates, edges, color=colour, linewidth=1.4, label=key)
    _event_markers(ax, result, labels=False)
    ax.set_xlim(x0, x1)
    ax.set_ylim(bottom=0)
    ax.set_xlabel(f"seconds since the scenario started ({bin_s:g} s bins)")
    ax.set_ylabel("messages per second")
    _legend_above(ax)
    return Chart(_svg(fig, "messages per second over time"), f"{len(result.messages)} messages")


# -- the page ----------------------------------------------------------------------------------


def format_seconds(seconds: float | None) -> str:
    """``0.35`` → ``350 ms``, ``12.3`` → ``12.3 s``, ``125`` → ``2 min 05 s``."""
    if seconds is None or not math.isfinite(seconds):
        return "—"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s"


def format_clock(seconds: float) -> str:
    """Time since the scenario started as ``m:ss`` (``1:40``), the way the timeline reads."""
    if not math.isfinite(seconds):
        return ""
    sign, seconds = ("−", -seconds) if seconds < 0 else ("", seconds)
    minutes, rest = divmod(round(seconds), 60)
    return f"{sign}{minutes}:{rest:02d}"


def format_value(value: Any) -> str:
    """A table cell: 3 decimals for floats, ``—`` for nothing."""
    if value is None:
        return "—"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "∞" if value > 0 else "−∞"
        return f"{value:.3f}"
    return str(value)


_HEADINGS = {"roi_precision": "ROI precision", "roi_recall": "ROI recall", "count_error": "count error",
             "class_accuracy": "class accuracy",
             "mota": "MOTA", "idf1": "IDF1", "motp": "MOTP"}  # fmt: skip


def _device_rows(reports: dict[str, dict[str, Any]]) -> list[dict[str, str]]:
    """One row per device the target read itself: its resource samples summed up, its components."""
    rows = []
    for thing, found in reports.items():
        samples = found.get("resources") or []

        def figures(key: str, samples: list[dict[str, Any]] = samples) -> str:
            values = [s[key] for s in samples if s.get(key) is not None]
            return f"{sum(values) / len(values):.0f} / {max(values):.0f}" if values else "–"

        ram = [s["ram_used_mb"] for s in samples if s.get("ram_used_mb") is not None]
        total = next((s["ram_total_mb"] for s in samples if s.get("ram_total_mb")), None)
        hottest = [max(s["temperature_c"].values()) for s in samples if s.get("temperature_c")]
        components = found.get("components")
        rows.append(
            {
                "thing": thing,
                "samples": str(len(samples)),
                "cpu": figures("cpu_percent"),
                "gpu": figures("gpu_percent"),
                "ram": f"{max(ram):.0f} of {total:.0f}" if ram and total else "–",
                "temperature": f"{max(hottest):.1f}" if hottest else "–",
                "components": ", ".join(f"{c['name']} {c['version']} {c['state']}" for c in components)
                if components
                else str(found.get("components_error", "–")),
            }
        )
    return rows


def _accuracy_table(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not rows:
        return None
    keys: dict[str, None] = {"step": None, "model": None}
    for row in rows:
        keys.update(dict.fromkeys(row))
    columns = [k for k in keys if any(k in row for row in rows)]
    return {
        "headings": [_HEADINGS.get(k, k.replace("_", " ")) for k in columns],
        "rows": [[format_value(row.get(k)) for k in columns] for row in rows],
    }


def _element_rows(elements: dict[str, dict[str, float]]) -> list[dict[str, str]]:
    """The figures behind the per-element chart as text, in pipeline order: the numbers can be
    read (and searched) exactly, which a bar's length does not give."""
    rows = []
    for name, stats in elements.items():
        if not stats.get("count", 1) or "p50" not in stats:
            continue
        rows.append(
            {
                "name": name,
                "count": str(int(stats["count"])) if "count" in stats else "",
                "p50": f"{stats['p50']:.2f}",
                "p95": f"{stats.get('p95', stats['p50']):.2f}",
                "max": f"{stats['max']:.2f}" if "max" in stats else "",
            }
        )
    return rows


def _phases(phases: dict[str, float]) -> list[dict[str, Any]]:
    total = sum(max(v, 0.0) for v in phases.values())
    return [
        {
            "name": name,
            "seconds": format_seconds(value),
            "share": (share := (max(value, 0.0) / total * 100) if total else 0.0),
            # the name goes inside the bar only where it fits whole (12 px text, ~7 px a character,
            # the bar ~1120 px wide); the legend below always has it
            "label": len(name) * 7 + 16 <= share / 100 * 1120,
            "colour": PHASE_COLOURS[i % len(PHASE_COLOURS)],
        }
        for i, (name, value) in enumerate(phases.items())
    ]


def _first(properties: dict[str, str], *keys: str) -> str:
    return next((properties[k] for k in keys if properties.get(k)), "")


def _utc(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def build_context(result: ScenarioResult) -> dict[str, Any]:
    """Everything the template shows, formatted; charts are ``None`` when there is no data."""
    stats = result.latency_summary()
    return {
        "r": result,
        "passed": result.passed,
        "badge_colour": BADGE_PASSED if result.passed else BADGE_FAILED,
        "counts": result.step_counts(),
        "started": _utc(result.started),
        "duration": format_seconds(result.duration_s),
        "commit": _first(result.properties, "commit", "git commit", "git_commit"),
        "host": result.properties.get("host", ""),
        # per-component properties if the runner gave them, else its one-line summary
        "versions": result.component_versions(),
        "versions_text": _first(result.properties, "component versions", "components"),
        "profiles": result.device_profiles(),
        "profiles_text": _first(result.properties, "device profiles", "device profile", "profiles"),
        "phases": _phases(result.phases),
        "steps": [
            {
                "s": step,
                "offset": format_clock(step.started - result.started),
                "duration": format_seconds(step.duration_s),
                "colour": STEP_COLOURS[step.status],
                "details": {k: format_value(v) for k, v in step.details.items()},
                # terminal colour codes and NULs in component logs would show as boxes
                "logs": {name: xml_text(text) for name, text in step.logs.items()},
                "open": step.status in ("failed", "error"),
            }
            for step in result.steps
        ],
        "timeline": timeline_chart(result),
        "latency": latency_histogram(result),
        "latency_stats": [
            (label, f"{stats[key]:.1f} ms" if key != "count" else str(stats[key]))
            for key, label in (
                ("count", "messages"),
                ("p50", "p50"),
                ("p95", "p95"),
                ("p99", "p99"),
                ("mean", "mean"),
                ("max", "max"),
            )
            if key in stats
        ]
        if stats.get("count")
        else [],
        "messages_without_latency": sum(1 for m in result.messages if m.latency_ms is None),
        "elements": element_chart(result),
        "element_rows": _element_rows(result.element_latency_ms),
        "fps": fps_chart(result),
        "rate": message_rate_chart(result),
        "accuracy": _accuracy_table(result.accuracy),
        "devices": _device_rows(result.device_reports),
        "thumbnails": [
            {"caption": t.caption, "uri": "data:image/png;base64," + base64.b64encode(t.png).decode("ascii")}
            for t in result.thumbnails
        ],
        "generated": _utc(datetime.now(UTC).timestamp()),
    }


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("harness.scenario.reports", "templates"),
        autoescape=True,  # every string from the run is data, never markup
        undefined=jinja2.StrictUndefined,  # a misspelt name in the template fails the tests, not silently
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(result: ScenarioResult) -> str:
    """The report page as text."""
    return _environment().get_template("report.html.j2").render(**build_context(result))


def write_html(result: ScenarioResult, path: str | Path) -> Path:
    """Write the self-contained HTML report of ``result`` to ``path``; returns the path."""
    target = Path(path)
    write_atomic(target, render_html(result).encode("utf-8"))
    return target
