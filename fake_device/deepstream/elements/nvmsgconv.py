"""nvmsgconv: the event metas an app attaches to frames → payload metas for nvmsgbroker.

DeepStream's element (gst-nvmsgconv, a GstBaseTransform in passthrough) walks each frame's user
metas, hands the NVDS_EVENT_MSG_META ones to its converter library (libnvds_msgconv.so, the
"DeepStream schema") and attaches every payload it gets back to the same frame as an
NVDS_PAYLOAD_META user meta, stamped with ``comp-id``. With ``msg2p-newapi`` the converter reads the
frame's object metas instead, every ``frame-interval``-th frame. The converter here is
:class:`~fake_device.deepstream.msgconv.NvMsgConv`, the one the Python runtime uses, so the payload
bytes are the same either way.

The element changes metadata only: buffers pass through untouched, and the batch meta — one Python
object shared by every copy of the buffer and by both branches of a tee — carries the payloads to
nvmsgbroker. Settings the emulation cannot honour (protobuf or custom payloads, a custom converter
library) fail the element when it starts, naming docs/deepstream/supported.md.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from fake_device.deepstream.gst.element import (
    BOOL,
    ENUM,
    STRING,
    UINT,
    DeepStreamFilter,
    element_templates,
    enum_type,
    gproperties,
    post_error,
)
from fake_device.deepstream.gst.runtime import Gst
from fake_device.deepstream.meta import nvds_acquire_meta_lock, nvds_release_meta_lock
from fake_device.deepstream.msgconv import (
    DEFAULT_FRAME_INTERVAL,
    NvMsgConv,
    Payload,
    PayloadType,
    attach_payloads,
    format_rfc3339_ms,
)
from harness.errors import HarnessError

# gstnvmsgconv.cpp gst_nvmsgconv_payload_get_type
PAYLOAD_TYPES = (
    (0, "Deepstream schema payload", "PAYLOAD_DEEPSTREAM"),
    (1, "Deepstream schema payload minimal", "PAYLOAD_DEEPSTREAM_MINIMAL"),
    (2, "Deepstream schema payload in protobuf", "PAYLOAD_DEEPSTREAM_PROTOBUF"),
    (0x100, "Reserved type", "PAYLOAD_RESERVED"),
    (0x101, "Custom schema payload", "PAYLOAD_CUSTOM"),
)
#: the converter DeepStream loads when msg2p-lib is unset; naming it explicitly changes nothing
BUILTIN_LIBRARY = "libnvds_msgconv.so"
_EMULATED_PAYLOADS = (int(PayloadType.DEEPSTREAM), int(PayloadType.DEEPSTREAM_MINIMAL))


def _builtin_library(path: str | None) -> bool:
    return path is None or path == "" or os.path.basename(path) == BUILTIN_LIBRARY


class NvMsgConvElement(DeepStreamFilter):
    """The ``nvmsgconv`` element."""

    __gtype_name__ = "GstNvMsgConv"  # DeepStream's type: unnamed elements are nvmsgconv0, nvmsgconv1 …
    FACTORY_NAME = "nvmsgconv"
    RANK = Gst.Rank.NONE  # gstnvmsgconv.cpp plugin_init

    __gstmetadata__ = (
        "Message Converter",
        "Filter/Metadata",
        "Transforms buffer meta to schema / payload meta",
        "edge-harness (emulating NVIDIA's gst-nvmsgconv)",
    )
    # ANY on both pads, as gst-nvmsgconv: it sits behind a tee after nvdsosd, on NVMM video
    __gsttemplates__ = element_templates(Gst.Caps.new_any(), Gst.Caps.new_any())
    REQUIRES_BATCH_META = False  # a buffer without a batch meta passes unchanged, as upstream

    PROPERTIES = (
        STRING("config", None, "Name of configuration file with absolute path."),
        STRING(
            "msg2p-lib",
            None,
            "Name of payload generation library with absolute path.",
            supported=_builtin_library,
            unsupported=f"custom payload converter libraries are not emulated: leave msg2p-lib unset "
            f"or name DeepStream's {BUILTIN_LIBRARY}",
        ),
        ENUM(
            "payload-type",
            enum_type("GstNvMsgConvPayloadType", PAYLOAD_TYPES),
            0,
            "Type of payload to be generated",
            supported=lambda v: int(v) in _EMULATED_PAYLOADS,
            unsupported="only the JSON schemas are emulated: payload-type 0 (full) or 1 (minimal); "
            "protobuf (2) and custom (257) payloads are not",
        ),
        UINT(
            "comp-id",
            0,
            "By default this element operates on all NvDsEventMsgMeta\n"
            "\t\t\tBut it can be restricted to a specific NvDsEventMsgMeta meta\n"
            "\t\t\thaving this component id\n",
        ),
        STRING("debug-payload-dir", None, "Absolute path of the directory to dump payloads for debugging."),
        BOOL(
            "multiple-payloads",
            False,
            "Use API which supports reciveing multiple payloads from converter lib.",
        ),
        BOOL(
            "msg2p-newapi",
            False,
            "Use new API which supports publishing multiple payloads using NvDsFrameMeta",
        ),
        UINT(
            "frame-interval",
            DEFAULT_FRAME_INTERVAL,
            "Frame interval at which payload is generated",
            minimum=1,
        ),
        BOOL(
            "dummy-payload",
            False,
            "By default, payload is generated if NVDS_EVENT_MSG_META is attached to buffer.\n"
            "\t\t\tWith this, dummy payload can be generated if there is no\n"
            "\t\t\tNVDS_EVENT_MSG_META attached to buffer",
        ),
        STRING("embedding-filter", None, "Comma seperated list of strings to post embeddings"),
    )
    __gproperties__ = gproperties(PROPERTIES)

    def __init__(self) -> None:
        super().__init__()
        self.converter: NvMsgConv | None = None
        self.payloads = 0  # attached since start, for tests and reports

    # -- GstBaseTransform -------------------------------------------------------------------------
    def do_start(self) -> bool:
        """Check the debug directory and build the converter (gst_nvmsgconv_start → ctx_create)."""
        directory = self.prop("debug-payload-dir")
        if directory:
            if not os.path.isdir(directory):
                self._fail(
                    f"Error: dir {directory} not found",
                    "debug-payload-dir must name an existing directory",
                    Gst.ResourceError.NOT_FOUND,
                )
                return False
            if not os.access(directory, os.W_OK):
                self._fail(
                    f"Error: User doesn't have write permission in {directory}",
                    "make debug-payload-dir writable by the app's user",
                    Gst.ResourceError.WRITE,
                )
                return False
        try:
            self.converter = NvMsgConv(
                self.prop("config") or None,
                self.prop("payload-type"),
                msg2p_newapi=self.prop("msg2p-newapi"),
                frame_interval=self.prop("frame-interval"),
                comp_id=self.prop("comp-id"),
                dummy_payload=self.prop("dummy-payload"),
            )
        except HarnessError as err:
            # DeepStream only logs "unable to create instance" and fails to start
            reason = err.message.removeprefix("nvmsgconv: ")
            self._fail(f"{self.get_name()}: unable to create instance: {reason}", err.hint or "")
            return False
        self.payloads = 0
        return True

    def do_stop(self) -> bool:
        self.converter = None
        return True

    def process_batch(self, buffer: Gst.Buffer, batch_meta: Any) -> Gst.FlowReturn | None:
        if batch_meta is None or self.converter is None:
            return None
        directory = self.prop("debug-payload-dir")
        t_in = time.monotonic()
        nvds_acquire_meta_lock(batch_meta)  # the render branch of a tee reads the same frames
        try:
            for frame in batch_meta.frames:
                payloads = self.converter.convert(frame)
                attach_payloads(frame, payloads)
                self.payloads += len(payloads)
                if directory:
                    self._dump(Path(directory), payloads)
        except (HarnessError, ValueError) as err:
            hint = getattr(err, "hint", None)
            self._fail(f"{self.get_name()}: {getattr(err, 'message', err)}", hint or "", stream=True)
            return Gst.FlowReturn.ERROR
        finally:
            nvds_release_meta_lock(batch_meta)
        t_out = time.monotonic()
        for frame in batch_meta.frames:
            frame.latency.append((self.get_name(), t_in, t_out))
        return None

    # -- helpers ----------------------------------------------------------------------------------
    @staticmethod
    def _dump(directory: Path, payloads: list[Payload]) -> None:
        """debug-payload-dir: one file per frame named after the wall-clock time (milliseconds, so a
        later frame of the same millisecond replaces it), each payload followed by `` \\n``."""
        name = format_rfc3339_ms(time.time_ns()) + ".txt"
        with (directory / name).open("wb") as dump:
            for payload in payloads:
                dump.write(bytes(payload) + b" \n")

    def _fail(self, text: str, hint: str, code: Any = None, *, stream: bool = False) -> None:
        if stream:
            domain, code = Gst.StreamError, Gst.StreamError.FAILED
        elif code is None:
            domain, code = Gst.LibraryError, Gst.LibraryError.INIT
        else:
            domain = Gst.ResourceError
        message = f"{text}\n  hint: {hint}" if hint else text
        post_error(self, message, f"hint: {hint}" if hint else text, domain=domain, code=code)


ELEMENT = NvMsgConvElement
