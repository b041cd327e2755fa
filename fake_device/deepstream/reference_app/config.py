"""deepstream-app's config file: ``deepstream_app_config.txt`` read as deepstream-app reads it.

Apps built on NVIDIA's reference application ship no pipeline code of their own: the device runs
``deepstream-app -c deepstream_app_config.txt`` and the key file decides the pipeline. This module
is the reading half (the GStreamer pipeline is built from the result by
:mod:`.pipeline`). It follows the open sources of deepstream-app (github NVIDIA/DeepStream,
``src/apps/sample_apps/deepstream-app/deepstream_app_config_parser.c`` and
``src/apps/common/src/deepstream_config_file_parser.c``):

* group and key names, and which value type each key has (``g_key_file_get_integer`` /
  ``_boolean`` / ``_string`` / ``_double_list``);
* relative paths resolve against the config file's folder (``get_absolute_file_path``), also the
  path inside a relative ``file://`` URI: ``uri=file://clip.mp4`` next to the config plays
  ``<config folder>/clip.mp4``. ``output-file`` of a file sink is *not* resolved (deepstream-app
  passes it to filesink as written, so it is relative to the working directory);
* ``[sourceN]``, ``[sinkN]`` and ``[primary-gie]`` groups count only with a non-zero integer
  ``enable``; without one the group is skipped unread, as deepstream-app does. Source ids are
  given in file order of the enabled ``[sourceN]`` groups, and the copies of a ``type=3`` source
  with ``num-sources=N`` are appended after all groups (the URI is passed through
  ``printf(uri, j)``, so a ``%d`` in it numbers the copies, else the URI is repeated);
* ``[tests] file-loop`` loops every file source; ``[application]`` perf settings drive the
  ``**PERF:`` lines; ``kitti-track-output-dir`` / ``gie-kitti-output-dir`` ask for deepstream-app's
  per-frame KITTI files.

Where deepstream-app logs "Unknown key" and carries on, or silently ignores a group, this
parser raises :class:`~fake_device.deepstream.errors.ConfigError` naming file, line and a likely
fix. Keys that only tune GPU memory or hardware are accepted and have no effect; keys and groups
whose behaviour is not emulated (secondary GIEs, smart record, ...) are rejected when they would
change something. Nothing here imports GStreamer: linting a config needs no pipeline.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Any

from fake_device.deepstream.errors import PATH_HINT, ConfigError, not_a_file, path_problem, shorten
from fake_device.deepstream.msgbroker import MsgBrokerError, parse_conn_str
from fake_device.deepstream.msgconv import (
    DEFAULT_FRAME_INTERVAL,
    KeyFile,
    KeyFileEntry,
    KeyFileGroup,
    did_you_mean,
)

log = logging.getLogger(__name__)

#: deepstream-app's tracker library; the emulated NvSORT stands in for it
TRACKER_LIB = "libnvds_nvmultiobjecttracker.so"
_KAFKA_PROTO_LIBS = ("kafka", "libnvds_kafka_proto.so")


class SourceType(IntEnum):
    """NvDsSourceType (deepstream_sources.h)."""

    CAMERA_V4L2 = 1
    URI = 2
    URI_MULTIPLE = 3
    RTSP = 4
    CAMERA_CSI = 5
    AUDIO_WAV = 6
    AUDIO_URI = 7
    ALSA_SRC = 8
    IPC = 9


class SinkType(IntEnum):
    """NvDsSinkType (deepstream_sinks.h): 2 is nveglglessink on dGPU, nv3dsink on Jetson."""

    FAKE = 1
    RENDER = 2
    ENCODE_FILE = 3
    RTSP = 4
    OVERLAY = 5
    MSG_CONV_BROKER = 6


_SOURCE_TYPE_NAMES = {
    SourceType.CAMERA_V4L2: "camera-v4l2, a USB camera",
    SourceType.CAMERA_CSI: "camera-csi, a Jetson CSI camera",
    SourceType.AUDIO_WAV: "an audio WAV file",
    SourceType.AUDIO_URI: "an audio URI",
    SourceType.ALSA_SRC: "an ALSA microphone",
    SourceType.IPC: "an IPC socket",
}
_SOURCE_HINT = (
    "play a recording instead: type=2 or 3 with uri=file://... , or type=4 with an rtsp:// URI "
    "(fake_device.deepstream.rtsp.RtspFilePublisher serves a file as a camera)"
)

# -- values, as the g_key_file_get_* calls of deepstream-app read them -------------------------

_INT_RE = re.compile(r"[ \t\n\r\f\v]*([+-]?\d+)[ \t\n\r\f\v]*")
_INT32 = (-(2**31), 2**31 - 1)


def _integer(kf: KeyFile, group: str, entry: KeyFileEntry) -> int:
    """g_key_file_get_integer: a decimal int32; stricter than GLib about trailing text."""
    match = _INT_RE.fullmatch(entry.raw)
    if match is None:
        raise ConfigError(
            kf.path,
            f"[{group}] {entry.key}={entry.raw!r} is not an integer",
            line=entry.line,
            expected="a decimal integer",
            hint="a whole number in decimal, e.g. 1 (GLib reads no units or fractions)",
        )
    value = int(match.group(1))
    if not _INT32[0] <= value <= _INT32[1]:
        raise ConfigError(
            kf.path,
            f"[{group}] {entry.key}={value} is out of range",
            line=entry.line,
            hint="deepstream-app reads it into a C int: write a value between -2147483648 and 2147483647",
        )
    return value


def _absolute(config_dir: Path, text: str) -> Path:
    """get_absolute_file_path: an absolute path as is, else relative to the config's folder."""
    return Path(text) if text.startswith("/") else config_dir / text


@dataclass(frozen=True)
class Color:
    """NvOSD_ColorParams: ``r;g;b;a``, each in [0, 1]."""

    red: float
    green: float
    blue: float
    alpha: float

    def bgr255(self) -> tuple[int, int, int]:
        """The colour as OpenCV's BGR bytes (alpha dropped)."""
        return (round(self.blue * 255), round(self.green * 255), round(self.red * 255))


def _color(kf: KeyFile, group: str, entry: KeyFileEntry) -> Color:
    """g_key_file_get_double_list, then deepstream-app's "exactly 4 floats between 0 and 1"."""
    expected = "4 numbers r;g;b;a between 0 and 1, e.g. 1;0;0;1"
    try:
        values = kf.double_list(entry)
    except ConfigError:
        raise ConfigError(
            kf.path,
            f"[{group}] {entry.key}={entry.raw!r} is not a colour",
            line=entry.line,
            expected=expected,
            hint="four numbers red;green;blue;alpha between 0 and 1, e.g. 1;0;0;1",
        ) from None
    if len(values) != 4 or not all(0.0 <= v <= 1.0 for v in values):
        raise ConfigError(
            kf.path,
            f"[{group}] {entry.key}={entry.raw!r} is not a colour",
            line=entry.line,
            expected=expected,
            hint="DeepStream's colours are fractions, not 0-255 bytes",
        )
    return Color(*values)


