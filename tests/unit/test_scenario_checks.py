"""Message checks and fault injection of the scenario runner, on hand-made data and stand-ins.

The sequence check (no loss, no duplicates) is asserted on payloads shaped like DeepStream's
minimal schema (``"id"`` is the frame number as text, ``sensorId`` the sender); the runner's
``inject`` step on stand-in services and devices that record what was called, so what a fault
does — and what it refuses, and how it says so — is checked without starting anything.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from harness.errors import HarnessError
from harness.scenario import model as m
from harness.scenario.checks import SEQUENCE_EXAMPLES, check_sequence, number_at
from harness.scenario.devices import SimulatedDevice
from harness.scenario.messages import Received
from harness.scenario.result import ScenarioResult
from harness.scenario.runner import (
    StepFailed,
    _check_sequence,
    _summary,
    _wait_for_log_line,
    end_open_faults,
    read_element_latency,
    step_inject,
)
from harness.services.base import Service, ServiceError
from harness.services.kafka import ExternalKafka
from harness.targets.aws import RegisteredDevice
from harness.targets.local_logs import LocalLogs
from harness.targets.sim import SimDevice

pytestmark = pytest.mark.unit


def frames(sensor: str, *ids: int) -> list[dict[str, Any]]:
    return [{"version": "4.0", "id": str(i), "sensorId": sensor, "objects": []} for i in ids]


# --- the sequence check --------------------------------------------------------------------------


def test_a_whole_sequence_passes_in_any_order_per_group() -> None:
    payloads = frames("s1", 90, 30, 60, 120) + frames("s0", 300, 270, 240)
    found = check_sequence(payloads, "id", "sensorId", 30)
    assert found.problems == [] and (found.duplicates, found.gaps) == (0, 0)
    assert found.groups == {
        "s0": {"messages": 3, "first": 240, "last": 300, "duplicates": [], "gaps": []},
        "s1": {"messages": 4, "first": 30, "last": 120, "duplicates": [], "gaps": []},
    }


def test_duplicates_and_gaps_are_named_with_what_is_missing() -> None:
    found = check_sequence(frames("s0", 0, 30, 30, 90, 120, 300), "id", "sensorId", 30)
    assert (found.duplicates, found.gaps) == (1, 2)
    assert found.problems == ["s0: 30 2 times", "s0: 30 → 90 (1 missing)", "s0: 120 → 300 (5 missing)"]
    assert found.groups["s0"]["gaps"][1] == {"after": 120, "next": 300, "missing": 5}
    assert found.groups["s0"]["duplicates"] == [{"value": 30, "times": 2}]


def test_the_window_continues_the_last_value_received_before_it() -> None:
    # messages lost between the last one before the window and the first in it: a gap
    lost = check_sequence(frames("s0", 150, 180), "id", "sensorId", 30, before={"s0": 60})
    assert lost.problems == ["s0: 60 → 150 (2 missing)"]
    assert lost.groups["s0"]["continued_from"] == 60
    # the last one before the window sent again: a duplicate
    again = check_sequence(frames("s0", 60, 90), "id", "sensorId", 30, before={"s0": 60})
    assert again.problems == ["s0: 60 2 times"]
    # an app that restarted counts from 0 again: the window is checked on its own
    restarted = check_sequence(frames("s0", 0, 30, 60), "id", "sensorId", 30, before={"s0": 2070})
    assert restarted.problems == [] and restarted.groups["s0"]["restarted_below"] == 2070
    # a whole continuation
    whole = check_sequence(frames("s0", 90, 120), "id", "sensorId", 30, before={"s0": 60, "other": 5})
    assert whole.problems == [] and whole.groups["s0"]["continued_from"] == 60


def test_messages_without_the_number_or_the_group_are_problems() -> None:
    payloads = [*frames("s0", 0, 1), {"id": "x", "sensorId": "s0"}, {"id": "2"}]
    found = check_sequence(payloads, "id", "sensorId")
    assert found.problems == [
        "2 message(s) without a number at id or a value at sensorId (first: {'id': 'x', 'sensorId': 's0'})"
    ]
    assert found.groups["s0"]["messages"] == 2


def test_one_group_without_per_numbers_and_fractional_steps() -> None:
    found = check_sequence([{"n": 0.5}, {"n": 1.0}, {"n": 2.5}, {"n": True}], "n", step=0.5)
    assert found.problems == [
        "1 message(s) without a number at n (first: {'n': True})",
        "1 → 2.5 (2 missing)",
    ]
    assert list(found.groups) == ["all"]


def test_only_the_first_few_problems_are_listed_but_all_are_counted() -> None:
    found = check_sequence(frames("s0", *range(0, 100, 2)), "id", "sensorId", 1)
    assert found.gaps == 49
    assert len(found.groups["s0"]["gaps"]) == SEQUENCE_EXAMPLES
    assert len(found.problems) == SEQUENCE_EXAMPLES


@pytest.mark.parametrize(
    ("payload", "expected"),
    [({"id": "120"}, 120), ({"id": 7}, 7), ({"id": "1.5"}, 1.5), ({"id": "x"}, None), ({"id": None}, None)],
)
def test_number_at_reads_numbers_and_numeric_text(payload: dict[str, Any], expected: Any) -> None:
    assert number_at(payload, "id") == expected


class FakeRecorder:
    def __init__(self, records: list[Received]) -> None:
        self._records = records
        self.reconnects = 0

    def records(
        self, topic: str | None = None, since_ns: int = 0, until_ns: int | None = None
    ) -> list[Received]:
        return [
            r
            for r in self._records
            if r.received_ns >= since_ns and (until_ns is None or r.received_ns <= until_ns)
        ]

    def reconnect(self) -> None:
        self.reconnects += 1


def test_the_step_fails_with_the_first_problems_and_keeps_the_figures() -> None:
    before = [
        Received("t", 0, n, json.dumps(p).encode(), 100 + n) for n, p in enumerate(frames("s0", 120, 150))
    ]
    ctx: Any = SimpleNamespace(recorder=FakeRecorder(before))
    spec = m.SequenceSpec(field="id", per="sensorId", step=30)
    details: dict[str, Any] = {}
    with pytest.raises(StepFailed) as failed:
        _check_sequence(ctx, "t", spec, 1_000, frames("s0", 150, 180, 240), details)
    assert str(failed.value) == (
        "t: sequence of id per sensorId: 1 duplicate(s), 1 gap(s) larger than 30: "
        "s0: 150 2 times; s0: 180 → 240 (1 missing)"
    )
    assert failed.value.details["sequence"]["s0"]["continued_from"] == 150
    _check_sequence(ctx, "t", spec, 1_000, frames("s0", 180, 210), details)  # passes
    assert details["sequence"]["s0"] == {
        "messages": 2,
        "first": 180,
        "last": 210,
        "continued_from": 150,
        "duplicates": [],
        "gaps": [],
    }


# --- per-element latency from component logs ------------------------------------------------------


def _log_line(text: str) -> str:
    return f"2026-11-25T03:43:40.434Z [INFO] (Copier) app: stdout. {text}. {{scriptName=app.Run}}\n"


def test_element_latency_is_read_from_every_devices_component_log(tmp_path: Path) -> None:
    devices = {}
    for thing, values in (("jetson-1", (10.0, 20.0)), ("jetson-2", (30.0,))):
        root = tmp_path / thing
        (root / "logs").mkdir(parents=True)
        lines = [_log_line("**PERF:  {'stream0': 30.0}")]
        for value in values:
            lines.append(
                _log_line(
                    "Comp name = stream-muxer source_id = 0 pad_index = 0 frame_num = 0 "
                    "in_system_timestamp = 1.0 out_system_timestamp = 1.1 component_latency = 0.100000"
                )
            )
            lines.append(_log_line(f"Comp name = primary-gie in_system_timestamp = 1.0 "
                                   f"out_system_timestamp = 2.0 component latency= {value:f}"))  # fmt: skip
        (root / "logs" / "app.log").write_text("".join(lines))
        devices[thing] = SimDevice(SimpleNamespace(root=root, thing=thing, group="g", starts=0))
    ctx: Any = SimpleNamespace(devices=devices, scenario=SimpleNamespace(components={"app": {}, "other": {}}))
    result = ScenarioResult("s", "p", "sim", "process", 0.0)
    read_element_latency(ctx, result)
    assert list(result.element_latency_ms) == ["stream-muxer", "primary-gie"]
    assert result.element_latency_ms["primary-gie"] == {
        "count": 3,
        "mean": 20.0,
        "p50": 20.0,
        "p95": 29.0,
        "p99": 29.8,
        "max": 30.0,
    }


# --- inject --------------------------------------------------------------------------------------


class FakeService:
    """Records the fault calls an inject step makes."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.topics: list[str] = []
        self.endpoints = {"bootstrap": "127.0.0.1:9092"}

    def __getattr__(self, name: str) -> Any:
        if name in ("pause", "resume", "halt", "kill", "restart"):
            return lambda: self.calls.append(name)
        raise AttributeError(name)

    def create_topic(self, name: str) -> None:
        self.topics.append(name)

    def outage(self, service: str, seconds: float, status: int = 503) -> dict[str, Any]:
        self.calls.append(f"outage {service} {seconds:g} {status}")
        return {"service": service, "status": status, "seconds": seconds}


