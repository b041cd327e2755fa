"""One run's containers, networks and volumes: labelled, on a network of their own, removed together.

testcontainers normally relies on its Ryuk container to remove what a test run leaves; Ryuk's
image cannot be pulled on a host without a registry, so the harness does the same job itself:

* everything it creates carries ``edge-harness.session=<id>`` and ``edge-harness.owner=<host>:<pid>:
  <process start time>``;
* :meth:`ContainerSession.close` removes the session's containers, network and volumes (also from
  an ``atexit`` hook, for a harness that exits without closing);
* the harness's keeper process (:mod:`harness.services.keeper`) removes the session when the
  harness dies without closing it (SIGKILL, crash);
* :func:`reap_leftovers` removes what sessions whose owner process is gone left behind when the
  keeper could not (the keeper killed too, a power cut); every new session runs it first.

The network is a user-defined bridge with a subnet chosen here, because the Kafka broker needs a
fixed address known before it starts: it advertises ``<its address>:9092``, which both the
containers on the network and the host (Linux routes the bridge subnet) can reach.
"""

from __future__ import annotations

import atexit
import contextlib
import ipaddress
import logging
import os
import socket
import threading
import uuid
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fake_device.nucleus.shell import process_start_time
from harness.services.containers.engine import ContainerError, disable_ryuk, docker_client
from harness.services.keeper import keeper

if TYPE_CHECKING:
    import docker

log = logging.getLogger(__name__)

LABEL_SESSION = "edge-harness.session"
LABEL_OWNER = "edge-harness.owner"
LABEL_ROLE = "edge-harness.role"
#: where session subnets are taken from: /24s of 172.30.0.0/16 that no docker network or host
#: route uses yet
SUBNET_POOL = ipaddress.ip_network("172.30.0.0/16")

#: the fixed host numbers of the services inside a session subnet; devices get the rest
SERVICE_HOSTS = {"kafka": 2, "aws": 3, "triton": 4, "iot_core": 5}
FIRST_DEVICE_HOST = 10


def owner_label() -> str:
    """``host:pid:start-time`` of this process: tells a live owner from a reused pid."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{process_start_time(pid) or '?'}"


def owner_alive(owner: str) -> bool:
    """False when the labelled owner process is gone; True when alive or on another host."""
    host, _, rest = owner.partition(":")
    pid_text, _, start = rest.partition(":")
    if host != socket.gethostname():
        return True  # not ours to judge: another machine shares this engine
    if not pid_text.isdigit():
        return False
    return process_start_time(int(pid_text)) == start


def _host_routes() -> list[ipaddress.IPv4Network]:
    """IPv4 destinations in the host's main routing table (/proc/net/route), to avoid overlaps."""
    routes = []
    with contextlib.suppress(OSError):
        for line in Path("/proc/net/route").read_text().splitlines()[1:]:
            fields = line.split()
            dest, mask = int(fields[1], 16), int(fields[7], 16)
            if dest == 0:
                continue  # the default route overlaps everything
            net = ipaddress.IPv4Address(socket.ntohl(dest) & 0xFFFFFFFF)
            prefix = bin(mask).count("1")
            routes.append(ipaddress.ip_network(f"{net}/{prefix}", strict=False))
    return routes


def _used_subnets(client: docker.DockerClient) -> list[ipaddress.IPv4Network]:
    used: list[ipaddress.IPv4Network] = []
    for network in client.networks.list():
        for cfg in (network.attrs.get("IPAM") or {}).get("Config") or []:
            with contextlib.suppress(ValueError, KeyError, TypeError):
                subnet = ipaddress.ip_network(cfg["Subnet"], strict=False)
                if isinstance(subnet, ipaddress.IPv4Network):
                    used.append(subnet)
    return used + _host_routes()


def free_subnet(client: docker.DockerClient) -> ipaddress.IPv4Network:
    used = _used_subnets(client)
    for candidate in SUBNET_POOL.subnets(new_prefix=24):
        if not any(candidate.overlaps(u) for u in used):
            return candidate
    raise ContainerError(
        f"no free /24 left in {SUBNET_POOL} for a session network",
        hint="remove old networks: edge-harness services cleanup",
    )


_sessions: weakref.WeakSet[ContainerSession] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    for session in list(_sessions):
        with contextlib.suppress(Exception):
            session.close()


