"""pytest fixtures and markers for users' suites, registered through the ``pytest11`` entry point.

A project that installs edge-harness gets, in its own tests (docs/pytest-plugin.md):

* the services — ``aws`` (``aws_endpoint``), ``kafka`` (``kafka_broker``), ``triton``
  (``triton_server``), ``iot_core`` (an MQTT broker standing in for IoT Core, with
  ``iot_core.subscribe(filter)``). Each is session-scoped (starting tritonserver costs seconds), is stopped
  at the end of the session, and is stopped on failure and Ctrl-C too: pytest runs fixture
  finalisers in those cases, and the service's process group dies with the interpreter
  (PR_SET_PDEATHSIG) even when pytest itself is killed;
* simulated core devices — ``core_device`` and the factory ``core_devices`` (function scope, so
  every test starts from a freshly booted device in its own thing group);
* ``scenario`` — runs a scenario file and returns its result, with the result's JUnit XML
  attached to the test's own JUnit entry;
* the marker ``edge_harness(requires=[...])``, which skips a test whose target features (Docker,
  a GPU, real AWS, …) this machine lacks, saying what is missing and how to get it.

Imports of the service modules are deferred so that merely installing the plugin costs nothing.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from harness.scenario.result import ScenarioResult
    from harness.services.aws import AwsEndpoint
    from harness.services.kafka import ExternalKafka, KafkaBroker
    from harness.services.mqtt import IotCoreBroker
    from harness.services.triton import TritonServer
    from harness.testing import CoreDeviceHandle

BACKENDS = ("process", "docker")
#: why core_device(s) skip under ``--eh-backend docker``
IN_PROCESS_ONLY = (
    "core_device runs the nucleus in this test's process (its .device is the live CoreDevice); "
    "with --eh-backend docker use the scenario fixture, whose devices are containers"
)
MARKER = "edge_harness"


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
    group.addoption(
        "--eh-aws-enforce",
        action="store_true",
        default=False,
        help="Start the aws_endpoint fixture in enforcing mode: SigV4, IAM and bucket policies on "
        "S3, devices limited to their own thing, control routes behind a token (docs/cloud.md).",
    )
    group.addoption(
        "--eh-backend",
        choices=BACKENDS,
        default="process",
        help="How the service fixtures and scenario run services and devices: local processes "
        "(default) or docker containers (images are built on first use).",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker, so ``--strict-markers`` suites accept it."""
    config.addinivalue_line(
        "markers",
        f"{MARKER}(requires=[...]): target features the test needs ({', '.join(sorted(FEATURES))}); "
        "the test is skipped, saying what is missing, where one is not available",
    )


def _backend(request: pytest.FixtureRequest) -> Any:
    """The session's :mod:`harness.scenario.backends` backend (one container network per session)."""
    return request.getfixturevalue("eh_backend")


@pytest.fixture(scope="session")
def eh_backend(request: pytest.FixtureRequest) -> Iterator[Any]:
    """How the service fixtures run services: ``--eh-backend`` process (default) or docker.

    With docker, every service fixture's container is on one network of this pytest session, and
    everything is removed at the end of the session (and by the next run, if this one is killed).
    """
    from harness.scenario.backends import make_backend

    name = request.config.getoption("--eh-backend")
    if name == "docker" and feature_missing("docker"):
        pytest.skip(f"--eh-backend docker: {feature_missing('docker')}")
    backend = make_backend(name)
    try:
        yield backend
    finally:
        backend.close()


@pytest.fixture(scope="session")
def triton_server(request: pytest.FixtureRequest) -> Iterator[TritonServer]:
    """A running tritonserver serving ``--eh-models`` (ONNX models emulated with ONNX Runtime)."""
    models = request.config.getoption("--eh-models")
    with _backend(request).triton(Path(models) if models else None) as server:
        yield server


@pytest.fixture(scope="session")
def kafka_broker(request: pytest.FixtureRequest) -> Iterator[KafkaBroker | ExternalKafka]:
    """A running Kafka-protocol broker: tansu (process or container), or ``--eh-kafka-bootstrap``."""
    from harness.services.kafka import ExternalKafka

    bootstrap = request.config.getoption("--eh-kafka-bootstrap")
    broker = ExternalKafka(bootstrap) if bootstrap else _backend(request).kafka()
    with broker:
        yield broker