def make_ctx(tmp_path: Path, **services: Any) -> Any:
    scenario = SimpleNamespace(
        services=SimpleNamespace(topics=("quickstart-events",)), path=tmp_path / "s.yaml", components={}
    )
    return SimpleNamespace(
        scenario=scenario,
        devices={},
        services=services,
        values={},
        recorder=FakeRecorder([]),
        result=ScenarioResult("s", "p", "sim", "process", 0.0),
        paused=[],
    )


def inject(fault: str, **fields: Any) -> m.InjectStep:
    return m.InjectStep(kind="inject", name=f"{fault} step", id=fault, line=1, fault=fault, **fields)


@pytest.mark.parametrize(
    ("fault", "service", "calls"),
    [
        ("pause_service", "kafka", ["pause", "resume"]),
        ("stop_service", "triton", ["halt", "restart"]),
        ("kill_service", "kafka", ["kill", "restart"]),
        ("stop_kafka", "kafka", ["halt", "restart"]),
    ],
)
def test_a_service_fault_lasts_duration_s_inside_the_step(
    tmp_path: Path, fault: str, service: str, calls: list[str]
) -> None:
    fake = FakeService()
    ctx = make_ctx(tmp_path, **{service: fake})
    started = time.monotonic()
    details = step_inject(ctx, inject(fault, service=service, duration_s=0.3))
    assert time.monotonic() - started >= 0.3
    assert fake.calls == calls
    done = {"pause": "paused", "halt": "stopped", "kill": "killed"}[calls[0]]
    undone = {"resume": "resumed", "restart": "restarted"}[calls[1]]
    assert [e["action"] for e in details["events"]] == [f"{done} {service}", f"{undone} {service}"]
    assert details["events"][1]["time"] - details["events"][0]["time"] >= 0.299  # ms-rounded
    assert [(e.kind, e.name) for e in ctx.result.timeline] == [
        ("inject", f"{done} {service}"),
        ("inject", f"{undone} {service}"),
    ]
    # a restarted broker may have come back empty: topics again, and the recorder reads anew
    restarted_kafka = service == "kafka" and calls[1] == "restart"
    assert fake.topics == (["quickstart-events"] if restarted_kafka else [])
    assert ctx.recorder.reconnects == (1 if restarted_kafka else 0)
    assert _summary(inject(fault), details).startswith(f"{done} {service}, {undone} {service} (+0.")


