"""The shipped detectors honour the seed's RT-DETR contract, and the evaluation metric is right.

The contract is what DeepStream's parser and Triton's config rely on; a model that breaks it
fails on the device, after the over-the-air update. The metric tests use hand-made cases with
known answers, so they test this project's conversion to COCO (boxes, crowd regions, the
agnostic merge, the per-class read-out), not only pycocotools.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from onnx import TensorProto, helper

from harness.errors import HarnessError
from harness.eval import (
    INPUT_SIZE,
    MAX_DETECTIONS,
    FrameDetections,
    FrameTruth,
    OnnxDetector,
    coco_metrics,
    compare_rows,
    parse_seeds,
    preprocess,
    resolve_model,
    to_frame_boxes,
)
from harness.eval.metrics import AGNOSTIC_NAME
from harness.eval.run import check_held_out
from harness.lint.model_repo import validate_model_repository
from harness.world import CLASS_NAMES, WorldParams, iter_world

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2] / "models_repo"
VARIANTS = {"A": (1, ("vehicle",)), "B": (2, CLASS_NAMES)}


def _onnx_file(variant: str) -> Path:
    version, _ = VARIANTS[variant]
    return REPO / variant / "rtdetr" / str(version) / "model.onnx"


@pytest.fixture(scope="module")
def frames() -> np.ndarray:
    """Four preprocessed frames of a held-out world, a second apart (different traffic)."""
    images = [
        preprocess(f.image)
        for f in iter_world(WorldParams(seed=9000, seconds=4.0))
        if (f.index - 1) % 30 == 0
    ]
    return np.stack(images[:4])


@pytest.fixture(scope="module", params=sorted(VARIANTS))
def variant(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="module")
def detector(variant: str) -> OnnxDetector:
    return OnnxDetector(_onnx_file(variant))


# --- the committed models ----------------------------------------------------------------------


def _dims(value: onnx.ValueInfoProto) -> list[int | str]:
    return [d.dim_param if d.dim_param else d.dim_value for d in value.type.tensor_type.shape.dim]


def test_graph_declares_the_contract(variant: str) -> None:
    path = _onnx_file(variant)
    assert path.stat().st_size < 10 * 1024 * 1024
    model = onnx.load(str(path))
    onnx.checker.check_model(model)
    initializers = {i.name for i in model.graph.initializer}
    (graph_input,) = [i for i in model.graph.input if i.name not in initializers]
    (graph_output,) = model.graph.output
    assert graph_input.name == "input"
    assert graph_output.name == "output"
    assert graph_input.type.tensor_type.elem_type == TensorProto.FLOAT
    assert graph_output.type.tensor_type.elem_type == TensorProto.FLOAT
    in_dims, out_dims = _dims(graph_input), _dims(graph_output)
    assert isinstance(in_dims[0], str) and in_dims[0], "batch must be symbolic"
    assert in_dims[1:] == [3, INPUT_SIZE, INPUT_SIZE]
    assert isinstance(out_dims[0], str) and out_dims[0], "batch must be symbolic"
    assert out_dims[1:] == [MAX_DETECTIONS, 6]


def test_model_repository_validates_and_has_labels(variant: str) -> None:
    report = validate_model_repository(REPO / variant)
    assert report.errors == [], report.format()
    version, labels = VARIANTS[variant]
    files = resolve_model(REPO / variant)
    assert files.onnx == _onnx_file(variant)
    assert files.labels == labels
    assert (REPO / variant / "rtdetr" / "PROVENANCE.json").is_file()
    assert [p.name for p in (REPO / variant / "rtdetr").iterdir() if p.is_dir()] == [str(version)]


def test_output_values_are_in_range(variant: str, detector: OnnxDetector, frames: np.ndarray) -> None:
    rows = detector.infer(frames)
    assert rows.shape == (4, MAX_DETECTIONS, 6)
    assert rows.dtype == np.float32
    assert np.isfinite(rows).all()
    boxes, scores, classes = rows[..., :4], rows[..., 4], rows[..., 5]
    assert boxes.min() >= 0.0 and boxes.max() <= INPUT_SIZE
    assert (boxes[..., 2] >= boxes[..., 0]).all() and (boxes[..., 3] >= boxes[..., 1]).all()
    assert scores.min() >= 0.0 and scores.max() <= 1.0
    assert (np.diff(scores, axis=1) <= 0).all(), "rows must be sorted by score, highest first"
    assert (classes == np.round(classes)).all()
    assert classes.min() >= 0 and classes.max() < len(VARIANTS[variant][1])
    assert (scores[:, 0] > 0.5).all(), "each frame has vehicles: the best row is confident"


def test_batch_of_four_equals_four_single_frames(detector: OnnxDetector, frames: np.ndarray) -> None:
    batched = detector.infer(frames)
    singles = np.concatenate([detector.infer(frames[k : k + 1]) for k in range(len(frames))])
    for comparison in (compare_rows(batched, singles), compare_rows(singles, batched)):
        assert comparison.compared >= len(frames)
        assert comparison.within(box_atol=1e-3, score_atol=1e-5), comparison


# --- mapping back to the frame -----------------------------------------------------------------


def test_rows_map_back_to_the_1280x720_frame() -> None:
    rows = np.zeros((MAX_DETECTIONS, 6), np.float32)
    rows[0] = [320, 320, 640, 640, 0.9, 2]
    rows[1] = [0, 0, 64, 64, 0.2, 0]
    found = to_frame_boxes(rows, 1280, 720, min_score=0.1)
    assert len(found) == 2
    np.testing.assert_allclose(found.boxes, [[640, 360, 1280, 720], [0, 0, 128, 72]])
    assert found.class_ids.tolist() == [2, 0]
    assert found.scores.tolist() == pytest.approx([0.9, 0.2])


def test_preprocess_is_a_plain_rgb_resize() -> None:
    frame = np.zeros((720, 1280, 3), np.uint8)
    frame[:, :, 0] = 255  # pure blue in BGR
    x = preprocess(frame)
    assert x.shape == (3, INPUT_SIZE, INPUT_SIZE) and x.dtype == np.float32
    assert x[2].min() == 1.0 and x[0].max() == 0.0  # blue lands in channel 2 (RGB)


# --- the metric on hand-made cases -------------------------------------------------------------


def _truth(
    *boxes: tuple[float, float, float, float], classes: list[int] | None = None, ignore=None
) -> FrameTruth:
    n = len(boxes)
    return FrameTruth(
        np.array(boxes, np.float64).reshape(n, 4),
        np.array(classes if classes is not None else [0] * n, np.int64),
        np.array(ignore if ignore is not None else [False] * n, bool),
    )


def _dets(*rows: tuple[float, float, float, float, float, int]) -> FrameDetections:
    arr = np.array(rows, np.float64).reshape(len(rows), 6)
    return FrameDetections(arr[:, :4], arr[:, 4], arr[:, 5].astype(np.int64))


BOX = (100.0, 100.0, 200.0, 200.0)
OTHER = (400.0, 300.0, 460.0, 340.0)
#: COCO interpolates precision at 101 recall points; recall 0.5 at precision 1 covers 51 of them
HALF_RECALL_AP = 51 / 101


def test_perfect_detections_score_one() -> None:
    truth = {1: _truth(BOX, OTHER, classes=[0, 3]), 2: _truth(OTHER, classes=[1])}
    dets = {1: _dets((*BOX, 0.9, 0), (*OTHER, 0.8, 3)), 2: _dets((*OTHER, 0.7, 1))}
    m = coco_metrics(truth, dets, CLASS_NAMES)
    assert m.map50 == pytest.approx(1.0) and m.map == pytest.approx(1.0) and m.recall50 == pytest.approx(1.0)
    assert m.per_class["car"].ap == pytest.approx(1.0)
    assert m.per_class["bus"].ap is None  # no bus anywhere: left out of the mean, not a zero
    assert m.per_class["motorcycle"].truth == 1


def test_shifted_box_scores_by_its_iou() -> None:
    # shifted 20 px in x: IoU = 80*100 / (120*100) = 0.667 -> a hit at IoU 0.50, 0.55, 0.60, 0.65 only
    shifted = (120.0, 100.0, 220.0, 200.0)
    m = coco_metrics({1: _truth(BOX)}, {1: _dets((*shifted, 0.9, 0))}, CLASS_NAMES)
    assert m.map50 == pytest.approx(1.0)
    assert m.map == pytest.approx(0.4)
    assert m.map75 == pytest.approx(0.0)
    # shifted 50 px: IoU 1/3, a miss even at 0.5 (and a false positive)
    far = (150.0, 100.0, 250.0, 200.0)
    m = coco_metrics({1: _truth(BOX)}, {1: _dets((*far, 0.9, 0))}, CLASS_NAMES)
    assert m.map50 == pytest.approx(0.0) and m.recall50 == pytest.approx(0.0)


def test_missing_detection_halves_recall() -> None:
    m = coco_metrics({1: _truth(BOX, OTHER)}, {1: _dets((*BOX, 0.9, 0))}, CLASS_NAMES)
    assert m.recall50 == pytest.approx(0.5)
    assert m.map50 == pytest.approx(HALF_RECALL_AP)


def test_false_positive_ranked_first_lowers_precision() -> None:
    # a wrong box scored above the right one: precision 1/2 at recall 1
    m = coco_metrics({1: _truth(BOX)}, {1: _dets((*OTHER, 0.9, 0), (*BOX, 0.5, 0))}, CLASS_NAMES)
    assert m.recall50 == pytest.approx(1.0)
    assert m.map50 == pytest.approx(0.5)


def test_ignored_truth_neither_found_nor_missed() -> None:
    truth = {1: _truth(BOX, OTHER, ignore=[False, True])}
    with_hit = coco_metrics(truth, {1: _dets((*BOX, 0.9, 0), (*OTHER, 0.95, 0))}, CLASS_NAMES)
    without = coco_metrics(truth, {1: _dets((*BOX, 0.9, 0))}, CLASS_NAMES)
    assert with_hit.map50 == pytest.approx(1.0) and without.map50 == pytest.approx(1.0)
    assert with_hit.per_class["car"].truth == 1


def test_wrong_class_fails_class_aware_but_not_agnostic() -> None:
    truth = {1: _truth(BOX, classes=[1])}  # a truck
    dets = {1: _dets((*BOX, 0.9, 0))}  # called a car
    assert coco_metrics(truth, dets, CLASS_NAMES).map50 == pytest.approx(0.0)
    agnostic = coco_metrics(truth, dets, [AGNOSTIC_NAME], agnostic=True)
    assert agnostic.map50 == pytest.approx(1.0)
    assert list(agnostic.per_class) == [AGNOSTIC_NAME]


def test_frames_without_detections_count_as_misses() -> None:
    m = coco_metrics({1: _truth(BOX), 2: _truth(OTHER)}, {1: _dets((*BOX, 0.9, 0))}, CLASS_NAMES)
    assert m.recall50 == pytest.approx(0.5)
    empty = coco_metrics({1: _truth(BOX)}, {}, CLASS_NAMES)
    assert empty.map50 == pytest.approx(0.0)


# --- bad input -----------------------------------------------------------------------------------


def _write_model(path: Path, input_name: str, input_shape: list, output_shape: list) -> Path:
    """A tiny graph with the given I/O: the evaluation must reject it before running anything."""
    inp = helper.make_tensor_value_info(input_name, TensorProto.FLOAT, input_shape)
    out = helper.make_tensor_value_info("output", TensorProto.FLOAT, output_shape)
    nodes = [
        helper.make_node("ReduceMean", [input_name], ["m"], axes=[1, 2, 3], keepdims=0),
        helper.make_node("Reshape", ["m", "shape"], ["r"]),
        helper.make_node("Expand", ["r", "full"], ["output"]),
    ]
    inits = [
        helper.make_tensor("shape", TensorProto.INT64, [3], [-1, 1, 1]),
        helper.make_tensor("full", TensorProto.INT64, [3], [1, *[int(d) for d in output_shape[1:]]]),
    ]
    graph = helper.make_graph(nodes, "g", [inp], [out], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, str(path))
    return path


def test_wrong_output_shape_names_the_tensor(tmp_path: Path) -> None:
    path = _write_model(tmp_path / "yolo.onnx", "input", ["N", 3, 640, 640], ["N", 84, 8400])
    with pytest.raises(HarnessError) as err:
        OnnxDetector(path)
    text = str(err.value)
    assert "tensor 'output' has shape [N, 84, 8400]" in text and "[batch, 300, 6]" in text


def test_wrong_input_name_is_reported(tmp_path: Path) -> None:
    path = _write_model(tmp_path / "m.onnx", "images", ["N", 3, 640, 640], ["N", 300, 6])
    with pytest.raises(HarnessError, match=r"no input 'input' \(it has: 'images'"):
        OnnxDetector(path)


def test_wrong_input_size_is_reported(tmp_path: Path) -> None:
    path = _write_model(tmp_path / "m.onnx", "input", ["N", 3, 320, 320], ["N", 300, 6])
    with pytest.raises(
        HarnessError, match=r"'input' has shape \[N, 3, 320, 320\].*\n.*\[batch, 3, 640, 640\]"
    ):
        OnnxDetector(path)


def test_missing_and_unreadable_models(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="model not found"):
        resolve_model(tmp_path / "nope.onnx")
    (tmp_path / "model.plan").write_bytes(b"\0")
    with pytest.raises(HarnessError, match="not an ONNX model"):
        resolve_model(tmp_path / "model.plan")
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a protobuf")
    with pytest.raises(HarnessError, match="ONNX Runtime cannot load"):
        OnnxDetector(broken)
    with pytest.raises(HarnessError, match=r"no config\.pbtxt"):
        resolve_model(tmp_path)


def test_seed_lists() -> None:
    assert parse_seeds("9000-9004") == [9000, 9001, 9002, 9003, 9004]
    assert parse_seeds("9000, 9002,9001-9002") == [9000, 9002, 9001]
    for bad, message in (("9004-9000", "ends before it starts"), ("90a0", "not a seed"), ("", "not a seed")):
        with pytest.raises(HarnessError, match=message):
            parse_seeds(bad)
    with pytest.raises(HarnessError, match="reserved for training"):
        check_held_out([9000, 1500])


@pytest.fixture
def cli() -> Iterator[CliRunner]:
    yield CliRunner()


def test_cli_reports_metrics_and_writes_json(cli: CliRunner, tmp_path: Path) -> None:
    import json

    from harness.cli.eval import eval_group

    out = tmp_path / "b.json"
    result = cli.invoke(
        eval_group,
        [
            "detector",
            "--model",
            str(REPO / "B"),
            "--seeds",
            "9000",
            "--seconds",
            "2",
            "--every",
            "15",
            "--json",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "agnostic" in result.output
    document = json.loads(out.read_text())
    assert document["world"]["frames"] == 4
    assert document["class_aware"]["per_class"]["car"]["truth"] > 0
    assert 0.0 <= document["agnostic"]["map50"] <= 1.0


def test_cli_rejects_bad_input(cli: CliRunner, tmp_path: Path) -> None:
    from harness.cli.eval import eval_group

    result = cli.invoke(eval_group, ["detector", "--model", str(tmp_path / "none.onnx")])
    assert result.exit_code == 1 and "model not found" in result.output
    result = cli.invoke(eval_group, ["detector", "--model", str(REPO / "A"), "--seeds", "9005-9001"])
    assert result.exit_code == 1 and "ends before it starts" in result.output
    result = cli.invoke(eval_group, ["detector", "--model", str(REPO / "A"), "--seeds", "1000"])
    assert result.exit_code == 1 and "reserved for training" in result.output
