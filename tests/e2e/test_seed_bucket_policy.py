"""The seed's bucket policy on an enforcing AWS endpoint, end to end (``edge-harness run``).

The device the policy names downloads its artifact; another principal's deployment fails with
the nucleus's S3 access-denied status. Without enforcement the same policy changes nothing,
which is what shows the failure comes from the policy and not from the scenario.
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

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "scenarios" / "seed_bucket_policy.yaml"

pytestmark = pytest.mark.e2e


@pytest.fixture
def work() -> Iterator[Path]:
    """A folder the devices' component user may enter (pytest's own are mode 700)."""
    path = Path(tempfile.mkdtemp(prefix="edge-harness-e2e-"))
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def run(scenario: Path, work: Path) -> tuple[subprocess.CompletedProcess[str], dict]:
    report = work / "report"
    proc = subprocess.run(
        [sys.executable, "-m", "harness.cli", "run", str(scenario), "--work", str(work / "run"),
         "--report", str(report)],
        capture_output=True, text=True, timeout=600, cwd=ROOT,
    )  # fmt: skip
    return proc, json.loads((report / "result.json").read_text())


def test_the_named_device_downloads_and_another_principal_is_denied(work: Path) -> None:
    proc, result = run(SCENARIO, work)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-6000:]
    steps = {s["name"]: s for s in result["steps"]}
    assert [s["status"] for s in result["steps"]] == ["passed"] * 5
    trusted = steps["its artifact downloads and the deployment succeeds"]["details"]["devices"]["trusted-1"]
    assert trusted["status"] == "SUCCEEDED"
    other = steps["S3 denies its download and the deployment fails"]["details"]["devices"]["other-1"]
    assert other["status"] == "FAILED" and other["reason"] == "FAILED_NO_STATE_CHANGE"
    assert other["statusDetails"]["errorStack"] == [
        "DEPLOYMENT_FAILURE",
        "ARTIFACT_DOWNLOAD_ERROR",
        "S3_HEAD_OBJECT_ACCESS_DENIED",
    ]


def test_without_enforcement_the_policy_is_only_stored(work: Path) -> None:
    text = SCENARIO.read_text().replace("    enforce: true\n", "    enforce: false\n")
    text = text.replace("seed_bucket_policy/", str(SCENARIO.parent / "seed_bucket_policy") + "/")
    relaxed = work / "seed_bucket_policy_not_enforced.yaml"
    relaxed.write_text(text)
    proc, result = run(relaxed, work)
    assert proc.returncode == 1, proc.stdout[-4000:] + proc.stderr[-6000:]
    denied = next(
        s for s in result["steps"] if s["name"] == "S3 denies its download and the deployment fails"
    )
    assert denied["status"] == "failed"
    assert "SUCCEEDED" in denied["message"]
