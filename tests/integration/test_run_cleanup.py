"""``edge-harness run`` leaves nothing behind, however it ends, and a failed step names its cause.

* A run with a running component (the traffic app: GStreamer pipeline with its RTSP server, its own
  tritonserver and python stub, the multiprocessing resource tracker; the run's IoT Core broker) is
  SIGKILLed, and another
  is stopped with SIGTERM: every process of the run's tree, recorded by pid before the signal,
  is gone within a bounded wait; the SIGTERMed run exits 143 having removed its folders, and the
  SIGKILLed run's folders are removed by the next run as it starts.
* The work folder: removed after a passed run, kept and named after a failed one or with
  --keep-work.
* A step that fails while a component is BROKEN says which component, its state and the last
  error line of its log — in the terminal, result.json and the JUnit file.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest
from junitparser import JUnitXml

from harness.services.kafka import KafkaBroker
from harness.services.workdirs import LOCK_NAME, folder_in_use

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "scenarios" / "traffic" / "components" / "nvds-awsgg-deployment" / "1.0.1"

RUNNING_APP = f"""
name: cleanup-running-app
services:
  topics: [quickstart-events]
devices:
  - name: jetson
    profile: jetson-agx-xavier
    thing_group: cleanup-cams
components:
  nvds-awsgg-deployment:
    "1.0.1":
      recipe: {APP / "recipe.yaml"}
      artifact: {APP / "artifact.yaml"}
steps:
  - kind: deploy
    name: install the traffic app
    id: app
    target: cleanup-cams
    components:
      nvds-awsgg-deployment:
        version: "1.0.1"
        configuration:
          merge:
            ConnString: "${{kafka.host}};${{kafka.port}};quickstart-events"
            RtspPort: "${{free_port.rtsp}}"
  - kind: sleep
    name: run until cancelled
    seconds: 900
"""

CAMERA_RECIPE = """
RecipeFormatVersion: "2020-01-25"
ComponentName: com.example.Camera
ComponentVersion: "1.0.0"
ComponentPublisher: edge-harness tests
Manifests:
  - Platform:
      os: linux
    Lifecycle:
      Run:
        Script: |
          echo "opening the camera"
          {body}
"""

CAMERA_SCENARIO = """
name: cleanup-camera
services:
  topics: [camera-events]
devices:
  - name: cam
    profile: jetson-agx-xavier
    thing_group: cleanup-cameras
components:
  com.example.Camera:
    "1.0.0":
      recipe: recipe.yaml
steps:
  - kind: deploy
    name: install the camera
    id: camera
    target: cleanup-cameras
    failure_handling: DO_NOTHING
    components:
      com.example.Camera:
        version: "1.0.0"
{last_step}
"""

BROKEN_BODY = 'echo "error: camera /dev/video9 not found" >&2; exit 1'
EXPECT_MESSAGES = """  - kind: expect_messages
    name: camera events arrive
    topic: camera-events
    within_s: 8
"""
RUNNING_BODY = "exec sleep 600"
WAIT_RUNNING = """  - kind: wait_for
    name: the camera runs
    component: com.example.Camera
    state: RUNNING
    timeout_s: 60
"""

#: processes of a run that must all be there before the signal, so the test proves they all die
EXPECTED_IN_TREE = (
    "harness.services.aws_server",
    "tansu",
    "harness.cli device run",
    "fake_device.nucleus.reaper",
    "deepstream_app.py",
    "bin/tritonserver",
    "triton_python_backend_stub",
    "amqtt",
    "multiprocessing.resource_tracker",
)


class Run:
    """``edge-harness run`` in a child process; its terminal output goes to a file."""

    def __init__(self, scenario: Path, *args: str) -> None:
        self.output = scenario.with_suffix(f".{time.monotonic_ns()}.out")
        self._out = self.output.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "harness.cli", "run", str(scenario), *args],
            stdout=self._out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env={**os.environ, "COLUMNS": "250"},  # rich wraps at 80 columns otherwise
        )

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def wait_for_output(self, pattern: str, timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = re.search(pattern, self.text())
            if match:
                return match
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError(f"{pattern!r} not in the run's output:\n{self.text()[-4000:]}")

    @property
    def work(self) -> Path:
        return Path(self.wait_for_output(r"work folder (/\S+)", 120).group(1))

    def tree(self) -> list[psutil.Process]:
        return psutil.Process(self.process.pid).children(recursive=True)

    def wait_for_tree(self, timeout: float = 300) -> list[psutil.Process]:
        """The whole process tree once every expected process is in it (the app streams)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.text()[-4000:]
            tree = self.tree()
            commands = [" ".join(_cmdline(p)) for p in tree]
            if all(any(name in command for command in commands) for name in EXPECTED_IN_TREE):
                return tree
            time.sleep(0.5)
        missing = [n for n in EXPECTED_IN_TREE if not any(n in c for c in commands)]
        raise AssertionError(f"the run never had {missing}; it had {commands}")

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(30)
        self._out.close()


def _cmdline(proc: psutil.Process) -> list[str]:
    try:
        return proc.cmdline()
    except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
        return []


def survivors(procs: list[psutil.Process], timeout: float = 60) -> list[str]:
    _gone, alive = psutil.wait_procs(procs, timeout=timeout)
    return [f"{p.pid} {' '.join(_cmdline(p))[:150]}" for p in alive if p.status() != psutil.STATUS_ZOMBIE]


