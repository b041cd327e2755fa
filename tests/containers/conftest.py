"""Shared set-up of the docker backend tests: an engine, the images, one session network."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.pytest_plugin import feature_missing


def _require_docker() -> None:
    missing = feature_missing("docker")
    if missing:
        pytest.skip(missing)


@pytest.fixture(scope="session")
def images() -> dict[str, str]:
    """Every image of the backend, built offline on first use (cached on the machine)."""
    _require_docker()
    from harness.images import ensure_images

    return ensure_images(["kafka", "aws", "triton", "device"])


@pytest.fixture(scope="module")
def session(images: dict[str, str]) -> Iterator[object]:
    """One container session (network) per test module, removed with everything in it."""
    from harness.services.containers import ContainerSession

    with ContainerSession() as container_session:
        yield container_session
