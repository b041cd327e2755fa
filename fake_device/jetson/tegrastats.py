"""A stand-in for L4T's ``tegrastats`` on a simulated lab Jetson, with the real tool's options.

``tegrastats [--interval MS] [--logfile FILE] [--start | --stop]``: one line per interval in
the format of JetPack 5 on a Jetson AGX Xavier (``MM-DD-YYYY HH:MM:SS RAM used/totalMB … CPU
[load%@MHz,…] … GR3D_FREQ n% … zone@tempC …``); ``--start`` runs it in the background writing to
``--logfile`` (its pid in ``/tmp/tegrastats-<uid>.pid`` or ``$TEGRASTATS_PID_FILE``), ``--stop``
ends that background run.

The figures are this host's: CPU load per core from ``/proc/stat``, memory from
``/proc/meminfo``, temperatures from ``/sys/class/thermal`` where the host has zones. There is no
GPU here, so ``GR3D_FREQ`` is always 0%; that difference is listed in docs/hil.md.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import time
from pathlib import Path
from typing import TextIO

#: where a background run keeps its pid; a simulated lab gives each host its own
PID_FILE = Path(os.environ.get("TEGRASTATS_PID_FILE") or f"/tmp/tegrastats-{os.getuid()}.pid")


def _cpu_times() -> list[tuple[int, int]]:
    """(busy, total) jiffies per core."""
    found = []
    for line in Path("/proc/stat").read_text().splitlines():
        parts = line.split()
        if parts and parts[0].startswith("cpu") and parts[0] != "cpu":
            values = [int(v) for v in parts[1:]]
            idle = values[3] + (values[4] if len(values) > 4 else 0)
            found.append((sum(values) - idle, sum(values)))
    return found


def _memory_mb() -> tuple[int, int]:
    info = {}
    for line in Path("/proc/meminfo").read_text().splitlines():
        key, _, value = line.partition(":")
        info[key] = int(value.split()[0])
    total = info.get("MemTotal", 0)
    used = total - info.get("MemAvailable", info.get("MemFree", 0))
    return used // 1024, total // 1024


def _temperatures() -> list[tuple[str, float]]:
    zones = []
    for zone in sorted(Path("/sys/class/thermal").glob("thermal_zone*")):
        with contextlib.suppress(OSError, ValueError):
            name = (zone / "type").read_text().strip().replace(" ", "_") or zone.name
            zones.append((name, int((zone / "temp").read_text()) / 1000))
    return zones or [("CPU", 40.0), ("GPU", 38.5)]


def line(before: list[tuple[int, int]], after: list[tuple[int, int]]) -> str:
    used, total = _memory_mb()
    loads = []
    for (busy0, total0), (busy1, total1) in zip(before, after, strict=False):
        share = 100 * (busy1 - busy0) / (total1 - total0) if total1 > total0 else 0.0
        loads.append(f"{round(share)}%@2265")
    temps = " ".join(f"{name}@{value:g}C" for name, value in _temperatures())
    stamp = time.strftime("%m-%d-%Y %H:%M:%S")
    return (
        f"{stamp} RAM {used}/{total}MB (lfb 1x4MB) SWAP 0/0MB (cached 0MB) CPU [{','.join(loads)}] "
        f"EMC_FREQ 0% GR3D_FREQ 0% {temps}"
    )


def run(interval_s: float, out: TextIO) -> None:
    before = _cpu_times()
    while True:
        time.sleep(interval_s)
        after = _cpu_times()
        out.write(line(before, after) + "\n")
        out.flush()
        before = after


def _stop() -> int:
    try:
        pid = int(PID_FILE.read_text())
    except (OSError, ValueError):
        return 0
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    PID_FILE.unlink(missing_ok=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tegrastats")
    parser.add_argument("--interval", type=int, default=1000, help="sample period in milliseconds")
    parser.add_argument("--logfile", help="write the samples to this file")
    parser.add_argument("--start", action="store_true", help="run in the background")
    parser.add_argument("--stop", action="store_true", help="stop a background run")
    args = parser.parse_args(argv)
    if args.stop:
        return _stop()
    interval = max(args.interval, 10) / 1000
    if args.start:
        _stop()
        if os.fork():
            return 0
        os.setsid()
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):  # let the SSH session that started it end
            os.dup2(null, fd)
        PID_FILE.write_text(str(os.getpid()))
        target = open(args.logfile or os.devnull, "a")  # noqa: SIM115 - lives as long as the process
        with contextlib.suppress(KeyboardInterrupt):
            signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
            run(interval, target)
        return 0
    out = open(args.logfile, "a") if args.logfile else sys.stdout  # noqa: SIM115
    with contextlib.suppress(KeyboardInterrupt, BrokenPipeError):
        run(interval, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
