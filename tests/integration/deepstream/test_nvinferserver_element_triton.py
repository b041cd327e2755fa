"""The ``nvinferserver`` element against the real tritonserver, in a real GStreamer pipeline.

The traffic app's config (``model_repo { root: "./models" }`` on a copy of models_repo/B) makes the
element start Triton itself when the pipeline starts, as DeepStream runs Triton in-process; a second
element reaches the same server through ``grpc { url }``. World frames go in as NVMM RGBA batches
(the exact pixels of the BGR images), so the objects must be the ones the in-process ONNX Runtime
path finds on the same images; NV12 batches (what a decoder gives) must find the same vehicles.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from gst_batches import BatchPipeline, frame_metas

from fake_device.deepstream.inferserver import NvInferServer, OnnxRuntimeBackend
from fake_device.deepstream.inferserver_config import load_inferserver_config
from fake_device.deepstream.meta import (
    UNTRACKED_OBJECT_ID,
    BatchMeta,
    FrameMeta,
    NvDsBatchMeta,
    nvds_acquire_obj_meta_from_pool,
    nvds_add_obj_meta_to_frame,
)
from harness.world import WorldParams, iter_world

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
APP_CONFIG = ROOT / "scenarios" / "traffic" / "app" / "config_infer_primary_rtdetr_triton.yml"
MODEL = ROOT / "models_repo" / "B" / "rtdetr"
MODEL_REPO = 'model_repo {\n        root: "./models"\n        strict_model_config: true\n      }'

Found = list[list[tuple[int, str, float, tuple[float, float, float, float]]]]


def make_batch(images: list[np.ndarray]) -> BatchMeta:
    """The old runtime's batch: BGR images on the frame metas."""
    frames = [FrameMeta(0, i, 0, 1280, 720, image=image, batch_id=i) for i, image in enumerate(images)]
    return BatchMeta(frames=frames, max_frames_in_batch=len(frames))


def found(batch: NvDsBatchMeta) -> Found:
    return [
        sorted(
            (o.class_id, o.obj_label, o.confidence, (o.left, o.top, o.width, o.height)) for o in frame.objects
        )
        for frame in batch.frames
    ]


@pytest.fixture(scope="module")
def app_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    app = tmp_path_factory.mktemp("app")
    shutil.copytree(MODEL, app / "models" / "rtdetr")
    shutil.copy(APP_CONFIG, app / APP_CONFIG.name)
    return app / APP_CONFIG.name


@pytest.fixture(scope="module")
def images() -> list[np.ndarray]:
    """Five held-out world frames: a batch of 4 (the config's max_batch_size) and one of 1."""
    return [
        f.image for f in iter_world(WorldParams(seed=9001, seconds=2.0)) if f.index in (1, 15, 30, 45, 59)
    ]


@pytest.fixture(scope="module")
def in_process(app_config: Path, images: list[np.ndarray]) -> Found:
    config = load_inferserver_config(app_config)
    with NvInferServer(config, backend=OnnxRuntimeBackend.for_config(config)) as engine:
        return found(engine.process(make_batch(images)))


@pytest.fixture(scope="module")
def model_repo_pipeline(app_config: Path) -> Iterator[BatchPipeline]:
    pipeline = BatchPipeline(
        f"nvinferserver name=pgie config-file-path={app_config}", format="RGBA", width=1280, height=720
    )
    try:
        assert pipeline.start(), pipeline.errors()
        yield pipeline
    finally:
        pipeline.close()


def run(pipeline: BatchPipeline, images: list[np.ndarray]) -> Found:
    return found(pipeline.push(images[:4])) + found(pipeline.push(images[4:]))


def assert_same(got: Found, want: Found) -> None:
    assert any(want), "the frames have vehicles; the detector should find some"
    assert len(got) == len(want)
    for got_frame, want_frame in zip(got, want, strict=True):
        assert [(c, label) for c, label, _, _ in got_frame] == [(c, label) for c, label, _, _ in want_frame]
        for (_, _, g_score, g_box), (_, _, w_score, w_box) in zip(got_frame, want_frame, strict=True):
            assert g_score == pytest.approx(w_score, abs=1e-4)
            assert g_box == pytest.approx(w_box, abs=1e-2)


def test_model_repo_element_starts_triton_and_finds_what_onnx_runtime_finds(
    model_repo_pipeline: BatchPipeline, images: list[np.ndarray], in_process: Found
) -> None:
    element = model_repo_pipeline.element("pgie")
    engine = element._gie.engine
    assert engine.server is not None and engine.server.running
    # after the start the properties read the values in effect
    assert (element.get_property("batch-size"), element.get_property("unique-id")) == (4, 1)
    assert element.get_property("process-mode") == 1
    assert_same(run(model_repo_pipeline, images), in_process)
    assert engine.backend.uses_shared_memory  # Triton beside the element: tensors through /dev/shm
    for frame in model_repo_pipeline.push(images[:1]).frames:
        for obj in frame.objects:
            assert obj.unique_component_id == 1 and obj.rect_params.border_width == 3


