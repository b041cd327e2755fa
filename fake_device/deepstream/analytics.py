"""nvdsanalytics on CPU: ROI filtering, line crossing, direction detection, overcrowding, counts.

The element reads the same ``config_nvdsanalytics.txt`` as DeepStream and reproduces the
arithmetic of DeepStream's low-level library (``src/utils/nvds_analytics/nvds_analytics.cpp`` in
github NVIDIA/DeepStream) and of the plugin around it (``src/gst-plugins/gst-nvdsanalytics/
gstnvdsanalytics.cpp`` and ``nvdsanalytics_property_parser.cpp``), integer truncations included,
because counts that differ by one from the device are exactly what a CI check must not
invent. Where DeepStream silently accepts a broken config (unknown keys, an odd number of
coordinates, a direction parallel to its line) the parser here fails with a
:class:`~.errors.ConfigError` that names file, line and key. The list of differences is in
``docs/deepstream/analytics.md``.

What the library does, in short (details next to the code):

* Every object updates a per-track history (per source, keyed by ``object_id``; all untracked
  objects of a source share one entry, as upstream). The history window is
  ``obj-cnt-win-in-ms`` *samples* (50 when unset): the plugin passes that value as the history
  length as well as the count-smoothing window.
* The membership point is ``(left + w/2, top + h/2 + mean_h/2)`` in integers, ``mean_h`` being
  the mean box height over the history, i.e. roughly the bottom-centre; ROIs use an integer
  even-odd ray cast towards x = 0.
* Line crossing compares the current bottom-centre with an older point (the mean of the first
  two samples until the window is full, then the mean of the four oldest), needs a minimum
  displacement and track age per mode, and counts each track once per line.
* Histories of tracks not seen for more than 8 s of ``buf_pts`` are dropped, so a track id
  that comes back later starts afresh (and can count again).
"""

from __future__ import annotations

import difflib
import itertools
import logging
import math
import re
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fake_device.deepstream.errors import ConfigError, read_config_text
from fake_device.deepstream.meta import (
    UNTRACKED_OBJECT_ID,
    BatchMeta,
    FrameAnalytics,
    FrameMeta,
    ObjectAnalytics,
)

log = logging.getLogger("fake_device.deepstream.analytics")

Point = tuple[int, int]

#: gst-nvdsanalytics' ``unique-id`` property default (gstnvdsanalytics.cpp DEFAULT_UNIQUE_ID).
DEFAULT_UNIQUE_ID = 17
#: What the plugin substitutes when ``obj-cnt-win-in-ms`` is not set (gstnvdsanalytics.cpp,
#: transform_ip): it is then both the count-smoothing window in ms and the history length.
DEFAULT_OBJ_CNT_WIN_MS = 50
#: Unseen tracks are forgotten after this long. The plugin passes 300 ms to
#: NvDsAnalyticCtx::create, but the context constructor never stores that argument, so the member
#: keeps its initialiser TIME_OUT_MSEC (nvds_analytics.h / nvds_analytics.cpp).
TRACK_TIMEOUT_MS = 8000

MODES = ("strict", "balanced", "loose")

# Line-crossing thresholds per mode (nvds_analytics.cpp, processSource): squared displacement in
# pixels, minimum frames seen, minimum cosine between the motion and the direction vector. The
# cosines are C ``float`` literals compared with doubles, hence float32.
_LC_THRESHOLDS: dict[str, tuple[int, int, float]] = {
    "loose": (1000, 3, float(np.float32(0.1))),
    "balanced": (3000, 10, float(np.float32(0.5))),
    "strict": (6000, 20, float(np.float32(0.8))),
}
# Direction detection ignores its own ``mode`` key: the thresholds are fixed.
_DIR_DISPLACEMENT = 3000
_DIR_MIN_FRAMES = 10
_DIR_COSINE = 0.5

# Which way a line must be crossed in loose mode (eModeDir in nvds_analytics.h).
_USE_DIR = "use_dir"
_POS_TO_NEG = "pos_to_neg"
_NEG_TO_POS = "neg_to_pos"

_F32 = np.float32


# --------------------------------------------------------------------------------------------
# Configuration


@dataclass(frozen=True)
class RoiFilter:
    """One ``roi-<label>`` of a ``[roi-filtering-stream-N]`` group (config pixels)."""

    label: str
    points: tuple[Point, ...]
    enable: bool = False
    inverse: bool = False
    class_ids: tuple[int, ...] = ()
    line: int = 0  # of the config file, for messages


@dataclass(frozen=True)
class Overcrowding:
    """One ``roi-<label>`` of an ``[overcrowding-stream-N]`` group.

    ``time_threshold_ms`` is parsed and kept, but DeepStream does not use it (a FIXME in
    nvds_analytics.cpp), so neither does the emulation.
    """

    label: str
    points: tuple[Point, ...]
    enable: bool = False
    object_threshold: int = 1
    time_threshold_ms: int = 2000
    class_ids: tuple[int, ...] = ()
    line: int = 0  # of the config file, for messages


@dataclass(frozen=True)
class LineCrossing:
    """One ``line-crossing-<label>=dx1;dy1;dx2;dy2;lx1;ly1;lx2;ly2`` entry.

    Defaults are DeepStream's parser defaults, not its documentation's: ``extended`` is true
    and ``mode`` is ``loose`` when the keys are absent (nvdsanalytics_property_parser.cpp).
    """

    label: str
    direction: tuple[Point, Point]
    segment: tuple[Point, Point]
    enable: bool = False
    extended: bool = True
    mode: str = "loose"
    class_ids: tuple[int, ...] = ()
    line: int = 0  # of the config file, for messages


@dataclass(frozen=True)
class DirectionDetection:
    """One ``direction-<label>=x1;y1;x2;y2`` entry; ``mode`` is parsed but unused upstream."""

    label: str
    start: Point
    end: Point
    enable: bool = False
    mode: str = "balanced"
    class_ids: tuple[int, ...] = ()
    line: int = 0  # of the config file, for messages


@dataclass(frozen=True)
class StreamConfig:
    """Everything configured for one source (``-stream-N`` groups with the same N)."""

    roi_filters: tuple[RoiFilter, ...] = ()
    overcrowding: tuple[Overcrowding, ...] = ()
    line_crossings: tuple[LineCrossing, ...] = ()
    directions: tuple[DirectionDetection, ...] = ()


@dataclass(frozen=True)
class AnalyticsConfig:
    """A parsed ``config_nvdsanalytics.txt``."""

    path: str
    enable: bool
    config_width: int
    config_height: int
    osd_mode: int = 2
    display_font_size: int = 12
    obj_cnt_win_in_ms: int = 0
    display_obj_cnt: bool = False
    streams: dict[int, StreamConfig] = field(default_factory=dict)

    def stream(self, source_id: int) -> StreamConfig:
        """The config of one source; an empty one when the file has no group for it."""
        return self.streams.get(source_id, StreamConfig())


