"""Acceptance: a deepstream-ssd-parser style app (apps/deepstream_tensor_parser.py) on a world clip.

The traffic app's detector runs twice on every frame: nvinfer parses its output itself
(``config_infer_primary_rtdetr.txt``, ONNX Runtime in-process), then nvinferserver serves the same
model through the real tritonserver with ``postprocess { other {} }`` and ``output_tensor_meta``,
and the app's probe parses that tensor meta in Python through pyds (layer info, ctypes and numpy
at the buffer's address) into object metas of its own. The objects the app parsed must be the
ones nvinfer's parser made on the same frames.
"""

from __future__ import annotations

import json
import shutil
from typing import Any

import pytest
from acceptance import APPS, detector_folder, elementary_stream, imported_top_level, run_app, world_clip

pytestmark = pytest.mark.integration

APP = APPS / "deepstream_tensor_parser.py"
NVINFER, APP_PARSER = 1, 5  # the unique ids of nvinfer and of the nvinferserver whose tensors the app parses
SECONDS, FPS = 2, 30


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One run on a 2 s world clip (seed 2004: cars and trucks)."""
    base = tmp_path_factory.mktemp("tensor-parser-app")
    clip = elementary_stream(world_clip(base / "world", seed=2004, seconds=SECONDS))
    work = detector_folder(base / "work")
    shutil.copy(APPS / "dstest_rtdetr_nopostprocess.txt", work / "dstest_rtdetr_nopostprocess.txt")
    out = base / "objects.jsonl"
    result = run_app([str(APP), str(clip), "--objects-out", str(out)], cwd=work, timeout=600)
    assert result.returncode == 0, result.tail()
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    return {
        "frames": [r for r in records if "objects" in r],
        "tensors": [r["tensor"] for r in records if "tensor" in r],
    }


def _objects(frame: dict[str, Any], gie: int) -> list[dict[str, Any]]:
    return sorted((o for o in frame["objects"] if o["gie"] == gie), key=lambda o: (o["class_id"], o["box"]))


def test_every_frame_carries_the_tensor_meta_as_pyds_describes_it(run: dict[str, Any]) -> None:
    tensors = run["tensors"]
    assert [t["frame"] for t in tensors] == list(range(SECONDS * FPS))
    for tensor in tensors:
        assert (tensor["unique_id"], tensor["network"]) == (APP_PARSER, [640, 640, 3])
        [layer] = tensor["layers"]
        assert (layer["name"], layer["data_type"], layer["dims"], layer["elements"]) == (
            "output",
            0,  # NvDsInferDataType.FLOAT
            [300, 6],
            1800,
        )
        assert 0 <= layer["first"] <= 640  # x1 of the first row, read with pyds.get_detections


def test_the_app_parses_the_objects_nvinfers_parser_makes(run: dict[str, Any]) -> None:
    frames = run["frames"]
    assert [f["frame"] for f in frames] == list(range(SECONDS * FPS))
    compared = 0
    for frame in frames:
        ours, theirs = _objects(frame, APP_PARSER), _objects(frame, NVINFER)
        assert len(ours) == len(theirs), frame
        for mine, reference in zip(ours, theirs, strict=True):
            assert mine["class_id"] == reference["class_id"], frame
            # the same ONNX model in two ONNX Runtimes (Triton's and the in-process one)
            assert mine["box"] == pytest.approx(reference["box"], abs=0.5), frame
            assert mine["confidence"] == pytest.approx(reference["confidence"], abs=1e-3), frame
            compared += 1
    assert compared >= SECONDS * FPS  # the clip has traffic in every frame: the check compared boxes


def test_the_app_imports_nothing_of_edge_harness() -> None:
    imported = imported_top_level(APP)
    assert {"gi", "pyds", "numpy", "ctypes"} <= imported and not imported & {"harness", "fake_device"}
