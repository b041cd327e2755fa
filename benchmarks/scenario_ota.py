"""Wall time of the main job (scenarios/traffic_ota.yaml) and its breakdown.

The figure users feel is the wall time of ``edge-harness run scenarios/traffic_ota.yaml`` (goal:
90 s on a 2-core machine with the process backend; a real device round trip takes minutes per
deployment). On a shared machine an absolute figure drifts, so the same run also times a baseline
with the same machinery and none of the DeepStream work: scenarios/seed_recipe_as_written.yaml
(same services, one device, one publish and one deployment that fails in seconds). The report
gives both, their ratio, and the OTA scenario's phases (services, world, upload, device boot,
each step: deployment → RUNNING, first message, rollback).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _run(name: str) -> tuple[float, Any]:
    from harness.scenario.load import load_scenario
    from harness.scenario.runner import ScenarioRunner

    scenario = load_scenario(ROOT / "scenarios" / name)
    work = Path(tempfile.mkdtemp(prefix="edge-harness-bench-"))
    os.chmod(work, 0o755)
    try:
        t0 = time.perf_counter()
        result = ScenarioRunner(scenario, work).run()
        return time.perf_counter() - t0, result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def measure() -> dict[str, Any]:
    """Both scenarios once; the OTA one's phases and whether every step passed."""
    baseline_s, baseline = _run("seed_recipe_as_written.yaml")
    ota_s, ota = _run("traffic_ota.yaml")
    return {
        "baseline": {
            "scenario": "seed_recipe_as_written.yaml",
            "seconds": round(baseline_s, 1),
            "passed": baseline.passed,
        },
        "traffic_ota": {
            "seconds": round(ota_s, 1),
            "passed": ota.passed,
            "ratio_to_baseline": round(ota_s / baseline_s, 2),
            "goal_seconds": 90,
            "within_goal": ota_s <= 90,
            "phases_s": ota.phases,
            "latency_ms": ota.latency_summary() if hasattr(ota, "latency_summary") else None,
        },
    }
