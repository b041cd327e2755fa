"""``--target lab`` end to end on a simulated lab: Jetsons in network namespaces of this host,
each with sshd, the simulated nucleus on a /greengrass/v2-like root, tegrastats and a power
switch, all under a real labgrid coordinator and exporter (harness/targets/lab/simulated.py).

The harness reaches them only as it would reach lab hardware: labgrid reservations, SSH, the
power switch's HTTP API, and the services bound to the lab address. The same scenario files run
on ``--target sim`` in tests/e2e. Needs root (network namespaces); skips saying why otherwise.
Everything a test starts is gone when it ends: namespaces, links, sshd, labgrid.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.targets.lab.simulated import SimulatedLab, unavailable

pytestmark = [pytest.mark.lab, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]


RECIPE = """\
RecipeFormatVersion: "2020-01-25"
ComponentName: com.example.Beacon
ComponentVersion: "1.0.0"
ComponentConfiguration:
  DefaultConfiguration:
    Message: hello
Manifests:
  - Platform: {os: linux}
    Lifecycle:
      Run: "while true; do echo beacon {configuration:/Message}; sleep 1; done"
"""

# what a lab Jetson has when the Greengrass CLI is deployed: greengrass-cli under its root
CLI_RECIPE = """\
RecipeFormatVersion: "2020-01-25"
ComponentName: aws.greengrass.Cli
ComponentVersion: "2.12.6"
Manifests:
  - Lifecycle:
      Run: "exec sleep 3600"
"""

SCENARIO = """\
name: lab-beacon
devices:
  - {name: lab-jetson, count: 1, profile: x86-64-host, thing_group: lab-cams}
components:
  com.example.Beacon:
    "1.0.0": {recipe: recipe.yaml}
  aws.greengrass.Cli:
    "2.12.6": {recipe: cli.yaml}
variables:
  line: beacon from-the-lab
steps:
  - kind: deploy
    id: beacon
    target: lab-cams
    components:
      com.example.Beacon: {version: "1.0.0", configuration: {merge: {Message: from-the-lab}}}
      aws.greengrass.Cli: {version: "2.12.6"}
  - {kind: wait_for, deployment: beacon, status: SUCCEEDED, timeout_s: 120}
  - {kind: wait_for, component: com.example.Beacon, state: RUNNING, timeout_s: 60}
  - kind: assert_logs
    name: in its log
    component: com.example.Beacon
    contains: "${var.line}"
    within_s: 30
  - {kind: inject, name: power cycle, fault: restart_device, device: lab-jetson-1}
  - kind: assert_logs
    name: after the cycle
    component: com.example.Beacon
    contains: "${var.line}"
    within_s: 60
  - {kind: inject, name: cut the network, fault: partition_device, device: lab-jetson-1, duration_s: 4}
  - kind: assert_logs
    name: after the cut
    component: com.example.Beacon
    contains: "${var.line}"
    within_s: 30
