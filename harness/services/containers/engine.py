"""Reaching the Docker engine, with errors that say how to get one."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from harness.errors import EXIT_SERVICE, HarnessError

if TYPE_CHECKING:
    import docker

# testcontainers reads its configuration when it is first imported: its Ryuk reaper image cannot be
# pulled on hosts without a registry, and the harness removes what it starts by its own labels.
os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")


class ContainerError(HarnessError):
    """The Docker engine is missing, refused a request, or a container failed."""

    exit_code = EXIT_SERVICE


def docker_client(timeout: float = 30.0) -> docker.DockerClient:
    """A docker SDK client that has answered a ping, or :class:`ContainerError` with the fix."""
    from harness.images.engine import connect
    from harness.images.errors import ImageError

    try:
        return connect(timeout=int(timeout))
    except ImageError as err:
        raise ContainerError(
            err.message, hint=f"{err.hint}; the process backend (--backend process) needs no Docker"
        ) from err


def disable_ryuk() -> None:
    """Make sure testcontainers never tries to start (and pull) its Ryuk reaper."""
    from testcontainers.core.config import testcontainers_config

    testcontainers_config.ryuk_disabled = True
