"""The scenarios end to end, through the command users run (``edge-harness run``).

Each run starts the AWS endpoint and a Kafka broker, publishes the component versions, boots a
simulated Jetson as its own process, and checks everything through boto3, the Kafka topic and
the device's logs; the reports are read back.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from junitparser import JUnitXml
from prometheus_client.openmetrics.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def tmp_path() -> Iterator[Path]:
    """A work folder every user may enter: the devices' component user (nobody) must reach
    its artifacts, and pytest's own tmp folders are mode 700."""
    path = Path(tempfile.mkdtemp(prefix="edge-harness-e2e-"))
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def run(scenario: Path, tmp: Path, timeout: float = 600) -> tuple[subprocess.CompletedProcess[str], Path]:
    report = tmp / "report"
    work = tmp / "work"
    proc = subprocess.run(
        [sys.executable, "-m", "harness.cli", "run", str(scenario), "--work", str(work),
         "--report", str(report), "--junit", str(report / "junit.xml")],
        capture_output=True, text=True, timeout=timeout, cwd=ROOT,
    )  # fmt: skip
    # nothing the run started survives it (devices, components, Triton, ffmpeg, broker, endpoint)
    leftovers = [
        p.info["cmdline"]
        for p in psutil.process_iter(["cmdline"])
        if str(work) in " ".join(p.info.get("cmdline") or [])
    ]
    assert leftovers == [], leftovers
    return proc, report


def test_traffic_ota_upgrade_and_rollback(tmp_path: Path) -> None:
    proc, report = run(ROOT / "scenarios" / "traffic_ota.yaml", tmp_path)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-6000:]
    assert "traffic-ota: PASSED" in proc.stderr

    suite = next(iter(JUnitXml.fromfile(str(report / "junit.xml"))))
    assert suite.tests == 17 and suite.failures == 0 and suite.errors == 0
    properties = {p.name: p.value for p in suite.properties()}
    assert properties["scenario"] == "traffic-ota" and properties["target"] == "sim"

    result = json.loads((report / "result.json").read_text())
    steps = {s["name"]: s for s in result["steps"]}
    # the update's downtime as the consumer saw it: 1.0.0's last message → 1.0.1's first
    assert 0 < steps["messages resume with the new classes"]["details"]["outage_s"] <= 60
    rollback = steps["1.0.2 fails and rolls back"]["details"]["devices"]["jetson-1"]
    assert rollback["status"] == "FAILED" and rollback["reason"] == "FAILED_ROLLBACK_COMPLETE"
    accuracy = {row["step"]: row for row in result["accuracy"]}
    assert accuracy["1.0.1 latency and accuracy over one pass of the clip"]["roi_precision"] >= 0.8
    # detector A says "vehicle", B names the class: the OTA update improves class accuracy
    assert accuracy["1.0.0 latency and accuracy over one pass of the clip"]["class_accuracy"] == 0.0
    assert accuracy["1.0.1 latency and accuracy over one pass of the clip"]["class_accuracy"] >= 0.8
    # the component timeline shows 1.0.0, 1.0.1, the broken 1.0.2, and 1.0.1 again
    versions = [
        e["version"] for e in result["timeline"] if e["kind"] == "component" and e["state"] == "RUNNING"
    ]
    assert versions[0] == "1.0.0" and versions[-1] == "1.0.1" and "1.0.1" in versions[1:-1]

    metrics = {f.name: f for f in text_string_to_metric_families((report / "metrics.txt").read_text())}
    assert "edge_harness_scenario_passed" in metrics
    html = (report / "report.html").read_text()
    assert "traffic-ota" in html and "FAILED_ROLLBACK_COMPLETE" in html and "<svg" in html


def test_seed_recipe_as_written_fails_on_the_device_and_says_why(tmp_path: Path) -> None:
    proc, report = run(ROOT / "scenarios" / "seed_recipe_as_written.yaml", tmp_path)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-6000:]
    result = json.loads((report / "result.json").read_text())
    assert [s["status"] for s in result["steps"]] == ["passed"] * 4
    why = next(s for s in result["steps"] if s["name"].startswith("why"))
    assert any("can't cd to" in line and "nvds-aws-gg" in line for line in why["details"]["found"].values())


