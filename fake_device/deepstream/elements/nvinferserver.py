"""``nvinferserver``: DeepStream's Triton inference element, against the project's real tritonserver.

The element is what an app gets from ``Gst.ElementFactory.make("nvinferserver")``: a passthrough,
in-place transform on ``video/x-raw(memory:NVMM)`` NV12/RGBA batches with gst-nvinferserver's
properties (names, types, ranges and defaults as ``gst-inspect-1.0 nvinferserver`` shows them on a
Jetson with DeepStream 6/7). Its work is the existing emulation's: the protobuf-text config is read
by :mod:`~fake_device.deepstream.inferserver_config`, the model runs in
:class:`~fake_device.deepstream.inferserver.NvInferServer` (``model_repo``: the project's
tritonserver started on the repository; ``grpc { url }``: a running Triton) and
:class:`~fake_device.deepstream.gie.Gie` decides what to infer on and attaches the metadata.

As in gst-nvinferserver (gstnvinferserver.cpp, gstnvinferserver_impl.cpp in github NVIDIA/DeepStream):

* the config file is read when the element starts (READY → PAUSED), and so is Triton; before that
  the properties read their defaults (``batch-size`` 0), after it the values in effect;
* a property set by the app to a non-default value replaces the file's (``batch-size``,
  ``unique-id``, ``process-mode``: with a WARNING message "Configuration file … reset to";
  ``infer-on-gie-id``, ``interval``, ``infer-on-class-ids``);
* a bad config, a missing model repository or model, or a tensor the model does not have fails
  the start with an ERROR message on the bus that names the file, the line and a hint.
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
from fake_device.deepstream.gst.element import STRING, SUPPORTED_DOC, UINT, gproperties
from fake_device.deepstream.gst.runtime import GLib, Gst
from fake_device.deepstream.inferserver import NvInferServer
from fake_device.deepstream.inferserver_config import (
    MAX_BATCH_SIZE_LIMIT,
    InferServerConfig,
    load_inferserver_config,
)
from harness.errors import HarnessError

PROCESS_MODES = {1: "FULL_FRAME", 2: "CLIP_OBJECTS"}


class NvInferServerElement(GieElement):
    """gst-nvinferserver on the CPU and a real Triton (see the module docstring)."""

    __gtype_name__ = "GstNvInferServer"  # default element names nvinferserver0, …
    FACTORY_NAME: ClassVar[str] = "nvinferserver"
    RANK: ClassVar[int] = Gst.Rank.PRIMARY

    __gstmetadata__ = (
        "NvInferServer plugin",
        "NvInferServer Plugin",
        "Nvidia DeepStream SDK Triton Inference Server plugin",
        NVIDIA_FORUM_AUTHOR,
    )
    __gsttemplates__ = gie_templates()

    PROPERTIES = (
        UNIQUE_ID(0),
        UINT("process-mode", 0, "Inferserver processing mode, (0):None, (1)FullFrame, (2)ClipObject", 0, 2),
        STRING("config-file-path", "", "Path to the configuration file for this instance of nvinferserver"),
        UINT("batch-size", 0, "Maximum batch size for inference", 0, MAX_BATCH_SIZE_LIMIT),
        INFER_ON_GIE_ID(),
        INPUT_TENSOR_META(),
        INFER_ON_CLASS_IDS(),
        INTERVAL(),
    )
    __gproperties__ = gproperties(PROPERTIES)

    def __init__(self) -> None:
        super().__init__()
        #: where the Triton this element starts keeps its files (None: a temporary folder)
        self.triton_workdir: Path | None = None

    # -- start / stop -------------------------------------------------------------------------
    def do_start(self) -> bool:
        path = self._values["config-file-path"]
        if not path:
            self._error("Configuration file not provided", "set config-file-path to the nvinferserver config")
            return False
        try:
            config = self.effective_config(load_inferserver_config(path))
        except ConfigError as err:
            self._error("Configuration file parsing failed", f"{err}", path)
            return False
        try:
            engine = NvInferServer(config, name=self.get_name(), triton_workdir=self.triton_workdir)
        except (ConfigError, HarnessError) as err:
            self._error("Failed to initialize InferTrtIsContext", f"{err}", path)
            return False
        self._values.update(
            {
                "unique-id": config.unique_id,
                "batch-size": config.max_batch_size,
                "interval": config.interval,
                "process-mode": 2 if config.process_mode == "CLIP_OBJECTS" else 1,
                "infer-on-gie-id": config.operate_on_gie_id,
                "infer-on-class-ids": "".join(f"{i}:" for i in config.operate_on_class_ids),
            }
        )
        self._gie = Gie(engine, self.settings(config), name=self.get_name())
        return True

    def effective_config(self, config: InferServerConfig) -> InferServerConfig:
        """validatePluginConfig: the properties the app set replace the file's values."""
        changes: dict[str, Any] = {}
        batch, unique_id, mode = (self._values[n] for n in ("batch-size", "unique-id", "process-mode"))
        if batch and batch != config.max_batch_size:
            changes["max_batch_size"] = batch
            self._warn(f"Configuration file batch-size reset to: {batch}")
        if unique_id and unique_id != config.unique_id:
            changes["unique_id"] = unique_id
            self._warn(f"Configuration file unique-id reset to: {unique_id}")
        if mode and PROCESS_MODES[mode] != config.process_mode:
            changes["process_mode"] = PROCESS_MODES[mode]
            self._warn(f"Configuration file process_mode reset to: PROCESS_MODE_{PROCESS_MODES[mode]}")
        if self._values["infer-on-gie-id"] >= 0:
            changes["operate_on_gie_id"] = self._values["infer-on-gie-id"]
        if "interval" in self._explicit:
            changes["interval"] = self._values["interval"]
        class_ids = parse_class_ids(self._values["infer-on-class-ids"])
        if class_ids:
            changes["operate_on_class_ids"] = class_ids
        return dataclasses.replace(config, **changes)

    def settings(self, config: InferServerConfig) -> GieSettings:
        return GieSettings(
            unique_id=config.unique_id,
            full_frame=config.process_mode != "CLIP_OBJECTS",
            interval=config.interval,
            operate_on_gie_id=config.operate_on_gie_id,
            operate_on_class_ids=config.operate_on_class_ids,
            output_tensor_meta=config.output_tensor_meta,
            detector_reinfers_by_default=False,
        )

    def _error(self, text: str, detail: str, path: str = "") -> None:
        where = f"Config file path: {Path(path).absolute()}; " if path else ""
        self.settings_error(
            f"{self.get_name()}: {text}" + (f": {detail}" if path else ""),
            f"{where}{detail} (see {SUPPORTED_DOC})",
        )

    def _warn(self, text: str) -> None:
        error = GLib.Error.new_literal(Gst.LibraryError.quark(), text, int(Gst.LibraryError.SETTINGS))
        self.post_message(Gst.Message.new_warning(self, error, text))


ELEMENT = NvInferServerElement
