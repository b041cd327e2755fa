"""What a scenario run produced: the one object the runner fills and every report reads.

The runner records facts here as they happen (steps, state changes it saw, messages it read,
``**PERF`` figures, element latencies, accuracy rows, annotated frames, phase times); the
writers in :mod:`harness.scenario.reports` only present them. Keeping the two apart means a
report can be rendered again from ``result.json`` (:meth:`ScenarioResult.save` /
:meth:`ScenarioResult.load`) without running anything, and a CI job can compare two runs' JSON.

Conventions for :attr:`ScenarioResult.properties` (plain strings, so that they fit JUnit
``<property>`` and OpenMetrics labels as they are):

* ``component:<Name>`` → the component version a scenario deployed last (``component:com.example.TrafficCam``
  → ``1.1.0``); :meth:`ScenarioResult.component_versions` collects them;
* ``profile:<thing>`` → the device profile of a simulated device; :meth:`ScenarioResult.device_profiles`;
* ``commit`` (git commit of the project), ``host``, and anything else worth keeping.

The HTML header also reads the one-line forms ``git commit``, ``component versions`` and
``device profiles`` when the per-item keys are absent; every property, whatever its key, goes
into the JUnit ``<properties>`` and the OpenMetrics ``edge_harness_scenario_info`` labels.
"""

from __future__ import annotations

import base64
import json
import math
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fake_device.deepstream.measure import percentile
from harness.errors import HarnessError

SCHEMA = "edge-harness-result/1"

#: step outcomes, as JUnit knows them
STATUSES = ("passed", "failed", "error", "skipped")
#: what a timeline event is about
EVENT_KINDS = ("deployment", "component", "device", "step", "inject")

COMPONENT_PREFIX = "component:"
PROFILE_PREFIX = "profile:"


@dataclass
class StepResult:
    """One scenario step as it ran.

    ``message`` is one line a person can act on: what was expected and what was seen
    ("expected RUNNING within 60 s, saw BROKEN after 12.3 s"). ``details`` carries the figures
    behind it (JSON-able); ``logs`` the log excerpts that explain a failure (name → text).
    """

    index: int
    kind: str
    name: str
    status: str  # "passed" | "failed" | "error" | "skipped"
    started: float  # epoch seconds
    duration_s: float
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    logs: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # a typo here would silently turn a failure into "not passed, not failed" in every report
        if self.status not in STATUSES:
            raise ValueError(f"step status {self.status!r} is not one of {', '.join(STATUSES)}")

    @property
    def title(self) -> str:
        """``3: upgrade to 1.1.0`` — the name JUnit, OpenMetrics and HTML all show."""
        return f"{self.index}: {self.name}"


@dataclass
class TimelineEvent:
    """A state the runner saw change, at the time it saw it.

    ``kind`` says which lane it belongs to: ``component`` (``name`` = component, ``state`` =
    lifecycle state, ``version``), ``deployment`` (``name`` = deployment, ``state`` = its status
    on the device: QUEUED, IN_PROGRESS, SUCCEEDED, FAILED_ROLLBACK_COMPLETE …), ``device``
    (started, killed …), ``step`` and ``inject`` (a fault put in on purpose).
    """

    time: float
    device: str
    kind: str
    name: str
    state: str
    version: str | None = None
    detail: str = ""


@dataclass
class MessageSample:
    """One Kafka message the runner read: when, where from, and its frame → Kafka latency."""

    received: float
    topic: str
    latency_ms: float | None
    frame_id: int | None
    objects: int
    device: str | None = None


@dataclass
class Thumbnail:
    """An annotated frame (PNG bytes) and what it shows."""

    caption: str
    png: bytes


