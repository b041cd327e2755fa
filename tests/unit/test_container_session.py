"""The docker backend's bookkeeping that needs no engine: owners, subnets, limits, names."""

from __future__ import annotations

import ipaddress
import os
import socket
import subprocess
import sys

import pytest

from harness.services.containers import session as S
from harness.services.containers.device import _dns_label, host_budget, resource_limits

pytestmark = pytest.mark.unit


def test_owner_label_names_this_process_and_is_alive() -> None:
    label = S.owner_label()
    host, pid, start = label.split(":")
    assert host == socket.gethostname() and int(pid) == os.getpid() and start.isdigit()
    assert S.owner_alive(label)


def test_owner_of_an_exited_process_is_dead() -> None:
    code = "from harness.services.containers.session import owner_label; print(owner_label())"
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert not S.owner_alive(child.stdout.strip())


def test_reused_pid_with_another_start_time_is_dead() -> None:
    host, pid, start = S.owner_label().split(":")
    assert not S.owner_alive(f"{host}:{pid}:{int(start) + 1}")


def test_owner_on_another_host_is_left_alone() -> None:
    assert S.owner_alive("some-other-host:1:1")


class _Net:
    def __init__(self, subnet: str | None) -> None:
        self.attrs = {"IPAM": {"Config": [{"Subnet": subnet}] if subnet else []}}


class _Client:
    def __init__(self, *subnets: str | None) -> None:
        self.networks = self
        self._nets = [_Net(s) for s in subnets]

    def list(self) -> list[_Net]:
        return self._nets


def test_free_subnet_skips_the_ones_docker_uses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(S, "_host_routes", list)
    client = _Client("172.17.0.0/16", "172.30.0.0/24", "172.30.1.0/24", None)
    assert S.free_subnet(client) == ipaddress.ip_network("172.30.2.0/24")


def test_free_subnet_skips_host_routes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(S, "_host_routes", lambda: [ipaddress.ip_network("172.30.0.0/23")])
    assert S.free_subnet(_Client()) == ipaddress.ip_network("172.30.2.0/24")


def test_no_free_subnet_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(S, "_host_routes", lambda: [S.SUBNET_POOL])
    with pytest.raises(S.ContainerError) as err:
        S.free_subnet(_Client())
    assert "no free /24 left in 172.30.0.0/16" in str(err.value)
    assert "edge-harness services cleanup" in str(err.value)


def test_host_routes_parse_this_machine() -> None:
    routes = S._host_routes()
    assert all(isinstance(r, ipaddress.IPv4Network) for r in routes)


def test_resource_limits_clamp_a_jetson_budget_to_the_host() -> None:
    cpus, memory = host_budget()
    limits = resource_limits("jetson-agx-xavier")  # 8 cores, 32 GiB
    assert limits["nano_cpus"] == int(min(8, cpus) * 1e9)
    assert limits["mem_limit"] == min(32 * 2**30, memory)


def test_dns_labels_for_thing_names() -> None:
    assert _dns_label("jetson-1") == "jetson-1"
    assert _dns_label("lab:jetson_2") == "lab-jetson-2"
    assert len(_dns_label("x" * 100)) == 63


def test_missing_engine_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: os.PathLike[str]) -> None:
    from harness.services.containers.engine import ContainerError, docker_client

    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-such.sock")
    with pytest.raises(ContainerError) as err:
        docker_client(timeout=2)
    text = str(err.value)
    assert f"cannot reach the Docker engine at unix://{tmp_path}/no-such.sock" in text
    assert "start dockerd" in text and "--backend process" in text


def test_lte_profile_has_a_shaped_link_and_the_others_do_not() -> None:
    from fake_device.profiles import load_profile
    from harness.services.containers.device import shaped

    lte = load_profile("jetson-agx-xavier-lte")
    assert (lte.downlink_mbit, lte.uplink_mbit) == (20, 5)
    assert shaped("jetson-agx-xavier-lte") and not shaped("jetson-agx-xavier")


def test_a_bad_link_speed_is_a_profile_error(tmp_path: os.PathLike[str]) -> None:
    from pathlib import Path

    from fake_device.profiles import ProfileError, load_profile

    path = Path(tmp_path) / "slow.yaml"
    path.write_text(
        "name: slow\nplatform: {os: linux, architecture: amd64}\nresources: {cpus: 1, memory: 1GiB}\n"
        "network: {downlink_mbit: 0}\n"
    )
    with pytest.raises(ProfileError) as err:
        load_profile(path)
    assert "/network/downlink_mbit" in str(err.value)


def test_token_bucket_command_and_host_interfaces() -> None:
    from harness.services.containers.device import host_interface, tbf

    assert tbf("veth1", 20) == [
        "tc",
        "qdisc",
        "replace",
        "dev",
        "veth1",
        "root",
        "tbf",
        "rate",
        "20mbit",
        "burst",
        "64kbit",
        "latency",
        "400ms",
    ]
    assert host_interface(1) == "lo"