# -- key tables ------------------------------------------------------------------------------

INT, BOOL, STR, PATH, COLOR = "int", "bool", "str", "path", "color"


@dataclass(frozen=True)
class _Key:
    """How one key is read; ``used=False`` keys are accepted and have no effect on the CPU."""

    kind: str
    used: bool = True


def _keys(used: Mapping[str, str], ignored: Mapping[str, str] | Sequence[str] = ()) -> dict[str, _Key]:
    table = {key: _Key(kind) for key, kind in used.items()}
    if isinstance(ignored, Mapping):
        table.update({key: _Key(kind, used=False) for key, kind in ignored.items()})
    else:
        table.update({key: _Key(INT, used=False) for key in ignored})
    return table


_GPU = ("gpu-id", "nvbuf-memory-type")

_APPLICATION_KEYS = _keys(
    {
        "enable-perf-measurement": INT,
        "perf-measurement-interval-sec": INT,
        "gie-kitti-output-dir": PATH,
        "kitti-track-output-dir": PATH,
    },
    ("global-gpu-id",),
)
_TESTS_KEYS = _keys({"file-loop": INT})
_TILED_KEYS = _keys(
    {"enable": INT, "rows": INT, "columns": INT, "width": INT, "height": INT},
    (*_GPU, "compute-hw", "buffer-pool-size", "square-seq-grid"),
)
_SOURCE_KEYS = _keys(
    {
        "enable": INT,
        "type": INT,
        "uri": STR,
        "num-sources": INT,
        "file-loop": INT,
        "drop-frame-interval": INT,
        "camera-id": INT,
        "intra-decode-enable": INT,
        "dec-skip-frames": INT,
    },
    {
        **dict.fromkeys(_GPU, INT),
        "cudadec-memtype": INT,
        "latency": INT,
        "select-rtp-protocol": INT,
        "set-rtp-protocol": INT,
        "rtsp-reconnect-interval-sec": INT,
        "init-rtsp-reconnect-interval-sec": INT,
        "rtsp-reconnect-attempts": INT,
        "num-decode-surfaces": INT,
        "num-extra-surfaces": INT,
        "low-latency-decode": INT,
        "drop-on-latency": INT,
        "udp-buffer-size": INT,
        "leaky": INT,
        "max-size-buffers": INT,
        "buffer-mode": INT,
        "copy-hw": INT,
        "camera-width": INT,
        "camera-height": INT,
        "camera-fps-n": INT,
        "camera-fps-d": INT,
        "camera-csi-sensor-id": INT,
        "camera-v4l2-dev-node": INT,
        "video-format": STR,
    },
)
_STREAMMUX_KEYS = _keys(
    {
        "width": INT,
        "height": INT,
        "batch-size": INT,
        "batched-push-timeout": INT,
        "live-source": INT,
        "enable-padding": INT,
        "attach-sys-ts-as-ntp": INT,
    },
    {
        **dict.fromkeys(_GPU, INT),
        "buffer-pool-size": INT,
        "compute-hw": INT,
        "async-process": BOOL,
        "num-surfaces-per-frame": INT,
    },
)
_PRIMARY_GIE_KEYS = _keys(
    {
        "enable": INT,
        "plugin-type": INT,
        "config-file": PATH,
        "gie-unique-id": INT,
        "interval": INT,
        "batch-size": INT,
        "model-engine-file": PATH,
        "labelfile-path": PATH,
    },
    _GPU,
)
_TRACKER_KEYS = _keys(
    {
        "enable": INT,
        "ll-lib-file": PATH,
        "ll-config-file": PATH,
        "tracker-width": INT,
        "tracker-height": INT,
        "display-tracking-id": INT,
        "tracking-surface-type": INT,
        "tracking-id-reset-mode": INT,
    },
    {
        **dict.fromkeys(_GPU, INT),
        "enable-batch-process": INT,
        "enable-past-frame": INT,
        "tracker-surface-type": INT,
        "compute-hw": INT,
        "user-meta-pool-size": INT,
    },
)
_ANALYTICS_KEYS = _keys({"enable": INT, "config-file": PATH})
_OSD_KEYS = _keys(
    {
        "enable": INT,
        "border-width": INT,
        "text-size": INT,
        "display-text": INT,
        "display-bbox": INT,
        "display-mask": INT,
        "text-color": COLOR,
        "text-bg-color": COLOR,
        "font": STR,
        "show-clock": INT,
        "clock-x-offset": INT,
        "clock-y-offset": INT,
        "clock-text-size": INT,
        "clock-color": COLOR,
        "process-mode": INT,
    },
    {
        **dict.fromkeys(_GPU, INT),
        "border-color": COLOR,
        "hw-blend-color-attr": STR,
    },
)
_MSGCONV_KEYS = {
    "msg-conv-config": PATH,
    "msg-conv-payload-type": INT,
    "msg-conv-msg2p-new-api": BOOL,
    "msg-conv-frame-interval": INT,
    "msg-conv-comp-id": INT,
    "msg-conv-dummy-payload": BOOL,
}
_MESSAGE_CONVERTER_KEYS = _keys({"enable": INT, **_MSGCONV_KEYS}, {"multiple-payloads": BOOL})
_SINK_KEYS = _keys(
    {
        "enable": INT,
        "type": INT,
        "sync": INT,
        "source-id": INT,
        "container": INT,
        "codec": INT,
        "bitrate": INT,
        "output-file": STR,
        "rtsp-port": INT,
        "udp-port": INT,
        "udp-buffer-size": INT,
        "enc-type": INT,
        "iframeinterval": INT,
        "qos": INT,
        **_MSGCONV_KEYS,
        "msg-broker-proto-lib": STR,
        "msg-broker-conn-str": STR,
        "topic": STR,
        "msg-broker-config": PATH,
        "msg-broker-comp-id": INT,
        "disable-msgconv": INT,
    },
    {
        **dict.fromkeys(_GPU, INT),
        "width": INT,
        "height": INT,
        "profile": INT,
        "copy-meta": INT,
        "output-io-mode": INT,
        "sw-preset": INT,
        "color-range": INT,
        "conn-id": INT,
        "plane-id": INT,
        "set-mode": INT,
        "compute-hw": INT,
        "multiple-payloads": BOOL,
        "new-api": BOOL,
        "sleep-time": INT,
        "show-fps": BOOL,
        "show-latency": BOOL,
    },
)

