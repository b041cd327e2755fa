"""Running a scenario on the simulated target: services, publishing, devices, steps, results.

The runner stands up what the scenario needs (the AWS endpoint, a Kafka broker), publishes every
component version as a developer would (artifact folder → ZIP → S3, recipe → CreateComponentVersion
with the artifact URI pointing at the upload), boots the simulated core devices as separate
processes, and then runs the steps in order. Everything it checks goes through public
interfaces: boto3 (deployment and component states as the devices reported them), the Kafka topic
(read by a background recorder) and the devices' log files. The first failing step ends the run
(later steps are skipped) unless it says ``continue_on_failure``. Whatever happens — a failure, an
error, Ctrl-C — every process started is stopped before :meth:`ScenarioRunner.run` returns.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import threading
import time
from collections.abc import Callable, Container, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fake_device.deepstream.measure import (
    ENV_COMPONENT_LATENCY,
    ENV_LATENCY,
    ENV_PRINT_EVERY,
    parse_component_latency,
    summarize,
)
from harness.errors import HarnessError
from harness.scenario import model as m
from harness.scenario.causes import failure_causes
from harness.scenario.checks import (
    Number,
    check_sequence,
    group_at,
    largest_gap_s,
    latency_ms,
    number_at,
    predicate_problem,
    schema_problem,
)
from harness.scenario.fleet import FleetOperator, PublishedVersion
from harness.scenario.messages import TopicRecorder
from harness.scenario.result import MessageSample, ScenarioResult, StepResult, TimelineEvent
from harness.scenario.variables import substitute
from harness.targets.capabilities import CanPartition, CanPause, CanPowerCycle, CoreDevice, HasLogs
from harness.targets.target import Target

_POLL_S = 0.5
FINAL_DEPLOYMENT_STATUSES = {"SUCCEEDED", "FAILED", "CANCELED", "REJECTED", "COMPLETED", "TIMED_OUT"}
#: what simulated devices pass on to their components so that DeepStream apps print per-element
#: latency (``Comp name = …`` lines, read by :func:`read_element_latency`); printed for every 30th
#: batch only — about once a second at 30 fps instead of one line per element and frame
COMPONENT_LATENCY_ENVIRONMENT = {ENV_LATENCY: "1", ENV_COMPONENT_LATENCY: "1", ENV_PRINT_EVERY: "30"}


class StepFailed(Exception):
    """An expectation of a step was not met (status ``failed``)."""

    def __init__(
        self, message: str, *, details: dict[str, Any] | None = None, logs: dict[str, str] | None = None
    ):
        super().__init__(message)
        self.details = details or {}
        self.logs = logs or {}


@dataclass
class DeploymentHandle:
    deployment_id: str
    target: str
    things: list[str]
    started: float


@dataclass
class RunContext:
    """What steps share: services, the operator, devices, recorder and values for ``${…}``.

    ``services`` is what ``inject`` faults act on, by the name a scenario uses: ``aws`` (None on
    ``--target aws``: real AWS), ``kafka`` and, when declared, ``triton``; each a
    :class:`~harness.services.base.Service` of whatever backend runs it.
    """

    scenario: m.Scenario
    work: Path
    fleet: FleetOperator
    kafka: Any
    devices: dict[str, CoreDevice]
    recorder: TopicRecorder
    values: dict[str, str]
    published: dict[tuple[str, str], PublishedVersion] = field(default_factory=dict)
    deployments: dict[str, DeploymentHandle] = field(default_factory=dict)
    result: ScenarioResult | None = None
    services: dict[str, Any] = field(default_factory=dict)
    paused: list[str] = field(default_factory=list)  # services a pause_service left paused
    accuracy: dict[str, dict[str, Any]] = field(default_factory=dict)  # step id → its accuracy row
    client: Callable[..., Any] | None = None  # boto3 clients of the target's AWS (secrets, shadows)
    iot_core: Any = None  # the IotCoreRecorder of expect_iot_core steps


def git_commit(root: Path) -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or "unknown"


class TimelineWatcher:
    """Polls what the devices reported (installed components, deployments) and records changes."""

    def __init__(self, ctx: RunContext, result: ScenarioResult, client: Callable[..., Any]) -> None:
        self.ctx = ctx
        self.result = result
        self.fleet = FleetOperator(client, bucket=ctx.fleet.bucket, create_bucket=False)
        self._last: dict[tuple[str, str, str], str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="timeline", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(15)
        self.poll()  # the final states

    def _loop(self) -> None:
        while not self._stop.wait(1.0):
            with contextlib.suppress(Exception):
                self.poll()

    def _note(
        self, device: str, kind: str, name: str, state: str, version: str | None, detail: str = ""
    ) -> None:
        key = (device, kind, name)
        value = f"{state}@{version}"
        if self._last.get(key) != value:
            self._last[key] = value
            self.result.timeline.append(
                TimelineEvent(time.time(), device, kind, name, state, version, detail)
            )

    def poll(self) -> None:
        for thing in list(self.ctx.devices):
            for name, comp in self.fleet.installed(thing).items():
                if name in self.ctx.scenario.components:
                    self._note(
                        thing,
                        "component",
                        name,
                        str(comp.get("lifecycleState")),
                        comp.get("componentVersion"),
                    )
            for handle in list(self.ctx.deployments.values()):
                if thing not in handle.things:
                    continue
                item = self.fleet.effective_deployment(thing, handle.deployment_id)
                if item is not None:
                    status = str(item.get("coreDeviceExecutionStatus"))
                    self._note(
                        thing, "deployment", handle.deployment_id, status, None, str(item.get("reason") or "")
                    )


# --------------------------------------------------------------------------------------------
# steps


def _things(ctx: RunContext, devices: Any) -> list[str]:
    if devices in (None, "all", "any"):
        return list(ctx.devices)
    return [str(d) for d in devices]


def step_deploy(ctx: RunContext, step: m.DeployStep) -> dict[str, Any]:
    target = substitute(step.target, ctx.values)
    if target.startswith("thing:"):
        thing = target.split(":", 1)[1]
        arn, things = ctx.fleet.thing_arn(thing), [thing]
    else:
        arn = ctx.fleet.thing_group_arn(target)
        things = [d.thing for d in ctx.devices.values() if d.group == target]
    components: dict[str, dict[str, Any]] = {}
    for name, spec in step.components.items():
        merge = json.loads(substitute(json.dumps(spec.merge), ctx.values)) if spec.merge is not None else None
        components[name] = {"version": spec.version, "merge": merge, "reset": list(spec.reset)}
    deployment_id = ctx.fleet.deploy(
        arn,
        components,
        name=f"{ctx.scenario.name}-{step.id}",
        failure_handling=step.failure_handling,
        timeout_s=step.timeout_s,
    )
    ctx.deployments[step.id] = DeploymentHandle(deployment_id, target, things, time.time())
    return {"deploymentId": deployment_id, "target": target, "things": things, "components": components}


def _wait(what: str, timeout: float, probe: Callable[[], tuple[bool, Any]]) -> Any:
    """Poll ``probe`` → (done, last) until done or ``timeout``; StepFailed with the last state."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        done, last = probe()
        if done:
            return last
        if time.monotonic() >= deadline:
            raise StepFailed(f"{what}: not within {timeout:g} s (last seen: {last})", details={"last": last})
        time.sleep(_POLL_S)


