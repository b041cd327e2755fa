"""pytest fixtures for the real services, registered through the ``pytest11`` entry point.

A project that installs edge-harness gets ``triton_server``, ``kafka_broker`` and
``aws_endpoint`` in its own tests. Each is session-scoped (starting tritonserver costs seconds),
is stopped at the end of the session, and is stopped on failure and Ctrl-C too: pytest runs
fixture finalisers in those cases, and the service's process group dies with the interpreter
(PR_SET_PDEATHSIG) even when pytest itself is killed.

Imports of the service modules are deferred so that merely installing the plugin costs nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from harness.services.aws import AwsEndpoint
    from harness.services.kafka import ExternalKafka, KafkaBroker
    from harness.services.triton import TritonServer


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("edge-harness", "edge-harness services")
    group.addoption(
        "--eh-models",
        metavar="DIR",
        default=None,
        help="Triton model repository for the triton_server fixture (default: built-in smoke model).",
    )
    group.addoption(
        "--eh-kafka-bootstrap",
        metavar="HOST:PORT",
        default=None,
        help="Use this external Kafka broker for the kafka_broker fixture instead of tansu.",
    )


@pytest.fixture(scope="session")
def triton_server(request: pytest.FixtureRequest) -> Iterator[TritonServer]:
    """A running tritonserver serving ``--eh-models`` (ONNX models emulated with ONNX Runtime)."""
    from harness.services.triton import TritonServer

    models = request.config.getoption("--eh-models")
    with TritonServer(model_repository=Path(models) if models else None) as server:
        yield server


@pytest.fixture(scope="session")
def kafka_broker(request: pytest.FixtureRequest) -> Iterator[KafkaBroker | ExternalKafka]:
    """A running Kafka-protocol broker: tansu on 127.0.0.1, or ``--eh-kafka-bootstrap``."""
    from harness.services.kafka import ExternalKafka, KafkaBroker

    bootstrap = request.config.getoption("--eh-kafka-bootstrap")
    broker: KafkaBroker | ExternalKafka = ExternalKafka(bootstrap) if bootstrap else KafkaBroker()
    with broker:
        yield broker


@pytest.fixture(scope="session")
def aws_endpoint() -> Iterator[AwsEndpoint]:
    """The AWS endpoint (moto + the harness's own services) with dummy credentials."""
    from harness.services.aws import AwsEndpoint

    with AwsEndpoint() as endpoint:
        yield endpoint


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Belt and braces: stop any service a test started outside a fixture or context manager."""
    from harness.services.base import stop_all_services

    stop_all_services()