# Keys deepstream-app knows whose behaviour is not emulated: (what they do, the raw value that
# changes nothing, if any). A key set to that value is accepted.
_NOT_EMULATED_KEYS: dict[str, dict[str, tuple[str, str | None]]] = {
    "application": {
        "reid-track-output-dir": ("re-identification feature output", None),
        "terminated-track-output-dir": ("terminated-track output", None),
        "shadow-track-output-dir": ("shadow-track output", None),
    },
    "tests": {"pipeline-recreate-sec": ("pipeline re-creation", "0")},
    "source": {
        "smart-record": ("smart record", "0"),
        "smart-rec-dir-path": ("smart record", None),
        "smart-rec-file-prefix": ("smart record", None),
        "smart-rec-cache": ("smart record", None),
        "smart-rec-video-cache": ("smart record", None),
        "smart-rec-container": ("smart record", None),
        "smart-rec-start-time": ("smart record", None),
        "smart-rec-default-duration": ("smart record", None),
        "smart-rec-duration": ("smart record", None),
        "smart-rec-interval": ("smart record", None),
        "simulate-fps-interval-ms": ("frame-rate simulation", "0"),
        "alsa-device": ("audio capture", None),
        "sensorID-padID-mapping": ("sensor id to pad mapping", "0"),
        "extract-sei-type5-data": ("SEI metadata extraction", "0"),
        "source-id": ("[source-list] source ids", None),
    },
    "streammux": {
        "config-file-path": ("the new nvstreammux's config file", None),
        "sync-inputs": ("input synchronisation", "0"),
        "max-latency": ("input synchronisation", None),
        "sync-inputs-ntp": ("NTP input synchronisation", "0"),
        "frame-duration": ("frame-duration", "-1"),
        "frame-num-reset-on-eos": ("frame numbers restarting at EOS", "0"),
        "frame-num-reset-on-stream-reset": ("frame numbers restarting at a stream reset", "0"),
        "sort-batch": ("batch sorting", "0"),
        "cache-buffer": ("buffer caching", "0"),
        "cache-buffer-timeout": ("buffer caching", "-1"),
        "drop-pipeline-eos": ("keeping the pipeline alive after EOS", "0"),
        "extract-sei-type5-data": ("SEI metadata extraction", "0"),
        "extract-sei-sim-time": ("SEI metadata extraction", "0"),
        "align-first-buffer": ("first-buffer alignment", "0"),
    },
    "primary-gie": {
        "input-tensor-meta": ("preprocessed input tensors (nvdspreprocess)", "0"),
        "operate-on-gie-id": ("operating on another GIE's objects", "-1"),
        "operate-on-class-ids": ("operating on some classes' objects", None),
        "infer-raw-output-dir": ("raw output tensor dumps", None),
        "audio-transform": ("audio inference", None),
        "audio-framesize": ("audio inference", None),
        "audio-hopsize": ("audio inference", None),
        "audio-input-rate": ("audio inference", None),
    },
    "tracker": {
        "input-tensor-meta": ("re-identification from tensor meta", "0"),
        "tensor-meta-gie-id": ("re-identification from tensor meta", None),
        "sub-batches": ("tracker sub-batches", None),
        "sub-batch-err-recovery-trial-cnt": ("tracker sub-batches", None),
        "operate-on-class-ids": ("tracking only some classes", None),
    },
    "osd": {},
    "sink": {
        "link-to-demux": ("demuxed sinks (tiled-display enable=2)", "0"),
        "nvdslogger": ("the nvdslogger element", "0"),
        "msg-conv-msg2p-lib": ("a custom payload library", None),
        "msg-conv-embedding-filter": ("embedding filters", None),
        "debug-payload-dir": ("payload dumps", None),
    },
    "message-converter": {
        "msg-conv-msg2p-lib": ("a custom payload library", None),
        "msg-conv-embedding-filter": ("embedding filters", None),
        "debug-payload-dir": ("payload dumps", None),
    },
}

# Groups deepstream-app knows whose elements are not emulated: prefix → what they are.
_NOT_EMULATED_GROUPS = {
    "secondary-gie": "secondary inference (an SGIE)",
    "secondary-pre-process": "nvdspreprocess before a secondary GIE",
    "pre-process": "nvdspreprocess",
    "ds-example": "the dsexample plugin",
    "img-save": "object image saving",
    "message-consumer": "a cloud-to-device message consumer",
    "dewarper": "nvdewarper",
    "segvisual": "segmentation visualisation",
    "replay": "KITTI label replay",
    "visionencoder": "the vision encoder",
    "text-embedder": "the text embedder",
    "audio-transform": "audio inference",
    "audio-classifier": "audio inference",
    "source-list": "[source-list] / nvmultiurisrcbin",
    "source-attr-all": "[source-list] / nvmultiurisrcbin",
}
_ALWAYS_ACTIVE = ("source-list", "source-attr-all")  # these have no enable key
_EXACT_GROUPS = (
    "application",
    "tests",
    "tiled-display",
    "streammux",
    "primary-gie",
    "tracker",
    "nvds-analytics",
    "osd",
    "message-converter",
)
_SOURCE_GROUP = re.compile(r"source(\d+)")
_SINK_GROUP = re.compile(r"sink(\d*)")
_BBOX_COLOR = re.compile(r"(bbox-border-color|bbox-bg-color)(\d*)")


# -- the parsed config -------------------------------------------------------------------------


@dataclass
class ApplicationConfig:
    """``[application]``."""

    enable_perf_measurement: bool = False
    perf_measurement_interval_sec: int = 5
    gie_kitti_output_dir: Path | None = None
    kitti_track_output_dir: Path | None = None


@dataclass
class TiledDisplayConfig:
    """``[tiled-display]``: 0 disabled (one stream per display sink), 1 enabled (tiled)."""

    enable: int = 0
    rows: int = 1
    columns: int = 1
    width: int = 1280
    height: int = 720


@dataclass
class SourceConfig:
    """An enabled ``[sourceN]`` group; ``uri`` is already made absolute for ``file://``."""

    group: str
    line: int
    index: int
    type: SourceType
    uri: str | None = None
    num_sources: int = 1
    file_loop: bool = False
    drop_frame_interval: int = 0
    camera_id: int = 0
    skip_frames: int = 0  # nvv4l2decoder skip-frames: 0 decode all, 1 non-reference, 2 key frames


@dataclass(frozen=True)
class SourceSpec:
    """One stream of the pipeline after ``num-sources`` expansion: what a muxer pad gets."""

    source_id: int
    uri: str
    camera_id: int
    group: str
    type: SourceType
    file_loop: bool = False
    drop_frame_interval: int = 0
    skip_frames: int = 0


@dataclass
class StreamMuxSettings:
    """``[streammux]`` (deepstream-app's defaults: no batching timeout, system-time NTP)."""

    width: int = 0
    height: int = 0
    batch_size: int = 0  # 0: not set → the number of sources
    batched_push_timeout: int = -1
    live_source: bool = False
    enable_padding: bool = False
    attach_sys_ts_as_ntp: bool = True
    line: int = 0


@dataclass
class PrimaryGieConfig:
    """``[primary-gie]``; ``None`` values are not set and leave the element's config alone."""

    enable: bool = False
    plugin_type: int = 0
    config_file: Path | None = None
    gie_unique_id: int | None = None
    interval: int | None = None
    batch_size: int | None = None
    model_engine_file: Path | None = None
    labelfile_path: Path | None = None
    bbox_border_colors: dict[int, Color] = field(default_factory=dict)  # -1: every class
    bbox_bg_colors: dict[int, Color] = field(default_factory=dict)
    line: int = 0


