"""The docker backend's images, built offline, each answering its real client from the host.

The first run builds every image (a few minutes: debootstrap, pip, apt for ffmpeg); later runs
find them in the engine and only start containers. Every container is labelled
``edge-harness.test=1``, publishes on 127.0.0.1 only, and is removed even when a check fails.
"""

from __future__ import annotations

import contextlib
import json
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.images import IMAGE_NAMES, ImageError, ensure_images

pytestmark = [pytest.mark.containers, pytest.mark.timeout(1800)]

TEST_LABEL = {"edge-harness.test": "1"}
READY_TIMEOUT = 60.0


@pytest.fixture(scope="module")
def docker_client() -> Any:
    from harness.images.engine import connect

    try:
        return connect(timeout=120)
    except ImageError as err:
        pytest.skip(f"no Docker engine answers: {err.message}")


@pytest.fixture(scope="module")
def built(docker_client: Any) -> dict[str, str]:
    """Every image, built on first use and found in the engine afterwards."""
    return ensure_images(IMAGE_NAMES)


@contextlib.contextmanager
def running(client: Any, image: str, **options: Any) -> Iterator[Any]:
    """A detached container, removed (with its anonymous volumes) however the block ends."""
    container = client.containers.run(image, detach=True, labels=TEST_LABEL, **options)
    try:
        yield container
    finally:
        container.remove(force=True, v=True)


def run_once(
    client: Any, image: str, command: list[str], *, entrypoint: str | None = None
) -> tuple[int, str]:
    """Run to completion (bounded), return exit status and output; the container is removed."""
    container = client.containers.create(
        image, command=command, entrypoint=entrypoint, labels=TEST_LABEL, network_mode="none"
    )
    try:
        container.start()
        status = container.wait(timeout=READY_TIMEOUT)["StatusCode"]
        return status, container.logs().decode("utf-8", "replace")
    finally:
        container.remove(force=True, v=True)


def host_port(container: Any, port: str) -> int:
    container.reload()
    binding = container.attrs["NetworkSettings"]["Ports"][port][0]
    assert binding["HostIp"] == "127.0.0.1"
    return int(binding["HostPort"])


def wait_for(what: str, probe: Callable[[], bool], container: Any, timeout: float = READY_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe():
            return
        container.reload()
        if container.status == "exited":
            break
        time.sleep(0.25)
    logs = container.logs().decode("utf-8", "replace")[-3000:]
    pytest.fail(f"{what} not ready within {timeout:.0f} s (container {container.status}); log tail:\n{logs}")


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1.0) as response:
            return response.status == 200
    except OSError:
        return False


def test_images_carry_their_labels_and_a_rebuild_is_a_no_op(
    built: dict[str, str], docker_client: Any
) -> None:
    for name, ref in built.items():
        labels = docker_client.api.inspect_image(ref)["Config"]["Labels"]
        assert labels["edge-harness.image"] == name
        assert ref.endswith(":" + labels["edge-harness.inputs"][:12])
    started = time.monotonic()
    assert ensure_images(IMAGE_NAMES) == built
    assert time.monotonic() - started < 30


def test_kafka_image_answers_confluent_kafka_from_the_host(built: dict[str, str], docker_client: Any) -> None:
    from confluent_kafka.admin import AdminClient

    from harness.services.ports import free_ports

    # tansu advertises the address clients must use, so the host port is chosen before the start.
    port = free_ports(1)[0]
    command = [
        "--listener-url", "tcp://0.0.0.0:9092",
        "--advertised-listener-url", f"tcp://127.0.0.1:{port}",
        "--storage-engine", "memory://tansu/",
    ]  # fmt: skip
    with running(
        docker_client, built["kafka"], command=command, ports={"9092/tcp": ("127.0.0.1", port)}
    ) as c:
        admin = AdminClient({"bootstrap.servers": f"127.0.0.1:{port}"})

        def answers() -> bool:
            try:
                return bool(admin.list_topics(timeout=1).brokers)
            except Exception:
                return False

        wait_for("kafka", answers, c)
        brokers = admin.list_topics(timeout=5).brokers
        assert [f"{b.host}:{b.port}" for b in brokers.values()] == [f"127.0.0.1:{port}"]


