"""Per-inference round-trip through the harness's Triton, against ONNX Runtime in-process.

The model has the seed detector's interface (input ``input`` FP32 [3, 640, 640], output
``output`` FP32 [300, 6], max_batch_size 4) and a small conv stem, so that one inference costs a
few milliseconds in ONNX Runtime and the 4.9 MB input dominates transport cost, as a camera frame
does. Both sides use the same ONNX Runtime thread count, so the ratios measure what serving adds
(protocol, copies, python backend IPC), not a different compute setup.

Modes are interleaved (one request of each per round) so that load from other processes on a
shared machine hits all modes alike; figures are medians and 95th percentiles in milliseconds, and
``ratio_*`` divides by the direct ONNX Runtime figure of the same run.
"""

from __future__ import annotations

import itertools
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

INPUT_SHAPE = (1, 3, 640, 640)
THREADS = 2
WARMUP = 10

CONFIG = f"""\
name: "detector"
platform: "onnxruntime_onnx"
max_batch_size: 4
input [ {{ name: "input" data_type: TYPE_FP32 format: FORMAT_NCHW dims: [ 3, 640, 640 ] }} ]
output [ {{ name: "output" data_type: TYPE_FP32 dims: [ 300, 6 ] }} ]
dynamic_batching {{ }}
instance_group [ {{ count: 1 kind: KIND_CPU }} ]
parameters {{ key: "intra_op_thread_count" value: {{ string_value: "{THREADS}" }} }}
"""


def detector_model() -> onnx.ModelProto:
    """Three stride-2 3x3 convs (3→8→16→32), global pool, a linear head to 300x6 boxes."""
    rng = np.random.default_rng(0)
    nodes, inits = [], []
    channels = [3, 8, 16, 32]
    x = "input"
    for i, (cin, cout) in enumerate(itertools.pairwise(channels)):
        w = (rng.standard_normal((cout, cin, 3, 3)) / np.sqrt(cin * 9)).astype(np.float32)
        inits += [
            numpy_helper.from_array(w, f"w{i}"),
            numpy_helper.from_array(np.zeros(cout, np.float32), f"b{i}"),
        ]
        nodes += [
            helper.make_node("Conv", [x, f"w{i}", f"b{i}"], [f"c{i}"], strides=[2, 2], pads=[1, 1, 1, 1]),
            helper.make_node("Relu", [f"c{i}"], [f"r{i}"]),
        ]
        x = f"r{i}"
    head = (rng.standard_normal((32, 300 * 6)) / np.sqrt(32)).astype(np.float32)
    inits += [
        numpy_helper.from_array(head, "head"),
        numpy_helper.from_array(np.array([-1, 300, 6], dtype=np.int64), "box_shape"),
    ]
    nodes += [
        helper.make_node("GlobalAveragePool", [x], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["flat"]),
        helper.make_node("MatMul", ["flat", "head"], ["boxes"]),
        helper.make_node("Reshape", ["boxes", "box_shape"], ["output"]),
    ]
    graph = helper.make_graph(
        nodes,
        "roundtrip_detector",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 640, 640])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 300, 6])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def write_repository(root: Path) -> Path:
    model_dir = root / "detector"
    (model_dir / "1").mkdir(parents=True)
    (model_dir / "config.pbtxt").write_text(CONFIG)
    onnx.save(detector_model(), str(model_dir / "1" / "model.onnx"))
    return root


def _stats(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"median_ms": round(statistics.median(ordered) * 1e3, 3), "p95_ms": round(p95 * 1e3, 3)}


def measure(repeats: int = 200) -> dict:
    """Round-trip median/p95 per mode and ratios to direct ONNX Runtime; starts its own Triton."""
    import onnxruntime as ort

    from harness.services.triton import SystemSharedMemoryIO, TritonServer, infer

    frame = np.random.default_rng(1).standard_normal(INPUT_SHAPE).astype(np.float32)
    output_bytes = {"output": INPUT_SHAPE[0] * 300 * 6 * 4}
    with tempfile.TemporaryDirectory(prefix="edge-harness-bench-") as tmp:
        repo = write_repository(Path(tmp) / "models")
        options = ort.SessionOptions()
        options.intra_op_num_threads = THREADS
        options.inter_op_num_threads = 1
        session = ort.InferenceSession(
            str(repo / "detector/1/model.onnx"), sess_options=options, providers=["CPUExecutionProvider"]
        )
        with TritonServer(repo) as server:
            http, grpc = server.http_client(), server.grpc_client()
            http_shm = SystemSharedMemoryIO(http, "detector", {"input": frame}, output_bytes)
            grpc_shm = SystemSharedMemoryIO(grpc, "detector", {"input": frame}, output_bytes)
            try:
                modes: dict[str, Callable[[], np.ndarray]] = {
                    "onnxruntime": lambda: session.run(["output"], {"input": frame})[0],
                    "triton_http": lambda: infer(http, "detector", {"input": frame}, ["output"])["output"],
                    "triton_grpc": lambda: infer(grpc, "detector", {"input": frame}, ["output"])["output"],
                    "triton_http_shm": lambda: http_shm.infer({"input": frame})["output"],
                    "triton_grpc_shm": lambda: grpc_shm.infer({"input": frame})["output"],
                }
                reference = modes["onnxruntime"]()
                for name, run in modes.items():  # same answer everywhere, and warm
                    for _ in range(WARMUP):
                        out = run()
                    if not np.allclose(out, reference, rtol=1e-4, atol=1e-5):
                        raise RuntimeError(f"{name} returns different outputs than ONNX Runtime")
                samples: dict[str, list[float]] = {name: [] for name in modes}
                for _ in range(repeats):
                    for name, run in modes.items():
                        t0 = time.perf_counter()
                        run()
                        samples[name].append(time.perf_counter() - t0)
            finally:
                http_shm.close()
                grpc_shm.close()
                http.close()
                grpc.close()
    results = {name: _stats(values) for name, values in samples.items()}
    base = results["onnxruntime"]
    for name, figures in results.items():
        if name != "onnxruntime":
            figures["ratio_median"] = round(figures["median_ms"] / base["median_ms"], 2)
            figures["ratio_p95"] = round(figures["p95_ms"] / base["p95_ms"], 2)
    return {
        "model": {
            "input": list(INPUT_SHAPE),
            "output": [INPUT_SHAPE[0], 300, 6],
            "onnxruntime_threads": THREADS,
            "onnxruntime_version": ort.__version__,
        },
        "repeats": repeats,
        "cpus": len(os.sched_getaffinity(0)),
        "baseline": "onnxruntime",
        "results": results,
    }


if __name__ == "__main__":
    print(json.dumps(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 200), indent=2))
