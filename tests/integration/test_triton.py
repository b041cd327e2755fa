"""The Triton service against the real tritonserver: staging, both protocols, shared memory,
dynamic batching, version policy, explicit model control and start-up failures.

Every expected output is computed by running the source ONNX file directly in ONNX Runtime, so a
pass means the served model behaves like Triton's onnxruntime backend would.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from harness.errors import HarnessError, ValidationError
from harness.services.base import ServiceError
from harness.services.triton import (
    SystemSharedMemoryIO,
    TritonServer,
    infer,
    locate_tritonserver,
    run_onnxruntime,
)
from harness.services.triton_repository import (
    EMULATED_BACKEND_PARAM,
    ONNX_FILE_PARAM,
    stage_model_repository,
)

pytestmark = pytest.mark.integration

OPSET = 17
RTOL, ATOL = 1e-4, 1e-5
QUEUE_DELAY_US = 100_000  # long enough that concurrent requests on 2 busy cores meet in one batch

DETECTOR_CONFIG = f"""
name: "detector"
platform: "onnxruntime_onnx"
max_batch_size: 4
input [ {{ name: "images" data_type: TYPE_FP32 format: FORMAT_NCHW dims: [ 3, 16, 16 ] }} ]
output [
  {{ name: "features" data_type: TYPE_FP32 dims: [ 4, 16, 16 ] }},
  {{ name: "scores" data_type: TYPE_FP32 dims: [ 4 ] label_filename: "labels.txt" }}
]
dynamic_batching {{ max_queue_delay_microseconds: {QUEUE_DELAY_US} }}
instance_group [ {{ count: 1 kind: KIND_GPU gpus: [ 0 ] }} ]
optimization {{ execution_accelerators {{
  gpu_execution_accelerator : [ {{
    name : "tensorrt"
    parameters {{ key: "precision_mode" value: "FP16" }}
  }} ]
}} }}
"""

VERSIONED_CONFIG = """
name: "versioned"
platform: "onnxruntime_onnx"
max_batch_size: 0
version_policy: { latest: { num_versions: 1 } }
input [ { name: "x" data_type: TYPE_FP32 dims: [ 2, 8 ] } ]
output [ { name: "y" data_type: TYPE_FP32 dims: [ 2, 4 ] } ]
"""

ECHO_CONFIG = """
name: "echo"
backend: "python"
max_batch_size: 0
input [ { name: "IN" data_type: TYPE_INT32 dims: [ -1 ] } ]
output [ { name: "OUT" data_type: TYPE_INT32 dims: [ -1 ] } ]
"""

ENSEMBLE_CONFIG = """
name: "%s"
platform: "ensemble"
max_batch_size: 1
input [ { name: "images" data_type: TYPE_FP32 dims: [ 3, 16, 16 ] } ]
output [ { name: "scores" data_type: TYPE_FP32 dims: [ 4 ] } ]
ensemble_scheduling { step [ {
  model_name: "%s" model_version: -1
  input_map { key: "images" value: "images" } output_map { key: "scores" value: "scores" }
} ] }
"""

ECHO_MODEL_PY = """
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        responses = []
        for request in requests:
            value = pb_utils.get_input_tensor_by_name(request, "IN").as_numpy()
            responses.append(pb_utils.InferenceResponse([pb_utils.Tensor("OUT", value * 2)]))
        return responses
