"""Bounding-box parsers, DeepStream's clustering and the way back to muxer pixels, on synthetic tensors."""

from __future__ import annotations

import numpy as np
import pytest

from fake_device.deepstream.bbox_parsers import (
    BUILTIN_PARSER,
    PARSERS,
    Detections,
    LayoutError,
    NetworkInfo,
    cluster_nms,
    filter_detections,
    layout_problem,
    map_to_frame,
    parse_detectnet,
    parse_rtdetr,
    parse_rtdetr_ultralytics,
    parse_yolo,
    parse_yolo_cuda,
    scale_geometry,
)

pytestmark = pytest.mark.unit

NET = NetworkInfo(640, 640, 3)
THRESHOLDS = (0.5, 0.3, 0.5, 0.5)


def yolo_rows(*rows: tuple[float, ...]) -> dict[str, np.ndarray]:
    table = np.zeros((300, 6), np.float32)  # the tail of a top-300 output is zeros
    table[: len(rows)] = rows
    return {"output": table}


def as_tuples(detections: Detections) -> list[tuple[int, float, list[float]]]:
    return [
        (int(c), round(float(s), 4), [round(float(v), 3) for v in b])
        for b, s, c in zip(detections.boxes, detections.scores, detections.class_ids, strict=True)
    ]


# --- NvDsInferParseYolo --------------------------------------------------------------------------


def test_yolo_thresholds_per_class() -> None:
    got = parse_yolo(
        yolo_rows(
            (10, 20, 110, 70, 0.9, 0),  # kept
            (10, 20, 110, 70, 0.4, 0),  # under class 0's 0.5
            (10, 20, 110, 70, 0.4, 1),  # over class 1's 0.3
            (10, 20, 110, 70, 0.5, 2),  # equal to the threshold: kept (the test is score < thr)
        ),
        NET,
        THRESHOLDS,
    )
    assert as_tuples(got) == [
        (0, 0.9, [10, 20, 100, 50]),
        (1, 0.4, [10, 20, 100, 50]),
        (2, 0.5, [10, 20, 100, 50]),
    ]


def test_yolo_class_id_is_truncated_and_range_checked() -> None:
    got = parse_yolo(
        yolo_rows((0, 0, 50, 50, 0.9, 1.99), (0, 0, 50, 50, 0.9, 4.0), (0, 0, 50, 50, 0.9, -1.0)),
        NET,
        THRESHOLDS,
    )
    assert got.class_ids.tolist() == [1]  # 1.99 → 1 as a C cast; 4 and -1 are not classes


def test_yolo_clamps_to_the_network_and_drops_tiny_boxes() -> None:
    got = parse_yolo(
        yolo_rows(
            (-20, -10, 100, 50, 0.9, 0),  # clamped to the top-left corner
            (600, 600, 700, 700, 0.9, 0),  # clamped to 640 (not 639)
            (700, 10, 800, 50, 0.9, 0),  # entirely right of the network: width 0 → dropped
            (10, 10, 10.9, 50, 0.9, 0),  # 0.9 px wide → dropped
            (10, 10, 11.0, 50, 0.9, 0),  # exactly 1 px → kept
        ),
        NET,
        THRESHOLDS,
    )
    assert [b for _, _, b in as_tuples(got)] == [[0, 0, 100, 50], [600, 600, 40, 40], [10, 10, 1, 40]]


def test_yolo_zero_rows_do_not_become_objects_even_at_threshold_zero() -> None:
    got = parse_yolo(yolo_rows((10, 10, 60, 60, 0.8, 3)), NET, (0.0,) * 4)
    assert len(got) == 1  # 299 zero rows pass the threshold but are 0 px wide


def test_yolo_cuda_keeps_every_row() -> None:
    rows = yolo_rows((10, 10, 60, 60, 0.8, 3), (5, 5, 5.5, 40, 0.9, 1), (10, 10, 60, 60, 0.1, 2))
    got = parse_yolo_cuda(rows, NET, THRESHOLDS)
    assert len(got) == 300
    assert as_tuples(got)[:3] == [
        (3, 0.8, [10, 10, 50, 50]),
        (1, 0.9, [5, 5, 0.5, 35]),  # under one pixel, kept by the CUDA parser
        (0, 0.0, [0, 0, 0, 0]),  # under its threshold: a zero object of class 0
    ]
    # DeepStream's own filter then drops the zero objects, unless class 0's threshold is 0
    assert len(filter_detections(got, THRESHOLDS)) == 2
    assert len(filter_detections(parse_yolo_cuda(rows, NET, (0.0,) * 4), (0.0,) * 4)) == 300


