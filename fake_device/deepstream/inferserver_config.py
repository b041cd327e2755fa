"""The nvinferserver config file (protobuf text, ``nvdsinferserver.config.PluginControl``).

DeepStream parses the file with protobuf's TextFormat against includes/nvdsinferserver_config.proto
(+ nvdsinferserver_common.proto, nvdsinferserver_plugin.proto in github NVIDIA/DeepStream), then
``validateProtoConfig`` (src/utils/nvdsinferserver/infer_proto_utils.cpp) fills defaults and
resolves relative paths against the config file's folder. The emulation does the same with a
descriptor built here from a compact table (the field names and numbers are the upstream
schema's, so a file that parses here parses on a device), and then checks what DeepStream only
discovers at start-up or never: parser names, label counts, the model repository, tensor names.

Fields that DeepStream knows but the emulation does not implement are left out of the table on
purpose: such a file fails with "not emulated" rather than silently behaving differently.
Fields that cannot change the detections (GPU memory pools, warm-up, buffer pool sizes) are
accepted and ignored.
"""

from __future__ import annotations

import contextlib
import difflib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from google.protobuf import descriptor, descriptor_pb2, descriptor_pool, message_factory, text_format

from fake_device.deepstream.bbox_parsers import BUILTIN_PARSER, PARSERS, NetworkInfo
from fake_device.deepstream.errors import (
    PATH_HINT,
    ConfigError,
    not_a_file,
    path_problem,
    read_config_text,
    real_path,
    shorten,
)
from harness.lint.protobuf_text import enum_names, undefined_enum_values, value_error_line

PACKAGE = "nvdsinferserver.config"
#: a field as written: names, plus an index after repeated fields, e.g. ("infer_config", "gpu_ids", 0)
FieldPath = tuple[str | int, ...]
_PROTO_URL = "https://github.com/NVIDIA/DeepStream/blob/main/includes/nvdsinferserver_config.proto"

#: largest max_batch_size nvinferserver accepts (kMakBatchSize in infer_base_context.cpp)
MAX_BATCH_SIZE_LIMIT = 1024
#: preprocess.normalize.scale_factor when unset or 0 (INFER_DEFAULT_PREPPROCESS_SCALE)
DEFAULT_SCALE_FACTOR = 1.0
#: NvBufSurfTransform_Inter values, in order (includes/nvbufsurftransform.h)
SCALING_FILTERS = ("Nearest", "Bilinear", "Algo1", "Algo2", "Algo3", "Algo4", "Default")
#: the last of them, which the plugin falls back to for an unknown value
DEFAULT_SCALING_FILTER = len(SCALING_FILTERS) - 1

# --- the schema ----------------------------------------------------------------------------------
# Enums: values numbered from 0 in order. Messages: "name number [repeated] type [oneof=group]";
# a type is a scalar, an enum or a message (names relative to the package, nested ones dotted);
# "map<K,V>" is a protobuf map.

_ENUMS: dict[str, tuple[str, ...]] = {
    "MediaFormat": ("MEDIA_FORMAT_NONE", "IMAGE_FORMAT_RGB", "IMAGE_FORMAT_BGR", "IMAGE_FORMAT_GRAY"),
    "TensorOrder": ("TENSOR_ORDER_NONE", "TENSOR_ORDER_LINEAR", "TENSOR_ORDER_NHWC"),
    "TensorDataType": (
        "TENSOR_DT_NONE", "TENSOR_DT_FP32", "TENSOR_DT_FP16", "TENSOR_DT_INT8", "TENSOR_DT_INT16",
        "TENSOR_DT_INT32", "TENSOR_DT_UINT8", "TENSOR_DT_UINT16", "TENSOR_DT_UINT32", "TENSOR_DT_FP64",
        "TENSOR_DT_INT64", "TENSOR_DT_UINT64", "TENSOR_DT_STRING",
    ),
    "FrameScalingHW": ("FRAME_SCALING_HW_DEFAULT", "FRAME_SCALING_HW_GPU", "FRAME_SCALING_HW_VIC"),
    "MemoryType": ("MEMORY_TYPE_DEFAULT", "MEMORY_TYPE_CPU", "MEMORY_TYPE_GPU"),
    "PluginControl.ProcessMode": (
        "PROCESS_MODE_DEFAULT", "PROCESS_MODE_FULL_FRAME", "PROCESS_MODE_CLIP_OBJECTS",
    ),
}  # fmt: skip

