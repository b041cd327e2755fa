"""NvInferServer in-process: the shipped detector through ONNX Runtime, and the element's own steps
(scaling, colour, normalisation, batching, interval, mapping back) against a scripted backend."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import cv2
import numpy as np
import pytest
from batches import iou, make_batch

from fake_device.deepstream.errors import ConfigError
from fake_device.deepstream.inferserver import (
    InferBackend,
    NvInferServer,
    OnnxRuntimeBackend,
    TensorSpec,
)
from fake_device.deepstream.inferserver_config import load_inferserver_config
from fake_device.deepstream.meta import UNTRACKED_OBJECT_ID
from fake_device.deepstream.meta_infer import NvDsInferTensorMeta
from harness.eval import OnnxDetector, preprocess, resolve_model, to_frame_boxes
from harness.world import WorldFrame, WorldParams, iter_world

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
APP_CONFIG = ROOT / "scenarios" / "traffic" / "app" / "config_infer_primary_rtdetr_triton.yml"
MODEL = ROOT / "models_repo" / "B" / "rtdetr"
LABELS = ("car", "truck", "bus", "motorcycle")


# --- the shipped detector through ONNX Runtime ---------------------------------------------------


@pytest.fixture(scope="module")
def app_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The app's config with a copy of models_repo/B as ./models, as the component ships them."""
    app = tmp_path_factory.mktemp("app")
    shutil.copytree(MODEL, app / "models" / "rtdetr")
    shutil.copy(APP_CONFIG, app / APP_CONFIG.name)
    return app / APP_CONFIG.name


@pytest.fixture(scope="module")
def world_frames() -> list[WorldFrame]:
    """Two frames of a held-out world seed (training never renders seeds from 9000 on)."""
    return [f for f in iter_world(WorldParams(seed=9001, seconds=2.0)) if f.index in (1, 45)]


def test_finds_the_worlds_vehicles(app_config: Path, world_frames: list[WorldFrame]) -> None:
    config = load_inferserver_config(app_config)
    with NvInferServer(config, backend=OnnxRuntimeBackend.for_config(config)) as element:
        batch = element.process(make_batch([f.image for f in world_frames]))
    for frame, world in zip(batch.frames, world_frames, strict=True):
        assert frame.objects, f"frame {world.index}: no detections"
        truth = [(o.x, o.y, o.w, o.h) for o in world.objects]
        for obj in frame.objects:
            assert obj.confidence >= 0.5
            assert obj.obj_label == LABELS[obj.class_id]
            assert obj.unique_component_id == 1
            assert obj.object_id == UNTRACKED_OBJECT_ID
            # every detection is a vehicle of the world (some are mostly hidden ones)
            assert max(iou(obj, t) for t in truth) >= 0.3, (world.index, obj)
        for vehicle in world.objects:
            if vehicle.visibility < 0.5:
                continue
            best = max(frame.objects, key=lambda o: iou(o, (vehicle.x, vehicle.y, vehicle.w, vehicle.h)))
            assert iou(best, (vehicle.x, vehicle.y, vehicle.w, vehicle.h)) >= 0.5, (world.index, vehicle)
            assert best.class_id == vehicle.class_id, (world.index, vehicle, best)
        [(name, t_in, t_out)] = frame.latency
        assert name == "primary-inference" and t_in <= t_out


def test_same_boxes_as_the_detector_contract(app_config: Path, world_frames: list[WorldFrame]) -> None:
    """The app config's preprocessing is the contract's (plain bilinear resize, RGB, /255)."""
    config = load_inferserver_config(app_config)
    with NvInferServer(config, backend=OnnxRuntimeBackend.for_config(config)) as element:
        batch = element.process(make_batch([f.image for f in world_frames]))
    detector = OnnxDetector(resolve_model(MODEL).onnx, threads=1)
    rows = detector.infer(np.stack([preprocess(f.image) for f in world_frames]))
    for frame, frame_rows in zip(batch.frames, rows, strict=True):
        want = to_frame_boxes(frame_rows, 1280, 720, min_score=0.4999)
        got = sorted(frame.objects, key=lambda o: -o.confidence)
        assert len(got) == len(want)
        for obj, box, score, class_id in zip(got, want.boxes, want.scores, want.class_ids, strict=True):
            assert obj.class_id == class_id
            assert obj.confidence == pytest.approx(score, abs=1e-4)
            assert [obj.left, obj.top, obj.right, obj.bottom] == pytest.approx(box.tolist(), abs=0.05)