def test_yolo_layout_is_checked() -> None:
    with pytest.raises(LayoutError, match=r"\[N, 6\]"):
        parse_yolo({"output": np.zeros((300, 8), np.float32)}, NET, THRESHOLDS)


# --- RT-DETR layouts -----------------------------------------------------------------------------


def test_official_rtdetr_layout() -> None:
    outputs = {
        "labels": np.array([2, 0, 1], np.int64),
        "boxes": np.array([[100, 100, 200, 150], [0, 0, 0.5, 10], [300, 300, 660, 400]], np.float32),
        "scores": np.array([0.95, 0.9, 0.2], np.float32),
    }
    got = parse_rtdetr(outputs, NET, THRESHOLDS)
    assert as_tuples(got) == [(2, 0.95, [100, 100, 100, 50])]  # tiny box dropped, 0.2 < 0.3
    assert as_tuples(parse_rtdetr(outputs, NET, (0.0,) * 4))[1] == (1, 0.2, [300, 300, 340, 100])


def test_official_rtdetr_needs_its_output_names() -> None:
    with pytest.raises(LayoutError, match="no output named labels, scores"):
        parse_rtdetr({"boxes": np.zeros((300, 4), np.float32)}, NET, THRESHOLDS)


def test_ultralytics_layout() -> None:
    rows = np.zeros((300, 4 + 4), np.float32)
    rows[0] = [0.5, 0.25, 0.25, 0.125, 0.1, 0.7, 0.2, 0.0]  # class 1 at 0.7
    rows[1] = [0.1, 0.1, 0.1, 0.1, 0.9, 0.0, 0.0, 0.0]  # class 0 at 0.9, box 64 px, top-left clamped
    got = parse_rtdetr_ultralytics({"output0": rows}, NET, THRESHOLDS)
    assert as_tuples(got) == [(1, 0.7, [240, 120, 160, 80]), (0, 0.9, [32, 32, 64, 64])]


def test_layout_problem_names_the_mismatch() -> None:
    assert layout_problem("NvDsInferParseYolo", {"output": (300, 6)}) is None
    assert layout_problem("NvDsInferParseRTDETRUltralytics", {"output0": (300, 84)}) is None
    assert (
        layout_problem("NvDsInferParseRTDETR", {"labels": (300,), "boxes": (300, 4), "scores": (300,)})
        is None
    )
    problem = layout_problem("NvDsInferParseYolo", {"output0": (300, 84)})
    assert problem is not None and "[300, 84]" in problem
    problem = layout_problem("NvDsInferParseRTDETR", {"output": (300, 6)})
    assert problem is not None and "labels" in problem
    assert set(PARSERS) == {
        "NvDsInferParseYolo",
        "NvDsInferParseYoloCuda",
        "NvDsInferParseRTDETR",
        "NvDsInferParseRTDETRUltralytics",
    }


# --- clustering ----------------------------------------------------------------------------------


def dets(*rows: tuple[float, float, float, float, float, int]) -> Detections:
    array = np.array([r[:5] for r in rows], np.float32).reshape(-1, 5)
    return Detections(array[:, :4], array[:, 4], np.array([r[5] for r in rows], np.int64))


def test_filter_drops_unconfigured_classes_and_low_scores() -> None:
    got = filter_detections(
        dets((0, 0, 10, 10, 0.6, 0), (0, 0, 10, 10, 0.6, 7), (0, 0, 10, 10, 0.2, 1)), THRESHOLDS
    )
    assert got.class_ids.tolist() == [0]


def test_nms_is_per_class_with_iou_at_most_the_threshold_kept() -> None:
    got = cluster_nms(
        dets(
            (0, 0, 100, 100, 0.8, 0),
            (0, 0, 100, 90, 0.9, 0),  # IoU 0.9 with the first: suppresses it
            (0, 0, 100, 100, 0.7, 1),  # another class: kept
            (50, 0, 100, 100, 0.6, 0),  # IoU with (0,0,100,90) = 4500/14500 ≈ 0.31: kept at 0.5
            (0, 0, 100, 100, 0.5, 2),
        ),
        iou_threshold=0.5,
    )
    # class by class, best first within a class
    assert [(int(c), round(float(s), 2)) for s, c in zip(got.scores, got.class_ids, strict=True)] == [
        (0, 0.9),
        (0, 0.6),
        (1, 0.7),
        (2, 0.5),
    ]


