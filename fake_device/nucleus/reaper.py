"""The watchdog that stops a device's component processes when the device process dies.

On a Jetson the nucleus runs as a systemd service, and systemd kills every process of the
service's control group when the nucleus exits or is killed. The simulator has no control group,
so each device starts this small process with the read end of a pipe as its stdin: when the
device dies (even by SIGKILL) the kernel closes the write end, the read returns end-of-file, and
the reaper kills the process groups recorded in ``<root>/run/processes.json``.

Run as ``python -m fake_device.nucleus.reaper <registry file>``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from fake_device.nucleus.shell import kill_recorded

__all__ = ["Reaper"]


class Reaper:
    """The device side: starts the watchdog and keeps the pipe's write end open."""

    def __init__(self, registry_path: Path) -> None:
        read_end, self._write_end = os.pipe()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "fake_device.nucleus.reaper", str(registry_path)],
            stdin=read_end,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # a signal to the device's process group must not reach it
            close_fds=True,
        )
        os.close(read_end)
        os.set_inheritable(self._write_end, False)

    def close(self) -> None:
        """Normal shutdown: close the pipe; the reaper sweeps what is left and exits."""
        if self._write_end >= 0:
            os.close(self._write_end)
            self._write_end = -1
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in a terminal reaches the device only
    registry = Path(argv[1])
    while os.read(0, 4096):
        pass
    kill_recorded(registry)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
