"""NvInfer in-process: the shipped detectors through ONNX Runtime, against NvInferServer on the
equivalent nvinferserver config, and nvinfer's own post-processing (per-class NMS, post-cluster
threshold, top-k, size and ROI filters)."""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pytest
from batches import iou, make_batch

from fake_device.deepstream.bbox_parsers import NetworkInfo, scale_geometry
from fake_device.deepstream.errors import ConfigError
from fake_device.deepstream.inferserver import NvInferServer, OnnxRuntimeBackend
from fake_device.deepstream.inferserver_config import load_inferserver_config
from fake_device.deepstream.meta import UNTRACKED_OBJECT_ID, ObjectMeta
from fake_device.deepstream.nvinfer import NvInfer
from harness.world import WorldFrame, WorldParams, iter_world

ROOT = Path(__file__).resolve().parents[3]
APP = ROOT / "scenarios" / "traffic" / "app"
NVINFER_CONFIG = APP / "config_infer_primary_rtdetr.txt"
TRITON_CONFIG = APP / "config_infer_primary_rtdetr_triton.yml"
TRITON_CONFIG_A = (
    ROOT / "scenarios" / "traffic" / "components" / "nvds-awsgg-deployment" / "1.0.0" / TRITON_CONFIG.name
)
MODELS = {"A": ROOT / "models_repo" / "A" / "rtdetr", "B": ROOT / "models_repo" / "B" / "rtdetr"}
LABELS = ("car", "truck", "bus", "motorcycle")


def key(obj: ObjectMeta) -> tuple[float, ...]:
    return (obj.class_id, -obj.confidence, obj.left, obj.top)


def assert_same_objects(got: Sequence[ObjectMeta], want: Sequence[ObjectMeta]) -> None:
    assert len(got) == len(want)
    for a, b in zip(sorted(got, key=key), sorted(want, key=key), strict=True):
        assert (a.class_id, a.obj_label, a.unique_component_id) == (
            b.class_id,
            b.obj_label,
            b.unique_component_id,
        )
        assert a.confidence == pytest.approx(b.confidence, abs=1e-6)
        assert [a.left, a.top, a.width, a.height] == pytest.approx(
            [b.left, b.top, b.width, b.height], abs=1e-4
        )


def app_folder(root: Path, variant: str) -> Path:
    """The app's folder as a component artifact ships it: configs with ./models = models_repo/<variant>."""
    app = root / variant
    shutil.copytree(MODELS[variant], app / "models" / "rtdetr")
    shutil.copy(NVINFER_CONFIG, app / NVINFER_CONFIG.name)
    shutil.copy(TRITON_CONFIG_A if variant == "A" else TRITON_CONFIG, app / TRITON_CONFIG.name)
    if variant == "A":  # detector A: version folder 1, one class (what the 1.0.0 artifact needs)
        edit(
            app / NVINFER_CONFIG.name,
            ("models/rtdetr/2/", "models/rtdetr/1/"),
            ("models/rtdetr/2/", "models/rtdetr/1/"),
            ("num-detected-classes=4", "num-detected-classes=1"),
        )
    return app