_MESSAGES: dict[str, tuple[str, ...]] = {
    "PluginControl": (
        "infer_config 1 InferenceConfig",
        "input_control 2 PluginControl.InputControl",
        "output_control 3 PluginControl.OutputControl",
    ),
    "PluginControl.InputControl": (
        "process_mode 1 PluginControl.ProcessMode",
        "operate_on_gie_id 2 int32",
        "operate_on_class_ids 3 repeated int32",
        "interval 4 uint32 oneof=inference_interval",
        "async_mode 5 bool",
    ),
    "PluginControl.OutputControl": ("output_tensor_meta 1 bool",),
    "InferenceConfig": (
        "unique_id 1 uint32",
        "gpu_ids 2 repeated int32",
        "max_batch_size 3 uint32",
        "backend 4 BackendParams",
        "preprocess 5 PreProcessParams oneof=preprocessing",
        "postprocess 6 PostProcessParams oneof=postprocessing",
        "custom_lib 7 CustomLib",
        "extra 8 ExtraControl oneof=advanced",
    ),
    "BackendParams": (
        "inputs 1 repeated InputLayer",
        "outputs 2 repeated OutputLayer",
        "trt_is 3 TritonParams oneof=infer_framework",
        "triton 4 TritonParams oneof=infer_framework",
        "output_mem_type 5 MemoryType",
        "disable_warmup 6 bool",
    ),
    "InputLayer": ("name 1 string", "dims 2 repeated int32", "data_type 3 TensorDataType"),
    "OutputLayer": ("name 1 string", "max_buffer_bytes 2 uint64"),
    "TritonParams": (
        "model_name 1 string",
        "version 2 int64",
        "model_repo 4 TritonModelRepo oneof=server",
        "grpc 5 TritonGrpcParams oneof=server",
    ),
    "TritonModelRepo": (
        "root 1 repeated string",
        "log_level 2 uint32",
        "strict_model_config 3 bool",
        "tf_gpu_memory_fraction 4 float",
        "tf_disable_soft_placement 5 bool",
        "min_compute_capacity 6 float",
        "backend_dir 7 string",
        "model_control_mode 8 string",
        "cuda_device_memory 9 repeated TritonModelRepo.CudaDeviceMem",
        "pinned_memory_pool_byte_size 10 uint64 oneof=pinned_mem",
        "backend_configs 11 repeated TritonModelRepo.BackendConfig",
    ),
    "TritonModelRepo.BackendConfig": ("backend 1 string", "setting 2 string", "value 3 string"),
    "TritonModelRepo.CudaDeviceMem": ("device 1 uint32", "memory_pool_byte_size 2 uint64"),
    "TritonGrpcParams": ("url 1 string", "enable_cuda_buffer_sharing 2 bool"),
    "PreProcessParams": (
        "network_format 1 MediaFormat",
        "tensor_order 2 TensorOrder",
        "tensor_name 3 string",
        "maintain_aspect_ratio 4 int32",
        "frame_scaling_hw 5 FrameScalingHW",
        "frame_scaling_filter 6 uint32",
        "normalize 7 PreProcessParams.ScaleNormalize oneof=preprocess_method",
        "symmetric_padding 8 int32",
    ),
    "PreProcessParams.ScaleNormalize": ("scale_factor 1 float", "channel_offsets 2 repeated float"),
    "PostProcessParams": (
        "labelfile_path 1 string",
        "detection 2 DetectionParams oneof=process_type",
        "other 5 OtherNetworkParams oneof=process_type",
    ),
    "OtherNetworkParams": ("type_name 1 string",),
    "DetectionParams": (
        "num_detected_classes 1 int32",
        "per_class_params 2 map<int32,DetectionParams.PerClassParams>",
        "custom_parse_bbox_func 3 string",
        "nms 4 DetectionParams.Nms oneof=clustering_policy",
        "group_rectangle 6 DetectionParams.GroupRectangle oneof=clustering_policy",
        "simple_cluster 7 DetectionParams.SimpleCluster oneof=clustering_policy",
    ),
    "DetectionParams.Nms": ("confidence_threshold 1 float", "iou_threshold 2 float", "topk 3 int32"),
    "DetectionParams.GroupRectangle": (
        "confidence_threshold 1 float",
        "group_threshold 2 int32",
        "eps 3 float",
    ),
    "DetectionParams.SimpleCluster": ("threshold 1 float",),
    "DetectionParams.PerClassParams": ("pre_threshold 1 float",),
    "CustomLib": ("path 1 string",),
    "ExtraControl": ("copy_input_to_host_buffers 1 bool", "output_buffer_pool_size 2 int32"),
}

#: upstream fields the emulation does not implement (message → field → what it would take)
NOT_EMULATED: dict[str, dict[str, str]] = {
    "InferenceConfig": {
        "input_tensor_from_meta": "tensors prepared by nvdspreprocess",
        "lstm": "LSTM loops",
        "clip_object_outside_roi": "nvdspreprocess ROIs",
    },
    "TritonParams": {"class_params": "Triton classification"},
    "ScaleNormalize": {"mean_file": "mean image subtraction"},
    "PostProcessParams": {
        "classification": "classifiers",
        "segmentation": "segmentation",
        "trtis_classification": "Triton classification",
        "triton_classification": "Triton classification",
    },
    "DetectionParams": {"dbscan": "DBSCAN clustering (use nms)"},
    "ExtraControl": {"custom_process_funcion": "IInferCustomProcessor libraries"},
    "InputControl": {
        "secondary_reinfer_interval": "secondary inference",
        "object_control": "secondary inference",
    },
    "OutputControl": {"detect_control": "output detection filters", "classifier_type": "classifiers"},
}

_SCALARS = {
    "int32": descriptor_pb2.FieldDescriptorProto.TYPE_INT32,
    "uint32": descriptor_pb2.FieldDescriptorProto.TYPE_UINT32,
    "int64": descriptor_pb2.FieldDescriptorProto.TYPE_INT64,
    "uint64": descriptor_pb2.FieldDescriptorProto.TYPE_UINT64,
    "float": descriptor_pb2.FieldDescriptorProto.TYPE_FLOAT,
    "bool": descriptor_pb2.FieldDescriptorProto.TYPE_BOOL,
    "string": descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
}