@pytest.fixture(scope="session")
def aws_endpoint(request: pytest.FixtureRequest) -> Iterator[AwsEndpoint]:
    """The AWS endpoint (moto + the harness's own services) with dummy credentials, or, with
    ``--eh-aws-enforce``, checking credentials as AWS does (``endpoint.client`` signs as root)."""
    with _backend(request).aws(enforce=request.config.getoption("--eh-aws-enforce")) as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def iot_core() -> Iterator[IotCoreBroker]:
    """An MQTT broker standing in for IoT Core's data endpoint (amqtt on 127.0.0.1; a local process
    whatever ``--eh-backend``). ``core_device``/``core_devices`` of a test that also asks for this
    fixture connect to it, so their components' PublishToIoTCore/SubscribeToIoTCore reach it;
    ``iot_core.subscribe("topic/#")`` collects messages (``.wait_for(count, timeout)``) and
    ``iot_core.publish(topic, payload)`` sends one as the cloud side."""
    from harness.services.mqtt import IotCoreBroker

    with IotCoreBroker() as broker:
        yield broker


@pytest.fixture(scope="session")
def aws(aws_endpoint: AwsEndpoint) -> AwsEndpoint:
    """The AWS endpoint; the same object as ``aws_endpoint``."""
    return aws_endpoint


@pytest.fixture(scope="session")
def kafka(kafka_broker: KafkaBroker | ExternalKafka) -> KafkaBroker | ExternalKafka:
    """The Kafka broker; the same object as ``kafka_broker``."""
    return kafka_broker


@pytest.fixture(scope="session")
def triton(triton_server: TritonServer) -> TritonServer:
    """The Triton server; the same object as ``triton_server``."""
    return triton_server


# -- simulated core devices and scenarios ----------------------------------------------------------


def _require_process_backend(request: pytest.FixtureRequest) -> None:
    if request.config.getoption("--eh-backend") != "process":
        pytest.skip(IN_PROCESS_ONLY)


@pytest.fixture
def core_devices(request: pytest.FixtureRequest) -> Iterator[Callable[..., list[CoreDeviceHandle]]]:
    """A factory ``core_devices(count, *, profile="x86-64-host", group=None)`` → a list of running
    simulated core devices (see ``core_device``), each call in one thing group (a fresh one unless
    ``group`` names one). Every device is stopped, components too, when the test ends."""
    _require_process_backend(request)  # before the aws fixture starts anything
    aws: AwsEndpoint = request.getfixturevalue("aws")
    options: dict[str, Any] = {}
    if "iot_core" in request.fixturenames:
        options["iot_core_endpoint"] = request.getfixturevalue("iot_core").url
    from harness import testing
    from harness.scenario.fleet import FleetOperator

    fleet: list[FleetOperator] = []
    with contextlib.ExitStack() as stack:

        def start(
            count: int, *, profile: str = testing.DEFAULT_PROFILE, group: str | None = None
        ) -> list[CoreDeviceHandle]:
            if not fleet:  # one operator (one artifact bucket) for all devices of the test
                fleet.append(FleetOperator(aws.client))
            return stack.enter_context(
                testing.core_devices(aws, count, profile=profile, group=group, fleet=fleet[0], **options)
            )

        yield start


@pytest.fixture
def core_device(core_devices: Callable[..., list[CoreDeviceHandle]]) -> CoreDeviceHandle:
    """One simulated core device booted against ``aws`` in a fresh thing group, running in-process.

    It has ``.thing``, ``.group`` (and ``.group_arn``), ``.root``, ``.device`` (the CoreDevice),
    ``.logs(component)`` and ``.fleet`` (a FleetOperator on the endpoint) to publish components
    and deploy to the group; ``.wait_deployment`` / ``.wait_component`` wait for what the device
    reported. It is stopped, its components too, when the test ends, also when it failed.
    """
    return core_devices(1)[0]


@pytest.fixture
def scenario(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., ScenarioResult]]:
    """A factory ``scenario(path, *, work=None)`` → the ScenarioResult of running that scenario file.

    The run's work folder (device roots, artifacts) is a world-traversable temporary folder unless
    ``work`` is given, removed when the test ends. The result's JUnit XML is written next to the
    test's ``tmp_path`` (kept by pytest after the run), and its path and a one-line summary go into
    the test's ``user_properties``, which pytest's ``--junitxml`` report carries. The test decides
    what a failed scenario means: assert ``result.passed``. ``--eh-backend docker`` runs the
    scenario's services and devices as containers.
    """
    from harness.scenario.load import load_scenario
    from harness.scenario.reports import write_junit
    from harness.scenario.runner import ScenarioRunner
    from harness.testing import world_traversable_dir

    with contextlib.ExitStack() as stack:
        runs = 0

        def run(
            path: str | os.PathLike[str], *, work: str | os.PathLike[str] | None = None
        ) -> ScenarioResult:
            nonlocal runs
            runs += 1
            loaded = load_scenario(path)
            folder = (
                Path(work)
                if work is not None
                else stack.enter_context(world_traversable_dir("edge-harness-scenario-"))
            )
            result = ScenarioRunner(loaded, folder, backend=request.config.getoption("--eh-backend")).run()
            slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", result.scenario) or "scenario"
            junit = write_junit(result, tmp_path / f"{slug}-{runs}.junit.xml")
            request.node.user_properties.append(("edge_harness.scenario.junit", str(junit)))
            request.node.user_properties.append(("edge_harness.scenario.summary", _summary(result)))
            return result

        yield run