def test_triton_image_serves_the_staged_smoke_repository(
    built: dict[str, str], docker_client: Any, tmp_path: Path
) -> None:
    import numpy as np
    import tritonclient.http as httpclient

    from harness.services.smoke_model import write_smoke_repository
    from harness.services.triton import example_inputs, infer, run_onnxruntime
    from harness.services.triton_repository import stage_model_repository

    staged = stage_model_repository(write_smoke_repository(tmp_path / "source"), tmp_path / "staged")
    (name, model), *_ = staged.models.items()
    command = [
        "--model-repository", "/models", "--backend-directory", "/opt/tritonserver/backends",
        "--http-port", "8000", "--grpc-port", "8001", "--metrics-port", "8002",
        "--exit-on-error", "true", "--exit-timeout-secs", "2",
    ]  # fmt: skip
    with running(
        docker_client,
        built["triton"],
        command=command,
        volumes={str(staged.root): {"bind": "/models", "mode": "ro"}},
        ports={"8000/tcp": ("127.0.0.1", None)},
    ) as c:
        port = host_port(c, "8000/tcp")
        wait_for("triton", lambda: http_ok(f"http://127.0.0.1:{port}/v2/health/ready"), c)
        client = httpclient.InferenceServerClient(f"127.0.0.1:{port}")
        try:
            config = client.get_model_config(name)
            inputs = example_inputs(config, seed=7)
            outputs = [o["name"] for o in config["output"]]
            served = infer(client, name, inputs, outputs)
        finally:
            client.close()
    expected = run_onnxruntime(model.onnx_files[1], config, inputs)
    for output in outputs:
        np.testing.assert_allclose(served[output], np.asarray(expected[output]).reshape(served[output].shape),
                                   rtol=1e-4, atol=1e-5)  # fmt: skip


def test_aws_image_answers_boto3_with_the_greengrass_extension(
    built: dict[str, str], docker_client: Any
) -> None:
    import boto3

    from harness.services.aws_server import HEALTH_PATH

    with running(docker_client, built["aws"], ports={"5000/tcp": ("127.0.0.1", None)}) as c:
        url = f"http://127.0.0.1:{host_port(c, '5000/tcp')}"
        wait_for("aws", lambda: http_ok(url + HEALTH_PATH), c)
        with urllib.request.urlopen(url + HEALTH_PATH, timeout=5) as response:
            health = json.load(response)
        assert "greengrassv2" in json.dumps(health)
        options = {
            "endpoint_url": url,
            "region_name": "us-east-1",
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
        }
        s3 = boto3.client("s3", **options)
        s3.create_bucket(Bucket="edge-harness-images-test")
        assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["edge-harness-images-test"]
        components = boto3.client("greengrassv2", **options).list_components()
        assert components["ResponseMetadata"]["HTTPStatusCode"] == 200
        assert components["components"] == []


def test_device_image_has_ffmpeg_the_component_users_and_the_device_command(
    built: dict[str, str], docker_client: Any
) -> None:
    status, output = run_once(docker_client, built["device"], ["--help"])
    assert status == 0, output
    assert "Usage: edge-harness device run" in output and "--thing" in output
    status, output = run_once(docker_client, built["device"], ["-version"], entrypoint="ffmpeg")
    assert status == 0 and output.startswith("ffmpeg version"), output
    status, output = run_once(
        docker_client,
        built["device"],
        [
            "-c",
            "id -un nobody && id -un ggc_user && stat -c %a /greengrass/v2"
            " && echo $EDGE_HARNESS_BIND_ADDRESS",
        ],
        entrypoint="/bin/sh",
    )
    assert status == 0 and output.split() == ["nobody", "ggc_user", "755", "0.0.0.0"], output


def test_prune_removes_stale_tags_and_keeps_current_ones(built: dict[str, str], docker_client: Any) -> None:
    import io

    from harness.images.inventory import prune_images
    from harness.images.spec import ImagePlan

    stale = "edge-harness/kafka:000000000000"
    dockerfile = f"FROM {built['kafka']}\nLABEL edge-harness.test=1\n".encode()
    image, _ = docker_client.images.build(fileobj=io.BytesIO(dockerfile), tag=stale, rm=True, pull=False)
    try:
        assert image.labels["edge-harness.image"] == "kafka"
        # Only images with the test label: other stale images on this engine are not this test's.
        result = prune_images(docker_client, ImagePlan(), labels={"edge-harness.test": "1"})
        assert result.removed == [stale] and result.kept == []
        assert (
            docker_client.api.inspect_image(built["kafka"])["Config"]["Labels"]["edge-harness.image"]
            == "kafka"
        )
        assert not docker_client.images.list(name=stale)
    finally:
        with contextlib.suppress(Exception):
            docker_client.images.remove(image.id, force=True)