# --- the element's steps, against a scripted backend ---------------------------------------------


class ScriptedBackend(InferBackend):
    """Records what it is fed and answers with ``respond(feed)``."""

    def __init__(
        self,
        respond: Callable[[Mapping[str, np.ndarray]], dict[str, np.ndarray]] | None = None,
        *,
        inputs: dict[str, TensorSpec] | None = None,
        outputs: dict[str, TensorSpec] | None = None,
        max_batch_size: int = 8,
        input_format: str | None = "LINEAR",
    ) -> None:
        self.model_name = "rtdetr"
        self.inputs = inputs or {"input": TensorSpec((3, 640, 640), "FP32")}
        self.outputs = outputs or {"output": TensorSpec((300, 6), "FP32")}
        self.max_batch_size = max_batch_size
        self.input_format = input_format
        self.respond = respond or (
            lambda feed: {"output": np.zeros((len(next(iter(feed.values()))), 300, 6), np.float32)}
        )
        self.calls: list[dict[str, np.ndarray]] = []
        self.closed = False

    def infer(self, inputs: Mapping[str, np.ndarray], outputs: Sequence[str]) -> dict[str, np.ndarray]:
        self.calls.append({n: a.copy() for n, a in inputs.items()})
        return self.respond(inputs)

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    model = tmp_path / "models" / "rtdetr"
    model.mkdir(parents=True)
    for name in ("config.pbtxt", "labels.txt"):
        shutil.copy(MODEL / name, model / name)
    return tmp_path


def config_with(app_dir: Path, *edits: tuple[str, str]) -> Path:
    text = APP_CONFIG.read_text(encoding="utf-8")
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new)
    path = app_dir / "config.yml"
    path.write_text(text, encoding="utf-8")
    return path


def solid(b: int, g: int, r: int, width: int = 1280, height: int = 720) -> np.ndarray:
    image = np.empty((height, width, 3), np.uint8)
    image[:] = (b, g, r)
    return image


