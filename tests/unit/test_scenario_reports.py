"""The scenario result model and its three reports (JUnit XML, OpenMetrics text, HTML).

:func:`make_result` builds by hand what a two-device OTA scenario leaves behind: an install, an
upgrade, then a broken version whose deployment fails and rolls back, 300 Kafka messages, a failed
step with log excerpts (with markup and terminal control codes in them), an errored and a skipped
step, FPS, element latencies, accuracy rows and two annotated frames. Every report is read back
with the parser its consumers use (junitparser, prometheus_client's OpenMetrics parser).
``tests/integration/test_report_screenshot.py`` renders the same result in a real browser.
"""

from __future__ import annotations

import json
import math
import random
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
from junitparser import Error, Failure, JUnitXml, Skipped
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from harness.errors import HarnessError
from harness.scenario.reports import write_html, write_junit, write_openmetrics, write_reports
from harness.scenario.reports.html import render_html
from harness.scenario.result import (
    MessageSample,
    ScenarioResult,
    StepResult,
    Thumbnail,
    TimelineEvent,
)

pytestmark = pytest.mark.unit

T0 = 1_764_045_000.0  # 2025-11-25 04:30:00 UTC
APP = "com.example.TrafficCam"
TRITON = "com.example.TritonServer"
DEVICES = ("jetson-1", "jetson-2")
BROKEN_LOG = (
    "2025-11-25T04:31:47.120Z [WARN] (Copier) com.example.TrafficCam: stderr. "
    "sh: 1: cd: can't cd to /greengrass/v2/packages/artifacts-unarchived/com.example.TrafficCam/1.2.0/app\n"
    "\x1b[31mTraceback <script>alert('x')</script> & friends\x1b[0m\x00\n"
    "2025-11-25T04:31:47.121Z [INFO] (pool-2) com.example.TrafficCam: service-set-state. "
    "{serviceName=com.example.TrafficCam, currentState=STARTING, newState=ERRORED}\n"
)
SECTION_HEADINGS = (
    "Phases",
    "Steps",
    "Timeline",
    "Frame → Kafka latency",
    "Per-element latency",
    "Frame rate (FPS)",
    "Messages per second",
    "Accuracy",
    "Annotated frames",
    "Properties",
)
ELEMENTS = {
    "nvstreammux": (0.4, 0.9),
    "primary-inference (nvinferserver)": (14.2, 19.8),
    "nvtracker": (1.1, 2.3),
    "nvdsanalytics": (0.3, 0.6),
    "nvmsgconv": (0.2, 0.4),
    "nvmsgbroker": (2.5, 6.1),
}


