"""A tiny built-in model repository, served when no model repository is given.

It lets ``edge-harness services up --triton --check`` prove that tritonserver, the python backend
stub, ONNX Runtime emulation and both client protocols work on a machine before any real model is
involved. The model is built with ``onnx.helper`` (no weights to download) and laid out exactly as a
user's repository would be: ``smoke/config.pbtxt`` + ``smoke/1/model.onnx``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SMOKE_MODEL = "smoke"
#: opset/IR old enough for the ONNX Runtime builds JetPack ships, new enough for onnx 1.16+
OPSET = 17
IR_VERSION = 8

_CONFIG = """\
name: "smoke"
platform: "onnxruntime_onnx"
max_batch_size: 8
input [
  {
    name: "INPUT0"
    data_type: TYPE_FP32
    dims: [ 16 ]
  }
]
output [
  {
    name: "OUTPUT0"
    data_type: TYPE_FP32
    dims: [ 4 ]
  }
]
dynamic_batching { }
instance_group [ { count: 1, kind: KIND_CPU } ]
"""


def smoke_onnx_model() -> onnx.ModelProto:
    """``OUTPUT0 = Relu(INPUT0 @ W + b)`` with a dynamic batch dimension and fixed weights."""
    rng = np.random.default_rng(20261125)
    weight = rng.standard_normal((16, 4)).astype(np.float32)
    bias = rng.standard_normal(4).astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["INPUT0", "W"], ["xw"]),
            helper.make_node("Add", ["xw", "B"], ["pre"]),
            helper.make_node("Relu", ["pre"], ["OUTPUT0"]),
        ],
        "edge_harness_smoke",
        [helper.make_tensor_value_info("INPUT0", TensorProto.FLOAT, ["batch", 16])],
        [helper.make_tensor_value_info("OUTPUT0", TensorProto.FLOAT, ["batch", 4])],
        initializer=[numpy_helper.from_array(weight, "W"), numpy_helper.from_array(bias, "B")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model


def write_smoke_repository(dest: Path) -> Path:
    """Write the smoke model repository into ``dest`` (created if needed) and return ``dest``."""
    model_dir = dest / SMOKE_MODEL
    (model_dir / "1").mkdir(parents=True, exist_ok=True)
    (model_dir / "config.pbtxt").write_text(_CONFIG, encoding="utf-8")
    onnx.save(smoke_onnx_model(), str(model_dir / "1" / "model.onnx"))
    return dest
