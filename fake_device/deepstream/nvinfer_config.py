"""The nvinfer config file (a GLib key file: ``[property]``, ``[class-attrs-all]``, ``[class-attrs-N]``).

gst-nvinfer reads it in gstnvinfer_property_parser.cpp (github NVIDIA/DeepStream,
src/gst-plugins/gst-nvinfer): every ``[property]`` key fills ``NvDsInferContextInitParams`` or
the element, the ``[class-attrs-all]`` group fills the detection parameters of every class and
each ``[class-attrs-N]`` then overrides class N's. Relative paths resolve against the folder of
the config file (its real path). The emulation reads the same keys with the same types and
ranges, and fails where DeepStream only prints a warning and carries on (an unknown key, a
typo'd group), because a key that silently does nothing is exactly what a CI check must catch.

The file is read by the project's one GKeyFile reader (:class:`~.msgconv.KeyFile`). The result,
:class:`NvInferConfig`, converts to the :class:`~.inferserver_config.InferServerConfig` that the
nvinferserver emulation already runs on (:meth:`NvInferConfig.to_inferserver_config`), so both
elements share one preprocessing, one set of bounding-box parsers and one mapping back to the
frame. What nvinferserver's config cannot hold — nvinfer's per-class NMS IoU, post-cluster
threshold and top-k, and the element's size/ROI filters — stays in :attr:`NvInferConfig.class_attrs`
and is applied by :class:`~.nvinfer.NvInfer`.

Detectors (primary on frames, or secondary on objects) and classifiers (secondary on objects, or
on full frames) are emulated. Keys DeepStream knows but the emulation cannot reproduce
(Caffe/UFF/TAO models, mean images, segmentation, custom classifier parsers, DBSCAN and OpenCV
clustering) fail with "not emulated"; keys that only tune TensorRT or the GPU (workspace-size,
DLA, FP16/INT8) are accepted and recorded in :attr:`NvInferConfig.warnings`.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fake_device.deepstream.bbox_parsers import BUILTIN_PARSER, ORIG_TARGET_SIZES_INPUT, PARSERS
from fake_device.deepstream.errors import PATH_HINT, ConfigError, not_a_file, path_problem, real_path, shorten
from fake_device.deepstream.inferserver_config import (
    SCALING_FILTERS,
    BackendConfig,
    ClassificationConfig,
    DetectionConfig,
    FieldPath,
    InferServerConfig,
    PreprocessConfig,
    read_label_lines,
)
from fake_device.deepstream.msgconv import KeyFile, KeyFileEntry, KeyFileGroup, did_you_mean

log = logging.getLogger(__name__)

PROPERTY = "property"
CLASS_ATTRS_PREFIX = "class-attrs-"
CLASS_ATTRS_ALL = CLASS_ATTRS_PREFIX + "all"

#: gst-nvinfer's unique-id when gie-unique-id is not set (gstnvinfer.cpp DEFAULT_UNIQUE_ID)
DEFAULT_UNIQUE_ID = 15
#: NVDSINFER_MAX_BATCH_SIZE: batch-size is checked against [1, this]
MAX_BATCH_SIZE = 1024
#: _MAX_CHANNELS: the most values ``offsets`` may have
MAX_OFFSETS = 4
#: NvBufSurfTransformInter_Default: gst-nvinfer's scaling filter when scaling-filter is not set
DEFAULT_SCALING_FILTER = len(SCALING_FILTERS) - 1

COLOR_FORMATS = {0: "RGB", 1: "BGR", 2: "GRAY"}
NETWORK_MODES = {0: "FP32", 1: "INT8", 2: "FP16", 3: "BEST"}
NETWORK_TYPES = {0: "detector", 1: "classifier", 2: "segmentation", 3: "instance segmentation", 100: "other"}
#: network-type=100: the element infers and attaches nothing but the tensor meta (output-tensor-meta)
NETWORK_TYPE_OTHER = 100
PROCESS_MODES = {1: "primary, full frame", 2: "secondary, on objects"}
INPUT_ORDERS = {0: "LINEAR", 1: "NHWC"}
SCALING_COMPUTE_HW = {0: "FRAME_SCALING_HW_DEFAULT", 1: "FRAME_SCALING_HW_GPU", 2: "FRAME_SCALING_HW_VIC"}
CLUSTER_GROUP_RECTANGLES, CLUSTER_DBSCAN, CLUSTER_NMS, CLUSTER_HYBRID, CLUSTER_NONE = range(5)
CLUSTER_MODES = {
    CLUSTER_GROUP_RECTANGLES: "OpenCV groupRectangles",
    CLUSTER_DBSCAN: "DBSCAN",
    CLUSTER_NMS: "NMS",
    CLUSTER_HYBRID: "DBSCAN + NMS hybrid",
    CLUSTER_NONE: "no clustering",
}

# --- the keys ------------------------------------------------------------------------------------
# kind: how g_key_file_get_* reads the value (int, bool, double, string, path, int_list,
# double_list, string_list); "path" is a string resolved against the config's folder.

_PROPERTY_KEYS: dict[str, str] = {
    # the element
    "gie-unique-id": "int",
    "gpu-id": "int",
    "process-mode": "int",
    "interval": "int",
    "labelfile-path": "path",
    "output-tensor-meta": "bool",
    "operate-on-gie-id": "int",
    "operate-on-class-ids": "int_list",
    "filter-out-class-ids": "int_list",
    # the model and its engine
    "onnx-file": "path",
    "model-engine-file": "path",
    "int8-calib-file": "path",
    "batch-size": "int",
    "network-mode": "int",
    "network-type": "int",
    "is-classifier": "bool",
    "infer-dims": "int_list",
    "output-blob-names": "string_list",
    "custom-lib-path": "path",
    "parse-bbox-func-name": "string",
    "engine-create-func-name": "string",
    "num-detected-classes": "int",
    "cluster-mode": "int",
    "enable-dbscan": "bool",
    # preprocessing
    "net-scale-factor": "double",
    "offsets": "double_list",
    "model-color-format": "int",
    "network-input-order": "int",
    "maintain-aspect-ratio": "bool",
    "symmetric-padding": "bool",
    "scaling-filter": "int",
    "scaling-compute-hw": "int",
    # read, but with no effect on a CPU (see _NO_EFFECT)
    "workspace-size": "int",
    "tensor-meta-pool-size": "int",
    "enable-dla": "bool",
    "use-dla-core": "int",
    "force-implicit-batch-dim": "bool",
    "output-io-formats": "string_list",
    "layer-device-precision": "string_list",
    "secondary-reinfer-interval": "int",
    "input-object-min-width": "int",
    "input-object-min-height": "int",
    "input-object-max-width": "int",
    "input-object-max-height": "int",
    "classifier-async-mode": "bool",
    "classifier-type": "string",
    "classifier-threshold": "double",
    "segmentation-threshold": "double",
    "segmentation-output-order": "int",
}

#: keys that are read (and type-checked) but change nothing here, and why
_NO_EFFECT: dict[str, str] = {
    "workspace-size": "it sizes TensorRT's builder workspace",
    "tensor-meta-pool-size": "it sizes the GPU buffer pool of output tensors",
    "enable-dla": "it selects the Jetson's DLA cores",
    "use-dla-core": "it selects the Jetson's DLA cores",
    "force-implicit-batch-dim": "it is a TensorRT engine build option",
    "output-io-formats": "it is a TensorRT engine build option",
    "layer-device-precision": "it is a TensorRT engine build option",
    "int8-calib-file": "the model runs in FP32 (no INT8 calibration)",
    "engine-create-func-name": "the custom library's engine builder is not called; onnx-file runs as is",
    "segmentation-threshold": "it applies to segmentation (network-type=2)",
    "segmentation-output-order": "it applies to segmentation (network-type=2)",
}

#: keys DeepStream reads that the emulation does not implement: key → what they are for
NOT_EMULATED: dict[str, str] = {
    "model-file": "Caffe models",
    "proto-file": "Caffe models",
    "uff-file": "UFF models",
    "uff-input-order": "UFF models",
    "uff-input-dims": "UFF models",
    "input-dims": "UFF models",
    "uff-input-blob-name": "UFF models",
    "tlt-encoded-model": "TAO (TLT) encoded models",
    "tlt-model-key": "TAO (TLT) encoded models",
    "mean-file": "mean image subtraction",
    "input-tensor-from-meta": "tensors prepared by nvdspreprocess",
    "custom-network-config": "networks built by the custom library, e.g. from Darknet cfg files",
    "parse-bbox-instance-mask-func-name": "instance segmentation",
    "parse-classifier-func-name": "custom classifier parsers (the built-in softmax parser is emulated)",
    "output-instance-mask": "instance segmentation",
}

#: keys of Caffe and UFF models: beside onnx-file they change nothing (TrtModelBuilder::buildNetwork
#: parses ONNX only), alone they are an error
_OTHER_MODEL_KEYS = {key for key, what in NOT_EMULATED.items() if what in ("Caffe models", "UFF models")}

#: [class-attrs-*] key → (kind, ClassAttrs field)
_CLASS_KEYS: dict[str, tuple[str, str]] = {
    "pre-cluster-threshold": ("double", "pre_cluster_threshold"),
    "threshold": ("double", "pre_cluster_threshold"),  # the deprecated name
    "post-cluster-threshold": ("double", "post_cluster_threshold"),
    "nms-iou-threshold": ("double", "nms_iou_threshold"),
    "topk": ("int", "topk"),
    "eps": ("double", "eps"),
    "group-threshold": ("int", "group_threshold"),
    "minBoxes": ("int", "min_boxes"),
    "dbscan-min-score": ("double", "dbscan_min_score"),
    "roi-top-offset": ("int", "roi_top_offset"),
    "roi-bottom-offset": ("int", "roi_bottom_offset"),
    "detected-min-w": ("int", "detected_min_w"),
    "detected-min-h": ("int", "detected_min_h"),
    "detected-max-w": ("int", "detected_max_w"),
    "detected-max-h": ("int", "detected_max_h"),
    "border-color": ("double_list", "border_color"),
    "bg-color": ("double_list", "bg_color"),
}

#: DEFAULT_REINFER_INTERVAL: a tracked object is classified once unless secondary-reinfer-interval is set
DEFAULT_REINFER_INTERVAL = 2**31 - 1
#: the smallest object a secondary element crops on a Jetson, where scaling runs on the VIC
#: (gst_nvinfer_start raises input-object-min-width/height to 16 with compute hw Default or VIC)
JETSON_MIN_INPUT_OBJECT = 16

_INT = re.compile(r"[ \t\n\r\f\v]*[+-]?\d+[ \t\n\r\f\v]*")
_INT_LIMIT = 2**31 - 1


# --- the parsed config ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ClassAttrs:
    """One class's detection parameters (NvDsInferDetectionParams + the element's filter params).

    Defaults are gstnvinfer_property_parser.h's; ``topk`` -1 keeps every object.
    """

    pre_cluster_threshold: float = 0.2
    post_cluster_threshold: float = 0.0
    nms_iou_threshold: float = 0.3
    topk: int = -1
    eps: float = 0.0
    group_threshold: int = 0
    min_boxes: int = 0
    dbscan_min_score: float = 0.0
    roi_top_offset: int = 0
    roi_bottom_offset: int = 0
    detected_min_w: int = 0
    detected_min_h: int = 0
    detected_max_w: int = 0  # 0: no limit
    detected_max_h: int = 0
    border_color: tuple[float, ...] = (1.0, 0.0, 0.0, 1.0)  # OSD only
    bg_color: tuple[float, ...] | None = None  # OSD only


@dataclass(frozen=True)
class NvInferConfig:
    """A loaded nvinfer config: every key gst-nvinfer knows, defaulted, paths made absolute.

    ``class_attrs`` has one entry per class: ``[class-attrs-all]`` (or the defaults) with the
    class's own ``[class-attrs-N]`` applied. ``lines`` maps ``(group, key)`` — and ``(group, "")``
    for the header — to the 1-based line, so that any later check can point at the key.
    """

    path: Path
    onnx_file: Path
    num_detected_classes: int
    parse_bbox_func_name: str
    custom_lib_path: str
    class_attrs: tuple[ClassAttrs, ...]
    unique_id: int = DEFAULT_UNIQUE_ID
    gpu_id: int = 0
    batch_size: int = 1
    network_mode: int = 0
    network_type: int = 0
    model_engine_file: Path | None = None  # ignored: engines are GPU-specific
    int8_calib_file: Path | None = None
    labelfile_path: Path | None = None
    labels: tuple[str, ...] = ()
    net_scale_factor: float = 1.0
    offsets: tuple[float, ...] = ()
    model_color_format: str = "RGB"  # "RGB" | "BGR" | "GRAY"
    network_input_order: str = "LINEAR"  # "LINEAR" (NCHW) | "NHWC"
    infer_dims: tuple[int, int, int] | None = None  # c, h, w
    output_blob_names: tuple[str, ...] = ()
    engine_create_func_name: str = ""
    cluster_mode: int = CLUSTER_NONE
    interval: int = 0
    process_mode: int = 1
    maintain_aspect_ratio: bool = False
    symmetric_padding: bool = False
    scaling_filter: int = DEFAULT_SCALING_FILTER
    scaling_compute_hw: int = 0
    workspace_size: int = 0
    output_tensor_meta: bool = False
    operate_on_gie_id: int = -1
    operate_on_class_ids: tuple[int, ...] = ()
    filter_out_class_ids: tuple[int, ...] = ()
    #: the labels file's lines split at ';' (a classifier's labels per output layer)
    label_lines: tuple[tuple[str, ...], ...] = ()
    classifier_threshold: float = 0.0
    classifier_async_mode: bool = False
    classifier_type: str = ""
    secondary_reinfer_interval: int = DEFAULT_REINFER_INTERVAL
    input_object_min_width: int = 0
    input_object_min_height: int = 0
    input_object_max_width: int = 0  # 0: no limit
    input_object_max_height: int = 0
    lines: Mapping[tuple[str, str], int] = field(default_factory=dict, repr=False, compare=False)
    warnings: tuple[str, ...] = ()

    @property
    def is_classifier(self) -> bool:
        return self.network_type == 1

    @property
    def min_input_object_size(self) -> tuple[int, int]:
        """The smallest object (width, height) a secondary element infers on, as on a Jetson.

        gst_nvinfer_start raises input-object-min-width/height to 1, and on a Jetson (nvgpu
        driver) to 16 when scaling runs on the VIC (scaling-compute-hw 0, the default, or 2).
        """
        floor = 1 if self.scaling_compute_hw == 1 else JETSON_MIN_INPUT_OBJECT
        return max(floor, self.input_object_min_width), max(floor, self.input_object_min_height)

    def line_of(self, key: str = "", group: str = PROPERTY) -> int:
        """The line of ``key`` in ``group``, else the group's header, else 0."""
        return self.lines.get((group, key)) or self.lines.get((group, ""), 0)

    def error(
        self,
        message: str,
        key: str = "",
        group: str = PROPERTY,
        *,
        expected: str = "",
        hint: str | None = None,
    ) -> ConfigError:
        """A ConfigError about this file, at the line of ``key``."""
        return ConfigError(self.path, message, line=self.line_of(key, group), expected=expected, hint=hint)

    # -- the model ---------------------------------------------------------------------------
    def check_model(
        self,
        inputs: Mapping[str, Sequence[int]],
        outputs: Mapping[str, Sequence[int]] | None = None,
        *,
        max_batch_size: int = 0,
    ) -> tuple[str, tuple[int, ...]]:
        """Check the ONNX model's tensors (dims per frame, no batch; -1 dynamic) against the config.

        What TensorRT would refuse when nvinfer builds the engine: an input whose fixed dims
        disagree with ``infer-dims``, dynamic dims that ``infer-dims`` does not fix, a channel count
        that ``model-color-format`` cannot fill, more frames per batch than a fixed batch
        dimension holds. ``max_batch_size`` is the model's fixed batch (0: dynamic). Returns the
        image input's name and its dims per frame, dynamic ones fixed.
        """
        model = self.onnx_file.name
        described = ", ".join(f"{n} {list(d)}" for n, d in inputs.items()) or "none"
        images = [name for name in inputs if name != ORIG_TARGET_SIZES_INPUT]
        if len(images) != 1:
            raise self.error(
                f"{model} has {len(images)} image inputs ({described}); nvinfer feeds one",
                "onnx-file",
                hint="DeepStream needs NvDsInferInitializeInputLayers in the custom library for other "
                "inputs, which the emulation does not run",
            )
        name = images[0]
        dims = tuple(int(d) for d in inputs[name])
        if len(dims) != 3:
            raise self.error(
                f"input {name!r} of {model} has dims {list(dims)}; nvinfer needs an image input "
                "(C, H, W or H, W, C, after the batch dimension)",
                "onnx-file",
                hint="export the model with an image input of 3 dims after the batch, e.g. [N, 3, 640, 640]",
            )
        if self.infer_dims is not None:
            c, h, w = self.infer_dims
            wanted = (c, h, w) if self.network_input_order == "LINEAR" else (h, w, c)
            if any(d >= 0 and d != x for d, x in zip(dims, wanted, strict=True)):
                raise self.error(
                    f"infer-dims={c};{h};{w} (c;h;w) does not match input {name!r} of {model}: {list(dims)}",
                    "infer-dims",
                    hint="infer-dims only fixes the dynamic dimensions of the ONNX input; make it agree "
                    "or leave it out",
                )
            dims = wanted
        elif any(d < 0 for d in dims):
            raise self.error(
                f"input {name!r} of {model} has dynamic dims {list(dims)}",
                "onnx-file",
                hint="fix them with infer-dims=c;h;w, as TensorRT needs for the engine",
            )
        channels = dims[0] if self.network_input_order == "LINEAR" else dims[2]
        needed = 1 if self.model_color_format == "GRAY" else 3
        if channels != needed:
            code = next(k for k, v in COLOR_FORMATS.items() if v == self.model_color_format)
            raise self.error(
                f"input {name!r} of {model} has {channels} channels ({list(dims)}, "
                f"{self.network_input_order}) but model-color-format={code} ({self.model_color_format}) "
                f"needs {needed}",
                "model-color-format",
                hint="model-color-format=0 (RGB) or 1 (BGR) feed 3 channels, 2 (GRAY) one: match the model",
            )
        if 0 < max_batch_size < self.batch_size:
            raise self.error(
                f"batch-size={self.batch_size} is more than {model} takes (its batch dimension is "
                f"{max_batch_size})",
                "batch-size",
                expected=f"at most {max_batch_size}, or a model with a dynamic batch dimension",
                hint="lower batch-size, or export the model with a larger or dynamic batch dimension",
            )
        unknown = [n for n in self.output_blob_names if outputs is not None and n not in outputs]
        if unknown:
            assert outputs is not None
            raise self.error(
                f"output-blob-names names {', '.join(map(repr, unknown))}, not an output of {model}",
                "output-blob-names",
                expected="one of " + ", ".join(map(repr, outputs)),
                hint="list only the model's output names, or leave output-blob-names out",
            )
        return name, dims

    def to_inferserver_config(
        self,
        inputs: Mapping[str, Sequence[int]] | None = None,
        outputs: Mapping[str, Sequence[int]] | None = None,
        *,
        model_max_batch_size: int = 0,
    ) -> InferServerConfig:
        """The equivalent nvinferserver config, for the shared preprocessing, parsers and mapping.

        With the model's tensors (as for :meth:`check_model`) they are checked first and
        ``infer-dims`` fixes the image input's dynamic dims. ``detection`` carries the per-class
        pre-cluster thresholds and the clustering kind; nvinfer's per-class IoU, post-cluster
        threshold and top-k have no place there (nvinferserver has one ``nms`` block) and are
        applied by :class:`~.nvinfer.NvInfer` from :attr:`class_attrs` (``nms_iou_threshold`` is the
        classes' common value, 0 when they differ). ``lines`` maps the
        nvinferserver field paths to the nvinfer keys, so errors of the shared code point at
        this file's lines.
        """
        input_dims: dict[str, tuple[int, ...]] = {}
        if inputs is not None:
            name, dims = self.check_model(inputs, outputs, max_batch_size=model_max_batch_size)
            if self.infer_dims is not None:
                input_dims[name] = dims
        iou = {a.nms_iou_threshold for a in self.class_attrs}
        backend = BackendConfig(
            model_name=self.onnx_file.name,
            version=-1,
            repo_root=None,
            grpc_url=None,
            input_dims=input_dims,
            output_names=self.output_blob_names,
        )
        preprocess = PreprocessConfig(
            network_format=self.model_color_format,
            tensor_order=self.network_input_order,
            tensor_name="",  # the model's image input
            maintain_aspect_ratio=self.maintain_aspect_ratio,
            symmetric_padding=self.symmetric_padding,
            frame_scaling_hw=SCALING_COMPUTE_HW[self.scaling_compute_hw],
            frame_scaling_filter=self.scaling_filter,
            scale_factor=self.net_scale_factor,
            channel_offsets=self.offsets,
        )
        detection, classification = None, None
        if self.network_type == NETWORK_TYPE_OTHER:
            pass  # the app parses the outputs from the tensor meta
        elif self.is_classifier:
            classification = ClassificationConfig(
                self.classifier_threshold, self.label_lines, self.classifier_type
            )
        else:
            detection = DetectionConfig(
                num_detected_classes=self.num_detected_classes,
                pre_thresholds=tuple(a.pre_cluster_threshold for a in self.class_attrs),
                custom_parse_bbox_func=self.parse_bbox_func_name,
                clustering="nms" if self.cluster_mode == CLUSTER_NMS else "none",
                nms_iou_threshold=next(iter(iou)) if len(iou) == 1 else 0.0,
                nms_topk=0,
            )
        return InferServerConfig(
            path=self.path,
            unique_id=self.unique_id,
            gpu_ids=(self.gpu_id,),
            max_batch_size=self.batch_size,
            backend=backend,
            preprocess=preprocess,
            labelfile_path=self.labelfile_path,
            labels=self.labels,
            detection=detection,
            custom_lib_path=self.custom_lib_path,
            process_mode="CLIP_OBJECTS" if self.process_mode == 2 else "FULL_FRAME",
            operate_on_gie_id=self.operate_on_gie_id,
            interval=self.interval,
            output_tensor_meta=self.output_tensor_meta,
            message=None,  # no protobuf behind it
            lines=self._inferserver_lines(),
            warnings=self.warnings,
            classification=classification,
            operate_on_class_ids=self.operate_on_class_ids,
        )

    def _inferserver_lines(self) -> dict[FieldPath, int]:
        ic, pre, det = ("infer_config",), ("infer_config", "preprocess"), ("infer_config", "postprocess")
        pairs: dict[FieldPath, str] = {
            (*ic, "unique_id"): "gie-unique-id",
            (*ic, "gpu_ids"): "gpu-id",
            (*ic, "max_batch_size"): "batch-size",
            (*ic, "backend"): "onnx-file",
            (*ic, "backend", "inputs"): "infer-dims",
            (*ic, "backend", "outputs"): "output-blob-names",
            (*pre, "tensor_name"): "onnx-file",
            (*pre, "network_format"): "model-color-format",
            (*pre, "tensor_order"): "network-input-order",
            (*pre, "maintain_aspect_ratio"): "maintain-aspect-ratio",
            (*pre, "symmetric_padding"): "symmetric-padding",
            (*pre, "frame_scaling_filter"): "scaling-filter",
            (*pre, "frame_scaling_hw"): "scaling-compute-hw",
            (*pre, "normalize", "scale_factor"): "net-scale-factor",
            (*pre, "normalize", "channel_offsets"): "offsets",
            (*det, "labelfile_path"): "labelfile-path",
            (*det, "detection", "num_detected_classes"): "num-detected-classes",
            (*det, "detection", "custom_parse_bbox_func"): "parse-bbox-func-name",
            (*ic, "custom_lib"): "custom-lib-path",
            ("input_control", "process_mode"): "process-mode",
            ("input_control", "operate_on_gie_id"): "operate-on-gie-id",
            ("input_control", "interval"): "interval",
            ("output_control", "output_tensor_meta"): "output-tensor-meta",
        }
        lines = {path: self.line_of(key) for path, key in pairs.items()}
        lines[ic] = self.line_of()
        return {path: line for path, line in lines.items() if line}


