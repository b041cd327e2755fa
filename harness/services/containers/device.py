"""A simulated core device as a container: the nucleus emulation with the profile's CPU and
memory budget, on the session network, cut off and reconnected at will.

The device's root folder is bind-mounted at the same path inside the container, so its logs,
status file and component work folders are where the harness reads them for the process backend
too; the AWS endpoint and the Kafka broker are reached at their session addresses. Docker's init
(tini) is PID 1, so SIGTERM reaches the nucleus, which stops its components, and a kill takes
every process of the device down at once, like a power cut.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.services.base import LOOPBACK
from harness.services.containers.runner import follow_logs
from harness.services.containers.session import ContainerSession

_STOP_GRACE_S = 20
SHM_SIZE = "1g"


def host_budget() -> tuple[float, int]:
    """CPUs and memory (bytes) of this host: a container cannot be given more."""
    cpus = float(len(os.sched_getaffinity(0)))
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return cpus, memory


def tbf(interface: str, mbit: float) -> list[str]:
    """A token-bucket limit of ``mbit`` on what ``interface`` sends."""
    return f"tc qdisc replace dev {interface} root tbf rate {mbit:g}mbit burst 64kbit latency 400ms".split()


def shaped(profile: str) -> bool:
    from fake_device.profiles import load_profile

    spec = load_profile(profile)
    return bool(spec.uplink_mbit or spec.downlink_mbit)


def host_interface(ifindex: int) -> str:
    """The host's network interface with that index (a container's veth peer)."""
    for entry in Path("/sys/class/net").iterdir():
        with contextlib.suppress(OSError, ValueError):
            if int((entry / "ifindex").read_text()) == ifindex:
                return entry.name
    raise HarnessError(f"no host network interface has index {ifindex}")


def resource_limits(profile: str) -> dict[str, Any]:
    """``nano_cpus`` and ``mem_limit`` from the device profile, clamped to what the host has.

    A Jetson AGX Xavier's budget (8 cores, 32 GiB) is more than these CI machines have; docker
    refuses a CPU quota above the host's, so the container gets the smaller of the two.
    """
    from fake_device.profiles import load_profile

    spec = load_profile(profile)
    cpus, memory = host_budget()
    return {
        "nano_cpus": int(min(spec.cpus, cpus) * 1e9),
        "mem_limit": min(spec.memory_bytes, memory),
    }


@dataclass
class DeviceContainer:
    """One core device in a container; the interface of :class:`~harness.scenario.devices.SimulatedDevice`."""

    thing: str
    group: str
    profile: str
    root: Path
    environment: Mapping[str, str]
    session: ContainerSession
    poll_interval: float = 0.5
    #: host ports published 1:1 on 127.0.0.1 (e.g. the app's RTSP port)
    publish: Sequence[int] = ()
    #: run this image (a scenario's ``services.images.device``; it must be the harness's device
    #: image, e.g. one pushed to a team registry) instead of building it
    image: str | None = None
    starts: int = 0
    address: str = ""
    container: Any = field(default=None, repr=False)
    _follower: threading.Thread | None = field(default=None, repr=False)
    _started_at: float = 0.0

    @property
    def greengrass_log(self) -> Path:
        return self.root / "logs" / "greengrass.log"

    def component_log(self, component: str) -> Path:
        return self.root / "logs" / f"{component}.log"

    @property
    def process_log(self) -> Path:
        return self.root.parent / f"{self.thing}.process.log"

    @property
    def running(self) -> bool:
        if self.container is None:
            return False
        with contextlib.suppress(Exception):
            self.container.reload()
            return self.container.status in ("running", "paused")
        return False

    # -- life cycle ------------------------------------------------------------------------
    def start(self) -> None:
        """Create and start the container, or start it again after a kill, on the same root."""
        if self.running:
            return
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o755)
        if self.container is None:
            self._create()
        self._started_at = time.time() - 1.0
        self.container.start()
        self._shape_link()
        self.starts += 1
        self._follow_logs(since=None if self.starts == 1 else self._started_at)

    def _create(self) -> None:
        from docker.types import EndpointConfig

        from harness.images.choice import choose_image

        image = choose_image("device", self.image, client=self.session.client).ref
        self.address = self.address or self.session.device_address()
        network = self.session.network_name
        command = [
            "--thing", self.thing, "--group", self.group, "--profile", self.profile,
            "--root", str(self.root), "--poll-interval", str(self.poll_interval), "--quiet",
        ]  # fmt: skip
        self.container = self.session.client.containers.create(
            image,
            command=command,
            name=f"edge-harness-{self.session.id}-{_dns_label(self.thing)}",
            hostname=_dns_label(self.thing),
            environment=dict(self.environment),
            labels=self.session.labels_for("device"),
            volumes={str(self.root): {"bind": str(self.root), "mode": "rw"}},
            ports={f"{port}/tcp": (LOOPBACK, port) for port in self.publish},
            network=network,
            networking_config={
                network: EndpointConfig(
                    self.session.client.api.api_version,
                    aliases=[_dns_label(self.thing)],
                    ipv4_address=self.address,
                )
            },
            init=True,
            shm_size=SHM_SIZE,
            cap_add=["NET_ADMIN"] if shaped(self.profile) else [],
            **resource_limits(self.profile),
        )

    def kill(self) -> None:
        """SIGKILL every process of the device (a power cut); the container stays for :meth:`start`."""
        if self.container is None:
            return
        with contextlib.suppress(Exception):
            self.container.reload()
            if self.container.status == "paused":
                self.container.unpause()
            if self.container.status in ("running", "paused"):
                self.container.kill()
            self.container.wait(timeout=30)
        self._join_follower()

    def stop(self) -> None:
        """SIGTERM the nucleus (it stops its components), SIGKILL after a grace period; remove."""
        if self.container is None:
            return
        with contextlib.suppress(Exception):
            self.container.reload()
            if self.container.status == "paused":
                self.container.unpause()
            self.container.stop(timeout=_STOP_GRACE_S)
        self._join_follower()
        with contextlib.suppress(Exception):
            self.container.remove(force=True, v=True)
        self.container = None

    # -- faults ----------------------------------------------------------------------------
    def pause(self) -> None:
        """Freeze the device and its components (docker pause)."""
        self._require().pause()

    def resume(self) -> None:
        self._require().unpause()

    def disconnect(self) -> None:
        """Cut the device off the network: no AWS endpoint, no broker, no Triton."""
        self.session.network.disconnect(self._require(), force=True)

    def reconnect(self) -> None:
        """Plug it back in, with the same address and name."""
        self.session.network.connect(
            self._require(), ipv4_address=self.address, aliases=[_dns_label(self.thing)]
        )
        self._shape_link()  # a new interface: its limits are gone

    def _shape_link(self) -> None:
        """Give the device's link its profile's speeds (tc token buckets).

        Uplink: on the container's eth0 (what the device sends). Downlink: on the host side of
        the container's veth pair (what the host's bridge sends into it), set by a short-lived
        container on the host's network with NET_ADMIN, so the host needs neither tc nor root.
        (An ingress policer inside the container would do without it, but needs the kernel's
        act_police, which not every kernel has.)
        """
        from fake_device.profiles import load_profile

        spec = load_profile(self.profile)
        if not (spec.uplink_mbit or spec.downlink_mbit):
            return
        container = self._require()
        interface = self._interface(container)
        if spec.uplink_mbit:
            self._exec(container, tbf(interface, spec.uplink_mbit))
        if spec.downlink_mbit:
            output = self._exec(container, ["cat", f"/sys/class/net/{interface}/iflink"])
            veth = host_interface(int(output))
            command = tbf(veth, spec.downlink_mbit)
            try:
                self.session.client.containers.run(
                    container.image.id,
                    command[1:],
                    entrypoint=[command[0]],
                    network_mode="host",
                    cap_add=["NET_ADMIN"],
                    labels=self.session.labels_for("link"),
                    remove=True,
                )
            except Exception as err:
                raise self._link_error(command, str(err)) from err

    def _interface(self, container: Any, timeout: float = 10.0) -> str:
        """The container's interface on the session network (eth0 at first; a new name after
        a reconnect), found by the device's address."""
        deadline = time.monotonic() + timeout
        while True:
            listing = self._exec(container, ["ip", "-o", "-4", "addr", "show"])
            for line in listing.splitlines():
                fields = line.split()
                if len(fields) > 3 and fields[3].split("/")[0] == self.address:
                    return fields[1].split("@")[0]
            if time.monotonic() >= deadline:
                raise self._link_error(["ip", "addr"], f"no interface has {self.address}:\n{listing}")
            time.sleep(0.2)

    def _exec(self, container: Any, command: list[str]) -> str:
        code, output = container.exec_run(command)
        text = output.decode(errors="replace").strip()
        if code != 0:
            raise self._link_error(command, text)
        return text

    def _link_error(self, command: list[str], why: str) -> HarnessError:
        return HarnessError(
            f"device {self.thing}: cannot shape its link to the {self.profile} profile's speeds: "
            f"{' '.join(command)}: {why}",
            hint="the kernel needs the tbf queueing discipline (sch_tbf); or use a profile without `network`",
        )

    def _require(self) -> Any:
        if self.container is None:
            raise HarnessError(f"device {self.thing} has no container (not started)")
        return self.container

    # -- readiness and logs ----------------------------------------------------------------
    def wait_booted(self, timeout: float = 60.0) -> None:
        """Until the booted device wrote its status file (run/status.json), bounded."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            container = self._require()
            container.reload()
            if container.status in ("exited", "dead"):
                code = container.attrs.get("State", {}).get("ExitCode")
                raise HarnessError(
                    f"device {self.thing} (container) exited with {code} while booting:\n"
                    + self.process_log_tail()
                )
            status = self.root / "run" / "status.json"
            if status.exists() and status.stat().st_mtime >= self._started_at:
                return
            time.sleep(0.2)
        raise HarnessError(
            f"device {self.thing} (container) did not boot within {timeout:g} s:\n{self.process_log_tail()}"
        )

    def process_log_tail(self, lines: int = 30) -> str:
        if not self.process_log.exists():
            return ""
        return "\n".join(self.process_log.read_text(errors="replace").splitlines()[-lines:])

    def _follow_logs(self, since: float | None) -> None:
        self._join_follower()
        self._follower = follow_logs(self._require(), self.process_log, since, name=f"{self.thing}-logs")

    def _join_follower(self) -> None:
        if self._follower is not None:
            self._follower.join(timeout=5)
        self._follower = None


def _dns_label(name: str) -> str:
    """A hostname-safe form of a thing name (things may contain ':' and '_')."""
    return re.sub(r"[^A-Za-z0-9-]", "-", name).strip("-")[:63] or "device"
