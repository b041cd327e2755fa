"""Fault injection on the real services and a real simulated device (process backend).

Each test starts its own broker, endpoint or device (not the plugin's shared fixtures, which other
tests use) and asserts through the clients the scenarios use: confluent-kafka against tansu, boto3
and plain HTTP against the AWS endpoint, psutil for the device's processes. Bounded timeouts
everywhere: a paused service must make a client give up within seconds, not hang the test.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ReadTimeoutError
from confluent_kafka import KafkaException

from harness.services.aws import AwsEndpoint, clear_outages, list_outages, request_outage
from harness.services.base import LOOPBACK, ServiceError
from harness.services.kafka import KafkaBroker

pytestmark = pytest.mark.integration


@pytest.fixture
def broker() -> Iterator[KafkaBroker]:
    with KafkaBroker() as kafka:
        yield kafka


@pytest.fixture
def endpoint() -> Iterator[AwsEndpoint]:
    with AwsEndpoint() as aws:
        yield aws


def _answers(kafka: KafkaBroker, timeout: float = 2.0) -> bool:
    try:
        return kafka.admin().list_topics(timeout=timeout).cluster_id == kafka.cluster_id
    except KafkaException:
        return False


def _stopped(pid: int, expected: bool = True) -> bool:
    """Whether ``pid`` is stopped (SIGSTOP), waiting up to 3 s for it to be ``expected``: a signal
    takes effect when the process is next scheduled, not when kill() returns."""
    deadline = time.monotonic() + 3.0
    while True:
        stopped = psutil.Process(pid).status() == psutil.STATUS_STOPPED
        if stopped == expected or time.monotonic() > deadline:
            return stopped
        time.sleep(0.02)


# --- Kafka (tansu) --------------------------------------------------------------------------------


def test_a_paused_broker_does_not_answer_and_keeps_what_was_sent_meanwhile(broker: KafkaBroker) -> None:
    topic = f"pause-{uuid.uuid4().hex[:8]}"
    broker.create_topic(topic)
    producer = broker.producer()
    assert broker.process is not None
    broker.pause()
    try:
        assert broker.paused and _stopped(broker.process.pid)
        started = time.monotonic()
        assert not _answers(broker, timeout=2.0)  # a metadata request times out …
        assert time.monotonic() - started < 6  # … within the client's own bound
        producer.produce(topic, value=b'{"id": "1"}')
        assert producer.flush(1.0) == 1  # queued in the producer, not delivered
    finally:
        broker.resume()
    assert not broker.paused and not _stopped(broker.process.pid, expected=False)
    assert _answers(broker)
    assert producer.flush(15) == 0  # delivered once the broker answers again
    records = broker.read_messages(topic, max_messages=2, timeout=10)
    assert [r.value for r in records] == [b'{"id": "1"}']  # once, not lost, not twice


def test_a_killed_broker_restarts_on_the_same_port(broker: KafkaBroker) -> None:
    bootstrap, pid = broker.bootstrap_servers, broker.process.pid if broker.process else 0
    broker.kill()
    assert not broker.running and not psutil.pid_exists(pid)
    assert not _answers(broker, timeout=1.0)
    broker.restart()
    assert broker.running and broker.bootstrap_servers == bootstrap
    assert _answers(broker)
    topic = f"restart-{uuid.uuid4().hex[:8]}"
    broker.create_topic(topic)  # tansu keeps topics in memory: it came back empty
    producer = broker.producer()
    producer.produce(topic, value=b"after")
    assert producer.flush(10) == 0
    assert [r.value for r in broker.read_messages(topic, max_messages=1, timeout=10)] == [b"after"]


def test_halt_then_restart_and_stop_after_pause_are_quick(broker: KafkaBroker) -> None:
    bootstrap = broker.bootstrap_servers
    broker.halt()
    assert not broker.running and broker.process is None
    broker.restart()
    assert broker.bootstrap_servers == bootstrap and _answers(broker)
    broker.pause()
    started = time.monotonic()
    broker.stop()  # SIGCONT first: a frozen tansu would sit on its SIGINT until the timeout
    assert time.monotonic() - started < 3
    assert broker.process is None and not broker.running


def test_faults_on_a_service_that_is_not_running_say_so(broker: KafkaBroker) -> None:
    broker.kill()
    with pytest.raises(ServiceError) as paused:
        broker.pause()
    assert paused.value.message == "kafka: cannot pause: it is not running"
    assert paused.value.hint == "start() it first (after a kill or stop, restart() brings it back)"
    with pytest.raises(ServiceError) as fresh:
        KafkaBroker().restart()
    assert fresh.value.message == "kafka: restart needs an earlier start() (it reuses that start's ports)"


# --- the AWS endpoint -----------------------------------------------------------------------------


def test_a_paused_endpoint_times_out_and_answers_with_its_state_after_resume(endpoint: AwsEndpoint) -> None:
    s3 = endpoint.client(
        "s3",
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            read_timeout=2,
            connect_timeout=2,
            retries={"total_max_attempts": 1},
        ),
    )
    s3.create_bucket(Bucket="kept-while-paused")
    endpoint.pause()
    try:
        started = time.monotonic()
        assert endpoint.health(timeout=1.0) is None
        with pytest.raises(ReadTimeoutError):
            s3.list_buckets()
        assert time.monotonic() - started < 8
    finally:
        endpoint.resume()
    assert endpoint.health() is not None
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["kept-while-paused"]


def test_a_killed_endpoint_restarts_on_the_same_url_and_empty(endpoint: AwsEndpoint) -> None:
    url = endpoint.url
    endpoint.client("s3").create_bucket(Bucket="gone-after-kill")
    endpoint.kill()
    assert endpoint.health(timeout=0.5) is None and not endpoint.running
    endpoint.restart()
    assert endpoint.url == url and endpoint.health() is not None
    # moto keeps everything in memory: why scenarios refuse stop_service/kill_service of aws
    assert endpoint.client("s3").list_buckets()["Buckets"] == []


def test_restart_refuses_to_move_when_another_process_took_the_port(endpoint: AwsEndpoint) -> None:
    port = endpoint.port
    assert port is not None
    endpoint.kill()
    squatter = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        squatter.bind((LOOPBACK, port))
        squatter.listen()
        with pytest.raises(ServiceError) as taken:
            endpoint.restart()
        assert taken.value.message == (
            f"aws: cannot restart on the same port(s) {LOOPBACK}:{port}: another process took them while "
            "the service was down"
        )
        assert f"ss -ltnp 'sport = :{port}'" in (taken.value.hint or "")
    finally:
        squatter.close()
    endpoint.restart()
    assert endpoint.port == port and endpoint.health() is not None


def _s3(endpoint: AwsEndpoint):  # type: ignore[no-untyped-def]
    return endpoint.client(
        "s3",
        config=Config(
            signature_version="s3v4", s3={"addressing_style": "path"}, retries={"total_max_attempts": 1}
        ),
    )


def test_an_s3_outage_fails_s3_only_until_cleared(endpoint: AwsEndpoint) -> None:
    s3 = _s3(endpoint)
    s3.create_bucket(Bucket="artifacts")
    s3.put_object(Bucket="artifacts", Key="package.zip", Body=b"zip")
    presigned = s3.generate_presigned_url("get_object", Params={"Bucket": "artifacts", "Key": "package.zip"})
    answer = endpoint.outage("s3", 60)
    assert (answer["service"], answer["status"], answer["seconds"]) == ("s3", 503, 60.0)
    with pytest.raises(ClientError) as failed:
        s3.get_object(Bucket="artifacts", Key="package.zip")
    error = failed.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert error["Error"]["Code"] == "ServiceUnavailable"
    assert error["Error"]["Message"].startswith("Service is unable to handle request.")
    # a presigned URL (what an artifact download uses) carries the signing name in its query
    with pytest.raises(urllib.error.HTTPError) as presigned_failed:
        urllib.request.urlopen(presigned, timeout=5)
    assert presigned_failed.value.code == 503
    body = presigned_failed.value.read().decode()
    assert "<Code>ServiceUnavailable</Code>" in body and "<Resource>/artifacts/package.zip</Resource>" in body
    # other services keep answering
    assert endpoint.client("iot").list_things()["things"] == []
    assert [o["service"] for o in list_outages(endpoint.url)] == ["s3"]
    assert endpoint.clear_outages() == ["s3"]
    assert s3.get_object(Bucket="artifacts", Key="package.zip")["Body"].read() == b"zip"
    with urllib.request.urlopen(presigned, timeout=5) as resp:
        assert resp.read() == b"zip"


def test_an_s3_outage_ends_by_itself_and_takes_other_statuses(endpoint: AwsEndpoint) -> None:
    s3 = _s3(endpoint)
    s3.create_bucket(Bucket="expiring")
    request_outage(endpoint.url, "s3", 1.5, status=500)
    with pytest.raises(ClientError) as failed:
        s3.list_objects_v2(Bucket="expiring")
    assert failed.value.response["Error"]["Code"] == "InternalError"
    assert failed.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    time.sleep(1.8)
    assert s3.list_objects_v2(Bucket="expiring")["KeyCount"] == 0
    assert list_outages(endpoint.url) == [] and clear_outages(endpoint.url) == []


def test_a_bad_outage_request_is_a_clear_error(endpoint: AwsEndpoint) -> None:
    with pytest.raises(ServiceError) as bad:
        request_outage(endpoint.url, "s3", 5, status=200)
    assert bad.value.message == (
        f"aws: POST {endpoint.url}/_edge_harness/faults answered HTTP 400: POST /_edge_harness/faults: "
        "status must be an HTTP error status 400..599, not 200"
    )
    with pytest.raises(ServiceError, match=r"seconds must be a number in \(0, 3600\], not 0"):
        request_outage(endpoint.url, "s3", 0)
    with pytest.raises(ServiceError, match="service must be a SigV4 signing name such as 's3', not 'S 3'"):
        request_outage(endpoint.url, "S 3", 5)


# --- a simulated device ---------------------------------------------------------------------------


@pytest.fixture
def device_root() -> Iterator[Path]:
    from harness.testing import world_traversable_dir

    with world_traversable_dir("edge-harness-pause-") as folder:
        yield folder


def test_pausing_a_device_freezes_the_nucleus_and_its_recorded_components(
    endpoint: AwsEndpoint, device_root: Path
) -> None:
    from harness.scenario.devices import SimulatedDevice

    device = SimulatedDevice(
        thing=f"pause-{uuid.uuid4().hex[:6]}",
        group=f"pause-group-{uuid.uuid4().hex[:6]}",
        profile="x86-64-host",
        root=device_root / "device",
        environment=endpoint.environment(),
    )
    component = None
    try:
        device.start()
        device.wait_booted()
        # a stand-in for a component's script: its own process group, recorded as the nucleus does
        component = subprocess.Popen(["sleep", "60"], start_new_session=True)
        (device.root / "run" / "processes.json").write_text(json.dumps({str(component.pid): ""}))
        assert device.process is not None
        device.pause()
        assert device.paused and _stopped(device.process.pid) and _stopped(component.pid)
        device.resume()
        assert not _stopped(device.process.pid, expected=False)
        assert not _stopped(component.pid, expected=False)
        device.pause()
        started = time.monotonic()
        device.stop()  # resumes first, then the nucleus stops in its own time
        assert time.monotonic() - started < 15
        assert device.process.poll() is not None
    finally:
        device.stop()
        if component is not None:
            component.kill()
            component.wait(5)
    assert not any(
        str(device.root) in " ".join(p.info["cmdline"] or []) for p in psutil.process_iter(["cmdline"])
    )
    assert os.path.exists(device.root / "logs" / "greengrass.log")


# --- a scenario's Triton server -------------------------------------------------------------------

TRITON_SCENARIO = """\
name: triton-service
services:
  topics: [quickstart-events]
  triton: {models: @MODELS@}