def step_wait_for(ctx: RunContext, step: m.WaitForStep) -> dict[str, Any]:
    if step.what == "deployment":
        assert step.deployment is not None  # the loader requires it for a deployment wait
        handle = ctx.deployments[step.deployment]
        statuses: dict[str, Any] = {}

        def deployment_done() -> tuple[bool, Any]:
            for thing in handle.things:
                item = ctx.fleet.effective_deployment(thing, handle.deployment_id)
                statuses[thing] = (
                    None
                    if item is None
                    else {
                        "status": item.get("coreDeviceExecutionStatus"),
                        "reason": item.get("reason"),
                        **({"statusDetails": item["statusDetails"]} if item.get("statusDetails") else {}),
                    }
                )
            if step.status not in FINAL_DEPLOYMENT_STATUSES:
                # waiting for a passing status (QUEUED, IN_PROGRESS): done once every device shows
                # it; a device that already finished can never show it again
                finished = {
                    t: s for t, s in statuses.items() if s and s["status"] in FINAL_DEPLOYMENT_STATUSES
                }
                if finished:
                    raise StepFailed(
                        f"deployment {step.deployment}: expected {step.status}, but it already finished: "
                        f"{finished}",
                        details=dict(statuses),
                    )
                reached = [s for s in statuses.values() if s and s["status"] == step.status]
                return len(reached) == len(handle.things), dict(statuses)
            finals = [s for s in statuses.values() if s and s["status"] in FINAL_DEPLOYMENT_STATUSES]
            return len(finals) == len(handle.things), dict(statuses)

        goal = "finish" if step.status in FINAL_DEPLOYMENT_STATUSES else f"be {step.status}"
        seen = _wait(
            f"deployment {step.deployment} to {goal} on {handle.things}", step.timeout_s, deployment_done
        )
        wrong = {t: s for t, s in seen.items() if s["status"] != step.status}
        if wrong:
            raise StepFailed(
                f"deployment {step.deployment}: expected {step.status}, got {wrong}", details=seen
            )
        if step.reason_contains:
            missing = {
                t: s
                for t, s in seen.items()
                if step.reason_contains not in f"{s.get('reason') or ''} {json.dumps(s.get('statusDetails'))}"
            }
            if missing:
                raise StepFailed(
                    f"deployment {step.deployment}: reason lacks {step.reason_contains!r}: {missing}",
                    details=seen,
                )
        return {"deploymentId": handle.deployment_id, "devices": seen}
    if step.what == "component":
        things = _things(ctx, step.devices)
        need_all = step.devices != "any"

        def component_ready() -> tuple[bool, Any]:
            states = {}
            for thing in things:
                comp = ctx.fleet.installed(thing).get(str(step.component))
                states[thing] = (
                    None if comp is None else f"{comp.get('lifecycleState')}@{comp.get('componentVersion')}"
                )
            ok = [
                s is not None
                and s.split("@")[0] == step.state
                and (step.version is None or s.endswith(f"@{step.version}"))
                for s in states.values()
            ]
            return (all(ok) if need_all else any(ok)), states

        wanted = f"{step.component} {step.state}" + (f" at {step.version}" if step.version else "")
        states = _wait(f"{wanted} on {things}", step.timeout_s, component_ready)
        return {"states": states}
    things = _things(ctx, step.devices)

    def device_status() -> tuple[bool, Any]:
        states = {t: ctx.fleet.core_device_status(t) for t in things}
        return all(s == step.status for s in states.values()), states

    return {"status": _wait(f"core devices {things} {step.status}", step.timeout_s, device_status)}


def step_expect_messages(ctx: RunContext, step: m.ExpectMessagesStep) -> dict[str, Any]:
    topic = substitute(step.topic, ctx.values)
    start_ns = time.time_ns()
    deadline = time.monotonic() + step.within_s
    collect_whole_window = bool(
        step.min_rate_per_s
        or step.latency_p50_ms
        or step.latency_p95_ms
        or step.accuracy
        or step.max_gap_s
        or step.sequence
    )
    min_count = step.min_count if step.min_count is not None else 1
    records = []
    while time.monotonic() < deadline:
        records = ctx.recorder.records(topic, since_ns=start_ns)
        if len(records) >= min_count and not collect_whole_window:
            break
        time.sleep(0.2)
    end_ns = time.time_ns()
    records = ctx.recorder.records(topic, since_ns=start_ns, until_ns=end_ns)
    window_s = (end_ns - start_ns) / 1e9
    details: dict[str, Any] = {"topic": topic, "messages": len(records), "window_s": round(window_s, 2)}
    payloads = []
    for record in records:
        try:
            payloads.append((record.received_ns, record.json()))
        except ValueError:
            raise StepFailed(
                f"{topic}: a message is not JSON: {record.value[:200]!r}", details=details
            ) from None
    assert ctx.result is not None
    for received_ns, payload in payloads:
        frame = payload.get("id") if isinstance(payload, dict) else None
        objects = payload.get("objects") if isinstance(payload, dict) else None
        ctx.result.messages.append(
            MessageSample(
                received=received_ns / 1e9,
                topic=topic,
                latency_ms=next(iter(latency_ms([(received_ns, payload)])), None),
                frame_id=int(frame) if isinstance(frame, str) and frame.isdigit() else None,
                objects=len(objects) if isinstance(objects, list) else 0,
            )
        )
    if len(records) < min_count:
        raise StepFailed(
            f"{topic}: {len(records)} messages in {window_s:.1f} s, expected at least {min_count}",
            details=details,
        )
    if step.min_rate_per_s and len(records) / window_s < step.min_rate_per_s:
        rate = len(records) / window_s
        raise StepFailed(
            f"{topic}: {rate:.2f} messages/s, expected at least {step.min_rate_per_s}", details=details
        )
    for _, payload in payloads:
        problem = schema_problem(payload, step.schema)
        if problem:
            raise StepFailed(f"{topic}: not a {step.schema}-schema message: {problem}", details=details)
    _check_predicates(topic, step, [p for _, p in payloads], details)
    latencies = latency_ms(payloads)
    if latencies:
        details["latency_ms"] = summarize(latencies)
    for budget, key in ((step.latency_p50_ms, "p50"), (step.latency_p95_ms, "p95")):
        if budget is not None:
            got = details.get("latency_ms", {}).get(key)
            if got is None or got > budget:
                raise StepFailed(
                    f"{topic}: frame→Kafka latency {key} {got} ms over the budget {budget} ms",
                    details=details,
                )
    if step.max_gap_s:
        gap = largest_gap_s([r.received_ns for r in records], start_ns, end_ns)
        details["largest_gap_s"] = round(gap, 2)
        if gap > step.max_gap_s:
            raise StepFailed(
                f"{topic}: {gap:.1f} s without a message, allowed {step.max_gap_s} s", details=details
            )
    if step.max_outage_s is not None:
        first_ns = records[0].received_ns if records else end_ns
        _check_outage(ctx, topic, step.max_outage_s, start_ns, first_ns, details)
    if step.sequence is not None:
        _check_sequence(ctx, topic, step.sequence, start_ns, [p for _, p in payloads], details)
    if step.accuracy is not None:
        details["accuracy"] = _accuracy(ctx, step, payloads)
    return details