def test_without_duration_a_service_stays_down(tmp_path: Path) -> None:
    fake = FakeService()
    ctx = make_ctx(tmp_path, kafka=fake)
    details = step_inject(ctx, inject("kill_service", service="kafka"))
    assert fake.calls == ["kill"] and details["down"] == "until the end of the run"
    assert details["endpoints"] == {"bootstrap": "127.0.0.1:9092"}
    end_open_faults(ctx)
    assert fake.calls == ["kill"]  # a killed service stays down through the teardown


def test_a_pause_without_duration_ends_with_the_steps(tmp_path: Path) -> None:
    aws = FakeService()
    ctx = make_ctx(tmp_path, aws=aws)
    step_inject(ctx, inject("pause_service", service="aws"))
    assert aws.calls == ["pause"] and ctx.paused == ["aws"]
    end_open_faults(ctx)  # before the teardown, which still talks to the endpoint
    assert aws.calls == ["pause", "resume"] and ctx.paused == []
    assert [(e.name, e.detail) for e in ctx.result.timeline][-1] == ("resumed aws", "end of run")


def test_s3_outage_returns_at_once_and_the_endpoint_ends_it(tmp_path: Path) -> None:
    aws = FakeService()
    started = time.monotonic()
    details = step_inject(make_ctx(tmp_path, aws=aws), inject("s3_outage", duration_s=30, status=500))
    assert time.monotonic() - started < 5
    assert aws.calls == ["outage s3 30 500"]
    assert (details["service"], details["status"], details["duration_s"]) == ("s3", 500, 30)


