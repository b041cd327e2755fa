"""nvtracker with an NvSORT-style low-level tracker, on CPU, and its YAML config.

DeepStream's nvtracker hands each batch's detections to NvMultiObjectTracker, a closed library
configured by a YAML file (``ll-config-file``, e.g. ``config_tracker_NvSORT.yml``). This module
reads the same file and reproduces the behaviour NVIDIA documents for the NvSORT configuration:

* detections below ``minDetectorConfidence`` are ignored;
* every target has a Kalman filter (REGULAR: 8 states ``cx, cy, w|a, h`` plus their velocities,
  noise proportional to the box height);
* detections are associated with targets either GREEDY (best combined score first) or CASCADED
  (confident detections ↔ validated targets by combined score, then low-confidence detections ↔
  the remaining validated targets by IoU, then the remaining confident detections ↔ tentative
  targets by IoU);
* a new target is *tentative* for ``probationAge`` frames and is not reported until it is
  confirmed ("late activation"); unmatched targets are shadow-tracked (predicted, not reported)
  and terminated after ``maxShadowTrackingAge`` frames, tentative ones after
  ``earlyTerminationAge`` missed frames;
* ids are sequential per stream from 0; with ``useUniqueID`` the upper 32 bits are a random
  number per stream (deterministic here, from the tracker's seed).

As in the nvtracker plugin, detections that no reported target took are removed from the frame
(DeepStream removes every object whose ``object_id`` stayed ``UNTRACKED_OBJECT_ID``), and a
reported object is the detector's own object meta with ``object_id`` and ``tracker_confidence``
filled in. See docs/deepstream/tracker.md for what differs from DeepStream.
"""

from __future__ import annotations

import difflib
import enum
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode

from harness.yamldoc import YamlLimitError, check_yaml

from .errors import ConfigError, read_config_text
from .meta import BatchMeta, FrameMeta, ObjectMeta

__all__ = [
    "FrameTracks",
    "MatcherType",
    "NvSortTracker",
    "PastFrame",
    "PastTarget",
    "StateEstimatorType",
    "TrackedObject",
    "TrackerConfig",
    "load_tracker_config",
    "parse_tracker_config",
]


class MatcherType(enum.IntEnum):
    """``DataAssociator.associationMatcherType``."""

    GREEDY = 0
    CASCADED = 1


class StateEstimatorType(enum.IntEnum):
    """``StateEstimator.stateEstimatorType`` (SIMPLE_LOC = 3 needs SV3DT and is not emulated)."""

    DUMMY = 0
    SIMPLE = 1
    REGULAR = 2


@dataclass(frozen=True)
class TrackerConfig:
    """The low-level tracker config; defaults are the ones NVIDIA documents for a missing key.

    ``source`` is the file the values came from (empty for a config built in code). ``ignored``
    names what an NvDCF config sets that the emulation reads but does not reproduce (the visual
    tracker and its similarity terms), so that the nvtracker element can warn about it.
    """

    # BaseConfig
    min_detector_confidence: float = 0.0
    # TargetManagement
    enable_bbox_unclipping: bool = False
    preserve_stream_update_order: bool = False
    max_targets_per_stream: int = 30
    min_iou_diff_4_new_target: float = 0.5
    min_tracker_confidence: float = 0.6
    probation_age: int = 5
    max_shadow_tracking_age: int = 38
    early_termination_age: int = 2
    enable_past_frame: bool = False
    # TrajectoryManagement
    use_unique_id: bool = False
    # DataAssociator
    data_associator_type: int = 0
    association_matcher_type: MatcherType = MatcherType.GREEDY
    check_class_match: bool = True
    min_matching_score_4_overall: float = 0.0
    min_matching_score_4_size_similarity: float = 0.0
    min_matching_score_4_iou: float = 0.0
    matching_score_weight_4_size_similarity: float = 0.0
    matching_score_weight_4_iou: float = 1.0
    tentative_detector_confidence: float = 0.5
    min_matching_score_4_tentative_iou: float = 0.0
    use_prediction_4_assoc: bool = False
    # StateEstimator
    state_estimator_type: StateEstimatorType = StateEstimatorType.DUMMY
    process_noise_var_4_loc: float = 2.0
    process_noise_var_4_size: float = 1.0
    process_noise_var_4_vel: float = 0.1
    measurement_noise_var_4_detector: float = 4.0
    measurement_noise_var_4_tracker: float = 16.0
    noise_weight_var_4_loc: float = -0.1
    noise_weight_var_4_vel: float = -0.1
    use_aspect_ratio: bool = False
    source: str = ""
    ignored: tuple[str, ...] = ()


# --- config file ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Key:
    """How one config key is read: the TrackerConfig field, its kind and its valid range."""

    attr: str
    kind: str  # "bool" | "int" | "float" | "choice"
    low: float | None = None
    high: float | None = None
    choices: tuple[tuple[int, str], ...] = ()
    hint: str | None = None


_UNIT = {"low": 0.0, "high": 1.0}
_NON_NEGATIVE = {"low": 0.0}

