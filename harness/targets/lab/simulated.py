"""A simulated lab on this host: Jetsons in network namespaces, under a real labgrid.

What a lab without hardware needs to be tested like one:

- **hosts**: one network namespace per Jetson (``ip netns`` + a veth pair on a bridge of the
  lab's own, a 10.x /24 no interface of this host uses), each running ``sshd`` on its address and
  the simulated core device on a ``/greengrass/v2``-like root (:mod:`~harness.targets.lab.simhost`),
  with ``<root>/bin`` and the host's ``bin`` holding what a Jetson has: ``tegrastats`` (a
  stand-in), ``reboot`` (asks the power switch to cycle the host), and ``greengrass-cli`` when the
  simulated nucleus provides one;
- **a power switch**: an HTTP relay board as labgrid's ``rest`` power model drives it
  (``GET/PUT /relay/<index>/value`` with ``0``/``1``): off SIGKILLs every process in the host's
  namespace (a power cut), on boots the host again;
- **the lab manager**: a real ``labgrid-coordinator`` and ``labgrid-exporter`` exporting each host
  as a place with a ``NetworkService`` (root over SSH, the lab's key) and a ``NetworkPowerPort``;
- **the lab file** (:mod:`~harness.targets.lab.description`) that says all of this to
  ``--target lab``: devices, places, the key, the address the harness binds its services to.

Only root can make namespaces: :func:`unavailable` says why the lab cannot be hosted here, and
tests skip with that reason. Everything is undone by :meth:`SimulatedLab.close` (namespaces,
links, processes), and a lab whose owner was SIGKILLed is swept by the next one.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

from fake_device.deepstream.measure import ENV_COMPONENT_LATENCY, ENV_LATENCY, ENV_PRINT_EVERY
from harness.errors import HarnessError
from harness.services.base import ProcessService
from harness.services.ports import free_ports, port_open
from harness.targets.lab.labgrid import labgrid_client

__all__ = ["SimulatedHost", "SimulatedLab", "unavailable"]

_NETNS_PREFIX = "ehlab-"
SIMHOST = "harness.targets.lab.simhost"
_NETNS = re.compile(rf"^{_NETNS_PREFIX}(\d+)-(\d+)$")


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise HarnessError(f"ip {' '.join(args)} failed: {done.stderr.strip()}")
    return done


def unavailable() -> str | None:
    """Why this machine cannot host a simulated lab, or None if it can."""
    if os.geteuid() != 0:
        return "the simulated lab needs root (network namespaces, sshd on their addresses)"
    for tool, package in (("ip", "iproute2"), ("ssh-keygen", "openssh-client"), ("ssh", "openssh-client")):
        if shutil.which(tool) is None:
            return f"{tool} is missing (apt-get install {package})"
    if not Path("/usr/sbin/sshd").exists():
        return "/usr/sbin/sshd is missing (apt-get install openssh-server)"
    try:
        import labgrid  # noqa: F401
    except ImportError:
        return "labgrid is not installed (pip install -e '.[lab]')"
    probe = f"{_NETNS_PREFIX}probe-{os.getpid()}"
    made = _ip("netns", "add", probe, check=False)
    if made.returncode != 0:
        return f"network namespaces are not available here: {made.stderr.strip()}"
    _ip("netns", "delete", probe, check=False)
    return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _kill_namespace(name: str) -> None:
    """SIGKILL every process in the namespace (a power cut), then wait until none is left."""
    for _ in range(50):
        pids = _ip("netns", "pids", name, check=False).stdout.split()
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid), signal.SIGKILL)
        time.sleep(0.1)


def sweep_dead_labs() -> None:
    """Delete the namespaces and bridges of simulated labs whose process is gone."""
    listing = _ip("netns", "list", check=False).stdout.split("\n")
    for line in listing:
        name = line.split(" ")[0]
        match = _NETNS.match(name)
        if match and not _alive(int(match.group(1))):
            _kill_namespace(name)
            _ip("netns", "delete", name, check=False)
    for line in _ip("-o", "link", "show", "type", "bridge", check=False).stdout.splitlines():
        bridge = line.split(":")[1].strip().split("@")[0]
        found = re.match(r"^ehb(\d+)$", bridge)
        if found and not _alive(int(found.group(1))):
            _ip("link", "delete", bridge, check=False)


def _free_subnet() -> ipaddress.IPv4Network:
    """A 10.x.y.0/24 that no address of this host is in."""
    used = []
    for line in _ip("-4", "-o", "addr", "show", check=False).stdout.splitlines():
        parts = line.split()
        if "inet" in parts:
            used.append(ipaddress.IPv4Interface(parts[parts.index("inet") + 1]).network)
    seed = os.getpid()
    for step in range(200):
        candidate = ipaddress.IPv4Network(f"10.{200 + (seed + step) % 50}.{(seed // 50 + step) % 250}.0/24")
        if not any(candidate.overlaps(net) for net in used):
            return candidate
    raise HarnessError("no free 10.x.y.0/24 subnet for the simulated lab")


# -- the lab manager -------------------------------------------------------------------------


class LabgridCoordinator(ProcessService):
    """``labgrid-coordinator`` on 127.0.0.1 (places and reservations kept in its work folder)."""

    name = "labgrid-coordinator"

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir=workdir, startup_timeout=30.0)
        self.port = 0

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def endpoints(self) -> dict[str, str]:
        return {"grpc": self.address}

    def allocate_ports(self) -> None:
        self.port = free_ports(1)[0]

    def command(self) -> list[str]:
        return [str(Path(sys.executable).parent / "labgrid-coordinator"), "-l", self.address]

    def probe_ready(self) -> bool:
        return port_open("127.0.0.1", self.port, timeout=0.2)


class LabgridExporter(ProcessService):
    """``labgrid-exporter`` of the lab's resources, ready once the coordinator lists them."""

    name = "labgrid-exporter"

    def __init__(self, workdir: Path, coordinator: str, exporter: str, config: Path, expected: int) -> None:
        super().__init__(workdir=workdir, startup_timeout=60.0)
        self.coordinator = coordinator
        self.exporter = exporter
        self.config = config
        self.expected = expected

    @property
    def endpoints(self) -> dict[str, str]:
        return {}

    def allocate_ports(self) -> None:
        return None

    def command(self) -> list[str]:
        return [
            str(Path(sys.executable).parent / "labgrid-exporter"),
            "-c", self.coordinator, "-n", self.exporter, "--hostname", "127.0.0.1", str(self.config),
        ]  # fmt: skip

    def probe_ready(self) -> bool:
        done = subprocess.run(
            [*labgrid_client(), "-x", self.coordinator, "resources"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
        return done.stdout.count(f"{self.exporter}/") >= self.expected


# -- the hosts and their power -----------------------------------------------------------------


@dataclass
class SimulatedHost:
    """One simulated Jetson: its namespace, address, folders and what its init runs."""

    index: int
    thing: str
    group: str
    profile: str
    netns: str
    address: str
    folder: Path
    environment: dict[str, str] = field(default_factory=dict)
    init: subprocess.Popen[bytes] | None = None

    @property
    def root(self) -> Path:
        """The Greengrass root: ``<folder>/greengrass/v2``, as /greengrass/v2 on a Jetson."""
        return self.folder / "greengrass" / "v2"

    @property
    def bin(self) -> Path:
        return self.folder / "bin"

    @property
    def powered(self) -> bool:
        return self.init is not None and self.init.poll() is None

    @property
    def reboot_flag(self) -> Path:
        return self.folder / "run" / "reboot-requested"

    def note(self, text: str) -> None:
        """A line in the host's power log (what the switch did, when)."""
        with (self.folder / "power.log").open("a") as out:
            out.write(f"{time.strftime('%H:%M:%S')} {text}\n")

    def power_on(self) -> None:
        """Boot: the host's init (sshd + the nucleus) in its namespace, dying with the lab."""
        if self.powered:
            self.note("on: already on")
            return
        self.reboot_flag.unlink(missing_ok=True)
        config = self.folder / "host.json"
        out = (self.folder / "init.log").open("ab")
        # no preexec_fn (this process has other threads): the init sets its own death signal
        self.init = subprocess.Popen(
            ["ip", "netns", "exec", self.netns, sys.executable, "-m", SIMHOST, str(config), str(os.getpid())],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        out.close()
        self.note(f"on: init pid {self.init.pid}")

    def power_off(self) -> None:
        """A power cut: every process of the host dies at once, nothing is shut down."""
        self.note("off")
        _kill_namespace(self.netns)
        if self.init is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.init.pid, signal.SIGKILL)
            self.init.wait(10)
        self.init = None


class PowerSwitch:
    """An HTTP relay board (labgrid's ``rest`` model) switching the hosts, on 127.0.0.1.

    One thread serves it and switches the hosts, so the hosts' inits (started with
    ``PR_SET_PDEATHSIG``) live exactly as long as the switch. Between requests it also honours
    the hosts' ``reboot`` requests (a flag file the host's ``reboot`` writes), cycling the host
    as a watchdog would.
    """

    def __init__(self, hosts: dict[int, SimulatedHost]) -> None:
        self.hosts = hosts
        switch = self

        class Handler(BaseHTTPRequestHandler):
            def _host(self) -> SimulatedHost | None:
                found = re.match(r"^/relay/(\d+)/value$", self.path)
                return switch.hosts.get(int(found.group(1))) if found else None

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                host = self._host()
                if host is None:
                    self._answer(404, b"no such relay")
                else:
                    self._answer(200, b"1" if host.powered else b"0")

            def do_PUT(self) -> None:
                host = self._host()
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).strip()
                if host is None or body not in (b"0", b"1"):
                    self._answer(400, b"PUT 0 or 1 to /relay/<index>/value")
                    return
                if body == b"1":
                    host.power_on()
                else:
                    host.power_off()
                self._answer(200, body)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.server.timeout = 0.3
        self.port = int(self.server.server_address[1])
        self._stop = threading.Event()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="lab-power-switch", daemon=True)

    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/relay/{{index}}/value"

    def start(self) -> None:
        self._thread.start()
        self._started.wait(10)

    def _serve(self) -> None:
        for host in self.hosts.values():
            host.power_on()
        self._started.set()
        while not self._stop.is_set():
            self.server.handle_request()
            for host in self.hosts.values():
                if host.reboot_flag.exists():
                    host.power_off()
                    time.sleep(1.0)
                    host.power_on()
        for host in self.hosts.values():
            host.power_off()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(30)
        self.server.server_close()