def _build_file() -> descriptor_pb2.FileDescriptorProto:
    """The FileDescriptorProto of the table above (proto3, package nvdsinferserver.config)."""
    fdp = descriptor_pb2.FileDescriptorProto(
        name="edge_harness/nvdsinferserver_config.proto", package=PACKAGE, syntax="proto3"
    )
    protos: dict[str, descriptor_pb2.DescriptorProto] = {}
    for name in sorted(_MESSAGES, key=lambda n: n.count(".")):  # parents before nested types
        parent, _, short = name.rpartition(".")
        protos[name] = (protos[parent].nested_type if parent else fdp.message_type).add(name=short)
    for name, values in _ENUMS.items():
        parent, _, short = name.rpartition(".")
        enum = (protos[parent].enum_type if parent else fdp.enum_type).add(name=short)
        for number, value in enumerate(values):
            enum.value.add(name=value, number=number)

    def set_type(fd: descriptor_pb2.FieldDescriptorProto, type_name: str) -> None:
        if type_name in _SCALARS:
            fd.type = _SCALARS[type_name]
        else:
            fd.type = fd.TYPE_ENUM if type_name in _ENUMS else fd.TYPE_MESSAGE
            fd.type_name = f".{PACKAGE}.{type_name}"

    for name, specs in _MESSAGES.items():
        proto = protos[name]
        oneofs: list[str] = []
        for spec in specs:
            words = spec.split()
            fname, number, rest = words[0], int(words[1]), words[2:]
            fd = proto.field.add(name=fname, number=number, json_name=fname)
            fd.label = fd.LABEL_OPTIONAL
            if rest[0] == "repeated":
                fd.label, rest = fd.LABEL_REPEATED, rest[1:]
            if map_match := re.fullmatch(r"map<(\w+),([\w.]+)>", rest[0]):
                entry_name = "".join(p.capitalize() for p in fname.split("_")) + "Entry"
                entry = proto.nested_type.add(name=entry_name)
                entry.options.map_entry = True
                for number_, (key, type_name) in enumerate(
                    zip(("key", "value"), map_match.groups(), strict=True), 1
                ):
                    kv = entry.field.add(name=key, number=number_, json_name=key, label=fd.LABEL_OPTIONAL)
                    set_type(kv, type_name)
                fd.label, fd.type = fd.LABEL_REPEATED, fd.TYPE_MESSAGE
                fd.type_name = f".{PACKAGE}.{name}.{entry_name}"
            else:
                set_type(fd, rest[0])
            for word in rest[1:]:
                if word.startswith("oneof="):
                    group = word.removeprefix("oneof=")
                    if group not in oneofs:
                        oneofs.append(group)
                        proto.oneof_decl.add(name=group)
                    fd.oneof_index = oneofs.index(group)
    return fdp


_POOL = descriptor_pool.DescriptorPool()
_POOL.Add(_build_file())
PluginControl = message_factory.GetMessageClass(_POOL.FindMessageTypeByName(f"{PACKAGE}.PluginControl"))


# --- the parsed config ---------------------------------------------------------------------------


@dataclass(frozen=True)
class BackendConfig:
    """``infer_config.backend.triton``: which model, served how."""

    model_name: str
    version: int  # -1: the latest
    repo_root: Path | None  # model_repo: the element starts Triton on this repository
    grpc_url: str | None  # grpc: a Triton that is already running
    strict_model_config: bool = True
    log_level: int = 0
    enable_cuda_buffer_sharing: bool = False
    output_mem_type: str = "MEMORY_TYPE_DEFAULT"
    #: backend.inputs: tensor → fixed dims (no batch) for wildcard model dims
    input_dims: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    #: backend.outputs: request only these (empty: all of the model's outputs)
    output_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class PreprocessConfig:
    """``infer_config.preprocess`` after DeepStream's defaults."""

    network_format: str  # "RGB" | "BGR" | "GRAY"
    tensor_order: str  # "LINEAR" (NCHW) | "NHWC" | "NONE" (take the model's)
    tensor_name: str  # "" → the model's first input
    maintain_aspect_ratio: bool
    symmetric_padding: bool
    frame_scaling_hw: str
    frame_scaling_filter: int  # NvBufSurfTransform_Inter
    scale_factor: float
    channel_offsets: tuple[float, ...]


@dataclass(frozen=True)
class DetectionConfig:
    """``postprocess.detection``, with thresholds resolved per class as DetectPostprocessor does."""

    num_detected_classes: int
    #: per class: per_class_params' pre_threshold, else the clustering policy's threshold, else 0
    pre_thresholds: tuple[float, ...]
    custom_parse_bbox_func: str
    clustering: str  # "nms" | "none" (simple_cluster and no policy: no clustering)
    nms_iou_threshold: float = 0.0
    nms_topk: int = 0


@dataclass(frozen=True)
class ClassificationConfig:
    """A classifier's post-processing (nvinfer ``network-type=1``): the softmax attribute parser."""

    threshold: float
    #: per output layer, the labels of its classes (the labels file's lines, split at ``;``)
    labels: tuple[tuple[str, ...], ...] = ()
    classifier_type: str = ""


