"""Model repository validation: good and bad Triton repositories built from small ONNX graphs.

Each bad case asserts what the user reads (file, line:column, message, expected, hint), since a
finding that only says "error" is as good as none.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from harness.cli import main
from harness.errors import Diagnostic, DiagnosticReport
from harness.lint.model_config import field_locations, load_model_config
from harness.lint.model_repo import (
    check_onnx_dims,
    default_model_filename,
    is_onnx_model,
    validate_model,
    validate_model_repository,
    version_dirs,
)

pytestmark = pytest.mark.unit

# The seed's RT-DETR contract: input [N, 3, 640, 640] FP32, output [N, 300, 6] FP32.
RTDETR_CONFIG = """\
name: "rtdetr"
platform: "onnxruntime_onnx"
max_batch_size: 4
default_model_filename: "model.onnx"
input [
  {
    name: "input"
    data_type: TYPE_FP32
    format: FORMAT_NCHW
    dims: [ 3, 640, 640 ]
  }
]
output [
  {
    name: "output"
    data_type: TYPE_FP32
    dims: [ 300, 6 ]
  }
]
instance_group [
  {
    kind: KIND_CPU
    count: 1
  }
]
"""

# The seed's translated fragment (keys turned into Chinese by the translation), as a file.
SEED_TRANSLATED_CONFIG = """\
name: "rtdetr"
platform: "onnxruntime_onnx"
max_batch_size: 1
default_model_filename: "model.onnx"
输入 [
  {
    名称: "输入"
    数据类型: TYPE_FP32
    格式: FORMAT_NCHW
    维度: [3, 640, 640]
  }
]
"""

# The seed's first example kept its C-style comments and `kind: GPU 类型`.
SEED_COMMENTED_CONFIG = """\
name: "rtdetr"
platform: "onnxruntime_onnx"
max_batch_size: 4
input [
  {
    name: "input"
    data_type: TYPE_FP32 /* 单精度浮点数 (single-precision floating-point) */
    dims: [ 3, 640, 640 ]
  }
]
"""


# --- building repositories ------------------------------------------------------------------------


def rtdetr_model(batch: str | int = "N") -> onnx.ModelProto:
    """A runnable stand-in for the RT-DETR export: mean over H, W -> MatMul -> [batch, 300, 6]."""
    image = helper.make_tensor_value_info("input", TensorProto.FLOAT, [batch, 3, 640, 640])
    boxes = helper.make_tensor_value_info("output", TensorProto.FLOAT, [batch, 300, 6])
    weights = numpy_helper.from_array(np.full((3, 1800), 0.01, np.float32), "weights")
    shape = numpy_helper.from_array(np.array([-1, 300, 6], np.int64), "shape")
    nodes = [
        helper.make_node("ReduceMean", ["input"], ["pooled"], axes=[2, 3], keepdims=0),
        helper.make_node("MatMul", ["pooled", "weights"], ["flat"]),
        helper.make_node("Reshape", ["flat", "shape"], ["output"]),
    ]
    graph = helper.make_graph(nodes, "rtdetr", [image], [boxes], [weights, shape])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def io_model(
    inputs: list[tuple[str, int, list[int | str]]], outputs: list[tuple[str, int, list[int | str]]]
) -> onnx.ModelProto:
    """A small graph with the given interface; only its inputs and outputs matter to the checks."""
    nodes = [helper.make_node("Identity", [inputs[0][0]], [name]) for name, _, _ in outputs]
    graph = helper.make_graph(
        nodes,
        "io",
        [helper.make_tensor_value_info(n, t, s) for n, t, s in inputs],
        [helper.make_tensor_value_info(n, t, s) for n, t, s in outputs],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def write_model(
    root: Path,
    name: str = "rtdetr",
    config: str = RTDETR_CONFIG,
    model: onnx.ModelProto | None = None,
    versions: tuple[str, ...] = ("1",),
    filename: str = "model.onnx",
) -> Path:
    model_dir = root / name
    model_dir.mkdir(parents=True)
    (model_dir / "config.pbtxt").write_text(config, encoding="utf-8")
    for version in versions:
        (model_dir / version).mkdir()
        if filename:
            onnx.save(model if model is not None else rtdetr_model(), model_dir / version / filename)
    return model_dir


def edit(config: str, old: str, new: str) -> str:
    assert old in config, old
    return config.replace(old, new, 1)


def only(report: DiagnosticReport, severity: str = "error") -> Diagnostic:
    found = [d for d in report.diagnostics if d.severity == severity]
    assert len(found) == 1, report.format()
    return found[0]


def line_col_of(text: str, needle: str) -> str:
    """1-based line:column of the first occurrence of ``needle``."""
    before = text[: text.index(needle)]
    return f"{before.count(chr(10)) + 1}:{len(before) - before.rfind(chr(10))}"


def check_model(tmp_path: Path, **kwargs: object) -> DiagnosticReport:
    _, report = validate_model(write_model(tmp_path, **kwargs))  # type: ignore[arg-type]
    return report


# --- good repositories ----------------------------------------------------------------------------


def test_good_repository_has_no_findings(tmp_path: Path) -> None:
    model_dir = write_model(tmp_path)
    (model_dir / "labels.txt").write_text("car\nbus\ntruck\n", encoding="utf-8")

    report = validate_model_repository(tmp_path)

    assert report.diagnostics == [], report.format()


def test_good_model_is_a_real_onnx_model(tmp_path: Path) -> None:
    """The corpus' model runs in ONNX Runtime with a batch, so the good case is a real one."""
    model_dir = write_model(tmp_path)
    session = ort.InferenceSession(str(model_dir / "1" / "model.onnx"))

    (boxes,) = session.run(None, {"input": np.zeros((2, 3, 640, 640), np.float32)})

    assert boxes.shape == (2, 300, 6)


