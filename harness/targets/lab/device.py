"""One lab Jetson, reached over SSH through its labgrid place.

What the harness does on the device is what a person in the lab would type: read
``/greengrass/v2/logs/*.log``, ``greengrass-cli component list|restart|stop``, ``reboot``, take
the network interface down and up, run ``tegrastats``. Power goes through the place's power
switch. The commands come from the lab file (``commands``), so a lab whose Jetsons need
``sudo`` or keep the CLI elsewhere says so once.

A network cut cannot be undone over the network it cut: the device is told to restore its link
by itself after the fault's duration (a detached shell on the device), and :meth:`reconnect`
waits for it to answer again.
"""

from __future__ import annotations

import base64
import contextlib
import shlex
import time
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.targets.capabilities import ComponentState, ResourceSample
from harness.targets.lab.description import LabDevice
from harness.targets.lab.labgrid import LabgridPlace
from harness.targets.lab.readings import parse_component_list, parse_tegrastats

__all__ = ["LabJetson"]

#: seconds between tegrastats samples
SAMPLE_INTERVAL_MS = 1000


class LabJetson:
    """A lab Jetson as a core device with logs, states, component control, power, network
    partition and resource samples (:mod:`harness.targets.capabilities`)."""

    def __init__(self, spec: LabDevice, group: str, place: LabgridPlace) -> None:
        self.spec = spec
        self._group = group
        self.place = place
        self.starts = 0
        self._forwards: list[int] = []
        self._forwarding = contextlib.ExitStack()
        self._log_size_at_power_off: int | None = None
        self._samples: list[ResourceSample] = []
        self._sampling = False
        self.logs_folder = f"{spec.greengrass_root.rstrip('/')}/logs"
        self.samples_file = f"/tmp/edge-harness-tegrastats-{spec.thing}.log"

    # -- CoreDevice ------------------------------------------------------------------------
    @property
    def thing(self) -> str:
        return self.spec.thing

    @property
    def group(self) -> str:
        return self._group

    def run(self, command: str, timeout: float = 30.0) -> tuple[int, str, str]:
        return self.place.run(command, timeout=timeout)

    def check(self, command: str, what: str, timeout: float = 30.0) -> str:
        """stdout of ``command``; HarnessError naming ``what`` and the device's error if it fails."""
        code, out, err = self.run(command, timeout)
        if code != 0:
            raise HarnessError(
                f"{self.thing}: {what} failed (exit code {code}): {(err or out).strip()[-400:]}",
                hint=f"the command was: {command}",
            )
        return out

    def start(self) -> None:
        """Switch the device on if it is off (after :meth:`kill`); a running device is left be."""
        if self._log_size_at_power_off is not None:
            self.place.power(True)
            self.starts += 1

    def wait_booted(self, timeout: float = 180.0) -> None:
        """Until SSH answers and the nucleus writes its log (after a power cycle: until the log
        grew, i.e. the nucleus started again), then resource sampling (re)starts."""
        deadline = time.monotonic() + timeout
        self.place.reconnect(timeout)
        log = f"{self.logs_folder}/greengrass.log"
        while True:
            size = self.log_sizes().get("greengrass")
            before = self._log_size_at_power_off
            if size is not None and (before is None or size != before):
                break
            if time.monotonic() >= deadline:
                raise HarnessError(
                    f"{self.thing}: the nucleus did not start within {timeout:g} s ({log} "
                    + ("does not exist" if size is None else "did not change since the power cut")
                    + ")",
                    hint="is greengrass.service enabled on the device? (systemctl status greengrass)",
                )
            time.sleep(1.0)
        self._log_size_at_power_off = None
        self._reforward()
        self.start_sampling()

    def stop(self) -> None:
        """End of the run: stop sampling and forwarding; the device itself keeps running."""
        with contextlib.suppress(Exception):
            self.stop_sampling()
        self._forwarding.close()
        self.place.disconnect_ssh()

    def exit_status(self) -> str | None:
        return None

    # -- logs ------------------------------------------------------------------------------
    def log_sizes(self) -> dict[str, int]:
        _code, out, _ = self.run(f"stat -c '%s %n' {shlex.quote(self.logs_folder)}/*.log 2>/dev/null")
        sizes = {}
        for line in out.splitlines():
            size, _, path = line.strip().partition(" ")
            if size.isdigit() and path.endswith(".log"):
                sizes[Path(path).stem] = int(size)
        return sizes

    def read_log(self, name: str, offset: int = 0) -> bytes:
        """Bytes from ``offset`` on, exactly (base64 over SSH, so offsets stay byte offsets)."""
        path = shlex.quote(self.log_location(name))
        code, out, _ = self.run(f"test -f {path} && tail -c +{offset + 1} {path} | base64 -w0", timeout=60)
        if code != 0:
            return b""
        return base64.b64decode(out.strip() or b"")

    def log_location(self, name: str) -> str:
        return f"{self.logs_folder}/{name}.log"

    # -- component states and control ------------------------------------------------------
    def _cli(self, arguments: str, what: str) -> str:
        return self.check(f"{self.spec.command('greengrass_cli')} {arguments}", what, timeout=60)

    def component_states(self) -> list[ComponentState]:
        return parse_component_list(self._cli("component list", "greengrass-cli component list"))

    def restart_component(self, name: str) -> None:
        self._cli(f"component restart --names {shlex.quote(name)}", f"restarting {name}")

    def stop_component(self, name: str) -> None:
        self._cli(f"component stop --names {shlex.quote(name)}", f"stopping {name}")

    # -- power -----------------------------------------------------------------------------
    def kill(self) -> None:
        """Power off through the place's switch (a power cut)."""
        self._log_size_at_power_off = self.log_sizes().get("greengrass", 0)
        if self._sampling:
            self._collect_samples()  # what was sampled before the cut stays in the report
        self._forwarding.close()
        self._sampling = False
        self.place.disconnect_ssh()
        self.place.power(False)

    def reboot(self, timeout: float = 300.0) -> None:
        """``reboot`` on the device (the lab file's command), then until it is back."""
        self._log_size_at_power_off = self.log_sizes().get("greengrass", 0)
        self._collect_samples()
        command = self.spec.command("reboot")
        self.run(f"nohup sh -c {shlex.quote('sleep 1; ' + command)} >/dev/null 2>&1 </dev/null &")
        self._forwarding.close()
        self._sampling = False
        self.place.disconnect_ssh()
        time.sleep(3.0)
        self.wait_booted(timeout)
        self.starts += 1

    # -- network ---------------------------------------------------------------------------
    def disconnect(self, for_s: float) -> None:
        """Take the interface down now and up again after ``for_s`` — by the device itself."""
        ip, interface = self.spec.command("ip"), shlex.quote(self.spec.interface)
        script = f"{ip} link set {interface} down; sleep {for_s:g}; {ip} link set {interface} up"
        self.check(
            f"nohup setsid sh -c {shlex.quote(script)} >/dev/null 2>&1 </dev/null &", "cutting the network"
        )
        self._forwarding.close()
        self.place.disconnect_ssh()

    def reconnect(self) -> None:
        """Until the device answers over SSH again (its link came back up)."""
        self.place.reconnect(120.0)
        self._reforward()

    # -- port forwarding -------------------------------------------------------------------
    def forward(self, port: int) -> None:
        """Keep 127.0.0.1:``port`` here connected to the device's ``port`` (across reboots)."""
        self._forwards.append(port)
        self._forwarding.enter_context(self.place.forward(port))

    def _reforward(self) -> None:
        self._forwarding.close()
        self._forwarding = contextlib.ExitStack()
        for port in self._forwards:
            self._forwarding.enter_context(self.place.forward(port))

    # -- resources -------------------------------------------------------------------------
    def start_sampling(self) -> None:
        tegrastats = self.spec.command("tegrastats")
        code, _, _err = self.run(
            f"{tegrastats} --interval {SAMPLE_INTERVAL_MS} --logfile {self.samples_file} --start"
        )
        self._sampling = code == 0

    def stop_sampling(self) -> None:
        if self._sampling:
            self._collect_samples()
            self.run(f"{self.spec.command('tegrastats')} --stop")
            self._sampling = False

    def _collect_samples(self) -> None:
        taken = f"cat {self.samples_file} 2>/dev/null && : > {self.samples_file}"  # read and empty
        _code, out, _ = self.run(taken, timeout=60)
        received = time.time()
        for line in out.splitlines():
            sample = parse_tegrastats(line, self.thing, received)
            if sample is not None:
                self._samples.append(sample)

    def resource_samples(self) -> list[ResourceSample]:
        if self._sampling:
            self._collect_samples()
        taken, self._samples = self._samples, []
        return taken

    def report(self) -> dict[str, Any]:
        """What the run's report keeps of this device: states (or why none) and samples."""
        found: dict[str, Any] = {"place": self.spec.place}
        if self._log_size_at_power_off is not None:
            found["components_error"] = "the device was left powered off"
            found["resources"] = [_sample_row(s) for s in self._samples]
            return found
        try:
            found["components"] = [
                {"name": c.name, "version": c.version, "state": c.state} for c in self.component_states()
            ]
        except HarnessError as err:
            found["components_error"] = err.message
        found["resources"] = [_sample_row(s) for s in self.resource_samples()]
        return found


def _sample_row(sample: ResourceSample) -> dict[str, Any]:
    return {
        "time": sample.time,
        "cpu_percent": sample.cpu_percent,
        "gpu_percent": sample.gpu_percent,
        "ram_used_mb": sample.ram_used_mb,
        "ram_total_mb": sample.ram_total_mb,
        "temperature_c": sample.temperature_c,
    }