def _check_outage(
    ctx: RunContext, topic: str, limit_s: float, start_ns: int, first_ns: int, details: dict[str, Any]
) -> None:
    """``max_outage_s``: how long the topic was silent before the window's first message — across
    an update, the app's downtime as a consumer sees it (old version's last message → new one's
    first)."""
    before = ctx.recorder.records(topic, until_ns=start_ns - 1)
    since_ns = before[-1].received_ns if before else start_ns
    outage = (first_ns - since_ns) / 1e9
    details["outage_s"] = round(outage, 2)
    details["outage_from"] = "the last message before the window" if before else "the window's start"
    if outage > limit_s:
        raise StepFailed(
            f"{topic}: {outage:.1f} s without a message from {details['outage_from']} to the window's "
            f"first, allowed {limit_s:g} s",
            details=details,
        )


def _check_sequence(
    ctx: RunContext,
    topic: str,
    spec: m.SequenceSpec,
    start_ns: int,
    payloads: list[Any],
    details: dict[str, Any],
) -> None:
    """``sequence``: no duplicates, no gap larger than ``step``, per group — counting on from
    each group's last value received before the window, so messages lost during a fault injected
    by the step before show as a gap at the window's start."""
    before: dict[str, Number] = {}
    for record in ctx.recorder.records(topic, until_ns=start_ns - 1):
        try:
            payload = record.json()
        except ValueError:
            continue
        group, number = group_at(payload, spec.per), number_at(payload, spec.field)
        if group is not None and number is not None:
            before[group] = number  # records are in the order received: the last one wins
    found = check_sequence(payloads, spec.field, spec.per, spec.step, before)
    details["sequence"] = found.groups
    if found.problems:
        what = f"sequence of {spec.field}" + (f" per {spec.per}" if spec.per else "")
        counts = f"{found.duplicates} duplicate(s), {found.gaps} gap(s) larger than {spec.step:g}"
        shown = "; ".join(found.problems[:4]) + ("; …" if len(found.problems) > 4 else "")
        raise StepFailed(f"{topic}: {what}: {counts}: {shown}", details=details)


def _check_predicates(
    topic: str, step: m.ExpectMessagesStep, payloads: list[Any], details: dict[str, Any]
) -> None:
    """``match: all``: every message meets every predicate; ``any``: at least one message does."""
    first_problem = None
    for payload in payloads:
        problems = [p for p in (predicate_problem(payload, pred) for pred in step.where) if p]
        if problems and step.match == "all":
            raise StepFailed(f"{topic}: {problems[0]} (in {json.dumps(payload)[:300]})", details=details)
        if not problems and step.match == "any":
            return
        first_problem = first_problem or (problems[0] if problems else None)
    if step.match == "any" and step.where and payloads:
        raise StepFailed(
            f"{topic}: no message meets every predicate (first problem: {first_problem})", details=details
        )