@dataclass
class TrackerGroupConfig:
    """``[tracker]``."""

    enable: bool = False
    ll_lib_file: Path | None = None
    ll_config_file: Path | None = None
    width: int | None = None  # tracker-width / -height: set on nvtracker only when given
    height: int | None = None
    display_tracking_id: bool = True
    tracking_surface_type: int = 0
    tracking_id_reset_mode: int = 0
    line: int = 0


@dataclass
class AnalyticsGroupConfig:
    """``[nvds-analytics]``."""

    enable: bool = False
    config_file: Path | None = None
    line: int = 0


@dataclass
class OsdConfig:
    """``[osd]`` (parse_osd's defaults; unset colours and clock settings are zeros, as in C)."""

    enable: bool = False
    border_width: int = 1
    text_size: int = 15
    display_text: bool = True
    display_bbox: bool = True
    display_mask: bool = False
    text_color: Color | None = None
    text_bg_color: Color | None = None
    font: str | None = None
    show_clock: bool = False
    clock_x_offset: int = 0
    clock_y_offset: int = 0
    clock_text_size: int = 0
    clock_color: Color | None = None
    process_mode: int = 1  # MODE_GPU
    line: int = 0


@dataclass
class MsgConvSettings:
    """The nvmsgconv keys of a type-6 sink or of ``[message-converter]``."""

    config_file: Path | None = None
    payload_type: int = 0
    msg2p_new_api: bool = False
    frame_interval: int = DEFAULT_FRAME_INTERVAL
    comp_id: int = 0
    dummy_payload: bool = False


@dataclass
class SinkConfig:
    """An enabled ``[sinkN]`` group (defaults from parse_sink)."""

    group: str
    line: int
    type: SinkType
    sync: bool = False
    source_id: int = 0
    container: int = 1
    codec: int = 1
    bitrate: int = 4_000_000
    output_file: str | None = None
    rtsp_port: int = 8554
    udp_port: int = 5000
    udp_buffer_size: int = 0  # 0: the RTSP server's udpsrc gets 512 KiB
    enc_type: int = 0  # 0 hardware (nvv4l2h26Xenc), 1 software (x264enc / x265enc)
    iframeinterval: int | None = None  # None: the encoder's own default
    qos: bool = False
    msgconv: MsgConvSettings = field(default_factory=MsgConvSettings)
    proto_lib: str | None = None
    conn_str: str | None = None
    topic: str | None = None
    broker_config: Path | None = None
    broker_comp_id: int = 0
    disable_msgconv: bool = False

    @property
    def name(self) -> str:
        return f"sink_sub_bin_{self.group}"


@dataclass
class AppConfig:
    """A parsed ``deepstream_app_config.txt``: only enabled sources and sinks are listed."""

    path: Path
    application: ApplicationConfig = field(default_factory=ApplicationConfig)
    tiled_display: TiledDisplayConfig = field(default_factory=TiledDisplayConfig)
    source_groups: list[SourceConfig] = field(default_factory=list)
    streammux: StreamMuxSettings = field(default_factory=StreamMuxSettings)
    primary_gie: PrimaryGieConfig = field(default_factory=PrimaryGieConfig)
    tracker: TrackerGroupConfig = field(default_factory=TrackerGroupConfig)
    analytics: AnalyticsGroupConfig = field(default_factory=AnalyticsGroupConfig)
    osd: OsdConfig = field(default_factory=OsdConfig)
    message_converter: MsgConvSettings | None = None
    sinks: list[SinkConfig] = field(default_factory=list)
    file_loop: bool = False

    def sources(self, input_uri: str | None = None) -> list[SourceSpec]:
        """The pipeline's streams, ``num-sources`` expanded as deepstream-app expands them.

        ``input_uri`` replaces the URI of the first enabled source group (deepstream-app's
        ``-i`` only fills it in when the group has no ``uri``; here it always wins). A relative
        ``file://`` URI given here is relative to the working directory.
        """
        if not self.source_groups:
            raise ConfigError(
                self.path,
                "no enabled [sourceN] group",
                hint="add [source0] with enable=1, type=3 and uri=file://video.mp4",
            )
        bases: list[tuple[SourceConfig, str]] = []
        for position, group in enumerate(self.source_groups):
            uri = group.uri
            if position == 0 and input_uri is not None:
                uri = _absolute_uri(Path.cwd(), input_uri)
            if uri is None:
                raise ConfigError(
                    self.path,
                    f"[{group.group}] has no uri",
                    line=group.line,
                    hint="add uri=file://video.mp4 (relative to this file's folder) or rtsp://host/path",
                )
            bases.append((group, uri))
        specs = [self._spec(position, group, uri) for position, (group, uri) in enumerate(bases)]
        for position, (group, uri) in enumerate(bases):
            if group.type != SourceType.URI_MULTIPLE:
                continue
            # deepstream_app_config_parser.c: copies 1..N-1 are appended, then copy 0 replaces
            # the group's own entry; each URI is printf(uri, copy)
            for copy in range(1, group.num_sources):
                specs.append(self._spec(len(specs), group, _printf_index(uri, copy)))
            specs[position] = self._spec(position, group, _printf_index(uri, 0))
        return specs

    def _spec(self, source_id: int, group: SourceConfig, uri: str) -> SourceSpec:
        return SourceSpec(
            source_id=source_id,
            uri=uri,
            camera_id=group.camera_id,
            group=group.group,
            type=group.type,
            file_loop=self.file_loop or group.file_loop,
            drop_frame_interval=group.drop_frame_interval,
            skip_frames=group.skip_frames,
        )


_PRINTF_INT = re.compile(r"%(%|[-+ 0#]*\d*(?:hh|h|ll|l)?[diu])")


def _printf_index(uri: str, index: int) -> str:
    """``g_strdup_printf(uri, index)`` for the integer conversions deepstream-app's URIs use."""
    used = False

    def one(match: re.Match[str]) -> str:
        nonlocal used
        spec = match.group(1)
        if spec == "%":
            return "%"
        if used:
            return match.group(0)
        used = True
        python = re.sub(r"(hh|h|ll|l)", "", "%" + spec).replace("u", "d").replace("i", "d")
        return python % index

    return _PRINTF_INT.sub(one, uri)


def _absolute_uri(config_dir: Path, uri: str) -> str:
    """deepstream-app's ``file://`` handling: the path after the scheme goes through
    get_absolute_file_path; other URIs are kept as written."""
    if uri.startswith("file://"):
        return "file://" + str(_absolute(config_dir, uri[len("file://") :]))
    return uri


# -- the parser --------------------------------------------------------------------------------


