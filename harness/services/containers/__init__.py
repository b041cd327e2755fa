"""The docker backend: the same services (Triton, Kafka, the AWS endpoint) and simulated core
devices, each in a container on a network of its own.

Containers are created with testcontainers-python; its Ryuk reaper image cannot be pulled on hosts
without a registry, so the harness labels everything it creates with its session and removes it
itself, including what a crashed earlier run left behind (:mod:`.session`). The images come from
:mod:`harness.images` (built offline). See docs/containers.md.
"""

from harness.services.containers.engine import ContainerError, docker_client
from harness.services.containers.session import ContainerSession, reap_leftovers

__all__ = ["ContainerError", "ContainerSession", "docker_client", "reap_leftovers"]