def _accuracy(ctx: RunContext, step: m.ExpectMessagesStep, payloads: list[tuple[int, Any]]) -> dict[str, Any]:
    """Score one full pass of the looped clip against the world's truth (see docs/scenarios.md)."""
    from harness.eval.pipeline import score_pipeline

    truth_dir = ctx.work / "world"
    truth = json.loads((truth_dir / "truth.json").read_text())
    frames = int(truth["frame_count"])
    passes: dict[int, list[tuple[int, Any]]] = {}
    for received_ns, payload in payloads:
        passes.setdefault(int(payload["id"]) // frames, []).append((received_ns, payload))
    if not passes:
        raise StepFailed("no messages to score")
    best = max(passes, key=lambda k: len(passes[k]))
    path = ctx.work / f"messages-{step.id}.jsonl"
    with path.open("w") as out:
        for received_ns, payload in passes[best]:
            local = dict(payload, id=str(int(payload["id"]) % frames))
            out.write(json.dumps({"received_ns": received_ns, "payload": local}) + "\n")
    score = score_pipeline(truth_dir, messages=path, max_count_error=1e9, allow_training_seeds=True)
    roi, count = score.roi_messages, score.count_messages
    row = {
        "step": step.name,
        "messages": len(passes[best]),
        "roi_precision": None if roi is None else roi.precision,
        "roi_recall": None if roi is None else roi.recall,
        "class_accuracy": None if roi is None else roi.class_accuracy,
        "count_error": None if count is None else count.error,
        "counted": None if count is None else count.predicted,
        "truth": None if count is None else count.truth,
    }
    assert ctx.result is not None
    ctx.result.accuracy.append(row)
    ctx.accuracy[step.id] = row
    assert step.accuracy is not None  # only steps with accuracy bounds are scored
    problems = accuracy_problems(row, step.accuracy, ctx.accuracy)
    if problems:
        raise StepFailed("accuracy: " + "; ".join(problems), details={"accuracy": row})
    return row


def accuracy_problems(
    row: dict[str, Any], spec: m.AccuracySpec, earlier: dict[str, dict[str, Any]]
) -> list[str]:
    """What of ``spec`` the figures of ``row`` miss; ``earlier`` holds the rows of the steps
    before, by id, for ``improves_on``. A figure that could not be computed (None) misses."""
    problems = []
    for key, bound, label in (
        ("roi_precision", spec.min_roi_precision, "ROI precision"),
        ("roi_recall", spec.min_roi_recall, "ROI recall"),
        ("class_accuracy", spec.min_class_accuracy, "class accuracy"),
    ):
        if bound is not None and (row[key] is None or row[key] < bound):
            problems.append(f"{label} {_figure(row[key])} < {bound}")
    if spec.max_count_error is not None and (
        row["count_error"] is None or row["count_error"] > spec.max_count_error
    ):
        problems.append(f"counting error {_figure(row['count_error'])} > {spec.max_count_error}")
    if spec.improves_on is not None:
        before = earlier.get(spec.improves_on.step)
        if before is None:
            problems.append(
                f"no accuracy figures of step {spec.improves_on.step!r} to improve on (it failed before "
                "scoring, or did not run)"
            )
        else:
            for key in spec.improves_on.metrics:
                new, old = row.get(key), before.get(key)
                better = (
                    new is not None and old is not None and (new < old if key == "count_error" else new > old)
                )
                if not better:
                    problems.append(
                        f"{key} {_figure(new)} does not improve on {_figure(old)} "
                        f"of {spec.improves_on.step!r}"
                    )
    return problems


def _figure(value: float | None, digits: int = 3) -> str:
    return "undefined" if value is None else f"{value:.{digits}f}"


def step_assert_logs(
    ctx: RunContext, step: m.AssertLogsStep, offsets: dict[tuple[str, str], int]
) -> dict[str, Any]:
    things = _things(ctx, step.devices)
    name = "greengrass" if step.source == "greengrass" else str(step.component)
    follower = LogFollower(ctx, {thing: name for thing in things}, offsets)
    pattern = (
        re.compile(step.regex)
        if step.regex
        else re.compile(re.escape(substitute(step.contains or "", ctx.values)))
    )
    deadline = time.monotonic() + step.within_s
    found: dict[str, str] = {}
    while True:
        for thing, line in follower.new_lines(skip=found):
            if pattern.search(line):
                found.setdefault(thing, line.strip())
        done = len(found) == len(things) if step.devices != "any" else bool(found)
        if (done and not step.absent) or time.monotonic() >= deadline:
            break
        if step.absent and found:
            break
        time.sleep(0.3)
    logs = {f"{t}: {name}.log": device_log_tail(ctx.devices[t], name) for t in things}
    if step.absent and found:
        raise StepFailed(
            f"{pattern.pattern!r} appeared although it must not: {found}", details={"found": found}, logs=logs
        )
    if not step.absent and not (len(found) == len(things) if step.devices != "any" else found):
        missing = [t for t in things if t not in found]
        raise StepFailed(
            f"{pattern.pattern!r} not in the log of {missing} within {step.within_s:g} s",
            details={"found": found},
            logs=logs,
        )
    return {"found": found}


class LogFollower:
    """New whole lines of one log per device, read through the device's log capability from
    the byte offsets a step started at; a log that shrank (a new file) is read from its start,
    and a line still being written waits for its end."""

    def __init__(self, ctx: RunContext, logs: dict[str, str], offsets: dict[tuple[str, str], int]) -> None:
        self.devices = {thing: _logs_of(ctx, thing) for thing in logs}
        self.logs = logs
        self.positions = {thing: offsets.get((thing, name), 0) for thing, name in logs.items()}
        self.rest = dict.fromkeys(logs, b"")

    def new_lines(self, skip: Container[str] = ()) -> Iterator[tuple[str, str]]:
        for thing, name in self.logs.items():
            if thing in skip:
                continue
            device = self.devices[thing]
            chunk = device.read_log(name, self.positions[thing])
            if not chunk and device.log_sizes().get(name, 0) < self.positions[thing]:
                self.positions[thing], self.rest[thing] = 0, b""
                chunk = device.read_log(name, 0)
            self.positions[thing] += len(chunk)
            *lines, self.rest[thing] = (self.rest[thing] + chunk).split(b"\n")
            for line in lines:
                yield thing, line.decode(errors="replace")


def _logs_of(ctx: RunContext, thing: str) -> HasLogs:
    device = ctx.devices[thing]
    if not isinstance(device, HasLogs):  # the loader refuses such scenarios for such targets
        raise HarnessError(f"the logs of {thing} cannot be read on this target")
    return device


def device_log_tail(device: Any, name: str, lines: int = 40) -> str:
    """The last ``lines`` lines of one of a device's logs, for a failed step's excerpts."""
    if not isinstance(device, HasLogs):
        return "(this target cannot read the device's logs)"
    size = device.log_sizes().get(name)
    if size is None:
        return f"({device.log_location(name)} does not exist)"
    text = device.read_log(name, max(0, size - 64 * 1024)).decode(errors="replace")
    return "\n".join(text.splitlines()[-lines:])


#: the device faults that last ``duration_s``: the capability each needs
_DEVICE_FAULTS: dict[str, type] = {"pause_device": CanPause, "partition_device": CanPartition}
#: a service fault's action → (what the service does, what ends the fault after duration_s)
_SERVICE_ACTIONS = {"pause": ("pause", "resume"), "stop": ("halt", "restart"), "kill": ("kill", "restart")}
#: past tense of the actions, for step summaries and the timeline
_DONE = {
    "pause": "paused",
    "resume": "resumed",
    "halt": "stopped",
    "kill": "killed",
    "restart": "restarted",
    "disconnect": "disconnected",
    "reconnect": "reconnected",
    "start": "started",
}


#: a device fault's action → the state its lane in the report's timeline shows afterwards
_DEVICE_LANE_STATES = {"resumed": "running", "reconnected": "running", "disconnected": "down (disconnected)"}


def step_inject(ctx: RunContext, step: m.InjectStep) -> dict[str, Any]:
    """Put a fault in: on a device, on a service (``ctx.services``) or on S3 and the artifacts.

    With ``after_log`` the step first waits (at most ``within_s``) for that line in the logs,
    counting only lines written since the previous step ended. A fault with ``duration_s`` lasts
    that long *inside* the step — no timer runs behind the next steps — and is then undone
    (resume, restart, reconnect); ``details["events"]`` and the timeline say what happened when.
    The exception is ``s3_outage``: the endpoint ends it by itself, so the step returns at once and
    the next steps (a deploy) run during the outage.
    """
    offsets = _log_offsets(ctx)  # the logs as the previous step left them
    details: dict[str, Any] = {"fault": step.fault}
    if step.after_log is not None:
        details["after_log"] = _wait_for_log_line(ctx, step.after_log, offsets)
    events: list[dict[str, Any]] = []
    details["events"] = events

    def note(action: str, device: str = "") -> None:
        now = time.time()
        events.append({"time": round(now, 3), "action": action})
        assert ctx.result is not None
        ctx.result.timeline.append(TimelineEvent(now, "", "inject", action, "injected", detail=step.name))
        if device:  # the device's own lane shows it too, coloured by what its state means
            state = _DEVICE_LANE_STATES.get(action.split()[0], action.split()[0])
            ctx.result.timeline.append(
                TimelineEvent(now, device, "device", "device", state, detail=step.name)
            )

    if step.fault in ("kill_device", "restart_device"):
        device = _fault_device(ctx, step, CanPowerCycle)
        device.kill()
        note(f"killed {device.thing}", device.thing)
        if step.fault == "restart_device" or step.duration_s:
            if step.duration_s:
                time.sleep(step.duration_s)
            device.start()
            device.wait_booted()
            note(f"started {device.thing}", device.thing)
        details.update(device=device.thing, starts=device.starts)
    elif step.fault in _DEVICE_FAULTS:
        device = _fault_device(ctx, step, _DEVICE_FAULTS[step.fault])
        assert step.duration_s is not None  # the loader requires it
        pausing = step.fault == "pause_device"
        put, undo = ("pause", "resume") if pausing else ("disconnect", "reconnect")
        if pausing:
            device.pause()
        else:
            device.disconnect(step.duration_s)
        note(f"{_DONE[put]} {device.thing}", device.thing)
        time.sleep(step.duration_s)
        if pausing:
            device.resume()
        else:
            device.reconnect()
        note(f"{_DONE[undo]} {device.thing}", device.thing)
        details.update(device=device.thing, duration_s=step.duration_s)
    elif step.service_action is not None:
        assert step.service is not None
        details.update(_service_fault(ctx, step, note))
    elif step.fault == "s3_outage":
        aws = ctx.services.get("aws")
        if aws is None:
            raise HarnessError(
                "s3_outage needs the emulated AWS endpoint; with --target aws S3 is the real one",
                hint="run the scenario with --target sim",
            )
        assert step.duration_s is not None  # the loader requires it
        outage = aws.outage("s3", step.duration_s, step.status or 503)
        note(f"S3 outage: HTTP {outage['status']} for {step.duration_s:g} s")
        details.update(
            service="s3",
            status=outage["status"],
            duration_s=step.duration_s,
            until=round(time.time() + step.duration_s, 3),
        )
    elif step.fault == "replace_artifact":
        assert step.component and step.version and step.file  # the loader requires them
        published = ctx.published[(step.component, step.version)]
        body = (ctx.scenario.path.parent / step.file).resolve()
        for uploaded in published.artifacts.values():
            ctx.fleet.replace_artifact(uploaded, body)
        note(f"replaced {step.component} {step.version} artifact")
        details.update(replaced=list(published.artifacts.values()), with_file=str(body))
    else:
        raise HarnessError(f"inject {step.fault!r} is not implemented")
    return details


def _fault_device(ctx: RunContext, step: m.InjectStep, capability: type) -> Any:
    """The step's device, which must have ``capability`` (a protocol of
    :mod:`harness.targets.capabilities`; the loader refuses the scenario for a target without it)."""
    assert step.device is not None  # the loader requires it for device faults
    thing = substitute(step.device, ctx.values)
    if thing not in ctx.devices:
        raise HarnessError(
            f"inject {step.fault}: no device {thing!r}", hint=f"devices: {', '.join(ctx.devices)}"
        )
    device = ctx.devices[thing]
    if not isinstance(device, capability):
        raise HarnessError(
            f"inject {step.fault}: {thing} cannot do that on this target",
            hint="edge-harness lint scenario --target … says which steps a target cannot run",
        )
    return device


def _service_fault(ctx: RunContext, step: m.InjectStep, note: Callable[..., None]) -> dict[str, Any]:
    """pause/stop/kill a service; after ``duration_s`` (slept here) resume or restart it."""
    name, action = step.service, step.service_action
    assert name is not None and action is not None
    if name not in ctx.services:
        raise HarnessError(
            f"inject {step.fault}: this run has no {name} service",
            hint="declare services.triton to start Triton" if name == "triton" else "",
        )
    service = ctx.services[name]
    if service is None:
        raise HarnessError(
            f"inject {step.fault}: with --target aws the {name} endpoint is real AWS, which the harness "
            "cannot pause, stop or kill",
            hint="service faults need the emulated services: --target sim",
        )
    put, undo = _SERVICE_ACTIONS[action]
    started = time.monotonic()
    out: dict[str, Any] = {"service": name, "action": action, "endpoints": dict(service.endpoints)}
    getattr(service, put)()
    note(f"{_DONE[put]} {name}")
    if step.duration_s is None:
        out["down"] = "until the end of the run"
        if action == "pause":
            ctx.paused.append(name)
        return out
    time.sleep(step.duration_s)
    getattr(service, undo)()
    if undo == "restart" and name == "kafka":
        _kafka_restarted(ctx, service)
    note(f"{_DONE[undo]} {name}")
    out.update(duration_s=step.duration_s, down_s=round(time.monotonic() - started, 2))
    return out


def end_open_faults(ctx: RunContext) -> None:
    """After the last step: resume what a ``pause_service`` without ``duration_s`` left frozen.

    "Until the end of the run" ends here, before the teardown, which still talks to the services
    (the timeline's last poll, devices reporting their shutdown) and would otherwise wait out
    each client's timeout on a frozen endpoint. Stopped and killed services stay down.
    """
    for name in ctx.paused:
        with contextlib.suppress(Exception):  # the teardown stops it either way
            ctx.services[name].resume()
            if ctx.result is not None:
                ctx.result.timeline.append(
                    TimelineEvent(
                        time.time(), "", "inject", f"resumed {name}", "injected", detail="end of run"
                    )
                )
    ctx.paused.clear()


def _kafka_restarted(ctx: RunContext, kafka: Any) -> None:
    """A restarted broker may have come back empty (tansu keeps everything in memory): create the
    scenario's topics again and let the recorder read them from their new start. Records read
    before the fault are kept."""
    for topic in ctx.scenario.services.topics:
        with contextlib.suppress(Exception):  # a broker that kept its topics already has it
            kafka.create_topic(substitute(topic, ctx.values))
    ctx.recorder.reconnect()


def _wait_for_log_line(
    ctx: RunContext, trigger: m.LogTrigger, offsets: dict[tuple[str, str], int]
) -> dict[str, Any]:
    """Until the trigger's line is in the log of each (``any``: one) of its devices, reading only
    what was written after ``offsets``; StepFailed with the log tails after ``within_s``."""
    if isinstance(trigger.devices, tuple):
        things = [substitute(thing, ctx.values) for thing in trigger.devices]
    else:
        things = list(ctx.devices)
    unknown = [thing for thing in things if thing not in ctx.devices]
    if unknown:
        raise HarnessError(f"after_log: no device {unknown[0]!r}", hint=f"devices: {', '.join(ctx.devices)}")
    name = trigger.component or "greengrass"
    follower = LogFollower(ctx, dict.fromkeys(things, name), offsets)
    pattern = (
        re.compile(trigger.regex)
        if trigger.regex
        else re.compile(re.escape(substitute(trigger.contains or "", ctx.values)))
    )
    need = len(things) if trigger.devices != "any" else 1
    found: dict[str, str] = {}
    started = time.monotonic()
    while True:
        for thing, line in follower.new_lines(skip=found):
            if thing not in found and pattern.search(line):
                found[thing] = line.strip()[:300]
        if len(found) >= need:
            # what the author wrote (a contains text is searched escaped, as a regex)
            looked_for = (
                {"regex": trigger.regex}
                if trigger.regex
                else {"contains": substitute(trigger.contains or "", ctx.values)}
            )
            return {**looked_for, "found": found, "waited_s": round(time.monotonic() - started, 2)}
        if time.monotonic() - started >= trigger.within_s:
            missing = [thing for thing in things if thing not in found]
            raise StepFailed(
                f"after_log: {pattern.pattern!r} not in the {name}.log of {', '.join(missing)} within "
                f"{trigger.within_s:g} s; the fault was not injected",
                details={"found": found},
                logs={f"{thing}: {name}.log": device_log_tail(ctx.devices[thing], name) for thing in things},
            )
        time.sleep(0.2)


def _inject_summary(details: dict[str, Any]) -> str:
    """One line for the report: what was done, when (seconds after the step started)."""
    events = details.get("events") or []
    if not events:
        return ""
    start = events[0]["time"]
    text = ", ".join(
        f"{event['action']}" + (f" (+{event['time'] - start:.1f} s)" if index else "")
        for index, event in enumerate(events)
    )
    trigger = details.get("after_log")
    if trigger:
        looked_for = trigger.get("contains") or trigger.get("regex")
        text += f"; after {looked_for!r} appeared ({trigger['waited_s']:g} s)"
    return text


def step_snapshot(ctx: RunContext, step: m.SnapshotStep) -> dict[str, Any]:
    """Open the stream with OpenCV (FFmpeg, RTSP over TCP) and keep ``frames`` thumbnails."""
    import cv2

    from harness.scenario.result import Thumbnail

    url = substitute(step.url, ctx.values)
    os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", "rtsp_transport;tcp")
    deadline = time.monotonic() + step.timeout_s
    capture = None
    while capture is None and time.monotonic() < deadline:
        attempt = cv2.VideoCapture(url, cv2.CAP_FFMPEG)
        if attempt.isOpened():
            capture = attempt
        else:
            attempt.release()
            time.sleep(0.5)
    if capture is None:
        raise StepFailed(f"cannot open {url} within {step.timeout_s:g} s")
    kept: list[tuple[int, int]] = []
    try:
        next_at = time.monotonic()
        while len(kept) < step.frames and time.monotonic() < deadline:
            ok, frame = capture.read()
            if not ok:
                break
            if time.monotonic() < next_at:
                continue
            next_at = time.monotonic() + 1.0
            height, width = frame.shape[:2]
            small = cv2.resize(
                frame, (480, max(1, round(480 * height / width))), interpolation=cv2.INTER_AREA
            )
            ok, png = cv2.imencode(".png", small)
            if ok:
                assert ctx.result is not None
                caption = f"{step.name} · {len(kept) + 1}/{step.frames} · {width}x{height}"
                ctx.result.thumbnails.append(Thumbnail(caption, png.tobytes()))
                kept.append((width, height))
    finally:
        capture.release()
    if len(kept) < step.frames:
        raise StepFailed(
            f"{url}: read {len(kept)} of {step.frames} frames before the stream ended or timed out"
        )
    return {"url": url, "frames": len(kept), "size": f"{kept[0][0]}x{kept[0][1]}"}


def step_sleep(_ctx: RunContext, step: m.SleepStep) -> dict[str, Any]:
    time.sleep(step.seconds)
    return {"seconds": step.seconds}


# --------------------------------------------------------------------------------------------
# the run

ProgressCallback = Callable[[str, StepResult | None], None]


class ScenarioRunner:
    """Runs one scenario on a target (:mod:`harness.targets`) and returns its result.

    ``target`` is ``sim`` (``backend`` process or docker), ``aws`` or ``lab`` (``lab``: the lab
    description file), or a ready :class:`~harness.targets.target.Target`. The runner talks to
    the target only through that protocol and the device capabilities. ``progress`` is called
    with a line of text (and the step result when a step ended) so a CLI can show live progress;
    ``work`` keeps device roots, artifacts, logs and the world.
    """

    def __init__(
        self,
        scenario: m.Scenario,
        work: Path,
        *,
        backend: str = "process",
        target: str | Target = "sim",
        kafka_bootstrap: str | None = None,
        bucket: str | None = None,
        progress: ProgressCallback | None = None,
        lab: Path | None = None,
    ) -> None:
        from harness.targets.choice import make_target

        # A snapshot joins a stream between key frames, and OpenCV's FFmpeg then logs "non-existing
        # PPS" until the next one. OpenCV reads its FFmpeg log level once, when it first uses FFmpeg
        # (the world's video may come first): set it before anything runs. 8 = AV_LOG_FATAL.
        os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "8")
        self.scenario = scenario
        self.work = work
        self.target_impl: Target = (
            make_target(target, scenario, work, backend=backend, kafka_bootstrap=kafka_bootstrap, lab=lab)
            if isinstance(target, str)
            else target
        )
        self.target = self.target_impl.name
        self.backend = self.target_impl.runtime
        self.kafka_bootstrap = kafka_bootstrap
        self.bucket = bucket
        self.progress = progress or (lambda _text, _step: None)
        self._interrupted: KeyboardInterrupt | None = None

    def run(self) -> ScenarioResult:
        self.work.mkdir(parents=True, exist_ok=True)
        root = Path(__file__).resolve().parents[2]
        result = ScenarioResult(
            scenario=self.scenario.name,
            path=str(self.scenario.path),
            target=self.target,
            backend=self.backend,
            started=time.time(),
        )
        result.properties.update(
            {
                "scenario": self.scenario.name,
                "target": self.target,
                "backend": self.backend,
                "device profiles": ", ".join(sorted({d.profile for d in self.scenario.devices})),
                "component versions": ", ".join(
                    f"{name} {', '.join(versions)}" for name, versions in self.scenario.components.items()
                ),
                "git commit": git_commit(root),
            }
        )
        t0 = time.monotonic()
        target = self.target_impl
        with contextlib.ExitStack() as stack:
            try:
                started = target.start_services(stack, lambda text: self.progress(text, None))
                kafka, client = started.kafka, started.client
                for topic in self.scenario.services.topics:
                    with contextlib.suppress(Exception):  # an existing topic on a shared broker is fine
                        kafka.create_topic(topic)
                services = started.faultable
                result.phases["services"] = round(time.monotonic() - t0, 2)
                fleet = FleetOperator(client, bucket=self.bucket, create_bucket=self.bucket is None)
                values = self._values(kafka, fleet)
                values.update(started.values)
                values.update(_aws_values(started.aws, client))
                self._secure_artifacts(started.aws, fleet, values)
                if self.scenario.world is not None:
                    t = time.monotonic()
                    from harness.world import WorldParams, write_world

                    self.progress("rendering the world's ground truth", None)
                    write_world(
                        WorldParams(seed=self.scenario.world.seed, seconds=self.scenario.world.seconds),
                        self.work / "world",
                    )
                    result.phases["world"] = round(time.monotonic() - t, 2)
                t = time.monotonic()
                published = self._publish(fleet)
                result.phases["upload"] = round(time.monotonic() - t, 2)
                recorder = TopicRecorder(kafka, list(self.scenario.services.topics))
                recorder.start()
                stack.callback(recorder.stop)
                devices = target.devices(stack, started, values, COMPONENT_LATENCY_ENVIRONMENT)
                ctx = RunContext(self.scenario, self.work, fleet, kafka, devices, recorder, values, published)
                ctx.result = result
                ctx.services = services
                ctx.client = client
                from harness.scenario.iot_core_step import IotCoreRecorder

                ctx.iot_core = IotCoreRecorder(started.iot_core)
                ctx.iot_core.start(self.scenario, values)  # before the devices publish anything
                t = time.monotonic()
                target.boot(devices, lambda text: self.progress(text, None))
                result.phases["devices"] = round(time.monotonic() - t, 2)
                watcher = TimelineWatcher(ctx, result, client)
                watcher.start()
                stack.callback(watcher.stop)
                self._steps(ctx, result)
                end_open_faults(ctx)
                read_perf_lines(ctx, result)
                read_element_latency(ctx, result)
                result.device_reports.update(target.finish(devices))
            except KeyboardInterrupt as interrupt:  # Ctrl-C, or SIGTERM turned into one by the CLI
                self._interrupted = interrupt
                how = getattr(interrupt, "signal_name", "") or "Ctrl-C"
                result.steps.append(
                    StepResult(
                        len(result.steps) + 1, "interrupt", "interrupted", "error", time.time(), 0.0, how
                    )
                )
        result.duration_s = round(time.monotonic() - t0, 2)
        if self._interrupted is not None:
            raise self._interrupted
        return result

    def _values(self, kafka: Any, fleet: FleetOperator) -> dict[str, str]:
        from harness.services.ports import free_ports

        bootstrap = kafka.bootstrap_servers.split(",")[0]
        host, port = bootstrap.rsplit(":", 1)
        values = {
            "kafka.host": host,
            "kafka.port": port,
            "kafka.bootstrap": bootstrap,
            "aws.bucket": fleet.bucket,
        }
        values.update({f"var.{k}": str(v) for k, v in self.scenario.variables.items()})
        names = sorted(
            {ref.split(".", 1)[1] for ref in self.scenario.references() if ref.startswith("free_port.")}
        )
        for name, port_number in zip(names, free_ports(len(names)) if names else [], strict=True):
            values[f"free_port.{name}"] = str(port_number)
        for index, thing in enumerate(self.scenario.things, 1):
            values[f"device.{index}.thing"] = thing
        return values

    def _secure_artifacts(self, aws: Any, fleet: FleetOperator, values: dict[str, str]) -> None:
        """Who may read the artifact bucket: the scenario's bucket policy, or (enforcing, without
        one) the devices' role, as the Greengrass guide has teams grant it. On --target aws the
        team's own bucket keeps its own policy."""
        path = self.scenario.services.aws_bucket_policy
        if aws is None:
            if path is not None:
                self.progress(f"--target aws: {path.name} is not put on the bucket (it keeps its own)", None)
            return
        if path is None:
            aws.allow_device_artifacts(fleet.bucket)
            return
        from botocore.exceptions import ClientError

        from harness.scenario.policy_file import render_policy_file

        if aws.enforce:
            aws.device_role()  # a policy may name the devices' role, which must exist by then
        try:
            fleet.s3.put_bucket_policy(Bucket=fleet.bucket, Policy=render_policy_file(path, values))
        except ClientError as err:
            error = err.response.get("Error", {})
            raise HarnessError(
                f"bucket policy {path}: S3 refused it: {error.get('Code')}: {error.get('Message')}",
                hint="principals must exist (${aws.device_role} is the devices' role, "
                "arn:aws:sts::${aws.account}:assumed-role/GreengrassV2TokenExchangeRole/${device.1.thing} "
                "one device's credentials) and resources must be in ${aws.bucket}",
            ) from None

    def _publish(self, fleet: FleetOperator) -> dict[tuple[str, str], PublishedVersion]:
        from harness.package import package

        published = {}
        for name, versions in self.scenario.components.items():
            for version, spec in versions.items():
                self.progress(f"publishing {name} {version}", None)
                archive = None
                if spec.artifact is not None:
                    _folder, archive = package(spec.artifact, self.work / "artifacts" / name / version)
                published[(name, version)] = fleet.publish(spec.recipe, archive)
        return published

    def _steps(self, ctx: RunContext, result: ScenarioResult) -> None:
        failed = False
        for index, step in enumerate(self.scenario.steps, 1):
            started = time.time()
            if failed:
                result.steps.append(
                    StepResult(index, step.kind, step.name, "skipped", started, 0.0, "an earlier step failed")
                )
                continue
            self.progress(f"{step.kind}: {step.name}", None)
            offsets = _log_offsets(ctx) if isinstance(step, m.AssertLogsStep) and not step.from_start else {}
            result.timeline.append(TimelineEvent(started, "", "step", step.name, "started"))
            t = time.monotonic()
            try:
                details = self._run_step(ctx, step, offsets)
                outcome = StepResult(
                    index, step.kind, step.name, "passed", started, 0.0, _summary(step, details), details
                )
            except StepFailed as failure:
                outcome = StepResult(
                    index,
                    step.kind,
                    step.name,
                    "failed",
                    started,
                    0.0,
                    str(failure),
                    failure.details,
                    failure.logs,
                )
                outcome.logs.update(_device_logs(ctx, outcome.logs))
            except HarnessError as err:
                outcome = StepResult(index, step.kind, step.name, "error", started, 0.0, str(err))
                outcome.logs.update(_device_logs(ctx, {}))
            if outcome.status != "passed":
                _name_causes(ctx, outcome, since=started)
            outcome.duration_s = round(time.monotonic() - t, 2)
            result.phases[f"step {index}: {step.name}"] = outcome.duration_s
            result.steps.append(outcome)
            self.progress(
                f"{outcome.status}: {step.name} ({outcome.duration_s:.1f} s) {outcome.message}", outcome
            )
            if outcome.status != "passed" and not step.continue_on_failure:
                failed = True

    @staticmethod
    def _run_step(ctx: RunContext, step: m.Step, offsets: dict[tuple[str, str], int]) -> dict[str, Any]:
        if isinstance(step, m.DeployStep):
            return step_deploy(ctx, step)
        if isinstance(step, m.WaitForStep):
            return step_wait_for(ctx, step)
        if isinstance(step, m.ExpectMessagesStep):
            return step_expect_messages(ctx, step)
        if isinstance(step, m.AssertLogsStep):
            return step_assert_logs(ctx, step, offsets)
        if isinstance(step, m.InjectStep):
            return step_inject(ctx, step)
        if isinstance(step, m.SleepStep):
            return step_sleep(ctx, step)
        if isinstance(step, m.SnapshotStep):
            return step_snapshot(ctx, step)
        if isinstance(step, m.ExpectIotCoreStep):
            from harness.scenario.iot_core_step import step_expect_iot_core

            return step_expect_iot_core(ctx, step)
        if isinstance(step, m.SetSecretStep):
            from harness.scenario.secret_step import step_set_secret

            return step_set_secret(ctx, step)
        if isinstance(step, (m.UpdateShadowStep, m.ExpectShadowStep)):
            from harness.scenario.shadow_steps import step_expect_shadow, step_update_shadow

            if isinstance(step, m.UpdateShadowStep):
                return step_update_shadow(ctx, step)
            return step_expect_shadow(ctx, step)
        raise HarnessError(f"step kind {step.kind!r} is not implemented")


