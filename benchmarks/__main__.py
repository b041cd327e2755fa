"""Run the benchmarks and write JSON: ``python -m benchmarks [--quick] [--out DIR]``."""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path

import click


@click.command()
@click.option("--quick", is_flag=True, help="Fewer repetitions (a smoke run, noisier figures).")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("benchmarks/results"),
    show_default=True,
    help="Folder for the JSON results.",
)
def main(quick: bool, out: Path) -> None:
    """Measure service readiness, Triton round-trips and detector inference; print and save ratios."""
    from benchmarks import detector_inference, service_readiness, triton_roundtrip

    report = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"python": platform.python_version(), "cpus": _cpus(), "node": platform.node()},
        "service_readiness": service_readiness.measure(repeats=1 if quick else 3),
        "triton_roundtrip": triton_roundtrip.measure(repeats=30 if quick else 200),
        "detector_inference": detector_inference.measure(repeats=20 if quick else 100),
    }
    out.mkdir(parents=True, exist_ok=True)
    path = out / "services.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    click.echo(json.dumps(report, indent=2))
    click.echo(f"written {path}", err=True)


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    main()