def test_service_faults_are_refused_with_a_reason(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, aws=None, kafka=ExternalKafka("127.0.0.1:9092"))
    with pytest.raises(HarnessError) as real_aws:
        step_inject(ctx, inject("pause_service", service="aws", duration_s=1))
    assert real_aws.value.message == (
        "inject pause_service: with --target aws the aws endpoint is real AWS, which the harness cannot "
        "pause, stop or kill"
    )
    assert real_aws.value.hint == "service faults need the emulated services: --target sim"
    with pytest.raises(HarnessError) as outage:
        step_inject(ctx, inject("s3_outage", duration_s=1))
    assert (
        outage.value.message
        == "s3_outage needs the emulated AWS endpoint; with --target aws S3 is the real one"
    )
    with pytest.raises(ServiceError) as external:
        step_inject(ctx, inject("pause_service", service="kafka", duration_s=1))
    assert external.value.message == "kafka: pause is not supported by this service/backend"
    assert "the broker is external (services.kafka.external or --kafka-bootstrap)" in (
        external.value.hint or ""
    )
    with pytest.raises(HarnessError, match="this run has no triton service") as no_triton:
        step_inject(ctx, inject("kill_service", service="triton"))
    assert no_triton.value.hint == "declare services.triton to start Triton"


def test_a_service_without_faults_says_so() -> None:
    class Plain(Service):
        name = "plain"

        def start(self) -> Plain:
            return self

        def stop(self) -> None:
            return None

        @property
        def endpoints(self) -> dict[str, str]:
            return {}

    for what in ("pause", "resume", "kill", "halt", "restart"):
        with pytest.raises(ServiceError) as refused:
            getattr(Plain(), what)()
        assert refused.value.message == f"plain: {what} is not supported by this service/backend"
        assert "process backend" in (refused.value.hint or "")


def test_device_faults_the_process_backend_cannot_do_are_refused(tmp_path: Path) -> None:
    device = SimulatedDevice(
        thing="jetson-1", group="g", profile="x86-64-host", root=tmp_path, environment={}
    )
    ctx = make_ctx(tmp_path)
    ctx.devices = {"jetson-1": SimDevice(device)}
    with pytest.raises(HarnessError) as partition:
        step_inject(ctx, inject("partition_device", device="jetson-1", duration_s=1))
    assert partition.value.message == "cutting a device off the network needs --backend docker"
    assert "pause_device freezes it instead" in (partition.value.hint or "")
    with pytest.raises(HarnessError, match="device jetson-1 is not running, so it cannot be paused"):
        step_inject(ctx, inject("pause_device", device="jetson-1", duration_s=1))
    with pytest.raises(HarnessError) as unknown:
        step_inject(ctx, inject("pause_device", device="jetson-9", duration_s=1))
    assert (unknown.value.message, unknown.value.hint) == (
        "inject pause_device: no device 'jetson-9'",
        "devices: jetson-1",
    )
    # a registered device (--target aws) has no fault capability at all; the loader refuses
    # such scenarios for that target, and the step refuses too if one gets through
    ctx.devices = {"real-1": RegisteredDevice("real-1", "g")}
    for fault in ("kill_device", "pause_device", "partition_device"):
        with pytest.raises(HarnessError) as refused:
            step_inject(ctx, inject(fault, device="real-1", duration_s=1))
        assert refused.value.message == f"inject {fault}: real-1 cannot do that on this target"
        assert "lint scenario --target" in (refused.value.hint or "")


class FakeDevice(LocalLogs):
    """A device with local logs that records the pauses asked of it."""

    def __init__(self, thing: str, root: Path) -> None:
        super().__init__(root / "logs")
        self.thing = thing
        self.root = root
        self.calls: list[str] = []
        (root / "logs").mkdir(parents=True)

    @property
    def greengrass_log(self) -> Path:
        return self.path("greengrass")

    def component_log(self, component: str) -> Path:
        return self.path(component)

    def pause(self) -> None:
        self.calls.append("pause")

    def resume(self) -> None:
        self.calls.append("resume")


def _append(path: Path, text: str, delay: float) -> threading.Thread:
    def write() -> None:
        time.sleep(delay)
        with path.open("a") as out:
            out.write(text)

    thread = threading.Thread(target=write)
    thread.start()
    return thread