_PERF_LINE = re.compile(r"^(\S+Z) .*?\*\*PERF:\s+(\{[^}]*\})")


def read_perf_lines(ctx: RunContext, result: ScenarioResult) -> None:
    """FPS over time from the ``**PERF:`` lines the apps printed into their component logs.

    The deepstream_python_apps style (``**PERF:  {'stream0': 29.97}``) that the seed's app
    prints once a second unless ``--silent``; the line's nucleus timestamp is its time.
    """
    import ast
    from datetime import datetime

    for device, text in _component_logs(ctx):
        for line in text.splitlines():
            match = _PERF_LINE.match(line)
            if match is None:
                continue
            try:
                stamp = datetime.fromisoformat(match.group(1).replace("Z", "+00:00")).timestamp()
                values = ast.literal_eval(match.group(2))
            except (ValueError, SyntaxError):
                continue
            for stream, fps in values.items():
                result.fps.append((stamp, f"{device.thing} {stream}", float(fps)))


def _component_logs(ctx: RunContext) -> Iterator[tuple[Any, str]]:
    """(device, log text) of every scenario component on every device whose logs the target
    can read."""
    for device in ctx.devices.values():
        if not isinstance(device, HasLogs):
            continue
        sizes = device.log_sizes()
        for name in ctx.scenario.components:
            if name in sizes:
                yield device, device.read_log(name).decode(errors="replace")


