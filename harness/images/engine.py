"""The Docker engine, reached through the docker SDK, with its failures turned into ImageErrors."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.images.errors import ImageError

if TYPE_CHECKING:
    import docker

DEFAULT_HOST = "unix:///var/run/docker.sock"
#: socket timeout of API calls: a build step can be silent for minutes (pip, apt)
API_TIMEOUT = 1800
ENGINE_HINT = "start dockerd (apt-get install docker.io; dockerd &) or set DOCKER_HOST"


def engine_host() -> str:
    return os.environ.get("DOCKER_HOST") or DEFAULT_HOST


def _reason(err: BaseException) -> str:
    """The root cause of a connection failure, in a few words instead of urllib3's chain."""
    text = str(err)
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        text += " " + repr(current)
        current = current.__cause__ or current.__context__
    lowered = text.lower()
    if "filenotfounderror" in lowered or "no such file" in lowered:
        return "no such socket"
    if "connection refused" in lowered or "connectionrefused" in lowered:
        return "connection refused"
    if "permission denied" in lowered or "permissionerror" in lowered:
        return "permission denied (run as root or join the docker group)"
    return str(err).splitlines()[0] if str(err) else type(err).__name__


def connect(timeout: int = API_TIMEOUT) -> docker.DockerClient:
    """A client for the engine at ``$DOCKER_HOST`` (default the local socket) that answered a ping."""
    try:
        import docker
        from docker.errors import DockerException
    except ImportError as err:  # docker-py comes with testcontainers, a dependency
        raise ImageError("the docker SDK for Python is not installed", hint="pip install docker") from err
    host = engine_host()
    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
    except (DockerException, OSError) as err:
        reason = _reason(err)
        raise ImageError(f"cannot reach the Docker engine at {host}: {reason}", hint=ENGINE_HINT) from err
    return client


def inspect_image(client: docker.DockerClient, ref: str) -> dict[str, Any] | None:
    """``docker image inspect ref`` as a dict, or None when the engine has no such image."""
    from docker.errors import ImageNotFound, NotFound

    try:
        return client.api.inspect_image(ref)
    except (ImageNotFound, NotFound):
        return None


def docker_root(client: docker.DockerClient) -> Path | None:
    """The engine's data directory (for disk-space reports); None if it cannot tell."""
    try:
        root = client.info().get("DockerRootDir")
    except Exception:
        return None
    return Path(root) if root else None