@dataclass(frozen=True)
class InferServerConfig:
    """A loaded nvinferserver config: what the element needs, paths made absolute.

    ``message`` is the parsed PluginControl after DeepStream's automatic updates, ``lines`` the
    1-based line of each field path written in the file (``("infer_config", "unique_id")``) so
    that later checks can point at the line, ``warnings`` the updates DeepStream would log.
    """

    path: Path
    unique_id: int
    gpu_ids: tuple[int, ...]
    max_batch_size: int
    backend: BackendConfig
    preprocess: PreprocessConfig
    labelfile_path: Path | None
    labels: tuple[str, ...]
    detection: DetectionConfig | None  # None for a classifier
    custom_lib_path: str
    process_mode: str  # "FULL_FRAME" | "CLIP_OBJECTS"
    operate_on_gie_id: int
    interval: int
    output_tensor_meta: bool
    message: Any = field(repr=False, compare=False)
    lines: Mapping[FieldPath, int] = field(default_factory=dict, repr=False, compare=False)
    warnings: tuple[str, ...] = ()
    classification: ClassificationConfig | None = None
    operate_on_class_ids: tuple[int, ...] = ()

    def line_of(self, *path: str | int) -> int:
        """The line of a field path (or of its closest written parent); 0 if nothing of it is written."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return 0

    def error(
        self, message: str, *path: str | int, expected: str = "", hint: str | None = None
    ) -> ConfigError:
        """A ConfigError about this file, at the line of ``path``."""
        return ConfigError(self.path, message, line=self.line_of(*path), expected=expected, hint=hint)


# --- loading -------------------------------------------------------------------------------------


def load_inferserver_config(path: str | Path) -> InferServerConfig:
    """Parse, default and validate an nvinferserver config file; raise :class:`ConfigError` on any problem."""
    path = Path(path)
    text = read_config_text(path, missing_hint="check the config-file-path property of nvinferserver")
    return parse_inferserver_config(text, path)


def parse_inferserver_config(text: str, path: str | Path) -> InferServerConfig:
    """:func:`load_inferserver_config` on text already read; relative paths resolve against its folder."""
    path = Path(path).absolute()
    message = PluginControl()
    try:
        text_format.Parse(text, message)
    except text_format.ParseError as err:
        raise _parse_error(err, text, path) from err
    except ValueError as err:  # an enum number out of 32-bit range: protobuf says so without a line
        raise ConfigError(
            path,
            f"syntax error: {err}".rstrip("."),
            line=value_error_line(err, text),
            expected="an enum value by its name",
            hint=f"the schema: {_PROTO_URL}",
        ) from None
    except RecursionError:
        raise ConfigError(
            path, "messages nested too deeply to parse", hint="check for unbalanced '{' or '['"
        ) from None
    lines, tokens = field_locations(text)
    for at, enum, number in undefined_enum_values(message):
        line = next((lines[at[:n]] for n in range(len(at), 0, -1) if at[:n] in lines), 0)
        raise ConfigError(
            path,
            f"{'.'.join(str(p) for p in at)} is {number}, which is no {enum.name} value",
            line=line,
            expected="one of " + enum_names(enum),
            hint="write the value's name, not a number",
        )
    return _Validator(message, path, lines, tokens).run()


def _parse_error(err: text_format.ParseError, text: str, path: Path) -> ConfigError:
    line, column = err.GetLine() or 0, err.GetColumn() or 0
    lines = text.splitlines()
    source = lines[line - 1].strip() if 0 < line <= len(lines) else ""
    detail = re.sub(r"^\d+:\d+\s*:\s*", "", str(err))
    detail = re.sub(r"^'[^']*':\s*", "", detail)  # protobuf quotes the source line; we show it once
    expected, hint = "", f"the schema: {_PROTO_URL} (and nvdsinferserver_common.proto, _plugin.proto)"
    what = "syntax error"
    if match := re.search(r'Message type "(?P<type>[^"]+)" has no field named "(?P<field>[^"]+)"', detail):
        type_name, name = match.group("type"), match.group("field")
        short = type_name.rsplit(".", 1)[-1]
        known = list(_POOL.FindMessageTypeByName(type_name).fields_by_name)
        upstream = NOT_EMULATED.get(short, {})
        if name in upstream:
            what = "unsupported field"
            detail = f"{short}.{name} is valid in DeepStream but not emulated ({upstream[name]})"
            hint = "remove it; the emulation would not reproduce what it does on a device"
        else:
            detail = f"unknown field {name!r} in {short}"
            expected = f"a {short} field: {', '.join(known)}"
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"did you mean `{close[0]}`?" if close else hint
    elif match := re.search(r'Enum type "(?P<type>[^"]+)" has no value named (?P<value>\S+?)\.?$', detail):
        enum = _POOL.FindEnumTypeByName(match.group("type"))
        names = [v.name for v in enum.values]
        detail = f"invalid value {match.group('value')!r} for {enum.name}"
        expected = "one of " + ", ".join(names)
        close = [n for n in names if n.endswith("_" + match.group("value").upper())]
        close = close or difflib.get_close_matches(match.group("value"), names, n=1)
        hint = f"did you mean {close[0]}?" if close else hint
    elif match := re.search(
        r'Field "(?P<b>\w+)" is specified along with field "(?P<a>\w+)", another member '
        r'of oneof "(?P<group>\w+)"',
        detail,
    ):
        detail = f"{match.group('a')} and {match.group('b')} are both set; {match.group('group')} takes one"
        hint = f"keep either {match.group('a')} or {match.group('b')}"
    elif "/*" in source or "//" in source:
        hint = "the protobuf text format has only `#` comments"
    where = f"column {column}: " if column else ""
    shown = f": {source!r}" if source else ""
    message = f"{what} at {where}{detail.rstrip('.')}{shown}"
    return ConfigError(path, message, line=line, expected=expected, hint=hint)


# --- positions of fields -------------------------------------------------------------------------


def field_locations(text: str) -> tuple[dict[FieldPath, int], dict[FieldPath, str]]:
    """Map each field path written in ``text`` to its 1-based line, and each scalar to its token.

    Repeated fields (and map entries) get an index: ``("infer_config", "backend", "triton",
    "model_repo", "root", 0)``. Only for text that parsed; on anything unexpected what was found
    so far is returned, since a missing line only costs the message its line number.
    """
    lines: dict[FieldPath, int] = {}
    tokens: dict[FieldPath, str] = {}
    tokenizer = text_format.Tokenizer(text.splitlines())
    with contextlib.suppress(text_format.ParseError, ValueError, KeyError, AttributeError):
        _walk(tokenizer, PluginControl.DESCRIPTOR, (), lines, tokens, end=None)
    return lines, tokens


def _walk(
    tokenizer: text_format.Tokenizer,
    message: descriptor.Descriptor,
    prefix: FieldPath,
    lines: dict[FieldPath, int],
    tokens: dict[FieldPath, str],
    end: str | None,
) -> None:
    counts: dict[str, int] = {}
    while not tokenizer.AtEnd() and tokenizer.token != end:
        line = tokenizer._line + 1  # the tokenizer counts from 0
        name = tokenizer.token
        fd = message.fields_by_name[name]
        tokenizer.NextToken()
        tokenizer.TryConsume(":")
        lines.setdefault((*prefix, name), line)
        in_list = tokenizer.TryConsume("[")
        while not (in_list and tokenizer.TryConsume("]")):
            index: tuple[int, ...] = ()
            if fd.is_repeated:
                index = (counts.get(name, 0),)
                counts[name] = index[0] + 1
            key = (*prefix, name, *index)
            lines.setdefault(key, tokenizer._line + 1 if in_list else line)
            if fd.type == fd.TYPE_MESSAGE:
                close = ">" if tokenizer.token == "<" else "}"
                tokenizer.NextToken()
                _walk(tokenizer, fd.message_type, key, lines, tokens, end=close)
                tokenizer.Consume(close)
            else:
                is_string = tokenizer.token[:1] in ("'", '"')
                tokens[key] = tokenizer.token
                tokenizer.NextToken()
                while is_string and tokenizer.token[:1] in ("'", '"'):
                    tokenizer.NextToken()
            if not in_list:
                break
            tokenizer.TryConsume(",")
        if not tokenizer.TryConsume(","):
            tokenizer.TryConsume(";")


# --- validation ----------------------------------------------------------------------------------


def read_label_lines(path: Path) -> tuple[tuple[str, ...], ...]:
    """The labels file as DeepStream reads it (parseLabelsFile): each non-empty line split at ``;``.

    A detector's class N is the first label of line N; a classifier's output layer N has the
    labels of line N, one per class.
    """
    return tuple(tuple(line.split(";")) for line in path.read_text(encoding="utf-8").split("\n") if line)


def read_labels(path: Path) -> tuple[str, ...]:
    """A detector's labels: the first label of each non-empty line (:func:`read_label_lines`)."""
    return tuple(line[0] for line in read_label_lines(path))