# -- the lab ----------------------------------------------------------------------------------


class SimulatedLab:
    """The whole simulated lab (see the module docstring); a context manager.

    ``devices`` are (thing, thing group, profile); ``aws_port`` is where the harness's AWS
    endpoint will listen on the lab address (a free port when not given).
    """

    def __init__(
        self, folder: Path, devices: list[tuple[str, str, str]], *, aws_port: int | None = None
    ) -> None:
        self.folder = folder
        self.devices = devices
        self.aws_port = aws_port or free_ports(1)[0]
        self.tag = str(os.getpid())
        self.bridge = f"ehb{self.tag}"[:15]
        self.hosts: dict[int, SimulatedHost] = {}
        self.address = ""
        self.coordinator: LabgridCoordinator | None = None
        self.exporter: LabgridExporter | None = None
        self.switch: PowerSwitch | None = None
        self.lab_file = folder / "lab.yaml"
        self.key = folder / "lab_ed25519"
        self._namespaces: list[str] = []

    # -- context manager -------------------------------------------------------------------
    def __enter__(self) -> SimulatedLab:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def start(self) -> None:
        why = unavailable()
        if why:
            raise HarnessError(f"cannot host a simulated lab here: {why}")
        sweep_dead_labs()
        self.folder.mkdir(parents=True, exist_ok=True)
        os.chmod(self.folder, 0o755)
        self._network()
        self._keys()
        for host in self.hosts.values():
            self._stage(host)
        self.switch = PowerSwitch(self.hosts)
        self.switch.start()
        self.coordinator = LabgridCoordinator(self.folder / "coordinator").start()
        exporter_config = self.folder / "exporter.yaml"
        exporter_config.write_text(self._exporter_config())
        self.exporter = LabgridExporter(
            self.folder / "exporter",
            self.coordinator.address,
            self.exporter_name,
            exporter_config,
            len(self.hosts),
        ).start()
        for host in self.hosts.values():
            self._client("-p", host.thing, "create")
            self._client("-p", host.thing, "add-match", f"{self.exporter_name}/{host.thing}/*")
        self.lab_file.write_text(self._lab_description())

    @property
    def exporter_name(self) -> str:
        return f"simlab-{self.tag}"

    def close(self) -> None:
        if self.switch is not None:
            self.switch.close()  # powers every host off
            self.switch = None
        for host in self.hosts.values():
            host.power_off()
        for service in (self.exporter, self.coordinator):
            if service is not None:
                service.stop()
        self.exporter = self.coordinator = None
        for name in self._namespaces:
            _kill_namespace(name)
            _ip("netns", "delete", name, check=False)
        self._namespaces.clear()
        _ip("link", "delete", self.bridge, check=False)

    # -- parts -----------------------------------------------------------------------------
    def _network(self) -> None:
        subnet = _free_subnet()
        addresses = list(subnet.hosts())
        self.address = str(addresses[0])
        _ip("link", "add", "name", self.bridge, "type", "bridge")
        _ip("addr", "add", f"{self.address}/{subnet.prefixlen}", "dev", self.bridge)
        _ip("link", "set", self.bridge, "up")
        for index, (thing, group, profile) in enumerate(self.devices, 1):
            netns = f"{_NETNS_PREFIX}{self.tag}-{index}"
            _ip("netns", "add", netns)
            self._namespaces.append(netns)
            outside = f"ehv{self.tag}{index}"[-15:]
            _ip("link", "add", outside, "type", "veth", "peer", "name", "eth0", "netns", netns)
            _ip("link", "set", outside, "master", self.bridge, "up")
            address = str(addresses[index])
            _ip("-n", netns, "addr", "add", f"{address}/{subnet.prefixlen}", "dev", "eth0")
            _ip("-n", netns, "link", "set", "eth0", "up")
            _ip("-n", netns, "link", "set", "lo", "up")
            self.hosts[index] = SimulatedHost(
                index, thing, group, profile, netns, address, self.folder / "hosts" / thing
            )

    def _keys(self) -> None:
        if not self.key.exists():
            subprocess.run(
                [
                    "ssh-keygen",
                    "-q",
                    "-t",
                    "ed25519",
                    "-N",
                    "",
                    "-C",
                    "edge-harness-lab",
                    "-f",
                    str(self.key),
                ],
                check=True,
            )
        (self.folder / "authorized_keys").write_text(Path(f"{self.key}.pub").read_text())
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege-separation folder

    def _stage(self, host: SimulatedHost) -> None:
        """The host's disk: folders, its host key, sshd config, stand-ins and init config."""
        for folder in (host.folder, host.bin, host.folder / "run", host.root.parent, host.root):
            folder.mkdir(parents=True, exist_ok=True)
            os.chmod(folder, 0o755)
        os.chmod(self.folder / "hosts", 0o755)
        host_key = host.folder / "ssh_host_ed25519_key"
        if not host_key.exists():
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(host_key)], check=True)
        sshd_config = host.folder / "sshd_config"
        sshd_config.write_text(
            "\n".join(
                [
                    f"ListenAddress {host.address}",
                    "Port 22",
                    f"HostKey {host_key}",
                    "PidFile none",
                    f"AuthorizedKeysFile {self.folder / 'authorized_keys'}",
                    "PermitRootLogin prohibit-password",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "UsePAM no",
                    "StrictModes no",
                    "AllowTcpForwarding yes",
                    "Subsystem sftp internal-sftp",
                    "",
                ]
            )
        )
        python = sys.executable
        pid_file = host.folder / "run" / "tegrastats.pid"
        self._script(
            host.bin / "tegrastats",
            f'TEGRASTATS_PID_FILE={pid_file} exec {python} -m fake_device.jetson.tegrastats "$@"',
        )
        self._script(host.bin / "reboot", f"touch {host.reboot_flag}")
        host.environment = {
            "AWS_ENDPOINT_URL": f"http://{self.address}:{self.aws_port}",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
            # what a lab sets in greengrass.service for DeepStream's latency lines (the nucleus
            # passes its environment on to components)
            ENV_LATENCY: "1",
            ENV_COMPONENT_LATENCY: "1",
            ENV_PRINT_EVERY: "30",
        }
        (host.folder / "host.json").write_text(
            json.dumps(
                {
                    "folder": str(host.folder),
                    "sshd_config": str(sshd_config),
                    "thing": host.thing,
                    "group": host.group,
                    "profile": host.profile,
                    "root": str(host.root),
                    "environment": host.environment,
                },
                indent=2,
            )
        )

    @staticmethod
    def _script(path: Path, body: str) -> None:
        path.write_text(f"#!/bin/sh\n{body}\n")
        os.chmod(path, 0o755)

    def _exporter_config(self) -> str:
        assert self.switch is not None
        lines = []
        for index, host in self.hosts.items():
            lines += [
                f"{host.thing}:",
                "  NetworkService:",
                f"    address: {host.address}",
                "    username: root",
                "  NetworkPowerPort:",
                "    model: rest",
                f"    host: '{self.switch.url()}'",
                f"    index: {index}",
            ]
        return "\n".join(lines) + "\n"

    def _lab_description(self) -> str:
        assert self.coordinator is not None
        lines = [
            "# a simulated lab (edge-harness): Jetsons in network namespaces of this host",
            "lab_manager:",
            "  kind: labgrid",
            f"  coordinator: {self.coordinator.address}",
            "services:",
            f"  address: {self.address}",
            "  aws: endpoint",
            f"  aws_port: {self.aws_port}",
            "devices:",
        ]
        for host in self.hosts.values():
            lines += [
                f"  {host.thing}:",
                f"    place: {host.thing}",
                f"    greengrass_root: {host.root}",
                f"    keyfile: {self.key}",
                "    interface: eth0",
                "    commands:",
                f"      reboot: {host.bin / 'reboot'}",
                f"      tegrastats: {host.bin / 'tegrastats'}",
                "      ip: ip",
            ]
        return "\n".join(lines) + "\n"

    def _client(self, *args: str) -> str:
        assert self.coordinator is not None
        done = subprocess.run(
            [*labgrid_client(), "-x", self.coordinator.address, *args],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if done.returncode != 0:
            raise HarnessError(f"labgrid-client {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout

    def diagnostics(self) -> str:
        """The tails of each host's power, init, sshd and nucleus logs (for a failed test)."""
        parts = []
        for host in self.hosts.values():
            for name in ("power.log", "init.log", "sshd.log", "nucleus.out"):
                path = host.folder / name
                text = path.read_text(errors="replace") if path.exists() else "(none)"
                parts.append(f"--- {host.thing} {name}\n" + "\n".join(text.splitlines()[-15:]))
        return "\n".join(parts)

    def host(self, thing: str) -> SimulatedHost:
        for host in self.hosts.values():
            if host.thing == thing:
                return host
        raise KeyError(thing)