# --------------------------------------------------------------------------------------------
# GLib key-file reading, with line numbers


@dataclass
class _Entry:
    key: str
    value: str
    line: int


@dataclass
class _Group:
    name: str
    line: int
    entries: dict[str, _Entry] = field(default_factory=dict)


def _read_key_file(text: str, path: str) -> list[_Group]:
    """Split a GLib key file into groups of ``key=value`` entries, keeping line numbers.

    Follows GLib's rules: ``#`` starts a comment line, leading whitespace is ignored, a group
    named twice is one group, and a key given twice keeps its last value (in its first place).
    """
    groups: dict[str, _Group] = {}
    current: _Group | None = None
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.removesuffix("\r").lstrip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            stripped = line.rstrip()
            name = stripped[1:-1]
            if not stripped.endswith("]") or not name or "[" in name or "]" in name:
                raise ConfigError(
                    path,
                    f"malformed group header {stripped!r}",
                    line=number,
                    expected="[group-name]",
                    hint="a group header is '[name]' alone on its line, e.g. [roi-filtering-stream-0]",
                )
            current = groups.get(name)
            if current is None:
                current = groups[name] = _Group(name, number)
            continue
        if "=" not in line:
            raise ConfigError(
                path,
                f"line {line.rstrip()!r} is neither a key=value pair, a [group] nor a # comment",
                line=number,
                expected="key=value",
                hint="write key=value, '[group]' or a '#' comment on its own line",
            )
        if current is None:
            raise ConfigError(
                path,
                "key before the first group",
                line=number,
                hint="a key file starts with a group, here [property]",
            )
        key, value = line.split("=", 1)
        key = key.rstrip()
        if not key:
            raise ConfigError(
                path,
                f"empty key in [{current.name}]",
                line=number,
                expected="key=value",
                hint="write the key before '=', e.g. enable=1",
            )
        if key in current.entries:
            log.warning(
                "%s:%d: %s given twice in [%s]; the last value wins, as in GLib",
                path,
                number,
                key,
                current.name,
            )
        current.entries[key] = _Entry(key, value.lstrip(), number)
    return list(groups.values())


_INT = re.compile(r"\s*[+-]?\d+\s*")


class _GroupReader:
    """Typed access to one group's values, raising ConfigError at the value's line."""

    def __init__(self, path: str, group: _Group) -> None:
        self.path = path
        self.group = group

    def error(
        self, entry: _Entry | None, message: str, *, expected: str = "", hint: str | None = None
    ) -> ConfigError:
        line = entry.line if entry else self.group.line
        return ConfigError(
            self.path, f"[{self.group.name}] {message}", line=line, expected=expected, hint=hint
        )

    def integer(self, entry: _Entry, *, minimum: int | None = None, maximum: int | None = None) -> int:
        value = entry.value
        if not _INT.fullmatch(value):
            raise self.error(
                entry,
                f"{entry.key}: {value.strip()!r} is not an integer",
                expected="an integer",
                hint="a whole number in decimal, e.g. 1",
            )
        number = int(value)
        if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
            if maximum is None:
                bounds = f">= {minimum}"
            elif minimum is None:
                bounds = f"<= {maximum}"
            else:
                bounds = f"{minimum}..{maximum}"
            raise self.error(
                entry,
                f"{entry.key}={number} is out of range",
                expected=bounds,
                hint="use a value in the range, or remove the key for the default",
            )
        return number

    def boolean(self, entry: _Entry) -> bool:
        # g_key_file_get_boolean: exactly true/false/1/0, case-sensitive, trailing blanks allowed.
        value = entry.value.rstrip()
        if value in ("1", "true"):
            return True
        if value in ("0", "false"):
            return False
        raise self.error(
            entry,
            f"{entry.key}: {value!r} is not a boolean",
            expected="1, 0, true or false",
            hint="GLib key files accept only lowercase true/false or 1/0",
        )

    def integers(self, entry: _Entry) -> list[int]:
        """A ``;``-separated integer list (g_key_file_get_integer_list; one trailing ``;`` ok)."""
        items = entry.value.split(";")
        if items and items[-1].strip() == "":
            items.pop()
        numbers = []
        for position, item in enumerate(items, start=1):
            if not _INT.fullmatch(item):
                raise self.error(
                    entry,
                    f"{entry.key}: item {position} {item.strip()!r} is not an integer",
                    expected="integers separated by ';'",
                    hint="e.g. class-id=0;2 (whole numbers separated by ';')",
                )
            numbers.append(int(item))
        return numbers

    def class_ids(self, entry: _Entry) -> tuple[int, ...]:
        ids = self.integers(entry)
        for class_id in ids:
            if class_id < -1:
                raise self.error(
                    entry,
                    f"class-id {class_id} is not a class",
                    expected="-1 (all classes) or ids >= 0",
                    hint="class-id=-1 applies to every class; otherwise list the detector's class ids",
                )
        return tuple(ids)

    def mode(self, entry: _Entry) -> str:
        value = entry.value
        if value.rstrip() in MODES and value != value.rstrip():
            # DeepStream compares the raw string, so 'balanced ' silently becomes the default mode.
            raise self.error(
                entry,
                f"mode {value!r} has trailing whitespace",
                expected="strict, balanced or loose",
                hint="DeepStream would not recognise it and fall back to its default mode",
            )
        if value not in MODES:
            close = difflib.get_close_matches(value.strip(), MODES, n=1)
            raise self.error(
                entry,
                f"unknown mode {value!r}",
                expected="strict, balanced or loose",
                hint=f"did you mean {close[0]!r}?" if close else None,
            )
        return value

    def points(
        self, entry: _Entry, numbers: Sequence[int], width: int, height: int, what: str = "point"
    ) -> list[Point]:
        """Pairs of coordinates, each inside the config-width x config-height frame."""
        pts = [(numbers[i], numbers[i + 1]) for i in range(0, len(numbers) - 1, 2)]
        for index, (x, y) in enumerate(pts, start=1):
            if not (0 <= x <= width and 0 <= y <= height):
                raise self.error(
                    entry,
                    f"{entry.key}: {what} {index} ({x}, {y}) is outside the {width}x{height} frame "
                    "of config-width/config-height",
                    expected=f"0 <= x <= {width} and 0 <= y <= {height}",
                    hint="coordinates are in config-width x config-height pixels; fix the point or the "
                    "config size",
                )
        return pts


_PROPERTY = "property"
_FEATURE_PREFIXES = (
    "roi-filtering-stream-",
    "overcrowding-stream-",
    "line-crossing-stream-",
    "direction-detection-stream-",
)
_PROPERTY_KEYS = (
    "enable",
    "config-width",
    "config-height",
    "osd-mode",
    "display-font-size",
    "obj-cnt-win-in-ms",
    "display-obj-cnt",
)
# Exact keys and label-prefixed keys of each feature group.
_GROUP_KEYS: dict[str, tuple[tuple[str, ...], str]] = {
    "roi-filtering-stream-": (("enable", "class-id", "inverse-roi"), "roi-"),
    "overcrowding-stream-": (("enable", "class-id", "object-threshold", "time-threshold"), "roi-"),
    "line-crossing-stream-": (("enable", "class-id", "extended", "mode"), "line-crossing-"),
    "direction-detection-stream-": (("enable", "class-id", "mode"), "direction-"),
}