def _frame_png(seed: int, label: str) -> bytes:
    """A small annotated road frame: grey road, lane marks, two boxes with labels."""
    rng = np.random.default_rng(seed)
    image = np.full((180, 320, 3), (96, 128, 84), np.uint8)
    cv2.fillPoly(image, [np.array([[120, 0], [200, 0], [320, 180], [0, 180]], np.int32)], (90, 90, 90))
    for y in range(0, 180, 24):
        cv2.line(image, (160, y), (160, y + 12), (240, 240, 240), 2)
    cv2.polylines(
        image, [np.array([[40, 150], [280, 150], [230, 90], [90, 90]], np.int32)], True, (0, 255, 255), 1
    )
    for i in range(2):
        x, y = int(rng.integers(60, 220)), int(rng.integers(60, 130))
        cv2.rectangle(image, (x, y), (x + 44, y + 28), (0, 0, 255), 2)
        cv2.putText(image, f"car {i + 1}", (x, y - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1)
    cv2.putText(image, label, (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1)
    ok, png = cv2.imencode(".png", image)
    assert ok
    return png.tobytes()


def _component_events(device: str, shift: float) -> list[TimelineEvent]:
    """Install 1.0.0, upgrade to 1.1.0, 1.2.0 breaks and the deployment rolls back to 1.1.0."""
    events: list[tuple[float, str, str, str, str | None]] = [
        (5, "device", "device", "started", None),
        (20, "deployment", "install-1.0.0", "QUEUED", None),
        (21, "deployment", "install-1.0.0", "IN_PROGRESS", None),
        (22, "component", TRITON, "NEW", "2.51.0"),
        (23, "component", TRITON, "INSTALLED", "2.51.0"),
        (24, "component", TRITON, "RUNNING", "2.51.0"),
        (22, "component", APP, "NEW", "1.0.0"),
        (24, "component", APP, "INSTALLED", "1.0.0"),
        (25, "component", APP, "STARTING", "1.0.0"),
        (26, "component", APP, "RUNNING", "1.0.0"),
        (35, "deployment", "install-1.0.0", "SUCCEEDED", None),
        (60, "deployment", "upgrade-1.1.0", "QUEUED", None),
        (61, "deployment", "upgrade-1.1.0", "IN_PROGRESS", None),
        (62, "component", APP, "STOPPING", "1.0.0"),
        (63, "component", APP, "NEW", "1.1.0"),
        (64, "component", APP, "INSTALLED", "1.1.0"),
        (65, "component", APP, "STARTING", "1.1.0"),
        (66, "component", APP, "RUNNING", "1.1.0"),
        (70, "deployment", "upgrade-1.1.0", "SUCCEEDED", None),
        (101, "deployment", "broken-1.2.0", "QUEUED", None),
        (102, "deployment", "broken-1.2.0", "IN_PROGRESS", None),
        (103, "component", APP, "STOPPING", "1.1.0"),
        (104, "component", APP, "NEW", "1.2.0"),
        (105, "component", APP, "INSTALLED", "1.2.0"),
        (106, "component", APP, "STARTING", "1.2.0"),
        (107, "component", APP, "ERRORED", "1.2.0"),
        (109, "component", APP, "STARTING", "1.2.0"),
        (110, "component", APP, "ERRORED", "1.2.0"),
        (112, "component", APP, "STARTING", "1.2.0"),
        (113, "component", APP, "BROKEN", "1.2.0"),
        (114, "deployment", "broken-1.2.0", "ROLLING_BACK", None),
        (115, "component", APP, "NEW", "1.1.0"),
        (116, "component", APP, "INSTALLED", "1.1.0"),
        (117, "component", APP, "STARTING", "1.1.0"),
        (118, "component", APP, "RUNNING", "1.1.0"),
        (125, "deployment", "broken-1.2.0", "FAILED_ROLLBACK_COMPLETE", None),
    ]
    return [
        TimelineEvent(T0 + t + shift, device, kind, name, state, version, detail=f"{kind} {state}")
        for t, kind, name, state, version in events
    ]


def make_result() -> ScenarioResult:
    """A realistic result of a two-device upgrade/rollback scenario (deterministic)."""
    rng = random.Random(7)
    timeline = _component_events("jetson-1", 0.0) + _component_events("jetson-2", 1.5)
    timeline.append(TimelineEvent(T0 + 100, "", "inject", "corrupt 1.2.0 recipe", "injected"))
    timeline.append(TimelineEvent(T0 + 150, "jetson-2", "inject", "power cut jetson-2", "injected"))
    timeline.append(TimelineEvent(T0 + 150, "jetson-2", "device", "device", "killed"))
    timeline.append(TimelineEvent(T0 + 154, "jetson-2", "device", "device", "started"))
    timeline.sort(key=lambda e: e.time)

    messages: list[MessageSample] = []
    frame = {d: 0 for d in DEVICES}
    while len(messages) < 300:
        received = T0 + 36 + rng.random() * 140
        if 103 <= received - T0 <= 119:  # the app is down while 1.2.0 breaks and 1.1.0 comes back
            continue
        device = DEVICES[len(messages) % 2]
        frame[device] += 30
        latency = None if len(messages) % 61 == 5 else rng.lognormvariate(math.log(42.0), 0.25)
        messages.append(
            MessageSample(received, "traffic-events", latency, frame[device], rng.randint(0, 6), device)
        )
    messages.sort(key=lambda m: m.received)

    fps = [
        (
            T0 + t + (0.7 if d == "jetson-2" else 0.0),
            f"{d}/stream0",
            0.0 if 103 <= t <= 118 else 29.5 + rng.random(),
        )
        for t in range(30, 180, 5)
        for d in DEVICES
    ]
    steps = [
        StepResult(
            1, "services", "start services", "passed", T0, 12.0, "tritonserver, Kafka and AWS endpoint up"
        ),
        StepResult(2, "upload", "upload components", "passed", T0 + 12, 7.1, "2 components, 3 artifacts"),
        StepResult(
            3, "deploy", "install TrafficCam 1.0.0", "passed", T0 + 20, 16.0, "SUCCEEDED on 2/2 devices"
        ),
        StepResult(
            4,
            "expect_messages",
            "messages flowing",
            "passed",
            T0 + 36,
            22.0,
            "150 messages ≥ 100 in 22 s",
            details={"messages": 150, "p95_ms": 61.2},
        ),
        StepResult(5, "deploy", "upgrade to 1.1.0", "passed", T0 + 60, 12.0, "SUCCEEDED on 2/2 devices"),
        StepResult(
            6,
            "deploy",
            "deploy 1.2.0 and expect RUNNING",
            "failed",
            T0 + 100,
            26.0,
            "expected com.example.TrafficCam 1.2.0 RUNNING on jetson-1 within 60 s, saw BROKEN after 13.0 s "
            "(deployment FAILED_ROLLBACK_COMPLETE)",
            details={
                "device": "jetson-1",
                "state": "BROKEN",
                "deployment_status": "FAILED_ROLLBACK_COMPLETE",
            },
            logs={
                "jetson-1/logs/com.example.TrafficCam.log": BROKEN_LOG,
                "jetson-1/logs/greengrass.log": "rollback done",
            },
        ),
        StepResult(
            7, "expect_version", "rolled back to 1.1.0", "passed", T0 + 126, 4.0, "1.1.0 RUNNING on 2/2"
        ),
        StepResult(
            8,
            "score",
            "score against the world",
            "passed",
            T0 + 130,
            18.0,
            "MOTA 0.874 ≥ 0.800",
            details={"mota": 0.874, "count_error": 0.031},
        ),
        StepResult(
            9,
            "triton_metrics",
            "check Triton metrics",
            "error",
            T0 + 148,
            1.2,
            "GET /metrics: connection refused (is Triton's metrics port open?)",
            logs={"harness": "ConnectionRefusedError: [Errno 111] Connection refused"},
        ),
        StepResult(
            10,
            "expect_messages",
            "messages after power cut",
            "skipped",
            T0 + 150,
            0.0,
            "skipped: after an error",
        ),
    ]
    return ScenarioResult(
        scenario="ota-upgrade-rollback",
        path="scenarios/traffic/ota-upgrade-rollback.yaml",
        target="local",
        backend="process",
        started=T0,
        duration_s=180.0,
        properties={
            "commit": "aab6d2e4b1c9",
            "host": "ci-runner-3",
            "profile:jetson-1": "jetson-agx-xavier",
            "profile:jetson-2": "jetson-agx-xavier",
            f"component:{APP}": "1.1.0",
            f"component:{TRITON}": "2.51.0",
            "model": "B",
        },
        steps=steps,
        timeline=timeline,
        messages=messages,
        fps=fps,
        element_latency_ms={
            name: {
                "count": 900,
                "mean": p50 * 1.05,
                "p50": p50,
                "p95": p95,
                "p99": p95 * 1.2,
                "max": p95 * 1.6,
            }
            for name, (p50, p95) in ELEMENTS.items()
        },
        accuracy=[
            {
                "step": "8: score against the world",
                "model": "B",
                "roi_precision": 0.962,
                "roi_recall": 0.948,
                "count_error": 0.031,
                "mota": 0.874,
            },
            {
                "step": "8: score against the world",
                "model": "A",
                "roi_precision": 0.913,
                "roi_recall": None,
                "count_error": 0.072,
                "mota": 0.801,
            },
        ],
        thumbnails=[
            Thumbnail("jetson-1 frame 1530 (1.1.0): 2 cars in ROI", _frame_png(1, "jetson-1 #1530")),
            Thumbnail("jetson-2 frame 2010 <after rollback>", _frame_png(2, "jetson-2 #2010")),
        ],
        phases={
            "services": 12.0,
            "upload": 7.1,
            "install → RUNNING": 6.0,
            "first message": 10.5,
            "upgrade → RUNNING": 6.0,
            "rollback": 19.0,
            "scoring": 18.0,
        },
    )


@pytest.fixture(scope="module")
def result() -> ScenarioResult:
    return make_result()


# -- the model --------------------------------------------------------------------------------


def test_round_trip_through_json(result: ScenarioResult, tmp_path: Path) -> None:
    text = json.dumps(result.to_dict())  # JSON-able as it is
    again = ScenarioResult.from_dict(json.loads(text))
    assert again == result
    assert again.thumbnails[0].png == result.thumbnails[0].png
    assert isinstance(again.fps[0], tuple)
    loaded = ScenarioResult.load(result.save(tmp_path / "deep" / "result.json"))
    assert loaded == result


def test_verdict_and_counts(result: ScenarioResult) -> None:
    assert not result.passed
    assert result.step_counts() == {"passed": 7, "failed": 1, "error": 1, "skipped": 1}
    ok = ScenarioResult("s", "s.yaml", "local", "process", T0, steps=[result.steps[0], result.steps[-1]])
    assert ok.passed  # skipped steps do not fail a scenario
    assert result.component_versions() == {APP: "1.1.0", TRITON: "2.51.0"}
    assert result.device_profiles() == {"jetson-1": "jetson-agx-xavier", "jetson-2": "jetson-agx-xavier"}
    assert result.devices() == ["jetson-1", "jetson-2"]  # an inject for the whole fleet names no device


def test_latency_summary_matches_numpy(result: ScenarioResult) -> None:
    values = result.latencies_ms()
    assert len(values) == 300 - sum(1 for m in result.messages if m.latency_ms is None) > 290
    summary = result.latency_summary()
    for key, q in (("p50", 50), ("p95", 95), ("p99", 99)):
        assert summary[key] == pytest.approx(float(np.percentile(values, q)))
    assert ScenarioResult("s", "", "", "", T0).latency_summary() == {"count": 0}


def test_bad_documents_are_clear_errors() -> None:
    with pytest.raises(HarnessError, match="missing key 'started'"):
        ScenarioResult.from_dict({"scenario": "x"})
    with pytest.raises(HarnessError, match="schema"):
        ScenarioResult.from_dict({"schema": "other/9", "scenario": "x", "started": 0})
    bad_step = {"index": 1, "kind": "k", "name": "n", "status": "green", "started": 0, "duration_s": 1}
    with pytest.raises(HarnessError, match="not one of passed"):
        ScenarioResult.from_dict({"scenario": "x", "started": 0, "steps": [bad_step]})
    with pytest.raises(ValueError, match="step status"):
        StepResult(1, "k", "n", "ok", 0.0, 0.0)


# -- JUnit ------------------------------------------------------------------------------------


def test_junit_counts_properties_and_outcomes(result: ScenarioResult, tmp_path: Path) -> None:
    path = write_junit(result, tmp_path / "out" / "junit.xml")
    xml = JUnitXml.fromfile(str(path))
    suites = list(xml)
    assert len(suites) == 1
    suite = suites[0]
    assert suite.name == "ota-upgrade-rollback"
    assert (suite.tests, suite.failures, suite.errors, suite.skipped) == (10, 1, 1, 1)
    assert suite.time == pytest.approx(180.0)
    assert suite.hostname == "ci-runner-3"
    props = {p.name: p.value for p in suite.properties()}
    assert props["scenario"] == "ota-upgrade-rollback"
    assert props["target"] == "local" and props["backend"] == "process"
    assert props["commit"] == "aab6d2e4b1c9"
    assert props[f"component:{APP}"] == "1.1.0"
    assert props["profile:jetson-2"] == "jetson-agx-xavier"

    cases = {case.name: case for case in suite}
    assert next(iter(cases)) == "1: start services"
    assert all(case.classname == "ota-upgrade-rollback" for case in suite)
    failed = cases["6: deploy 1.2.0 and expect RUNNING"]
    assert failed.time == pytest.approx(26.0)
    (failure,) = failed.result
    assert isinstance(failure, Failure)
    assert failure.type == "deploy"
    assert failure.message.startswith("expected com.example.TrafficCam 1.2.0 RUNNING")
    assert "can't cd to /greengrass/v2/packages" in failure.text
    assert "<script>alert('x')</script> & friends" in failure.text  # escaped in the file, intact when read
    assert "\x1b" not in failure.text and "\x00" not in failure.text
    assert "--- jetson-1/logs/greengrass.log ---" in failure.text
    assert "saw BROKEN" in failed.system_out
    (error,) = cases["9: check Triton metrics"].result
    assert isinstance(error, Error) and "Connection refused" in error.text
    (skipped,) = cases["10: messages after power cut"].result
    assert isinstance(skipped, Skipped)
    assert cases["4: messages flowing"].is_passed
    assert '"p95_ms": 61.2' in cases["4: messages flowing"].system_out
    raw = path.read_text(encoding="utf-8")
    assert "&lt;script&gt;" in raw and "<script>" not in raw


# -- OpenMetrics ------------------------------------------------------------------------------


def _samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append((sample.labels, sample.value))
    return out


def _value(samples: dict, name: str, **labels: str) -> float:
    found = [v for lab, v in samples[name] if all(lab.get(k) == want for k, want in labels.items())]
    assert len(found) == 1, (name, labels, samples.get(name))
    return found[0]


def test_openmetrics_values(result: ScenarioResult, tmp_path: Path) -> None:
    path = write_openmetrics(result, tmp_path / "metrics.txt")
    text = path.read_text(encoding="utf-8")
    assert text.endswith("# EOF\n")
    families = {f.name: f.type for f in text_string_to_metric_families(text)}
    assert families["edge_harness_frame_to_kafka_latency_milliseconds"] == "summary"
    assert families["edge_harness_messages"] == "counter"
    s = _samples(text)
    scenario = "ota-upgrade-rollback"
    assert _value(s, "edge_harness_scenario_passed", scenario=scenario) == 0
    assert _value(s, "edge_harness_scenario_duration_seconds") == 180.0
    assert _value(s, "edge_harness_scenario_info", commit="aab6d2e4b1c9", target="local") == 1
    assert _value(s, "edge_harness_component_info", component=APP) == 1
    assert _value(s, "edge_harness_step_duration_seconds", step="6: deploy 1.2.0 and expect RUNNING",
                  kind="deploy", status="failed") == 26.0  # fmt: skip
    assert len(s["edge_harness_step_duration_seconds"]) == 10
    assert _value(s, "edge_harness_steps", status="failed") == 1
    assert _value(s, "edge_harness_phase_seconds", phase="rollback") == 19.0
    summary = result.latency_summary()
    name = "edge_harness_frame_to_kafka_latency_milliseconds"
    for quantile, key in (("0.5", "p50"), ("0.95", "p95"), ("0.99", "p99")):
        assert _value(s, name, quantile=quantile) == pytest.approx(summary[key])
    assert _value(s, f"{name}_count") == summary["count"]
    assert _value(s, f"{name}_sum") == pytest.approx(sum(result.latencies_ms()))
    assert _value(s, "edge_harness_messages_total", topic="traffic-events") == 300
    assert _value(s, "edge_harness_element_latency_milliseconds", element="nvtracker", quantile="0.5") == 1.1
    assert (
        _value(s, "edge_harness_element_latency_milliseconds", element="nvmsgbroker", quantile="0.95") == 6.1
    )
    assert _value(s, "edge_harness_element_latency_milliseconds_count", element="nvtracker") == 900
    streams = [v for _t, st, v in sorted(result.fps) if st == "jetson-1/stream0"]
    assert _value(s, "edge_harness_fps", stream="jetson-1/stream0") == pytest.approx(streams[-1])
    assert _value(s, "edge_harness_fps_mean", stream="jetson-1/stream0") == pytest.approx(np.mean(streams))
    assert _value(s, "edge_harness_fps_min", stream="jetson-2/stream0") == 0.0
    assert _value(s, "edge_harness_accuracy_roi_precision", model="B") == 0.962
    assert _value(s, "edge_harness_accuracy_count_error", model="A") == 0.072
    assert [
        v for lab, v in s["edge_harness_accuracy_roi_recall"] if lab["model"] == "A"
    ] == []  # None: no sample


# -- HTML -------------------------------------------------------------------------------------


def test_html_is_complete_escaped_and_self_contained(result: ScenarioResult, tmp_path: Path) -> None:
    path = write_html(result, tmp_path / "report.html")
    html = path.read_text(encoding="utf-8")
    for heading in SECTION_HEADINGS:
        assert re.search(rf"<h2>{re.escape(heading)}[ <]", html), heading
    assert ">FAILED<" in html and "no data" not in html
    # the failing step's log, inline and open, with its markup escaped
    assert '<details class="logs" open>' in html
    assert "can&#39;t cd to /greengrass/v2/packages/artifacts-unarchived" in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; friends" in html
    assert "<script" not in html
    assert "jetson-2 frame 2010 &lt;after rollback&gt;" in html
    # charts inline as SVG, frames as data URIs, nothing fetched from anywhere
    assert html.count("<svg ") == 5
    assert html.count('src="data:image/png;base64,') == 2
    without_xmlns = re.sub(r'xmlns(:\w+)?="[^"]*"', "", html)
    assert not re.search(r"https?://", without_xmlns)
    assert not re.search(r"""(?:src|href)=["'](?!data:|#)""", html)
    assert "<link" not in html and "@import" not in html
    assert 30_000 < len(html) < 3_000_000
    # every device and state shows up in the timeline
    for text in (
        "jetson-1 · com.example.TrafficCam",
        "jetson-2 · deployments",
        "FAILED_ROLLBACK_COMPLETE",
        "BROKEN",
    ):
        assert text in html


def test_per_element_latency_has_a_chart_and_a_table_in_pipeline_order(result: ScenarioResult) -> None:
    html = render_html(result)
    section = html[
        html.index('<section id="elements">') : html.index("</section>", html.index('id="elements"'))
    ]
    assert "<h2>Per-element latency (p50/p95 ms) <small>6 elements</small></h2>" in section
    assert section.count("<svg ") == 1
    rows = re.findall(
        r'<tr><td>([^<]+)</td><td class="num">(\d+)</td><td class="num">([\d.]+)</td>'
        r'<td class="num">([\d.]+)</td><td class="num">([\d.]+)</td></tr>',
        section,
    )
    assert [(name, p50, p95) for name, _count, p50, p95, _max in rows] == [
        (name, f"{p50:.2f}", f"{p95:.2f}") for name, (p50, p95) in ELEMENTS.items()
    ]
    assert {count for _name, count, *_ in rows} == {"900"}
    # next to the frame → Kafka histogram, in the same pair of sections
    pair = html[html.index('<section id="latency">') : html.index('<section id="elements">')]
    assert "</section>" in pair and '<div class="pair">' not in pair


def test_injected_faults_show_in_the_timeline_and_over_time_charts(tmp_path: Path) -> None:
    faulted = make_result()
    faulted.timeline += [
        TimelineEvent(T0 + 80, "", "inject", "paused kafka", "injected", detail="pause the broker"),
        TimelineEvent(T0 + 84, "", "inject", "resumed kafka", "injected", detail="pause the broker"),
    ]
    html = render_html(faulted)
    for label in ("inject: paused kafka", "inject: resumed kafka"):
        assert label in html, label  # a marker named above the chart
    assert "inject: paused kafka" not in render_html(make_result())


def test_html_rendering_is_deterministic_for_charts(result: ScenarioResult) -> None:
    first, second = render_html(result), render_html(result)
    strip = re.compile(r"generated [^<]*")
    assert strip.sub("", first) == strip.sub("", second)


def test_empty_result_says_no_data(tmp_path: Path) -> None:
    empty = ScenarioResult("empty", "empty.yaml", "local", "process", T0)
    paths = write_reports(empty, tmp_path / "report")
    html = paths["html"].read_text(encoding="utf-8")
    assert html.count("no data") == 10
    assert "<svg" not in html and ">PASSED<" in html
    suite = next(iter(JUnitXml.fromfile(str(paths["junit"]))))
    assert suite.tests == 0
    s = _samples(paths["openmetrics"].read_text(encoding="utf-8"))
    assert _value(s, "edge_harness_scenario_passed") == 1
    assert "edge_harness_frame_to_kafka_latency_milliseconds" not in s
    assert ScenarioResult.load(paths["result"]) == empty


def test_header_reads_one_line_properties(tmp_path: Path) -> None:
    properties = {"git commit": "0123abcd", "component versions": "com.example.App 1.0.0, 1.1.0",
                  "device profiles": "jetson-agx-xavier"}  # fmt: skip
    plain = ScenarioResult("p", "p.yaml", "sim", "process", T0, properties=properties)
    html = render_html(plain)
    for value in properties.values():
        assert value in html
    s = _samples(write_openmetrics(plain, tmp_path / "m.txt").read_text(encoding="utf-8"))
    assert (
        _value(s, "edge_harness_scenario_info", git_commit="0123abcd", device_profiles="jetson-agx-xavier")
        == 1
    )


def test_write_reports_puts_junit_where_asked(result: ScenarioResult, tmp_path: Path) -> None:
    paths = write_reports(result, tmp_path / "r", junit=tmp_path / "ci" / "TEST-ota.xml")
    assert paths["junit"] == tmp_path / "ci" / "TEST-ota.xml" and paths["junit"].is_file()
    assert {p.name for p in (tmp_path / "r").iterdir()} == {"report.html", "metrics.txt", "result.json"}


def test_unwritable_path_is_a_harness_error(result: ScenarioResult, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(HarnessError, match="cannot write"):
        write_openmetrics(result, blocker / "metrics.txt")