def test_validate_model_returns_the_parsed_config(tmp_path: Path) -> None:
    config, report = validate_model(write_model(tmp_path))

    assert report.ok
    assert config is not None and config.name == "rtdetr"
    assert is_onnx_model(config)
    assert default_model_filename(config) == "model.onnx"


def test_helpers_follow_triton_defaults(tmp_path: Path) -> None:
    model_dir = write_model(tmp_path, versions=("10", "2", "v3"), filename="")
    (model_dir / "7").write_text("a file, not a directory", encoding="utf-8")
    trt = load_model_config(_write(tmp_path / "trt.pbtxt", 'platform: "tensorrt_plan"'))
    python = load_model_config(_write(tmp_path / "py.pbtxt", 'backend: "python"'))
    onnx_backend = load_model_config(_write(tmp_path / "ort.pbtxt", 'backend: "onnxruntime"'))

    assert [v for v, _ in version_dirs(model_dir)] == [2, 10]
    assert default_model_filename(trt) == "model.plan"
    assert default_model_filename(python) == "model.py"
    assert is_onnx_model(onnx_backend) and not is_onnx_model(python)


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# --- config.pbtxt missing or unparsable -----------------------------------------------------------


def test_seed_translated_config_names_line_column_and_key(tmp_path: Path) -> None:
    config, report = validate_model(write_model(tmp_path, config=SEED_TRANSLATED_CONFIG))

    finding = only(report)
    assert config is None
    assert finding.file == str(tmp_path / "rtdetr" / "config.pbtxt")
    assert finding.location == "5:1"
    assert "unknown field '输入' in ModelConfig" in finding.message
    assert "input" in finding.expected and "output" in finding.expected
    assert "translated config" in finding.hint


def test_translated_nested_key_names_the_message_type(tmp_path: Path) -> None:
    config = edit(RTDETR_CONFIG, '    name: "input"', '    名称: "input"')

    finding = only(check_model(tmp_path, config=config))

    assert finding.location == line_col_of(config, "名称")
    assert "unknown field '名称' in ModelInput" in finding.message
    assert finding.expected.startswith("a ModelInput field: name, data_type")


def test_c_style_comment_points_at_the_comment(tmp_path: Path) -> None:
    finding = only(check_model(tmp_path, config=SEED_COMMENTED_CONFIG))

    assert finding.location == line_col_of(SEED_COMMENTED_CONFIG, "/*")
    assert "got /" in finding.message
    assert "`#` line comments" in finding.hint


def test_bad_enum_value_suggests_the_right_one(tmp_path: Path) -> None:
    config = edit(RTDETR_CONFIG, "kind: KIND_CPU", "kind: GPU")

    finding = only(check_model(tmp_path, config=config))

    assert finding.location == line_col_of(config, "GPU")
    assert "invalid value 'GPU' for ModelInstanceGroup.Kind" in finding.message
    assert "KIND_GPU" in finding.expected
    assert finding.hint == "did you mean KIND_GPU?"


def test_missing_config_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "m" / "1").mkdir(parents=True)

    config, report = validate_model(tmp_path / "m")

    assert config is None
    finding = only(report)
    assert finding.file == str(tmp_path / "m" / "config.pbtxt")
    assert finding.message == "model config not found"


def test_config_that_is_not_utf8(tmp_path: Path) -> None:
    model_dir = write_model(tmp_path)
    (model_dir / "config.pbtxt").write_bytes(b'name: "rtdetr" # \xff\xfe\n')

    finding = only(validate_model(model_dir)[1])

    assert "not UTF-8" in finding.message and finding.hint == "save the file as UTF-8"


# --- name, platform, backend ----------------------------------------------------------------------


def test_name_must_match_directory(tmp_path: Path) -> None:
    report = check_model(tmp_path, name="detector")

    finding = only(report)
    assert finding.location == "1:1"
    assert finding.message == "model name 'rtdetr' does not match its directory 'detector'"
    assert finding.expected == 'name: "detector"'


