"""One lab Jetson as labgrid knows it: a place, reserved and acquired through the coordinator,
reached with labgrid's ``SSHDriver`` and switched with its ``NetworkPowerDriver``.

The harness writes no reservation or locking of its own: ``labgrid-client reserve --wait``
queues for the place (another user's job that holds it makes us wait, bounded), ``acquire``
locks it for this host and user, ``release`` and ``cancel-reservation`` give it back. The
drivers come from a labgrid environment file the harness writes for the place (a
``RemotePlace`` with the two drivers), so everything a lab configured in its exporter
(addresses, SSH user, the power switch's model) is used as the lab configured it.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness.errors import HarnessError

__all__ = ["LabgridPlace", "labgrid_client"]

_TOKEN = re.compile(r"LG_TOKEN=(\S+)")


def labgrid_client() -> list[str]:
    """The ``labgrid-client`` command of this Python environment (else the one on PATH)."""
    beside = Path(sys.executable).parent / "labgrid-client"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("labgrid-client")
    if found is None:
        raise HarnessError(
            "labgrid is not installed: --target lab reaches lab devices through labgrid",
            hint="pip install -e '.[lab]' (labgrid's client, drivers and coordinator)",
        )
    return [found]


class LabgridPlace:
    """A labgrid place of one lab device (see the module docstring)."""

    def __init__(
        self,
        coordinator: str,
        place: str,
        work: Path,
        *,
        keyfile: str = "",
        username: str = "",
        power: bool = True,
    ) -> None:
        self.coordinator = coordinator
        self.place = place
        self.work = work
        self.keyfile = keyfile
        self.username = username
        self.power_switch = power
        self.token: str | None = None
        self.acquired = False
        self._environment: Any = None
        self._target: Any = None

    # -- the coordinator -------------------------------------------------------------------
    def client(self, *args: str, timeout: float = 60.0, place: str | None = None) -> str:
        """Run ``labgrid-client -x COORDINATOR [-p PLACE] ARGS``; its output, or HarnessError."""
        command = [*labgrid_client(), "-x", self.coordinator]
        if place is not None:
            command += ["-p", place]
        try:
            done = subprocess.run(
                [*command, *args], capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired:
            raise HarnessError(
                f"labgrid: {' '.join(args)} for place {self.place} did not finish within {timeout:g} s",
                hint=f"is the coordinator at {self.coordinator} up? "
                f"(labgrid-client -x {self.coordinator} places)",
            ) from None
        if done.returncode != 0:
            why = (done.stderr.strip() or done.stdout.strip()).splitlines()
            last = why[-1] if why else f"exit code {done.returncode}"
            raise HarnessError(
                f"labgrid: {' '.join(args)} for place {self.place} failed: {last}",
                hint=f"labgrid-client -x {self.coordinator} -p {self.place} show",
            )
        return done.stdout

    def show(self) -> str:
        """``labgrid-client show`` of the place: its resources, who holds it."""
        return self.client("show", place=self.place, timeout=30)

    def reserve(self, timeout: float = 300.0) -> None:
        """Queue for the place and acquire it once the coordinator allocates it to us."""
        out = self.client("reserve", "--wait", "--shell", f"name={self.place}", timeout=timeout)
        match = _TOKEN.search(out)
        if match is None:
            raise HarnessError(f"labgrid: reserving place {self.place} gave no token: {out.strip()}")
        self.token = match.group(1)
        self.client("acquire", place=f"+{self.token}", timeout=60)
        self.acquired = True

    def release(self) -> None:
        """Give the place back (drivers closed first); safe to call twice and after failures."""
        self.close_drivers()
        if self.acquired:
            with contextlib.suppress(HarnessError):
                self.client("release", place=self.place, timeout=30)
            self.acquired = False
        if self.token is not None:
            with contextlib.suppress(HarnessError):
                self.client("cancel-reservation", self.token, timeout=30)
            self.token = None

    # -- the drivers -----------------------------------------------------------------------
    def _environment_file(self) -> Path:
        drivers: list[str] = ["      SSHDriver:", "        connection_timeout: 30.0"]
        if self.keyfile:
            drivers.append(f"        keyfile: {self.keyfile!r}")
        if self.username:
            drivers.append(f"        username: {self.username!r}")
        if self.power_switch:
            drivers += ["      NetworkPowerDriver:", "        delay: 1.0"]
        text = "\n".join(
            [
                "targets:",
                "  device:",
                "    resources:",
                "      RemotePlace:",
                f"        name: {self.place!r}",
                "    drivers:",
                *drivers,
                "options:",
                f"  coordinator_address: {self.coordinator!r}",
                "",
            ]
        )
        self.work.mkdir(parents=True, exist_ok=True)
        path = self.work / f"labgrid-{self.place}.yaml"
        path.write_text(text)
        return path

    def target(self) -> Any:
        """The labgrid target of the place (drivers bound to its resources)."""
        if self._target is None:
            from labgrid import Environment

            _one_coordinator(self.coordinator)
            self._environment = Environment(config_file=str(self._environment_file()))
            self._target = self._environment.get_target("device")
        return self._target

    @property
    def ssh(self) -> Any:
        return self.target().get_driver("SSHDriver")

    def run(self, command: str, timeout: float = 30.0) -> tuple[int, str, str]:
        """(exit code, stdout, stderr) of ``command`` run on the device over SSH."""
        out, err, code = self.ssh.run(command, timeout=timeout, decodeerrors="replace")
        return int(code), "\n".join(out), "\n".join(err)

    def reconnect(self, timeout: float = 120.0) -> None:
        """A new SSH connection (after a reboot or a network cut), retried until ``timeout``."""
        target = self.target()
        driver = target.get_driver("SSHDriver", activate=False)
        with contextlib.suppress(Exception):
            target.deactivate(driver)
        deadline = time.monotonic() + timeout
        while True:
            try:
                target.activate(driver)
                return
            except Exception as err:  # labgrid raises plain Exceptions for a refused connection
                if time.monotonic() >= deadline:
                    raise HarnessError(
                        f"lab device at place {self.place} is not reachable over SSH within "
                        f"{timeout:g} s: {err}",
                        hint="edge-harness lab check --lab FILE says what is reachable",
                    ) from None
                time.sleep(1.0)

    def disconnect_ssh(self) -> None:
        """Drop the SSH connection without waiting for the device (it is about to go away)."""
        if self._target is None:
            return
        driver = self._target.get_driver("SSHDriver", activate=False)
        with contextlib.suppress(Exception):
            self._target.deactivate(driver)

    def power(self, on: bool) -> None:
        driver = self.target().get_driver("NetworkPowerDriver")
        if on:
            driver.on()
        else:
            driver.off()

    def power_state(self) -> bool:
        return bool(self.target().get_driver("NetworkPowerDriver").get())

    @contextlib.contextmanager
    def forward(self, port: int) -> Iterator[int]:
        """127.0.0.1:``port`` here reaches localhost:``port`` on the device while open."""
        with self.ssh.forward_local_port(port, localport=port) as local:
            yield int(local)

    def close_drivers(self) -> None:
        if self._target is not None:
            with contextlib.suppress(Exception):
                self._target.cleanup()
            self._target = None
            self._environment = None


def _quiet_labgrid() -> None:
    """labgrid logs each driver step at INFO; keep the harness's output to its own lines."""
    import logging

    logging.getLogger("labgrid").setLevel(logging.WARNING)


_quiet_labgrid()


def _one_coordinator(address: str) -> None:
    """labgrid keeps one coordinator session per process (its ``RemotePlaceManager`` is a
    singleton that connects to the first coordinator it is given); a place of another coordinator
    (another lab in the same process, e.g. a test session) needs that session replaced."""
    from labgrid.resource.common import ResourceManager
    from labgrid.resource.remote import RemotePlaceManager

    manager = ResourceManager.instances.get(RemotePlaceManager)
    if manager is not None and getattr(manager, "url", None) not in (None, address):
        del ResourceManager.instances[RemotePlaceManager]