def test_a_component_using_iot_core_a_secret_its_shadow_and_a_deferral(tmp_path: Path) -> None:
    """scenarios/ipc_component.yaml: the component's IPC calls checked from the cloud side only."""
    proc, report = run(ROOT / "scenarios" / "ipc_component.yaml", tmp_path)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-6000:]
    result = json.loads((report / "result.json").read_text())
    steps = {s["name"]: s for s in result["steps"]}
    assert [s["status"] for s in result["steps"]] == ["passed"] * 12
    first = steps["telemetry reaches IoT Core"]["details"]
    assert first["matching"] >= 3 and first["topic"] == "fleet/gateway-1/telemetry"
    assert {m["version"] for m in first["last"]} == {"1.0.0"}
    assert steps["the app applies the desired fps"]["details"]["state"]["reported"]["fps"] == 15
    assert steps["the database password"]["details"]["arn"].startswith("arn:aws:secretsmanager:")


def test_an_unmet_expectation_fails_the_run_with_exit_1_and_a_junit_failure(tmp_path: Path) -> None:
    text = (ROOT / "scenarios" / "seed_recipe_as_written.yaml").read_text()
    text = text.replace("    status: FAILED\n", "    status: SUCCEEDED\n").replace(
        "seed/", str(ROOT / "scenarios" / "seed") + "/"
    )
    scenario = tmp_path / "wrong.yaml"
    scenario.write_text(text)
    proc, report = run(scenario, tmp_path)
    assert proc.returncode == 1
    assert "expected SUCCEEDED, got" in proc.stderr
    suite = next(iter(JUnitXml.fromfile(str(report / "junit.xml"))))
    assert suite.failures == 1 and suite.skipped == 2
    result = json.loads((report / "result.json").read_text())
    failed = next(s for s in result["steps"] if s["status"] == "failed")
    assert any("greengrass.log" in name for name in failed["logs"]), "a failed step carries the device logs"


def test_a_frozen_broker_loses_no_message_and_the_report_has_element_latency(tmp_path: Path) -> None:
    """scenarios/faults/kafka_pause.yaml: Kafka paused for 10 s once the app prints **PERF; the frame
    ids received after the pause carry on from the last one before it, with no duplicate."""
    proc, report = run(ROOT / "scenarios" / "faults" / "kafka_pause.yaml", tmp_path)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-6000:]
    assert "kafka-pause: PASSED" in proc.stderr
    result = json.loads((report / "result.json").read_text())
    steps = {s["name"]: s for s in result["steps"]}

    fault = steps["freeze the broker for 10 s while the app streams"]["details"]
    assert fault["after_log"]["contains"] == "**PERF"
    assert "**PERF" in fault["after_log"]["found"]["jetson-1"]
    paused, resumed = fault["events"]
    assert (paused["action"], resumed["action"]) == ("paused kafka", "resumed kafka")
    assert 10.0 <= resumed["time"] - paused["time"] < 12.0
    markers = [e["name"] for e in result["timeline"] if e["kind"] == "inject"]
    assert markers == ["paused kafka", "resumed kafka"]

    after = steps["no message lost or sent twice across the pause"]["details"]
    sequence = after["sequence"]["sensor-0"]
    assert sequence["duplicates"] == [] and sequence["gaps"] == []
    # the window carried on from a frame id received before the pause, and went past the pause
    assert sequence["continued_from"] < sequence["first"] <= sequence["continued_from"] + 150
    assert sequence["messages"] >= 3

    # per-element latency: the device passed DeepStream's switches to the app, whose probe calls
    # pyds.nvds_measure_buffer_latency after nvdsanalytics (so the elements up to there are measured,
    # named as DeepStream names them), and the runner read the lines from the component log
    elements = result["element_latency_ms"]
    assert {"nvv4l2decoder0", "nvstreammux-streammux", "primary-gie", "tracker", "analytics"} <= set(elements)
    assert (
        elements["primary-gie"]["count"] >= 5
        and elements["primary-gie"]["p95"] >= elements["primary-gie"]["p50"] > 0
    )
    metrics = {f.name: f for f in text_string_to_metric_families((report / "metrics.txt").read_text())}
    quantiles = {
        (s.labels["element"], s.labels["quantile"])
        for s in metrics["edge_harness_element_latency_milliseconds"].samples
        if "quantile" in s.labels
    }
    assert {("primary-gie", "0.5"), ("primary-gie", "0.95")} <= quantiles
    html = (report / "report.html").read_text()
    assert "Per-element latency (p50/p95 ms)" in html and "<td>primary-gie</td>" in html
    # sampled, not one line per element and frame: about one batch a second reaches the log
    log = (tmp_path / "work" / "devices" / "jetson-1" / "logs" / "nvds-awsgg-deployment.log").read_text()
    perf_lines = log.count("**PERF")
    assert 0 < log.count("Comp name = primary-gie") <= 2 * perf_lines + 5