def _suggest_key(key: str, exact: Iterable[str], prefix: str | None) -> str | None:
    """The closest known key: an exact key, or the label prefix with the user's label kept."""
    best: tuple[float, str] | None = None
    for candidate in exact:
        ratio = difflib.SequenceMatcher(None, key, candidate).ratio()
        if ratio >= 0.75 and (best is None or ratio > best[0]):
            best = (ratio, candidate)
    if prefix:
        for cut in range(max(1, len(prefix) - 3), len(prefix) + 3):
            head, label = key[:cut], key[cut:]
            if not label:
                continue
            ratio = difflib.SequenceMatcher(None, head, prefix).ratio()
            if ratio >= 0.8 and (best is None or ratio > best[0]):
                best = (ratio, prefix + label.lstrip("-_"))
    return best[1] if best else None


def _suggest_group(name: str) -> str:
    base, digits = re.fullmatch(r"(.*?)(\d*)", name).groups()  # type: ignore[union-attr]
    close = difflib.get_close_matches(base, [_PROPERTY, *_FEATURE_PREFIXES], n=1, cutoff=0.6)
    if not close:
        return "known groups: [property], " + ", ".join(f"[{p}<N>]" for p in _FEATURE_PREFIXES)
    if close[0] == _PROPERTY:
        return "did you mean [property]?"
    return f"did you mean [{close[0]}{digits or '0'}]?"


def load_analytics_config(path: str | Path) -> AnalyticsConfig:
    """Read and check an nvdsanalytics key file; every problem is a ConfigError at file:line."""
    text = read_config_text(
        path, "nvdsanalytics config file", missing_hint="check the config-file property of nvdsanalytics"
    )
    return parse_analytics_config(text, path)


def parse_analytics_config(text: str, path: str | Path = "<string>") -> AnalyticsConfig:
    """Parse key-file text; ``path`` only names the file in error messages."""
    path = str(path)
    groups = _read_key_file(text, path)
    by_name = {g.name: g for g in groups}
    if _PROPERTY not in by_name:
        raise ConfigError(
            path,
            "group [property] not specified",
            hint="add [property] with enable, config-width and config-height",
        )
    props = _parse_property(path, by_name[_PROPERTY])
    width, height = props["config_width"], props["config_height"]

    per_stream: dict[int, dict[str, list]] = {}
    for group in groups:
        if group.name == _PROPERTY:
            continue
        prefix = next((p for p in _FEATURE_PREFIXES if group.name.startswith(p)), None)
        if prefix is None:
            raise ConfigError(
                path, f"unknown group [{group.name}]", line=group.line, hint=_suggest_group(group.name)
            )
        suffix = group.name[len(prefix) :]
        if not suffix.isdigit():
            raise ConfigError(
                path,
                f"group [{group.name}]: {suffix!r} is not a stream index",
                line=group.line,
                expected=f"[{prefix}<N>], N the source's pad index (0, 1, ...)",
                hint="number the group by the source: e.g. [roi-filtering-stream-0] for the first source",
            )
        stream = per_stream.setdefault(int(suffix), {p: [] for p in _FEATURE_PREFIXES})
        stream[prefix].extend(_parse_feature_group(path, group, prefix, width, height))

    streams: dict[int, StreamConfig] = {}
    for stream_id, features in sorted(per_stream.items()):
        for items in features.values():
            seen: dict[str, int] = {}
            for item in items:
                if item.label in seen:
                    raise ConfigError(
                        path,
                        f"label {item.label!r} configured twice for stream {stream_id} "
                        f"(first at line {seen[item.label]})",
                        line=item.line,
                        hint="the frame counts are keyed by label, so labels must differ",
                    )
                seen[item.label] = item.line
        streams[stream_id] = StreamConfig(
            roi_filters=tuple(features["roi-filtering-stream-"]),
            overcrowding=tuple(features["overcrowding-stream-"]),
            line_crossings=tuple(features["line-crossing-stream-"]),
            directions=tuple(features["direction-detection-stream-"]),
        )
    return AnalyticsConfig(path=path, streams=streams, **props)


def _parse_property(path: str, group: _Group) -> dict:
    reader = _GroupReader(path, group)
    values: dict = {"osd_mode": 2, "display_font_size": 12, "obj_cnt_win_in_ms": 0, "display_obj_cnt": False}
    for key, entry in group.entries.items():
        if key == "enable":
            values["enable"] = reader.boolean(entry)
        elif key == "config-width":
            values["config_width"] = reader.integer(entry, minimum=1)
        elif key == "config-height":
            values["config_height"] = reader.integer(entry, minimum=1)
        elif key == "osd-mode":
            values["osd_mode"] = reader.integer(entry, minimum=0, maximum=2)
        elif key == "display-font-size":
            # 0 keeps the default, as in the plugin.
            values["display_font_size"] = reader.integer(entry, minimum=0) or 12
        elif key == "obj-cnt-win-in-ms":
            values["obj_cnt_win_in_ms"] = reader.integer(entry, minimum=1, maximum=1_000_000_000)
        elif key == "display-obj-cnt":
            values["display_obj_cnt"] = reader.boolean(entry)
        else:
            close = _suggest_key(key, _PROPERTY_KEYS, None)
            raise reader.error(
                entry,
                f"unknown key {key!r}",
                expected=", ".join(_PROPERTY_KEYS),
                hint=f"did you mean {close!r}?" if close else None,
            )
    for required, name in (
        ("enable", "enable"),
        ("config-width", "config_width"),
        ("config-height", "config_height"),
    ):
        if name not in values:
            raise reader.error(
                None,
                f"key {required!r} missing",
                hint="DeepStream requires enable, config-width and config-height in [property]",
            )
    return values