def folders_of(pids: set[int]) -> list[Path]:
    """The harness's temporary folders that processes ``pids`` made (their lock file says who)."""
    found = []
    for lock in Path("/tmp").glob(f"edge-harness-*/{LOCK_NAME}"):
        try:
            if json.loads(lock.read_text())["pid"] in pids:
                found.append(lock.parent)
        except (OSError, ValueError, KeyError):
            continue
    return found


def test_sigkill_and_sigterm_of_a_run_leave_nothing_behind(tmp_path: Path) -> None:
    scenario = tmp_path / "running_app.yaml"
    scenario.write_text(RUNNING_APP)

    killed = Run(scenario)
    try:
        killed_work = killed.work
        tree = killed.wait_for_tree()
        folders = folders_of({killed.process.pid, *(p.pid for p in tree)})
        assert killed_work in folders and len(folders) >= 3  # + the AWS endpoint's, the broker's, …
        killed.process.send_signal(signal.SIGKILL)
        killed.process.wait(30)
        assert survivors(tree) == []
        # a SIGKILLed run cannot remove its folders; its lock is gone with it
        assert all(folder_in_use(folder) is False for folder in folders if folder.exists())
    finally:
        killed.close()

    stopped = Run(scenario)
    try:
        stopped_work = stopped.work  # printed once the run swept what dead runs left
        assert [folder for folder in folders if folder.exists()] == []
        tree = stopped.wait_for_tree()
        folders = folders_of({stopped.process.pid, *(p.pid for p in tree)})
        stopped.process.send_signal(signal.SIGTERM)
        assert stopped.process.wait(120) == 143, stopped.text()[-4000:]
        assert "interrupted (SIGTERM)" in stopped.text()
        assert survivors(tree) == []
        assert not stopped_work.exists()
        assert [folder for folder in folders if folder.exists()] == []
    finally:
        stopped.close()


def camera_scenario(folder: Path, body: str, last_step: str) -> Path:
    folder.mkdir()
    (folder / "recipe.yaml").write_text(textwrap.dedent(CAMERA_RECIPE).format(body=body))
    scenario = folder / "camera.yaml"
    scenario.write_text(CAMERA_SCENARIO.format(last_step=last_step))
    return scenario


def test_a_failed_step_names_the_broken_component_and_the_work_folder_is_kept(tmp_path: Path) -> None:
    scenario = camera_scenario(tmp_path / "broken", BROKEN_BODY, EXPECT_MESSAGES)
    report = tmp_path / "report"
    run = Run(scenario, "--report", str(report), "--junit", str(report / "junit.xml"))
    try:
        assert run.process.wait(300) == 1
    finally:
        run.close()
    text = run.text()
    cause = (
        "cause: component com.example.Camera is BROKEN on cam-1 (RUN_ERROR: Run script exited with "
        "code 1); last error lines of com.example.Camera.log: error: camera /dev/video9 not found"
    )
    assert cause in text, text[-4000:]
    step = next(s for s in json.loads((report / "result.json").read_text())["steps"] if s["index"] == 2)
    assert step["status"] == "failed"
    assert re.fullmatch(
        r"camera-events: 0 messages in 8\.\d s, expected at least 1\n" + re.escape(cause), step["message"]
    )
    case = next(
        c for c in next(iter(JUnitXml.fromfile(str(report / "junit.xml")))) if "camera events" in c.name
    )
    assert cause[len("cause: ") :] in (case.result[0].text or "")

    kept = Path(re.search(r"work folder kept \(the run failed\): (/\S+)", text).group(1))  # type: ignore[union-attr]
    try:
        assert (kept / "devices" / "cam-1" / "logs" / "com.example.Camera.log").is_file()
        assert folder_in_use(kept) is None  # no lock: no later run will sweep it
    finally:
        shutil.rmtree(kept, ignore_errors=True)


@pytest.mark.parametrize("keep", [False, True], ids=["removed", "keep-work"])
def test_a_passed_run_removes_its_work_folder_unless_asked_to_keep_it(tmp_path: Path, keep: bool) -> None:
    scenario = camera_scenario(tmp_path / "running", RUNNING_BODY, WAIT_RUNNING)
    run = Run(scenario, *(["--keep-work"] if keep else []))
    try:
        work = run.work
        assert run.process.wait(300) == 0, run.text()[-4000:]
    finally:
        run.close()
    if keep:
        assert f"work folder kept (--keep-work): {work}" in run.text()
        assert (work / "devices" / "cam-1" / "logs" / "greengrass.log").is_file()
        shutil.rmtree(work, ignore_errors=True)
    else:
        assert not work.exists()
        assert "work folder kept" not in run.text()


def test_a_service_that_died_says_so_and_one_killed_on_purpose_does_not() -> None:
    with KafkaBroker() as kafka:
        assert kafka.failure() is None
        assert kafka.process is not None
        os.kill(kafka.process.pid, signal.SIGKILL)  # not through the service: it "crashed"
        kafka.process.wait(10)
        assert (kafka.failure() or "").startswith("service kafka exited with code -9")
        kafka.restart()
        kafka.kill()  # the kill_service fault
        assert kafka.failure() is None