def test_after_log_waits_for_a_new_line_then_injects(tmp_path: Path) -> None:
    device = FakeDevice("jetson-1", tmp_path / "jetson-1")
    device.greengrass_log.write_text("old: Resolved components\n")  # before the step: not counted
    ctx = make_ctx(tmp_path)
    ctx.devices = {"jetson-1": device}
    trigger = m.LogTrigger(contains="Resolved components", devices=("jetson-1",), within_s=10)
    writer = _append(device.greengrass_log, "noise\nnew: Resolved components [x]\n", 0.5)
    started = time.monotonic()
    details = step_inject(ctx, inject("pause_device", device="jetson-1", duration_s=0.1, after_log=trigger))
    writer.join()
    assert time.monotonic() - started >= 0.5
    assert details["after_log"]["found"] == {"jetson-1": "new: Resolved components [x]"}
    assert details["after_log"]["contains"] == "Resolved components"
    assert device.calls == ["pause", "resume"]
    summary = _summary(inject("pause_device"), details)
    assert summary.startswith(
        "paused jetson-1, resumed jetson-1 (+0.1 s); after 'Resolved components' appeared ("
    )
    # the device's lane shows the pause, and "running" again after it
    assert [(e.device, e.state) for e in ctx.result.timeline if e.kind == "device"] == [
        ("jetson-1", "paused"),
        ("jetson-1", "running"),
    ]


def test_after_log_that_never_comes_fails_with_the_log_tail(tmp_path: Path) -> None:
    devices = {t: FakeDevice(t, tmp_path / t) for t in ("jetson-1", "jetson-2")}
    devices["jetson-1"].component_log("app").write_text("check: loading the model\n")
    devices["jetson-2"].component_log("app").write_text("still starting\n")
    ctx = make_ctx(tmp_path)
    ctx.devices = devices
    trigger = m.LogTrigger(regex=r"check: loading", devices="all", component="app", within_s=0.5)
    with pytest.raises(StepFailed) as failed:
        _wait_for_log_line(ctx, trigger, offsets={})
    assert str(failed.value) == (
        "after_log: 'check: loading' not in the app.log of jetson-2 within 0.5 s; the fault was not injected"
    )
    assert failed.value.details == {"found": {"jetson-1": "check: loading the model"}}
    assert failed.value.logs["jetson-2: app.log"] == "still starting"
    # any: one device is enough
    any_trigger = m.LogTrigger(regex=r"check: loading", devices="any", component="app", within_s=0.5)
    assert _wait_for_log_line(ctx, any_trigger, offsets={})["found"] == {
        "jetson-1": "check: loading the model"
    }


class FleetReplay:
    """Stand-in for the operator's ``effective_deployment``: each poll of a thing returns the next
    status of its script (the last one repeats)."""

    def __init__(self, **scripts: list[str | None]) -> None:
        self.scripts = scripts
        self.polls = dict.fromkeys(scripts, 0)

    def effective_deployment(self, thing: str, deployment_id: str) -> dict[str, Any] | None:
        script = self.scripts[thing]
        status = script[min(self.polls[thing], len(script) - 1)]
        self.polls[thing] += 1
        return None if status is None else {"coreDeviceExecutionStatus": status}


def _deployment_ctx(tmp_path: Path, fleet: FleetReplay) -> Any:
    from harness.scenario.runner import DeploymentHandle

    ctx = make_ctx(tmp_path)
    ctx.fleet = fleet
    ctx.deployments = {"v1": DeploymentHandle("d-1", "traffic-cams", list(fleet.scripts), 0.0)}
    return ctx


def _wait_deployment(status: str, timeout_s: float = 5) -> m.WaitForStep:
    return m.WaitForStep(
        kind="wait_for", name="wait", id="wait", line=1, what="deployment", deployment="v1",
        status=status, timeout_s=timeout_s,
    )  # fmt: skip


def test_wait_for_in_progress_is_done_once_every_device_shows_it(tmp_path: Path, monkeypatch: Any) -> None:
    from harness.scenario import runner

    monkeypatch.setattr(runner, "_POLL_S", 0.01)
    fleet = FleetReplay(**{"jetson-1": [None, "QUEUED", "IN_PROGRESS"], "jetson-2": ["IN_PROGRESS"]})
    details = runner.step_wait_for(_deployment_ctx(tmp_path, fleet), _wait_deployment("IN_PROGRESS"))
    assert {t: s["status"] for t, s in details["devices"].items()} == {
        "jetson-1": "IN_PROGRESS",
        "jetson-2": "IN_PROGRESS",
    }
    assert fleet.polls["jetson-1"] == 3  # it waited through "not yet there" and QUEUED


