"""SIGKILL of the device process at each phase of a deployment, then a restart on the same root:
the device converges — the deployment completes, the component runs exactly once, and nothing of
the killed device keeps running in between (its reaper stops the component processes, as systemd
does with the nucleus's control group)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fleet import Operator, processes_with, unique, wait_for

PHASES = {
    # phase: (file under the root, text that marks it)
    "download": ("logs/greengrass.log", "dependency-resolution"),
    "install": ("logs/{name}.log", "lifecycle.Install"),
    "startup": ("logs/{name}.log", "lifecycle.Startup"),
    "merge": ("logs/greengrass.log", "Applying deployment changes"),
    "status-report": ("logs/greengrass.log", "deployment-status"),
}


class DeviceProcess:
    """``edge-harness device run`` as a child process that a test may SIGKILL."""

    def __init__(self, endpoint, root: Path, thing: str, group: str) -> None:
        env = {**os.environ, **endpoint.environment()}
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "harness.cli",
                "device",
                "run",
                "--thing",
                thing,
                "--group",
                group,
                "--root",
                str(root),
                "--poll-interval",
                "0.2",
                "--quiet",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _state(root: Path, name: str, pid: int) -> str | None:
    """The component's state as the device process ``pid`` wrote it (not a killed one)."""
    try:
        status = json.loads((root / "run" / "status.json").read_text())
    except (OSError, ValueError):
        return None
    if status.get("pid") != pid:
        return None
    return status.get("components", {}).get(name, {}).get("state")


@pytest.mark.parametrize("phase", sorted(PHASES))
def test_sigkill_at_each_phase_converges(aws_endpoint, device_root: Path, phase: str) -> None:
    operator = Operator(aws_endpoint)
    name = unique("com.example.Crash")
    marker = unique("crashapp")
    lifecycle = {"Install": "sleep 1; echo installed >> installs.txt"}
    if phase == "startup":
        lifecycle["Startup"] = f"sleep 1; (sleep 600; echo {marker}) & echo started"
    else:
        lifecycle["Run"] = f"sleep 600; echo {marker}"
    # a few MB of incompressible data so that the download takes a moment
    operator.component(name, "1.0.0", lifecycle, files={"blob.bin": os.urandom(4 * 1024 * 1024)})
    group, group_arn = operator.group()
    thing = unique("jetson")
    relative, text = PHASES[phase]
    watched = device_root / relative.format(name=name)

    device = DeviceProcess(aws_endpoint, device_root, thing, group)
    try:
        wait_for(lambda: (device_root / "run" / "status.json").exists(), 60, "the device to boot")
        deployment = operator.deploy(group_arn, {name: "1.0.0"})
        wait_for(lambda: watched.exists() and text in watched.read_text(), 60, f"phase {phase}")
        device.kill()
    finally:
        device.stop()
    # the reaper stops what the killed device started
    wait_for(lambda: not processes_with(marker), 15, "component processes to stop with the device")

    device = DeviceProcess(aws_endpoint, device_root, thing, group)
    try:
        result = operator.wait_deployment(thing, deployment, timeout=120)
        assert result["reason"] == "SUCCESSFUL", result
        pid = device.process.pid
        wait_for(lambda: _state(device_root, name, pid) == "RUNNING", 60, "the component to run")
        time.sleep(0.5)
        assert len([p for p in processes_with(marker) if p.name() == "sh"]) == 1
        unpacked = device_root / "packages" / "artifacts-unarchived" / name / "1.0.0" / "app" / "blob.bin"
        assert unpacked.stat().st_size == 4 * 1024 * 1024
        assert not (device_root / "deployments" / "current.json").exists()
    finally:
        device.stop()
    assert not processes_with(marker)


def test_sigkill_between_the_merge_record_and_the_commit_finishes_the_commit(
    aws_endpoint, device_root: Path
) -> None:
    """The ``merged`` stage is recorded before the new configuration is committed. A device killed
    between the two boots on the old configuration: it must commit the recorded one and start
    its components, not report SUCCESSFUL for a deployment whose component never runs. The
    window is narrow, so the test builds its end state: the record as the merge saved it, the
    configuration file as it was before the deployment."""
    operator = Operator(aws_endpoint)
    name = unique("com.example.CrashCommit")
    marker = unique("crashcommit")
    operator.component(name, "1.0.0", {"Run": f"sleep 600; echo {marker}"})
    group, group_arn = operator.group()
    thing = unique("jetson")
    config_file = device_root / "config" / "effectiveConfig.yaml"
    record_file = device_root / "deployments" / "current.json"

    device = DeviceProcess(aws_endpoint, device_root, thing, group)
    try:
        wait_for(lambda: (device_root / "run" / "status.json").exists(), 60, "the device to boot")
        before = config_file.read_bytes()
        deployment = operator.deploy(group_arn, {name: "1.0.0"})

        def merged() -> bool:
            try:
                return json.loads(record_file.read_text())["stage"] == "merged"
            except (OSError, ValueError, KeyError):
                return False

        wait_for(merged, 60, "the merge to be recorded")
        device.kill()
    finally:
        device.stop()
    wait_for(lambda: not processes_with(marker), 15, "component processes to stop with the device")
    assert json.loads(record_file.read_text())["target"]["services"][name]
    config_file.write_bytes(before)  # the commit had not happened yet

    device = DeviceProcess(aws_endpoint, device_root, thing, group)
    try:
        result = operator.wait_deployment(thing, deployment, timeout=120)
        assert result["reason"] == "SUCCESSFUL", result
        pid = device.process.pid
        wait_for(lambda: _state(device_root, name, pid) == "RUNNING", 60, "the component to run")
        log = (device_root / "logs" / "greengrass.log").read_text()
        assert "Completing the configuration commit interrupted at stage merged" in log
    finally:
        device.stop()
    assert not processes_with(marker)


def test_sigkill_during_a_bootstrap_step_runs_it_again_at_the_next_boot(
    aws_endpoint, device_root: Path
) -> None:
    """The task was not DONE: the next launch runs it again before any component starts
    (``Kernel.launch`` in the BOOTSTRAP stage), then restarts into the new configuration."""
    operator = Operator(aws_endpoint)
    name = unique("com.example.CrashBoot")
    marker = unique("crashboot")
    lifecycle = {
        "Bootstrap": "echo bootstrap >> events.txt; sleep 2; exit 100",
        "Install": "echo install >> events.txt",
        "Run": f"sleep 600; echo {marker}",
    }
    operator.component(name, "1.0.0", lifecycle)
    group, group_arn = operator.group()
    thing = unique("jetson")
    log = device_root / "logs" / f"{name}.log"
    device = DeviceProcess(aws_endpoint, device_root, thing, group)
    try:
        wait_for(lambda: (device_root / "run" / "status.json").exists(), 60, "the device to boot")
        deployment = operator.deploy(group_arn, {name: "1.0.0"})
        wait_for(lambda: log.exists() and "lifecycle.Bootstrap" in log.read_text(), 60, "the bootstrap step")
        device.kill()
    finally:
        device.stop()
    device = DeviceProcess(aws_endpoint, device_root, thing, group)
    try:
        result = operator.wait_deployment(thing, deployment, timeout=120)
        assert result["reason"] == "SUCCESSFUL", result
        pid = device.process.pid
        wait_for(lambda: _state(device_root, name, pid) == "RUNNING", 60, "the component to run")
        events = (device_root / "work" / name / "events.txt").read_text().splitlines()
        assert events == ["bootstrap", "bootstrap", "install"]
    finally:
        device.stop()
    assert not processes_with(marker)