def _parse_feature_group(path: str, group: _Group, prefix: str, width: int, height: int) -> list:
    reader = _GroupReader(path, group)
    exact, label_prefix = _GROUP_KEYS[prefix]
    common: dict = {}
    labelled: list[tuple[_Entry, str]] = []
    for key, entry in group.entries.items():
        if key in exact:
            if key == "enable":
                common["enable"] = reader.boolean(entry)
            elif key == "class-id":
                common["class_ids"] = reader.class_ids(entry)
            elif key in ("inverse-roi", "extended"):
                common["inverse" if key == "inverse-roi" else "extended"] = reader.boolean(entry)
            elif key == "object-threshold":
                common["object_threshold"] = reader.integer(entry, minimum=0)
            elif key == "time-threshold":
                common["time_threshold_ms"] = reader.integer(entry, minimum=0)
            elif key == "mode":
                common["mode"] = reader.mode(entry)
        elif key.startswith(label_prefix):
            label = key[len(label_prefix) :]
            if not label:
                raise reader.error(
                    entry,
                    f"{key!r} has no label",
                    expected=f"{label_prefix}<label>",
                    hint="name the entry after its prefix, e.g. roi-RF=... or line-crossing-Exit=...",
                )
            labelled.append((entry, label))
        else:
            close = _suggest_key(key, exact, label_prefix)
            raise reader.error(
                entry,
                f"unknown key {key!r}",
                expected=", ".join((*exact, label_prefix + "<label>")),
                hint=f"did you mean {close!r}?" if close else None,
            )
    if not labelled:
        raise reader.error(
            None,
            f"no {label_prefix}<label> entry",
            expected=f"at least one {label_prefix}<label>",
            hint="add one, e.g. roi-RF=295;643;579;634;642;913;56;828",
        )
    if "enable" not in common:
        log.warning(
            "%s:%d: [%s] has no 'enable' key; DeepStream treats the group as disabled",
            path,
            group.line,
            group.name,
        )

    items: list = []
    for entry, label in labelled:
        numbers = reader.integers(entry)
        if prefix in ("roi-filtering-stream-", "overcrowding-stream-"):
            if len(numbers) % 2:
                raise reader.error(
                    entry,
                    f"{entry.key} has {len(numbers)} numbers, an odd count",
                    expected="x;y pairs: x1;y1;x2;y2;x3;y3;...",
                    hint="list x;y pairs: each point is two numbers",
                )
            if len(numbers) < 6:
                raise reader.error(
                    entry,
                    f"{entry.key} has {len(numbers) // 2} points; a polygon needs at least 3",
                    expected="at least 3 x;y points",
                    hint="list at least three x;y points, e.g. 0;0;100;0;100;100",
                )
            pts = tuple(reader.points(entry, numbers, width, height))
            cls = RoiFilter if prefix == "roi-filtering-stream-" else Overcrowding
            items.append(cls(label=label, points=pts, line=entry.line, **common))
        elif prefix == "line-crossing-stream-":
            if len(numbers) != 8:
                raise reader.error(
                    entry,
                    f"{entry.key} has {len(numbers)} numbers",
                    expected="exactly 8: dx1;dy1;dx2;dy2 (direction) then lx1;ly1;lx2;ly2 (line)",
                    hint="the direction's points, then the line's, e.g. 789;672;1084;900;851;773;1203;732",
                )
            d1, d2, l1, l2 = reader.points(entry, numbers, width, height)
            _check_line_geometry(reader, entry, d1, d2, l1, l2)
            items.append(
                LineCrossing(label=label, direction=(d1, d2), segment=(l1, l2), line=entry.line, **common)
            )
        else:
            if len(numbers) != 4:
                raise reader.error(
                    entry,
                    f"{entry.key} has {len(numbers)} numbers",
                    expected="exactly 4: x1;y1;x2;y2, the direction from (x1, y1) to (x2, y2)",
                    hint="two points: where objects come from, then where they go, e.g. 0;0;100;0",
                )
            start, end = reader.points(entry, numbers, width, height)
            if start == end:
                raise reader.error(
                    entry,
                    f"{entry.key}: the direction has zero length",
                    expected="two different points",
                    hint="give two different points",
                )
            items.append(DirectionDetection(label=label, start=start, end=end, line=entry.line, **common))
    return items


def _check_line_geometry(
    reader: _GroupReader, entry: _Entry, d1: Point, d2: Point, l1: Point, l2: Point
) -> None:
    """Reject lines DeepStream cannot count on (it only prints 'Improper direction configured')."""
    if d1 == d2:
        raise reader.error(
            entry,
            f"{entry.key}: the direction (first 4 numbers) has zero length",
            hint="the direction's two points must differ",
        )
    if l1 == l2:
        raise reader.error(
            entry,
            f"{entry.key}: the line (last 4 numbers) has zero length",
            hint="the line's two points must differ",
        )
    cross = (d2[0] - d1[0]) * (l2[1] - l1[1]) - (d2[1] - d1[1]) * (l2[0] - l1[0])
    if cross == 0:
        raise reader.error(
            entry,
            f"{entry.key}: the direction is parallel to the line",
            hint="the direction (first two points) must point across the line (last two points)",
        )


# --------------------------------------------------------------------------------------------
# Geometry, reproducing nvds_analytics.cpp's integer and floating-point steps


