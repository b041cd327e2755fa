"""deepstream-app on the CPU emulation: a ``deepstream_app_config.txt`` played on real GStreamer.

The device runs ``deepstream-app -c deepstream_app_config.txt``; here the same file is read
(:mod:`.config`) and the same GStreamer pipeline is built from the emulated nv* elements
(:mod:`.pipeline`, one module per kind of bin as in deepstream-app's sources), with
deepstream-app's probes (:mod:`.probes`) and command line (:mod:`.command`).

Importing this package loads no GStreamer: the parser and the command are imported here, the
pipeline builder only when it is used (``build_reference_pipeline`` is resolved on first access).
"""

from __future__ import annotations

from typing import Any

from fake_device.deepstream.reference_app.command import APP_VERSION, VERSION_LINE, main, parse_args, run
from fake_device.deepstream.reference_app.config import (
    TRACKER_LIB,
    AppConfig,
    Color,
    MsgConvSettings,
    SinkConfig,
    SinkType,
    SourceSpec,
    SourceType,
    load_app_config,
)
from fake_device.deepstream.reference_app.probes import KittiWriter, ObjectDisplay, ObjectEventProbe

_LAZY = ("build_reference_pipeline", "ReferencePipeline", "RunResult", "PipelineError")

__all__ = [
    "APP_VERSION",
    "TRACKER_LIB",
    "VERSION_LINE",
    "AppConfig",
    "Color",
    "KittiWriter",
    "MsgConvSettings",
    "ObjectDisplay",
    "ObjectEventProbe",
    "SinkConfig",
    "SinkType",
    "SourceSpec",
    "SourceType",
    "load_app_config",
    "main",
    "parse_args",
    "run",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from fake_device.deepstream.reference_app import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