class _Reader:
    """Reads the groups of one key file against the tables above."""

    def __init__(self, kf: KeyFile, path: Path) -> None:
        self.kf = kf
        self.path = path
        self.dir = path.resolve().parent

    def error(self, message: str, line: int, **kwargs: Any) -> ConfigError:
        return ConfigError(self.path, message, line=line, **kwargs)

    def values(
        self,
        group: KeyFileGroup,
        table: Mapping[str, _Key],
        kind: str,
        *,
        extra: Callable[[KeyFileEntry], bool] | None = None,
    ) -> dict[str, tuple[Any, KeyFileEntry]]:
        """Every key of ``group``, converted; unknown and non-emulated keys raise.

        ``extra`` may claim a key the table does not list (the per-class bbox colours).
        """
        out: dict[str, tuple[Any, KeyFileEntry]] = {}
        not_emulated = _NOT_EMULATED_KEYS.get(kind, {})
        for key in group.key_names():
            entry = group.get(key)
            assert entry is not None
            spec = table.get(key)
            if spec is not None:
                out[key] = (self.convert(group.name, spec.kind, entry), entry)
                if not spec.used:
                    log.debug("%s:%d: [%s] %s has no effect here", self.path, entry.line, group.name, key)
                continue
            if extra is not None and extra(entry):
                continue
            if key in not_emulated:
                what, harmless = not_emulated[key]
                if harmless is not None and entry.raw.strip() == harmless:
                    continue
                raise self.error(
                    f"[{group.name}] {key}: {what} is not emulated",
                    entry.line,
                    hint=f"remove {key} (or set it to {harmless})"
                    if harmless is not None
                    else f"remove {key}; docs/deepstream/reference-app.md lists what is emulated",
                )
            raise self.error(
                f"[{group.name}] unknown key '{key}'",
                entry.line,
                hint=did_you_mean(key, [*table, *not_emulated]),
            )
        return out

    def convert(self, group: str, kind: str, entry: KeyFileEntry) -> Any:
        if kind == INT:
            return _integer(self.kf, group, entry)
        if kind == BOOL:
            return self.kf.boolean(entry)
        if kind == COLOR:
            return _color(self.kf, group, entry)
        text = self.kf.string(entry)
        if kind == PATH or (entry.key == "uri" and text.startswith("file://")):
            problem = path_problem(text.removeprefix("file://"))
            if problem:
                raise self.error(
                    f"[{group}] {entry.key} {shorten(text)} {problem}", entry.line, hint=PATH_HINT
                )
        if kind == PATH:
            if not text:
                raise self.error(
                    f"[{group}] {entry.key} is empty",
                    entry.line,
                    expected="a path",
                    hint="write the file's path, relative to this config's folder, or remove the key",
                )
            return _absolute(self.dir, text)
        return text

    def existing(self, group: str, key: str, values: Mapping[str, tuple[Any, KeyFileEntry]]) -> Path | None:
        """A PATH value that must name an existing file."""
        if key not in values:
            return None
        path, entry = values[key]
        if problem := not_a_file(path):
            raise self.error(
                f"[{group}] {key}: {path} " + ("does not exist" if problem == "not found" else problem),
                entry.line,
                hint="relative paths are relative to the folder of this config file, as in deepstream-app",
            )
        return path

    def output_dir(self, group: str, key: str, values: Mapping[str, tuple[Any, KeyFileEntry]]) -> Path | None:
        if key not in values:
            return None
        path, entry = values[key]
        if not path.is_dir():
            raise self.error(
                f"[{group}] {key}: the folder {path} does not exist",
                entry.line,
                hint="create it first: deepstream-app silently writes nothing into a missing folder",
            )
        return path


def _get(values: Mapping[str, tuple[Any, KeyFileEntry]], key: str, default: Any = None) -> Any:
    return values[key][0] if key in values else default


def _line(values: Mapping[str, tuple[Any, KeyFileEntry]], key: str, default: int) -> int:
    return values[key][1].line if key in values else default


def _enabled(reader: _Reader, group: KeyFileGroup) -> bool:
    """deepstream-app's gate for sources, sinks and GIEs: a non-zero integer ``enable``."""
    entry = group.get("enable")
    if entry is None:
        return False
    return _integer(reader.kf, group.name, entry) != 0


def load_app_config(path: str | Path) -> AppConfig:
    """Parse a deepstream-app key file; raises :class:`ConfigError` with file and line.

    Files named by the config (GIE, tracker, analytics, msgconv and broker configs) must exist;
    they are parsed when the pipeline is built. YAML app configs are not supported.
    """
    path = Path(path)
    if path.suffix in (".yml", ".yaml"):
        raise ConfigError(
            path,
            "YAML deepstream-app configs are not emulated",
            hint="use the key-file (.txt) form of the config",
        )
    kf = KeyFile.load(path)
    reader = _Reader(kf, path)
    config = AppConfig(path=path)
    seen_sources: dict[int, str] = {}
    for name, group in kf.groups.items():
        if name in _EXACT_GROUPS:
            _PARSERS[name](reader, group, config)
            continue
        source = _SOURCE_GROUP.fullmatch(name)
        if source is not None:
            index = int(source.group(1))
            if index in seen_sources:
                raise reader.error(
                    f"[{name}] has the same source number as [{seen_sources[index]}]",
                    group.line,
                    hint="number each [sourceN] group once: source0, source1, ...",
                )
            seen_sources[index] = name
            _parse_source(reader, group, config, index)
            continue
        if _SINK_GROUP.fullmatch(name):
            _parse_sink(reader, group, config)
            continue
        what = _not_emulated_group(name)
        if what is not None:
            entry = group.get("enable")
            active = name.startswith(_ALWAYS_ACTIVE) or (entry is not None and _integer(kf, name, entry) != 0)
            if active:
                raise reader.error(
                    f"[{name}] ({what}) is not emulated",
                    group.line,
                    hint="remove the group or set enable=0; docs/deepstream/reference-app.md lists what is "
                    "emulated",
                )
            log.debug("%s:%d: [%s] is disabled", path, group.line, name)
            continue
        known = [*_EXACT_GROUPS, "source0", "sink0", *_NOT_EMULATED_GROUPS]
        raise reader.error(f"unknown group [{name}]", group.line, hint=did_you_mean(name, known))
    _check(reader, config)
    return config


def _not_emulated_group(name: str) -> str | None:
    for prefix, what in _NOT_EMULATED_GROUPS.items():
        if name == prefix or (name.startswith(prefix) and name[len(prefix) :].isdigit()):
            return what
    return None


