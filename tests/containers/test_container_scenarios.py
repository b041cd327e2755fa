"""Whole scenarios on the docker backend: the seed's OTA story and the fault scenarios, through
``edge-harness run --backend docker``, with every container and network gone afterwards."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from harness.services.containers.session import LABEL_SESSION

pytestmark = pytest.mark.containers

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def work() -> Iterator[Path]:
    """A work folder every user may enter (the component user must reach the device roots)."""
    path = Path(tempfile.mkdtemp(prefix="edge-harness-docker-"))
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def run_docker(
    scenario: str, work: Path, timeout: float = 900
) -> tuple[subprocess.CompletedProcess[str], dict]:
    report = work / "report"
    proc = subprocess.run(
        [sys.executable, "-m", "harness.cli", "run", str(ROOT / scenario), "--backend", "docker",
         "--work", str(work / "run"), "--report", str(report)],
        capture_output=True, text=True, timeout=timeout, cwd=ROOT,
    )  # fmt: skip
    import docker

    client = docker.from_env()
    mine = [
        c.name
        for c in client.containers.list(all=True, filters={"label": LABEL_SESSION})
        if str(work) in json.dumps(c.attrs.get("Mounts", []))
    ]
    assert mine == [], f"containers left behind: {mine}"
    result = json.loads((report / "result.json").read_text()) if (report / "result.json").exists() else {}
    return proc, result


def _steps(result: dict) -> dict[str, str]:
    return {step["name"]: step["status"] for step in result.get("steps", [])}


def test_traffic_ota_on_containers(images: dict[str, str], work: Path) -> None:
    proc, result = run_docker("scenarios/traffic_ota.yaml", work)
    assert proc.returncode == 0, proc.stderr[-6000:]
    assert result["backend"] == "docker"
    assert set(_steps(result).values()) == {"passed"}


def test_ipc_component_on_containers(images: dict[str, str], work: Path) -> None:
    """scenarios/ipc_component.yaml as on the process backend: IoT Core's broker in its container,
    the component's awsiotsdk from the device image, checked from the cloud side only."""
    proc, result = run_docker("scenarios/ipc_component.yaml", work)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-6000:]
    assert result["backend"] == "docker"
    steps = {step["name"]: step for step in result["steps"]}
    assert [step["status"] for step in result["steps"]] == ["passed"] * 12
    first = steps["telemetry reaches IoT Core"]["details"]
    assert first["matching"] >= 3 and first["topic"] == "fleet/gateway-1/telemetry"
    assert {message["version"] for message in first["last"]} == {"1.0.0"}
    assert steps["telemetry of the new version"]["details"]["matching"] >= 1
    assert steps["the app applies the desired fps"]["details"]["state"]["reported"]["fps"] == 15


def test_triton_killed_component_errors_and_recovers(images: dict[str, str], work: Path) -> None:
    proc, result = run_docker("scenarios/faults/triton_kill.yaml", work)
    assert proc.returncode == 0, proc.stderr[-6000:]
    steps = _steps(result)
    assert steps["the app noticed and the component errored"] == "passed"
    assert steps["messages after recovery"] == "passed"


def _inject(result: dict) -> dict:
    return next(step for step in result["steps"] if step["kind"] == "inject")["details"]


def _log_time(log: str, text: str) -> datetime:
    line = next(line for line in log.splitlines() if text in line)
    return datetime.fromisoformat(line.split()[0].replace("Z", "+00:00"))


def test_device_killed_mid_install_converges(images: dict[str, str], work: Path) -> None:
    proc, result = run_docker("scenarios/faults/device_kill_install.yaml", work)
    assert proc.returncode == 0, proc.stderr[-6000:]
    fault = _inject(result)
    assert fault["starts"] == 2  # killed while installing, booted again on the same root
    assert "check: loading the configs" in fault["after_log"]["found"]["jetson-1"]
    assert _steps(result)["deployment converged"] == "passed"


def test_device_partitioned_during_download_succeeds(images: dict[str, str], work: Path) -> None:
    proc, result = run_docker("scenarios/faults/device_partition.yaml", work)
    assert proc.returncode == 0, proc.stderr[-6000:]
    assert _steps(result)["deployment succeeded after the partition"] == "passed"
    fault = _inject(result)
    assert [e["action"] for e in fault["events"]] == ["disconnected jetson-1", "reconnected jetson-1"]
    # The artifacts took longer than the partition: the cut fell inside the download (12.6 MB at
    # the LTE profile's 20 Mbit/s is about 5 s on its own), which survived it.
    greengrass = next((work / "run" / "devices").glob("*/logs/greengrass.log")).read_text()
    download = _log_time(greengrass, "Applying deployment changes") - _log_time(
        greengrass, "Resolved components"
    )
    assert download.total_seconds() >= 15, download


def _sessions_of(work: Path) -> set[str]:
    """The sessions of the containers that mount the run's work folder (its devices)."""
    import docker

    client = docker.from_env()
    return {
        c.labels[LABEL_SESSION]
        for c in client.containers.list(all=True, filters={"label": LABEL_SESSION})
        if str(work) in json.dumps(c.attrs.get("Mounts", []))
    }


def _session_items(session: str) -> list[str]:
    import docker

    client = docker.from_env()
    label = {"label": f"{LABEL_SESSION}={session}"}
    return [c.name for c in client.containers.list(all=True, filters=label)] + [
        n.name for n in client.networks.list(filters=label)
    ]


def test_a_killed_docker_run_leaves_no_container(images: dict[str, str], work: Path) -> None:
    """SIGKILL of ``edge-harness run --backend docker`` while its device runs: no finally, no atexit
    runs, yet the run's containers and network go with it (the keeper), without another run."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "run", str(ROOT / "scenarios/traffic_ota.yaml"),
         "--backend", "docker", "--work", str(work / "run"), "--report", str(work / "report")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 600
        while not (sessions := _sessions_of(work)):
            assert proc.poll() is None, "the run ended before its device started"
            assert time.monotonic() < deadline, "no device container within 600 s"
            time.sleep(1)
        (session,) = sessions
        assert len(_session_items(session)) >= 4  # the services, the device and the network
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        deadline = time.monotonic() + 90
        while _session_items(session) and time.monotonic() < deadline:
            time.sleep(1)
        assert _session_items(session) == []
    finally:
        if proc.poll() is None:
            proc.kill()
