"""OpenMetrics text: a run's figures in the format every metrics store and CI dashboard reads.

The figures already exist when the run is over, so they are exported with a *custom collector*
(prometheus_client's pattern for proxying figures measured elsewhere) on a private
``CollectorRegistry``: nothing lands in the process-wide default registry, two results never mix,
and ``prometheus_client.openmetrics.exposition.generate_latest`` does the escaping, the family
grouping and the closing ``# EOF``.

Every series carries a ``scenario`` label, so files of several scenarios can be loaded side by
side (a Pushgateway grouping key, a textfile collector, or a CI artifact diffed between runs).
Latency distributions are OpenMetrics *summaries* (``quantile`` 0.5/0.95/0.99 plus ``_count`` and
``_sum``): that is what a set of precomputed quantiles is, and Prometheus queries them as such.
"""

from __future__ import annotations

import math
import re
import statistics
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.openmetrics.exposition import generate_latest
from prometheus_client.registry import Collector, CollectorRegistry

from harness.scenario.result import ScenarioResult, write_atomic

PREFIX = "edge_harness"
QUANTILES = (("0.5", "p50"), ("0.95", "p95"), ("0.99", "p99"))
#: accuracy row keys that name the row rather than measure it
_ROW_KEYS = ("step", "model")
_NOT_NAME = re.compile(r"[^a-zA-Z0-9_]")


def metric_name(text: str) -> str:
    """``count error`` → ``count_error``: a figure's key made a valid metric/label name."""
    name = _NOT_NAME.sub("_", text.strip()).strip("_").lower() or "value"
    return f"_{name}" if name[0].isdigit() else name


def _summary(
    name: str, doc: str, labels: list[str], label_values: list[str], stats: dict[str, float]
) -> SummaryMetricFamily | None:
    """A summary family from {count, mean/sum, p50, p95, p99}; ``None`` with no samples."""
    count = int(stats.get("count", 0) or 0)
    if count <= 0:
        return None
    total = stats["sum"] if "sum" in stats else stats.get("mean", math.nan) * count
    family = SummaryMetricFamily(name, doc, labels=[*labels, "quantile"], unit="")
    for quantile, key in QUANTILES:
        if key in stats:
            family.add_sample(
                name, dict(zip([*labels, "quantile"], [*label_values, quantile], strict=True)), stats[key]
            )
    base = dict(zip(labels, label_values, strict=True))
    family.add_sample(f"{name}_count", base, count)
    family.add_sample(f"{name}_sum", base, total)
    return family