def one_row(row: Sequence[float]) -> Callable[[Mapping[str, np.ndarray]], dict[str, np.ndarray]]:
    def respond(feed: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        out = np.zeros((len(next(iter(feed.values()))), 300, 6), np.float32)
        out[:, 0] = row
        return {"output": out}

    return respond


def test_letterbox_colour_and_normalisation(app_dir: Path) -> None:
    path = config_with(
        app_dir,
        ("maintain_aspect_ratio: 0", "maintain_aspect_ratio: 1"),
        ("symmetric_padding: 0", "symmetric_padding: 1"),
        ("scale_factor: 0.0039215697906911373", "scale_factor: 0.5"),
        ("channel_offsets: [0.0, 0.0, 0.0]", "channel_offsets: [10, 20, 30]"),
    )
    backend = ScriptedBackend()
    with NvInferServer(path, backend=backend) as element:
        element.process(make_batch([solid(b=40, g=80, r=120)]))
    [call] = backend.calls
    tensor = call["input"][0]
    assert tensor.shape == (3, 640, 640) and tensor.dtype == np.float32
    # 1280×720 → 640×360 in the middle: 140 rows of black padding above and below
    for channel, (value, offset) in enumerate([(120, 10), (80, 20), (40, 30)]):  # R, G, B
        assert np.all(tensor[channel, 140:500] == 0.5 * (value - offset))
        assert np.all(tensor[channel, :140] == 0.5 * -offset)
        assert np.all(tensor[channel, 500:] == 0.5 * -offset)


def test_bgr_nhwc_and_bottom_right_padding(app_dir: Path) -> None:
    path = config_with(
        app_dir,
        ("IMAGE_FORMAT_RGB", "IMAGE_FORMAT_BGR"),
        ("TENSOR_ORDER_LINEAR", "TENSOR_ORDER_NHWC"),
        ("maintain_aspect_ratio: 0", "maintain_aspect_ratio: 1"),
        ("scale_factor: 0.0039215697906911373", "scale_factor: 1.0"),
    )
    backend = ScriptedBackend(inputs={"input": TensorSpec((640, 640, 3), "FP32")}, input_format="NHWC")
    with NvInferServer(path, backend=backend) as element:
        element.process(make_batch([solid(b=40, g=80, r=120)]))
    tensor = backend.calls[0]["input"][0]
    assert tensor.shape == (640, 640, 3)
    assert tensor[:360].reshape(-1, 3).tolist()[0] == [40, 80, 120]  # BGR as the frame
    assert np.all(tensor[:360] == [40, 80, 120])
    assert np.all(tensor[360:] == 0)


def test_gray(app_dir: Path) -> None:
    path = config_with(
        app_dir,
        ("IMAGE_FORMAT_RGB", "IMAGE_FORMAT_GRAY"),
        ("channel_offsets: [0.0, 0.0, 0.0]", "channel_offsets: [0.0]"),
        ("scale_factor: 0.0039215697906911373", "scale_factor: 1.0"),
    )
    backend = ScriptedBackend(inputs={"input": TensorSpec((1, 320, 320), "FP32")})
    with NvInferServer(path, backend=backend) as element:
        element.process(make_batch([solid(b=100, g=100, r=100)]))
    tensor = backend.calls[0]["input"][0]
    assert tensor.shape == (1, 320, 320)
    assert np.all(tensor == 100)


@pytest.mark.parametrize(
    ("aspect", "symmetric"), [(0, 0), (1, 0), (1, 1)], ids=["plain", "letterbox", "symmetric"]
)
def test_objects_come_back_in_muxer_pixels(app_dir: Path, aspect: int, symmetric: int) -> None:
    path = config_with(
        app_dir,
        ("maintain_aspect_ratio: 0", f"maintain_aspect_ratio: {aspect}"),
        ("symmetric_padding: 0", f"symmetric_padding: {symmetric}"),
    )
    # a truck at (200, 100)-(600, 400) in a 1280×720 frame, as the network sees it
    sx, sy = 0.5, (0.5 if aspect else 640 / 720)
    top = 140 if symmetric else 0
    row = (200 * sx, 100 * sy + top, 600 * sx, 400 * sy + top, 0.8, 1.0)
    with NvInferServer(path, backend=ScriptedBackend(one_row(row))) as element:
        [frame] = element.process(make_batch([solid(0, 0, 0)])).frames
    [obj] = frame.objects
    assert (obj.class_id, obj.obj_label, obj.unique_component_id) == (1, "truck", 1)
    assert obj.confidence == pytest.approx(0.8)
    assert [obj.left, obj.top, obj.right, obj.bottom] == pytest.approx([200, 100, 600, 400], abs=1e-3)


def test_batches_follow_max_batch_size(app_dir: Path) -> None:
    backend = ScriptedBackend()
    path = config_with(app_dir, ("max_batch_size: 4", "max_batch_size: 2"))
    with NvInferServer(path, backend=backend) as element:
        batch = element.process(make_batch([solid(0, 0, 0, 64, 48)] * 5))
    assert [len(c["input"]) for c in backend.calls] == [2, 2, 1]
    assert all(len(f.latency) == 1 for f in batch.frames)


def test_interval_skips_batches(app_dir: Path) -> None:
    backend = ScriptedBackend(one_row((10, 10, 100, 100, 0.9, 0)))
    path = config_with(app_dir, ("interval: 0", "interval: 2"))
    with NvInferServer(path, backend=backend) as element:
        batches = [element.process(make_batch([solid(0, 0, 0)])) for _ in range(4)]
    assert [len(b.frames[0].objects) for b in batches] == [1, 0, 0, 1]
    assert len(backend.calls) == 2
    assert all(len(b.frames[0].latency) == 1 for b in batches)  # skipped frames are marked too


def test_tensor_meta(app_dir: Path) -> None:
    path = config_with(app_dir, ("output_tensor_meta: false", "output_tensor_meta: true"))
    with NvInferServer(path, backend=ScriptedBackend()) as element:
        [frame] = element.process(make_batch([solid(0, 0, 0)])).frames
    [meta] = frame.user_meta
    assert isinstance(meta, NvDsInferTensorMeta)
    assert meta.unique_id == 1 and meta.network_info.width == 640
    dims = meta.output_layers_info(0).inferDims
    assert (meta.output_layers_info(0).layerName, list(dims.d[: dims.numDims])) == ("output", [300, 6])


def test_official_rtdetr_gets_orig_target_sizes(app_dir: Path) -> None:
    path = config_with(
        app_dir,
        ('tensor_name: "input"', 'tensor_name: "images"'),
        ('"NvDsInferParseYolo"', '"NvDsInferParseRTDETR"'),
    )

    def respond(feed: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        n = len(feed["images"])
        boxes = np.zeros((n, 300, 4), np.float32)
        boxes[:, 0] = (320, 320, 480, 400)
        scores = np.zeros((n, 300), np.float32)
        scores[:, 0] = 0.9
        return {"labels": np.full((n, 300), 3, np.int64), "boxes": boxes, "scores": scores}

    backend = ScriptedBackend(
        respond,
        inputs={"images": TensorSpec((3, 640, 640), "FP32"), "orig_target_sizes": TensorSpec((2,), "INT64")},
        outputs={
            "labels": TensorSpec((300,), "INT64"),
            "boxes": TensorSpec((300, 4), "FP32"),
            "scores": TensorSpec((300,), "FP32"),
        },
    )
    with NvInferServer(path, backend=backend) as element:
        [frame, _] = element.process(make_batch([solid(0, 0, 0)] * 2)).frames
    sizes = backend.calls[0]["orig_target_sizes"]
    assert sizes.dtype == np.int64 and sizes.tolist() == [[640, 640], [640, 640]]
    [obj] = frame.objects
    assert obj.obj_label == "motorcycle"
    assert [obj.left, obj.top, obj.right, obj.bottom] == pytest.approx([640, 360, 960, 450], abs=1e-3)


def test_model_with_an_input_nvinferserver_does_not_feed(app_dir: Path) -> None:
    backend = ScriptedBackend(
        inputs={"input": TensorSpec((3, 640, 640), "FP32"), "mask": TensorSpec((640, 640), "FP32")}
    )
    with pytest.raises(ConfigError, match="second input 'mask'"):
        NvInferServer(config_with(app_dir), backend=backend)
    assert backend.closed


def test_parser_and_model_layout_must_agree(app_dir: Path) -> None:
    path = config_with(app_dir)
    backend = ScriptedBackend(outputs={"output0": TensorSpec((300, 84), "FP32")})
    with pytest.raises(ConfigError) as info:
        NvInferServer(path, backend=backend)
    err = info.value
    assert "does not fit NvDsInferParseYolo" in str(err)
    assert "output0 [300, 84]" in (err.hint or "")
    assert err.line == next(
        i for i, line in enumerate(path.read_text().splitlines(), 1) if "custom_parse_bbox_func" in line
    )


def test_frames_must_be_bgr_images(app_dir: Path) -> None:
    with (
        NvInferServer(config_with(app_dir), backend=ScriptedBackend()) as element,
        pytest.raises(ValueError, match="BGR uint8"),
    ):
        element.process(make_batch([np.zeros((48, 64), np.uint8)]))


@pytest.mark.parametrize("fmt", ["IMAGE_FORMAT_RGB", "IMAGE_FORMAT_BGR"])
def test_tensor_is_the_normalised_resized_frame(app_dir: Path, fmt: str) -> None:
    """``scale × (resize(frame) − offset)`` in the network's channel order, NCHW, float32."""
    path = config_with(
        app_dir,
        ("network_format: IMAGE_FORMAT_RGB", f"network_format: {fmt}"),
        ("scale_factor: 0.0039215697906911373", "scale_factor: 0.0172"),
        ("channel_offsets: [0.0, 0.0, 0.0]", "channel_offsets: [123.675, 116.28, 103.53]"),
        ("frame_scaling_filter: 1", "frame_scaling_filter: 3"),
    )
    rng = np.random.default_rng(7)
    image = rng.integers(0, 256, (720, 1280, 3), dtype=np.uint8)
    with NvInferServer(path, backend=ScriptedBackend()) as element:
        tensor, geometry = element.preprocess(image)
        slot = element.input_batch(2)[1]
        assert element.tensor("BGR", (image,), geometry, out=slot) is slot
    resized = cv2.resize(image, (640, 640), interpolation=cv2.INTER_AREA).astype(np.float32)
    if fmt == "IMAGE_FORMAT_RGB":
        resized = resized[..., ::-1]
    want = (0.0172 * (resized - np.float32([123.675, 116.28, 103.53]))).transpose(2, 0, 1)
    assert tensor.shape == (3, 640, 640) and tensor.dtype == np.float32
    np.testing.assert_allclose(tensor, want, rtol=0, atol=1e-5)
    np.testing.assert_array_equal(slot, tensor)