def test_name_may_be_left_out(tmp_path: Path) -> None:
    report = check_model(tmp_path, config=edit(RTDETR_CONFIG, 'name: "rtdetr"\n', ""))

    assert report.diagnostics == []


def test_unknown_platform_suggests_a_known_one(tmp_path: Path) -> None:
    config = edit(RTDETR_CONFIG, '"onnxruntime_onnx"', '"onnxruntime_onx"')

    finding = only(check_model(tmp_path, config=config))

    assert finding.location == "2:1"
    assert finding.message == "unknown platform 'onnxruntime_onx'"
    assert "onnxruntime_onnx" in finding.expected
    assert finding.hint == "did you mean 'onnxruntime_onnx'?"


def test_platform_and_backend_must_agree(tmp_path: Path) -> None:
    config = edit(RTDETR_CONFIG, "max_batch_size", 'backend: "pytorch"\nmax_batch_size')

    finding = only(check_model(tmp_path, config=config))

    assert finding.location == "3:1"
    assert finding.message == "platform 'onnxruntime_onnx' and backend 'pytorch' do not go together"
    assert finding.expected.startswith('backend: "onnxruntime"')


def test_unknown_backend_and_neither_platform_nor_backend(tmp_path: Path) -> None:
    unknown = edit(RTDETR_CONFIG, 'platform: "onnxruntime_onnx"', 'backend: "onnx"')
    neither = edit(RTDETR_CONFIG, 'platform: "onnxruntime_onnx"\n', "")

    first = only(check_model(tmp_path / "a", config=unknown))
    second = only(check_model(tmp_path / "b", config=neither))

    assert first.message == "unknown backend 'onnx'" and first.location == "2:1"
    assert second.message == "neither platform nor backend is set"
    assert "auto-complete" in second.hint


def test_tensorrt_plan_is_a_warning_not_an_error(tmp_path: Path) -> None:
    config = (
        'name: "rtdetr"\nplatform: "tensorrt_plan"\nmax_batch_size: 1\n'
        'default_model_filename: "model_b1_gpu0_fp16.engine"\n'
    )
    model_dir = write_model(tmp_path, config=config, filename="")
    (model_dir / "1" / "model_b1_gpu0_fp16.engine").write_bytes(b"\0engine")

    _, report = validate_model(model_dir)

    finding = only(report, "warning")
    assert report.ok
    assert finding.location == "2:1"
    assert "cannot be served by the harness's Triton; will be skipped" in finding.message


# --- version directories and model files ----------------------------------------------------------


def test_missing_version_directory(tmp_path: Path) -> None:
    report = check_model(tmp_path, versions=())

    finding = only(report)
    assert finding.file == str(tmp_path / "rtdetr")
    assert finding.message == "no version directory"
    assert finding.expected == str(tmp_path / "rtdetr" / "1" / "model.onnx")


def test_missing_model_file_names_the_path_and_what_is_there(tmp_path: Path) -> None:
    model_dir = write_model(tmp_path, filename="")
    (model_dir / "1" / "model_b1_gpu0_fp16.engine").write_bytes(b"\0")

    finding = only(validate_model(model_dir)[1])

    expected_path = model_dir / "1" / "model.onnx"
    assert finding.file == str(expected_path)
    assert finding.message == f"model file for version 1 not found: {expected_path}"
    assert "version 1 contains: model_b1_gpu0_fp16.engine" in finding.hint


def test_missing_model_file_for_python_backend(tmp_path: Path) -> None:
    config = 'name: "post"\nbackend: "python"\nmax_batch_size: 0\n'
    model_dir = write_model(tmp_path, name="post", config=config, filename="")

    finding = only(validate_model(model_dir)[1])

    assert finding.file == str(model_dir / "1" / "model.py")
    assert "or set default_model_filename" in finding.hint


def test_non_numeric_version_directory_is_a_warning(tmp_path: Path) -> None:
    report = check_model(tmp_path, versions=("1", "backup"))

    finding = only(report, "warning")
    assert report.ok
    assert finding.file == str(tmp_path / "rtdetr" / "backup")
    assert finding.message == "'backup' is not a version directory (not a number); Triton ignores it"


def test_version_policy_naming_a_missing_version(tmp_path: Path) -> None:
    config = RTDETR_CONFIG + "version_policy: { specific: { versions: [ 1, 3 ] } }\n"

    finding = only(check_model(tmp_path, config=config, versions=("1", "2")))

    assert finding.location == line_col_of(config, "3 ]")
    assert "asks for version 3" in finding.message
    assert finding.expected == "one of the version directories: 1, 2"


def test_unloadable_onnx_file(tmp_path: Path) -> None:
    model_dir = write_model(tmp_path)
    (model_dir / "1" / "model.onnx").write_bytes(b"\x08\x07 this is not protobuf \xff\xff\xff")

    finding = only(validate_model(model_dir)[1])

    assert finding.file == str(model_dir / "1" / "model.onnx")
    assert finding.message.startswith("cannot load ONNX model")