"""


@pytest.fixture(scope="module")
def lab_host() -> None:
    """Skip (saying why) where this machine cannot host a simulated lab."""
    why = unavailable()
    if why:
        pytest.skip(f"no simulated lab on this machine: {why}")


@pytest.fixture
def folder(lab_host: None) -> Iterator[Path]:
    # every user must be able to walk down to a device root (components run as nobody)
    path = Path(tempfile.mkdtemp(prefix="edge-harness-lab-"))
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _cli(args: list[str], cwd: Path, timeout: float = 800) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=timeout,
    )


def _nothing_left(lab: SimulatedLab) -> None:
    namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert f"ehlab-{lab.tag}-" not in namespaces
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    assert lab.bridge not in links
    for host in lab.hosts.values():
        assert not host.powered


def test_lab_check_says_what_is_reachable(folder: Path) -> None:
    with SimulatedLab(folder / "lab", [("cam-1", "cams", "x86-64-host")]) as lab:
        done = _cli(["lab", "check", "--lab", str(lab.lab_file)], folder, timeout=300)
        cli_present = (lab.host("cam-1").root / "bin" / "greengrass-cli").exists()
        text = " ".join(done.stdout.split())
        assert "Traceback" not in done.stderr
        for row in ("lab manager", "reserve and acquire", "SSH", "power switch", "tegrastats"):
            assert row in text, done.stdout
        assert "NO" in text if not cli_present else True
        assert done.returncode == (0 if cli_present else 1), done.stdout + done.stderr
        # the place is free again for the next job
        places = subprocess.run(
            [str(Path(sys.executable).parent / "labgrid-client"), "-x", lab.coordinator.address, "who"],  # type: ignore[union-attr]
            capture_output=True,
            text=True,
        )
        assert "cam-1" not in places.stdout
    _nothing_left(lab)


def test_power_cycle_network_cut_logs_and_samples_on_a_lab_jetson(folder: Path) -> None:
    (folder / "recipe.yaml").write_text(RECIPE)
    (folder / "cli.yaml").write_text(CLI_RECIPE)
    (folder / "scenario.yaml").write_text(SCENARIO)
    with SimulatedLab(folder / "lab", [("lab-jetson-1", "lab-cams", "x86-64-host")]) as lab:
        lint = _cli(
            ["lint", "scenario", "--target", "lab", "--lab", str(lab.lab_file), "scenario.yaml"], folder
        )
        assert lint.returncode == 0, lint.stdout
        run = _cli(
            ["run", "scenario.yaml", "--target", "lab", "--lab", str(lab.lab_file), "--report", "report"],
            folder,
        )
        diagnostics = lab.diagnostics()
        host = lab.host("lab-jetson-1")
        if run.returncode == 0:
            stopped = _stop_over_the_cli(lab, folder)
        # the component ran on the simulated Jetson's own root, not anywhere the harness made
        log = (host.root / "logs" / "com.example.Beacon.log").read_text()
    _nothing_left(lab)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-4000:] + diagnostics
    assert "lab-beacon: PASSED" in run.stderr
    assert "beacon from-the-lab" in log
    result = json.loads((folder / "report" / "result.json").read_text())
    assert (result["target"], result["backend"]) == ("lab", "labgrid")
    actions = [e["name"] for e in result["timeline"] if e["kind"] == "inject"]
    assert actions == [
        "killed lab-jetson-1",
        "started lab-jetson-1",
        "disconnected lab-jetson-1",
        "reconnected lab-jetson-1",
    ]
    report = result["device_reports"]["lab-jetson-1"]
    assert report["place"] == "lab-jetson-1"
    samples = report["resources"]
    assert len(samples) >= 3
    assert all(s["ram_total_mb"] > 0 and 0 <= s["cpu_percent"] <= 100 for s in samples)
    assert all(s["gpu_percent"] == 0 for s in samples)  # the stand-in has no GPU
    # greengrass-cli component list on the Jetson, at the end of the run
    assert {"name": "com.example.Beacon", "version": "1.0.0", "state": "RUNNING"} in report["components"]
    assert {"name": "aws.greengrass.Cli", "version": "2.12.6", "state": "RUNNING"} in report["components"]
    # after the run: restart, then stop the beacon with greengrass-cli through the lab device
    assert stopped == ["RUNNING", "FINISHED"]


def _stop_over_the_cli(lab: SimulatedLab, folder: Path) -> list[str]:
    """The beacon's state after ``greengrass-cli component restart`` and after ``… stop``."""
    from harness.targets.lab.description import load_lab
    from harness.targets.lab.device import LabJetson
    from harness.targets.lab.labgrid import LabgridPlace

    spec = load_lab(lab.lab_file).devices["lab-jetson-1"]
    place = LabgridPlace(lab.coordinator.address, spec.place, folder / "cli", keyfile=spec.keyfile)  # type: ignore[union-attr]
    states = []
    try:
        place.reserve(60)
        jetson = LabJetson(spec, "lab-cams", place)
        for action, settled in ((jetson.restart_component, "RUNNING"), (jetson.stop_component, "FINISHED")):
            log_before = jetson.log_sizes()["com.example.Beacon"]
            action("com.example.Beacon")
            deadline = time.monotonic() + 30
            state = ""
            while time.monotonic() < deadline:  # the lifecycle acts after the CLI returns
                state = {c.name: c.state for c in jetson.component_states()}["com.example.Beacon"]
                if state == settled and jetson.log_sizes()["com.example.Beacon"] > log_before:
                    break
                time.sleep(0.5)
            states.append(state)
    finally:
        place.release()
    return states


def test_the_traffic_ota_scenario_runs_unchanged_on_a_lab_jetson(folder: Path) -> None:
    """scenarios/traffic_ota.yaml, as tests/e2e runs it on --target sim: OTA 1.0.0 → 1.0.1, the
    broken 1.0.2 rolled back, messages, accuracy, the RTSP output (through labgrid's SSH port
    forward), the app's latency lines read from the Jetson's logs, tegrastats in the report."""
    with SimulatedLab(folder / "lab", [("jetson-1", "traffic-cams", "jetson-agx-xavier")]) as lab:
        run = _cli(
            ["run", str(ROOT / "scenarios" / "traffic_ota.yaml"), "--target", "lab",
             "--lab", str(lab.lab_file), "--report", "report"],
            folder,
        )  # fmt: skip
        diagnostics = lab.diagnostics()
    _nothing_left(lab)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-6000:] + diagnostics
    assert "traffic-ota: PASSED" in run.stderr
    result = json.loads((folder / "report" / "result.json").read_text())
    assert result["target"] == "lab"
    assert len(result["thumbnails"]) == 3  # the snapshots reached the app's RTSP server on the Jetson
    assert result["element_latency_ms"], "the app's per-element latency lines were read over SSH"
    assert result["device_reports"]["jetson-1"]["resources"]
    states = {(e["state"], e["version"]) for e in result["timeline"] if e["kind"] == "component"}
    assert {("RUNNING", "1.0.0"), ("RUNNING", "1.0.1")} <= states  # as the Jetson reported them
    # traffic_ota does not deploy aws.greengrass.Cli, so the Jetson has no greengrass-cli to ask
    assert "greengrass-cli" in result["device_reports"]["jetson-1"]["components_error"]
    deployments = {e["name"]: e["state"] for e in result["timeline"] if e["kind"] == "deployment"}
    assert sorted(deployments.values()).count("SUCCEEDED") == 2 and "FAILED" in deployments.values()