@dataclass
class ScenarioResult:
    """Everything one run of one scenario produced (see the module docstring for ``properties``)."""

    scenario: str
    path: str
    target: str
    backend: str
    started: float
    duration_s: float = 0.0
    properties: dict[str, str] = field(default_factory=dict)
    steps: list[StepResult] = field(default_factory=list)
    timeline: list[TimelineEvent] = field(default_factory=list)
    messages: list[MessageSample] = field(default_factory=list)
    fps: list[tuple[float, str, float]] = field(default_factory=list)  # (time, stream/device, fps)
    element_latency_ms: dict[str, dict[str, float]] = field(default_factory=dict)
    accuracy: list[dict[str, Any]] = field(default_factory=list)
    thumbnails: list[Thumbnail] = field(default_factory=list)
    phases: dict[str, float] = field(default_factory=dict)  # wall-time breakdown, seconds
    #: what the target read on the devices themselves, by thing: ``components`` (name, version,
    #: state as the device lists them), ``resources`` (tegrastats samples) — lab targets only
    device_reports: dict[str, dict[str, Any]] = field(default_factory=dict)

    # -- verdict ------------------------------------------------------------------------------

    @property
    def passed(self) -> bool:
        """Every step passed or was skipped; none failed or errored."""
        return all(step.status in ("passed", "skipped") for step in self.steps)

    def step_counts(self) -> dict[str, int]:
        """Steps per status, every status present (zeros included) so reports need no defaults."""
        counts = dict.fromkeys(STATUSES, 0)
        for step in self.steps:
            counts[step.status] += 1
        return counts

    @property
    def ended(self) -> float:
        return self.started + self.duration_s

    # -- derived figures both reports need, computed in one place so they agree ----------------

    def latencies_ms(self, device: str | None = None) -> list[float]:
        """Frame → Kafka latencies of the messages that carry one (of one device if given)."""
        return [
            m.latency_ms
            for m in self.messages
            if m.latency_ms is not None
            and math.isfinite(m.latency_ms)
            and (device is None or m.device == device)
        ]

    def latency_summary(self) -> dict[str, float]:
        """count, mean, p50, p95, p99, min, max of :meth:`latencies_ms` (``{"count": 0}`` if none).

        Percentiles interpolate linearly, as numpy's default and DeepStream emulation's
        ``measure.summarize`` do.
        """
        values = sorted(self.latencies_ms())
        if not values:
            return {"count": 0}
        return {
            "count": len(values),
            "mean": sum(values) / len(values),
            "p50": percentile(values, 50),
            "p95": percentile(values, 95),
            "p99": percentile(values, 99),
            "min": values[0],
            "max": values[-1],
        }

    def component_versions(self) -> dict[str, str]:
        """``component:<Name>`` properties as {name: version}."""
        return _prefixed(self.properties, COMPONENT_PREFIX)

    def device_profiles(self) -> dict[str, str]:
        """``profile:<thing>`` properties as {thing: profile}."""
        return _prefixed(self.properties, PROFILE_PREFIX)

    def devices(self) -> list[str]:
        """Devices in the order they first appear in the timeline, then in messages."""
        seen: dict[str, None] = {}
        for event in self.timeline:
            if event.device:
                seen.setdefault(event.device, None)
        for message in self.messages:
            if message.device:
                seen.setdefault(message.device, None)
        return list(seen)

    # -- JSON ---------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (PNGs as base64); :meth:`from_dict` gives back an equal result."""
        data = asdict(self)
        data["fps"] = [list(row) for row in self.fps]
        data["thumbnails"] = [
            {"caption": t.caption, "png": base64.b64encode(t.png).decode("ascii")} for t in self.thumbnails
        ]
        return {"schema": SCHEMA, **data}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScenarioResult:
        """Read what :meth:`to_dict` wrote; a malformed document is a :class:`HarnessError`."""
        if not isinstance(data, Mapping):
            raise HarnessError("scenario result: expected a JSON object")
        schema = data.get("schema", SCHEMA)
        if schema != SCHEMA:
            raise HarnessError(
                f"scenario result: schema {schema!r} is not {SCHEMA!r}",
                hint="render it with the edge-harness version that wrote it",
            )
        try:
            return cls(
                scenario=str(data["scenario"]),
                path=str(data.get("path", "")),
                target=str(data.get("target", "")),
                backend=str(data.get("backend", "")),
                started=float(data["started"]),
                duration_s=float(data.get("duration_s", 0.0)),
                properties={str(k): str(v) for k, v in dict(data.get("properties") or {}).items()},
                steps=[StepResult(**s) for s in _list(data, "steps")],
                timeline=[TimelineEvent(**e) for e in _list(data, "timeline")],
                messages=[MessageSample(**m) for m in _list(data, "messages")],
                fps=[(float(t), str(s), float(v)) for t, s, v in _list(data, "fps")],
                element_latency_ms={
                    str(name): {str(k): float(v) for k, v in dict(stats).items()}
                    for name, stats in dict(data.get("element_latency_ms") or {}).items()
                },
                accuracy=[dict(row) for row in _list(data, "accuracy")],
                device_reports={str(k): dict(v) for k, v in dict(data.get("device_reports") or {}).items()},
                thumbnails=[
                    Thumbnail(str(t["caption"]), base64.b64decode(t["png"], validate=True))
                    for t in _list(data, "thumbnails")
                ],
                phases={str(k): float(v) for k, v in dict(data.get("phases") or {}).items()},
            )
        except KeyError as error:
            raise HarnessError(f"scenario result: missing key {error}") from None
        except (TypeError, ValueError) as error:
            raise HarnessError(f"scenario result: malformed value: {error}") from None

    def save(self, path: str | Path) -> Path:
        """Write ``result.json`` whole (temporary file + rename), so a reader never sees half of it."""
        target = Path(path)
        text = json.dumps(self.to_dict(), indent=1, ensure_ascii=False)
        write_atomic(target, text.encode("utf-8"))
        return target

    @classmethod
    def load(cls, path: str | Path) -> ScenarioResult:
        source = Path(path)
        try:
            data = json.loads(source.read_text(encoding="utf-8"))
        except OSError as error:
            raise HarnessError(f"cannot read {source}: {error.strerror or error}") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise HarnessError(f"{source}: not JSON: {error}") from None
        return cls.from_dict(data)


def _prefixed(properties: Mapping[str, str], prefix: str) -> dict[str, str]:
    return {
        k[len(prefix) :]: v for k, v in properties.items() if k.startswith(prefix) and len(k) > len(prefix)
    }


def _list(data: Mapping[str, Any], key: str) -> Iterable[Any]:
    value = data.get(key) or []
    if not isinstance(value, list):
        raise HarnessError(f"scenario result: {key} must be a list, got {type(value).__name__}")
    return value


def write_atomic(path: Path, content: bytes) -> None:
    """Temporary file in the same folder, fsync, rename: a report is either old or new, never half."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(content)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as error:
        raise HarnessError(f"cannot write {path}: {error.strerror or error}") from None