def test_wait_for_in_progress_fails_at_once_when_the_deployment_already_finished(
    tmp_path: Path, monkeypatch: Any
) -> None:
    from harness.scenario import runner

    monkeypatch.setattr(runner, "_POLL_S", 0.01)
    fleet = FleetReplay(**{"jetson-1": ["SUCCEEDED"]})
    with pytest.raises(StepFailed) as failed:
        runner.step_wait_for(_deployment_ctx(tmp_path, fleet), _wait_deployment("IN_PROGRESS", timeout_s=60))
    assert str(failed.value) == (
        "deployment v1: expected IN_PROGRESS, but it already finished: "
        "{'jetson-1': {'status': 'SUCCEEDED', 'reason': None}}"
    )
    assert fleet.polls["jetson-1"] == 1


def test_wait_for_a_final_status_waits_past_in_progress(tmp_path: Path, monkeypatch: Any) -> None:
    from harness.scenario import runner

    monkeypatch.setattr(runner, "_POLL_S", 0.01)
    fleet = FleetReplay(**{"jetson-1": ["IN_PROGRESS", "IN_PROGRESS", "FAILED"]})
    with pytest.raises(StepFailed, match=r"expected SUCCEEDED, got \{'jetson-1': \{'status': 'FAILED'"):
        runner.step_wait_for(_deployment_ctx(tmp_path, fleet), _wait_deployment("SUCCEEDED"))
    assert fleet.polls["jetson-1"] == 3


def _row(**figures: float | None) -> dict[str, Any]:
    row: dict[str, Any] = {"roi_precision": 0.8, "roi_recall": 0.7, "class_accuracy": 0.9, "count_error": 0.2}
    row.update(figures)
    return row


def test_accuracy_bounds_and_improvement_over_an_earlier_step() -> None:
    from harness.scenario.runner import accuracy_problems

    earlier = {"v100": _row(class_accuracy=0.0, count_error=0.25)}
    improves = m.ImprovesOn(step="v100", metrics=("class_accuracy", "count_error"))
    assert (
        accuracy_problems(_row(), m.AccuracySpec(min_class_accuracy=0.8, improves_on=improves), earlier) == []
    )
    problems = accuracy_problems(
        _row(roi_precision=None, class_accuracy=0.0, count_error=0.25),
        m.AccuracySpec(min_roi_precision=0.5, min_class_accuracy=0.8, improves_on=improves),
        earlier,
    )
    assert problems == [
        "ROI precision undefined < 0.5",
        "class accuracy 0.000 < 0.8",
        "class_accuracy 0.000 does not improve on 0.000 of 'v100'",  # equal is not better
        "count_error 0.250 does not improve on 0.250 of 'v100'",  # lower is better
    ]
    assert accuracy_problems(_row(), m.AccuracySpec(improves_on=improves), {}) == [
        "no accuracy figures of step 'v100' to improve on (it failed before scoring, or did not run)"
    ]


def test_outage_is_the_silence_before_the_windows_first_message(tmp_path: Path) -> None:
    """Across an update: the old version's last message at 10 s, the step starts at 20 s, the new
    version's first arrives at 32 s → 22 s of silence, whatever the window's start."""
    from harness.scenario.runner import _check_outage

    s = 1_000_000_000
    ctx = make_ctx(tmp_path)
    ctx.recorder = FakeRecorder([Received("t", 0, 0, b"{}", 5 * s), Received("t", 0, 1, b"{}", 10 * s)])
    details: dict[str, Any] = {}
    _check_outage(ctx, "t", 30, 20 * s, 32 * s, details)
    assert details == {"outage_s": 22.0, "outage_from": "the last message before the window"}
    with pytest.raises(StepFailed) as failed:
        _check_outage(ctx, "t", 15, 20 * s, 32 * s, {})
    assert str(failed.value) == (
        "t: 22.0 s without a message from the last message before the window to the window's first, "
        "allowed 15 s"
    )
    # nothing before the window: counted from its start
    ctx.recorder = FakeRecorder([])
    details = {}
    _check_outage(ctx, "t", 30, 20 * s, 32 * s, details)
    assert details == {"outage_s": 12.0, "outage_from": "the window's start"}
