"""Export a trained network as the seed's ``rtdetr`` model and lay out its Triton model directory.

The exported graph is checked three ways before it is written into ``models_repo``: the ONNX
checker, ONNX Runtime against PyTorch on real world frames (the same preprocessing the harness
uses), and the harness's own model repository validator — the repository must be one that
``edge-harness lint models`` accepts without errors, or the over-the-air update would ship a
model Triton refuses.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from net import CenterNet, ExportedDetector

from harness.eval.contract import INPUT_NAME, INPUT_SIZE, MAX_DETECTIONS, OUTPUT_NAME, compare_rows
from harness.lint.model_repo import validate_model_repository

OPSET = 17
MODEL_NAME = "rtdetr"
MODEL_FILE = "model.onnx"
MAX_BATCH_SIZE = 4
#: ONNX Runtime and PyTorch run the same float32 graph; kernels differ in summation order
BOX_ATOL, SCORE_ATOL = 1e-3, 1e-5

CONFIG_TEMPLATE = """\
# The traffic detector in the seed's RT-DETR layout (DeepStream-Yolo's RT-DETR parser reads it):
# input: RGB 640x640 scaled to [0, 1], a plain resize of the 1280x720 frame (no letterbox);
# output: top-300 rows x1, y1, x2, y2 (pixels of the 640x640 input), score, class id; no NMS.
# Classes: labels.txt ({labels}). Produced by scenarios/traffic/model/train.py; see PROVENANCE.json.
name: "{name}"
platform: "onnxruntime_onnx"
max_batch_size: {max_batch}
default_model_filename: "{model_file}"
input [
  {{
    name: "{input}"
    data_type: TYPE_FP32
    format: FORMAT_NCHW
    dims: [ 3, {size}, {size} ]
  }}
]
output [
  {{
    name: "{output}"
    data_type: TYPE_FP32
    dims: [ {dets}, 6 ]
  }}
]
dynamic_batching {{ }}
instance_group [
  {{
    count: 1
    kind: KIND_GPU
    gpus: [ 0 ]
  }}
]
"""


def export_onnx(net: CenterNet, path: Path) -> None:
    """Trace the decode-included detector to ONNX with a symbolic batch dimension."""
    model = ExportedDetector(net).eval()
    example = torch.zeros(1, 3, INPUT_SIZE, INPUT_SIZE)
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(
            model,
            (example,),
            str(path),
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,
        )
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    proto.doc_string = "edge-harness traffic detector (CenterNet-style, RT-DETR output layout)"
    onnx.save(proto, str(path))


def verify_against_torch(net: CenterNet, path: Path, batch: np.ndarray) -> dict[str, float]:
    """Run ``batch`` (``[N, 3, 640, 640]``) through ONNX Runtime and PyTorch; fail on any difference.

    Confident rows are matched by content (``compare_rows``): two runtimes may order peaks of
    practically equal score differently, which changes nothing downstream.
    """
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    got = session.run([OUTPUT_NAME], {INPUT_NAME: batch})[0]
    with torch.no_grad():
        want = ExportedDetector(net).eval()(torch.from_numpy(batch)).numpy()
    if got.shape != want.shape or got.shape[1:] != (MAX_DETECTIONS, 6):
        raise AssertionError(f"ONNX output shape {got.shape}, PyTorch {want.shape}")
    comparison = compare_rows(got, want)
    if not comparison.within(BOX_ATOL, SCORE_ATOL):
        raise AssertionError(f"ONNX Runtime differs from PyTorch: {comparison}")
    return {
        "frames": int(batch.shape[0]),
        "compared_rows": comparison.compared,
        "max_abs_box_diff_px": comparison.max_box_diff,
        "max_abs_score_diff": comparison.max_score_diff,
    }


def write_model_directory(repository: Path, version: int, onnx_file: Path, labels: Sequence[str]) -> Path:
    """``<repository>/rtdetr/{config.pbtxt, labels.txt, <version>/model.onnx}``; old versions removed.

    Each variant's repository is what its component version ships, so it holds exactly one
    version directory.
    """
    model_dir = repository / MODEL_NAME
    if model_dir.exists():
        for child in model_dir.iterdir():
            if child.is_dir() and child.name.isdigit():
                shutil.rmtree(child)
    (model_dir / str(version)).mkdir(parents=True, exist_ok=True)
    shutil.copyfile(onnx_file, model_dir / str(version) / MODEL_FILE)
    (model_dir / "labels.txt").write_text("".join(f"{label}\n" for label in labels))
    (model_dir / "config.pbtxt").write_text(
        CONFIG_TEMPLATE.format(
            name=MODEL_NAME,
            max_batch=MAX_BATCH_SIZE,
            model_file=MODEL_FILE,
            input=INPUT_NAME,
            output=OUTPUT_NAME,
            size=INPUT_SIZE,
            dets=MAX_DETECTIONS,
            labels=", ".join(labels),
        )
    )
    report = validate_model_repository(repository)
    if report.errors:
        raise AssertionError(f"the written model repository does not validate:\n{report.format()}")
    return model_dir


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
