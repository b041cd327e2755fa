"""Validating a Triton model repository before tritonserver — or a Jetson — sees it.

tritonserver reports a broken model as one log line at load time, and on a device that happens
after the deployment already "succeeded". These checks run the same rules up front (Triton core's
``ValidateModelConfig``, the ONNX Runtime backend's input/output comparison, the repository
layout rules) and report every problem at once with file, line:column, what was expected and a
hint. Sources: triton-inference-server/core ``src/model_config_utils.cc`` and
triton-inference-server/onnxruntime_backend ``src/onnxruntime.cc`` / ``src/onnxruntime_utils.cc``.

Nothing here raises for bad content: every finding goes into the returned
:class:`~harness.errors.DiagnosticReport`. Exceptions are left for programming errors.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tritonclient.grpc import model_config_pb2

from harness.errors import Diagnostic, DiagnosticReport, ValidationError
from harness.lint.model_config import (
    FieldPath,
    ModelConfig,
    field_locations,
    parse_model_config,
    read_model_config_text,
)

CONFIG_FILE = "config.pbtxt"
ONNX_PLATFORM = "onnxruntime_onnx"
ONNX_BACKEND = "onnxruntime"
PYTHON_BACKEND = "python"
ENSEMBLE_PLATFORM = "ensemble"

# Which backend serves each platform (Triton core's GetBackendTypeFromPlatform).
PLATFORM_BACKENDS: dict[str, str] = {
    "onnxruntime_onnx": "onnxruntime",
    "tensorrt_plan": "tensorrt",
    "pytorch_libtorch": "pytorch",
    "tensorflow_savedmodel": "tensorflow",
    "tensorflow_graphdef": "tensorflow",
    ENSEMBLE_PLATFORM: "",
}
KNOWN_BACKENDS: tuple[str, ...] = ("onnxruntime", "tensorrt", "pytorch", "tensorflow", "openvino", "python")
# Backends the harness's tritonserver has (python) or emulates (onnxruntime); others are skipped.
SERVED_BACKENDS: tuple[str, ...] = ("onnxruntime", "python", ENSEMBLE_PLATFORM)

# Triton's default model file names (core src/constants.h), by platform and then by backend.
_PLATFORM_FILENAMES = {
    "onnxruntime_onnx": "model.onnx",
    "tensorrt_plan": "model.plan",
    "pytorch_libtorch": "model.pt",
    "tensorflow_savedmodel": "model.savedmodel",
    "tensorflow_graphdef": "model.graphdef",
}
_BACKEND_FILENAMES = {
    "onnxruntime": "model.onnx",
    "tensorrt": "model.plan",
    "pytorch": "model.pt",
    "tensorflow": "model.savedmodel",
    "openvino": "model.xml",
    "python": "model.py",
}

# Model config data types and the ONNX TensorProto element types they must match
# (onnxruntime_backend ModelConfigDataTypeToOnnxDataType; BF16 has an ONNX type but the
# backend refuses it, see _check_onnx_dtype).
TRITON_TO_ONNX_DTYPE: dict[str, int] = {
    "TYPE_BOOL": 9,
    "TYPE_UINT8": 2,
    "TYPE_UINT16": 4,
    "TYPE_UINT32": 12,
    "TYPE_UINT64": 13,
    "TYPE_INT8": 3,
    "TYPE_INT16": 5,
    "TYPE_INT32": 6,
    "TYPE_INT64": 7,
    "TYPE_FP16": 10,
    "TYPE_FP32": 1,
    "TYPE_FP64": 11,
    "TYPE_STRING": 8,
    "TYPE_BF16": 16,
}
_ONNX_TO_TRITON_DTYPE = {onnx_type: name for name, onnx_type in TRITON_TO_ONNX_DTYPE.items()}

if TYPE_CHECKING:
    from onnx import ModelProto, ValueInfoProto

_Tensor = model_config_pb2.ModelInput | model_config_pb2.ModelOutput
_DataType = model_config_pb2.DataType
_Kind = model_config_pb2.ModelInstanceGroup.Kind
_NUMERIC = re.compile(r"[0-9]+")
_LABELS_FILE = "labels.txt"


# --- small public helpers ------------------------------------------------------------------------


def is_onnx_model(config: ModelConfig) -> bool:
    """True for models the ONNX Runtime backend serves (the harness emulates that backend)."""
    return config.platform == ONNX_PLATFORM or config.backend == ONNX_BACKEND


def default_model_filename(config: ModelConfig) -> str:
    """The file Triton loads from each version directory ("" for ensembles, which have none)."""
    if config.default_model_filename:
        return config.default_model_filename
    return _PLATFORM_FILENAMES.get(config.platform) or _BACKEND_FILENAMES.get(config.backend, "")


def version_dirs(model_dir: Path) -> list[tuple[int, Path]]:
    """The numeric version subdirectories of a model, oldest first (Triton ignores the rest)."""
    if not model_dir.is_dir():
        return []
    found = [
        (int(child.name), child)
        for child in model_dir.iterdir()
        if child.is_dir() and _NUMERIC.fullmatch(child.name)
    ]
    return sorted(found, key=lambda item: item[0])


def model_dirs(root: Path) -> list[Path]:
    """The subdirectories of a repository that hold a ``config.pbtxt``, sorted by name."""
    if not root.is_dir():
        return []
    return sorted(child for child in root.iterdir() if child.is_dir() and (child / CONFIG_FILE).is_file())


def serving_backend(config: ModelConfig) -> str:
    """The backend that serves a model: ``backend``, else derived from ``platform``."""
    if config.platform == ENSEMBLE_PLATFORM:
        return ENSEMBLE_PLATFORM
    return config.backend or PLATFORM_BACKENDS.get(config.platform, "")


def check_onnx_dims(
    model_shape: Sequence[int], config_dims: Sequence[int], max_batch_size: int, *, is_output: bool
) -> str | None:
    """Why a config shape does not fit an ONNX tensor shape, or None if Triton accepts it.

    ``model_shape`` uses -1 for variable dimensions (symbolic or unknown), as ONNX Runtime
    reports them. The rules are the ONNX Runtime backend's CompareDimsSupported: with
    ``max_batch_size > 0`` the model's first dimension must be variable and the config's dims
    leave it out; with 0 the config's dims are the whole shape. A variable model dimension
    accepts any configured size for inputs; outputs are compared exactly, so a variable output
    dimension must be -1 in the config too.
    """
    model_shape, config_dims = list(model_shape), list(config_dims)
    if max_batch_size > 0:
        if not model_shape or model_shape[0] != -1:
            return (
                f"max_batch_size is {max_batch_size}, so the model's first dimension must be a "
                f"variable batch dimension, but the model's shape is {_shape(model_shape)}"
            )
        full = [-1, *config_dims]
        described = f"{_shape(config_dims)} (with the batch dimension: {_shape(full)})"
    else:
        full = config_dims
        described = _shape(config_dims)
    if len(model_shape) != len(full):
        return (
            f"the model's shape {_shape(model_shape)} has {len(model_shape)} dimensions but the "
            f"config gives {described}, {len(full)} dimensions"
        )
    for index, (model_dim, config_dim) in enumerate(zip(model_shape, full, strict=True)):
        if (is_output or model_dim != -1) and model_dim != config_dim:
            return (
                f"dimension {index} is {model_dim} in the model's shape {_shape(model_shape)} but "
                f"{config_dim} in the config {described}"
            )
    return None


# --- one model -------------------------------------------------------------------------------------


def validate_model(model_dir: Path) -> tuple[ModelConfig | None, DiagnosticReport]:
    """Check one model directory; the config is None if ``config.pbtxt`` is missing or unparsable."""
    report = DiagnosticReport()
    config_path = model_dir / CONFIG_FILE
    if not config_path.is_file():
        report.add(
            Diagnostic(
                "error",
                str(config_path),
                "model config not found",
                expected=f"a file {config_path}",
                hint="every model in a Triton repository has <model>/config.pbtxt next to its "
                "version directories",
            )
        )
        return None, report
    try:
        text = read_model_config_text(config_path)
        config = parse_model_config(text, str(config_path))
    except ValidationError as err:
        report.extend(err.report)
        return None, report

    check = _ModelCheck(model_dir, config, field_locations(text), report)
    for step in _MODEL_CHECKS:
        step(check)
    return config, report


@dataclass
class _ModelCheck:
    """One model under validation: its config, where each field is written, and the findings."""

    model_dir: Path
    config: ModelConfig
    locations: dict[FieldPath, tuple[int, int]]
    report: DiagnosticReport

    @property
    def config_file(self) -> str:
        return str(self.model_dir / CONFIG_FILE)

    def where(self, path: FieldPath) -> str:
        """line:column of a field, or of the nearest enclosing field that is written."""
        for end in range(len(path), 0, -1):
            found = self.locations.get(path[:end])
            if found:
                return f"{found[0]}:{found[1]}"
        return ""

    def add(
        self,
        severity: str,
        message: str,
        *,
        at: FieldPath = (),
        file: Path | None = None,
        expected: str = "",
        hint: str = "",
    ) -> None:
        location = self.where(at) if file is None and at else ""
        self.report.add(
            Diagnostic(severity, str(file) if file else self.config_file, message, location, expected, hint)
        )

    def error(
        self,
        message: str,
        *,
        at: FieldPath = (),
        file: Path | None = None,
        expected: str = "",
        hint: str = "",
    ) -> None:
        self.add("error", message, at=at, file=file, expected=expected, hint=hint)

    def warning(
        self,
        message: str,
        *,
        at: FieldPath = (),
        file: Path | None = None,
        expected: str = "",
        hint: str = "",
    ) -> None:
        self.add("warning", message, at=at, file=file, expected=expected, hint=hint)

    def relative(self, path: Path) -> str:
        return path.relative_to(self.model_dir).as_posix()


def _check_name(check: _ModelCheck) -> None:
    name, directory = check.config.name, check.model_dir.name
    if name and name != directory:
        check.error(
            f"model name {name!r} does not match its directory {directory!r}",
            at=("name",),
            expected=f'name: "{directory}"',
            hint="Triton requires the config's name to equal the model directory's name; "
            "rename one of them (or drop `name` and Triton uses the directory name)",
        )


def _check_platform_and_backend(check: _ModelCheck) -> None:
    platform, backend = check.config.platform, check.config.backend
    if platform and platform not in PLATFORM_BACKENDS:
        check.error(
            f"unknown platform {platform!r}",
            at=("platform",),
            expected="one of " + ", ".join(PLATFORM_BACKENDS),
            hint=_did_you_mean(platform, PLATFORM_BACKENDS) or 'a python model sets backend: "python"',
        )
    if backend and backend not in KNOWN_BACKENDS:
        check.error(
            f"unknown backend {backend!r}",
            at=("backend",),
            expected="one of " + ", ".join(KNOWN_BACKENDS),
            hint=_did_you_mean(backend, KNOWN_BACKENDS),
        )
    if not platform and not backend:
        check.error(
            "neither platform nor backend is set",
            expected='platform: "onnxruntime_onnx" (or backend: "onnxruntime" / "python")',
            hint="tritonserver may guess the backend from the model file (auto-complete); the "
            "harness does not emulate auto-complete, so declare it",
        )
    _check_platform_backend_pair(check, platform, backend)
    _warn_unservable(check)


def _check_platform_backend_pair(check: _ModelCheck, platform: str, backend: str) -> None:
    if not (platform in PLATFORM_BACKENDS and backend in KNOWN_BACKENDS):
        return
    if platform == ENSEMBLE_PLATFORM:
        check.error(
            f'an ensemble has platform "ensemble" and no backend, but backend is {backend!r}',
            at=("backend",),
            expected='no backend line for platform: "ensemble"',
        )
    elif backend != PYTHON_BACKEND and PLATFORM_BACKENDS[platform] != backend:
        check.error(
            f"platform {platform!r} and backend {backend!r} do not go together",
            at=("backend",),
            expected=f'backend: "{PLATFORM_BACKENDS[platform]}" (or no backend line)',
            hint="Triton rejects a platform/backend pair that names two different backends",
        )


def _warn_unservable(check: _ModelCheck) -> None:
    backend = serving_backend(check.config)
    if backend in KNOWN_BACKENDS and backend not in SERVED_BACKENDS:
        kind = check.config.platform or backend
        check.warning(
            f"{kind} models cannot be served by the harness's Triton; will be skipped",
            at=("platform",) if check.config.platform else ("backend",),
            hint="the harness serves python-backend models and ONNX models (emulated); export the "
            "model to ONNX to test it here, or run the scenario with --target aws on a lab Jetson",
        )


def _check_batching(check: _ModelCheck) -> None:
    config = check.config
    max_batch_size = config.max_batch_size
    if max_batch_size < 0:
        check.error(
            f"max_batch_size is {max_batch_size}",
            at=("max_batch_size",),
            expected="max_batch_size >= 0 (0 = the model does not batch and dims include the batch)",
        )
    if not config.HasField("dynamic_batching"):
        return
    if max_batch_size == 0:
        check.error(
            "dynamic_batching is set but max_batch_size is 0",
            at=("dynamic_batching",),
            expected="max_batch_size > 0 with dynamic_batching",
            hint="a model with max_batch_size 0 cannot take batched requests; set max_batch_size "
            "(and drop the batch dimension from dims) or remove dynamic_batching",
        )
        return
    for index, size in enumerate(config.dynamic_batching.preferred_batch_size):
        if size <= 0 or size > max_batch_size > 0:
            check.error(
                f"preferred_batch_size {size} is outside 1..max_batch_size ({max_batch_size})",
                at=("dynamic_batching", "preferred_batch_size", index),
                expected=f"each preferred_batch_size between 1 and {max_batch_size}",
                hint="Triton refuses preferred batch sizes larger than max_batch_size",
            )


def _check_instance_groups(check: _ModelCheck) -> None:
    config = check.config
    if config.platform == ENSEMBLE_PLATFORM and config.instance_group:
        check.error(
            "an ensemble cannot have an instance_group",
            at=("instance_group",),
            hint="Triton runs an ensemble's steps with the instances of the models it calls",
        )
        return
    for index, group in enumerate(config.instance_group):
        at: FieldPath = ("instance_group", index)
        # proto3 cannot tell `count: 0` from no count; only a written count is the user's choice.
        if (*at, "count") in check.locations and group.count < 1:
            check.error(
                f"instance_group count is {group.count}",
                at=(*at, "count"),
                expected="count >= 1",
                hint="tritonserver quietly replaces a count below 1 with its default; write the "
                "number of instances you want, or leave count out",
            )
        if group.kind == _Kind.KIND_GPU:
            check.warning(
                "KIND_GPU instances are served on CPU by the harness",
                at=(*at, "kind"),
                hint="outputs are the same; latency is not representative of a Jetson's GPU",
            )
        elif group.kind == _Kind.KIND_CPU and group.gpus:
            check.error(
                "a KIND_CPU instance group lists gpus",
                at=(*at, "gpus"),
                expected="no gpus with KIND_CPU (or kind: KIND_GPU)",
                hint="Triton rejects gpus on a CPU instance group",
            )


def _check_tensors(check: _ModelCheck) -> None:
    for kind in ("input", "output"):
        seen: set[str] = set()
        for index, tensor in enumerate(getattr(check.config, kind)):
            at: FieldPath = (kind, index)
            label = f"{kind} {tensor.name!r}" if tensor.name else f"{kind} #{index + 1}"
            if not tensor.name:
                check.error(f"{label} has no name", at=at, expected='name: "<tensor name>"')
            elif tensor.name in seen:
                check.error(
                    f"{kind} name {tensor.name!r} is used twice",
                    at=(*at, "name"),
                    expected=f"unique {kind} names",
                )
            seen.add(tensor.name)
            if tensor.data_type == _DataType.TYPE_INVALID:
                check.error(f"{label} has no data_type", at=at, expected="data_type: TYPE_FP32 (or similar)")
            _check_dims_values(check, label, list(tensor.dims), (*at, "dims"), "dims")
            if tensor.HasField("reshape"):
                _check_dims_values(check, label, list(tensor.reshape.shape), (*at, "reshape"), "reshape")


def _check_dims_values(check: _ModelCheck, label: str, dims: list[int], at: FieldPath, field: str) -> None:
    if field == "dims" and not dims:
        check.error(
            f"{label} has no dims",
            at=at[:-1],
            expected="dims: [ ... ]",
            hint="for a scalar write dims: [ 1 ] with reshape: { shape: [ ] }",
        )
    bad = [dim for dim in dims if dim == 0 or dim < -1]
    if bad:
        check.error(
            f"{label} has invalid {field} {_shape(dims)}",
            at=at,
            expected="each dimension >= 1, or -1 for a variable size",
        )


def _check_versions(check: _ModelCheck) -> None:
    model_dir, config = check.model_dir, check.config
    for child in sorted(model_dir.iterdir()):
        if child.is_dir() and not _NUMERIC.fullmatch(child.name):
            check.warning(
                f"{child.name!r} is not a version directory (not a number); Triton ignores it",
                file=child,
                hint="versions are numbered directories such as 1/, 2/",
            )
    versions = version_dirs(model_dir)
    filename = default_model_filename(config)
    if not versions:
        check.error(
            "no version directory",
            file=model_dir,
            expected=f"{model_dir / '1' / (filename or '')}".rstrip("/"),
            hint="Triton loads each version from a numbered subdirectory; create 1/ and put the "
            "model file in it",
        )
    if filename and config.platform != ENSEMBLE_PLATFORM:
        for version, path in versions:
            _check_model_file(check, version, path, filename)
    _check_version_policy(check, versions)


def _check_model_file(check: _ModelCheck, version: int, version_dir: Path, filename: str) -> None:
    model = version_dir / filename
    if model.is_file() or model.is_dir():
        return
    if model.exists():
        check.error(
            f"model file for version {version} is not a regular file (a FIFO, socket or device): {model}",
            file=model,
            expected=f"{filename}: the model's bytes",
            hint="tritonserver reads the model file whole; put the model itself there",
        )
        return
    present = sorted(child.name for child in version_dir.iterdir())
    hint = f"version {version} contains: {', '.join(present)}" if present else f"{version}/ is empty"
    hint += "; put the model there as " + filename
    if not check.config.default_model_filename:
        hint += " or set default_model_filename"
    check.error(
        f"model file for version {version} not found: {version_dir / filename}",
        file=version_dir / filename,
        expected=f"{filename} in {version_dir}",
        hint=hint,
    )


def _check_version_policy(check: _ModelCheck, versions: list[tuple[int, Path]]) -> None:
    policy = check.config.version_policy
    if not policy.HasField("specific"):
        return
    existing = [version for version, _ in versions]
    for index, version in enumerate(policy.specific.versions):
        if version not in existing:
            check.error(
                f"version_policy asks for version {version} but {check.model_dir / str(version)} "
                "does not exist",
                at=("version_policy", "specific", "versions", index),
                expected="one of the version directories: " + (", ".join(map(str, existing)) or "none"),
            )


# --- ONNX models: compare the config with the graph -----------------------------------------------


@dataclass(frozen=True)
class GraphTensor:
    """An input or output of an ONNX graph as ONNX Runtime reports it to Triton."""

    name: str
    elem_type: int  # onnx.TensorProto element type; 0 when unknown or not a tensor
    shape: tuple[int, ...] | None  # -1 for variable dimensions; None when the graph has no shape
    shape_text: str  # as written in the graph, symbolic names included, e.g. [N, 3, 640, 640]

    def describe(self) -> str:
        return f"{self.name} ({_onnx_type_name(self.elem_type)} {self.shape_text})"


def onnx_graph_io(model: ModelProto) -> tuple[dict[str, GraphTensor], dict[str, GraphTensor]]:
    """The inputs (initializers excluded, as ONNX Runtime does) and outputs of an ONNX model."""
    graph = model.graph
    initializers = {init.name for init in graph.initializer}
    inputs = {vi.name: _graph_tensor(vi) for vi in graph.input if vi.name not in initializers}
    outputs = {vi.name: _graph_tensor(vi) for vi in graph.output}
    return inputs, outputs


def _graph_tensor(value_info: ValueInfoProto) -> GraphTensor:
    type_proto, name = value_info.type, value_info.name
    if not type_proto.HasField("tensor_type"):
        return GraphTensor(name, 0, None, "(not a tensor)")
    tensor_type = type_proto.tensor_type
    if not tensor_type.HasField("shape"):
        return GraphTensor(name, tensor_type.elem_type, None, "(no shape)")
    shape: list[int] = []
    text: list[str] = []
    for dim in tensor_type.shape.dim:
        fixed = dim.HasField("dim_value") and dim.dim_value > 0
        shape.append(dim.dim_value if fixed else -1)
        text.append(str(dim.dim_value) if fixed else (dim.dim_param or "?"))
    return GraphTensor(name, tensor_type.elem_type, tuple(shape), "[" + ", ".join(text) + "]")


def _check_onnx_models(check: _ModelCheck) -> None:
    config = check.config
    if not is_onnx_model(config):
        return
    for kind in ("input", "output"):
        if not getattr(config, kind):
            check.warning(
                f"no {kind}s declared; Triton auto-completes them from the model, the harness's "
                "autocomplete is not emulated — declare them",
                hint=f"copy the model's {kind}s (name, data_type, dims) into config.pbtxt",
            )
    filename = default_model_filename(config)
    for _, version_dir in version_dirs(check.model_dir):
        path = version_dir / filename
        if path.is_dir():  # the ONNX Runtime backend also accepts a directory holding the model
            path = path / "model.onnx"
        if path.is_file():
            model = _load_onnx(check, path)
            if model is not None:
                _compare_with_graph(check, path, *onnx_graph_io(model))


def _load_onnx(check: _ModelCheck, path: Path) -> ModelProto | None:
    import onnx  # deferred: importing onnx costs ~0.3 s and only ONNX models need it

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as err:  # onnx.load fails with protobuf, OS and value errors alike
        check.error(
            f"cannot load ONNX model: {type(err).__name__}: {err}",
            file=path,
            hint="re-export the model (torch.onnx.export) and check it with onnx.checker.check_model",
        )
        return None
    graph = model.graph
    if not (graph.node or graph.input or graph.output):
        check.error("the ONNX file holds no graph (empty or not an ONNX model)", file=path)
        return None
    return model


def _compare_with_graph(
    check: _ModelCheck, path: Path, inputs: dict[str, GraphTensor], outputs: dict[str, GraphTensor]
) -> None:
    model_file = check.relative(path)
    for kind, graph_tensors in (("input", inputs), ("output", outputs)):
        declared = list(getattr(check.config, kind))
        if not declared:
            continue
        graph_names = ", ".join(t.describe() for t in graph_tensors.values()) or "none"
        for index, tensor in enumerate(declared):
            found = graph_tensors.get(tensor.name)
            if found is None:
                check.error(
                    f"{kind} {tensor.name!r} is not an {kind} of {model_file}",
                    at=(kind, index, "name"),
                    expected=f"one of the model's {kind}s: "
                    + ", ".join(repr(name) for name in graph_tensors),
                    hint=f"{model_file} has {kind}s: {graph_names}",
                )
                continue
            _check_onnx_dtype(check, kind, index, tensor, found, model_file)
            _check_onnx_shape(check, kind, index, tensor, found, model_file)
        _check_undeclared(check, kind, declared, graph_tensors, model_file)


def _check_undeclared(
    check: _ModelCheck,
    kind: str,
    declared: list[_Tensor],
    graph_tensors: dict[str, GraphTensor],
    model_file: str,
) -> None:
    names = {tensor.name for tensor in declared}
    for name, tensor in graph_tensors.items():
        if name in names:
            continue
        snippet = _config_snippet(tensor, check.config.max_batch_size)
        if kind == "input":
            check.error(
                f"model input {name!r} of {model_file} is not declared in the config",
                at=("input",),
                expected=snippet,
                hint=f"Triton refuses to load the model (configuration expects {len(names)} inputs, "
                f"model provides {len(graph_tensors)})",
            )
        else:
            check.warning(
                f"model output {name!r} of {model_file} is not declared; Triton will not return it",
                at=("output",),
                expected=snippet,
            )


def _check_onnx_dtype(
    check: _ModelCheck, kind: str, index: int, tensor: _Tensor, found: GraphTensor, model_file: str
) -> None:
    data_type = tensor.data_type
    if data_type == _DataType.TYPE_INVALID:
        return  # reported by _check_tensors
    name = _DataType.Name(data_type)
    at: FieldPath = (kind, index, "data_type")
    if data_type == _DataType.TYPE_BF16:
        check.error(
            f"{kind} {found.name!r}: TYPE_BF16 is not supported by Triton's ONNX Runtime backend",
            at=at,
            hint="export the model with FLOAT16 or FLOAT tensors at its inputs and outputs",
        )
        return
    if TRITON_TO_ONNX_DTYPE.get(name) != found.elem_type:
        graph_type = _ONNX_TO_TRITON_DTYPE.get(found.elem_type, "")
        check.error(
            f"{kind} {found.name!r} is {name} in the config but "
            f"{_onnx_type_name(found.elem_type)} in {model_file}",
            at=at,
            expected=f"data_type: {graph_type}" if graph_type else "a type the model supports",
            hint="config types map to ONNX types: TYPE_FP32=FLOAT, TYPE_FP16=FLOAT16, "
            "TYPE_FP64=DOUBLE, TYPE_INT64=INT64, TYPE_UINT8=UINT8, TYPE_BOOL=BOOL, TYPE_STRING=STRING",
        )


def _check_onnx_shape(
    check: _ModelCheck, kind: str, index: int, tensor: _Tensor, found: GraphTensor, model_file: str
) -> None:
    max_batch_size = check.config.max_batch_size
    has_reshape = tensor.HasField("reshape")
    field = "reshape" if has_reshape else "dims"
    dims = list(tensor.reshape.shape if has_reshape else tensor.dims)
    if max_batch_size < 0 or (not dims and not has_reshape) or any(d == 0 or d < -1 for d in dims):
        return  # already reported; comparing would only repeat it
    if found.shape is None:
        check.warning(
            f"{kind} {found.name!r} has no shape in {model_file}; {field} not checked",
            at=(kind, index, field),
        )
        return
    problem = check_onnx_dims(found.shape, dims, max_batch_size, is_output=kind == "output")
    if problem is None:
        return
    check.error(
        f"{kind} {found.name!r} {'reshape' if has_reshape else 'dims'} do not match {model_file}: {problem}",
        at=(kind, index, field),
        expected=_expected_dims(found, max_batch_size, field),
        hint="with max_batch_size > 0 the config's dims leave out the batch dimension (Triton adds "
        "it); with max_batch_size 0 they include it. The model's shape is " + found.shape_text,
    )


def _expected_dims(found: GraphTensor, max_batch_size: int, field: str) -> str:
    shape = list(found.shape or ())
    if max_batch_size > 0:
        if shape and shape[0] == -1:
            return f"{field}: {_shape(shape[1:])}"
        return (
            "a model exported with a variable batch dimension (dynamic_axes={0: 'N'}), or "
            f"max_batch_size: 0 with {field}: {_shape(shape)}"
        )
    return f"{field}: {_shape(shape)}"


def _config_snippet(tensor: GraphTensor, max_batch_size: int) -> str:
    kind_type = _ONNX_TO_TRITON_DTYPE.get(tensor.elem_type, "TYPE_FP32")
    shape = list(tensor.shape or ())
    if max_batch_size > 0 and shape and shape[0] == -1:
        shape = shape[1:]
    return f'{{ name: "{tensor.name}" data_type: {kind_type} dims: {_shape(shape)} }}'


# --- labels ---------------------------------------------------------------------------------------


def _check_labels(check: _ModelCheck) -> None:
    referenced: set[Path] = set()
    for index, output in enumerate(check.config.output):
        if output.label_filename:
            path = check.model_dir / output.label_filename
            referenced.add(path)
            _check_label_file(check, index, output, path)
    labels_txt = check.model_dir / _LABELS_FILE
    if labels_txt.is_file() and labels_txt not in referenced:
        _check_unreferenced_labels(check, labels_txt)


def _check_label_file(
    check: _ModelCheck, index: int, output: model_config_pb2.ModelOutput, path: Path
) -> None:
    name, filename = output.name, output.label_filename
    if not path.is_file():
        in_versions = [v for v, d in version_dirs(check.model_dir) if (d / filename).is_file()]
        hint = "Triton reads label_filename from the model directory, next to config.pbtxt"
        if in_versions:
            hint += f"; it is in version {in_versions[0]}/ — move it up one level"
        check.error(
            f"label file {filename!r} of output {name!r} not found",
            at=("output", index, "label_filename"),
            expected=f"a file {path}",
            hint=hint,
        )
        return
    labels = _read_labels(check, path)
    dims = list(output.dims)
    classes = dims[-1] if dims and dims[-1] > 0 else None
    if labels is not None and classes is not None and len(labels) != classes:
        check.warning(
            f"{filename} has {len(labels)} labels but output {name!r} has {classes} classes "
            f"(its last dimension)",
            file=path,
            expected=f"{classes} non-empty lines",
            hint="a label per class, in class-index order; a wrong count shifts or drops class names",
        )


def _check_unreferenced_labels(check: _ModelCheck, path: Path) -> None:
    labels = _read_labels(check, path)
    if labels is None:
        return
    if not labels:
        check.warning(f"{path.name} is empty", file=path, expected="one class name per line")
        return
    parameter = check.config.parameters.get("num_classes")
    if parameter is None:
        return
    value = parameter.string_value.strip()
    if not value.isdigit():
        check.warning(
            f"parameter num_classes is {value!r}, not a whole number",
            at=("parameters",),
            expected='parameters { key: "num_classes" value: { string_value: "<count>" } }',
        )
    elif int(value) != len(labels):
        check.warning(
            f"{path.name} has {len(labels)} labels but parameter num_classes is {value}",
            file=path,
            expected=f"{value} non-empty lines",
            hint="a label per class, in class-index order",
        )


def _read_labels(check: _ModelCheck, path: Path) -> list[str] | None:
    """Non-empty lines of a label file, or None (with a warning) if it is not UTF-8 text."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as err:
        check.warning(
            f"{path.name} is not UTF-8 text (byte {err.start})",
            file=path,
            hint="save it as UTF-8; Triton returns label names as UTF-8 strings",
        )
        return None
    return [line.strip() for line in text.splitlines() if line.strip()]


