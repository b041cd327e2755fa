"""How long each service takes from start() to ready, against a baseline from the same run.

The baseline is the time to start a bare Python interpreter (``python -c pass``), so the ratio
stays meaningful on a shared, noisy machine: a service that needs 20 interpreter start-ups today
needs about as many tomorrow, whatever else the machine is doing.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Callable

from harness.services.base import Service


def _interpreter_start() -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - t0


def _readiness(factory: Callable[[], Service]) -> float:
    service = factory()
    t0 = time.perf_counter()
    service.start()
    elapsed = time.perf_counter() - t0
    service.stop()
    return elapsed


def measure(repeats: int = 3) -> dict:
    """Median readiness time per service (s) and its ratio to a bare interpreter start."""
    from harness.services.aws import AwsEndpoint
    from harness.services.kafka import KafkaBroker
    from harness.services.triton import TritonServer

    baseline = statistics.median(_interpreter_start() for _ in range(max(5, repeats)))
    factories: dict[str, Callable[[], Service]] = {
        "kafka": KafkaBroker,
        "aws": AwsEndpoint,
        "triton": TritonServer,
    }
    results: dict = {"baseline": {"name": "python -c pass", "seconds": round(baseline, 4)}, "services": {}}
    for name, factory in factories.items():
        times = [_readiness(factory) for _ in range(repeats)]
        median = statistics.median(times)
        results["services"][name] = {
            "seconds_median": round(median, 4),
            "seconds_all": [round(t, 4) for t in times],
            "ratio_to_baseline": round(median / baseline, 2),
        }
    return results