def _parse_application(reader: _Reader, group: KeyFileGroup, config: AppConfig) -> None:
    values = reader.values(group, _APPLICATION_KEYS, "application")
    app = config.application
    app.enable_perf_measurement = bool(_get(values, "enable-perf-measurement", 0))
    interval = _get(values, "perf-measurement-interval-sec", app.perf_measurement_interval_sec)
    if interval < 1:
        raise reader.error(
            f"[application] perf-measurement-interval-sec={interval} must be at least 1",
            _line(values, "perf-measurement-interval-sec", group.line),
            hint="the interval between **PERF lines, in whole seconds, e.g. perf-measurement-interval-sec=5",
        )
    app.perf_measurement_interval_sec = interval
    app.gie_kitti_output_dir = reader.output_dir("application", "gie-kitti-output-dir", values)
    app.kitti_track_output_dir = reader.output_dir("application", "kitti-track-output-dir", values)


def _parse_tests(reader: _Reader, group: KeyFileGroup, config: AppConfig) -> None:
    values = reader.values(group, _TESTS_KEYS, "tests")
    config.file_loop = bool(_get(values, "file-loop", 0))


def _parse_tiled_display(reader: _Reader, group: KeyFileGroup, config: AppConfig) -> None:
    values = reader.values(group, _TILED_KEYS, "tiled-display")
    tiled = config.tiled_display
    tiled.enable = _get(values, "enable", 0)
    if tiled.enable not in (0, 1):
        raise reader.error(
            f"[tiled-display] enable={tiled.enable}: "
            + ("the tiler with a parallel demuxer is not emulated" if tiled.enable == 2 else "unknown mode"),
            _line(values, "enable", group.line),
            expected="0 (no tiler) or 1 (tiler)",
            hint="enable=1 tiles the sources, enable=0 turns the tiler off",
        )
    for key in ("rows", "columns", "width", "height"):
        value = _get(values, key, getattr(tiled, key))
        if value < 1:
            raise reader.error(
                f"[tiled-display] {key}={value} must be positive",
                _line(values, key, group.line),
                hint="rows, columns, width and height of the tiled output are whole numbers >= 1",
            )
        setattr(tiled, key, value)


def _parse_source(reader: _Reader, group: KeyFileGroup, config: AppConfig, index: int) -> None:
    if not _enabled(reader, group):
        log.debug("%s:%d: [%s] is not enabled", reader.path, group.line, group.name)
        return
    values = reader.values(group, _SOURCE_KEYS, "source")
    if "type" not in values:
        raise reader.error(
            f"[{group.name}] has no type",
            group.line,
            expected="type=2 (URI), 3 (MultiURI) or 4 (RTSP)",
            hint="add type=3 with uri=file://video.mp4 (type=2 for one URI, 4 for an RTSP camera)",
        )
    raw_type, type_entry = values["type"]
    try:
        source_type = SourceType(raw_type)
    except ValueError:
        raise reader.error(
            f"[{group.name}] type={raw_type} is not a source type",
            type_entry.line,
            expected="1 to 9",
            hint="the emulation runs source types 2 (URI), 3 (MultiURI) and 4 (RTSP)",
        ) from None
    if source_type in _SOURCE_TYPE_NAMES:
        raise reader.error(
            f"[{group.name}] type={raw_type} ({_SOURCE_TYPE_NAMES[source_type]}) is not emulated",
            type_entry.line,
            hint=_SOURCE_HINT,
        )
    uri = _get(values, "uri")
    if uri is not None:
        uri = _absolute_uri(reader.dir, uri)
        if source_type == SourceType.RTSP and not uri.startswith("rtsp://"):
            raise reader.error(
                f"[{group.name}] type=4 (RTSP) needs an rtsp:// URI, not {uri!r}",
                _line(values, "uri", group.line),
                hint="use type=2 or 3 for files",
            )
    num_sources = max(1, _get(values, "num-sources", 1))  # parse_source clamps to 1
    if "num-sources" in values and source_type != SourceType.URI_MULTIPLE and num_sources > 1:
        log.warning(
            "%s:%d: [%s] num-sources has no effect with type=%d (only type=3 repeats a source)",
            reader.path,
            _line(values, "num-sources", group.line),
            group.name,
            raw_type,
        )
    file_loop = bool(_get(values, "file-loop", 0))
    if "file-loop" in values:
        log.warning(
            "%s:%d: [%s] file-loop: deepstream-app reads file-loop only from [tests] (here it is "
            "ignored with 'Unknown key'); the emulation honours it, move it to [tests] for the device",
            reader.path,
            _line(values, "file-loop", group.line),
            group.name,
        )
    drop = _get(values, "drop-frame-interval", 0)
    if drop < 0:
        raise reader.error(
            f"[{group.name}] drop-frame-interval={drop} must be 0 (keep every frame) or more",
            _line(values, "drop-frame-interval", group.line),
            hint="drop-frame-interval=N keeps every Nth frame; 0 keeps all",
        )
    # deepstream_source_bin.c: intra-decode-enable sets the decoder's skip-frames to 2 (key frames
    # only); dec-skip-frames (nvurisrcbin's property of that name) gives the value itself
    skip = _get(values, "dec-skip-frames", 0)
    if skip not in (0, 1, 2):
        raise reader.error(
            f"[{group.name}] dec-skip-frames={skip} must be 0, 1 or 2",
            _line(values, "dec-skip-frames", group.line),
            hint="0 decodes every frame, 1 only reference frames, 2 only key frames",
        )
    if _get(values, "intra-decode-enable", 0):
        skip = 2
    config.source_groups.append(
        SourceConfig(
            group=group.name,
            line=group.line,
            index=index,
            type=source_type,
            uri=uri,
            num_sources=num_sources if source_type == SourceType.URI_MULTIPLE else 1,
            file_loop=file_loop,
            drop_frame_interval=drop,
            camera_id=_get(values, "camera-id", index),
            skip_frames=skip,
        )
    )


def _parse_streammux(reader: _Reader, group: KeyFileGroup, config: AppConfig) -> None:
    values = reader.values(group, _STREAMMUX_KEYS, "streammux")
    mux = config.streammux
    mux.line = group.line
    mux.width = _get(values, "width", 0)
    mux.height = _get(values, "height", 0)
    mux.batch_size = _get(values, "batch-size", 0)
    mux.batched_push_timeout = _get(values, "batched-push-timeout", -1)
    mux.live_source = bool(_get(values, "live-source", 0))
    mux.enable_padding = bool(_get(values, "enable-padding", 0))
    mux.attach_sys_ts_as_ntp = bool(_get(values, "attach-sys-ts-as-ntp", 1))


def _bbox_color_claimer(
    reader: _Reader, group: KeyFileGroup, gie: PrimaryGieConfig
) -> Callable[[KeyFileEntry], bool]:
    def claim(entry: KeyFileEntry) -> bool:
        match = _BBOX_COLOR.fullmatch(entry.key)
        if match is None:
            return False
        class_id = int(match.group(2)) if match.group(2) else -1
        table = gie.bbox_border_colors if match.group(1) == "bbox-border-color" else gie.bbox_bg_colors
        table[class_id] = _color(reader.kf, group.name, entry)
        return True

    return claim