devices:
  - name: gateway
    thing_group: lab
variables:
  grpc: "${triton.grpc}"
steps:
  - kind: inject
    name: kill Triton for a second
    fault: kill_service
    service: triton
    duration_s: 1
  - kind: inject
    name: stop Triton for a second
    fault: stop_triton
    duration_s: 1
"""


def _triton_ready(http: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://{http}/v2/health/ready", timeout=5) as resp:
            return resp.status == 200
    except OSError:
        return False


def test_a_scenarios_triton_comes_back_on_the_same_ports_after_kill_and_stop(device_root: Path) -> None:
    from harness.scenario.load import load_scenario
    from harness.scenario.result import StepResult
    from harness.scenario.runner import ScenarioRunner

    models = Path(__file__).resolve().parents[2] / "models_repo" / "B"
    path = device_root / "triton.yaml"
    path.write_text(TRITON_SCENARIO.replace("@MODELS@", str(models)))
    ready_after: dict[str, bool] = {}

    def progress(_text: str, step: StepResult | None) -> None:
        if step is not None and step.kind == "inject" and "endpoints" in step.details:
            # while the run goes on: the restarted server answers where it was
            ready_after[step.name] = _triton_ready(step.details["endpoints"]["http"])

    result = ScenarioRunner(load_scenario(path), device_root / "work", progress=progress).run()
    assert result.passed, [(s.name, s.status, s.message) for s in result.steps]
    killed, stopped = (s.details for s in result.steps)
    assert killed["endpoints"] == stopped["endpoints"]  # the ports of the first start, both times
    assert set(killed["endpoints"]) == {"http", "grpc", "metrics"}
    assert [e["action"] for e in killed["events"]] == ["killed triton", "restarted triton"]
    assert [e["action"] for e in stopped["events"]] == ["stopped triton", "restarted triton"]
    assert ready_after == {"kill Triton for a second": True, "stop Triton for a second": True}
    assert result.properties["backend"] == "process"
    from harness.services.ports import port_open

    for endpoint in killed["endpoints"].values():  # the server is gone with the run
        host, port = endpoint.rsplit(":", 1)
        assert not port_open(host, int(port)), endpoint
    assert not any(
        str(device_root) in " ".join(p.info["cmdline"] or []) for p in psutil.process_iter(["cmdline"])
    )