def _summary(result: ScenarioResult) -> str:
    counts = ", ".join(f"{n} {status}" for status, n in result.step_counts().items() if n)
    verdict = "passed" if result.passed else "FAILED"
    return f"{result.scenario}: {verdict} ({counts or 'no steps'}) in {result.duration_s:g} s"


# -- the edge_harness marker ---------------------------------------------------------------------------


def _run_quietly(command: list[str], timeout: float = 20.0) -> str | None:
    """None if ``command`` exits 0, else why not (one line)."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError:
        return f"{command[0]} is not on PATH"
    except (OSError, subprocess.SubprocessError) as err:
        return f"{' '.join(command)} failed: {err}"
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()
        return f"{' '.join(command)} exited with {done.returncode}" + (f": {tail[-1]}" if tail else "")
    return None


def _docker_missing() -> str | None:
    try:
        import docker  # type: ignore[import-untyped]
    except ImportError:
        docker = None
    if docker is not None:
        try:
            docker.from_env(timeout=10).ping()
            return None
        except Exception as err:  # the SDK raises several kinds; any of them means "no engine"
            why = f"the Docker engine did not answer ({type(err).__name__})"
    else:
        why = _run_quietly(["docker", "info"])
        if why is None:
            return None
    return f"docker: {why} — install Docker and start the engine (or set DOCKER_HOST)"


def _gpu_missing() -> str | None:
    why = _run_quietly(["nvidia-smi"])
    return None if why is None else f"gpu: {why} — needs an NVIDIA GPU with its driver (nvidia-smi)"


def _real_aws_missing() -> str | None:
    target = os.environ.get("EDGE_HARNESS_TARGET", "")
    if target != "aws":
        shown = repr(target) if target else "not set"
        return f"real-aws: EDGE_HARNESS_TARGET is {shown} — set EDGE_HARNESS_TARGET=aws and AWS credentials"
    import boto3

    if boto3.Session().get_credentials() is None:
        return (
            "real-aws: boto3 finds no AWS credentials — configure them "
            "(aws configure, AWS_PROFILE or AWS_ACCESS_KEY_ID)"
        )
    return None


def _ffmpeg_missing() -> str | None:
    from harness.ffmpeg import INSTALL_HINT, find_ffmpeg

    if find_ffmpeg():
        return None
    return f"ffmpeg: no ffmpeg binary — {INSTALL_HINT}"


def _chromium_missing() -> str | None:
    if any(shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome")):
        return None
    return "chromium: no chromium binary on PATH — install it (apt-get install chromium)"


#: feature name → a check returning None when the feature is there, else what is missing and how to get it
FEATURES: dict[str, Callable[[], str | None]] = {
    "docker": _docker_missing,
    "gpu": _gpu_missing,
    "real-aws": _real_aws_missing,
    "ffmpeg": _ffmpeg_missing,
    "chromium": _chromium_missing,
}


@functools.cache
def feature_missing(name: str) -> str | None:
    """Why feature ``name`` is not available here (None if it is); probed once per process, since
    ``docker info`` or ``nvidia-smi`` cost up to seconds and do not change during a run."""
    return FEATURES[name]()


def _required(item: pytest.Item) -> list[str]:
    """The features the item's ``edge_harness`` markers require; UsageError on a malformed one."""
    needed: list[str] = []
    for mark in item.iter_markers(MARKER):
        unknown_keys = set(mark.kwargs) - {"requires"}
        if mark.args or unknown_keys:
            raise pytest.UsageError(
                f"{item.nodeid}: use @pytest.mark.{MARKER}(requires=[...]), "
                f"not args {mark.args!r} / keywords {sorted(unknown_keys)}"
            )
        requires = mark.kwargs.get("requires", [])
        names = [requires] if isinstance(requires, str) else list(requires)
        for name in names:
            if name not in FEATURES:
                raise pytest.UsageError(
                    f"{item.nodeid}: unknown feature {name!r} in @pytest.mark.{MARKER}(requires=...); "
                    f"known features: {', '.join(sorted(FEATURES))}"
                )
            if name not in needed:
                needed.append(name)
    return needed


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Check every marker at collection, so a typo fails the run at once rather than being skipped."""
    for item in items:
        _required(item)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip before any fixture starts a service, naming every missing feature at once."""
    missing = [why for name in _required(item) if (why := feature_missing(name))]
    if missing:
        pytest.skip("; ".join(missing))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Belt and braces: stop any service a test started outside a fixture or context manager."""
    from harness.services.base import stop_all_services

    stop_all_services()