class ContainerSession:
    """The containers of one harness run, on one user-defined bridge network.

    Create it, start services and devices with it, :meth:`close` it (or use ``with``).
    """

    def __init__(self, *, reap: bool = True) -> None:
        disable_ryuk()
        self.client = docker_client()
        self.id = uuid.uuid4().hex[:12]
        self.labels = {LABEL_SESSION: self.id, LABEL_OWNER: owner_label()}
        if reap:
            reap_leftovers(self.client)
        self._lock = threading.Lock()
        self._next_device = FIRST_DEVICE_HOST
        self.network: Any = None
        self.subnet: ipaddress.IPv4Network | None = None
        keeper.watch_docker_session(self.id)  # removed when this process dies, however it dies
        self._create_network()
        _sessions.add(self)

    @property
    def network_name(self) -> str:
        return f"edge-harness-{self.id}"

    def _create_network(self) -> None:
        import docker.errors
        from docker.types import IPAMConfig, IPAMPool

        for _attempt in range(5):  # another run may take the same subnet between look and create
            subnet = free_subnet(self.client)
            gateway = str(subnet.network_address + 1)
            try:
                self.network = self.client.networks.create(
                    self.network_name,
                    driver="bridge",
                    labels=self.labels,
                    ipam=IPAMConfig(pool_configs=[IPAMPool(subnet=str(subnet), gateway=gateway)]),
                )
            except docker.errors.APIError as err:
                if "overlap" in str(err).lower():
                    continue
                raise ContainerError(f"cannot create network {self.network_name}: {err}") from err
            self.subnet = subnet
            return
        raise ContainerError("cannot find a free subnet for the session network (5 attempts)")

    def address(self, role: str) -> str:
        """The fixed address of a service (``kafka``, ``aws``, ``triton``, ``iot_core``) on the session
        network."""
        assert self.subnet is not None
        return str(self.subnet.network_address + SERVICE_HOSTS[role])

    def device_address(self) -> str:
        """A new address for a device container."""
        assert self.subnet is not None
        with self._lock:
            host = self._next_device
            self._next_device += 1
        if host >= self.subnet.num_addresses - 1:
            raise ContainerError(f"session network {self.subnet} has no address left for another device")
        return str(self.subnet.network_address + host)

    def labels_for(self, role: str) -> dict[str, str]:
        return {**self.labels, LABEL_ROLE: role}

    def containers(self) -> list[Any]:
        return self.client.containers.list(all=True, filters={"label": f"{LABEL_SESSION}={self.id}"})

    def close(self) -> None:
        """Remove every container, the network and the volumes of this session. Safe to call twice."""
        with self._lock:
            if self.network is None:
                return
            remove_labelled(self.client, f"{LABEL_SESSION}={self.id}")
            self.network = None
        keeper.forget_docker_session(self.id)
        _sessions.discard(self)

    def __enter__(self) -> ContainerSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def remove_labelled(client: docker.DockerClient, label_filter: str) -> list[str]:
    """Force-remove containers, then networks, then volumes matching a label filter; return names."""
    import docker.errors

    removed: list[str] = []
    for container in client.containers.list(all=True, filters={"label": label_filter}):
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True, v=True)
            removed.append(f"container {container.name}")
    for network in client.networks.list(filters={"label": label_filter}):
        with contextlib.suppress(docker.errors.NotFound):
            network.remove()
            removed.append(f"network {network.name}")
    for volume in client.volumes.list(filters={"label": label_filter}):
        with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
            volume.remove(force=True)
            removed.append(f"volume {volume.name}")
    return removed


def _sessions_of(client: docker.DockerClient) -> Iterator[tuple[str, str]]:
    seen: dict[str, str] = {}
    for kind in (client.containers.list(all=True, filters={"label": LABEL_SESSION}),
                 client.networks.list(filters={"label": LABEL_SESSION}),
                 client.volumes.list(filters={"label": LABEL_SESSION})):  # fmt: skip
        for item in kind:
            labels = item.attrs.get("Labels") or item.attrs.get("Config", {}).get("Labels") or {}
            session = labels.get(LABEL_SESSION)
            if session and session not in seen:
                seen[session] = labels.get(LABEL_OWNER, "")
    yield from seen.items()


def reap_leftovers(client: docker.DockerClient | None = None, *, everything: bool = False) -> list[str]:
    """Remove what sessions whose owner process is gone left behind (all sessions if ``everything``)."""
    client = client or docker_client()
    removed: list[str] = []
    for session, owner in _sessions_of(client):
        if everything or not owner_alive(owner):
            found = remove_labelled(client, f"{LABEL_SESSION}={session}")
            if found:
                log.warning("removed leftovers of edge-harness session %s (%s): %s", session, owner, found)
            removed += found
    return removed