def test_empty_onnx_file(tmp_path: Path) -> None:
    model_dir = write_model(tmp_path)
    (model_dir / "1" / "model.onnx").write_bytes(b"")

    finding = only(validate_model(model_dir)[1])

    assert "holds no graph" in finding.message


def test_every_version_is_compared(tmp_path: Path) -> None:
    model_dir = write_model(tmp_path, versions=("1", "2"))
    onnx.save(rtdetr_model(batch=1), model_dir / "2" / "model.onnx")

    report = validate_model(model_dir)[1]

    assert len(report.errors) == 2  # input and output of version 2; version 1 is fine
    assert all("do not match 2/model.onnx" in d.message for d in report.errors)


# --- ONNX inputs and outputs against the config ---------------------------------------------------


def test_wrong_dtype(tmp_path: Path) -> None:
    config = edit(RTDETR_CONFIG, "data_type: TYPE_FP32", "data_type: TYPE_FP16")

    finding = only(check_model(tmp_path, config=config))

    assert finding.location == line_col_of(config, "data_type: TYPE_FP16")
    assert finding.message == "input 'input' is TYPE_FP16 in the config but FLOAT in 1/model.onnx"
    assert finding.expected == "data_type: TYPE_FP32"


@pytest.mark.parametrize(
    ("config_type", "onnx_type"),
    [
        ("TYPE_BOOL", TensorProto.BOOL),
        ("TYPE_UINT8", TensorProto.UINT8),
        ("TYPE_UINT16", TensorProto.UINT16),
        ("TYPE_UINT32", TensorProto.UINT32),
        ("TYPE_UINT64", TensorProto.UINT64),
        ("TYPE_INT8", TensorProto.INT8),
        ("TYPE_INT16", TensorProto.INT16),
        ("TYPE_INT32", TensorProto.INT32),
        ("TYPE_INT64", TensorProto.INT64),
        ("TYPE_FP16", TensorProto.FLOAT16),
        ("TYPE_FP32", TensorProto.FLOAT),
        ("TYPE_FP64", TensorProto.DOUBLE),
        ("TYPE_STRING", TensorProto.STRING),
    ],
)
def test_dtype_mapping(tmp_path: Path, config_type: str, onnx_type: int) -> None:
    model = io_model([("x", onnx_type, ["N", 4])], [("y", onnx_type, ["N", 4])])
    config = (
        'backend: "onnxruntime"\nmax_batch_size: 8\n'
        f'input [ {{ name: "x" data_type: {config_type} dims: [ 4 ] }} ]\n'
        f'output [ {{ name: "y" data_type: {config_type} dims: [ 4 ] }} ]\n'
    )

    assert check_model(tmp_path, name="m", config=config, model=model).diagnostics == []


def test_bf16_is_refused_for_onnx(tmp_path: Path) -> None:
    model = io_model([("x", TensorProto.BFLOAT16, ["N", 4])], [("y", TensorProto.BFLOAT16, ["N", 4])])
    config = (
        'backend: "onnxruntime"\nmax_batch_size: 8\n'
        'input [ { name: "x" data_type: TYPE_BF16 dims: [ 4 ] } ]\n'
        'output [ { name: "y" data_type: TYPE_BF16 dims: [ 4 ] } ]\n'
    )

    report = check_model(tmp_path, name="m", config=config, model=model)

    assert [d.message for d in report.errors] == [
        "input 'x': TYPE_BF16 is not supported by Triton's ONNX Runtime backend",
        "output 'y': TYPE_BF16 is not supported by Triton's ONNX Runtime backend",
    ]


def test_wrong_dims(tmp_path: Path) -> None:
    config = edit(RTDETR_CONFIG, "dims: [ 300, 6 ]", "dims: [ 300, 4 ]")

    finding = only(check_model(tmp_path, config=config))

    assert finding.location == line_col_of(config, "dims: [ 300, 4 ]")
    assert finding.message.startswith("output 'output' dims do not match 1/model.onnx: dimension 2 is 6")
    assert finding.expected == "dims: [300, 6]"
    assert "[N, 300, 6]" in finding.hint


def test_batch_dim_in_dims_when_max_batch_size_is_set(tmp_path: Path) -> None:
    config = edit(RTDETR_CONFIG, "dims: [ 3, 640, 640 ]", "dims: [ 1, 3, 640, 640 ]")

    finding = only(check_model(tmp_path, config=config))

    assert finding.location == line_col_of(config, "dims: [ 1, 3")
    assert "has 4 dimensions but the config gives [1, 3, 640, 640]" in finding.message
    assert "with the batch dimension: [-1, 1, 3, 640, 640]" in finding.message
    assert finding.expected == "dims: [3, 640, 640]"


