"""Tiny ONNX models that really look at their input, for the inference-element tests.

Each computes its answer from the pixels it gets, so a test that pushes a red square through an
element checks the whole way: surface planes → colour conversion → scaling → model → parser →
metadata in muxer pixels.

* :func:`box_finder` — a detector in DeepStream-Yolo's layout (``output [N, 1, 6]``): the box of
  the pixels brighter than 0.5 in any channel, the brightest value as score, and as class the
  channel with the highest mean (0 red, 1 green, 2 blue for an RGB network);
* :func:`colour_classifier` — a classifier (``probabilities [N, 3]``): softmax of 20 × the channel
  means;
* :func:`detectnet` — NVIDIA's DetectNet_v2 layout for the built-in parser: per 16×16 cell the
  share of bright pixels as coverage, and box offsets that make each cell's box the cell itself.

Tests call :func:`build`, which writes them from a child process: the ``onnx`` package loaded into
a process that already loaded OpenCV and then GStreamer makes ONNX Runtime crash (SIGSEGV/SIGABRT)
when it later parses an invalid model file, which other tests of the same session do on purpose.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

MODELS = ("box_finder", "colour_classifier", "detectnet")


def build(folder: Path, *names: str) -> Path:
    """Write the named models (all by default) as ``<name>.onnx`` into ``folder``."""
    subprocess.run([sys.executable, __file__, str(folder), *(names or MODELS)], check=True)
    return folder


def _save(graph: Any, path: Path) -> Path:
    import onnx
    from onnx import helper

    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def _bright_mask() -> list[Any]:
    """``input`` → ``mask`` [N, 1, H, W]: 1 where any channel is above 0.5."""
    from onnx import TensorProto, helper

    return [
        helper.make_node("ReduceMax", ["input"], ["bright"], axes=[1], keepdims=1),
        helper.make_node("Greater", ["bright", "half"], ["mask_bool"]),
        helper.make_node("Cast", ["mask_bool"], ["mask"], to=TensorProto.FLOAT),
    ]


def box_finder(path: Path, size: tuple[int, int] = (128, 128), input_name: str = "input") -> Path:
    from onnx import TensorProto, helper

    h, w = size
    image = helper.make_tensor_value_info(input_name, TensorProto.FLOAT, ["N", 3, h, w])
    out = helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 1, 6])
    constants = [
        helper.make_tensor("half", TensorProto.FLOAT, [], [0.5]),
        helper.make_tensor("one", TensorProto.FLOAT, [], [1.0]),
        helper.make_tensor("axis1", TensorProto.INT64, [1], [1]),
    ]
    nodes = [helper.make_node("Identity", [input_name], ["input"])] if input_name != "input" else []
    nodes += _bright_mask()
    nodes += [
        helper.make_node("ReduceMax", ["mask"], ["columns"], axes=[1, 2], keepdims=0),
        helper.make_node("ReduceMax", ["mask"], ["rows"], axes=[1, 3], keepdims=0),
        helper.make_node("ArgMax", ["columns"], ["x1_i"], axis=1, keepdims=1, select_last_index=0),
        helper.make_node("ArgMax", ["columns"], ["x2_i"], axis=1, keepdims=1, select_last_index=1),
        helper.make_node("ArgMax", ["rows"], ["y1_i"], axis=1, keepdims=1, select_last_index=0),
        helper.make_node("ArgMax", ["rows"], ["y2_i"], axis=1, keepdims=1, select_last_index=1),
    ]
    for name in ("x1", "y1", "x2_last", "y2_last"):
        source = name.replace("_last", "") + "_i"
        nodes.append(helper.make_node("Cast", [source], [name], to=TensorProto.FLOAT))
    nodes += [
        helper.make_node("Add", ["x2_last", "one"], ["x2"]),
        helper.make_node("Add", ["y2_last", "one"], ["y2"]),
        helper.make_node("ReduceMax", ["bright"], ["score"], axes=[2, 3], keepdims=0),
        helper.make_node("ReduceMean", ["input"], ["means"], axes=[2, 3], keepdims=0),
        helper.make_node("ArgMax", ["means"], ["class_i"], axis=1, keepdims=1),
        helper.make_node("Cast", ["class_i"], ["class"], to=TensorProto.FLOAT),
        helper.make_node("Concat", ["x1", "y1", "x2", "y2", "score", "class"], ["row"], axis=1),
        helper.make_node("Unsqueeze", ["row", "axis1"], ["output"]),
    ]
    return _save(helper.make_graph(nodes, "box_finder", [image], [out], initializer=constants), path)


def colour_classifier(path: Path, size: tuple[int, int] = (32, 32)) -> Path:
    from onnx import TensorProto, helper

    h, w = size
    image = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, h, w])
    out = helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 3])
    gain = helper.make_tensor("gain", TensorProto.FLOAT, [], [20.0])
    nodes = [
        helper.make_node("ReduceMean", ["input"], ["means"], axes=[2, 3], keepdims=0),
        helper.make_node("Mul", ["means", "gain"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
    ]
    return _save(helper.make_graph(nodes, "colour_classifier", [image], [out], initializer=[gain]), path)


def detectnet(path: Path, size: tuple[int, int] = (64, 64), cell: int = 16) -> Path:
    from onnx import TensorProto, helper

    h, w = size
    image = helper.make_tensor_value_info("input_1:0", TensorProto.FLOAT, ["N", 3, h, w])
    cov = helper.make_tensor_value_info(
        "output_cov/Sigmoid:0", TensorProto.FLOAT, ["N", 1, h // cell, w // cell]
    )
    bbox = helper.make_tensor_value_info(
        "output_bbox/BiasAdd:0", TensorProto.FLOAT, ["N", 4, h // cell, w // cell]
    )
    # a cell (i, j) has centre ((i*16 + 0.5) / 35, …); x1 = (o1 - c) * -35 and x2 = (o2 + c) * 35
    # give the cell's own edges with o1 = 0.5 / 35 and o2 = (cell - 0.5) / 35
    constants = [
        helper.make_tensor("half", TensorProto.FLOAT, [], [0.5]),
        helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0]),
        helper.make_tensor("near", TensorProto.FLOAT, [], [0.5 / 35]),
        helper.make_tensor("far", TensorProto.FLOAT, [], [(cell - 0.5) / 35]),
    ]
    nodes = [helper.make_node("Identity", ["input_1:0"], ["input"]), *_bright_mask()]
    nodes += [
        helper.make_node(
            "AveragePool", ["mask"], ["output_cov/Sigmoid:0"], kernel_shape=[cell, cell], strides=[cell, cell]
        ),
        helper.make_node("Mul", ["output_cov/Sigmoid:0", "zero"], ["zeros"]),
        helper.make_node("Add", ["zeros", "near"], ["x1"]),
        helper.make_node("Add", ["zeros", "far"], ["x2"]),
        helper.make_node("Concat", ["x1", "x1", "x2", "x2"], ["output_bbox/BiasAdd:0"], axis=1),
    ]
    return _save(helper.make_graph(nodes, "detectnet", [image], [cov, bbox], initializer=constants), path)


if __name__ == "__main__":
    target = Path(sys.argv[1])
    for name in sys.argv[2:]:
        globals()[name](target / f"{name}.onnx")
