"""The services as containers: the same clients, probes and checks as the process backend, on a
session network, with faults done to the containers, and nothing left behind."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.services.base import ServiceError
from harness.services.containers.services import (
    AwsContainer,
    IotCoreContainer,
    KafkaContainer,
    TritonContainer,
)
from harness.services.containers.session import LABEL_SESSION, ContainerSession, reap_leftovers
from harness.services.mqtt import IOT_CORE_ENV, IotCoreClient
from harness.services.ports import port_open

pytestmark = pytest.mark.containers

ROOT = Path(__file__).resolve().parents[2]


def _labelled(session_id: str) -> tuple[list[object], list[object]]:
    import docker

    client = docker.from_env()
    selector = {"label": f"{LABEL_SESSION}={session_id}"}
    return client.containers.list(all=True, filters=selector), client.networks.list(filters=selector)


def test_kafka_container_serves_host_and_network_and_survives_a_pause(session: ContainerSession) -> None:
    with KafkaContainer(session=session) as kafka:
        host, port = kafka.bootstrap_servers.rsplit(":", 1)
        assert host == session.address("kafka") and port == "9092"
        assert kafka.endpoints["published"].startswith("127.0.0.1:")
        assert port_open("127.0.0.1", int(kafka.endpoints["published"].split(":")[1]))
        assert "100 messages produced (idempotent, acks=all) and read back" in kafka.check()
        container = kafka.container.get_wrapped_container()
        assert container.labels[LABEL_SESSION] == session.id
        kafka.create_topic("paused-topic")

        kafka.pause()
        try:
            from confluent_kafka import KafkaException

            with pytest.raises(KafkaException):
                kafka.admin().list_topics(timeout=2)
        finally:
            kafka.resume()
        assert "paused-topic" in kafka.admin().list_topics(timeout=10).topics
        container_id = container.id
    remaining, _ = _labelled(session.id)
    assert container_id not in [c.id for c in remaining]


def test_iot_core_container_serves_devices_on_the_network_and_the_harness_on_loopback(
    session: ContainerSession,
) -> None:
    """Devices get the broker's session address; the harness subscribes through 127.0.0.1 and sees
    what a client at that session address publishes (what a device's nucleus does)."""
    with IotCoreContainer(session=session) as broker:
        address = session.address("iot_core")
        assert broker.network_environment() == {IOT_CORE_ENV: f"mqtt://{address}:1883"}
        assert broker.environment() == {IOT_CORE_ENV: f"mqtt://127.0.0.1:{broker.port}"}
        assert "subscribe + QoS 1 publish read back" in broker.check()
        subscription = broker.subscribe("fleet/+/telemetry")
        with IotCoreClient(broker.network_url(), client_id="gateway-1") as device_side:
            device_side.publish("fleet/gateway-1/telemetry", b'{"n": 1}')
        received = subscription.wait_for(1, timeout=10)
        assert [(m.topic, m.payload) for m in received] == [("fleet/gateway-1/telemetry", b'{"n": 1}')]
        container = broker.container.get_wrapped_container()
        assert container.labels[LABEL_SESSION] == session.id
        assert container.image.labels["edge-harness.image"] == "runtime"
        container_id = container.id
    remaining, _ = _labelled(session.id)
    assert container_id not in [c.id for c in remaining]


def test_the_device_image_gives_components_awsiotsdk(images: dict[str, str]) -> None:
    """Components written with the AWS IoT Device SDK v2 import it on a simulated device, as on a
    Jetson where the app installed it (the process backend's components use the harness's venv)."""
    import docker

    output = docker.from_env().containers.run(
        images["device"],
        ["-c", "import awsiot.greengrasscoreipc.clientv2, awsiot; print(awsiot.__name__, 'ok')"],
        entrypoint=["python3"],
        network_disabled=True,
        remove=True,
    )
    assert output.decode().strip() == "awsiot ok"


def test_aws_container_answers_boto3_and_comes_back_after_a_kill(session: ContainerSession) -> None:
    with AwsContainer(session=session) as aws:
        assert aws.url.startswith("http://127.0.0.1:")
        assert aws.network_environment()["AWS_ENDPOINT_URL"] == f"http://{session.address('aws')}:5000"
        assert "s3 bucket/put/get/presigned GET" in aws.check()
        gg = aws.client("greengrassv2")
        assert gg.list_components()["components"] == []

        aws.kill()
        assert aws.health(timeout=1) is None
        aws.restart()
        assert aws.health(timeout=5) is not None  # same host port as before the kill
        assert aws.client("s3").list_buckets()["Buckets"] is not None


def test_triton_container_serves_the_staged_repository_and_restarts(session: ContainerSession) -> None:
    with TritonContainer(session=session) as triton:
        assert "inference matches ONNX Runtime" in triton.check()
        grpc_before = triton.grpc_url
        assert triton.network_endpoints()["grpc"] == f"{session.address('triton')}:8001"
        triton.kill()
        assert not triton.probe_ready()
        triton.restart()
        assert triton.grpc_url == grpc_before
        assert triton.probe_ready()
        triton.check()
        log = triton.log_path.read_text()
        assert "restarting the container" in log


def test_a_bad_command_fails_start_with_the_container_log(session: ContainerSession) -> None:
    class Broken(KafkaContainer):
        def container_command(self) -> list[str]:
            return ["--no-such-option"]

    broken = Broken(session=session, startup_timeout=30)
    with pytest.raises(ServiceError) as err:
        broken.start()
    text = str(err.value)
    assert "kafka container exited with code" in text and "--no-such-option" in text
    remaining, _ = _labelled(session.id)
    assert not [c for c in remaining if c.name.endswith("-kafka")]


def _killed_session(env: dict[str, str] | None = None) -> str:
    """A child process starts a session with a Kafka container and is SIGKILLed (no atexit, no
    finally: what a crash or a cancelled CI job leaves); returns its session id."""
    script = (
        "from harness.services.containers import ContainerSession\n"
        "from harness.services.containers.services import KafkaContainer\n"
        "s = ContainerSession(); KafkaContainer(session=s).start()\n"
        "print(s.id, flush=True)\n"
        "import time; time.sleep(120)\n"
    )
    environment = {**os.environ, **(env or {})}
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=ROOT, env=environment
    )
    try:
        assert proc.stdout is not None
        session_id = proc.stdout.readline().strip()
        assert session_id, "the child did not start its session"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        return session_id
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_killed_run_s_containers_die_with_it(images: dict[str, str]) -> None:
    """The harness's keeper removes the session as soon as the run is gone, not at the next run."""
    session_id = _killed_session()
    deadline = time.monotonic() + 60
    while _labelled(session_id) != ([], []) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _labelled(session_id) == ([], [])


