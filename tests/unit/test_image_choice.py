"""Which image runs a service (harness.images.choice), on a stand-in engine: what is present, what
a registry would serve, what the labels say, and what the errors tell the user."""

from __future__ import annotations

from typing import Any

import pytest

from harness.images.choice import UPSTREAM_IMAGES, ImageChoice, choose_image
from harness.images.errors import ImageError
from harness.images.spec import LABEL_IMAGE
from harness.services.containers.services import apache_kafka_environment

pytestmark = pytest.mark.unit


class NoSuchImage(Exception):
    pass


class FakeEngine:
    """``images`` ref → labels of what the engine has; ``registry`` refs a registry serves."""

    def __init__(
        self, images: dict[str, dict[str, str]] | None = None, registry: set[str] | None = None
    ) -> None:
        self.present = dict(images or {})
        self.registry = set(registry or ())
        self.pulled: list[str] = []
        self.api = self
        self.images = self

    # the docker SDK calls the chooser makes
    def inspect_image(self, ref: str) -> dict[str, Any]:
        from docker.errors import ImageNotFound

        if ref not in self.present:
            raise ImageNotFound(f"No such image: {ref}")
        return {"Config": {"Labels": self.present[ref]}}

    def get_registry_data(self, ref: str) -> object:
        if ref not in self.registry:
            raise NoSuchImage('Get "https://registry-1.docker.io/v2/": dial tcp: no such host\nmore')
        return object()

    def pull(self, ref: str) -> None:
        if ref not in self.registry:
            raise NoSuchImage(f"pull access denied for {ref.rsplit(':', 1)[0]}")
        self.pulled.append(ref)
        self.present[ref] = {}


def built(name: str) -> str:
    return f"edge-harness/{name}:0123456789ab"


@pytest.fixture(autouse=True)
def _no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TRITON", "KAFKA", "AWS", "DEVICE"):
        monkeypatch.delenv(f"EDGE_HARNESS_IMAGE_{name}", raising=False)
    monkeypatch.delenv("EDGE_HARNESS_IMAGE_POLICY", raising=False)


def test_auto_builds_the_harness_image_when_no_registry_answers() -> None:
    said: list[str] = []
    choice = choose_image("kafka", client=FakeEngine(), build=built, progress=said.append)
    assert choice == ImageChoice("kafka", built("kafka"), "edge-harness", "built by the harness")
    assert said == [
        'kafka: no registry serves apache/kafka:3.9.1 (Get "https://registry-1.docker.io/v2/": dial tcp: '
        "no such host): using the harness's own image"
    ]


def test_auto_takes_the_upstream_image_when_present_or_served() -> None:
    present = FakeEngine({UPSTREAM_IMAGES["triton"]: {}})
    assert choose_image("triton", client=present, build=built) == ImageChoice(
        "triton", "nvcr.io/nvidia/tritonserver:24.10-py3", "upstream", "upstream image, present in the engine"
    )
    served = FakeEngine(registry={"apache/kafka:3.9.1"})
    choice = choose_image("kafka", client=served, build=built)
    assert (choice.ref, choice.flavour, choice.reason) == (
        "apache/kafka:3.9.1",
        "upstream",
        "upstream image, pulled",
    )
    assert served.pulled == ["apache/kafka:3.9.1"]


def test_aws_and_devices_always_run_the_harness_images() -> None:
    engine = FakeEngine(registry={"motoserver/moto:latest"})
    assert choose_image("aws", client=engine, policy="upstream", build=built).ref == built("aws")
    assert choose_image("device", client=engine, build=built).flavour == "edge-harness"


def test_policies_built_and_upstream(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = FakeEngine({UPSTREAM_IMAGES["kafka"]: {}})
    assert choose_image("kafka", client=engine, policy="built", build=built).ref == built("kafka")
    monkeypatch.setenv("EDGE_HARNESS_IMAGE_POLICY", "built")
    assert choose_image("kafka", client=engine, build=built).ref == built("kafka")
    with pytest.raises(ImageError) as error:
        choose_image("triton", client=FakeEngine(), policy="upstream", build=built)
    assert error.value.message == (
        "the upstream image nvcr.io/nvidia/tritonserver:24.10-py3 for triton is not in the engine and no "
        'registry serves it: Get "https://registry-1.docker.io/v2/": dial tcp: no such host'
    )
    assert "EDGE_HARNESS_IMAGE_POLICY=auto" in error.value.hint
    monkeypatch.setenv("EDGE_HARNESS_IMAGE_POLICY", "newest")
    with pytest.raises(ImageError) as error:
        choose_image("kafka", client=engine, build=built)
    assert error.value.message == "EDGE_HARNESS_IMAGE_POLICY='newest' is not an image policy"
    assert error.value.hint == "use one of: auto, upstream, built"


def test_a_named_image_runs_as_it_is_and_its_labels_say_how(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = FakeEngine(
        {
            "registry.example/edge/kafka:7": {LABEL_IMAGE: "kafka"},
            "registry.example/mirror/tritonserver:24.10": {},
        }
    )
    choice = choose_image("kafka", "registry.example/edge/kafka:7", client=engine, build=built)
    assert choice == ImageChoice(
        "kafka", "registry.example/edge/kafka:7", "edge-harness", "named by services.images.kafka"
    )
    monkeypatch.setenv("EDGE_HARNESS_IMAGE_TRITON", "registry.example/mirror/tritonserver:24.10")
    choice = choose_image("triton", client=engine, build=built)
    assert (choice.flavour, choice.reason) == ("upstream", "named by EDGE_HARNESS_IMAGE_TRITON")


def test_a_named_image_that_cannot_be_had_or_cannot_serve_says_so() -> None:
    engine = FakeEngine({"edge-harness/kafka:abc": {LABEL_IMAGE: "kafka"}})
    with pytest.raises(ImageError) as error:
        choose_image("kafka", "team/kafka:9", client=engine, build=built)
    assert error.value.message == (
        "image team/kafka:9 (services.images.kafka) is not in the engine and could not be pulled: "
        "pull access denied for team/kafka"
    )
    assert error.value.hint.startswith("docker pull / docker load it first")
    with pytest.raises(ImageError) as error:
        choose_image("aws", "edge-harness/kafka:abc", client=engine, build=built)
    assert error.value.message == (
        "image edge-harness/kafka:abc (named by services.images.aws) cannot run the aws service: it is the "
        "harness's 'kafka' image (no label edge-harness.image=aws)"
    )
    assert error.value.hint.startswith(
        "the aws service needs the harness's own image: edge-harness images build aws"
    )


def test_apache_kafka_is_a_one_node_kraft_broker_advertising_the_session_address() -> None:
    env = apache_kafka_environment("172.30.4.2", "MkU3OEVBNTcwNTJENDM2Qg")
    assert env["KAFKA_ADVERTISED_LISTENERS"] == "PLAINTEXT://172.30.4.2:9092"
    assert env["KAFKA_LISTENERS"] == "PLAINTEXT://0.0.0.0:9092,CONTROLLER://127.0.0.1:9093"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "1@127.0.0.1:9093"
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller" and env["CLUSTER_ID"] == "MkU3OEVBNTcwNTJENDM2Qg"
    assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "1"