_SCHEMA: dict[str, dict[str, _Key]] = {
    "BaseConfig": {
        "minDetectorConfidence": _Key("min_detector_confidence", "float"),
    },
    "TargetManagement": {
        "enableBboxUnClipping": _Key("enable_bbox_unclipping", "bool"),
        "preserveStreamUpdateOrder": _Key("preserve_stream_update_order", "bool"),
        "maxTargetsPerStream": _Key("max_targets_per_stream", "int", 0, 65535),
        "minIouDiff4NewTarget": _Key("min_iou_diff_4_new_target", "float", **_UNIT),
        "minTrackerConfidence": _Key("min_tracker_confidence", "float", **_UNIT),
        "probationAge": _Key("probation_age", "int", **_NON_NEGATIVE),
        "maxShadowTrackingAge": _Key("max_shadow_tracking_age", "int", **_NON_NEGATIVE),
        "earlyTerminationAge": _Key("early_termination_age", "int", **_NON_NEGATIVE),
        "enablePastFrame": _Key("enable_past_frame", "bool"),
    },
    "TrajectoryManagement": {
        "useUniqueID": _Key("use_unique_id", "bool"),
        # NVIDIA's documentation names the key without its section; it is read in either.
        "enablePastFrame": _Key("enable_past_frame", "bool"),
    },
    "DataAssociator": {
        "dataAssociatorType": _Key("data_associator_type", "choice", choices=((0, "DEFAULT"),)),
        "associationMatcherType": _Key(
            "association_matcher_type", "choice", choices=((0, "GREEDY"), (1, "CASCADED"))
        ),
        "checkClassMatch": _Key("check_class_match", "bool"),
        "minMatchingScore4Overall": _Key("min_matching_score_4_overall", "float", **_UNIT),
        "minMatchingScore4SizeSimilarity": _Key("min_matching_score_4_size_similarity", "float", **_UNIT),
        "minMatchingScore4Iou": _Key("min_matching_score_4_iou", "float", **_UNIT),
        "matchingScoreWeight4SizeSimilarity": _Key(
            "matching_score_weight_4_size_similarity", "float", **_UNIT
        ),
        "matchingScoreWeight4Iou": _Key("matching_score_weight_4_iou", "float", **_UNIT),
        "tentativeDetectorConfidence": _Key("tentative_detector_confidence", "float", **_UNIT),
        "minMatchingScore4TentativeIou": _Key("min_matching_score_4_tentative_iou", "float", **_UNIT),
        "usePrediction4Assoc": _Key("use_prediction_4_assoc", "bool"),
    },
    "StateEstimator": {
        "stateEstimatorType": _Key(
            "state_estimator_type",
            "choice",
            choices=((0, "DUMMY"), (1, "SIMPLE"), (2, "REGULAR")),
            hint="SIMPLE_LOC (3) tracks 3D foot locations for SV3DT, which is not emulated",
        ),
        "processNoiseVar4Loc": _Key("process_noise_var_4_loc", "float", **_NON_NEGATIVE),
        "processNoiseVar4Size": _Key("process_noise_var_4_size", "float", **_NON_NEGATIVE),
        "processNoiseVar4Vel": _Key("process_noise_var_4_vel", "float", **_NON_NEGATIVE),
        "measurementNoiseVar4Detector": _Key("measurement_noise_var_4_detector", "float", **_NON_NEGATIVE),
        "measurementNoiseVar4Tracker": _Key("measurement_noise_var_4_tracker", "float", **_NON_NEGATIVE),
        "noiseWeightVar4Loc": _Key("noise_weight_var_4_loc", "float"),
        "noiseWeightVar4Vel": _Key("noise_weight_var_4_vel", "float"),
        "useAspectRatio": _Key("use_aspect_ratio", "bool"),
    },
}

# NvDCF's visual tracker: NVIDIA's sample apps (deepstream-test2, deepstream-nvdsanalytics) ship
# NvDCF configs, so they are read and tracked with the emulated motion model and IoU/size
# association alone; what is not reproduced ends up in TrackerConfig.ignored. The section's keys
# are correlation-filter settings with no counterpart here, so they are not checked one by one.
_VISUAL_SECTION = "VisualTracker"

# NvDCF keys outside VisualTracker, read (and range-checked) but not reproduced.
_VISUAL_KEYS: dict[str, dict[str, _Key]] = {
    "TargetManagement": {
        "searchRegionPaddingScale": _Key("", "float", **_NON_NEGATIVE),
        "minTrackingConfidenceDuringInactive": _Key("", "float", **_UNIT),
    },
    "DataAssociator": {
        "minMatchingScore4VisualSimilarity": _Key("", "float", **_UNIT),
        "matchingScoreWeight4VisualSimilarity": _Key("", "float", **_UNIT),
    },
}

# Sections of other NvMultiObjectTracker configurations (NvDeepSORT, MaskTracker, SV3DT):
# known, so that the error says why instead of "unknown section".
_UNEMULATED_SECTIONS = {
    "ReID": "the NvDeepSORT / re-association Re-ID network",
    "Segmenter": "MaskTracker's SAM2 segmenter",
    "ObjectModelProjection": "single-view 3D tracking (SV3DT)",
    "PoseEstimator": "single-view 3D tracking (SV3DT)",
}