def test_a_power_cut_during_install_runs_unchanged_on_a_lab_jetson(folder: Path) -> None:
    """scenarios/faults/device_kill_install.yaml: the power switch cuts the Jetson while the
    component's Install runs (seen in its log over SSH); it boots, and the deployment converges."""
    with SimulatedLab(folder / "lab", [("jetson-1", "traffic-cams", "jetson-agx-xavier")]) as lab:
        run = _cli(
            ["run", str(ROOT / "scenarios" / "faults" / "device_kill_install.yaml"), "--target", "lab",
             "--lab", str(lab.lab_file), "--report", "report"],
            folder,
        )  # fmt: skip
        diagnostics = lab.diagnostics()
    _nothing_left(lab)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-6000:] + diagnostics
    result = json.loads((folder / "report" / "result.json").read_text())
    actions = [e["name"] for e in result["timeline"] if e["kind"] == "inject"]
    assert actions == ["killed jetson-1", "started jetson-1"]


def test_reboot_over_ssh_and_the_device_side_view(folder: Path) -> None:
    """``reboot`` typed on the Jetson (the lab file's command) takes it down and the nucleus comes
    back; log offsets stay byte offsets over SSH; tegrastats samples survive the reboot."""
    from harness.targets.lab.description import load_lab
    from harness.targets.lab.device import LabJetson
    from harness.targets.lab.labgrid import LabgridPlace

    with SimulatedLab(folder / "lab", [("cam-1", "cams", "x86-64-host")]) as lab:
        spec = load_lab(lab.lab_file).devices["cam-1"]
        place = LabgridPlace(lab.coordinator.address, spec.place, folder / "work", keyfile=spec.keyfile)  # type: ignore[union-attr]
        try:
            place.reserve(60)
            jetson = LabJetson(spec, "cams", place)
            jetson.wait_booted()
            host_log = lab.host("cam-1").root / "logs" / "greengrass.log"
            assert jetson.log_sizes()["greengrass"] == host_log.stat().st_size or host_log.stat().st_size > 0
            raw = host_log.read_bytes()
            assert jetson.read_log("greengrass", 10)[: len(raw) - 10] == raw[10:]
            before = lab.host("cam-1").init
            try:
                jetson.reboot(timeout=120)
            except HarnessError as err:
                raise AssertionError(f"{err}\n{lab.diagnostics()}") from None
            assert jetson.starts == 1
            assert lab.host("cam-1").init is not before, "the host was power-cycled"
            assert jetson.run("true")[0] == 0
            report = jetson.report()
            assert report["resources"], "samples from before and after the reboot"
            jetson.stop()
        finally:
            place.release()
    _nothing_left(lab)


def test_a_killed_lab_leaves_no_process_and_the_next_one_sweeps_its_network(folder: Path) -> None:
    from harness.targets.lab.simulated import sweep_dead_labs

    lab = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "lab", "simulate", "--folder", str(folder / "lab"),
         "--device", "k-1:g:x86-64-host"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert lab.stdout is not None
        first = lab.stdout.readline()
        assert first.startswith("lab file: "), first + lab.stdout.read()
        netns = f"ehlab-{lab.pid}-1"
        deadline = time.monotonic() + 30
        while not subprocess.run(
            ["ip", "netns", "pids", netns], capture_output=True, text=True
        ).stdout.split():
            assert time.monotonic() < deadline, "the host never booted"
            time.sleep(0.2)
    finally:
        lab.kill()  # SIGKILL: no clean-up of its own
        lab.wait(30)
    deadline = time.monotonic() + 10
    while subprocess.run(["ip", "netns", "pids", netns], capture_output=True, text=True).stdout.split():
        assert time.monotonic() < deadline, "processes of the simulated host outlived the lab"
        time.sleep(0.2)
    left = subprocess.run(["pgrep", "-f", f"labgrid-.*{folder}"], capture_output=True, text=True).stdout
    assert not left.strip(), "labgrid outlived the lab"
    sweep_dead_labs()
    assert netns not in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert f"ehb{lab.pid}" not in subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