def read_element_latency(ctx: RunContext, result: ScenarioResult) -> None:
    """Per-element latency (p50/p95 … per DeepStream element) from the ``Comp name = …`` lines the
    apps printed into their component logs (``COMPONENT_LATENCY_ENVIRONMENT`` turns them on).

    The samples of every device and component are pooled per element: the report compares
    elements, not devices. Elements keep the order they first appear in (pipeline order).
    """
    samples: dict[str, list[float]] = {}
    for _device, text in _component_logs(ctx):
        for element, values in parse_component_latency(text.splitlines()).items():
            samples.setdefault(element, []).extend(values)
    result.element_latency_ms = {element: summarize(values) for element, values in samples.items()}


def _log_offsets(ctx: RunContext) -> dict[tuple[str, str], int]:
    """(thing, log name) → size now, of every log of every device whose logs can be read."""
    offsets = {}
    for thing, device in ctx.devices.items():
        if isinstance(device, HasLogs):
            for name, size in device.log_sizes().items():
                offsets[(thing, name)] = size
    return offsets


def _name_causes(ctx: RunContext, outcome: StepResult, since: float) -> None:
    """Append to a failed step's message what is wrong with the run (a component ERRORED or
    BROKEN, with its status and last error lines; a device or service that died), so the summary
    and every report show the cause next to the symptom. Read as any fleet operator would: the
    devices' reported states through boto3, their log files."""
    installed: dict[str, dict[str, dict[str, Any]]] = {}
    for thing in ctx.devices:
        try:
            installed[thing] = ctx.fleet.installed(thing)
        except Exception:  # the AWS endpoint may be what died; the other causes still count
            installed[thing] = {}
    causes = failure_causes(
        devices=ctx.devices,
        installed=installed,
        components=ctx.scenario.components,
        services=ctx.services,
        timeline=list(ctx.result.timeline) if ctx.result is not None else [],
        since=since,
    )
    if causes:
        outcome.details["causes"] = causes
        outcome.message += "".join(f"\ncause: {cause}" for cause in causes)