def _cdiv(a: int, b: int) -> int:
    """C integer division (truncates towards zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def _u32(value: float) -> int:
    """float → uint32_t as on the Jetson (aarch64 FCVTZU saturates): ObjInf holds uint32 boxes."""
    if value != value or value <= 0:
        return 0
    return min(int(value), 0xFFFFFFFF)


def _i32(value: float) -> int:
    """double → int32_t, truncating towards zero (C conversion)."""
    return int(value)


def point_in_roi(points: Sequence[Point], x: int, y: int) -> bool:
    """DeepStream's ROI test (NvDsAnalytics_CheckObjInROI) on integer coordinates.

    Even-odd ray cast towards x = 0: an edge counts when y lies in its half-open y-range (lower
    end in, upper end out) and the C-truncated intersection abscissa is in ``[0, x]``. So the
    left and top borders are inside, the right and bottom borders outside, and truncation can
    move the border by one pixel on slanted edges.
    """
    crossings = 0
    n = len(points)
    for i in range(n):
        px, py = points[i]
        cx, cy = points[(i + 1) % n]
        if (py <= y < cy) or (cy <= y < py):
            a = py - cy
            if a != 0:
                b = cx - px
                c = cy * px - cx * py
                xicp = _cdiv(-(b * y + c), a)
                if 0 <= xicp <= x:
                    crossings += 1
    return crossings % 2 == 1


def _unit(x1: float, y1: float, x2: float, y2: float) -> tuple[float, float]:
    mag = math.sqrt((x1 - x2) ** 2 + (y1 - y2) ** 2)
    if mag < 1e-9:
        return (0.0, 0.0)
    return ((x2 - x1) / mag, (y2 - y1) / mag)


def _line_abc(x1: float, y1: float, x2: float, y2: float) -> tuple[float, float, float]:
    """Normalised a, b, c of ax + by + c = 0 through two points (a, b NaN for one point)."""
    a, b, c = y1 - y2, x2 - x1, x1 * y2 - x2 * y1
    mag = math.sqrt(a * a + b * b)
    if mag == 0:
        return (math.nan, math.nan, math.nan)
    return (a / mag, b / mag, c / mag)


def _line_value(abc: tuple[float, float, float], x: float, y: float) -> float:
    return abc[0] * x + abc[1] * y + abc[2]


def _intersection(
    l1: tuple[float, float, float], l2: tuple[float, float, float]
) -> tuple[float, float] | None:
    det = l1[0] * l2[1] - l1[1] * l2[0]
    if not abs(det) >= 1e-5:  # also rejects NaN, as the C comparison does
        return None
    return ((-l1[2] * l2[1] + l1[1] * l2[2]) / det, (-l1[0] * l2[2] + l1[2] * l2[0]) / det)


def _crosses_segment(
    xp: float, yp: float, xc: float, yc: float, abc: tuple[float, float, float], p1: Point, p2: Point
) -> bool:
    """check_if_intersection_on_segment: the motion's *infinite* line meets the segment strictly
    between its ends (it does not check that the meeting point lies between the two positions)."""
    point = _intersection(_line_abc(xp, yp, xc, yc), abc)
    if point is None:
        return False
    v1 = (point[0] - p1[0], point[1] - p1[1])
    v2 = (p2[0] - p1[0], p2[1] - p1[1])
    along = v1[0] * v2[0] + v1[1] * v2[1]
    return along > 0 and (v2[0] * v2[0] + v2[1] * v2[1]) > (v1[0] * v1[0] + v1[1] * v1[1])


def _check_direction(unit: tuple[float, float], px: int, py: int, cx: int, cy: int, cosine: float) -> bool:
    x, y = cx - px, cy - py
    if x == 0 and y == 0:
        return False
    return (unit[0] * x + unit[1] * y) / math.sqrt(x * x + y * y) >= cosine


def _check_line_crossing(
    unit: tuple[float, float],
    abc: tuple[float, float, float],
    px: int,
    py: int,
    cx: int,
    cy: int,
    cosine: float,
) -> bool:
    """CheckLineCrossing: motion along the direction, and a strict side change of the line value
    truncated to int (so a point less than a pixel from the line is on neither side)."""
    if not _check_direction(unit, px, py, cx, cy, cosine):
        return False
    before = _i32(_line_value(abc, px, py))
    after = _i32(_line_value(abc, cx, cy))
    return (after > 0 > before) or (after < 0 < before)


# --------------------------------------------------------------------------------------------
# Scaled geometry of one source


def _scale(value: int, factor: np.float32) -> int:
    # int * float assigned to int in nvds_analytics.cpp's constructor: float32 product, truncated.
    return int(_F32(value) * factor)


@dataclass
class ScaledRoi:
    """An ROI (filtering or overcrowding) in muxer pixels."""

    label: str
    points: tuple[Point, ...]
    class_ids: tuple[int, ...]
    enable: bool
    inverse: bool = False
    object_threshold: int = 0


@dataclass
class ScaledLine:
    """A counting line in muxer pixels, with what the library derives from it."""

    label: str
    direction: tuple[Point, Point]
    segment: tuple[Point, Point]
    unit: tuple[float, float]
    abc: tuple[float, float, float]
    crossing: str  # use_dir | pos_to_neg | neg_to_pos (only loose mode uses it)
    mode: str
    extended: bool
    class_ids: tuple[int, ...]
    enable: bool


@dataclass
class ScaledDirection:
    """A direction arrow in muxer pixels."""

    label: str
    start: Point
    end: Point
    unit: tuple[float, float]
    class_ids: tuple[int, ...]
    enable: bool


@dataclass
class ScaledStream:
    """One source's analytics geometry at muxer resolution (what an OSD would draw)."""

    rois: list[ScaledRoi] = field(default_factory=list)
    overcrowding: list[ScaledRoi] = field(default_factory=list)
    lines: list[ScaledLine] = field(default_factory=list)
    directions: list[ScaledDirection] = field(default_factory=list)


def _crossing_sense(d1: Point, d2: Point, l1: Point, l2: Point, unit: tuple[float, float]) -> str:
    """Which side change loose mode counts (the eModeDir logic of the context constructor)."""
    line = _line_abc(*l1, *l2)
    point = _intersection(_line_abc(*d1, *d2), line)
    if point is None:
        return _USE_DIR
    dir1 = _unit(d1[0], d1[1], point[0], point[1])
    dir2 = _unit(d2[0], d2[1], point[0], point[1])
    mag1 = dir1[0] * unit[0] + dir1[1] * unit[1]
    mag2 = dir2[0] * unit[0] + dir2[1] * unit[1]
    val1 = _line_value(line, *d1)
    val2 = _line_value(line, *d2)
    if (mag1 > 0.99 and val1 > 1e-5) or (mag1 < -0.99 and val1 < 1e-5):
        return _POS_TO_NEG
    if (mag1 < -0.99 and val1 > 1e-5) or (mag1 > 0.99 and val1 < 1e-5):
        return _NEG_TO_POS
    if (mag2 > 0.99 and val2 > 0) or (mag2 < -0.99 and val2 < 0):
        return _POS_TO_NEG
    if (mag2 < -0.99 and val2 > 0) or (mag2 > 0.99 and val2 < 0):
        return _NEG_TO_POS
    return _USE_DIR


def scale_stream(stream: StreamConfig, config: AnalyticsConfig, width: int, height: int) -> ScaledStream:
    """Scale one source's config from config-width/height to the muxer resolution."""
    fx = _F32(width) / _F32(config.config_width)
    fy = _F32(height) / _F32(config.config_height)

    def pt(p: Point) -> Point:
        return (_scale(p[0], fx), _scale(p[1], fy))

    out = ScaledStream()
    for roi in stream.roi_filters:
        out.rois.append(
            ScaledRoi(roi.label, tuple(map(pt, roi.points)), roi.class_ids, roi.enable, roi.inverse)
        )
    for oc in stream.overcrowding:
        out.overcrowding.append(
            ScaledRoi(
                oc.label,
                tuple(map(pt, oc.points)),
                oc.class_ids,
                oc.enable,
                object_threshold=oc.object_threshold,
            )
        )
    for d in stream.directions:
        start, end = pt(d.start), pt(d.end)
        out.directions.append(
            ScaledDirection(d.label, start, end, _unit(*start, *end), d.class_ids, d.enable)
        )
    for lc in stream.line_crossings:
        d1, d2 = map(pt, lc.direction)
        l1, l2 = map(pt, lc.segment)
        unit = _unit(*d1, *d2)
        out.lines.append(
            ScaledLine(
                label=lc.label,
                direction=(d1, d2),
                segment=(l1, l2),
                unit=unit,
                abc=_line_abc(*l1, *l2),
                crossing=_crossing_sense(d1, d2, l1, l2, unit),
                mode=lc.mode,
                extended=lc.extended,
                class_ids=lc.class_ids,
                enable=lc.enable,
            )
        )
    return out


def _class_ok(class_ids: tuple[int, ...], class_id: int) -> bool:
    """CheckValidClass: an empty list or -1 means every class."""
    return not class_ids or -1 in class_ids or class_id in class_ids


# --------------------------------------------------------------------------------------------
# Per-track history and per-source context


