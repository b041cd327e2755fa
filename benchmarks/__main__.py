"""Run the benchmarks and write JSON: ``python -m benchmarks [--quick] [--out DIR] [--only SUITE]``.

Suites: ``services`` (service readiness, Triton round-trips, detector inference → services.json)
``pipeline`` (the traffic app on real GStreamer against raw ONNX Runtime and against its
Python-runtime revision, files and an RTSP camera, and its accuracy → pipeline.json, about a
quarter of an hour; see benchmarks/pipeline.py) and ``scenario`` (wall time of the main job,
scenarios/traffic_ota.yaml, and its phases → scenario.json; see benchmarks/scenario_ota.py) and
``containers`` (the docker backend against the process backend: service readiness, the main
job's wall time, image builds → containers.json; see benchmarks/containers.py; needs Docker).
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path

import click

SUITES = ("services", "pipeline", "scenario", "containers")


@click.command()
@click.option("--quick", is_flag=True, help="Fewer repetitions (a smoke run, noisier figures).")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("benchmarks/results"),
    show_default=True,
    help="Folder for the JSON results.",
)
@click.option(
    "--only",
    type=click.Choice(SUITES),
    multiple=True,
    help="Run only this suite (repeatable); default: all of them.",
)
@click.option("--cold", is_flag=True, help="containers: also time a cold build of every image (minutes).")
def main(quick: bool, out: Path, only: tuple[str, ...], cold: bool) -> None:
    """Measure services (readiness, Triton round-trips, detector inference) and the pipeline; save ratios."""
    suites = only or SUITES
    if "services" in suites:
        _services(quick, out)
    if "pipeline" in suites:
        from benchmarks import pipeline

        pipeline.run_and_write(out, quick=quick)
    if "scenario" in suites:
        _scenario(out)
    if "containers" in suites:
        from benchmarks import containers

        _write(
            out, "containers.json", {"containers": containers.measure(repeats=1 if quick else 3, cold=cold)}
        )


def _services(quick: bool, out: Path) -> None:
    from benchmarks import detector_inference, service_readiness, triton_roundtrip

    figures = {
        "service_readiness": service_readiness.measure(repeats=1 if quick else 3),
        "triton_roundtrip": triton_roundtrip.measure(repeats=30 if quick else 200),
        "detector_inference": detector_inference.measure(repeats=20 if quick else 100),
    }
    _write(out, "services.json", figures)


def _write(out: Path, name: str, figures: dict) -> None:
    report = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"python": platform.python_version(), "cpus": _cpus(), "node": platform.node()},
        **figures,
    }
    out.mkdir(parents=True, exist_ok=True)
    path = out / name
    path.write_text(json.dumps(report, indent=2) + "\n")
    click.echo(json.dumps(report, indent=2))
    click.echo(f"written {path}", err=True)


def _scenario(out: Path) -> None:
    from benchmarks import scenario_ota

    _write(out, "scenario.json", {"scenario": scenario_ota.measure()})


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    main()
