"""The pytest plugin's service fixtures under ``--eh-backend docker``: containers on one network
per pytest session, used through the same clients, and removed when the session ends."""

from __future__ import annotations

import re

import pytest

from harness.services.containers.session import LABEL_SESSION

pytestmark = pytest.mark.containers

pytest_plugins = ["pytester"]


def test_service_fixtures_run_as_containers(pytester: pytest.Pytester, images: dict[str, str]) -> None:
    pytester.makepyfile(
        """
        def test_services(aws, kafka, eh_backend):
            print("SESSION", eh_backend.session.id)
            assert kafka.bootstrap_servers.startswith("172.30.")
            kafka.create_topic("fixture-topic")
            assert "fixture-topic" in kafka.admin().list_topics(timeout=10).topics
            assert aws.url.startswith("http://127.0.0.1:")
            assert aws.client("greengrassv2").list_components()["components"] == []
            container = aws.container.get_wrapped_container()
            assert container.labels["edge-harness.session"] == eh_backend.session.id
        """
    )
    result = pytester.runpytest_subprocess(
        "-s", "-p", "no:cacheprovider", "--eh-backend", "docker", timeout=300
    )
    result.assert_outcomes(passed=1)
    session = re.search(r"SESSION ([0-9a-f]{12})", result.stdout.str())
    assert session, result.stdout.str()[-2000:]
    import docker

    client = docker.from_env()
    selector = {"label": f"{LABEL_SESSION}={session.group(1)}"}
    assert client.containers.list(all=True, filters=selector) == []
    assert client.networks.list(filters=selector) == []