class _Validator:
    """validateProtoConfig + the plugin's and the post-processor's start-up checks, with line numbers."""

    def __init__(
        self, message: Any, path: Path, lines: dict[FieldPath, int], tokens: dict[FieldPath, str]
    ) -> None:
        self.m = message
        self.path = path
        self.lines = lines
        self.tokens = tokens
        self.warnings: list[str] = []

    def line(self, *path: str | int) -> int:
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return 0

    def fail(
        self, message: str, *path: str | int, expected: str = "", hint: str | None = None
    ) -> ConfigError:
        return ConfigError(self.path, message, line=self.line(*path), expected=expected, hint=hint)

    def map_entry(self, at: FieldPath, key: int) -> FieldPath:
        """The path of the map entry written with ``key`` (the last one, as protobuf keeps it)."""
        found, i = at, 0
        while (*at, i) in self.lines:
            with contextlib.suppress(ValueError):
                if int(self.tokens.get((*at, i, "key"), ""), 0) == key:
                    found = (*at, i, "key")
            i += 1
        return found

    def warn(self, message: str) -> None:
        self.warnings.append(message)

    def resolve(self, value: str, *at: str | int) -> Path:
        """A path as ENSURE_REAL_PATH makes it: relative ones against the config file's folder.

        ``at`` is the field path, for the line of the error when the value cannot be a path.
        """
        problem = path_problem(value)
        if problem:
            raise self.fail(f"{'.'.join(map(str, at[-2:]))} {shorten(value)} {problem}", *at, hint=PATH_HINT)
        candidate = Path(value)
        return candidate if candidate.is_absolute() else real_path(self.path.parent / candidate)

    # -- the parts ---------------------------------------------------------------------------
    def run(self) -> InferServerConfig:
        if not self.m.HasField("infer_config"):
            raise self.fail(
                "no infer_config block", hint="an nvinferserver config starts with `infer_config { … }`"
            )
        ic = self.m.infer_config
        at = ("infer_config",)
        if ic.unique_id == 0:
            raise self.fail(
                "infer_config.unique_id is not set",
                *at,
                "unique_id",
                expected="an id > 0",
                hint="give each GIE its own id from 1: unique_id: 1",
            )
        if len(ic.gpu_ids) > 1:
            raise self.fail(
                f"infer_config.gpu_ids has {len(ic.gpu_ids)} GPUs; nvinferserver supports one",
                *at,
                "gpu_ids",
                hint="list one GPU: gpu_ids: [0]",
            )
        if not ic.gpu_ids:
            ic.gpu_ids.append(0)
        if ic.max_batch_size <= 0:
            ic.max_batch_size = 1
            self.warn("update max_batch_size to 1")
        if ic.max_batch_size > MAX_BATCH_SIZE_LIMIT:
            raise self.fail(
                f"infer_config.max_batch_size {ic.max_batch_size} is more than nvinferserver allows",
                *at,
                "max_batch_size",
                expected=f"at most {MAX_BATCH_SIZE_LIMIT}",
                hint="frames per request; usually the number of sources",
            )
        backend = self.backend(ic)
        preprocess = self.preprocess(ic)
        labelfile, labels, detection = self.postprocess(ic)
        custom_lib = self.custom_lib(ic, detection)
        process_mode, operate_on, interval, class_ids = self.input_control()
        return InferServerConfig(
            path=self.path,
            unique_id=ic.unique_id,
            gpu_ids=tuple(ic.gpu_ids),
            max_batch_size=ic.max_batch_size,
            backend=backend,
            preprocess=preprocess,
            labelfile_path=labelfile,
            labels=labels,
            detection=detection,
            custom_lib_path=custom_lib,
            process_mode=process_mode,
            operate_on_gie_id=operate_on,
            interval=interval,
            output_tensor_meta=self.m.output_control.output_tensor_meta,
            message=self.m,
            lines=dict(self.lines),
            warnings=tuple(self.warnings),
            operate_on_class_ids=class_ids,
        )

    def backend(self, ic: Any) -> BackendConfig:
        at: tuple[str, ...] = ("infer_config", "backend")
        if not ic.HasField("backend"):
            raise self.fail(
                "infer_config.backend is missing",
                "infer_config",
                expected="backend { triton { … } }",
                hint='add backend { triton { model_name: "..." version: -1 model_repo { root: "./models" '
                "} } }",
            )
        be = ic.backend
        if be.HasField("trt_is"):
            be.triton.CopyFrom(be.trt_is)  # validateBackend: trt_is is the deprecated name
            self.warn("backend.trt_is is deprecated. updated it to backend.triton")
            at = (*at, "trt_is")
        elif be.HasField("triton"):
            at = (*at, "triton")
        else:
            raise self.fail(
                "backend has no triton block",
                *at,
                expected="backend { triton { … } }",
                hint='add triton { model_name: "..." version: -1 model_repo { root: "./models" } } inside '
                "backend",
            )
        triton = be.triton
        if not triton.model_name:
            raise self.fail(
                "backend.triton.model_name is not set",
                *at,
                expected="the Triton model's name",
                hint='name the model folder of the repository: model_name: "rtdetr"',
            )
        repo_root = grpc_url = None
        strict, log_level, cuda_sharing = True, 0, False
        if triton.HasField("model_repo"):
            repo = triton.model_repo
            roots = list(repo.root)
            if not roots or not roots[0]:
                raise self.fail(
                    "model_repo.root is not set",
                    *at,
                    "model_repo",
                    expected="a directory",
                    hint='root: "./models", relative to this config\'s folder',
                )
            if len(roots) > 1:
                raise self.fail(
                    f"model_repo has {len(roots)} roots; the emulation serves one repository",
                    *at,
                    "model_repo",
                    "root",
                    1,
                    hint="keep one root",
                )
            if "://" in roots[0]:
                raise self.fail(
                    f"model_repo.root {roots[0]!r} is a remote repository, which the emulation cannot serve",
                    *at,
                    "model_repo",
                    "root",
                    0,
                    hint="copy the repository next to the config and give its local path",
                )
            repo_root = self.resolve(roots[0], *at, "model_repo", "root", 0)
            if not repo_root.is_dir():
                raise self.fail(
                    f"model_repo.root {roots[0]!r} does not exist (resolved to {repo_root})",
                    *at,
                    "model_repo",
                    "root",
                    0,
                    hint="relative roots are relative to the config file's folder, as in DeepStream",
                )
            model_dir = repo_root / triton.model_name
            if not model_dir.is_dir():
                models = sorted(p.name for p in repo_root.iterdir() if (p / "config.pbtxt").is_file())
                raise self.fail(
                    f"model {triton.model_name!r} is not in the model repository {repo_root}",
                    *at,
                    "model_name",
                    expected="one of: " + (", ".join(models) or "(the repository has no model)"),
                    hint="model_name is a folder of model_repo.root holding config.pbtxt; a relative "
                    "root starts at this config's folder",
                )
            strict, log_level = repo.strict_model_config, repo.log_level
        elif triton.HasField("grpc"):
            grpc_url = triton.grpc.url
            if not grpc_url:
                raise self.fail(
                    "backend.triton.grpc.url is not set",
                    *at,
                    "grpc",
                    expected="host:port",
                    hint='grpc { url: "127.0.0.1:8001" } (Triton\'s gRPC port)',
                )
            cuda_sharing = triton.grpc.enable_cuda_buffer_sharing
        else:
            raise self.fail(
                "backend.triton has neither model_repo nor grpc",
                *at,
                expected="model_repo { root: … } (start Triton) or grpc { url: … } (use a running one)",
                hint="model_repo starts Triton on a local repository; grpc uses one that is running",
            )
        if triton.version < -1:
            raise self.fail(
                f"backend.triton.version {triton.version} is not a version",
                *at,
                "version",
                hint="-1 serves the newest version; otherwise a version folder's number",
            )
        input_dims = {}
        for i, layer in enumerate(be.inputs):
            if not layer.name:
                raise self.fail(
                    "backend.inputs entry without a name",
                    "infer_config",
                    "backend",
                    "inputs",
                    i,
                    hint='name the tensor: inputs [ { name: "input" dims: [3, 640, 640] } ]',
                )
            if layer.dims:
                input_dims[layer.name] = tuple(layer.dims)
        outputs = []
        for i, layer in enumerate(be.outputs):
            if not layer.name:
                raise self.fail(
                    "backend.outputs entry without a name",
                    "infer_config",
                    "backend",
                    "outputs",
                    i,
                    hint='name the tensor: outputs [ { name: "output" } ]',
                )
            outputs.append(layer.name)
        mem_type = _POOL.FindEnumTypeByName(f"{PACKAGE}.MemoryType").values_by_number[be.output_mem_type].name
        return BackendConfig(
            model_name=triton.model_name,
            version=triton.version,
            repo_root=repo_root,
            grpc_url=grpc_url,
            strict_model_config=strict,
            log_level=log_level,
            enable_cuda_buffer_sharing=cuda_sharing,
            output_mem_type=mem_type,
            input_dims=input_dims,
            output_names=tuple(outputs),
        )

    def preprocess(self, ic: Any) -> PreprocessConfig:
        at = ("infer_config", "preprocess")
        if not ic.HasField("preprocess"):
            self.warn("preprocess is not configured, will use default settings")
        pre = ic.preprocess
        if pre.network_format == 0:
            pre.network_format = 1
            self.warn("auto-update preprocess.network_format to IMAGE_FORMAT_RGB")
        if not pre.HasField("normalize"):
            pre.normalize.scale_factor = DEFAULT_SCALE_FACTOR
            self.warn(f"auto-update preprocess.normalize.scale_factor to {DEFAULT_SCALE_FACTOR:.4f}")
        elif pre.normalize.scale_factor == 0:
            pre.normalize.scale_factor = DEFAULT_SCALE_FACTOR
            self.warn(f"auto-update preprocess.normalize.scale_factor from 0 to {DEFAULT_SCALE_FACTOR:.4f}")
        if not math.isfinite(pre.normalize.scale_factor):
            raise self.fail(
                "preprocess.normalize.scale_factor is not a number",
                *at,
                "normalize",
                "scale_factor",
                hint="pixels are multiplied by it: 0.0039215697906911373 (1/255) maps 0..255 to 0..1",
            )
        network_format = ("", "RGB", "BGR", "GRAY")[pre.network_format]
        channels = 1 if network_format == "GRAY" else 3
        offsets = tuple(pre.normalize.channel_offsets)
        if offsets and len(offsets) < channels:
            # NetworkPreprocessor::setScaleOffsets refuses fewer offsets than channels
            raise self.fail(
                f"preprocess.normalize.channel_offsets has {len(offsets)} values for {channels} channels "
                f"({network_format})",
                *at,
                "normalize",
                "channel_offsets",
                expected=f"{channels} offsets, one per network channel",
                hint="one mean per network channel, e.g. channel_offsets: [0, 0, 0]",
            )
        scaling_filter = pre.frame_scaling_filter
        if scaling_filter > DEFAULT_SCALING_FILTER:
            self.warn(f"unsupported proto frame_scaling_filter: {scaling_filter}, using Default (nearest)")
            scaling_filter = DEFAULT_SCALING_FILTER
        hw = _POOL.FindEnumTypeByName(f"{PACKAGE}.FrameScalingHW").values_by_number[pre.frame_scaling_hw].name
        return PreprocessConfig(
            network_format=network_format,
            tensor_order=("NONE", "LINEAR", "NHWC")[pre.tensor_order],
            tensor_name=pre.tensor_name,
            maintain_aspect_ratio=pre.maintain_aspect_ratio != 0,
            symmetric_padding=pre.symmetric_padding != 0,
            frame_scaling_hw=hw,
            frame_scaling_filter=scaling_filter,
            scale_factor=pre.normalize.scale_factor,
            channel_offsets=offsets[:channels],
        )

    def postprocess(self, ic: Any) -> tuple[Path | None, tuple[str, ...], DetectionConfig | None]:
        """Labels and detection settings; no detection for ``other {}`` (the app parses the tensor
        meta, as deepstream-ssd-parser does)."""
        at = ("infer_config", "postprocess")
        post = ic.postprocess
        if not ic.HasField("postprocess") or not (post.HasField("detection") or post.HasField("other")):
            raise self.fail(
                "postprocess has no detection or other block; the emulation runs detectors, and networks "
                "the app parses itself",
                *at,
                expected="postprocess { detection { num_detected_classes: N custom_parse_bbox_func: … } } "
                "or postprocess { other {} } with output_control { output_tensor_meta: true }",
                hint='add postprocess { detection { num_detected_classes: N custom_parse_bbox_func: "..." '
                "} }",
            )
        det = post.detection
        dat = (*at, "detection")
        labelfile = None
        labels: tuple[str, ...] = ()
        if post.labelfile_path:
            labelfile = self.resolve(post.labelfile_path, *at, "labelfile_path")
            if problem := not_a_file(labelfile):
                raise self.fail(
                    f"labels file {shorten(post.labelfile_path)} {problem} (resolved to {labelfile})",
                    *at,
                    "labelfile_path",
                    hint="relative paths are relative to the config file's folder, as in DeepStream",
                )
            try:
                labels = read_labels(labelfile)
            except (OSError, UnicodeDecodeError) as err:
                raise self.fail(
                    f"cannot read labels file {labelfile}: {err}",
                    *at,
                    "labelfile_path",
                    hint="a labels file is UTF-8 text, one class name per line",
                ) from err
        if post.HasField("other"):
            if not self.m.output_control.output_tensor_meta:
                self.warn(
                    "postprocess.other without output_control.output_tensor_meta: nothing reads the outputs"
                )
            return labelfile, labels, None
        n = det.num_detected_classes
        if n <= 0:
            raise self.fail(
                "detection.num_detected_classes is not set",
                *dat,
                "num_detected_classes",
                expected="N > 0",
                hint="one class per line of the labels file: num_detected_classes: 4",
            )
        if labelfile is not None and len(labels) != n:
            raise self.fail(
                f"labels file {labelfile} has {len(labels)} labels but num_detected_classes is {n}",
                *dat,
                "num_detected_classes",
                hint=f"one class per non-empty line of {labelfile.name}; make the two agree",
            )
        # DetectPostprocessor::allocateResource: the policy's threshold is every class's default
        default, clustering, iou, topk = 0.0, "none", 0.0, 0
        if det.HasField("nms"):
            default, clustering = det.nms.confidence_threshold, "nms"
            iou, topk = det.nms.iou_threshold, max(det.nms.topk, 0)
        elif det.HasField("group_rectangle"):
            # Without OpenCV (the default build) validatePostprocess turns it into nms
            default, clustering, iou, topk = det.group_rectangle.confidence_threshold, "nms", 0.5, 20
            self.warn("using detection.nms for clustering instead of detection.group_rectangle (no OpenCV)")
        elif det.HasField("simple_cluster"):
            default = det.simple_cluster.threshold
        thresholds = [default] * n
        for class_id, params in sorted(det.per_class_params.items()):
            if not 0 <= class_id < n:
                raise self.fail(
                    f"per_class_params key {class_id} is not a class (num_detected_classes is {n})",
                    *self.map_entry((*dat, "per_class_params"), class_id),
                    expected=f"a class id from 0 to {n - 1}",
                    hint="per_class_params keys are class ids from 0 to num_detected_classes - 1",
                )
            thresholds[class_id] = params.pre_threshold
        func = det.custom_parse_bbox_func
        if func and func not in PARSERS:
            raise self.fail(
                f"unknown custom_parse_bbox_func {func!r}",
                *dat,
                "custom_parse_bbox_func",
                hint="the emulation knows: " + ", ".join(PARSERS),
            )
        return labelfile, labels, DetectionConfig(n, tuple(thresholds), func, clustering, iou, topk)

    def custom_lib(self, ic: Any, detection: DetectionConfig | None) -> str:
        lib = ic.custom_lib.path if ic.HasField("custom_lib") else ""
        if not lib and (detection is None or detection.custom_parse_bbox_func == BUILTIN_PARSER):
            return ""  # the built-in DetectNet_v2 parser (or no parser at all) needs no library
        if not lib:
            assert detection is not None
            raise self.fail(
                f"custom_parse_bbox_func {detection.custom_parse_bbox_func!r} is set but there is no "
                "custom_lib",
                "infer_config",
                "postprocess",
                "detection",
                "custom_parse_bbox_func",
                hint='add custom_lib { path: ".../libnvdsinfer_custom_impl_Yolo.so" } (the emulation '
                "does not load it, DeepStream does)",
            )
        if "/" not in lib:
            return lib  # a bare name: dlopen searches the system library path
        resolved = self.resolve(lib, "infer_config", "custom_lib", "path")
        if not resolved.exists():
            self.warn(f"custom_lib {resolved} does not exist here; the emulation does not load it")
        return str(resolved)

    def input_control(self) -> tuple[str, int, int, tuple[int, ...]]:
        control = self.m.input_control
        mode = control.process_mode
        if mode == 0:
            control.process_mode = 1
            self.warn("Updated process_mode to FULL_FRAME in config")
        name = "CLIP_OBJECTS" if control.process_mode == 2 else "FULL_FRAME"
        return name, control.operate_on_gie_id, control.interval, tuple(control.operate_on_class_ids)