# Keys of NvMultiObjectTracker that change behaviour the emulation does not have (output of
# shadow/terminated tracks, re-association, visual/ReID similarity): rejected with that reason.
_UNEMULATED_KEYS = frozenset(
    {
        "outputShadowTracks",
        "outputTerminatedTracks",
        "terminatedTrackFilename",
        "outputVisibility",
        "outputFootLocation",
        "outputConvexHull",
        "enableReAssoc",
        "thresholdMahalanobis",
        "minMatchingScore4ReidSimilarity",
        "matchingScoreWeight4ReidSimilarity",
    }
)

# DeepStream's tracker configs start with OpenCV's "%YAML:1.0", which is not a YAML directive.
_HEADER = re.compile(r"^\ufeff?%YAML[: ]\s*1\.\d+\s*$")

_TAG = "tag:yaml.org,2002:"


def load_tracker_config(path: str | Path) -> TrackerConfig:
    """Read an NvMultiObjectTracker YAML file (NvSORT / IOU style), as ``ll-config-file`` names it."""
    path = Path(path)
    text = read_config_text(
        path, "tracker config file", missing_hint="check the ll-config-file path of [tracker]"
    )
    return parse_tracker_config(text, source=str(path))


def parse_tracker_config(text: str, source: str = "<string>") -> TrackerConfig:
    """Parse tracker config text; ``source`` names the file in error messages."""
    root = _compose(_strip_header(text), source)
    if root is None:
        raise ConfigError(
            source,
            "the tracker config is empty",
            expected="a mapping of sections",
            hint="start from NVIDIA's config_tracker_NvSORT.yml (BaseConfig:, TargetManagement:, ...)",
        )
    if not isinstance(root, MappingNode):
        raise _node_error(
            source,
            root,
            "the tracker config is not a mapping",
            "sections such as BaseConfig:",
            _SECTIONS_HINT,
        )
    values: dict[str, Any] = {}
    ignored: list[str] = []
    for section_node, body in _mapping_items(root, source, "section"):
        section = section_node.value
        visual = section == _VISUAL_SECTION
        keys = {} if visual else _section_schema(section_node, source)
        if _is_null(body):
            continue
        if not isinstance(body, MappingNode):
            raise _node_error(
                source,
                body,
                f"section {section} is not a mapping",
                "indented 'key: value' lines",
                f"indent the keys of {section} under it, e.g. '  {_example_key(section)}'",
            )
        if visual:
            _mapping_items(body, source, f"key of {section}")  # still no repeated keys
            ignored.append(section)
            continue
        extra = _VISUAL_KEYS.get(section, {})
        for key_node, value_node in _mapping_items(body, source, f"key of {section}"):
            spec = keys.get(key_node.value) or extra.get(key_node.value)
            if spec is None:
                raise _unknown(source, key_node, f"key '{key_node.value}' in section {section}", keys)
            value = _convert(spec, key_node, value_node, source, section)
            if spec.attr:
                values[spec.attr] = value
            else:
                ignored.append(f"{section}.{key_node.value}")
    return TrackerConfig(**values, source=source, ignored=tuple(ignored))


def _strip_header(text: str) -> str:
    """Blank an OpenCV-style ``%YAML:1.0`` first line, keeping the line numbers of the rest."""
    first, newline, rest = text.partition("\n")
    if _HEADER.match(first.rstrip("\r")):
        return newline + rest
    return text.removeprefix("\ufeff")


def _compose(text: str, source: str) -> Node | None:
    try:
        check_yaml(text)
        return YAML(typ="safe", pure=True).compose(text)
    except YamlLimitError as err:
        raise ConfigError(source, err.problem, line=err.line, hint=err.hint) from None
    except MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark is not None else 0
        problem = err.problem or err.context or "invalid YAML"
        raise ConfigError(
            source,
            f"invalid YAML: {problem}",
            line=line,
            hint="indent with spaces and write one 'key: value' per line",
        ) from None
    except YAMLError as err:
        raise ConfigError(
            source, f"invalid YAML: {err}", hint="indent with spaces and write one 'key: value' per line"
        ) from None


def _mapping_items(node: MappingNode, source: str, what: str) -> list[tuple[ScalarNode, Node]]:
    """The (key, value) pairs of a mapping, rejecting non-text and repeated keys."""
    seen: dict[str, int] = {}
    items: list[tuple[ScalarNode, Node]] = []
    for key_node, value_node in node.value:
        if not isinstance(key_node, ScalarNode):
            raise _node_error(
                source,
                key_node,
                f"a {what} must be a plain name",
                hint="names are written as in NVIDIA's sample configs, e.g. minDetectorConfidence",
            )
        line = _line(key_node)
        if key_node.value in seen:
            raise ConfigError(
                source,
                f"{what} '{key_node.value}' is repeated (first at line {seen[key_node.value]})",
                line=line,
                hint="remove one of them; DeepStream would silently use only one",
            )
        seen[key_node.value] = line
        items.append((key_node, value_node))
    return items