# --- ensembles ------------------------------------------------------------------------------------


def _check_ensemble(check: _ModelCheck) -> None:
    config = check.config
    scheduled = config.HasField("ensemble_scheduling")
    if config.platform == ENSEMBLE_PLATFORM and not (scheduled and config.ensemble_scheduling.step):
        check.error(
            "an ensemble without steps",
            at=("platform",),
            expected='ensemble_scheduling { step [ { model_name: "..." model_version: -1 input_map { ... } '
            "output_map { ... } } ] }",
        )
    elif scheduled and config.platform != ENSEMBLE_PLATFORM:
        check.error(
            "ensemble_scheduling is set but the platform is not ensemble",
            at=("ensemble_scheduling",),
            expected='platform: "ensemble"',
        )


_MODEL_CHECKS = (
    _check_name,
    _check_platform_and_backend,
    _check_batching,
    _check_instance_groups,
    _check_tensors,
    _check_versions,
    _check_onnx_models,
    _check_labels,
    _check_ensemble,
)


# --- the repository -------------------------------------------------------------------------------


def validate_model_repository(root: Path) -> DiagnosticReport:
    """Check every model in a Triton model repository and the repository's layout."""
    report = DiagnosticReport()
    if not root.exists():
        report.add(Diagnostic("error", str(root), "model repository not found", expected="a directory"))
        return report
    if not root.is_dir():
        report.add(
            Diagnostic(
                "error",
                str(root),
                "model repository is not a directory",
                expected="a directory holding <model>/config.pbtxt",
            )
        )
        return report
    configs: dict[str, ModelConfig] = {}
    for child in sorted(root.iterdir()):
        if not child.is_dir():
            continue
        if not (child / CONFIG_FILE).is_file():
            report.add(
                Diagnostic(
                    "warning",
                    str(child),
                    f"no {CONFIG_FILE}; Triton would try to auto-complete a config, the harness "
                    "skips this directory",
                    hint=f"add {child / CONFIG_FILE}, or move the directory out of the repository",
                )
            )
            continue
        config, model_report = validate_model(child)
        report.extend(model_report)
        if config is not None:
            configs[child.name] = config
    if not model_dirs(root):
        report.add(
            Diagnostic(
                "error",
                str(root),
                "no models in the repository",
                expected=f"{root}/<model>/{CONFIG_FILE} and {root}/<model>/1/model.onnx",
            )
        )
    _check_ensemble_steps(root, configs, report)
    return report