# --- checks against the served model -------------------------------------------------------------


@dataclass(frozen=True)
class ModelInput:
    """The image input nvinferserver picked and the network geometry it implies."""

    tensor_name: str
    tensor_order: str  # "LINEAR" | "NHWC"
    dims: tuple[int, ...]  # per frame, no batch
    network: NetworkInfo


def check_against_model(
    config: InferServerConfig,
    inputs: Mapping[str, Sequence[int]],
    *,
    model_tensor_order: str | None = None,
    model_max_batch_size: int | None = None,
) -> ModelInput:
    """Check the config against the served model's inputs (name → dims per frame, no batch).

    As InferCudaContext::fixateInferenceInfo: the image tensor is ``preprocess.tensor_name`` (or
    the model's first input), the tensor order the config's (or the model's, e.g. Triton's
    ``FORMAT_NCHW``), and wildcard dims must be fixed by ``backend.inputs``. The emulation also
    refuses a ``max_batch_size`` above the model's, which Triton would only reject per request.
    """
    pre = config.preprocess
    model = config.backend.model_name
    described = ", ".join(f"{n} {list(d)}" for n, d in inputs.items()) or "none"
    if not inputs:
        raise config.error(
            f"model {model!r} has no inputs",
            "infer_config",
            "backend",
            hint="the model's config.pbtxt declares no input: declare its image input (name, data_type, "
            "dims)",
        )
    name = pre.tensor_name or next(iter(inputs))
    if name not in inputs:
        raise config.error(
            f"preprocess.tensor_name {name!r} is not an input of model {model!r}",
            "infer_config",
            "preprocess",
            "tensor_name",
            expected="one of " + ", ".join(repr(n) for n in inputs),
            hint=f"the model's inputs: {described}",
        )
    for configured in config.backend.input_dims:
        if configured not in inputs:
            raise config.error(
                f"backend.inputs names {configured!r}, which is not an input of model {model!r}",
                "infer_config",
                "backend",
                "inputs",
                hint=f"the model's inputs: {described}",
            )
    dims = tuple(int(d) for d in inputs[name])
    fixed = config.backend.input_dims.get(name)
    if fixed is not None:
        if len(fixed) != len(dims) or any(m >= 0 and m != f for m, f in zip(dims, fixed, strict=False)):
            raise config.error(
                f"backend.inputs dims {list(fixed)} for {name!r} do not match the model's {list(dims)}",
                "infer_config",
                "backend",
                "inputs",
                hint="backend.inputs may only fix the model's dynamic dimensions (-1); make the fixed "
                "ones agree",
            )
        dims = tuple(fixed)
    if any(d < 0 for d in dims):
        raise config.error(
            f"input {name!r} of model {model!r} has wildcard dims {list(dims)}",
            "infer_config",
            "preprocess",
            "tensor_name",
            hint="fix them (without the batch size): "
            f"backend {{ inputs [ {{ name: {name!r} dims: [...] }} ] }}",
        )
    if len(dims) != 3:
        raise config.error(
            f"input {name!r} of model {model!r} has dims {list(dims)}; an image input has 3 "
            "(C, H, W or H, W, C)",
            "infer_config",
            "preprocess",
            "tensor_name",
            hint="nvinferserver feeds one image tensor: export the model with an input of 3 dims after "
            "the batch",
        )
    order = pre.tensor_order
    if order == "NONE":
        order = model_tensor_order or "NONE"
    elif model_tensor_order and model_tensor_order != order:
        raise config.error(
            f"preprocess.tensor_order TENSOR_ORDER_{order} is not what model {model!r} expects "
            f"(TENSOR_ORDER_{model_tensor_order})",
            "infer_config",
            "preprocess",
            "tensor_order",
            hint="set preprocess.tensor_order to the model's (FORMAT_NCHW is TENSOR_ORDER_LINEAR), or "
            "leave it out",
        )
    if order == "NONE":
        raise config.error(
            f"cannot figure out the tensor order of {name!r}",
            "infer_config",
            "preprocess",
            hint="set preprocess.tensor_order: TENSOR_ORDER_LINEAR (NCHW) or TENSOR_ORDER_NHWC",
        )
    c, h, w = dims if order == "LINEAR" else (dims[2], dims[0], dims[1])
    expected_c = 1 if pre.network_format == "GRAY" else 3
    if c != expected_c:
        raise config.error(
            f"input {name!r} has {c} channels (dims {list(dims)}, TENSOR_ORDER_{order}) but "
            f"network_format IMAGE_FORMAT_{pre.network_format} needs {expected_c}",
            "infer_config",
            "preprocess",
            "network_format",
            hint="IMAGE_FORMAT_RGB and _BGR feed 3 channels, IMAGE_FORMAT_GRAY one: match the model's input",
        )
    if model_max_batch_size is not None and 0 < model_max_batch_size < config.max_batch_size:
        raise config.error(
            f"infer_config.max_batch_size {config.max_batch_size} is more than model {model!r} accepts "
            f"({model_max_batch_size})",
            "infer_config",
            "max_batch_size",
            expected=f"at most {model_max_batch_size} (the model config's max_batch_size)",
            hint="lower infer_config.max_batch_size, or raise the model config's max_batch_size",
        )
    return ModelInput(name, order, dims, NetworkInfo(width=w, height=h, channels=c))
