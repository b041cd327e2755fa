"""The docker backend against the process backend, measured in the same run.

* service readiness: seconds from ``start()`` to ready for each service (AWS endpoint, Kafka
  broker, Triton with the smoke model), process vs container, and their ratio;
* the main job, scenarios/traffic_ota.yaml, wall time on both backends, and its ratio;
* image builds: warm (every image present: what each run pays) and, with ``cold=True``, cold
  (``--force`` on every image, from debootstrap on; minutes).

Ratios, not absolute seconds, are the figures to compare across runs: these machines are shared.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from harness.images import IMAGE_NAMES, ensure_images
from harness.scenario.backends import DockerBackend, ProcessBackend

ROOT = Path(__file__).resolve().parents[1]


def _readiness(backend: ProcessBackend | DockerBackend, repeats: int) -> dict[str, float]:
    best: dict[str, float] = {}
    for _ in range(repeats):
        for name, make in (
            ("aws", backend.aws),
            ("kafka", backend.kafka),
            ("triton", lambda: backend.triton(None)),
        ):
            service = make()
            t0 = time.perf_counter()
            with service:
                seconds = time.perf_counter() - t0
            best[name] = round(min(best.get(name, seconds), seconds), 2)
    return best


def _scenario(name: str, backend: str) -> tuple[float, bool, dict[str, float]]:
    from harness.scenario.load import load_scenario
    from harness.scenario.runner import ScenarioRunner

    scenario = load_scenario(ROOT / "scenarios" / name)
    work = Path(tempfile.mkdtemp(prefix="edge-harness-bench-"))
    os.chmod(work, 0o755)
    try:
        t0 = time.perf_counter()
        result = ScenarioRunner(scenario, work, backend=backend).run()
        return round(time.perf_counter() - t0, 1), result.passed, result.phases
    finally:
        shutil.rmtree(work, ignore_errors=True)


def measure(*, repeats: int = 3, cold: bool = False, scenario: bool = True) -> dict[str, Any]:
    report: dict[str, Any] = {}
    if cold:
        t0 = time.perf_counter()
        ensure_images(IMAGE_NAMES, force=True)
        report["image_build_cold_s"] = round(time.perf_counter() - t0, 1)
    else:
        ensure_images(IMAGE_NAMES)  # the warm figure below must not include a first build
    t0 = time.perf_counter()
    ensure_images(IMAGE_NAMES)
    report["image_build_warm_s"] = round(time.perf_counter() - t0, 2)

    process = _readiness(ProcessBackend(), repeats)
    docker_backend = DockerBackend()
    try:
        docker = _readiness(docker_backend, repeats)
    finally:
        docker_backend.close()
    report["service_readiness_s"] = {
        name: {
            "process": process[name],
            "docker": docker[name],
            "ratio": round(docker[name] / process[name], 2),
        }
        for name in process
    }
    if scenario:
        runs = {backend: _scenario("traffic_ota.yaml", backend) for backend in ("process", "docker")}
        report["traffic_ota"] = {
            backend: {"seconds": s, "passed": ok, "phases_s": phases}
            for backend, (s, ok, phases) in runs.items()
        }
        report["traffic_ota"]["ratio_docker_to_process"] = round(runs["docker"][0] / runs["process"][0], 2)
    return report