def _check_ensemble_steps(root: Path, configs: dict[str, ModelConfig], report: DiagnosticReport) -> None:
    """An ensemble step naming a model the repository does not have fails the ensemble's load."""
    for name, config in configs.items():
        if config.platform != ENSEMBLE_PLATFORM:
            continue
        config_path = root / name / CONFIG_FILE
        locations: dict[FieldPath, tuple[int, int]] | None = None
        for index, step in enumerate(config.ensemble_scheduling.step):
            if step.model_name in configs:
                continue
            if locations is None:
                locations = field_locations(config_path.read_text(encoding="utf-8"))
            line_col = locations.get(("ensemble_scheduling", "step", index, "model_name"))
            report.add(
                Diagnostic(
                    "error",
                    str(config_path),
                    f"ensemble step {index + 1} calls model {step.model_name!r}, which is not in "
                    "the repository",
                    location=f"{line_col[0]}:{line_col[1]}" if line_col else "",
                    expected="one of: " + ", ".join(sorted(n for n in configs if n != name)),
                )
            )


# --- formatting -----------------------------------------------------------------------------------


def _shape(dims: Iterable[int]) -> str:
    return "[" + ", ".join(str(d) for d in dims) + "]"


def _onnx_type_name(elem_type: int) -> str:
    from onnx import TensorProto

    try:
        return TensorProto.DataType.Name(elem_type)
    except ValueError:
        return f"type {elem_type}"


def _did_you_mean(value: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(value, list(choices), n=1)
    return f"did you mean {close[0]!r}?" if close else ""