def test_batch_dim_missing_when_max_batch_size_is_zero(tmp_path: Path) -> None:
    config = edit(RTDETR_CONFIG, "max_batch_size: 4", "max_batch_size: 0")

    report = check_model(tmp_path, config=config, model=rtdetr_model(batch=1))

    assert [d.location for d in report.errors] == [
        line_col_of(config, "dims: [ 3, 640"),
        line_col_of(config, "dims: [ 300"),
    ]
    assert "the model's shape [1, 3, 640, 640] has 4 dimensions" in report.errors[0].message
    assert report.errors[0].expected == "dims: [1, 3, 640, 640]"
    assert report.errors[1].expected == "dims: [1, 300, 6]"


def test_fixed_batch_model_with_batch_in_dims_is_fine(tmp_path: Path) -> None:
    config = edit(RTDETR_CONFIG, "max_batch_size: 4", "max_batch_size: 0")
    config = edit(config, "dims: [ 3, 640, 640 ]", "dims: [ 1, 3, 640, 640 ]")
    config = edit(config, "dims: [ 300, 6 ]", "dims: [ 1, 300, 6 ]")

    assert check_model(tmp_path, config=config, model=rtdetr_model(batch=1)).diagnostics == []


def test_batching_needs_a_variable_first_dimension(tmp_path: Path) -> None:
    report = check_model(tmp_path, model=rtdetr_model(batch=4))

    first = report.errors[0]
    assert len(report.errors) == 2  # input and output
    assert "max_batch_size is 4, so the model's first dimension must be a variable batch" in first.message
    assert "max_batch_size: 0 with dims: [4, 3, 640, 640]" in first.expected


def test_variable_model_dim_accepts_any_input_size_but_outputs_are_exact(tmp_path: Path) -> None:
    model = io_model(
        [("x", TensorProto.FLOAT, ["N", 3, "H", "W"])], [("y", TensorProto.FLOAT, ["N", "boxes", 6])]
    )
    config = (
        'name: "m"\nbackend: "onnxruntime"\nmax_batch_size: 2\n'
        'input [ { name: "x" data_type: TYPE_FP32 dims: [ 3, 640, 640 ] } ]\n'
        'output [ { name: "y" data_type: TYPE_FP32 dims: [ 300, 6 ] } ]\n'
    )

    finding = only(check_model(tmp_path, name="m", config=config, model=model))

    assert finding.message.startswith("output 'y' dims do not match")
    assert finding.expected == "dims: [-1, 6]"


def test_reshape_is_compared_instead_of_dims(tmp_path: Path) -> None:
    model = io_model([("x", TensorProto.FLOAT, ["N", 12])], [("y", TensorProto.FLOAT, ["N", 12])])
    good = (
        'backend: "onnxruntime"\nmax_batch_size: 2\n'
        'input [ { name: "x" data_type: TYPE_FP32 dims: [ 3, 4 ] reshape: { shape: [ 12 ] } } ]\n'
        'output [ { name: "y" data_type: TYPE_FP32 dims: [ 12 ] } ]\n'
    )
    bad = edit(good, "shape: [ 12 ]", "shape: [ 3, 4 ]")

    assert check_model(tmp_path / "a", name="m", config=good, model=model).diagnostics == []
    finding = only(check_model(tmp_path / "b", name="m", config=bad, model=model))
    assert finding.location == line_col_of(bad, "reshape")
    assert finding.message.startswith("input 'x' reshape do not match")


def test_input_not_in_graph_lists_the_graph_inputs(tmp_path: Path) -> None:
    config = edit(RTDETR_CONFIG, 'name: "input"', 'name: "images"')

    report = check_model(tmp_path, config=config)

    unknown, undeclared = report.errors
    assert unknown.location == line_col_of(config, 'name: "images"')
    assert unknown.message == "input 'images' is not an input of 1/model.onnx"
    assert unknown.hint == "1/model.onnx has inputs: input (FLOAT [N, 3, 640, 640])"
    assert undeclared.message == "model input 'input' of 1/model.onnx is not declared in the config"
    assert undeclared.expected == '{ name: "input" data_type: TYPE_FP32 dims: [3, 640, 640] }'
    assert "configuration expects 1 inputs, model provides 1" in undeclared.hint


def test_initializers_are_not_inputs(tmp_path: Path) -> None:
    model = rtdetr_model()
    model.graph.input.append(helper.make_tensor_value_info("weights", TensorProto.FLOAT, [3, 1800]))

    assert check_model(tmp_path, model=model).diagnostics == []


def test_undeclared_output_is_a_warning(tmp_path: Path) -> None:
    model = io_model(
        [("input", TensorProto.FLOAT, ["N", 3, 640, 640])],
        [("output", TensorProto.FLOAT, ["N", 300, 6]), ("scores", TensorProto.FLOAT, ["N", 300])],
    )

    report = check_model(tmp_path, model=model)

    finding = only(report, "warning")
    assert report.ok
    assert (
        finding.message == "model output 'scores' of 1/model.onnx is not declared; Triton will not return it"
    )