class _History:
    """NvDsAnalyticInfo: a ring of the last ``size`` samples of one track, with running sums.

    Means and variances are computed in float32 as in the C++ (``float`` members).
    """

    def __init__(self, size: int, pts: int) -> None:
        self.size = size
        self.samples: deque[tuple[int, int, int, int]] = deque()
        self.sum_x = self.sum_y = self.sq_x = self.sq_y = self.sum_w = self.sum_h = 0
        self.frames = 0
        self.first_pts = self.last_pts = pts
        self.crossed: set[str] = set()
        self.mean_h = self.var_x = self.var_y = _F32(0)

    def add(self, x: int, y: int, w: int, h: int) -> None:
        if self.frames >= self.size:
            ox, oy, ow, oh = self.samples.popleft()
            self.sum_x -= ox
            self.sum_y -= oy
            self.sq_x -= ox * ox
            self.sq_y -= oy * oy
            self.sum_w -= ow
            self.sum_h -= oh
        self.samples.append((x, y, w, h))
        self.sum_x += x
        self.sum_y += y
        self.sum_w += w
        self.sum_h += h
        self.sq_x += x * x
        self.sq_y += y * y
        window = _F32(self.size if self.frames >= self.size else self.frames + 1)
        self.mean_h = _F32(self.sum_h) / window
        mean_x = _F32(self.sum_x) / window
        mean_y = _F32(self.sum_y) / window
        self.var_x = _F32(self.sq_x) / window - mean_x * mean_x
        self.var_y = _F32(self.sq_y) / window - mean_y * mean_y
        self.frames += 1

    def previous(self) -> tuple[int, int, int, int]:
        """The reference position motion is measured from (x, y, w, h; zeros for young tracks).

        Until the ring is full it is the mean of the first two samples; then the mean of the
        four oldest (indices wrap when the ring is shorter than four).
        """
        if self.frames <= 3:
            return (0, 0, 0, 0)
        if self.frames < self.size:
            picks = [self.samples[0], self.samples[1]]
        else:
            picks = [self.samples[k % self.size] for k in range(4)]
        x, y, w, h = (_cdiv(sum(s[i] for s in picks), len(picks)) for i in range(4))
        return (x, y, w, h)


class _CountHistory:
    """ObjTypeHist: a sliding window of per-frame counts of one class, smoothed to its mode."""

    def __init__(self) -> None:
        self.pdf: dict[int, int] = {}
        self.past: dict[int, int] = {}
        self.last_update = 0
        self.recency: dict[int, int] = {}


@dataclass
class _FrameResult:
    """NvDsAnalyticProcessParams' per-frame outputs, before the plugin picks what to report."""

    obj_cnt: dict[int, int]
    in_roi: dict[str, int]
    oc_count: dict[str, int]
    oc_flag: dict[str, bool]
    lc_now: dict[str, int]
    lc_total: dict[str, int]