def _parse_primary_gie(reader: _Reader, group: KeyFileGroup, config: AppConfig) -> None:
    gie = config.primary_gie
    gie.line = group.line
    if not _enabled(reader, group):
        return
    values = reader.values(
        group, _PRIMARY_GIE_KEYS, "primary-gie", extra=_bbox_color_claimer(reader, group, gie)
    )
    gie.enable = True
    gie.plugin_type = _get(values, "plugin-type", 0)
    if gie.plugin_type not in (0, 1):
        raise reader.error(
            f"[primary-gie] plugin-type={gie.plugin_type} is not emulated",
            _line(values, "plugin-type", group.line),
            expected="0 (nvinfer) or 1 (nvinferserver)",
            hint="plugin-type=0 runs nvinfer with config-file, plugin-type=1 nvinferserver",
        )
    if "config-file" not in values:
        raise reader.error(
            "[primary-gie] has no config-file",
            group.line,
            hint="name the nvinfer (.txt) or nvinferserver (.txt/.yml protobuf text) config of the detector",
        )
    gie.config_file = reader.existing("primary-gie", "config-file", values)
    gie.gie_unique_id = _get(values, "gie-unique-id")
    gie.interval = _get(values, "interval")
    gie.batch_size = _get(values, "batch-size")
    if gie.interval is not None and gie.interval < 0:
        raise reader.error(
            f"[primary-gie] interval={gie.interval} must be 0 or more",
            _line(values, "interval", 0),
            hint="interval=N skips N batches between inferences; 0 infers every batch",
        )
    if gie.batch_size is not None and gie.batch_size < 1:
        raise reader.error(
            f"[primary-gie] batch-size={gie.batch_size} must be at least 1",
            _line(values, "batch-size", 0),
            hint="batch-size is the frames per inference, usually the number of sources",
        )
    gie.model_engine_file = _get(values, "model-engine-file")
    gie.labelfile_path = reader.existing("primary-gie", "labelfile-path", values)


def _parse_tracker(reader: _Reader, group: KeyFileGroup, config: AppConfig) -> None:
    values = reader.values(group, _TRACKER_KEYS, "tracker")
    tracker = config.tracker
    tracker.line = group.line
    tracker.enable = bool(_get(values, "enable", 0))
    lib = _get(values, "ll-lib-file")
    if tracker.enable and lib is not None and lib.name != TRACKER_LIB:
        raise reader.error(
            f"[tracker] ll-lib-file {lib.name} is not emulated",
            _line(values, "ll-lib-file", group.line),
            hint=f"the emulation runs NvMultiObjectTracker's NvSORT: ll-lib-file=.../{TRACKER_LIB}",
        )
    tracker.ll_lib_file = lib
    tracker.ll_config_file = reader.existing("tracker", "ll-config-file", values) if tracker.enable else None
    tracker.width = _get(values, "tracker-width")
    tracker.height = _get(values, "tracker-height")
    tracker.display_tracking_id = bool(_get(values, "display-tracking-id", 1))
    tracker.tracking_surface_type = _get(values, "tracking-surface-type", 0)
    tracker.tracking_id_reset_mode = _get(values, "tracking-id-reset-mode", 0)


def _parse_analytics(reader: _Reader, group: KeyFileGroup, config: AppConfig) -> None:
    values = reader.values(group, _ANALYTICS_KEYS, "nvds-analytics")
    analytics = config.analytics
    analytics.line = group.line
    analytics.enable = bool(_get(values, "enable", 0))
    if analytics.enable:
        if "config-file" not in values:
            raise reader.error(
                "[nvds-analytics] has no config-file", group.line, hint="name the config_nvdsanalytics.txt"
            )
        analytics.config_file = reader.existing("nvds-analytics", "config-file", values)


def _parse_osd(reader: _Reader, group: KeyFileGroup, config: AppConfig) -> None:
    values = reader.values(group, _OSD_KEYS, "osd")
    osd = config.osd
    osd.line = group.line
    osd.enable = bool(_get(values, "enable", 0))
    osd.border_width = _get(values, "border-width", osd.border_width)
    osd.text_size = _get(values, "text-size", osd.text_size)
    if osd.text_size < 1:
        raise reader.error(
            f"[osd] text-size={osd.text_size} must be positive",
            _line(values, "text-size", 0),
            hint="text-size is the font size in points, e.g. 15",
        )
    osd.display_text = bool(_get(values, "display-text", 1))
    osd.display_bbox = bool(_get(values, "display-bbox", 1))
    osd.display_mask = bool(_get(values, "display-mask", 0))
    osd.text_color = _get(values, "text-color")
    osd.text_bg_color = _get(values, "text-bg-color")
    osd.font = _get(values, "font")
    osd.show_clock = bool(_get(values, "show-clock", 0))
    osd.clock_x_offset = _get(values, "clock-x-offset", 0)
    osd.clock_y_offset = _get(values, "clock-y-offset", 0)
    osd.clock_text_size = _get(values, "clock-text-size", 0)
    osd.clock_color = _get(values, "clock-color")
    osd.process_mode = _get(values, "process-mode", osd.process_mode)


def _msgconv_settings(
    reader: _Reader, group: str, values: Mapping[str, tuple[Any, KeyFileEntry]]
) -> MsgConvSettings:
    settings = MsgConvSettings(
        config_file=reader.existing(group, "msg-conv-config", values),
        payload_type=_get(values, "msg-conv-payload-type", 0),
        msg2p_new_api=_get(values, "msg-conv-msg2p-new-api", False),
        frame_interval=_get(values, "msg-conv-frame-interval", DEFAULT_FRAME_INTERVAL),
        comp_id=_get(values, "msg-conv-comp-id", 0),
        dummy_payload=_get(values, "msg-conv-dummy-payload", False),
    )
    if settings.payload_type not in (0, 1):
        raise reader.error(
            f"[{group}] msg-conv-payload-type={settings.payload_type} is not emulated",
            _line(values, "msg-conv-payload-type", 0),
            expected="0 (full DeepStream schema) or 1 (minimal schema)",
            hint="msg-conv-payload-type=0 sends DeepStream's full schema, 1 the minimal one",
        )
    if settings.payload_type == 0 and settings.config_file is None:
        raise reader.error(
            f"[{group}] msg-conv-payload-type=0 (full schema) needs msg-conv-config",
            _line(values, "msg-conv-payload-type", 0),
            hint="name a msgconv config with [sensor0], [place0] and [analytics0] groups",
        )
    if settings.frame_interval < 1:
        raise reader.error(
            f"[{group}] msg-conv-frame-interval={settings.frame_interval} must be at least 1",
            _line(values, "msg-conv-frame-interval", 0),
            hint="msg-conv-frame-interval=N sends the payloads of every Nth frame; 1 sends all",
        )
    return settings


def _parse_message_converter(reader: _Reader, group: KeyFileGroup, config: AppConfig) -> None:
    values = reader.values(group, _MESSAGE_CONVERTER_KEYS, "message-converter")
    if _get(values, "enable", 0):
        config.message_converter = _msgconv_settings(reader, group.name, values)