"""


# --- building model repositories -----------------------------------------------------------------


def _save(model: onnx.ModelProto, path: Path) -> None:
    model.ir_version = 8
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))


def detector_onnx(seed: int = 1) -> onnx.ModelProto:
    """Conv 3→4 + Relu → features; spatial mean → scores. Dynamic batch."""
    rng = np.random.default_rng(seed)
    weight = numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "W")
    bias = numpy_helper.from_array(rng.standard_normal(4).astype(np.float32), "B")
    graph = helper.make_graph(
        [
            helper.make_node("Conv", ["images", "W", "B"], ["conv"], pads=[1, 1, 1, 1]),
            helper.make_node("Relu", ["conv"], ["features"]),
            helper.make_node("ReduceMean", ["features"], ["scores"], axes=[2, 3], keepdims=0),
        ],
        "detector",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["N", 3, 16, 16])],
        [
            helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", 4, 16, 16]),
            helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", 4]),
        ],
        initializer=[weight, bias],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])


def linear_onnx(seed: int) -> onnx.ModelProto:
    """y = x @ W + b on a fixed [2, 8] input (no batch dimension)."""
    rng = np.random.default_rng(seed)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["xw"]), helper.make_node("Add", ["xw", "B"], ["y"])],
        "linear",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4])],
        initializer=[
            numpy_helper.from_array(rng.standard_normal((8, 4)).astype(np.float32), "W"),
            numpy_helper.from_array(rng.standard_normal(4).astype(np.float32), "B"),
        ],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])


def write_repository(root: Path) -> Path:
    detector = root / "detector"
    _save(detector_onnx(), detector / "1" / "model.onnx")
    (detector / "config.pbtxt").write_text(DETECTOR_CONFIG)
    (detector / "labels.txt").write_text("car\ntruck\nbus\nperson\n")
    versioned = root / "versioned"
    _save(linear_onnx(seed=1), versioned / "1" / "model.onnx")
    _save(linear_onnx(seed=2), versioned / "2" / "model.onnx")
    (versioned / "config.pbtxt").write_text(VERSIONED_CONFIG)
    echo = root / "echo"
    (echo / "1").mkdir(parents=True)
    (echo / "1" / "model.py").write_text(ECHO_MODEL_PY)
    (echo / "config.pbtxt").write_text(ECHO_CONFIG)
    return root


@pytest.fixture(scope="module")
def model_repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_repository(tmp_path_factory.mktemp("models"))


def _serve(server: TritonServer) -> Iterator[TritonServer]:
    try:
        server.start()
        yield server
    finally:
        server.stop()
        assert server.process is None


@pytest.fixture(scope="module")
def triton(model_repository: Path) -> Iterator[TritonServer]:
    yield from _serve(TritonServer(model_repository))


@pytest.fixture(scope="module")
def config(triton: TritonServer) -> dict:
    client = triton.http_client()
    try:
        return client.get_model_config("detector")
    finally:
        client.close()


def images(seed: int, batch: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((batch, 3, 16, 16)).astype(np.float32)


def assert_close(actual: dict[str, np.ndarray], expected: dict[str, np.ndarray]) -> None:
    assert set(actual) == set(expected)
    for name, want in expected.items():
        assert actual[name].shape == want.shape, name
        np.testing.assert_allclose(actual[name], want, rtol=RTOL, atol=ATOL, err_msg=name)


# --- serving ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_inference_matches_onnxruntime(
    triton: TritonServer, model_repository: Path, config: dict, protocol: str
) -> None:
    client = triton.http_client() if protocol == "http" else triton.grpc_client()
    inputs = {"images": images(seed=7)}
    try:
        served = infer(client, "detector", inputs, ["features", "scores"])
    finally:
        client.close()
    assert_close(served, run_onnxruntime(model_repository / "detector/1/model.onnx", config, inputs))


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_system_shared_memory_matches_onnxruntime(
    triton: TritonServer, model_repository: Path, config: dict, protocol: str
) -> None:
    client = triton.http_client() if protocol == "http" else triton.grpc_client()
    inputs = {"images": images(seed=8)}
    sizes = {"features": 4 * 4 * 16 * 16, "scores": 4 * 4}
    try:
        with SystemSharedMemoryIO(client, "detector", inputs, sizes) as shm:
            first = shm.infer(inputs)
            second_inputs = {"images": images(seed=9)}
            second = shm.infer(second_inputs)  # regions are reused across requests
        assert not _registered(client), "regions are unregistered on close"
    finally:
        client.close()
    onnx_file = model_repository / "detector/1/model.onnx"
    assert_close(first, run_onnxruntime(onnx_file, config, inputs))
    assert_close(second, run_onnxruntime(onnx_file, config, second_inputs))


def _registered(client: object) -> bool:
    status = client.get_system_shared_memory_status()  # type: ignore[attr-defined]
    return bool(getattr(status, "regions", status))  # gRPC: a message with a map; HTTP: a list


def test_dynamic_batching_runs_concurrent_requests_as_one_batch(
    triton: TritonServer, model_repository: Path, config: dict
) -> None:
    import tritonclient.http as httpclient

    client = triton.http_client(concurrency=4)
    try:
        before = client.get_inference_statistics("detector")["model_stats"][0]
        batches = [images(seed=100 + i) for i in range(4)]
        pending = []
        for batch in batches:
            item = httpclient.InferInput("images", list(batch.shape), "FP32")
            item.set_data_from_numpy(batch)
            pending.append(client.async_infer("detector", [item]))
        results = [p.get_result() for p in pending]
        after = client.get_inference_statistics("detector")["model_stats"][0]
    finally:
        client.close()
    inferences = int(after["inference_count"]) - int(before["inference_count"])
    executions = int(after["execution_count"]) - int(before["execution_count"])
    assert inferences == 4
    assert executions < inferences, f"{executions} executions for {inferences} requests: no batching"
    # Each request gets its own slice of the batch back.
    onnx_file = model_repository / "detector/1/model.onnx"
    for batch, result in zip(batches, results, strict=True):
        expected = run_onnxruntime(onnx_file, config, {"images": batch})
        assert_close({n: result.as_numpy(n) for n in expected}, expected)


def test_model_config_shows_the_emulation(config: dict) -> None:
    assert config["backend"] == "python"
    assert config["platform"] == ""
    assert config["parameters"][EMULATED_BACKEND_PARAM]["string_value"] == "onnxruntime_onnx"
    assert config["parameters"][ONNX_FILE_PARAM]["string_value"] == "model.onnx"
    assert [g["kind"] for g in config["instance_group"]] == ["KIND_CPU"]
    assert config["instance_group"][0]["count"] == 1
    assert config["instance_group"][0]["gpus"] == []
    assert "execution_accelerators" not in config.get("optimization", {}) or not any(
        config["optimization"]["execution_accelerators"].get(k)
        for k in ("gpu_execution_accelerator", "cpu_execution_accelerator")
    )
    # what clients rely on is kept
    assert config["max_batch_size"] == 4
    assert config["dynamic_batching"]["max_queue_delay_microseconds"] == QUEUE_DELAY_US
    assert config["input"][0]["format"] == "FORMAT_NCHW"
    assert [o["name"] for o in config["output"]] == ["features", "scores"]
    assert config["output"][1]["label_filename"] == "labels.txt"


def test_version_policy_is_honoured(triton: TritonServer, model_repository: Path) -> None:
    client = triton.http_client()
    try:
        assert client.is_model_ready("versioned", "2")
        assert not client.is_model_ready("versioned", "1")
        ready = {
            (m["name"], m.get("version"))
            for m in client.get_model_repository_index()
            if m.get("state") == "READY"
        }
        assert ("versioned", "2") in ready and ("versioned", "1") not in ready
        config = client.get_model_config("versioned")
        x = np.random.default_rng(3).standard_normal((2, 8)).astype(np.float32)
        served = infer(client, "versioned", {"x": x}, ["y"])  # no version: the latest
    finally:
        client.close()
    assert_close(served, run_onnxruntime(model_repository / "versioned/2/model.onnx", config, {"x": x}))
    v1 = run_onnxruntime(model_repository / "versioned/1/model.onnx", config, {"x": x})
    assert not np.allclose(served["y"], v1["y"])


def test_python_models_pass_through_untouched(triton: TritonServer, model_repository: Path) -> None:
    staged = triton.staged_repository / "echo"
    for name in ("config.pbtxt", "1/model.py"):
        assert (staged / name).read_bytes() == (model_repository / "echo" / name).read_bytes()
    client = triton.grpc_client()
    try:
        out = infer(client, "echo", {"IN": np.array([1, 2, 3], dtype=np.int32)}, ["OUT"])
    finally:
        client.close()
    np.testing.assert_array_equal(out["OUT"], [2, 4, 6])


def test_check_infers_every_model_through_both_protocols(triton: TritonServer) -> None:
    summary = triton.check()
    assert summary.startswith("3 models")
    assert "ONNX Runtime" in summary


def test_check_reports_a_mismatch_with_onnxruntime(
    triton: TritonServer, model_repository: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = triton.staging.models["versioned"]
    # Pretend the source of v2 is v1's file: what is served no longer matches it.
    monkeypatch.setitem(model.onnx_files, 2, model_repository / "versioned/1/model.onnx")
    with pytest.raises(ServiceError, match=r"versioned v2.*max abs diff"):
        triton.check()


def test_endpoints_and_environment(triton: TritonServer) -> None:
    assert set(triton.endpoints) == {"http", "grpc", "metrics"}
    assert all(url.startswith("127.0.0.1:") for url in triton.endpoints.values())
    assert triton.environment() == {
        "TRITON_HTTP_URL": triton.http_url,
        "TRITON_GRPC_URL": triton.grpc_url,
        "TRITON_METRICS_URL": triton.metrics_url,
    }
    import urllib.request

    with urllib.request.urlopen(f"http://{triton.metrics_url}/metrics", timeout=5) as response:
        assert b'nv_inference_request_success{model="detector"' in response.read()


# --- staging ---------------------------------------------------------------------------------------


def test_staging_warns_about_what_the_emulation_changes(
    model_repository: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="harness.services.triton_repository"):
        staged = stage_model_repository(model_repository, tmp_path / "staged")
    messages = [r.getMessage() for r in caplog.records if r.name == "harness.services.triton_repository"]
    assert any("'detector'" in m and "KIND_GPU" in m and "KIND_CPU" in m for m in messages)
    assert any("'detector'" in m and "tensorrt" in m for m in messages)
    assert sorted(staged.models) == ["detector", "echo", "versioned"]
    for version in (1, 2):
        assert (tmp_path / "staged/versioned" / str(version) / "model.py").is_file()
        assert (tmp_path / "staged/versioned" / str(version) / "model.onnx").is_file()
    assert (tmp_path / "staged/detector/labels.txt").is_file()


def test_unservable_models_are_skipped(model_repository: Path, tmp_path: Path) -> None:
    source = tmp_path / "source"
    write_repository(source)
    plan = source / "trt"
    (plan / "1").mkdir(parents=True)
    (plan / "1" / "model.plan").write_bytes(b"\0engine")
    (plan / "config.pbtxt").write_text(
        'name: "trt"\nplatform: "tensorrt_plan"\nmax_batch_size: 1\n'
        'input [ { name: "images" data_type: TYPE_FP32 dims: [ 3, 16, 16 ] } ]\n'
        'output [ { name: "scores" data_type: TYPE_FP32 dims: [ 4 ] } ]\n'
    )
    for name, step in (("pipeline", "detector"), ("trt_pipeline", "trt")):
        (source / name / "1").mkdir(parents=True)
        (source / name / "config.pbtxt").write_text(ENSEMBLE_CONFIG % (name, step))
    staged = stage_model_repository(source, tmp_path / "staged")
    assert "trt" in staged.skipped and "trt" not in staged.models
    assert not (tmp_path / "staged/trt").exists()
    assert "trt_pipeline" in staged.skipped  # its step would fail to load
    assert (tmp_path / "staged/pipeline/config.pbtxt").read_bytes() == (
        source / "pipeline/config.pbtxt"
    ).read_bytes()


# --- model control ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def explicit_repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_repository(tmp_path_factory.mktemp("explicit-models"))


@pytest.fixture(scope="module")
def triton_explicit(explicit_repository: Path) -> Iterator[TritonServer]:
    yield from _serve(TritonServer(explicit_repository, model_control_mode="explicit"))


def test_explicit_mode_loads_and_unloads_through_the_repository_api(triton_explicit: TritonServer) -> None:
    client = triton_explicit.http_client()
    try:
        assert client.is_server_ready()
        assert not client.is_model_ready("detector")
        client.load_model("detector")
        assert client.is_model_ready("detector")
        out = infer(client, "detector", {"images": images(seed=1)}, ["scores"])
        assert out["scores"].shape == (1, 4)
        client.unload_model("detector")
        assert not client.is_model_ready("detector")
    finally:
        client.close()
    assert triton_explicit.check() == "server ready, no model loaded"


def test_a_new_model_version_is_served_after_restage_and_reload(
    triton_explicit: TritonServer, explicit_repository: Path
) -> None:
    client = triton_explicit.grpc_client()
    try:
        client.load_model("versioned")
        assert client.is_model_ready("versioned", "2")
        _save(linear_onnx(seed=3), explicit_repository / "versioned/3/model.onnx")  # the OTA update
        triton_explicit.restage()
        client.load_model("versioned")  # explicit mode: a load request reloads what changed
        assert client.is_model_ready("versioned", "3")
        assert not client.is_model_ready("versioned", "2")
        assert triton_explicit.check() == "1 model, HTTP+gRPC inference matches ONNX Runtime"
        client.unload_model("versioned")
    finally:
        client.close()


# --- failures --------------------------------------------------------------------------------------


def _start_fails(server: TritonServer, error: type[HarnessError]) -> str:
    try:
        with pytest.raises(error) as info:
            server.start()
    finally:
        server.stop()
    assert server.process is None
    return str(info.value)


def test_a_broken_config_fails_start_with_a_validation_error(tmp_path: Path) -> None:
    source = write_repository(tmp_path / "models")
    (source / "versioned/config.pbtxt").write_text(
        'name: "versioned"\nplatform: "onnxruntime_onnx"\n输入 [ { name: "x" } ]\n'
    )
    message = _start_fails(TritonServer(source), ValidationError)
    assert str(source / "versioned/config.pbtxt") in message


def test_a_model_that_fails_to_load_fails_start_with_the_reason(tmp_path: Path) -> None:
    source = write_repository(tmp_path / "models")
    # Valid protobuf and a valid-looking config, but ONNX Runtime cannot create a session.
    graph = helper.make_graph(
        [helper.make_node("NoSuchOperator", ["x"], ["y"])],
        "broken",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4])],
    )
    _save(
        helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)]),
        source / "versioned/2/model.onnx",
    )
    message = _start_fails(TritonServer(source, startup_timeout=60), ServiceError)
    assert "failed to load model 'versioned' version 2" in message
    assert "NoSuchOperator" in message
    assert "| " in message  # the log tail is attached


def test_a_python_model_that_raises_fails_start_with_the_reason(tmp_path: Path) -> None:
    source = write_repository(tmp_path / "models")
    (source / "echo/1/model.py").write_text(
        "class TritonPythonModel:\n"
        "    def initialize(self, args):\n"
        "        raise RuntimeError('camera calibration file missing')\n"
    )
    message = _start_fails(TritonServer(source, startup_timeout=60), ServiceError)
    assert "model 'echo' version 1" in message
    assert "camera calibration file missing" in message


def test_a_python_without_a_backend_stub_is_named() -> None:
    with pytest.raises(ServiceError, match=r"no python backend stub for Python 2\.7 \(it has: .*3\.11"):
        locate_tritonserver("2.7")


# --- the built-in smoke repository -----------------------------------------------------------------


def test_without_a_repository_the_smoke_model_is_served() -> None:
    for server in _serve(TritonServer()):
        assert sorted(server.staging.models) == ["smoke"]
        assert server.check() == "1 model, HTTP+gRPC inference matches ONNX Runtime"