def test_no_inputs_or_outputs_declared(tmp_path: Path) -> None:
    config = 'name: "rtdetr"\nplatform: "onnxruntime_onnx"\nmax_batch_size: 4\n'

    report = check_model(tmp_path, config=config)

    assert report.ok
    assert [d.message.split(";")[0] for d in report.warnings] == ["no inputs declared", "no outputs declared"]
    assert all("autocomplete is not emulated — declare them" in d.message for d in report.warnings)


def test_duplicate_tensor_names_and_bad_dims(tmp_path: Path) -> None:
    config = edit(
        RTDETR_CONFIG,
        "output [\n",
        'output [\n  { name: "output" data_type: TYPE_FP32 dims: [ 0, -2 ] },\n',
    )

    report = check_model(tmp_path, config=config)

    messages = [d.message for d in report.errors]
    assert "output name 'output' is used twice" in messages
    assert "output 'output' has invalid dims [0, -2]" in messages
    invalid = next(d for d in report.errors if "invalid dims" in d.message)
    assert invalid.location == line_col_of(config, "dims: [ 0, -2 ]")
    assert invalid.expected == "each dimension >= 1, or -1 for a variable size"


# --- batching and instance groups -----------------------------------------------------------------


def test_dynamic_batching_with_max_batch_size_zero(tmp_path: Path) -> None:
    config = edit(RTDETR_CONFIG, "max_batch_size: 4", "max_batch_size: 0")
    config = edit(config, "dims: [ 3, 640, 640 ]", "dims: [ 1, 3, 640, 640 ]")
    config = edit(config, "dims: [ 300, 6 ]", "dims: [ 1, 300, 6 ]") + "dynamic_batching { }\n"

    finding = only(check_model(tmp_path, config=config, model=rtdetr_model(batch=1)))

    assert finding.location == line_col_of(config, "dynamic_batching")
    assert finding.message == "dynamic_batching is set but max_batch_size is 0"
    assert finding.expected == "max_batch_size > 0 with dynamic_batching"


def test_preferred_batch_size_above_max(tmp_path: Path) -> None:
    config = RTDETR_CONFIG + "dynamic_batching { preferred_batch_size: [ 2, 8 ] }\n"

    finding = only(check_model(tmp_path, config=config))

    assert finding.location == line_col_of(config, "8 ]")
    assert finding.message == "preferred_batch_size 8 is outside 1..max_batch_size (4)"


def test_negative_max_batch_size(tmp_path: Path) -> None:
    config = edit(RTDETR_CONFIG, "max_batch_size: 4", "max_batch_size: -1")

    finding = only(check_model(tmp_path, config=config))

    assert finding.location == "3:1"
    assert finding.message == "max_batch_size is -1"


def test_instance_count_zero(tmp_path: Path) -> None:
    config = edit(RTDETR_CONFIG, "count: 1", "count: 0")

    finding = only(check_model(tmp_path, config=config))

    assert finding.location == line_col_of(config, "count: 0")
    assert finding.message == "instance_group count is 0"
    assert finding.expected == "count >= 1"


def test_kind_gpu_is_a_warning_not_an_error(tmp_path: Path) -> None:
    # The seed's instance group, written correctly.
    config = edit(RTDETR_CONFIG, "kind: KIND_CPU", "kind: KIND_GPU\n    gpus: [ 0 ]")

    report = check_model(tmp_path, config=config)

    finding = only(report, "warning")
    assert report.ok
    assert finding.location == line_col_of(config, "kind: KIND_GPU")
    assert finding.message == "KIND_GPU instances are served on CPU by the harness"


def test_gpus_with_kind_cpu(tmp_path: Path) -> None:
    config = edit(RTDETR_CONFIG, "count: 1", "count: 1\n    gpus: [ 0 ]")

    finding = only(check_model(tmp_path, config=config))

    assert finding.location == line_col_of(config, "gpus")
    assert finding.message == "a KIND_CPU instance group lists gpus"


# --- labels -----------------------------------------------------------------------------------------

CLASSIFIER_CONFIG = """\
name: "classifier"
backend: "onnxruntime"
max_batch_size: 8
input [ { name: "x" data_type: TYPE_FP32 dims: [ 3 ] } ]
output [ { name: "y" data_type: TYPE_FP32 dims: [ 3 ] label_filename: "classes.txt" } ]
"""


def classifier(tmp_path: Path, config: str = CLASSIFIER_CONFIG) -> Path:
    model = io_model([("x", TensorProto.FLOAT, ["N", 3])], [("y", TensorProto.FLOAT, ["N", 3])])
    return write_model(tmp_path, name="classifier", config=config, model=model)