def _parse_sink(reader: _Reader, group: KeyFileGroup, config: AppConfig) -> None:
    if not _enabled(reader, group):
        log.debug("%s:%d: [%s] is not enabled", reader.path, group.line, group.name)
        return
    values = reader.values(group, _SINK_KEYS, "sink")
    raw_type = _get(values, "type")
    if raw_type is None:
        raise reader.error(
            f"[{group.name}] has no type",
            group.line,
            expected="type=1 (fakesink), 2 (display), 3 (file), 4 (RTSP), 5 (overlay) or 6 (message broker)",
            hint="add a type line, e.g. type=1 for a fakesink",
        )
    try:
        sink_type = SinkType(raw_type)
    except ValueError:
        raise reader.error(
            f"[{group.name}] type={raw_type} is not a sink type",
            _line(values, "type", group.line),
            expected="1 to 6",
            hint="deepstream-app's sink types are 1 to 6",
        ) from None
    sink = SinkConfig(
        group=group.name,
        line=group.line,
        type=sink_type,
        sync=bool(_get(values, "sync", 0)),
        source_id=_get(values, "source-id", 0),
        container=_get(values, "container", 1),
        codec=_get(values, "codec", 1),
        bitrate=_get(values, "bitrate", 4_000_000),
        output_file=_get(values, "output-file"),
        rtsp_port=_get(values, "rtsp-port", 8554),
        udp_port=_get(values, "udp-port", 5000),
        udp_buffer_size=_get(values, "udp-buffer-size", 0),
        enc_type=_get(values, "enc-type", 0),
        iframeinterval=_get(values, "iframeinterval"),
        qos=bool(_get(values, "qos", 0)),
    )
    if sink.codec not in (1, 2, 3):
        raise reader.error(
            f"[{group.name}] codec={sink.codec} is not a codec",
            _line(values, "codec", group.line),
            expected="1 (H.264), 2 (H.265) or 3 (MPEG-4)",
            hint="codec=1 writes H.264",
        )
    if sink.container not in (1, 2):
        raise reader.error(
            f"[{group.name}] container={sink.container} is not a container",
            _line(values, "container", group.line),
            expected="1 (MP4) or 2 (MKV)",
            hint="container=1 writes MP4, container=2 MKV",
        )
    if sink_type == SinkType.ENCODE_FILE and not sink.output_file:
        raise reader.error(
            f"[{group.name}] type=3 (file) needs output-file",
            group.line,
            hint="add output-file=out.mp4 (relative to this config's folder)",
        )
    if sink_type == SinkType.RTSP and not 0 <= sink.rtsp_port < 65536:
        raise reader.error(
            f"[{group.name}] rtsp-port={sink.rtsp_port} is not a port",
            _line(values, "rtsp-port", 0),
            hint="rtsp-port is a TCP port from 1 to 65535, e.g. 8554",
        )
    if sink_type == SinkType.RTSP and not 0 < sink.udp_port < 65536:
        raise reader.error(
            f"[{group.name}] udp-port={sink.udp_port} is not a port",
            _line(values, "udp-port", group.line),
            hint="the encoder sends RTP to 127.0.0.1:udp-port, where the RTSP server picks it up",
        )
    if sink_type == SinkType.MSG_CONV_BROKER:
        _message_sink(reader, group, values, sink)
    config.sinks.append(sink)


def _message_sink(
    reader: _Reader, group: KeyFileGroup, values: Mapping[str, tuple[Any, KeyFileEntry]], sink: SinkConfig
) -> None:
    """The nvmsgconv + nvmsgbroker keys of a type-6 sink, checked before anything connects."""
    sink.disable_msgconv = bool(_get(values, "disable-msgconv", 0))
    if not sink.disable_msgconv:
        sink.msgconv = _msgconv_settings(reader, group.name, values)
    sink.proto_lib = _get(values, "msg-broker-proto-lib")
    if not sink.proto_lib:
        raise reader.error(
            f"[{group.name}] type=6 needs msg-broker-proto-lib",
            group.line,
            hint="msg-broker-proto-lib=/opt/nvidia/deepstream/deepstream/lib/libnvds_kafka_proto.so",
        )
    if not sink.proto_lib.endswith(_KAFKA_PROTO_LIBS):
        raise reader.error(
            f"[{group.name}] msg-broker-proto-lib {sink.proto_lib} is not emulated",
            _line(values, "msg-broker-proto-lib", group.line),
            hint="only the Kafka adaptor (libnvds_kafka_proto.so) is",
        )
    sink.conn_str = _get(values, "msg-broker-conn-str")
    if sink.conn_str is None:
        raise reader.error(
            f"[{group.name}] type=6 needs msg-broker-conn-str",
            group.line,
            hint="msg-broker-conn-str=host;port (and topic=name), e.g. localhost;9092",
        )
    try:
        parse_conn_str(sink.conn_str)
    except MsgBrokerError as err:
        raise reader.error(
            f"[{group.name}] msg-broker-conn-str: {err.message}",
            _line(values, "msg-broker-conn-str", group.line),
            hint=err.hint,
        ) from None
    sink.topic = _get(values, "topic")
    sink.broker_config = reader.existing(group.name, "msg-broker-config", values)
    sink.broker_comp_id = _get(values, "msg-broker-comp-id", 0)


_PARSERS: dict[str, Callable[[_Reader, KeyFileGroup, AppConfig], None]] = {
    "application": _parse_application,
    "tests": _parse_tests,
    "tiled-display": _parse_tiled_display,
    "streammux": _parse_streammux,
    "primary-gie": _parse_primary_gie,
    "tracker": _parse_tracker,
    "nvds-analytics": _parse_analytics,
    "osd": _parse_osd,
    "message-converter": _parse_message_converter,
}


def _check(reader: _Reader, config: AppConfig) -> None:
    """Whole-file checks: what deepstream-app needs to build a pipeline at all."""
    mux = config.streammux
    if "streammux" not in reader.kf.groups:
        raise reader.error(
            "no [streammux] group",
            0,
            hint="nvstreammux needs width and height: add [streammux] with width=1280, height=720, "
            "batch-size=1",
        )
    if mux.width <= 0 or mux.height <= 0:
        raise reader.error(
            f"[streammux] width and height must be set and positive (got {mux.width}x{mux.height})",
            mux.line,
            hint="nvstreammux fails with 'Output width not set' otherwise",
        )
    if not config.source_groups:
        raise reader.error("no enabled [sourceN] group", 0, hint="add [source0] with enable=1, type and uri")
    if not config.sinks:
        raise reader.error(
            "no enabled [sinkN] group", 0, hint="add [sink0] with enable=1 and type=1 (fakesink)"
        )
    if any(s.disable_msgconv for s in config.sinks) and config.message_converter is None:
        log.warning(
            "%s: a type-6 sink has disable-msgconv=1 but there is no enabled [message-converter]: "
            "it will send nothing",
            reader.path,
        )