def test_leftovers_of_a_killed_run_are_reaped(images: dict[str, str]) -> None:
    """Without a keeper (killed with the run, a power cut) the next session reaps what is left."""
    session_id = _killed_session({"EDGE_HARNESS_KEEPER": "0"})
    containers, networks = _labelled(session_id)
    assert len(containers) == 1 and len(networks) == 1
    removed = reap_leftovers()
    assert any(session_id in item for item in removed)
    assert _labelled(session_id) == ([], [])


def test_services_up_docker_check_exits_clean(images: dict[str, str]) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "harness.cli", "services", "up", "--backend", "docker", "--check"],
        capture_output=True, text=True, timeout=600, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    for name in ("aws", "kafka", "triton", "iot_core"):
        assert f"✓ {name} check:" in proc.stderr
    assert "export KAFKA_BOOTSTRAP_SERVERS=172.30." in proc.stdout
    assert "export EDGE_HARNESS_IOT_CORE_MQTT=mqtt://127.0.0.1:" in proc.stdout
    match = re.search(r"docker network edge-harness-([0-9a-f]{12})", proc.stderr)
    assert match, proc.stderr[-2000:]
    assert _labelled(match.group(1)) == ([], [])


def test_a_named_image_runs_and_auto_falls_back_to_the_built_one(
    session: ContainerSession, images: dict[str, str]
) -> None:
    """services.images.kafka names a team's copy of the harness's broker image: it runs, the way
    its label says. With no image named and no registry answering, auto builds (here: finds) the
    harness's own. A harness image of another service is refused for the AWS endpoint."""
    from harness.images.choice import UPSTREAM_IMAGES, choose_image, registry_answers
    from harness.images.errors import ImageError

    client = session.client
    client.images.get(images["kafka"]).tag("edge-harness-test/team-kafka", tag="1")
    try:
        with KafkaContainer(session=session, image="edge-harness-test/team-kafka:1") as kafka:
            assert kafka.flavour == "edge-harness"
            assert "edge-harness-test/team-kafka:1" in kafka.container.get_wrapped_container().image.tags
            assert "100 messages produced (idempotent, acks=all) and read back" in kafka.check()
        upstream = UPSTREAM_IMAGES["kafka"]
        if registry_answers(client, upstream) is not None and not client.images.list(name=upstream):
            said: list[str] = []
            choice = choose_image("kafka", client=client, progress=said.append)
            assert (choice.ref, choice.flavour) == (images["kafka"], "edge-harness")
            assert said and said[0].startswith(f"kafka: no registry serves {upstream} (")
        with pytest.raises(ImageError) as error:
            AwsContainer(session=session, image="edge-harness-test/team-kafka:1").start()
        assert "cannot run the aws service: it is the harness's 'kafka' image" in error.value.message
    finally:
        client.images.remove("edge-harness-test/team-kafka:1")