def test_labels_matching_the_classes(tmp_path: Path) -> None:
    model_dir = classifier(tmp_path)
    (model_dir / "classes.txt").write_text("car\nbus\n\ntruck\n", encoding="utf-8")

    assert validate_model(model_dir)[1].diagnostics == []


def test_missing_label_file(tmp_path: Path) -> None:
    model_dir = classifier(tmp_path)
    (model_dir / "1" / "classes.txt").write_text("car\nbus\ntruck\n", encoding="utf-8")

    finding = only(validate_model(model_dir)[1])

    assert finding.location == line_col_of(CLASSIFIER_CONFIG, "label_filename")
    assert finding.message == "label file 'classes.txt' of output 'y' not found"
    assert finding.expected == f"a file {model_dir / 'classes.txt'}"
    assert "it is in version 1/ — move it up one level" in finding.hint


def test_label_count_mismatch_is_a_warning(tmp_path: Path) -> None:
    model_dir = classifier(tmp_path)
    (model_dir / "classes.txt").write_text("car\nbus\n", encoding="utf-8")

    report = validate_model(model_dir)[1]

    finding = only(report, "warning")
    assert report.ok
    assert finding.file == str(model_dir / "classes.txt")
    assert finding.message == "classes.txt has 2 labels but output 'y' has 3 classes (its last dimension)"


def test_labels_txt_against_num_classes(tmp_path: Path) -> None:
    config = RTDETR_CONFIG + 'parameters { key: "num_classes" value: { string_value: "4" } }\n'
    model_dir = write_model(tmp_path, config=config)
    (model_dir / "labels.txt").write_text("car\nbus\ntruck\n", encoding="utf-8")

    finding = only(validate_model(model_dir)[1], "warning")

    assert finding.message == "labels.txt has 3 labels but parameter num_classes is 4"


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"\n  \n", "labels.txt is empty"), (b"car\n\xff\xfebus\n", "labels.txt is not UTF-8 text (byte 4)")],
)
def test_labels_txt_must_be_utf8_and_not_empty(tmp_path: Path, content: bytes, message: str) -> None:
    model_dir = write_model(tmp_path)
    (model_dir / "labels.txt").write_bytes(content)

    finding = only(validate_model(model_dir)[1], "warning")

    assert finding.file == str(model_dir / "labels.txt")
    assert finding.message == message


# --- the repository -----------------------------------------------------------------------------------