def _section_schema(section_node: ScalarNode, source: str) -> dict[str, _Key]:
    name = section_node.value
    if name in _SCHEMA:
        return _SCHEMA[name]
    if name in _UNEMULATED_SECTIONS:
        raise ConfigError(
            source,
            f"section {name} configures {_UNEMULATED_SECTIONS[name]}, which the emulation does not have",
            line=_line(section_node),
            expected=f"only {', '.join([*_SCHEMA, _VISUAL_SECTION])}",
            hint="use an NvSORT-, IOU- or NvDCF-style config (no ReID/Segmenter/SV3DT sections)",
        )
    raise _unknown(source, section_node, f"section '{name}'", _SCHEMA)


def _unknown(source: str, node: ScalarNode, what: str, known: dict[str, Any]) -> ConfigError:
    close = difflib.get_close_matches(node.value, list(known), n=1, cutoff=0.6)
    home = [section for section, keys in _SCHEMA.items() if node.value in keys]
    if node.value in _UNEMULATED_KEYS:
        hint = f"{node.value} is an NvMultiObjectTracker key for a feature the emulation does not have"
    elif close:
        hint = f"did you mean '{close[0]}'?"
    elif home:
        hint = f"{node.value} belongs in section {home[0]}"
    else:
        hint = "names are case-sensitive, as in NVIDIA's sample configs"
    return ConfigError(
        source, f"unknown {what}", line=_line(node), expected=f"one of {', '.join(known)}", hint=hint
    )


def _convert(spec: _Key, key_node: ScalarNode, node: Node, source: str, section: str) -> Any:
    """The typed value of one key, or a ConfigError saying what was expected."""
    name = f"{section}.{key_node.value}"
    expected = _describe(spec)
    hint = spec.hint or f"write {expected}, e.g. '{key_node.value}: {_example(spec)}'"
    if _is_null(node):
        raise ConfigError(
            source,
            f"{name} has no value",
            line=_line(key_node),
            expected=expected,
            hint=f"write a value after '{key_node.value}:' or remove the line",
        )
    if not isinstance(node, ScalarNode) or node.tag not in (_TAG + "int", _TAG + "float", _TAG + "bool"):
        shown = node.value if isinstance(node, ScalarNode) else "a list or mapping"
        raise _node_error(source, node, f"{name} is {shown!r}", expected, hint)
    if spec.kind == "bool":
        return _to_bool(node, name, source, expected, hint)
    number = _to_number(node, spec.kind in ("int", "choice"), name, source, expected, hint)
    if spec.kind == "choice":
        allowed = dict(spec.choices)
        if number not in allowed:
            raise _node_error(source, node, f"{name} is {number}", expected, spec.hint)
        if spec.attr == "association_matcher_type":
            return MatcherType(number)
        if spec.attr == "state_estimator_type":
            return StateEstimatorType(number)
        return number
    if (spec.low is not None and number < spec.low) or (spec.high is not None and number > spec.high):
        raise _node_error(source, node, f"{name} is {node.value}, out of range", expected, spec.hint)
    return number


def _to_bool(node: ScalarNode, name: str, source: str, expected: str, hint: str) -> bool:
    if node.tag == _TAG + "bool":
        return node.value.lower() == "true"
    if node.tag == _TAG + "int" and node.value in ("0", "1"):
        return node.value == "1"
    raise _node_error(source, node, f"{name} is {node.value!r}", expected, hint)


def _to_number(
    node: ScalarNode, integral: bool, name: str, source: str, expected: str, hint: str
) -> float | int:
    text = node.value.replace("_", "")
    if node.tag == _TAG + "int":
        try:
            value: float | int = int(text, 0) if text.lower().startswith(("0x", "0o", "0b")) else int(text)
        except ValueError:
            raise _node_error(source, node, f"{name} is {node.value!r}", expected, hint) from None
        return value if integral else float(value)
    if integral or node.tag != _TAG + "float":
        raise _node_error(source, node, f"{name} is {node.value!r}", expected, hint)
    lowered = text.lower().lstrip("+-")
    try:
        value = math.nan if lowered == ".nan" else math.inf if lowered == ".inf" else float(text)
    except ValueError:
        raise _node_error(source, node, f"{name} is {node.value!r}", expected, hint) from None
    if not math.isfinite(value):
        raise _node_error(source, node, f"{name} is {node.value!r}", "a finite number", hint)
    return value


_SECTIONS_HINT = (
    "write sections such as 'BaseConfig:' at the start of a line and their keys indented below, "
    "as NVIDIA's config_tracker_NvSORT.yml does"
)


def _example(spec: _Key) -> str:
    """A value that ``spec`` accepts, for hints."""
    if spec.kind == "bool":
        return "1"
    if spec.kind == "choice":
        return str(spec.choices[0][0])
    low = spec.low if spec.low is not None else 0
    if spec.high is not None and low <= 0.5 <= spec.high and spec.kind == "float":
        return "0.5"
    return _fmt(max(low, 1) if spec.kind == "int" else low)


def _example_key(section: str) -> str:
    keys = _SCHEMA.get(section)
    if not keys:
        return "key: value"
    name, spec = next(iter(keys.items()))
    return f"{name}: {_example(spec)}"