def test_nms_topk_keeps_the_best_overall() -> None:
    got = cluster_nms(
        dets(
            (0, 0, 10, 10, 0.8, 0),
            (100, 0, 10, 10, 0.9, 1),
            (200, 0, 10, 10, 0.5, 0),
            (300, 0, 10, 10, 0.7, 2),
        ),
        iou_threshold=0.5,
        topk=2,
    )
    assert got.scores.tolist() == pytest.approx([0.9, 0.8])


# --- scaling and mapping back --------------------------------------------------------------------


def test_plain_resize_geometry() -> None:
    g = scale_geometry(1280, 720, NET, maintain_aspect_ratio=False, symmetric_padding=False)
    assert (g.dst_width, g.dst_height, g.offset_left, g.offset_top) == (640, 640, 0, 0)
    assert (g.scale_x, g.scale_y) == (0.5, pytest.approx(640 / 720))


def test_letterbox_geometry() -> None:
    g = scale_geometry(1280, 720, NET, maintain_aspect_ratio=True, symmetric_padding=False)
    assert (g.dst_width, g.dst_height, g.offset_left, g.offset_top) == (640, 360, 0, 0)
    assert g.scale_x == g.scale_y == 0.5
    g = scale_geometry(1280, 720, NET, maintain_aspect_ratio=True, symmetric_padding=True)
    assert (g.dst_width, g.dst_height, g.offset_left, g.offset_top) == (640, 360, 0, 140)
    g = scale_geometry(480, 640, NetworkInfo(640, 384, 3), maintain_aspect_ratio=True, symmetric_padding=True)
    assert (g.dst_width, g.dst_height, g.offset_left, g.offset_top) == (288, 384, 176, 0)


def test_odd_sizes_round_down_to_even() -> None:
    # the crop is the frame rounded down to even (1280×1000), then 640 × 1000/1280 = 500 rows
    g = scale_geometry(1281, 1001, NET, maintain_aspect_ratio=True, symmetric_padding=True)
    assert (g.src_width, g.src_height) == (1280, 1000)
    assert (g.dst_width, g.dst_height, g.offset_top) == (640, 500, 70)
    g = scale_geometry(
        1280, 720, NetworkInfo(641, 361, 3), maintain_aspect_ratio=False, symmetric_padding=False
    )
    assert (g.dst_width, g.dst_height) == (640, 360)


@pytest.mark.parametrize(
    ("aspect", "symmetric"),
    [(False, False), (True, False), (True, True)],
    ids=["plain", "letterbox", "symmetric"],
)
def test_a_box_goes_through_the_network_and_back(aspect: bool, symmetric: bool) -> None:
    """Put frame boxes into network pixels as the scaling does, parse them, map them back."""
    frame_boxes = np.array([[100.0, 50.0, 300.0, 250.0], [1000.0, 600.0, 1270.0, 710.0]])
    g = scale_geometry(1280, 720, NET, maintain_aspect_ratio=aspect, symmetric_padding=symmetric)
    net_boxes = frame_boxes * [g.scale_x, g.scale_y, g.scale_x, g.scale_y]
    net_boxes += [g.offset_left, g.offset_top, g.offset_left, g.offset_top]
    rows = [(*b, 0.9, 0) for b in net_boxes]
    back = map_to_frame(parse_yolo(yolo_rows(*rows), NET, THRESHOLDS), g)
    xyxy = back.boxes.copy()
    xyxy[:, 2:] += xyxy[:, :2]
    np.testing.assert_allclose(xyxy, frame_boxes, atol=1e-3)


def test_boxes_in_the_padding_are_not_clipped_to_the_frame() -> None:
    """DeepStream does not clip after mapping back: a box in the bottom padding lands below the frame."""
    g = scale_geometry(1280, 720, NET, maintain_aspect_ratio=True, symmetric_padding=False)
    back = map_to_frame(parse_yolo(yolo_rows((0, 350, 100, 400, 0.9, 0)), NET, THRESHOLDS), g)
    assert back.boxes[0].tolist() == pytest.approx([0, 700, 200, 100])
    assert back.boxes[0, 1] + back.boxes[0, 3] > 720