def _device_logs(ctx: RunContext, already: dict[str, str]) -> dict[str, str]:
    """Excerpts for a failed step: each device's nucleus log and its components' logs."""
    logs = {}
    for thing, device in ctx.devices.items():
        if not isinstance(device, HasLogs):
            continue
        for name in device.log_sizes():
            key = f"{thing}: {name}.log"
            if key not in already:
                logs[key] = device_log_tail(device, name, 25)
    return logs


def _summary(step: m.Step, details: dict[str, Any]) -> str:
    if isinstance(step, m.ExpectMessagesStep):
        text = f"{details['messages']} messages in {details['window_s']} s"
        if "latency_ms" in details:
            lat = details["latency_ms"]
            text += f", frame→Kafka p50 {lat.get('p50')} ms p95 {lat.get('p95')} ms"
        if "outage_s" in details:
            text += f", {details['outage_s']} s silent before the first"
        if "accuracy" in details:
            acc = details["accuracy"]
            text += (
                f", ROI precision {_figure(acc['roi_precision'], 2)} recall {_figure(acc['roi_recall'], 2)}"
                f", class accuracy {_figure(acc.get('class_accuracy'), 2)}"
            )
        return text
    if isinstance(step, m.WaitForStep):
        return json.dumps(details.get("devices") or details.get("states") or details.get("status"))[:200]
    if isinstance(step, m.DeployStep):
        return f"deployment {details['deploymentId']} to {details['target']}"
    if isinstance(step, m.InjectStep):
        return _inject_summary(details)
    if isinstance(step, m.ExpectIotCoreStep):
        return f"{details['matching']} matching of {details['messages']} messages on {details['topic']}"
    if isinstance(step, m.SetSecretStep):
        return f"secret {details['secret']} {details['action']}"
    if isinstance(step, (m.UpdateShadowStep, m.ExpectShadowStep)):
        return f"shadow of {details['thingName']} at version {details.get('version')}"
    return ""


def _aws_values(aws: Any, client: Callable[..., Any]) -> dict[str, str]:
    """``${aws.account}`` and ``${aws.device_role}`` (the Greengrass installer's role name)."""
    from harness.services.aws import DEVICE_ROLE

    if aws is not None:
        from harness.cloud.app import DEFAULT_ACCOUNT_ID

        account = DEFAULT_ACCOUNT_ID
    else:
        try:
            account = str(client("sts").get_caller_identity()["Account"])
        except Exception:  # only a bucket policy uses it; S3 then names the problem
            account = ""
    return {"aws.account": account, "aws.device_role": f"arn:aws:iam::{account}:role/{DEVICE_ROLE}"}
