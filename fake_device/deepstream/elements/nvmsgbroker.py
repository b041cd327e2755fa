"""nvmsgbroker: the payload metas nvmsgconv attached → messages on a Kafka topic.

DeepStream's element (gst-nvmsgbroker) is a GstBaseSink: on start it loads the protocol adaptor
named by ``proto-lib`` and connects with ``conn-str`` and the ``config`` file; for every buffer it
sends each NVDS_PAYLOAD_META payload of each frame (those whose componentId matches ``comp-id``, if
set) asynchronously, while a do-work thread polls the adaptor. Here the adaptor is the Kafka one,
:class:`~fake_device.deepstream.msgbroker.NvMsgBroker` on librdkafka — the same code the Python
runtime uses, with the same 5 s test connect, conn-str rules, ``[message-broker]`` settings,
partition key and ``NVDS_JSON_DUMP_FILE``.

One thing is stricter than DeepStream, on purpose: end of stream waits (up to 10 s, librdkafka's
flush at disconnect) until every message produced so far is delivered, *before* the sink lets EOS
through — so when the app's bus reports EOS, the messages are on the broker. A message that could
not be delivered is reported on the bus as a WARNING instead of only being logged.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from fake_device.deepstream.errors import ConfigError
from fake_device.deepstream.gst.carrier import batch_meta_of
from fake_device.deepstream.gst.element import BOOL, STRING, UINT, PropertyStore, gproperties, post_error
from fake_device.deepstream.gst.runtime import GLib, Gst, GstBase
from fake_device.deepstream.meta import nvds_acquire_meta_lock, nvds_release_meta_lock
from fake_device.deepstream.msgbroker import (
    DISCONNECT_FLUSH_TIMEOUT_S,
    BrokerConnectError,
    MessageLossError,
    MsgBrokerError,
    NvMsgBroker,
)
from fake_device.deepstream.msgconv import Payload, frame_payloads
from harness.errors import HarnessError

log = logging.getLogger(__name__)


class NvMsgBrokerElement(PropertyStore, GstBase.BaseSink):
    """The ``nvmsgbroker`` element (``sync``, ``async`` … are GstBaseSink's own properties)."""

    __gtype_name__ = "GstNvMsgBroker"  # DeepStream's type: unnamed elements are nvmsgbroker0 …
    FACTORY_NAME = "nvmsgbroker"
    RANK = Gst.Rank.PRIMARY  # gstnvmsgbroker.cpp plugin_init

    __gstmetadata__ = (
        "Message Broker",
        "Sink/Metadata",
        "Sends payload metadata to remote server",
        "edge-harness (emulating NVIDIA's gst-nvmsgbroker)",
    )
    __gsttemplates__ = (
        Gst.PadTemplate.new("sink", Gst.PadDirection.SINK, Gst.PadPresence.ALWAYS, Gst.Caps.new_any()),
    )

    PROPERTIES = (
        STRING("proto-lib", None, "Name of protocol adaptor library with absolute path."),
        STRING("conn-str", None, "connection string of backend server (e.g. foo.bar.com;80;dsapp1)"),
        STRING("config", None, "Name of configuration file with absolute path."),
        STRING("topic", None, "Name of the message topic"),
        UINT(
            "comp-id",
            0,
            "By default this element operates on all NvDsPayload type meta\n"
            "\t\t\tBut it can be restricted to a specific NvDsPayload meta\n"
            "\t\t\thaving this component id",
        ),
        BOOL("new-api", False, "Use new libnvds_msgbroker API"),
        UINT("sleep-time", 0, "Sleep time between consecutive do_work calls in millisecond."),
    )
    __gproperties__ = gproperties(PROPERTIES)

    def __init__(self) -> None:
        super().__init__()
        self.init_properties()
        self.broker: NvMsgBroker | None = None
        self._loss_reported = False
        # EOS is caught on the sink pad, before GstBaseSink handles it and posts EOS on the bus.
        # (Not a do_event override: chaining up to GstBaseSink's event vfunc from Python frees the
        # event twice — it takes ownership and PyGObject unrefs it again.)
        self.sinkpad.add_probe(Gst.PadProbeType.EVENT_DOWNSTREAM, self._on_event)

    def do_set_property(self, pspec: Any, value: Any) -> None:
        if pspec.name == "topic" and value is not None:
            # gstnvmsgbroker.cpp strips the topic and takes "" as unset
            value = value.strip() or None
        super().do_set_property(pspec, value)

    # -- GstBaseSink ------------------------------------------------------------------------------
    def do_start(self) -> bool:
        """Connect (legacy_gst_nvmsgbroker_start → nvds_msgapi_connect): a failure fails the start."""
        proto_lib, conn_str, config = self.prop("proto-lib"), self.prop("conn-str"), self.prop("config")
        if not proto_lib:
            self._fail(
                "No protocol adaptor library provided",
                "set proto-lib to /opt/nvidia/deepstream/deepstream/lib/libnvds_kafka_proto.so",
                Gst.ResourceError,
                Gst.ResourceError.NOT_FOUND,
            )
            return False
        if not conn_str and not config:
            self._fail(
                "No connection string or configuration file provided. Please provide either "
                "--conn-str parameter or a configuration file with [message-broker] section.",
                "set conn-str to 'host;port;topic' of the Kafka broker",
                Gst.ResourceError,
                Gst.ResourceError.NOT_FOUND,
            )
            return False
        try:
            broker = NvMsgBroker(
                conn_str,
                topic=self.prop("topic"),
                proto_lib=proto_lib,
                config_path=config,
                comp_id=self.prop("comp-id"),
                sleep_time_ms=self.prop("sleep-time"),
            )
        except ConfigError as err:
            self._fail(f"unable to connect to broker library: {err.message}", err.hint, *_SETTINGS)
            return False
        except MsgBrokerError as err:
            reason = err.message.removeprefix("nvmsgbroker: ")
            if "proto-lib" in reason:
                self._fail(f"unable to open shared library: {reason}", err.hint, *_INIT)
            else:
                self._fail(f"unable to connect to broker library: {reason}", err.hint, *_SETTINGS)
            return False
        try:
            broker.start()
        except BrokerConnectError as err:
            reason = err.message.removeprefix("nvmsgbroker: ")
            self._fail(
                f"unable to connect to broker library: conn-str {conn_str!r}: {reason}", err.hint, *_SETTINGS
            )
            return False
        except HarnessError as err:  # a setting librdkafka rejects, an unwritable NVDS_JSON_DUMP_FILE
            reason = err.message.removeprefix("nvmsgbroker: ")
            self._fail(f"unable to connect to broker library: {reason}", err.hint, *_SETTINGS)
            return False
        self.broker = broker
        self._loss_reported = False
        return True

    def do_stop(self) -> bool:
        """Disconnect: librdkafka flushes for up to 10 s; anything lost is logged (once)."""
        broker, self.broker = self.broker, None
        if broker is None:
            return True
        try:
            broker.close()
        except MessageLossError as err:
            if not self._loss_reported:
                log.error("%s: %s", self.get_name(), err)
        return True

    def do_render(self, buffer: Gst.Buffer) -> Gst.FlowReturn:
        batch_meta = batch_meta_of(buffer)
        broker = self.broker
        if batch_meta is None or broker is None:
            return Gst.FlowReturn.OK
        t_in = time.monotonic()
        nvds_acquire_meta_lock(batch_meta)
        try:
            payloads: list[Payload] = [p for frame in batch_meta.frames for p in frame_payloads(frame)]
        except (HarnessError, ValueError) as err:
            self._fail(str(getattr(err, "message", err)), getattr(err, "hint", None), *_STREAM)
            return Gst.FlowReturn.ERROR
        finally:
            nvds_release_meta_lock(batch_meta)
        for payload in payloads:
            try:
                broker.send(payload)
            except MsgBrokerError as err:
                reason = err.message.removeprefix("nvmsgbroker: ")
                if self.prop("new-api"):
                    # new_gst_nvmsgbroker_render only logs a failed send
                    log.error("%s: gstmsgbroker send: %s", self.get_name(), reason)
                    continue
                self._fail(f"failed to send the message: {reason}", err.hint, *_FAILED)
                return Gst.FlowReturn.ERROR
        t_out = time.monotonic()
        for frame in batch_meta.frames:
            frame.latency.append((self.get_name(), t_in, t_out))
        return Gst.FlowReturn.OK

    # -- helpers ----------------------------------------------------------------------------------
    def _on_event(self, pad: Gst.Pad, info: Gst.PadProbeInfo) -> Gst.PadProbeReturn:
        broker = self.broker
        if broker is not None and info.get_event().type == Gst.EventType.EOS:
            self._deliver_before_eos(broker)
        return Gst.PadProbeReturn.OK

    def _deliver_before_eos(self, broker: NvMsgBroker) -> None:
        """Wait for the delivery report of every message sent so far; warn about any not delivered."""
        pending = broker.flush(DISCONNECT_FLUSH_TIMEOUT_S)
        if not pending and not broker.failed:
            return
        first = f"; first failure: {broker.failures[0]}" if broker.failures else ""
        text = (
            f"{self.get_name()}: {pending + broker.failed} of {broker.sent} messages to topic "
            f"{broker.topic!r} were not delivered ({broker.failed} failed, {pending} still queued after "
            f"{DISCONNECT_FLUSH_TIMEOUT_S:g} s){first}"
        )
        log.error("%s", text)
        error = GLib.Error.new_literal(Gst.ResourceError.quark(), text, int(Gst.ResourceError.WRITE))
        self.post_message(Gst.Message.new_warning(self, error, "check the broker and the topic"))
        self._loss_reported = True

    def _fail(self, text: str, hint: str | None, domain: Any, code: Any) -> None:
        message = f"{self.get_name()}: {text}"
        if hint:
            message += f"\n  hint: {hint}"
        post_error(self, message, f"hint: {hint}" if hint else message, domain=domain, code=code)


_INIT = (Gst.LibraryError, Gst.LibraryError.INIT)
_SETTINGS = (Gst.LibraryError, Gst.LibraryError.SETTINGS)
_FAILED = (Gst.LibraryError, Gst.LibraryError.FAILED)
_STREAM = (Gst.StreamError, Gst.StreamError.FAILED)

ELEMENT = NvMsgBrokerElement