# --- loading -------------------------------------------------------------------------------------


def load_nvinfer_config(path: str | Path) -> NvInferConfig:
    """Parse, default and validate an nvinfer config file; raise :class:`ConfigError` on any problem."""
    return parse_nvinfer_config(KeyFile.load(path), path)


def parse_nvinfer_config(key_file: KeyFile, path: str | Path) -> NvInferConfig:
    """:func:`load_nvinfer_config` on a key file already read; relative paths follow ``path``'s folder."""
    return _Loader(key_file, Path(path).absolute()).run()


class _Loader:
    """gst_nvinfer_parse_config_file + the start-up checks of NvDsInferContextImpl, with line numbers."""

    def __init__(self, key_file: KeyFile, path: Path) -> None:
        self.kf = key_file
        self.path = path
        self.folder = path.resolve().parent  # DeepStream resolves against realpath(config)
        self.lines: dict[tuple[str, str], int] = {}
        self.warnings: list[str] = []

    # -- reading values ------------------------------------------------------------------------
    def fail(
        self,
        message: str,
        entry: KeyFileEntry | KeyFileGroup | int | None = None,
        *,
        expected: str = "",
        hint: str | None = None,
    ) -> ConfigError:
        line = entry if isinstance(entry, int) else (entry.line if entry is not None else 0)
        return ConfigError(self.path, message, line=line, expected=expected, hint=hint)

    def warn(self, message: str, line: int = 0) -> None:
        """Record something DeepStream would do that the emulation does not (or only logs)."""
        where = f"{self.path}:{line}" if line else str(self.path)
        log.info("%s: %s", where, message)
        self.warnings.append(message)

    def resolve(self, value: str, entry: KeyFileEntry) -> Path:
        """get_absolute_file_path: absolute as given, relative against the config's folder."""
        problem = path_problem(value)
        if problem:
            raise self.fail(f"{entry.key} {shorten(value)} {problem}", entry, hint=PATH_HINT)
        candidate = Path(value)
        return real_path(candidate if candidate.is_absolute() else self.folder / candidate)

    def integer(self, entry: KeyFileEntry) -> int:
        """g_key_file_get_integer: a whole decimal number in C int range (space around it is fine)."""
        if not _INT.fullmatch(entry.raw) or abs(int(entry.raw)) > _INT_LIMIT:
            raise self.fail(
                f"{entry.key}={entry.raw!r} is not an integer",
                entry,
                expected="a whole number",
                hint="GKeyFile has no comments after a value; put them on a line of their own",
            )
        return int(entry.raw)

    def integers(self, entry: KeyFileEntry) -> list[int]:
        """g_key_file_get_integer_list: ``;``-separated integers."""
        numbers = []
        for position, item in enumerate(self.kf.string_list(entry), start=1):
            if not _INT.fullmatch(item) or abs(int(item)) > _INT_LIMIT:
                raise self.fail(
                    f"{entry.key}: item {position} {item!r} is not an integer",
                    entry,
                    expected="integers separated by ';'",
                    hint=f"e.g. {entry.key}=0;1;2 (whole numbers, no spaces or units)",
                )
            numbers.append(int(item))
        return numbers

    def double(self, entry: KeyFileEntry) -> float:
        """g_key_file_get_double, through the key file's own number rules (no trailing text)."""
        try:
            values = self.kf.double_list(entry)
        except ConfigError:  # its message is about lists
            values = []
        if len(values) != 1:
            raise self.fail(
                f"{entry.key}={entry.raw!r} is not a number",
                entry,
                expected="one number",
                hint="GLib reads a C double: digits, '.', an exponent (e.g. 0.0039215697906911373)",
            )
        return values[0]

    def value(self, kind: str, entry: KeyFileEntry) -> Any:
        if kind == "int":
            return self.integer(entry)
        if kind == "int_list":
            return self.integers(entry)
        if kind == "double":
            return self.double(entry)
        if kind == "double_list":
            return self.kf.double_list(entry)
        if kind == "bool":
            return self.kf.boolean(entry)
        if kind == "string_list":
            return self.kf.string_list(entry)
        return self.kf.string(entry)  # string, path

    def choice(self, entry: KeyFileEntry, value: int, choices: Mapping[int, str]) -> int:
        if value not in choices:
            raise self.fail(
                f"invalid {entry.key}={value}",
                entry,
                expected="one of " + ", ".join(f"{k} ({v})" for k, v in choices.items()),
                hint=f"write the number, e.g. {entry.key}={next(iter(choices))}",
            )
        return value

    def at_least(self, entry: KeyFileEntry, value: float, minimum: float) -> None:
        if not value >= minimum:  # also refuses nan
            raise self.fail(
                f"{entry.key}={entry.raw.strip()} is out of range",
                entry,
                expected=f">= {minimum:g}",
                hint=f"use a value of at least {minimum:g}, or remove the key for DeepStream's default",
            )

    # -- the file ------------------------------------------------------------------------------
    def run(self) -> NvInferConfig:
        self.check_groups()
        prop = self.kf.groups[PROPERTY]
        values, entries = self.read_property(prop)
        fields = self.property_fields(prop, values, entries)
        fields["class_attrs"] = self.class_attrs(fields["num_detected_classes"])
        fields.update(
            self.files(
                prop, values, entries, fields["num_detected_classes"], fields.get("network_type", 0) != 0
            )
        )
        return NvInferConfig(path=self.path, lines=dict(self.lines), warnings=tuple(self.warnings), **fields)

    def check_groups(self) -> None:
        if PROPERTY not in self.kf.groups:
            raise self.fail(
                "no [property] group",
                hint="an nvinfer config starts with [property] (DeepStream: 'Could not find group property')",
            )
        for name, group in self.kf.groups.items():
            self.lines[(name, "")] = group.line
            if name in (PROPERTY, CLASS_ATTRS_ALL):
                continue
            if name.startswith(CLASS_ATTRS_PREFIX):
                suffix = name.removeprefix(CLASS_ATTRS_PREFIX)
                if not (suffix.isascii() and suffix.isdigit()):
                    raise self.fail(
                        f"invalid group [{name}]",
                        group,
                        expected="[class-attrs-all] or [class-attrs-<class id>], e.g. [class-attrs-0]",
                        hint="the class id is a plain number from 0, as in the labels file's order",
                    )
                continue
            raise self.fail(
                f"unknown group [{name}]",
                group,
                hint=did_you_mean(name, (PROPERTY, CLASS_ATTRS_ALL, CLASS_ATTRS_PREFIX + "0"))
                + " (nvinfer reads [property], [class-attrs-all] and [class-attrs-<class id>])",
            )

    def read_property(self, group: KeyFileGroup) -> tuple[dict[str, Any], dict[str, KeyFileEntry]]:
        values: dict[str, Any] = {}
        entries: dict[str, KeyFileEntry] = {}
        other_models: list[KeyFileEntry] = []
        for key in group.key_names():
            entry = group.get(key)
            assert entry is not None
            self.lines[(PROPERTY, key)] = entry.line
            if key in _OTHER_MODEL_KEYS:
                other_models.append(entry)
                continue
            if key in NOT_EMULATED:
                raise self.fail(
                    f"{key} is valid in DeepStream but not emulated ({NOT_EMULATED[key]})",
                    entry,
                    hint="the emulation runs ONNX detectors: give onnx-file, and remove this key",
                )
            if key not in _PROPERTY_KEYS:
                raise self.fail(
                    f"unknown key {key!r} in [{PROPERTY}]",
                    entry,
                    hint=did_you_mean(key, _PROPERTY_KEYS) if _close(key, _PROPERTY_KEYS) else None,
                )
            values[key] = self.value(_PROPERTY_KEYS[key], entry)
            entries[key] = entry
            if key in _NO_EFFECT:
                self.warn(f"{key} has no effect in the emulation: {_NO_EFFECT[key]}", entry.line)
        for entry in other_models:
            if "onnx-file" not in values:
                raise self.fail(
                    f"{entry.key} is valid in DeepStream but not emulated ({NOT_EMULATED[entry.key]})",
                    entry,
                    hint="the emulation runs ONNX models: give onnx-file",
                )
            # DeepStream 7 builds engines from ONNX files only: beside onnx-file these keys are dead
            self.warn(f"{entry.key} has no effect: onnx-file is the model", entry.line)
        return values, entries

    def property_fields(
        self, group: KeyFileGroup, values: dict[str, Any], entries: dict[str, KeyFileEntry]
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        get = values.get

        if (unique_id := get("gie-unique-id")) is not None:
            if unique_id <= 0:
                raise self.fail(
                    f"gie-unique-id={unique_id} should be > 0",
                    entries["gie-unique-id"],
                    hint="give each GIE its own id from 1; the metadata names its GIE by it",
                )
            out["unique_id"] = unique_id
        if (gpu_id := get("gpu-id")) is not None:
            self.at_least(entries["gpu-id"], gpu_id, 0)
            out["gpu_id"] = gpu_id
        if (batch := get("batch-size")) is not None:
            if not 1 <= batch <= MAX_BATCH_SIZE:
                raise self.fail(
                    f"batch-size={batch} is out of range",
                    entries["batch-size"],
                    expected=f"1..{MAX_BATCH_SIZE}",
                    hint="batch-size is the number of frames per inference, usually the number of sources",
                )
            out["batch_size"] = batch
        if (mode := get("network-mode")) is not None:
            out["network_mode"] = self.choice(entries["network-mode"], mode, NETWORK_MODES)
            if mode != 0:
                self.warn(
                    f"network-mode={mode} ({NETWORK_MODES[mode]}) has no effect: ONNX Runtime runs the model "
                    "in FP32 on the CPU (a device's reduced-precision engine scores slightly differently)",
                    entries["network-mode"].line,
                )
        network_type = get("network-type")
        if network_type is None and get("is-classifier"):  # the legacy key, when network-type is absent
            network_type = 1
        if network_type is not None:
            entry = entries.get("network-type") or entries["is-classifier"]
            self.choice(entry, network_type, NETWORK_TYPES)
            if network_type not in (0, 1, NETWORK_TYPE_OTHER):
                raise self.fail(
                    f"network-type={network_type} ({NETWORK_TYPES[network_type]}) is not emulated",
                    entry,
                    hint="the emulation runs detectors (network-type=0), classifiers (network-type=1) and "
                    "networks the app parses itself (network-type=100 with output-tensor-meta=1)",
                )
            out["network_type"] = network_type
        classifier = network_type == 1
        if (process_mode := get("process-mode")) is not None:
            out["process_mode"] = self.choice(entries["process-mode"], process_mode, PROCESS_MODES)
        if (interval := get("interval")) is not None:
            self.at_least(entries["interval"], interval, 0)
            out["interval"] = interval
            if out.get("process_mode") == 2:
                self.warn(
                    "interval has no effect in secondary mode (process-mode=2)", entries["interval"].line
                )
        out.update(self.secondary(values, entries, classifier))

        if classifier or network_type == NETWORK_TYPE_OTHER:  # no detector keys: nothing is parsed
            n = get("num-detected-classes")
            out["num_detected_classes"] = n if n is not None and n > 0 else 0
            return self.preprocessing(values, entries, out)

        # clustering: nvinfer's default is 0 (groupRectangles); enable-dbscan is the legacy switch
        cluster, cluster_entry = get("cluster-mode"), entries.get("cluster-mode")
        if get("enable-dbscan"):
            if cluster_entry is None:
                cluster, cluster_entry = CLUSTER_DBSCAN, entries["enable-dbscan"]
            else:
                self.warn(
                    "enable-dbscan is ignored because cluster-mode is set", entries["enable-dbscan"].line
                )
        if cluster_entry is not None and cluster_entry.key == "cluster-mode":
            self.choice(cluster_entry, cluster, CLUSTER_MODES)
        mode = CLUSTER_GROUP_RECTANGLES if cluster is None else cluster
        if mode not in (CLUSTER_NMS, CLUSTER_NONE):
            if cluster_entry is None:
                message = (
                    f"cluster-mode is not set, and its default 0 ({CLUSTER_MODES[mode]}) is not emulated"
                )
            else:
                written = f"{cluster_entry.key}={cluster_entry.raw.strip()}"
                message = f"{written} ({CLUSTER_MODES[mode]} clustering) is not emulated"
            hint = "use cluster-mode=2 (NMS) or cluster-mode=4 (no clustering)"
            if mode == CLUSTER_GROUP_RECTANGLES:
                hint += (
                    "; DeepStream built without OpenCV (the default) replaces groupRectangles by NMS with "
                    "nms-iou-threshold=0.5 and topk=20 per class: write cluster-mode=2 with those in "
                    "[class-attrs-all] to get exactly that"
                )
            raise self.fail(message, cluster_entry or group, hint=hint)
        out["cluster_mode"] = mode

        n = get("num-detected-classes")
        if n is None or n <= 0:
            raise self.fail(
                "num-detected-classes is not set"
                if n is None
                else f"num-detected-classes={n} is not a count",
                entries.get("num-detected-classes") or group,
                expected="num-detected-classes=N with N > 0 (a detector's class count)",
                hint="one class per line of the labels file (labelfile-path)",
            )
        out["num_detected_classes"] = n
        return self.preprocessing(values, entries, out)

    def preprocessing(
        self, values: dict[str, Any], entries: dict[str, KeyFileEntry], out: dict[str, Any]
    ) -> dict[str, Any]:
        """The keys of the network input, the engine and the element's outputs."""
        get = values.get
        if (scale := get("net-scale-factor")) is not None:
            if not math.isfinite(scale):
                raise self.fail(
                    "net-scale-factor is not a finite number",
                    entries["net-scale-factor"],
                    hint="pixels are multiplied by it: 0.0039215697906911373 (1/255) maps 0..255 to 0..1",
                )
            out["net_scale_factor"] = scale
        if (color := get("model-color-format")) is not None:
            out["model_color_format"] = COLOR_FORMATS[
                self.choice(entries["model-color-format"], color, COLOR_FORMATS)
            ]
        if (offsets := get("offsets")) is not None:
            channels = 1 if out.get("model_color_format") == "GRAY" else 3
            if len(offsets) > MAX_OFFSETS or len(offsets) != channels:
                raise self.fail(
                    f"offsets has {len(offsets)} values for {channels} channels "
                    f"({out.get('model_color_format', 'RGB')})",
                    entries["offsets"],
                    expected=f"{channels} values separated by ';', one mean per network channel",
                    hint="e.g. offsets=123.675;116.28;103.53 for RGB, or leave offsets out for none",
                )
            out["offsets"] = tuple(offsets)
        if (order := get("network-input-order")) is not None:
            out["network_input_order"] = INPUT_ORDERS[
                self.choice(entries["network-input-order"], order, INPUT_ORDERS)
            ]
        if (dims := get("infer-dims")) is not None:
            if len(dims) != 3 or min(dims) <= 0:
                raise self.fail(
                    f"infer-dims has {len(dims)} values" if len(dims) != 3 else "infer-dims has a value <= 0",
                    entries["infer-dims"],
                    expected="3 positive integers c;h;w",
                    hint="the network input without the batch, e.g. infer-dims=3;640;640",
                )
            out["infer_dims"] = (dims[0], dims[1], dims[2])
        for key, name in (
            ("maintain-aspect-ratio", "maintain_aspect_ratio"),
            ("symmetric-padding", "symmetric_padding"),
        ):
            if key in values:
                out[name] = values[key]
        if (scaling := get("scaling-filter")) is not None:
            choices = dict(enumerate(SCALING_FILTERS))
            out["scaling_filter"] = self.choice(entries["scaling-filter"], scaling, choices)
        if (hw := get("scaling-compute-hw")) is not None:
            out["scaling_compute_hw"] = self.choice(
                entries["scaling-compute-hw"], hw, {0: "default", 1: "GPU", 2: "VIC"}
            )

        # the rest of the element
        if (workspace := get("workspace-size")) is not None:
            out["workspace_size"] = max(workspace, 0)
        for key, name in (
            ("output-tensor-meta", "output_tensor_meta"),
            ("operate-on-gie-id", "operate_on_gie_id"),
        ):
            if key in values:
                out[name] = values[key]
        for key, name in (
            ("operate-on-class-ids", "operate_on_class_ids"),
            ("filter-out-class-ids", "filter_out_class_ids"),
        ):
            if key in values:
                out[name] = tuple(values[key])
        if "output-blob-names" in values:
            out["output_blob_names"] = tuple(values["output-blob-names"])
        if "engine-create-func-name" in values:
            out["engine_create_func_name"] = values["engine-create-func-name"]
        return out

    def secondary(
        self, values: dict[str, Any], entries: dict[str, KeyFileEntry], classifier: bool
    ) -> dict[str, Any]:
        """The keys of secondary inference (which objects, how often) and of classifiers."""
        out: dict[str, Any] = {}
        get = values.get
        for key in ("input-object-min-width", "input-object-min-height", "input-object-max-width",
                    "input-object-max-height", "secondary-reinfer-interval"):  # fmt: skip
            if (value := get(key)) is not None:
                self.at_least(entries[key], value, 0)
                out[key.replace("-", "_")] = value
        if (threshold := get("classifier-threshold")) is not None:
            self.at_least(entries["classifier-threshold"], threshold, 0)
            out["classifier_threshold"] = threshold
        if "classifier-async-mode" in values:
            out["classifier_async_mode"] = values["classifier-async-mode"]
        if "classifier-type" in values:
            out["classifier_type"] = values["classifier-type"]
        if not classifier:
            for key in ("classifier-threshold", "classifier-async-mode", "classifier-type"):
                if key in entries:
                    self.warn(
                        f"{key} has no effect: this is not a classifier (network-type=1)", entries[key].line
                    )
        return out

    def class_attrs(self, n: int) -> tuple[ClassAttrs, ...]:
        """[class-attrs-all] for every class, then each [class-attrs-N] on top of its class's values."""
        base = ClassAttrs()
        if CLASS_ATTRS_ALL in self.kf.groups:
            base = self.read_class_group(self.kf.groups[CLASS_ATTRS_ALL], base)
        per_class = [base] * n
        for name, group in self.kf.groups.items():
            if not name.startswith(CLASS_ATTRS_PREFIX) or name == CLASS_ATTRS_ALL:
                continue
            index = int(name.removeprefix(CLASS_ATTRS_PREFIX))
            if index >= n:
                raise self.fail(
                    f"[{name}] sets class {index} but num-detected-classes is {n}",
                    group,
                    expected=f"class ids 0..{n - 1}",
                    hint="raise num-detected-classes or remove the group",
                )
            per_class[index] = self.read_class_group(group, per_class[index])
        return tuple(per_class)

    def read_class_group(self, group: KeyFileGroup, base: ClassAttrs) -> ClassAttrs:
        changes: dict[str, Any] = {}
        for key in group.key_names():
            entry = group.get(key)
            assert entry is not None
            self.lines[(group.name, key)] = entry.line
            if key not in _CLASS_KEYS:
                raise self.fail(
                    f"unknown key {key!r} in [{group.name}]",
                    entry,
                    hint=did_you_mean(key, _CLASS_KEYS)
                    if _close(key, _CLASS_KEYS)
                    else f"[{group.name}] takes: {', '.join(_CLASS_KEYS)}",
                )
            kind, name = _CLASS_KEYS[key]
            value = self.value(kind, entry)
            if kind == "double_list":
                if len(value) != 4 or not all(0 <= v <= 1 for v in value):
                    raise self.fail(
                        f"{key} needs 4 values",
                        entry,
                        expected="r;g;b;a, each 0..1",
                        hint=f"e.g. {key}=1;0;0;1 (opaque red)",
                    )
                value = tuple(value)
            else:
                self.at_least(entry, value, 0)
            if key == "nms-iou-threshold" and value > 1:
                raise self.fail(
                    f"{key}={entry.raw.strip()} is out of range",
                    entry,
                    expected="0..1",
                    hint="an IoU is a fraction: 0.5 merges boxes that overlap by half",
                )
            if key == "threshold":
                self.warn(
                    "'threshold' is deprecated; DeepStream reads it as pre-cluster-threshold", entry.line
                )
            if key == "topk" and value == 0:
                self.warn(
                    f"[{group.name}] topk=0 keeps no objects (DeepStream cuts each class's list to 0); "
                    "leave topk out to keep all",
                    entry.line,
                )
            changes[name] = value
        return dataclasses.replace(base, **changes)

    def files(
        self,
        group: KeyFileGroup,
        values: dict[str, Any],
        entries: dict[str, KeyFileEntry],
        n: int,
        classifier: bool,
    ) -> dict[str, Any]:
        """The model, the engine, the labels and the parser: what NvDsInferContextImpl loads at start.

        ``classifier``: not a detector (network-type 1 or 100), so no bounding-box parser.
        """
        out: dict[str, Any] = {}
        onnx, engine = values.get("onnx-file"), values.get("model-engine-file")
        if engine is not None:
            out["model_engine_file"] = self.resolve(engine, entries["model-engine-file"])
            if onnx is None:
                raise self.fail(
                    "model-engine-file without onnx-file: TensorRT engines cannot run here; give onnx-file",
                    entries["model-engine-file"],
                    hint="an engine is built for one GPU and TensorRT version; the emulation runs the ONNX "
                    "file it was built from, with ONNX Runtime",
                )
            self.warn(
                f"model-engine-file {engine!r} is ignored: engines are GPU-specific; running onnx-file",
                entries["model-engine-file"].line,
            )
        if onnx is None:
            raise self.fail(
                "no model: onnx-file is not set",
                group,
                expected="onnx-file=<path of the ONNX model>",
                hint="the emulation runs ONNX models with ONNX Runtime (Caffe, UFF, TAO and engines are not "
                "emulated)",
            )
        onnx_file = self.resolve(onnx, entries["onnx-file"])
        if problem := not_a_file(onnx_file):
            raise self.fail(
                f"onnx-file {shorten(onnx)} {problem} (resolved to {onnx_file})",
                entries["onnx-file"],
                hint="relative paths are relative to the config file's folder, as in DeepStream",
            )
        out["onnx_file"] = onnx_file
        if (calib := values.get("int8-calib-file")) is not None:
            out["int8_calib_file"] = self.resolve(calib, entries["int8-calib-file"])

        if (labelfile := values.get("labelfile-path")) is not None:
            entry = entries["labelfile-path"]
            path = self.resolve(labelfile, entry)
            if problem := not_a_file(path):
                raise self.fail(
                    f"labelfile-path {shorten(labelfile)} {problem} (resolved to {path})",
                    entry,
                    hint="relative paths are relative to the config file's folder, as in DeepStream",
                )
            try:
                lines = read_label_lines(path)
            except (OSError, UnicodeDecodeError) as err:
                raise self.fail(
                    f"cannot read labels file {path}: {err}",
                    entry,
                    hint="a labels file is UTF-8 text, one class name per line",
                ) from err
            labels = tuple(line[0] for line in lines)
            out["label_lines"] = lines
            if not classifier and len(labels) != n:
                raise self.fail(
                    f"labels file {path} has {len(labels)} labels but num-detected-classes is {n}",
                    entries["num-detected-classes"],
                    hint=f"one class per non-empty line of {path.name}; make the two agree",
                )
            out["labelfile_path"], out["labels"] = path, labels

        func = values.get("parse-bbox-func-name") or BUILTIN_PARSER
        lib = values.get("custom-lib-path")
        if classifier and func != BUILTIN_PARSER:
            self.warn(
                "parse-bbox-func-name has no effect: this is not a detector (network-type=0)",
                entries["parse-bbox-func-name"].line,
            )
            func = BUILTIN_PARSER
        if func != BUILTIN_PARSER and func not in PARSERS:
            raise self.fail(
                f"unknown parse-bbox-func-name {func!r}",
                entries["parse-bbox-func-name"],
                hint="the emulation knows: "
                + ", ".join(PARSERS)
                + " (or none: the built-in DetectNet_v2 parser)",
            )
        out["parse_bbox_func_name"] = func
        out["custom_lib_path"] = ""
        if func != BUILTIN_PARSER and not lib:
            raise self.fail(
                f"parse-bbox-func-name={func} is set but there is no custom-lib-path",
                entries["parse-bbox-func-name"],
                hint="add custom-lib-path=.../libnvdsinfer_custom_impl_Yolo.so (the emulation does not load "
                "it, DeepStream does)",
            )
        if lib:
            lib_path = self.resolve(lib, entries["custom-lib-path"])
            if not lib_path.exists():
                self.warn(
                    f"custom-lib-path {lib_path} does not exist here; the emulation does not load it",
                    entries["custom-lib-path"].line,
                )
            out["custom_lib_path"] = str(lib_path)
        return out


def _close(word: str, candidates: Mapping[str, Any]) -> bool:
    """Whether :func:`did_you_mean` has a close match to offer (else the hint would list every key)."""
    return did_you_mean(word, candidates).startswith("did you mean")
