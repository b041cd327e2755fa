"""The shipped detectors behind the real tritonserver give the detections ONNX Runtime gives.

This is the path the DeepStream app takes on the device (nvinferserver → Triton → the model), so
each variant's model repository, as its component version ships it, is served as-is and asked
over HTTP and gRPC for a real world frame — alone and in a batch of two.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from harness.eval import OnnxDetector, compare_rows, preprocess, resolve_model
from harness.services.triton import TritonServer, infer
from harness.world import WorldParams, iter_world

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2] / "models_repo"
MODEL = "rtdetr"


@pytest.fixture(scope="module")
def frames() -> np.ndarray:
    images = [
        preprocess(f.image) for f in iter_world(WorldParams(seed=9001, seconds=2.0)) if f.index in (1, 45)
    ]
    return np.stack(images)


@pytest.fixture(scope="module", params=["A", "B"])
def served(request: pytest.FixtureRequest) -> Iterator[tuple[str, TritonServer]]:
    with TritonServer(REPO / request.param) as server:
        yield request.param, server


def _same_detections(got: np.ndarray, want: np.ndarray) -> None:
    assert got.shape == want.shape
    for comparison in (compare_rows(got, want), compare_rows(want, got)):
        assert comparison.compared >= len(want), "the frames have vehicles; the model should see some"
        assert comparison.within(box_atol=1e-3, score_atol=1e-5), comparison


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_triton_matches_onnxruntime(
    served: tuple[str, TritonServer], frames: np.ndarray, protocol: str
) -> None:
    variant, server = served
    direct = OnnxDetector(resolve_model(REPO / variant).onnx)
    client = server.http_client() if protocol == "http" else server.grpc_client()
    try:
        for batch in (frames[:1], frames):
            got = infer(client, MODEL, {"input": batch}, ["output"])["output"]
            _same_detections(got, direct.infer(batch))
    finally:
        client.close()


def test_served_config_is_the_shipped_one(served: tuple[str, TritonServer]) -> None:
    variant, server = served
    client = server.http_client()
    try:
        config = client.get_model_config(MODEL)
        metadata = client.get_model_metadata(MODEL)
    finally:
        client.close()
    assert config["max_batch_size"] == 4
    assert [i["name"] for i in config["input"]] == ["input"]
    assert [o["name"] for o in config["output"]] == ["output"]
    assert metadata["versions"] == ["1" if variant == "A" else "2"]
