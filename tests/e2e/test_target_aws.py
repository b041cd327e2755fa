"""``edge-harness run --target aws``: only public AWS APIs, devices that run on their own.

Real AWS and lab Jetsons are not reachable from CI, so this plays "real AWS" with the emulated
endpoint (boto3 honours AWS_ENDPOINT_URL) and "a lab device" with an ``edge-harness device run``
process that the scenario does not start: the runner must find it in its thing group, deploy to
it and verify through boto3 and Kafka alone, exactly as it would against the real cloud.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.services.aws import AwsEndpoint
from harness.services.kafka import KafkaBroker

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
      Run: "echo beacon {configuration:/Message}; sleep 600"
"""

SCENARIO = """\
name: lab-beacon
devices:
  - name: lab-jetson
    count: 1
    thing_group: lab-cams
components:
  com.example.Beacon:
    "1.0.0": {recipe: recipe.yaml}
steps:
  - kind: deploy
    id: beacon
    target: lab-cams
    components:
      com.example.Beacon: {version: "1.0.0", configuration: {merge: {Message: from-the-lab}}}
  - kind: wait_for
    deployment: beacon
    status: SUCCEEDED
    timeout_s: 90
  - kind: wait_for
    component: com.example.Beacon
    state: RUNNING
    timeout_s: 60
"""


@pytest.fixture
def folder() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="edge-harness-e2e-aws-"))
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=300,
    )


def test_target_aws_deploys_to_a_device_it_did_not_start(folder: Path) -> None:
    (folder / "recipe.yaml").write_text(RECIPE)
    (folder / "scenario.yaml").write_text(SCENARIO)
    with AwsEndpoint() as aws, KafkaBroker() as kafka:
        env = {**os.environ, **aws.environment(), "AWS_REGION": "us-east-1"}
        device = subprocess.Popen(
            [sys.executable, "-m", "harness.cli", "device", "run", "--thing", "lab-jetson-1",
             "--group", "lab-cams", "--profile", "x86-64-host", "--root", str(folder / "lab-jetson-1"),
             "--poll-interval", "0.5", "--quiet"],
            env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while not (folder / "lab-jetson-1" / "run" / "status.json").exists():
                assert time.monotonic() < deadline, "the lab device did not boot"
                assert device.poll() is None, "the lab device exited"
                time.sleep(0.2)
            run = _cli(
                ["run", "scenario.yaml", "--target", "aws", "--kafka-bootstrap", kafka.bootstrap_servers,
                 "--report", "report"],
                env, folder,
            )  # fmt: skip
        finally:
            os.killpg(device.pid, signal.SIGTERM)
            device.wait(30)
    assert run.returncode == 0, run.stderr[-4000:]
    assert "lab-beacon: PASSED" in run.stderr
    log = (folder / "lab-jetson-1" / "logs" / "com.example.Beacon.log").read_text()
    assert "beacon from-the-lab" in log
    assert '"target": "aws"' in (folder / "report" / "result.json").read_text()


def test_target_aws_without_credentials_fails_fast(folder: Path) -> None:
    (folder / "recipe.yaml").write_text(RECIPE)
    (folder / "scenario.yaml").write_text(SCENARIO)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"AWS_CONFIG_FILE": str(folder / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(folder / "none")})
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    started = time.monotonic()
    run = _cli(["run", "scenario.yaml", "--target", "aws"], env, folder)
    assert run.returncode == 1
    assert "--target aws needs AWS credentials, and none were found" in run.stderr
    assert time.monotonic() - started < 30
    dry = _cli(["run", "scenario.yaml", "--target", "aws", "--dry-run"], env, folder)
    assert dry.returncode == 0 and "CreateDeployment target lab-cams" in dry.stdout
