"""NvInferServer through the real tritonserver: the config's model_repo path and the grpc url path.

The model_repo element starts Triton itself from the config (on a copy of models_repo/B laid out
as the component ships it) and passes tensors through system shared memory; the grpc element
reuses that server by URL, as a DeepStream app pointed at a remote Triton would. Both must give
the detections the in-process ONNX Runtime path gives. One Triton start for the module.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from fake_device.deepstream.inferserver import NvInferServer, OnnxRuntimeBackend
from fake_device.deepstream.inferserver_config import load_inferserver_config
from fake_device.deepstream.meta import BatchMeta, FrameMeta
from harness.errors import HarnessError
from harness.services.triton import SHM_DIR
from harness.world import WorldParams, iter_world

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
APP_CONFIG = ROOT / "scenarios" / "traffic" / "app" / "config_infer_primary_rtdetr_triton.yml"
MODEL = ROOT / "models_repo" / "B" / "rtdetr"

Found = list[list[tuple[int, float, tuple[float, float, float, float]]]]


def make_batch(images: Sequence[np.ndarray]) -> BatchMeta:
    frames = [
        FrameMeta(0, i, 0, image.shape[1], image.shape[0], image=image, batch_id=i)
        for i, image in enumerate(images)
    ]
    return BatchMeta(frames=frames, max_frames_in_batch=len(frames))


def found(batch: BatchMeta) -> Found:
    return [
        sorted((o.class_id, o.confidence, (o.left, o.top, o.width, o.height)) for o in frame.objects)
        for frame in batch.frames
    ]


def assert_same(got: Found, want: Found) -> None:
    assert len(got) == len(want)
    assert any(want), "the frames have vehicles; the detector should find some"
    for got_frame, want_frame in zip(got, want, strict=True):
        assert len(got_frame) == len(want_frame)
        for (g_class, g_score, g_box), (w_class, w_score, w_box) in zip(got_frame, want_frame, strict=True):
            assert g_class == w_class
            assert g_score == pytest.approx(w_score, abs=1e-4)
            assert g_box == pytest.approx(w_box, abs=1e-2)


@pytest.fixture(scope="module")
def app_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    app = tmp_path_factory.mktemp("app")
    shutil.copytree(MODEL, app / "models" / "rtdetr")
    shutil.copy(APP_CONFIG, app / APP_CONFIG.name)
    return app / APP_CONFIG.name


@pytest.fixture(scope="module")
def images() -> list[np.ndarray]:
    """Five held-out world frames: one batch of 4 (the max) and one of 1."""
    return [
        f.image for f in iter_world(WorldParams(seed=9001, seconds=2.0)) if f.index in (1, 15, 30, 45, 59)
    ]


@pytest.fixture(scope="module")
def in_process(app_config: Path, images: list[np.ndarray]) -> Found:
    config = load_inferserver_config(app_config)
    with NvInferServer(config, backend=OnnxRuntimeBackend.for_config(config)) as element:
        return found(element.process(make_batch(images)))


@pytest.fixture(scope="module")
def element(app_config: Path) -> Iterator[NvInferServer]:
    with NvInferServer(app_config) as started:
        yield started


def test_model_repo_starts_triton_and_uses_shared_memory(
    element: NvInferServer, images: list[np.ndarray], in_process: Found
) -> None:
    assert element.server is not None and element.server.running
    assert element.server.staging.models["rtdetr"].source == element.config.backend.repo_root / "rtdetr"
    for _ in range(2):  # the regions are registered once and reused
        assert_same(found(element.process(make_batch(images))), in_process)
    assert element.backend is not None and element.backend.uses_shared_memory
    client = element.server.grpc_client()
    try:
        regions = client.get_system_shared_memory_status(as_json=True).get("regions", {})
    finally:
        client.close()
    assert sorted(r.rsplit("_", 1)[-1] for r in regions) == ["input", "output"]
    assert {int(r["byte_size"]) for r in regions.values()} == {4 * 3 * 640 * 640 * 4, 4 * 300 * 6 * 4}


def test_grpc_url_uses_a_running_triton(
    element: NvInferServer, app_config: Path, images: list[np.ndarray], in_process: Found
) -> None:
    assert element.server is not None
    text = app_config.read_text(encoding="utf-8")
    text = text.replace(
        'model_repo {\n        root: "./models"\n        strict_model_config: true\n      }',
        f'grpc {{ url: "{element.server.grpc_url}" }}',
    )
    path = app_config.with_name("config_grpc.yml")
    path.write_text(text, encoding="utf-8")
    with NvInferServer(path) as remote:
        assert remote.server is None  # nothing started
        batch = remote.process(make_batch(images))
        assert remote.backend is not None and not remote.backend.uses_shared_memory
    assert_same(found(batch), in_process)


def test_grpc_url_model_must_be_loaded(element: NvInferServer, app_config: Path) -> None:
    """nvinferserver's gRPC mode does not load models; a model the server lacks fails at start."""
    assert element.server is not None
    text = app_config.read_text(encoding="utf-8").replace(
        'model_repo {\n        root: "./models"\n        strict_model_config: true\n      }',
        f'grpc {{ url: "{element.server.grpc_url}" }}',
    )
    path = app_config.with_name("config_other_model.yml")
    path.write_text(text.replace('model_name: "rtdetr"', 'model_name: "rtdetr_v3"'), encoding="utf-8")
    with pytest.raises(HarnessError, match=r"'rtdetr_v3' .* is not ready on the Triton at"):
        NvInferServer(path)


def test_grpc_url_against_the_shared_triton_fixture(
    request: pytest.FixtureRequest, app_config: Path, images: list[np.ndarray]
) -> None:
    """The pytest plugin's triton_server fixture serves ``--eh-models`` (default: the smoke model)."""
    models = request.config.getoption("--eh-models")
    if not models or not (Path(models) / "rtdetr" / "config.pbtxt").is_file():
        pytest.skip("the triton_server fixture serves no rtdetr model (run with --eh-models models_repo/B)")
    server = request.getfixturevalue("triton_server")
    text = app_config.read_text(encoding="utf-8").replace(
        'model_repo {\n        root: "./models"\n        strict_model_config: true\n      }',
        f'grpc {{ url: "{server.grpc_url}" }}',
    )
    path = app_config.with_name("config_fixture.yml")
    path.write_text(text, encoding="utf-8")
    config = load_inferserver_config(path)
    with NvInferServer(config, backend=OnnxRuntimeBackend(Path(models) / "rtdetr")) as direct:
        want = found(direct.process(make_batch(images)))
    with NvInferServer(config) as remote:
        assert_same(found(remote.process(make_batch(images))), want)


def test_close_stops_triton_and_frees_shared_memory(element: NvInferServer) -> None:
    """Last in the module: it closes the module's element."""
    server = element.server
    assert server is not None and element.backend is not None
    client = server.grpc_client()
    try:
        regions = list(client.get_system_shared_memory_status(as_json=True).get("regions", {}))
    finally:
        with contextlib.suppress(Exception):
            client.close()
    assert regions and all((SHM_DIR / r).exists() for r in regions)
    element.close()
    assert not server.running
    assert element.server is None and element.backend is None
    assert not any((SHM_DIR / r).exists() for r in regions)
    element.close()  # twice is fine