def test_repository_must_exist_and_be_a_directory(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("", encoding="utf-8")

    missing = only(validate_model_repository(tmp_path / "nope"))
    not_dir = only(validate_model_repository(tmp_path / "file"))

    assert (missing.file, missing.message) == (str(tmp_path / "nope"), "model repository not found")
    assert not_dir.message == "model repository is not a directory"


def test_repository_without_models(tmp_path: Path) -> None:
    (tmp_path / "notes").mkdir()

    report = validate_model_repository(tmp_path)

    assert only(report).message == "no models in the repository"
    assert only(report, "warning").file == str(tmp_path / "notes")
    assert "no config.pbtxt; Triton would try to auto-complete" in only(report, "warning").message


def test_repository_collects_every_model(tmp_path: Path) -> None:
    write_model(tmp_path)
    write_model(tmp_path, name="broken", config=SEED_TRANSLATED_CONFIG)
    write_model(tmp_path, name="other")

    report = validate_model_repository(tmp_path)

    assert sorted(Path(d.file).parent.name for d in report.errors) == ["broken", "other"]


def test_ensemble_step_must_name_a_model_in_the_repository(tmp_path: Path) -> None:
    write_model(tmp_path)
    ensemble = """\
name: "pipeline"
platform: "ensemble"
max_batch_size: 4
input [ { name: "image" data_type: TYPE_FP32 dims: [ 3, 640, 640 ] } ]
output [ { name: "boxes" data_type: TYPE_FP32 dims: [ 300, 6 ] } ]
ensemble_scheduling {
  step [
    { model_name: "rtdetr" model_version: -1 input_map { key: "input" value: "image" }
      output_map { key: "output" value: "raw" } },
    { model_name: "postprocess" model_version: -1 input_map { key: "in" value: "raw" }
      output_map { key: "out" value: "boxes" } }
  ]
}
"""
    write_model(tmp_path, name="pipeline", config=ensemble, filename="")

    finding = only(validate_model_repository(tmp_path))

    assert finding.location == line_col_of(ensemble, 'model_name: "postprocess"')
    assert finding.message == "ensemble step 2 calls model 'postprocess', which is not in the repository"
    assert finding.expected == "one of: rtdetr"


def test_field_locations_cover_repeated_and_nested_fields() -> None:
    locations = {path: f"{line}:{col}" for path, (line, col) in field_locations(RTDETR_CONFIG).items()}

    assert locations[("name",)] == "1:1"
    assert locations[("input", 0, "dims")] == line_col_of(RTDETR_CONFIG, "dims: [ 3")
    assert locations[("input", 0, "dims", 2)] == line_col_of(RTDETR_CONFIG, "640 ]")
    assert locations[("output", 0, "name")] == line_col_of(RTDETR_CONFIG, 'name: "output"')
    assert locations[("instance_group", 0, "count")] == line_col_of(RTDETR_CONFIG, "count: 1")


# --- the CLI ------------------------------------------------------------------------------------------


def test_cli_exit_codes(tmp_path: Path) -> None:
    runner = CliRunner()
    good = tmp_path / "good"
    write_model(good)
    warned = tmp_path / "warned"
    write_model(warned, versions=("1", "old"))
    bad = tmp_path / "bad"
    write_model(bad, config=SEED_TRANSLATED_CONFIG)

    ok = runner.invoke(main, ["lint", "models", str(good)])
    warning = runner.invoke(main, ["lint", "models", str(warned)])
    strict = runner.invoke(main, ["lint", "models", "--strict", str(warned)])
    error = runner.invoke(main, ["lint", "models", str(bad)])

    assert (ok.exit_code, warning.exit_code, strict.exit_code, error.exit_code) == (0, 0, 1, 1)
    assert ok.output.strip() == "1 model, 0 errors, 0 warnings"
    assert "warning: 'old' is not a version directory" in warning.output
    assert warning.output.strip().endswith("1 model, 0 errors, 1 warning")
    assert f"{bad / 'rtdetr' / 'config.pbtxt'}:5:1: error: unknown field '输入'" in error.output
    assert "hint: field names are the protobuf's English names" in error.output


def test_cli_json_output(tmp_path: Path) -> None:
    write_model(tmp_path, config=edit(RTDETR_CONFIG, "count: 1", "count: 0"))

    result = CliRunner().invoke(main, ["lint", "models", "--format", "json", str(tmp_path)])

    assert result.exit_code == 1
    findings = json.loads(result.stdout)
    assert findings == [
        {
            "severity": "error",
            "file": str(tmp_path / "rtdetr" / "config.pbtxt"),
            "location": line_col_of(RTDETR_CONFIG, "count: 1"),
            "message": "instance_group count is 0",
            "expected": "count >= 1",
            "hint": findings[0]["hint"],
        }
    ]
    assert result.stderr.strip() == "1 model, 1 error, 0 warnings"


def test_cli_missing_directory_is_a_finding_not_a_traceback(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["lint", "models", str(tmp_path / "nope")])

    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "model repository not found" in result.output


def test_cli_help_documents_exit_codes() -> None:
    result = CliRunner().invoke(main, ["lint", "models", "--help"])

    assert result.exit_code == 0
    assert "Exit codes:" in result.output
    assert "1  at least one error, or a warning with --strict" in result.output


# --- the batch rule, for any shape --------------------------------------------------------------------

sizes = st.lists(st.integers(min_value=1, max_value=64), min_size=1, max_size=5)


@given(shape=sizes, max_batch_size=st.integers(min_value=1, max_value=16), is_output=st.booleans())
def test_batching_config_omits_the_batch_dimension(
    shape: list[int], max_batch_size: int, is_output: bool
) -> None:
    graph = [-1, *shape]

    assert check_onnx_dims(graph, shape, max_batch_size, is_output=is_output) is None
    assert check_onnx_dims(graph, graph, max_batch_size, is_output=is_output) is not None
    assert check_onnx_dims(shape, shape[1:], max_batch_size, is_output=is_output) is not None


@given(shape=sizes, is_output=st.booleans())
def test_non_batching_config_includes_the_batch_dimension(shape: list[int], is_output: bool) -> None:
    assert check_onnx_dims(shape, shape, 0, is_output=is_output) is None
    assert check_onnx_dims(shape, shape[1:], 0, is_output=is_output) is not None


@given(shape=sizes, data=st.data())
def test_variable_model_dims_accept_any_input_size(shape: list[int], data: st.DataObject) -> None:
    variable = data.draw(st.lists(st.booleans(), min_size=len(shape), max_size=len(shape)))
    graph = [-1 if v else d for d, v in zip(shape, variable, strict=True)]
    config = [data.draw(st.integers(1, 64)) if v else d for d, v in zip(shape, variable, strict=True)]

    assert check_onnx_dims(graph, config, 0, is_output=False) is None
    if any(v and c != -1 for v, c in zip(variable, config, strict=True)):
        assert check_onnx_dims(graph, config, 0, is_output=True) is not None


@given(shape=sizes, index=st.integers(min_value=0), delta=st.integers(min_value=1, max_value=5))
def test_a_fixed_dimension_must_match(shape: list[int], index: int, delta: int) -> None:
    index %= len(shape)
    config = list(shape)
    config[index] += delta

    problem = check_onnx_dims(shape, config, 0, is_output=False)

    assert problem is not None and f"dimension {index} is {shape[index]}" in problem
