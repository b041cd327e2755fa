"""The detector's I/O contract, as the seed's RT-DETR export and DeepStream-Yolo's parser define it.

One place for what every side must agree on: the training script builds its inputs with
:func:`preprocess`, the evaluation feeds ONNX Runtime with it, and the boxes come back to the
camera frame through :func:`to_frame_boxes`. If training and inference prepared frames even
slightly differently (letterbox vs. plain resize, BGR vs. RGB), the model would be scored on
inputs it never saw.

* input ``input``: FP32 ``[B, 3, 640, 640]``, RGB, values in [0, 1]; the camera frame is resized
  to 640×640 with a plain (anisotropic) bilinear resize, no letterbox — a 1280×720 frame is
  halved in x and shrunk by 0.889 in y;
* output ``output``: FP32 ``[B, 300, 6]``, one row per object: ``x1, y1, x2, y2`` in pixels of the
  640×640 input, ``score`` in [0, 1], ``class id`` as a float; rows sorted by score, highest
  first; no NMS needed downstream. The batch dimension is symbolic.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

INPUT_NAME = "input"
OUTPUT_NAME = "output"
INPUT_SIZE = 640
MAX_DETECTIONS = 300
ROW_FIELDS = ("x1", "y1", "x2", "y2", "score", "class_id")
INPUT_SHAPE = ("B", 3, INPUT_SIZE, INPUT_SIZE)
OUTPUT_SHAPE = ("B", MAX_DETECTIONS, len(ROW_FIELDS))


def resize_rgb(image_bgr: np.ndarray) -> np.ndarray:
    """The camera frame as the model sees it, still uint8: 640×640 RGB, HWC.

    The training data cache keeps this form (4× smaller than floats); :func:`preprocess` is
    this plus the scaling, so both paths share the resize exactly.
    """
    if image_bgr.ndim != 3 or image_bgr.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 BGR frame, got shape {image_bgr.shape}")
    resized = cv2.resize(image_bgr, (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_LINEAR)
    return cv2.cvtColor(resized, cv2.COLOR_BGR2RGB)


def preprocess(image_bgr: np.ndarray) -> np.ndarray:
    """A BGR camera frame → the model input for one image: FP32 ``[3, 640, 640]`` in [0, 1]."""
    rgb = resize_rgb(image_bgr)
    return np.ascontiguousarray(rgb.transpose(2, 0, 1), dtype=np.float32) / np.float32(255.0)


@dataclass(frozen=True)
class FrameDetections:
    """The model's rows for one frame, mapped back to the camera frame's pixels."""

    boxes: np.ndarray  # [N, 4] x1, y1, x2, y2 in frame pixels
    scores: np.ndarray  # [N]
    class_ids: np.ndarray  # [N] int

    def __len__(self) -> int:
        return len(self.scores)


def to_frame_boxes(
    rows: np.ndarray, frame_width: int, frame_height: int, *, min_score: float = 0.0
) -> FrameDetections:
    """One image's output rows ``[300, 6]`` → detections in the pixels of the original frame.

    The inverse of the plain resize is a per-axis scale, so a box keeps its corners' meaning.
    Rows at or below ``min_score`` are dropped (the tail of the top-300 is mostly zeros).
    """
    if rows.ndim != 2 or rows.shape[1] != len(ROW_FIELDS):
        raise ValueError(f"expected rows of shape [N, {len(ROW_FIELDS)}], got {rows.shape}")
    keep = rows[:, 4] > min_score
    kept = rows[keep]
    scale = np.array(
        [frame_width / INPUT_SIZE, frame_height / INPUT_SIZE] * 2,
        dtype=np.float64,
    )
    boxes = kept[:, :4].astype(np.float64) * scale
    boxes[:, 0::2] = boxes[:, 0::2].clip(0, frame_width)
    boxes[:, 1::2] = boxes[:, 1::2].clip(0, frame_height)
    return FrameDetections(
        boxes=boxes,
        scores=kept[:, 4].astype(np.float64),
        class_ids=np.rint(kept[:, 5]).astype(np.int64),
    )


@dataclass(frozen=True)
class RowComparison:
    """How two runs of the same model on the same input differ, over their confident rows."""

    compared: int  # confident rows of the reference
    unmatched: int  # of those, rows with no same-class row in the other output
    max_box_diff: float  # px in the 640×640 input
    max_score_diff: float

    def within(self, box_atol: float = 1e-3, score_atol: float = 1e-4) -> bool:
        return self.unmatched == 0 and self.max_box_diff <= box_atol and self.max_score_diff <= score_atol


def compare_rows(got: np.ndarray, want: np.ndarray, *, min_score: float = 0.01) -> RowComparison:
    """Match each of ``want``'s rows scored above ``min_score`` with ``got``'s closest same-class row.

    Two runtimes (PyTorch and ONNX Runtime, a batch of 1 and a batch of 4, Triton and direct)
    compute the same graph with different summation orders. Rows whose scores differ by less
    than that noise may trade places in the top-300, and near-zero rows are arbitrary, so rows
    are matched by content rather than compared by position.
    """
    if got.shape != want.shape:
        raise ValueError(f"outputs differ in shape: {got.shape} vs {want.shape}")
    compared = unmatched = 0
    box_diff = score_diff = 0.0
    for g_rows, w_rows in zip(
        got.reshape(-1, *got.shape[-2:]), want.reshape(-1, *want.shape[-2:]), strict=True
    ):
        for row in w_rows[w_rows[:, 4] > min_score]:
            compared += 1
            same = g_rows[g_rows[:, 5] == row[5]]
            if not len(same):
                unmatched += 1
                continue
            diffs = np.abs(same[:, :4] - row[:4]).max(axis=1)
            k = int(diffs.argmin())
            box_diff = max(box_diff, float(diffs[k]))
            score_diff = max(score_diff, float(abs(same[k, 4] - row[4])))
    return RowComparison(compared, unmatched, box_diff, score_diff)
