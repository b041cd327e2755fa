"""Simulated core devices of a scenario: one ``edge-harness device run`` process each.

A device runs as its own process (as the nucleus is its own JVM on a Jetson) so that a fault
step can SIGKILL it and restart it on the same root, exactly like a power cut; it reaches the
cloud only through the AWS endpoint's environment. Its components run in their own process
groups, which the device's reaper kills if the device dies, so nothing outlives a scenario.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import HarnessError

_STOP_GRACE_S = 20.0


@dataclass
class SimulatedDevice:
    """One core device: thing name, group, profile, root folder and its process."""

    thing: str
    group: str
    profile: str
    root: Path
    environment: Mapping[str, str]
    poll_interval: float = 0.5
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    _log: object = field(default=None, repr=False)
    _started_at: float = 0.0

    @property
    def greengrass_log(self) -> Path:
        return self.root / "logs" / "greengrass.log"

    def component_log(self, component: str) -> Path:
        return self.root / "logs" / f"{component}.log"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        """Start (or restart after a kill) the device process on the same root."""
        if self.running:
            return
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o755)  # the component user must be able to reach its work folder
        command = [
            sys.executable, "-m", "harness.cli", "device", "run",
            "--thing", self.thing, "--group", self.group, "--profile", self.profile,
            "--root", str(self.root), "--poll-interval", str(self.poll_interval), "--quiet",
        ]  # fmt: skip
        out = (self.root.parent / f"{self.thing}.process.log").open("ab")
        self._log = out
        self.process = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **self.environment},
            start_new_session=True,
        )
        self.starts += 1
        self._started_at = time.time() - 1.0

    def kill(self) -> None:
        """SIGKILL the device process (a power cut); its reaper takes the components down."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        """SIGTERM (the nucleus stops its components), SIGKILL after a grace period."""
        if self.process is None:
            return
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(_STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                self.kill()
        # anything left in the session (a component that ignored its stop) goes too
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        if self._log is not None:
            self._log.close()  # type: ignore[attr-defined]
            self._log = None

    def wait_booted(self, timeout: float = 60.0) -> None:
        """Until the booted device wrote its status file (run/status.json), bounded."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                tail = self.process_log_tail()
                raise HarnessError(
                    f"device {self.thing} exited with {self.process.returncode} while booting:\n{tail}"
                )
            status = self.root / "run" / "status.json"
            if status.exists() and status.stat().st_mtime >= self._started_at:
                return
            time.sleep(0.2)
        raise HarnessError(
            f"device {self.thing} did not boot within {timeout:g} s:\n{self.process_log_tail()}"
        )

    def process_log_tail(self, lines: int = 30) -> str:
        path = self.root.parent / f"{self.thing}.process.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def log_tail(path: Path, lines: int = 40) -> str:
    if not path.exists():
        return f"({path} does not exist)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class RemoteDevice:
    """A real core device (``--target aws``): known by its thing name, reached only through AWS.

    It has no root folder here, so log assertions and device faults are refused for it.
    """

    thing: str
    group: str
    profile: str = "real"
    root: Path | None = None

    def component_log(self, component: str) -> Path:
        raise HarnessError(
            f"the logs of {self.thing} are on the device, not on this host",
            hint="assert_logs works with --target sim; on real devices read /greengrass/v2/logs there",
        )

    @property
    def greengrass_log(self) -> Path:
        return self.component_log("greengrass")

    def start(self) -> None:  # a real device runs on its own
        return None

    def stop(self) -> None:
        return None

    def kill(self) -> None:
        raise HarnessError(f"{self.thing} is a real device: the harness cannot kill it")