class ResultCollector(Collector):
    """Yields the metric families of one :class:`ScenarioResult` (see docs/reports.md for the list)."""

    def __init__(self, result: ScenarioResult) -> None:
        self.result = result

    def collect(self) -> Iterator[Metric]:
        r, s = self.result, self.result.scenario
        for part in (self._scenario, self._steps, self._latency, self._messages_and_fps, self._accuracy):
            # a family with no samples says nothing; leaving it out keeps the file to what was measured
            yield from (family for family in part(r, s) if family.samples)

    def _scenario(self, r: ScenarioResult, s: str) -> Iterator[Metric]:
        info = InfoMetricFamily(f"{PREFIX}_scenario", "What the scenario ran against (result properties).")
        labels = {"scenario": s, "target": r.target, "backend": r.backend, "path": r.path}
        for key, value in r.properties.items():
            if not key.startswith(("component:", "profile:")):
                labels.setdefault(metric_name(key), value)
        info.add_metric([], labels)
        yield info

        passed = GaugeMetricFamily(
            f"{PREFIX}_scenario_passed", "1 if every step passed or was skipped.", labels=["scenario"]
        )
        passed.add_metric([s], 1.0 if r.passed else 0.0)
        yield passed

        duration = GaugeMetricFamily(
            f"{PREFIX}_scenario_duration_seconds",
            "Wall time of the whole run.",
            labels=["scenario"],
            unit="seconds",
        )
        duration.add_metric([s], r.duration_s)
        yield duration

        start = GaugeMetricFamily(
            f"{PREFIX}_scenario_start_time_seconds",
            "When the run started (Unix time).",
            labels=["scenario"],
            unit="seconds",
        )
        start.add_metric([s], r.started)
        yield start

        versions = InfoMetricFamily(f"{PREFIX}_component", "Component versions the scenario deployed last.")
        for component, version in r.component_versions().items():
            versions.add_metric([], {"scenario": s, "component": component, "version": version})
        yield versions

        profiles = InfoMetricFamily(f"{PREFIX}_device", "Device profile of each simulated core device.")
        for device, profile in r.device_profiles().items():
            profiles.add_metric([], {"scenario": s, "device": device, "profile": profile})
        yield profiles

        phases = GaugeMetricFamily(
            f"{PREFIX}_phase_seconds",
            "Wall time of each phase (services, upload, deployment → RUNNING, first message, rollback …).",
            labels=["scenario", "phase"],
            unit="seconds",
        )
        for phase, seconds in r.phases.items():
            phases.add_metric([s, phase], seconds)
        yield phases

    def _steps(self, r: ScenarioResult, s: str) -> Iterator[Metric]:
        steps = GaugeMetricFamily(
            f"{PREFIX}_step_duration_seconds",
            "Wall time of each step; step is '<index>: <name>' as in the JUnit report.",
            labels=["scenario", "step", "kind", "status"],
            unit="seconds",
        )
        for step in r.steps:
            steps.add_metric([s, step.title, step.kind, step.status], step.duration_s)
        yield steps

        counts = GaugeMetricFamily(f"{PREFIX}_steps", "Steps per outcome.", labels=["scenario", "status"])
        for status, count in r.step_counts().items():
            counts.add_metric([s, status], count)
        yield counts

    def _latency(self, r: ScenarioResult, s: str) -> Iterator[Metric]:
        stats = r.latency_summary()
        summary = _summary(
            f"{PREFIX}_frame_to_kafka_latency_milliseconds",
            "Frame capture (message @timestamp) to Kafka consumer receive time.",
            ["scenario"],
            [s],
            {**stats, "sum": stats.get("mean", 0.0) * stats.get("count", 0)},
        )
        if summary is not None:
            yield summary
            worst = GaugeMetricFamily(
                f"{PREFIX}_frame_to_kafka_latency_max_milliseconds",
                "Largest frame → Kafka latency seen.",
                labels=["scenario"],
            )
            worst.add_metric([s], stats["max"])
            yield worst

        elements = SummaryMetricFamily(
            f"{PREFIX}_element_latency_milliseconds",
            "Per-element DeepStream latency (NVDS component latency), sum = mean × count.",
            labels=["scenario", "element", "quantile"],
        )
        name = f"{PREFIX}_element_latency_milliseconds"
        for element, element_stats in r.element_latency_ms.items():
            family = _summary(name, "", ["scenario", "element"], [s, element], element_stats)
            if family is not None:
                elements.samples.extend(family.samples)
        yield elements

    def _messages_and_fps(self, r: ScenarioResult, s: str) -> Iterator[Metric]:
        messages = CounterMetricFamily(
            f"{PREFIX}_messages", "Kafka messages the harness read, per topic.", labels=["scenario", "topic"]
        )
        for topic, count in sorted(Counter(m.topic for m in r.messages).items()):
            messages.add_metric([s, topic], count)
        yield messages

        by_stream: dict[str, list[float]] = {}
        for _time, stream, fps in sorted(r.fps, key=lambda row: row[0]):
            by_stream.setdefault(stream, []).append(fps)
        last = GaugeMetricFamily(
            f"{PREFIX}_fps", "Last **PERF frame rate of each stream.", labels=["scenario", "stream"]
        )
        mean = GaugeMetricFamily(
            f"{PREFIX}_fps_mean",
            "Mean **PERF frame rate of each stream over the run.",
            labels=["scenario", "stream"],
        )
        low = GaugeMetricFamily(
            f"{PREFIX}_fps_min",
            "Lowest **PERF frame rate of each stream over the run.",
            labels=["scenario", "stream"],
        )
        for stream, values in by_stream.items():
            last.add_metric([s, stream], values[-1])
            mean.add_metric([s, stream], statistics.fmean(values))
            low.add_metric([s, stream], min(values))
        yield from (last, mean, low)

    def _accuracy(self, r: ScenarioResult, s: str) -> Iterator[Metric]:
        families: dict[str, GaugeMetricFamily] = {}
        for row in r.accuracy:
            step, model = str(row.get("step", "")), str(row.get("model", ""))
            for key, value in row.items():
                if key in _ROW_KEYS or isinstance(value, bool) or not isinstance(value, int | float):
                    continue
                name = f"{PREFIX}_accuracy_{metric_name(key)}"
                if name not in families:
                    families[name] = GaugeMetricFamily(
                        name,
                        f"Accuracy figure {key} per step and model.",
                        labels=["scenario", "step", "model"],
                    )
                families[name].add_metric([s, step, model], float(value))
        yield from families.values()


def render_openmetrics(result: ScenarioResult) -> bytes:
    """The OpenMetrics text of ``result`` (ends with ``# EOF``)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ResultCollector(result))
    return generate_latest(registry)


def write_openmetrics(result: ScenarioResult, path: str | Path) -> Path:
    """Write the OpenMetrics text of ``result`` to ``path`` (whole or not at all); returns the path."""
    target = Path(path)
    write_atomic(target, render_openmetrics(result))
    return target
