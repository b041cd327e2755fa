"""What a failed step's message adds about the run: a component ERRORED or BROKEN with its status
and the last error lines of its log (written here by the nucleus's own log writer), a component
that broke during the step and was rolled back, a device that exited on its own."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from fake_device.nucleus.logs import NucleusLog
from harness.scenario.causes import failure_causes, last_error_lines
from harness.scenario.devices import SimulatedDevice
from harness.scenario.result import TimelineEvent

pytestmark = pytest.mark.unit

APP = "nvds-awsgg-deployment"


def write_app_log(root: Path) -> None:
    """Three attempts of a Run script that fails, as the device logs them."""
    log = NucleusLog(root / "logs")
    for _attempt in range(3):
        log.component(APP, "INFO", "stdout", "starting the pipeline", thread="Copier")
        for line in (
            "Traceback (most recent call last):",
            '  File "deepstream_app.py", line 12, in <module>',
            "harness.errors.HarnessError: RTSP streaming needs the 'ffmpeg' binary, which is not on PATH",
        ):
            log.component(
                APP, "WARN", "stderr", line, thread="Copier", scriptName=f"services.{APP}.lifecycle.Run"
            )
        log.component(
            APP, "WARN", "service-report-state", "Run script exited with code 1", statusCode="RUN_ERROR"
        )


def device(root: Path) -> SimulatedDevice:
    return SimulatedDevice(
        thing="jetson-1", group="cams", profile="jetson-agx-xavier", root=root, environment={}
    )


INSTALLED_BROKEN = {
    APP: {
        "componentName": APP,
        "componentVersion": "1.0.1",
        "lifecycleState": "BROKEN",
        "lifecycleStateDetails": "Run script exited with code 1",
        "lifecycleStatusCodes": ["RUN_ERROR"],
    }
}


def test_last_error_lines_are_the_stderr_lines_once_each_without_prefix_or_context(tmp_path: Path) -> None:
    write_app_log(tmp_path)
    NucleusLog(tmp_path / "logs").component(APP, "ERROR", "shell-runner-error", "Install timed out")
    assert last_error_lines(tmp_path / "logs" / f"{APP}.log") == [
        'File "deepstream_app.py", line 12, in <module>',
        "harness.errors.HarnessError: RTSP streaming needs the 'ffmpeg' binary, which is not on PATH",
        "shell-runner-error. Install timed out",
    ]
    assert last_error_lines(tmp_path / "missing.log") == []


def test_a_broken_component_is_named_with_its_status_and_last_error_line(tmp_path: Path) -> None:
    write_app_log(tmp_path)
    causes = failure_causes(
        devices={"jetson-1": device(tmp_path)},
        installed={"jetson-1": INSTALLED_BROKEN},
        components=[APP],
        services={},
        timeline=[],
        since=0.0,
    )
    assert len(causes) == 1
    assert causes[0].startswith(
        f"component {APP} is BROKEN on jetson-1 (RUN_ERROR: Run script exited with code 1); "
        f"last error lines of {APP}.log: "
    )
    assert causes[0].endswith("RTSP streaming needs the 'ffmpeg' binary, which is not on PATH")


def test_a_component_that_broke_during_the_step_and_was_rolled_back_is_named(tmp_path: Path) -> None:
    write_app_log(tmp_path)
    step_started = time.time()
    timeline = [
        TimelineEvent(step_started - 60, "jetson-1", "component", APP, "ERRORED", "1.0.0"),  # before
        TimelineEvent(step_started + 2, "jetson-1", "component", APP, "BROKEN", "1.0.2"),
        TimelineEvent(step_started + 5, "jetson-1", "component", APP, "RUNNING", "1.0.1"),
    ]
    running = {APP: {**INSTALLED_BROKEN[APP], "lifecycleState": "RUNNING", "lifecycleStatusCodes": []}}
    causes = failure_causes(
        devices={"jetson-1": device(tmp_path)},
        installed={"jetson-1": running},
        components=[APP],
        services={},
        timeline=timeline,
        since=step_started,
    )
    assert len(causes) == 1
    assert causes[0].startswith(f"component {APP} was BROKEN at 1.0.2 on jetson-1 (now RUNNING@1.0.1); ")


def test_healthy_components_and_a_stopped_device_are_no_cause(tmp_path: Path) -> None:
    dev = device(tmp_path)
    dev.process = subprocess.Popen([sys.executable, "-c", "pass"])
    dev.process.wait(30)
    dev._stopped_on_purpose = True  # what stop() and the kill_device fault set
    running = {APP: {**INSTALLED_BROKEN[APP], "lifecycleState": "RUNNING"}}
    assert failure_causes(
        devices={"jetson-1": dev}, installed={"jetson-1": running}, components=[APP], services={},
        timeline=[], since=0.0,
    ) == []  # fmt: skip


def test_a_device_that_exited_on_its_own_is_named_with_its_log(tmp_path: Path) -> None:
    dev = device(tmp_path / "jetson-1")
    (tmp_path / "jetson-1.process.log").write_text("error: the device cannot reach AWS: connection refused\n")
    dev.process = subprocess.Popen([sys.executable, "-c", "raise SystemExit(1)"])
    dev.process.wait(30)
    causes = failure_causes(
        devices={"jetson-1": dev}, installed={}, components=[APP], services={}, timeline=[], since=0.0
    )
    assert causes == [
        "device jetson-1 exited with code 1: error: the device cannot reach AWS: connection refused"
    ]