def _describe(spec: _Key) -> str:
    if spec.kind == "bool":
        return "0 or 1 (or false/true)"
    if spec.kind == "choice":
        names = [f"{value} ({label})" for value, label in spec.choices]
        return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
    noun = "an integer" if spec.kind == "int" else "a number"
    if spec.low is not None and spec.high is not None:
        return f"{noun} from {_fmt(spec.low)} to {_fmt(spec.high)}"
    if spec.low is not None:
        return f"{noun} >= {_fmt(spec.low)}"
    return noun


def _fmt(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() else str(bound)


def _is_null(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag == _TAG + "null"


def _line(node: Node) -> int:
    return node.start_mark.line + 1


def _node_error(
    source: str, node: Node, message: str, expected: str = "", hint: str | None = None
) -> ConfigError:
    return ConfigError(source, message, line=_line(node), expected=expected, hint=hint)


# --- geometry ------------------------------------------------------------------------------------
# Boxes are float arrays of (left, top, width, height) in muxer pixels, as NvDsObjectMeta has them.


def _iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box of ``a`` (N×4) with every box of ``b`` (M×4)."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    ax2, ay2 = a[:, 0] + a[:, 2], a[:, 1] + a[:, 3]
    bx2, by2 = b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    iw = np.minimum(ax2[:, None], bx2[None, :]) - np.maximum(a[:, 0][:, None], b[:, 0][None, :])
    ih = np.minimum(ay2[:, None], by2[None, :]) - np.maximum(a[:, 1][:, None], b[:, 1][None, :])
    inter = np.clip(iw, 0.0, None) * np.clip(ih, 0.0, None)
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None, :] - inter
    return np.where(union > 0.0, inter / np.where(union > 0.0, union, 1.0), 0.0)


def _size_similarity_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Width ratio × height ratio (smaller over larger): 1 for equal sizes, low for a shape change."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))

    def ratio(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        lo, hi = np.minimum(x[:, None], y[None, :]), np.maximum(x[:, None], y[None, :])
        return np.where(hi > 0.0, lo / np.where(hi > 0.0, hi, 1.0), 0.0)

    return ratio(a[:, 2], b[:, 2]) * ratio(a[:, 3], b[:, 3])


# --- state estimation ----------------------------------------------------------------------------

_MIN_SIDE = 1e-3  # a box side never goes to zero or below, whatever the velocity says


class _StaticModel:
    """DUMMY state estimator: the target stays where it was last detected."""

    def __init__(self, box: np.ndarray) -> None:
        self.box = box.copy()

    def predict(self) -> np.ndarray:
        return self.box.copy()

    def update(self, box: np.ndarray) -> np.ndarray:
        self.box = box.copy()
        return self.box.copy()


class _KalmanModel:
    """Constant-velocity Kalman filter on the box centre and size.

    REGULAR: state (cx, cy, w, h, vcx, vcy, vw, vh), or with ``useAspectRatio`` the width replaced
    by the aspect ratio a = w/h. When ``noiseWeightVar4Loc``/``Vel`` are set (> 0) the noise
    standard deviations are those weights times the box height, so a near (tall) object may move
    more pixels per frame than a far one. Otherwise, and for SIMPLE (6 states, no size velocity),
    the absolute ``processNoiseVar4*``/``measurementNoiseVar4Detector`` variances apply.

    NVIDIA only says the noise is "proportional to box height"; the weights are read as standard
    deviation factors, as DeepSORT (which NvDeepSORT follows) defines its position and velocity
    weights, and NVIDIA's shipped values (0.03, 0.0017) are of that size. The initial covariance
    (2× the measurement std for the box, 10× the velocity noise std) is DeepSORT's as well.
    """

    _ASPECT_VAR = (1e-4, 1e-10, 1e-2)  # process, velocity process, measurement variance of a

    def __init__(self, box: np.ndarray, config: TrackerConfig) -> None:
        regular = config.state_estimator_type is StateEstimatorType.REGULAR
        self._config = config
        self._aspect = regular and config.use_aspect_ratio
        self._scaled = regular and config.noise_weight_var_4_loc > 0 and config.noise_weight_var_4_vel > 0
        self._nvel = 4 if regular else 2
        n = 4 + self._nvel
        self._f = np.eye(n)
        for i in range(self._nvel):
            self._f[i, 4 + i] = 1.0
        self._h = np.eye(4, n)
        z = self._measurement(box)
        self._x = np.zeros(n)
        self._x[:4] = z
        _, q_vel, r = self._noise(z[3])
        self._p = np.diag(np.concatenate([4.0 * r, 100.0 * q_vel]))

    @property
    def box(self) -> np.ndarray:
        cx, cy, s, h = self._x[:4]
        h = max(h, _MIN_SIDE)
        w = max(s * h if self._aspect else s, _MIN_SIDE)
        return np.array([cx - w / 2.0, cy - h / 2.0, w, h])

    def predict(self) -> np.ndarray:
        q_pos, q_vel, _ = self._noise(self._x[3])
        self._x = self._f @ self._x
        self._p = self._f @ self._p @ self._f.T + np.diag(np.concatenate([q_pos, q_vel]))
        return self.box

    def update(self, box: np.ndarray) -> np.ndarray:
        z = self._measurement(box)
        _, _, r = self._noise(self._x[3])
        s = self._h @ self._p @ self._h.T + np.diag(r)
        gain = np.linalg.solve(s, self._h @ self._p).T
        self._x = self._x + gain @ (z - self._h @ self._x)
        self._p = (np.eye(len(self._x)) - gain @ self._h) @ self._p
        return self.box

    def _measurement(self, box: np.ndarray) -> np.ndarray:
        left, top, w, h = box
        return np.array([left + w / 2.0, top + h / 2.0, w / h if self._aspect else w, h])

    def _noise(self, height: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(process variances of the 4 box states, of the velocities, measurement variances)."""
        c = self._config
        if self._scaled:
            h = max(float(height), 1.0)
            loc, vel = (c.noise_weight_var_4_loc * h) ** 2, (c.noise_weight_var_4_vel * h) ** 2
            q_pos, q_vel, r = np.full(4, loc), np.full(self._nvel, vel), np.full(4, loc)
        else:
            loc, size = c.process_noise_var_4_loc, c.process_noise_var_4_size
            q_pos = np.array([loc, loc, size, size])
            q_vel = np.full(self._nvel, c.process_noise_var_4_vel)
            r = np.full(4, max(c.measurement_noise_var_4_detector, 1e-6))
        if self._aspect:
            q_pos[2], q_vel[2], r[2] = self._ASPECT_VAR
        return q_pos, q_vel, r


def _motion_model(box: np.ndarray, config: TrackerConfig) -> _StaticModel | _KalmanModel:
    if config.state_estimator_type is StateEstimatorType.DUMMY:
        return _StaticModel(box)
    return _KalmanModel(box, config)


# --- results -------------------------------------------------------------------------------------

Box = tuple[float, float, float, float]  # left, top, width, height in muxer pixels


@dataclass(frozen=True)
class TrackedObject:
    """One object a frame reports: the detector's object meta and what the tracker adds to it.

    ``box`` is the target's own estimate after this frame's correction, unclipped: what nvtracker
    puts into ``tracker_bbox_info``; the object's rectangle stays the detector's.
    """

    obj: ObjectMeta
    target_id: int
    box: Box
    confidence: float


@dataclass(frozen=True)
class PastFrame:
    """NvDsTargetMiscDataFrame: where a target was in one frame of its probation."""

    frame_num: int
    box: Box
    confidence: float
    age: int


@dataclass(frozen=True)
class PastTarget:
    """NvDsTargetMiscDataObject: the frames a target was tracked through without being reported
    (its probation, or a stretch of shadow tracking), reported when it is reported again."""

    target_id: int
    class_id: int
    label: str
    frames: tuple[PastFrame, ...]


@dataclass
class FrameTracks:
    """What tracking one frame produced: the reported objects (detector order) and, with
    ``enablePastFrame``, the unreported frames of the targets reported again in this frame."""

    objects: list[TrackedObject] = field(default_factory=list)
    past: list[PastTarget] = field(default_factory=list)


def _box(values: np.ndarray) -> Box:
    left, top, width, height = (float(v) for v in values)
    return (left, top, width, height)


# --- targets -------------------------------------------------------------------------------------


@dataclass
class _Target:
    """One tracked object of one stream.

    ``age`` counts frames since creation (0 on the creation frame); ``validated`` turns true when
    the probation ends and stays true (a validated target in shadow tracking is still matched in
    the first cascade stage); ``shadow_age`` counts consecutive frames without a detection.
    ``unreported`` collects, when past-frame output is on, the frames the target was tracked
    through without being reported: its tentative period, or the frames of shadow tracking.
    """

    target_id: int
    class_id: int
    label: str
    model: _StaticModel | _KalmanModel
    box: np.ndarray
    assoc_box: np.ndarray
    age: int = 0
    shadow_age: int = 0
    validated: bool = False
    unreported: list[PastFrame] = field(default_factory=list)


@dataclass
class _Stream:
    """Per-source state: the targets and the id counter (never reset, so ids are not reused)."""

    id_prefix: int
    next_serial: int = 0
    targets: list[_Target] = field(default_factory=list)


@dataclass
class _Detections:
    """The detections of one frame that passed ``minDetectorConfidence``, as arrays."""

    objects: list[ObjectMeta]
    boxes: np.ndarray
    classes: np.ndarray
    confidences: np.ndarray

    @classmethod
    def of(cls, objects: Sequence[ObjectMeta], min_confidence: float) -> _Detections:
        kept = [o for o in objects if o.confidence >= min_confidence and o.width > 0 and o.height > 0]
        boxes = np.array([[o.left, o.top, o.width, o.height] for o in kept], dtype=float).reshape(-1, 4)
        return cls(
            kept,
            boxes,
            np.array([o.class_id for o in kept], dtype=np.int64),
            np.array([o.confidence for o in kept], dtype=float),
        )


def _greedy(score: np.ndarray, valid: np.ndarray) -> list[tuple[int, int]]:
    """Pairs (target, detection) taken best score first; ties by target then detection index."""
    rows, cols = np.nonzero(valid)
    order = np.lexsort((cols, rows, -score[rows, cols]))
    used_rows: set[int] = set()
    used_cols: set[int] = set()
    pairs: list[tuple[int, int]] = []
    for k in order:
        r, c = int(rows[k]), int(cols[k])
        if r not in used_rows and c not in used_cols:
            used_rows.add(r)
            used_cols.add(c)
            pairs.append((r, c))
    return pairs


class NvSortTracker:
    """The nvtracker element with an NvSORT-style low-level tracker (see the module docstring).

    State is kept per ``source_id``; ``process`` changes each frame's ``objects`` in place, as
    nvtracker changes the batch meta, and returns the batch. Given the same config, seed and
    input the output is the same.
    """

    def __init__(self, config: TrackerConfig | None = None, *, seed: int = 0) -> None:
        self._config = config if config is not None else TrackerConfig()
        self._seed = seed
        self._streams: dict[int, _Stream] = {}

    @classmethod
    def from_file(cls, path: str | Path, *, seed: int = 0) -> NvSortTracker:
        return cls(load_tracker_config(path), seed=seed)

    @property
    def config(self) -> TrackerConfig:
        return self._config

    def process(self, batch: BatchMeta) -> BatchMeta:
        """Track every frame of the batch in batch order (one stream's frames stay in sequence)."""
        for frame in batch.frames:
            self.process_frame(frame)
        return batch

    def process_frame(self, frame: FrameMeta) -> FrameMeta:
        """Track one frame of its stream: afterwards ``frame.objects`` holds the reported targets."""
        tracks = self.track(frame.source_id, frame.frame_num, frame.objects)
        frame.objects = [t.obj for t in tracks.objects]
        return frame

    def track(self, source_id: int, frame_num: int, objects: Sequence[ObjectMeta]) -> FrameTracks:
        """Track one frame's detections; reported objects get ``object_id`` and
        ``tracker_confidence`` set, but no list is changed (the caller removes the rest, as
        nvtracker removes every object whose id stayed ``UNTRACKED_OBJECT_ID``)."""
        stream = self._stream(source_id)
        dets = _Detections.of(objects, self._config.min_detector_confidence)
        self._predict(stream.targets)
        matches = self._associate(stream.targets, dets)
        past = self._update(stream, matches, dets, frame_num)
        matches.update(self._create_targets(stream, dets, set(matches), frame_num))
        return FrameTracks(self._report(dets, matches), past)

    def remove_source(self, source_id: int, *, restart_ids: bool = False) -> None:
        """Forget a stream's targets (stream removed / EOS). Its ids continue, as with nvtracker's
        default ``tracking-id-reset-mode=0``; ``restart_ids`` starts them from 0 again (bit 2 of
        that mode, "from zero after EOS")."""
        stream = self._streams.get(source_id)
        if stream is not None:
            stream.targets.clear()
            if restart_ids:
                stream.next_serial = 0

    def target_count(self, source_id: int) -> int:
        """Targets kept for a stream, tentative and shadow-tracked ones included."""
        stream = self._streams.get(source_id)
        return len(stream.targets) if stream else 0

    # -- steps of one frame

    def _stream(self, source_id: int) -> _Stream:
        stream = self._streams.get(source_id)
        if stream is None:
            prefix = 0
            if self._config.use_unique_id:
                # Random per stream like NVIDIA's, but derived from (seed, source) so runs repeat.
                rng = np.random.default_rng([self._seed, source_id])
                prefix = int(rng.integers(1, 0xFFFFFFFF))
            stream = self._streams[source_id] = _Stream(id_prefix=prefix)
        return stream

    def _predict(self, targets: list[_Target]) -> None:
        use_prediction = self._config.use_prediction_4_assoc
        for target in targets:
            predicted = target.model.predict()
            target.assoc_box = predicted if use_prediction else target.box
            target.box = predicted

    def _associate(self, targets: list[_Target], dets: _Detections) -> dict[int, _Target]:
        """Detection index → matched target."""
        if not targets or not dets.objects:
            return {}
        c = self._config
        boxes = np.array([t.assoc_box for t in targets])
        iou = _iou_matrix(boxes, dets.boxes)
        size = _size_similarity_matrix(boxes, dets.boxes)
        score = c.matching_score_weight_4_iou * iou + c.matching_score_weight_4_size_similarity * size
        gate = iou > 0.0  # only overlapping boxes are candidates, whatever the thresholds
        if c.check_class_match:
            gate &= np.array([t.class_id for t in targets])[:, None] == dets.classes[None, :]
        joint = (
            gate
            & (iou >= c.min_matching_score_4_iou)
            & (size >= c.min_matching_score_4_size_similarity)
            & (score >= c.min_matching_score_4_overall)
        )
        if c.association_matcher_type is MatcherType.GREEDY:
            pairs = _greedy(score, joint)
        else:
            pairs = self._cascade(targets, dets, iou, score, gate, joint)
        return {d: targets[t] for t, d in pairs}

    def _cascade(
        self,
        targets: list[_Target],
        dets: _Detections,
        iou: np.ndarray,
        score: np.ndarray,
        gate: np.ndarray,
        joint: np.ndarray,
    ) -> list[tuple[int, int]]:
        """The three CASCADED stages; each only sees what the earlier ones left unmatched."""
        c = self._config
        validated = np.array([t.validated for t in targets])
        confident = dets.confidences >= c.tentative_detector_confidence
        free_t = np.ones(len(targets), dtype=bool)
        free_d = np.ones(len(dets.objects), dtype=bool)
        pairs: list[tuple[int, int]] = []
        stages = (
            (score, joint, validated, confident),
            (iou, gate & (iou >= c.min_matching_score_4_tentative_iou), validated, ~confident),
            (iou, gate & (iou >= c.min_matching_score_4_iou), ~validated, confident),
        )
        for stage_score, valid, target_mask, det_mask in stages:
            allowed = valid & (target_mask & free_t)[:, None] & (det_mask & free_d)[None, :]
            for t, d in _greedy(stage_score, allowed):
                free_t[t] = free_d[d] = False
                pairs.append((t, d))
        return pairs

    def _update(
        self, stream: _Stream, matches: dict[int, _Target], dets: _Detections, frame_num: int
    ) -> list[PastTarget]:
        """Correct matched targets, age the others, and terminate the ones that ran out of time.

        Returns the unreported frames of the targets reported again now (past-frame output):
        the probation of a target activated in this frame, the shadow tracking of one that took a
        detection again."""
        c = self._config
        matched = {id(t) for t in matches.values()}
        reported_again: list[PastTarget] = []
        for d, target in matches.items():
            target.box = target.model.update(dets.boxes[d])
            target.age += 1
            target.shadow_age = 0
            if not target.validated and target.age >= c.probation_age:
                target.validated = True
            if not target.validated:
                self._remember(target, frame_num, 1.0)
            elif target.unreported:
                frames = tuple(target.unreported)
                reported_again.append(PastTarget(target.target_id, target.class_id, target.label, frames))
                target.unreported = []
        early = max(c.early_termination_age, 1)
        survivors: list[_Target] = []
        for target in stream.targets:
            if id(target) not in matched:
                target.age += 1
                target.shadow_age += 1
                if (not target.validated and target.shadow_age >= early) or (
                    target.shadow_age > c.max_shadow_tracking_age
                ):
                    continue
                self._remember(target, frame_num, 0.0)
            survivors.append(target)
        stream.targets = survivors
        return reported_again

    def _remember(self, target: _Target, frame_num: int, confidence: float) -> None:
        """Keep an unreported frame for past-frame output (with a detection: confidence 1,
        predicted: 0)."""
        if self._config.enable_past_frame:
            target.unreported.append(PastFrame(frame_num, _box(target.box), confidence, target.age))

    def _create_targets(
        self, stream: _Stream, dets: _Detections, matched: set[int], frame_num: int
    ) -> dict[int, _Target]:
        """New targets from unmatched detections, strongest first, minus duplicates.

        Returns detection index → new target; with ``probationAge: 0`` a new target is active at
        once and its detection is reported on the creation frame.
        """
        c = self._config
        cascaded = c.association_matcher_type is MatcherType.CASCADED
        candidates = [
            d
            for d in range(len(dets.objects))
            if d not in matched and not (cascaded and dets.confidences[d] < c.tentative_detector_confidence)
        ]
        candidates.sort(key=lambda d: (-dets.confidences[d], d))
        created: dict[int, _Target] = {}
        for d in candidates:
            if len(stream.targets) >= c.max_targets_per_stream:
                break
            if self._duplicates_a_target(stream.targets, dets.boxes[d], int(dets.classes[d])):
                continue
            box = dets.boxes[d].copy()
            serial = stream.next_serial
            stream.next_serial += 1
            target = _Target(
                target_id=(stream.id_prefix << 32) | (serial & 0xFFFFFFFF),
                class_id=int(dets.classes[d]),
                label=dets.objects[d].obj_label,
                model=_motion_model(box, c),
                box=box,
                assoc_box=box,
                validated=c.probation_age == 0,
            )
            if not target.validated:
                self._remember(target, frame_num, 1.0)
            stream.targets.append(target)
            created[d] = target
        return created

    def _duplicates_a_target(self, targets: list[_Target], box: np.ndarray, class_id: int) -> bool:
        c = self._config
        peers = [t for t in targets if not c.check_class_match or t.class_id == class_id]
        if not peers:
            return False
        overlap = _iou_matrix(box[None, :], np.array([t.box for t in peers]))
        return bool(overlap.max() > c.min_iou_diff_4_new_target)

    @staticmethod
    def _report(dets: _Detections, matches: dict[int, _Target]) -> list[TrackedObject]:
        """The detector's objects that validated targets took this frame, in detector order."""
        reported: list[TrackedObject] = []
        for d, obj in enumerate(dets.objects):
            target = matches.get(d)
            if target is None or not target.validated:
                continue
            obj.object_id = target.target_id
            obj.tracker_confidence = 1.0
            reported.append(TrackedObject(obj, target.target_id, _box(target.box), 1.0))
        return reported