class _SourceContext:
    """NvDsAnalyticCtxImpl: the state of one source (pad index)."""

    def __init__(self, source_id: int, geometry: ScaledStream, history: int, window_ms: int) -> None:
        self.source_id = source_id
        self.geometry = geometry
        self.history = history
        self.window_ms = window_ms
        self.tracks: dict[int, _History] = {}
        self.lc_total: dict[str, int] = {}
        self.counts: dict[int, _CountHistory] = {}
        self.tick = 0

    def _smooth(self, class_id: int, count: int, pts: int) -> int:
        hist = self.counts.setdefault(class_id, _CountHistory())
        hist.pdf[count] = hist.pdf.get(count, 0) + 1
        self.tick += 1
        hist.recency[count] = self.tick
        for past_pts, past_count in list(hist.past.items()):
            # uint64 difference: a pts that went backwards looks very old and expires.
            if ((pts - past_pts) % (1 << 64)) / 1e6 > self.window_ms:
                del hist.past[past_pts]
                hist.pdf[past_count] -= 1
        # The most frequent count; DeepStream breaks ties by hash-map order, here the latest wins.
        best = max(hist.pdf, key=lambda c: (hist.pdf[c], hist.recency[c]))
        hist.past[pts] = count
        hist.last_update = pts
        return best

    def _untracked(self, feature: ScaledLine | ScaledDirection, kind: str) -> None:
        # nvds_analytics.cpp disables the feature for the rest of the stream on the first
        # untracked object ("Cant get direction information without enabling tracker").
        feature.enable = False
        log.warning(
            "nvdsanalytics: source %d: untracked object reached %s %r; it is disabled for this source "
            "(as in DeepStream): put a tracker before nvdsanalytics",
            self.source_id,
            kind,
            feature.label,
        )

    def process(self, frame: FrameMeta, unique_id: int) -> _FrameResult:
        pts = frame.buf_pts
        for track_id, track in list(self.tracks.items()):
            # (frm_pts - currPts) as long long, divided by 1e6 and truncated: ms unseen.
            if int((pts - track.last_pts) / 1e6) > TRACK_TIMEOUT_MS:
                del self.tracks[track_id]

        geo = self.geometry
        obj_cnt: dict[int, int] = {}
        in_roi: dict[str, int] = {}
        oc_count: dict[str, int] = {}
        oc_flag: dict[str, bool] = {}
        lc_now: dict[str, int] = {}

        for obj in frame.objects:
            obj_cnt[obj.class_id] = obj_cnt.get(obj.class_id, 0) + 1
            left, top, w, h = _u32(obj.left), _u32(obj.top), _u32(obj.width), _u32(obj.height)
            cx, cy = left + w // 2, top + h // 2
            track = self.tracks.get(obj.object_id)
            if track is None:
                track = self.tracks[obj.object_id] = _History(self.history, pts)
            track.last_pts = pts
            track.add(cx, cy, w, h)
            half_h = int(track.mean_h) // 2  # (int)mean_h/2
            # The membership point: centre x, centre y plus half the mean height (≈ bottom).
            mx, my = cx, cy + half_h

            status = ""
            roi_status: list[str] = []
            oc_status: list[str] = []
            lc_status: list[str] = []
            dir_status = ""

            for roi in geo.rois:
                if not roi.enable or not _class_ok(roi.class_ids, obj.class_id):
                    continue
                if point_in_roi(roi.points, mx, my) != roi.inverse:
                    status += " ROI:" + roi.label
                    in_roi[roi.label] = in_roi.get(roi.label, 0) + 1
                    roi_status.append(roi.label)

            for oc in geo.overcrowding:
                if not oc.enable or not _class_ok(oc.class_ids, obj.class_id):
                    continue
                if point_in_roi(oc.points, mx, my):
                    oc_count[oc.label] = oc_count.get(oc.label, 0) + 1
                    oc_status.append(oc.label)
                    if oc_count[oc.label] >= oc.object_threshold:
                        oc_flag[oc.label] = True

            prev_x, prev_y, prev_w, prev_h = track.previous()
            diff_x = _F32(cx - prev_x)
            diff_y = _F32((cy + h // 2) - (prev_y + _cdiv(prev_h, 2)))
            displacement = int(diff_x * diff_x + diff_y * diff_y)
            tracked = obj.object_id != UNTRACKED_OBJECT_ID

            for direction in geo.directions:
                if not direction.enable or not _class_ok(direction.class_ids, obj.class_id):
                    continue
                if not tracked:
                    self._untracked(direction, "direction")
                    continue
                with np.errstate(divide="ignore", invalid="ignore"):
                    still_y = float(track.var_y / track.mean_h) <= 0.01
                if track.frames > track.size and track.var_x <= 400 and still_y:
                    status += " STOPPED "
                    break
                moved = displacement > _DIR_DISPLACEMENT and track.frames > _DIR_MIN_FRAMES
                if moved and _check_direction(
                    direction.unit, prev_x, prev_y + half_h, cx, cy + half_h, _DIR_COSINE
                ):
                    status += " DIR:" + direction.label + " "
                    dir_status += " DIR:" + direction.label + " "

            for lc in geo.lines:
                if not lc.enable or lc.label in track.crossed or not _class_ok(lc.class_ids, obj.class_id):
                    continue
                if not tracked:
                    self._untracked(lc, "line")
                    continue
                min_disp, min_frames, cosine = _LC_THRESHOLDS[lc.mode]
                if not (displacement > min_disp and track.frames > min_frames):
                    continue
                if lc.crossing == _USE_DIR or lc.mode != "loose":
                    crossed = _check_line_crossing(
                        lc.unit, lc.abc, prev_x, prev_y + half_h, cx, cy + h // 2, cosine
                    )
                else:
                    # Loose mode with a known sense: only the side change counts, not the angle.
                    now = _line_value(lc.abc, float(cx), float(cy + h // 2))
                    before = _line_value(lc.abc, float(prev_x), float(_F32(prev_y) + track.mean_h / _F32(2)))
                    crossed = (now >= 0 and lc.crossing == _NEG_TO_POS and before < 0) or (
                        now <= 0 and lc.crossing == _POS_TO_NEG and before > 0
                    )
                if crossed and not lc.extended:
                    # The bottom-centre path or the paths of the box's bottom corners must meet
                    # the segment itself.
                    yp = prev_y + float(track.mean_h) / 2.0
                    yc = cy + h / 2.0
                    pw, cw = _cdiv(prev_w, 2), w // 2
                    crossed = any(
                        _crosses_segment(prev_x + s * pw, yp, cx + s * cw, yc, lc.abc, *lc.segment)
                        for s in (0, 1, -1)
                    )
                if crossed:
                    status += " LC:" + lc.label + " "
                    track.crossed.add(lc.label)
                    self.lc_total[lc.label] = self.lc_total.get(lc.label, 0) + 1
                    lc_now[lc.label] = lc_now.get(lc.label, 0) + 1
                    lc_status.append(lc.label)

            # The plugin attaches object meta only when something was found.
            if status or oc_status:
                obj.analytics = ObjectAnalytics(
                    roi_status=roi_status,
                    oc_status=oc_status,
                    lc_status=lc_status,
                    dir_status=dir_status,
                    obj_status=status,
                    unique_id=unique_id,
                )

        if self.window_ms:
            for class_id in list(obj_cnt):
                obj_cnt[class_id] = self._smooth(class_id, obj_cnt[class_id], pts)
            for class_id, hist in list(self.counts.items()):
                if hist.last_update != pts:
                    obj_cnt[class_id] = self._smooth(class_id, 0, pts)

        return _FrameResult(obj_cnt, in_roi, oc_count, oc_flag, lc_now, dict(self.lc_total))


# --------------------------------------------------------------------------------------------
# The element


class NvDsAnalytics:
    """The nvdsanalytics element: fills ObjectMeta.analytics and FrameMeta.analytics in place.

    ``muxer_width``/``muxer_height`` are the streammux output size, to which the config's
    coordinates are scaled. One context per ``source_id`` is created on its first frame, as the
    plugin does per pad index; sources without a ``-stream-N`` group still get per-class counts.
    Time (track time-out, count smoothing) is ``FrameMeta.buf_pts`` in nanoseconds.
    """

    def __init__(
        self,
        config: AnalyticsConfig,
        muxer_width: int,
        muxer_height: int,
        *,
        unique_id: int = DEFAULT_UNIQUE_ID,
    ) -> None:
        if muxer_width <= 0 or muxer_height <= 0:
            raise ValueError(f"muxer size must be positive, got {muxer_width}x{muxer_height}")
        self.config = config
        self.muxer_width = muxer_width
        self.muxer_height = muxer_height
        self.unique_id = unique_id
        # The plugin replaces an unset window by 50 and passes it as history length as well.
        self.window_ms = config.obj_cnt_win_in_ms or DEFAULT_OBJ_CNT_WIN_MS
        self._contexts: dict[int, _SourceContext] = {}

    def geometry(self, source_id: int) -> ScaledStream:
        """The source's ROIs and lines in muxer pixels (``enable`` reflects run-time disabling)."""
        return self._context(source_id).geometry

    def reload(self, config: AnalyticsConfig | None = None) -> None:
        """Apply a new config (or the same one) and forget all track histories and totals, as the
        plugin does on GST_NVEVENT_ANALYTICS_RELOAD_CONFIG_UPDATE; nothing else resets them."""
        if config is not None:
            self.config = config
            self.window_ms = config.obj_cnt_win_in_ms or DEFAULT_OBJ_CNT_WIN_MS
        self._contexts.clear()

    def _context(self, source_id: int) -> _SourceContext:
        context = self._contexts.get(source_id)
        if context is None:
            geometry = scale_stream(
                self.config.stream(source_id), self.config, self.muxer_width, self.muxer_height
            )
            context = _SourceContext(source_id, geometry, self.window_ms, self.window_ms)
            self._contexts[source_id] = context
        return context

    def process(self, batch: BatchMeta) -> BatchMeta:
        """Analyse every frame of the batch; a disabled element passes the batch through."""
        if not self.config.enable:
            return batch
        for frame in batch.frames:
            result = self._context(frame.source_id).process(frame, self.unique_id)
            frame.analytics = self._report(frame.source_id, result)
        return batch

    def _report(self, source_id: int, result: _FrameResult) -> FrameAnalytics:
        """Frame meta as attach_framemeta_analytics_metadata builds it: one entry per *configured*
        enabled label (0 when nothing happened), overcrowding counts overriding ROI counts of the
        same label, and lines listed even after an untracked object disabled them at run time."""
        stream = self.config.stream(source_id)
        report = FrameAnalytics(obj_cnt=dict(result.obj_cnt), unique_id=self.unique_id)
        for roi in stream.roi_filters:
            if roi.enable:
                report.obj_in_roi_cnt[roi.label] = result.in_roi.get(roi.label, 0)
        for oc in stream.overcrowding:
            if oc.enable:
                report.oc_status[oc.label] = result.oc_flag.get(oc.label, False)
                report.obj_in_roi_cnt[oc.label] = result.oc_count.get(oc.label, 0)
        for lc in stream.line_crossings:
            if lc.enable:
                report.obj_lc_curr_cnt[lc.label] = result.lc_now.get(lc.label, 0)
                report.obj_lc_cum_cnt[lc.label] = result.lc_total.get(lc.label, 0)
        return report


# --------------------------------------------------------------------------------------------
# The overlay: what gst-nvdsanalytics attaches as display meta for nvdsosd to draw

RGBA = tuple[float, float, float, float]

ROI_RGBA: RGBA = (1.0, 1.0, 0.0, 1.0)  # yellow
OVERCROWDING_RGBA: RGBA = (1.0, 0.5, 0.0, 1.0)  # orange
DIRECTION_RGBA: RGBA = (1.0, 0.0, 0.0, 1.0)  # red
LINE_CROSSING_RGBA: RGBA = (0.0, 1.0, 0.0, 1.0)  # green
COUNT_RGBA: RGBA = (1.0, 1.0, 0.0, 1.0)  # display-obj-cnt text
TEXT_BACKGROUND_RGBA: RGBA = (0.0, 0.0, 0.0, 1.0)
OVERLAY_LINE_WIDTH = 2
OVERLAY_FONT = "Serif"

_HEAD_ANGLE = math.radians(15.0)
_HEAD_FRACTION = 0.15


@dataclass(frozen=True)
class OverlayText:
    """One NvOSD_TextParams of the overlay (black background, ``OVERLAY_FONT``)."""

    text: str
    x: int
    y: int
    font_size: int
    colour: RGBA


@dataclass(frozen=True)
class OverlayLine:
    """One NvOSD_LineParams of the overlay (``OVERLAY_LINE_WIDTH`` wide)."""

    x1: int
    y1: int
    x2: int
    y2: int
    colour: RGBA


@dataclass
class Overlay:
    """The texts and lines of one frame's display meta, in the order the plugin adds them."""

    texts: list[OverlayText] = field(default_factory=list)
    lines: list[OverlayLine] = field(default_factory=list)


def arrow_head_points(x1: int, y1: int, x2: int, y2: int) -> tuple[Point, Point]:
    """The ends of the two strokes of an arrow head at (x2, y2): back along the shaft by 15 % of
    its length, turned ±15° (get_arrow_head in gstnvdsanalytics.cpp; C truncation to int)."""
    dx, dy = _HEAD_FRACTION * (x1 - x2), _HEAD_FRACTION * (y1 - y2)
    cos, sin = math.cos(_HEAD_ANGLE), math.sin(_HEAD_ANGLE)
    p3 = (int(x2 + dx * cos + dy * sin), int(y2 + dy * cos - dx * sin))
    p4 = (int(x2 + dx * cos - dy * sin), int(y2 + dy * cos + dx * sin))
    return p3, p4


def _polygon(overlay: Overlay, points: Sequence[Point], colour: RGBA) -> None:
    closed = [*points, points[0]]
    for (x1, y1), (x2, y2) in itertools.pairwise(closed):
        overlay.lines.append(OverlayLine(x1, y1, x2, y2, colour))


def _arrow(overlay: Overlay, start: Point, end: Point, colour: RGBA) -> None:
    overlay.lines.append(OverlayLine(*start, *end, colour))
    for point in arrow_head_points(*start, *end):
        overlay.lines.append(OverlayLine(*point, *end, colour))


def analytics_overlay(analytics: NvDsAnalytics, source_id: int, counts: FrameAnalytics | None) -> Overlay:
    """The display meta gst-nvdsanalytics attaches to one frame (attach_framemeta_analytics_metadata).

    With ``osd-mode`` 1 each enabled ROI and overcrowding region is outlined with its label, each
    direction is an arrow with its label, each counting line a green segment with its direction
    arrow and label; ``osd-mode`` 2 adds the counts of ``counts`` to the labels (``TL1=3``,
    ``Exit=12`` cumulative, ``OC OverCrowding=True, Count=5``); ``display-obj-cnt`` adds ``Count
    for ClassId0=3 …`` at (5, 5) whatever the mode. Coordinates are muxer pixels: the library
    scales the plugin's copy of the config when it creates a source's context. Entries follow
    the *configured* enable flags, even for a line an untracked object disabled at run time.
    """
    config = analytics.config
    overlay = Overlay()
    if not config.enable:
        return overlay
    size = config.display_font_size
    if config.display_obj_cnt and counts is not None:
        text = "Count for" + "".join(f" ClassId{c}={n}" for c, n in sorted(counts.obj_cnt.items()))
        overlay.texts.append(OverlayText(text, 5, 5, size, COUNT_RGBA))
    if config.osd_mode == 0:
        return overlay
    with_counts = config.osd_mode == 2 and counts is not None
    stream = config.stream(source_id)
    geometry = analytics.geometry(source_id)
    for roi, configured in zip(geometry.rois, stream.roi_filters, strict=True):
        if not configured.enable:
            continue
        text = f"{roi.label}={counts.obj_in_roi_cnt.get(roi.label, 0)}" if with_counts else roi.label
        overlay.texts.append(OverlayText(text, roi.points[0][0], roi.points[1][1], size, ROI_RGBA))
        _polygon(overlay, roi.points, ROI_RGBA)
    for oc, configured in zip(geometry.overcrowding, stream.overcrowding, strict=True):
        if not configured.enable:
            continue
        text = oc.label
        if with_counts:
            crowded = counts.oc_status.get(oc.label, False)
            text = f"{oc.label} OverCrowding={crowded}, Count={counts.obj_in_roi_cnt.get(oc.label, 0)}"
        overlay.texts.append(OverlayText(text, oc.points[0][0], oc.points[1][1], size, OVERCROWDING_RGBA))
        _polygon(overlay, oc.points, OVERCROWDING_RGBA)
    for direction, configured in zip(geometry.directions, stream.directions, strict=True):
        if not configured.enable:
            continue
        overlay.texts.append(OverlayText(direction.label, *direction.start, size, DIRECTION_RGBA))
        _arrow(overlay, direction.start, direction.end, DIRECTION_RGBA)
    for lc, configured in zip(geometry.lines, stream.line_crossings, strict=True):
        if not configured.enable:
            continue
        text = f"{lc.label}={counts.obj_lc_cum_cnt.get(lc.label, 0)}" if with_counts else f"{lc.label} "
        overlay.texts.append(OverlayText(text, *lc.segment[1], size, LINE_CROSSING_RGBA))
        _arrow(overlay, lc.direction[0], lc.direction[1], LINE_CROSSING_RGBA)
        overlay.lines.append(OverlayLine(*lc.segment[0], *lc.segment[1], LINE_CROSSING_RGBA))
    return overlay
