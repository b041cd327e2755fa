"""Simulated core devices of a scenario: one ``edge-harness device run`` process each.

A device runs as its own process (as the nucleus is its own JVM on a Jetson) so that a fault
step can SIGKILL it and restart it on the same root, exactly like a power cut; it reaches the
cloud only through the AWS endpoint's environment. Its components run in their own process
groups, which the device's reaper kills if the device dies, and the device dies with the harness
(``PR_SET_PDEATHSIG`` and ``--parent-pid``), so nothing outlives a scenario, even a SIGKILLed one.

Device faults are methods with the same names on every kind of device (``kill``, ``start``,
``pause``/``resume``, ``disconnect``/``reconnect``), so the runner's ``inject`` step does not care
what runs the device; what a kind cannot do raises :class:`HarnessError` saying which backend can.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import HarnessError
from harness.services.base import die_with_parent

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
    _paused: bool = False
    _stopped_on_purpose: bool = False

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
            "--parent-pid", str(os.getpid()),
        ]  # fmt: skip
        out = (self.root.parent / f"{self.thing}.process.log").open("ab")
        self._log = out
        # SIGTERM when the harness dies: the device stops its components in order (the app
        # removes its Triton folder) and its reaper kills what is left. The death signal follows
        # the starting *thread*, so only the main thread sets it; the device's --parent-pid watch
        # covers a device started from any other thread.
        on_main_thread = threading.current_thread() is threading.main_thread()
        self.process = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **self.environment},
            start_new_session=True,
            preexec_fn=die_with_parent(signal.SIGTERM) if on_main_thread else None,
        )
        self.starts += 1
        self._stopped_on_purpose = False
        self._started_at = time.time() - 1.0

    def kill(self) -> None:
        """SIGKILL the device process (a power cut); its reaper takes the components down."""
        self._stopped_on_purpose = True
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)  # also ends a paused device
            self.process.wait(10)
        self._paused = False

    @property
    def paused(self) -> bool:
        return self._paused

    def _registry(self) -> Path:
        return self.root / "run" / "processes.json"

    def pause(self) -> None:
        """Freeze the whole device: SIGSTOP to the nucleus's process group, then to each component
        process group the nucleus recorded (``run/processes.json``) — what ``docker pause`` does
        to a device's container (it freezes the cgroup).

        The nucleus first, so it cannot start a new script between the two. Components run in
        their own process groups (so that the nucleus can stop each one), hence the second pass;
        a component the nucleus starts is recorded before it runs, so none is missed. While
        paused, the device answers nothing: no job polls, no status, no messages.
        """
        from fake_device.nucleus.shell import signal_recorded

        if not self.running:
            raise HarnessError(
                f"device {self.thing} is not running, so it cannot be paused",
                hint="start it first (kill_device without duration_s leaves it down)",
            )
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGSTOP)
        self._paused = True
        signal_recorded(self._registry(), signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT to the components' process groups, then to the nucleus's: the device carries
        on where it was (its job poll, its components' streams)."""
        from fake_device.nucleus.shell import signal_recorded

        signal_recorded(self._registry(), signal.SIGCONT)
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGCONT)
        self._paused = False

    def disconnect(self) -> None:
        """Cut the device off the network: not possible for a local process, which shares the
        host's network with the services (there is no interface to take down for it alone)."""
        raise HarnessError(
            "cutting a device off the network needs --backend docker",
            hint="with the process backend the device shares the host's network; pause_device "
            "freezes it instead, or run with --backend docker (its own network namespace)",
        )

    def reconnect(self) -> None:
        """See :meth:`disconnect`."""
        self.disconnect()

    def stop(self) -> None:
        """SIGTERM (the nucleus stops its components), SIGKILL after a grace period."""
        if self.process is None:
            return
        self._stopped_on_purpose = True
        if self._paused:  # a frozen nucleus would hold SIGTERM for the whole grace period
            self.resume()
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

    def exit_status(self) -> str | None:
        """Why the device is down although nothing stopped it (its exit and the end of its
        process log), or None while it runs or after a stop or kill fault."""
        if self.process is None or self._stopped_on_purpose or self.process.poll() is None:
            return None
        tail = self.process_log_tail(5)
        return f"device {self.thing} exited with code {self.process.returncode}" + (
            f": {_one_line(tail)}" if tail else ""
        )

    def process_log_tail(self, lines: int = 30) -> str:
        path = self.root.parent / f"{self.thing}.process.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _one_line(text: str) -> str:
    return " | ".join(line.strip() for line in text.splitlines() if line.strip())


def log_tail(path: Path, lines: int = 40) -> str:
    if not path.exists():
        return f"({path} does not exist)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