def test_nv12_batches_find_the_same_vehicles(
    model_repo_pipeline: BatchPipeline, app_config: Path, images: list[np.ndarray], in_process: Found
) -> None:
    """What a decoder gives: NV12 (4:2:0 chroma, converted after scaling); the boxes stay put."""
    engine = model_repo_pipeline.element("pgie")._gie.engine
    text = app_config.read_text(encoding="utf-8").replace(
        MODEL_REPO, f'grpc {{ url: "{engine.server.grpc_url}" }}'
    )
    path = app_config.with_name("config_nv12.yml")
    path.write_text(text, encoding="utf-8")
    pipeline = BatchPipeline(f"nvinferserver config-file-path={path}", format="NV12", width=1280, height=720)
    try:
        assert pipeline.start(), pipeline.errors()
        got = run(pipeline, images)
    finally:
        pipeline.close()
    confident = 0
    for got_frame, want_frame in zip(got, in_process, strict=True):
        for class_id, _, score, box in want_frame:
            if score < 0.6:
                continue  # near the 0.5 threshold a few levels of colour can flip the class or the object
            confident += 1
            ious = [_iou(box, other) for c, _, _, other in got_frame if c == class_id]
            assert ious and max(ious) >= 0.75, (class_id, box, got_frame)
    assert confident >= 5


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def test_grpc_element_uses_the_running_triton(
    model_repo_pipeline: BatchPipeline, app_config: Path, images: list[np.ndarray], in_process: Found
) -> None:
    server = model_repo_pipeline.element("pgie")._gie.engine.server
    text = app_config.read_text(encoding="utf-8").replace(MODEL_REPO, f'grpc {{ url: "{server.grpc_url}" }}')
    path = app_config.with_name("config_grpc.yml")
    path.write_text(text, encoding="utf-8")
    pipeline = BatchPipeline(
        f"nvinferserver name=remote config-file-path={path} batch-size=2",
        format="RGBA",
        width=1280,
        height=720,
    )
    try:
        assert pipeline.start(), pipeline.errors()
        assert pipeline.warnings() == ["Configuration file batch-size reset to: 2"]
        engine = pipeline.element("remote")._gie.engine
        assert engine.server is None and engine.batch_size == 2  # nothing started; the property's batch
        assert_same(run(pipeline, images), in_process)
    finally:
        pipeline.close()


def test_clip_objects_detects_inside_the_parent_objects(
    model_repo_pipeline: BatchPipeline, app_config: Path, images: list[np.ndarray]
) -> None:
    """PROCESS_MODE_CLIP_OBJECTS: a secondary detector on the objects of GIE 7 only."""
    server = model_repo_pipeline.element("pgie")._gie.engine.server
    text = app_config.read_text(encoding="utf-8").replace(MODEL_REPO, f'grpc {{ url: "{server.grpc_url}" }}')
    text = text.replace("PROCESS_MODE_FULL_FRAME", "PROCESS_MODE_CLIP_OBJECTS")
    text = text.replace("operate_on_gie_id: -1", "operate_on_gie_id: 7").replace(
        "unique_id: 1", "unique_id: 3"
    )
    path = app_config.with_name("config_clip.yml")
    path.write_text(text, encoding="utf-8")
    pipeline = BatchPipeline(f"nvinferserver config-file-path={path}", format="RGBA", width=1280, height=720)
    try:
        assert pipeline.start(), pipeline.errors()
        batch = frame_metas(2, 0, 1280, 720)
        parents = []
        for frame, gie in zip(batch.frames, (7, 8), strict=True):
            parent = nvds_acquire_obj_meta_from_pool(batch)
            parent.unique_component_id, parent.object_id = gie, UNTRACKED_OBJECT_ID
            parent.rect_params.left, parent.rect_params.top = 400.0, 100.0
            parent.rect_params.width, parent.rect_params.height = 640.0, 480.0
            nvds_add_obj_meta_to_frame(frame, parent, None)
            parents.append(parent)
        out = pipeline.push([images[0], images[0]], batch)
    finally:
        pipeline.close()
    children = [o for o in out.frames[0].objects if o is not parents[0]]
    assert children, "the parent's crop holds vehicles"
    for child in children:
        assert child.parent is parents[0] and child.unique_component_id == 3
        rect = child.rect_params
        assert rect.left >= 400 - 1 and rect.left + rect.width <= 400 + 640 + 1
        assert rect.top >= 100 - 1 and rect.top + rect.height <= 100 + 480 + 1
    assert out.frames[1].objects == [parents[1]]  # GIE 8's object: not inferred on


def test_a_tensor_name_the_model_lacks_fails_the_start(
    model_repo_pipeline: BatchPipeline, app_config: Path
) -> None:
    server = model_repo_pipeline.element("pgie")._gie.engine.server
    text = app_config.read_text(encoding="utf-8").replace(MODEL_REPO, f'grpc {{ url: "{server.grpc_url}" }}')
    text = text.replace('tensor_name: "input"', 'tensor_name: "images"')
    path = app_config.with_name("config_tensor.yml")
    path.write_text(text, encoding="utf-8")
    pipeline = BatchPipeline(f"nvinferserver name=pgie config-file-path={path}", format="RGBA")
    try:
        assert not pipeline.start()
        [error] = pipeline.errors()
    finally:
        pipeline.close()
    line = next(i for i, t in enumerate(text.splitlines(), 1) if 'tensor_name: "images"' in t)
    assert "pgie: Failed to initialize InferTrtIsContext" in error
    assert f"{path}:{line}: preprocess.tensor_name 'images' is not an input of model 'rtdetr'" in error
    assert "(expected one of 'input')" in error


def test_stopping_the_pipeline_stops_triton(app_config: Path) -> None:
    pipeline = BatchPipeline(f"nvinferserver name=pgie config-file-path={app_config}", format="RGBA")
    assert pipeline.start(), pipeline.errors()
    server = pipeline.element("pgie")._gie.engine.server
    assert server.running
    pipeline.close()
    assert not server.running
    assert pipeline.element("pgie")._gie is None
