"""``nvinfer``: DeepStream's TensorRT inference element, running the model's ONNX file on the CPU.

The element is what an app gets from ``Gst.ElementFactory.make("nvinfer")``: a passthrough,
in-place transform on ``video/x-raw(memory:NVMM)`` NV12/RGBA batches with gst-nvinfer's
properties (names, types, ranges and defaults as ``gst-inspect-1.0 nvinfer`` shows them on a
Jetson with DeepStream 6/7). Its work is the existing emulation's: the key-file config is read by
:mod:`~fake_device.deepstream.nvinfer_config`, the model runs in
:class:`~fake_device.deepstream.nvinfer.NvInfer` (ONNX Runtime, nvinfer's post-processing) and
:class:`~fake_device.deepstream.gie.Gie` decides what to infer on and attaches the metadata.

As in gst-nvinfer (gstnvinfer.cpp, gstnvinfer_property_parser.cpp in github NVIDIA/DeepStream):

* setting ``config-file-path`` parses the file at once, so ``get_property("batch-size")`` reads
  the file's value (deepstream-test3 compares it with its source count); a property set by the
  app wins over the file's key, whichever is set first;
* the model is loaded when the element starts (READY → PAUSED); a bad config, a missing model or a
  tensor the model does not have fails the start with an ERROR message on the bus that names the
  file, the line and a hint.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, ClassVar

from fake_device.deepstream.elements._gie_element import (
    INFER_ON_CLASS_IDS,
    INFER_ON_GIE_ID,
    INPUT_TENSOR_META,
    INTERVAL,
    NVIDIA_FORUM_AUTHOR,
    UNIQUE_ID,
    GieElement,
    gie_templates,
)
from fake_device.deepstream.errors import ConfigError
from fake_device.deepstream.gie import Gie, GieSettings, parse_class_ids
from fake_device.deepstream.gst.element import (
    BOOL,
    ENUM,
    GPU_ID,
    STRING,
    SUPPORTED_DOC,
    UINT,
    enum_type,
    gproperties,
)
from fake_device.deepstream.gst.runtime import Gst
from fake_device.deepstream.nvinfer import NvInfer
from fake_device.deepstream.nvinfer_config import (
    DEFAULT_UNIQUE_ID,
    MAX_BATCH_SIZE,
    NvInferConfig,
    load_nvinfer_config,
)
from harness.errors import HarnessError

PROCESS_MODES = ((1, "Primary (Full Frame)", "primary"), (2, "Secondary (Objects)", "secondary"))


def process_mode_enum() -> Any:
    return enum_type("GstNvInferProcessModeType", PROCESS_MODES)


class NvInferElement(GieElement):
    """gst-nvinfer on the CPU (see the module docstring)."""

    __gtype_name__ = "GstNvInfer"  # default element names nvinfer0, nvinfer1, … as DeepStream's
    FACTORY_NAME: ClassVar[str] = "nvinfer"
    RANK: ClassVar[int] = Gst.Rank.PRIMARY

    __gstmetadata__ = (
        "NvInfer plugin",
        "NvInfer Plugin",
        "Nvidia DeepStreamSDK TensorRT plugin",
        NVIDIA_FORUM_AUTHOR,
    )
    __gsttemplates__ = gie_templates()

    PROPERTIES = (
        UNIQUE_ID(DEFAULT_UNIQUE_ID),
        ENUM("process-mode", process_mode_enum(), 1, "Infer processing mode"),
        STRING("config-file-path", "", "Path to the configuration file for this instance of nvinfer"),
        UINT("batch-size", 1, "Maximum batch size for inference", 1, MAX_BATCH_SIZE),
        INTERVAL(),
        INFER_ON_GIE_ID(),
        INFER_ON_CLASS_IDS(),
        STRING(
            "filter-out-class-ids",
            "",
            "Ignore metadata for objects of specified class ids\n\t\t\tUse string with values of class ids "
            "in ClassID (int) to set the property.\n\t\t\t e.g. 0;2;3",
        ),
        STRING(
            "model-engine-file",
            "",
            "Absolute path to the pre-generated serialized engine file for the model",
        ),
        GPU_ID(),
        BOOL(
            "raw-output-file-write",
            False,
            "Write raw inference output to file",
            supported=lambda v: not v,
            unsupported="writing raw output tensors to files is not emulated",
        ),
        BOOL("output-tensor-meta", False, "Attach inference tensor outputs as buffer metadata"),
        BOOL(
            "output-instance-mask",
            False,
            "Instance mask expected in network output and attach it to metadata",
            supported=lambda v: not v,
            unsupported="instance segmentation is not emulated",
        ),
        INPUT_TENSOR_META(),
        BOOL(
            "clip-object-outside-roi",
            True,
            "Clip the object bounding-box which lies outside the roi specified by nvdspreprosess plugin",
        ),
        BOOL(
            "crop-objects-to-roi-boundary",
            False,
            "Clip the object bounding-box which lies outside the roi boundary",
            supported=lambda v: not v,
            unsupported="cropping boxes to the ROI offsets is not emulated (boxes outside are dropped)",
        ),
    )
    __gproperties__ = gproperties(PROPERTIES)

    #: the properties a config key also sets: property → NvInferConfig field (the file loses to an
    #: explicitly set property)
    CONFIG_FIELDS: ClassVar[dict[str, str]] = {
        "unique-id": "unique_id",
        "process-mode": "process_mode",
        "batch-size": "batch_size",
        "interval": "interval",
        "infer-on-gie-id": "operate_on_gie_id",
        "gpu-id": "gpu_id",
        "output-tensor-meta": "output_tensor_meta",
    }

    def __init__(self) -> None:
        super().__init__()
        self._config: NvInferConfig | None = None
        self._config_error: ConfigError | None = None

    # -- properties ---------------------------------------------------------------------------
    def property_changed(self, name: str, value: Any) -> None:
        super().property_changed(name, value)
        if name == "config-file-path":
            self._load_config(value or "")

    def _load_config(self, path: str) -> None:
        """gst_nvinfer_parse_config_file, run when the property is set (as in DeepStream)."""
        self._config, self._config_error = None, None
        if not path:
            return
        try:
            self._config = load_nvinfer_config(path)
        except ConfigError as err:
            self._config_error = err
            return
        for prop, name in self.CONFIG_FIELDS.items():
            if prop not in self._explicit:
                self._values[prop] = getattr(self._config, name)
        if "model-engine-file" not in self._explicit and self._config.model_engine_file is not None:
            self._values["model-engine-file"] = str(self._config.model_engine_file)

    def effective_config(self) -> NvInferConfig:
        """The config file with the explicitly set properties applied (properties win)."""
        assert self._config is not None
        changes: dict[str, Any] = {
            field: self._values[prop] for prop, field in self.CONFIG_FIELDS.items() if prop in self._explicit
        }
        if "infer-on-class-ids" in self._explicit:
            changes["operate_on_class_ids"] = parse_class_ids(self._values["infer-on-class-ids"])
        if "filter-out-class-ids" in self._explicit:
            changes["filter_out_class_ids"] = parse_class_ids(self._values["filter-out-class-ids"])
        return dataclasses.replace(self._config, **changes)

    # -- start / stop -------------------------------------------------------------------------
    def do_start(self) -> bool:
        path = self._values["config-file-path"]
        if not path:
            self.settings_error(
                f"{self.get_name()}: Configuration file not provided",
                "set config-file-path to the nvinfer config (a GLib key file)",
            )
            return False
        if self._config is None:  # not parsed yet, or it failed: parse again to report it now
            self._load_config(path)
        if self._config_error is not None:
            self._fail("Configuration file parsing failed", self._config_error, path)
            return False
        try:
            config = self.effective_config()
            engine = NvInfer(config, name=self.get_name())
        except (ConfigError, HarnessError) as err:
            self._fail("Failed to create NvDsInferContext instance", err, path)
            return False
        self._gie = Gie(engine, self.settings(config), name=self.get_name())
        return True

    def settings(self, config: NvInferConfig) -> GieSettings:
        return GieSettings(
            unique_id=config.unique_id,
            full_frame=config.process_mode == 1,
            interval=config.interval,
            operate_on_gie_id=config.operate_on_gie_id,
            operate_on_class_ids=config.operate_on_class_ids,
            min_object=config.min_input_object_size,
            max_object=(config.input_object_max_width, config.input_object_max_height),
            reinfer_interval=config.secondary_reinfer_interval,
            # "NvInfer asynchronous mode is applicable for secondary classifiers only"
            async_mode=config.classifier_async_mode and config.is_classifier and config.process_mode == 2,
            output_tensor_meta=config.output_tensor_meta,
            colours=tuple((a.border_color, a.bg_color) for a in config.class_attrs),  # type: ignore[misc]
        )

    def _fail(self, what: str, err: Exception, path: str) -> None:
        self.settings_error(
            f"{self.get_name()}: {what}: {err}",
            f"Config file path: {Path(path).absolute()} (see {SUPPORTED_DOC})",
        )


ELEMENT = NvInferElement