def edit(path: Path, *edits: tuple[str, str]) -> Path:
    text = path.read_text(encoding="utf-8")
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def apps(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("apps")
    return {variant: app_folder(root, variant) for variant in MODELS}


@pytest.fixture(scope="module")
def world_frames() -> list[WorldFrame]:
    """Two frames of a held-out world seed (training never renders seeds from 9000 on)."""
    return [f for f in iter_world(WorldParams(seed=9001, seconds=2.0)) if f.index in (1, 45)]


def nvinferserver_objects(app: Path, frames: list[WorldFrame]) -> list[list[ObjectMeta]]:
    config = load_inferserver_config(app / TRITON_CONFIG.name)
    with NvInferServer(config, backend=OnnxRuntimeBackend.for_config(config)) as element:
        return [f.objects for f in element.process(make_batch([w.image for w in frames])).frames]


# --- the shipped detectors -----------------------------------------------------------------------


def test_model_b_same_objects_as_nvinferserver(apps: dict[str, Path], world_frames: list[WorldFrame]) -> None:
    with NvInfer(apps["B"] / NVINFER_CONFIG.name, threads=1) as element:
        batch = element.process(make_batch([f.image for f in world_frames]))
    want = nvinferserver_objects(apps["B"], world_frames)
    for frame, world, expected in zip(batch.frames, world_frames, want, strict=True):
        assert frame.objects, f"frame {world.index}: no detections"
        assert_same_objects(frame.objects, expected)
        truth = [(o.x, o.y, o.w, o.h) for o in world.objects]
        for obj in frame.objects:
            assert obj.confidence >= 0.5 and obj.obj_label == LABELS[obj.class_id]
            assert obj.unique_component_id == 1 and obj.object_id == UNTRACKED_OBJECT_ID
            assert max(iou(obj, t) for t in truth) >= 0.3, (world.index, obj)
        [(name, t_in, t_out)] = frame.latency
        assert name == "primary-inference" and t_in <= t_out


def test_model_a_one_class(apps: dict[str, Path], world_frames: list[WorldFrame]) -> None:
    with NvInfer(apps["A"] / NVINFER_CONFIG.name, name="primary-gie", threads=1) as element:
        assert element.nvinfer_config.labels == ("vehicle",)
        batch = element.process(make_batch([f.image for f in world_frames]))
    want = nvinferserver_objects(apps["A"], world_frames)
    for frame, world, expected in zip(batch.frames, world_frames, want, strict=True):
        assert frame.objects
        assert {(o.class_id, o.obj_label) for o in frame.objects} == {(0, "vehicle")}
        assert_same_objects(frame.objects, expected)
        truth = [(o.x, o.y, o.w, o.h) for o in world.objects]
        assert all(max(iou(obj, t) for t in truth) >= 0.3 for obj in frame.objects)
        assert frame.latency[0][0] == "primary-gie"


def test_batch_size_caps_frames_per_call(apps: dict[str, Path], tmp_path: Path) -> None:
    app = tmp_path / "app"
    shutil.copytree(apps["B"], app)
    edit(app / NVINFER_CONFIG.name, ("batch-size=1", "batch-size=2"))
    with NvInfer(app / NVINFER_CONFIG.name, threads=1) as element:
        assert element.backend is not None
        calls: list[int] = []
        infer = element.backend.infer

        def counting(inputs: Mapping[str, np.ndarray], outputs: Sequence[str]) -> dict[str, np.ndarray]:
            calls.append(len(next(iter(inputs.values()))))
            return infer(inputs, outputs)

        element.backend.infer = counting  # type: ignore[method-assign]
        batch = element.process(make_batch([np.zeros((720, 1280, 3), np.uint8)] * 5))
    assert calls == [2, 2, 1]
    assert all(len(f.latency) == 1 for f in batch.frames)
    assert element.backend is None  # closed


def test_infer_dims_checked_against_the_onnx_model(apps: dict[str, Path], tmp_path: Path) -> None:
    app = tmp_path / "app"
    shutil.copytree(apps["B"], app)
    path = edit(app / NVINFER_CONFIG.name, ("batch-size=1", "batch-size=1\ninfer-dims=3;608;608"))
    with pytest.raises(ConfigError) as info:
        NvInfer(path)
    line = next(
        i for i, text in enumerate(path.read_text().splitlines(), 1) if text.startswith("infer-dims=")
    )
    assert info.value.message.startswith(f"{path}:{line}: infer-dims=3;608;608 (c;h;w) does not match")


def test_parser_that_does_not_fit_the_model_fails_at_its_line(apps: dict[str, Path], tmp_path: Path) -> None:
    """The shared start-up checks name the nvinfer file and key."""
    app = tmp_path / "app"
    shutil.copytree(apps["B"], app)
    path = edit(app / NVINFER_CONFIG.name, ("=NvDsInferParseYolo\n", "=NvDsInferParseRTDETR\n"))
    with pytest.raises(ConfigError) as info:
        NvInfer(path)
    line = next(
        i
        for i, text in enumerate(path.read_text().splitlines(), 1)
        if text.startswith("parse-bbox-func-name=")
    )
    assert info.value.line == line and str(path) in info.value.message
    assert "does not fit NvDsInferParseRTDETR" in info.value.message


def test_onnx_file_that_is_not_a_model(apps: dict[str, Path], tmp_path: Path) -> None:
    app = tmp_path / "app"
    shutil.copytree(apps["B"], app)
    (app / "models" / "rtdetr" / "2" / "model.onnx").write_bytes(b"not a model")
    with pytest.raises(ConfigError, match="cannot load onnx-file"):
        NvInfer(app / NVINFER_CONFIG.name)


# --- nvinfer's post-processing, on scripted output rows ------------------------------------------


@pytest.fixture
def nms_app(apps: dict[str, Path], tmp_path: Path) -> Path:
    """Model B's app with NMS, and classes 1 (truck) and 3 (motorcycle) tuned on their own."""
    app = tmp_path / "app"
    shutil.copytree(apps["B"], app)
    path = edit(
        app / NVINFER_CONFIG.name,
        ("cluster-mode=4", "cluster-mode=2"),
        ("topk=300", "topk=300\nnms-iou-threshold=0.5\npost-cluster-threshold=0.55"),
    )
    with path.open("a", encoding="utf-8") as file:
        file.write("\n[class-attrs-1]\nnms-iou-threshold=0.9\ntopk=1\n")
        file.write("\n[class-attrs-3]\ndetected-min-w=40\nroi-top-offset=100\n")
    return path


def rows(*boxes: tuple[float, float, float, float, float, int]) -> dict[str, np.ndarray]:
    out = np.zeros((300, 6), np.float32)
    for i, box in enumerate(boxes):
        out[i] = box
    return {"output": out}


def test_per_class_nms_post_threshold_and_topk(nms_app: Path) -> None:
    with NvInfer(nms_app, threads=1) as element:
        geometry = scale_geometry(
            640, 640, NetworkInfo(640, 640, 3), maintain_aspect_ratio=False, symmetric_padding=False
        )
        got = element.postprocess(
            rows(
                (0, 0, 100, 100, 0.9, 0),  # car: kept
                (10, 0, 110, 100, 0.8, 0),  # car, IoU 0.82 > 0.5 with the first: suppressed
                (300, 300, 400, 400, 0.54, 0),  # car under post-cluster-threshold 0.55: dropped
                (0, 0, 100, 100, 0.7, 1),  # truck: kept
                (10, 0, 110, 100, 0.6, 1),  # truck, IoU 0.82 <= 0.9 survives NMS, but topk=1
                (0, 0, 100, 100, 0.45, 2),  # bus under pre-cluster-threshold 0.5: dropped
            ),
            geometry,
        )
    assert got.class_ids.tolist() == [0, 1]  # grouped by class, as DeepStream outputs them
    assert got.scores.tolist() == pytest.approx([0.9, 0.7])


def test_size_and_roi_filters_and_filter_out_class_ids(nms_app: Path) -> None:
    edit(nms_app, ("interval=0", "interval=0\nfilter-out-class-ids=2"))
    with NvInfer(nms_app, threads=1) as element:
        geometry = scale_geometry(
            1280, 720, NetworkInfo(640, 640, 3), maintain_aspect_ratio=False, symmetric_padding=False
        )
        got = element.postprocess(
            rows(
                (100, 100, 130, 200, 0.9, 3),  # motorcycle 60 px wide at y 112: kept
                (200, 100, 210, 200, 0.9, 3),  # motorcycle 20 px wide < detected-min-w 40: dropped
                (300, 50, 340, 200, 0.9, 3),  # motorcycle with top 56 above roi-top-offset 100: dropped
                (400, 100, 500, 200, 0.9, 2),  # bus: filter-out-class-ids
                (0, 600, 100, 640, 0.9, 0),  # car touching the bottom edge: kept (bottom == 720)
            ),
            geometry,
        )
    assert got.class_ids.tolist() == [0, 3]
    assert got.boxes[0].tolist() == pytest.approx([0, 675, 200, 45])
    assert got.boxes[1].tolist() == pytest.approx([200, 112.5, 60, 112.5])


def test_letterbox_padding_boxes_are_dropped(apps: dict[str, Path], tmp_path: Path) -> None:
    """attach_metadata_detector drops boxes whose bottom is below the frame, even with offset 0."""
    app = tmp_path / "app"
    shutil.copytree(apps["B"], app)
    path = edit(app / NVINFER_CONFIG.name, ("maintain-aspect-ratio=0", "maintain-aspect-ratio=1"))
    with NvInfer(path, threads=1) as element:
        geometry = scale_geometry(
            1280, 720, NetworkInfo(640, 640, 3), maintain_aspect_ratio=True, symmetric_padding=False
        )
        got = element.postprocess(
            rows((0, 300, 100, 360, 0.9, 0), (0, 300, 100, 400, 0.8, 0)),  # the second reaches into padding
            geometry,
        )
    assert got.scores.tolist() == pytest.approx([0.9])


def test_threads_must_be_positive(apps: dict[str, Path]) -> None:
    with pytest.raises(ValueError, match="threads"):
        NvInfer(apps["B"] / NVINFER_CONFIG.name, threads=0)