def test_an_objects_crop_rounds_its_corner_up_and_its_size_down() -> None:
    """get_converted_buffer / resizeBatch: corner up to even, size down to even; nvinfer keeps odd sizes."""
    net = NetworkInfo(224, 224, 3)
    g = scale_geometry(
        101.7, 60.2, net, maintain_aspect_ratio=True, symmetric_padding=False, left=33.4, top=9.9
    )
    assert (g.src_left, g.src_top, g.src_width, g.src_height) == (34, 10, 100, 60)
    assert (g.dst_width, g.dst_height) == (224, 134)  # 224 * 60 / 100 = 134.4
    odd = scale_geometry(
        100, 62, net, maintain_aspect_ratio=True, symmetric_padding=False, even_destination=False
    )
    assert (odd.dst_width, odd.dst_height) == (224, 138)  # 138.88 truncated, not rounded to even
    assert scale_geometry(100, 62, net, maintain_aspect_ratio=True, symmetric_padding=False).dst_height == 138
    odd = scale_geometry(
        100, 66, net, maintain_aspect_ratio=True, symmetric_padding=False, even_destination=False
    )
    assert odd.dst_height == 147
    with pytest.raises(ValueError, match="too small"):
        scale_geometry(1.9, 40, net, maintain_aspect_ratio=False, symmetric_padding=False, left=10, top=10)


# --- the built-in DetectNet_v2 parser ------------------------------------------------------------


def detectnet(classes: int = 2, grid: tuple[int, int] = (4, 6)) -> dict[str, np.ndarray]:
    h, w = grid
    return {
        "output_bbox/BiasAdd": np.zeros((4 * classes, h, w), np.float32),
        "output_cov/Sigmoid": np.zeros((classes, h, w), np.float32),
    }


def test_detectnet_cells_become_boxes_around_their_centres() -> None:
    """A cell's box is (centre - x1 offset, centre + x2 offset) × 35, the centre being (i*stride+0.5)/35."""
    net = NetworkInfo(96, 64, 3)  # a 4×6 grid: stride 16
    out = detectnet()
    cov, bbox = out["output_cov/Sigmoid"], out["output_bbox/BiasAdd"]
    cov[1, 2, 3] = 0.8  # class 1, row 2, column 3: centre (48.5, 32.5) / 35
    bbox[4:8, 2, 3] = [10 / 35, 5 / 35, 20 / 35, 6 / 35]  # x1, y1, x2, y2 offsets for class 1
    cov[0, 0, 0] = 0.29  # under class 0's threshold
    cov[0, 3, 5] = 0.3  # equal to it: kept
    got = parse_detectnet(out, net, [0.3, 0.5])
    assert got.class_ids.tolist() == [0, 1]
    assert got.scores.tolist() == pytest.approx([0.3, 0.8])
    # class 1: x1 = 48.5 - 10, y1 = 32.5 - 5, x2 = 48.5 + 20, y2 = 32.5 + 6
    np.testing.assert_allclose(got.boxes[1], [38.5, 27.5, 30.0, 11.0], atol=1e-4)
    # class 0 cell (3, 5) with zero offsets is a box of the centre point only
    np.testing.assert_allclose(got.boxes[0], [80.5, 48.5, 0.0, 0.0], atol=1e-4)


def test_detectnet_clips_to_the_network_and_drops_crossed_corners() -> None:
    net = NetworkInfo(96, 64, 3)
    out = detectnet(classes=1)
    cov, bbox = out["output_cov/Sigmoid"], out["output_bbox/BiasAdd"]
    cov[0, 0, 0] = cov[0, 3, 5] = cov[0, 1, 1] = 0.9
    bbox[:, 0, 0] = [5, 5, -0.1, -0.1]  # x1, y1 at -175: clipped to 0; x2, y2 below 0 too: a 0×0 box
    bbox[:, 3, 5] = [0, 0, 5, 5]  # x2, y2 far beyond the network: width - 1, height - 1
    bbox[:, 1, 1] = [-2, 0, 0, 0]  # x1 = (0.47 + 2) * 35 > x2 = 0.47 * 35: crossed, dropped
    got = parse_detectnet(out, net, [0.5])
    assert len(got) == 2
    np.testing.assert_allclose(got.boxes[0], [0, 0, 0, 0], atol=1e-4)
    np.testing.assert_allclose(got.boxes[1], [80.5, 48.5, 95 - 80.5, 63 - 48.5], atol=1e-4)


def test_detectnet_layout_problems() -> None:
    assert (
        layout_problem(BUILTIN_PARSER, {"output_bbox/BiasAdd": (8, 4, 6), "output_cov/Sigmoid": (2, 4, 6)})
        is None
    )
    assert "no output name contains 'cov'" in str(layout_problem(BUILTIN_PARSER, {"output": (300, 6)}))
    problem = layout_problem(BUILTIN_PARSER, {"bbox": (4, 4, 6), "cov": (2, 4, 6)})
    assert problem is not None and "expected [8, 4, 6]" in problem
