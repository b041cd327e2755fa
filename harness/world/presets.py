"""World presets: the road, camera, props, traffic mix and analytics regions of one camera.

A preset is data (``scenarios/traffic/world/<name>.yaml``); the engine is code. Presets are read
with ruamel.yaml so that every problem can be reported as ``file:line:col`` plus the JSON pointer
of the offending value, validated against :data:`PRESET_SCHEMA`, then checked for the things a
schema cannot say (class order, polygons inside the frame).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap

from harness.errors import Diagnostic, DiagnosticReport, HarnessError, ValidationError
from harness.world_bounds import FPS_SCHEMA, HEIGHT_SCHEMA, SECONDS_SCHEMA, WIDTH_SCHEMA, bound_hint
from harness.yamldoc import diagnostic, location, parse_mapping, plain, pointer, read_text, schema_errors

#: Where named presets live. The engine is imported by the runtime; presets are scenario data.
PRESET_DIR = Path(__file__).resolve().parents[2] / "scenarios" / "traffic" / "world"

#: The detector's classes; ids are positions. Presets must list exactly these, in this order.
CLASS_NAMES: tuple[str, ...] = ("car", "truck", "bus", "motorcycle")

_NUMBER = {"type": "number"}
_POSITIVE = {"type": "number", "exclusiveMinimum": 0}
_POINT = {"type": "array", "items": _NUMBER, "minItems": 2, "maxItems": 2}
_SEGMENT = {"type": "array", "items": _POINT, "minItems": 2, "maxItems": 2}
_RANGE = {"type": "array", "items": _POSITIVE, "minItems": 2, "maxItems": 2}


def _obj(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": required if required is not None else list(properties),
        "additionalProperties": False,
    }


PRESET_SCHEMA: dict[str, Any] = _obj(
    {
        "version": {"const": 1},
        "name": {"type": "string", "minLength": 1},
        "description": {"type": "string"},
        "frame": _obj(
            {
                "width": WIDTH_SCHEMA,
                "height": HEIGHT_SCHEMA,
                "fps": FPS_SCHEMA,
            }
        ),
        "camera": _obj(
            {
                "focal_px": _POSITIVE,
                "height_m": _POSITIVE,
                "horizon_y": {"type": "number", "maximum": -40},
                "center_x": _NUMBER,
                "x_m": _NUMBER,
            },
            required=["focal_px", "height_m", "horizon_y", "center_x"],
        ),
        "road": _obj(
            {
                "lane_width_m": {"type": "number", "minimum": 2.0, "maximum": 6.0},
                "lanes": _obj(
                    {
                        "inbound": {"type": "integer", "minimum": 1, "maximum": 6},
                        "outbound": {"type": "integer", "minimum": 0, "maximum": 6},
                    }
                ),
                "median_m": {"type": "number", "minimum": 0},
                "shoulder_m": {"type": "number", "minimum": 0},
            }
        ),
        "scene": _obj(
            {
                "seed": {"type": "integer", "minimum": 0},
                "sun": _obj(
                    {
                        "shadow_per_m": _POINT,
                        "shadow_gain": {"type": "number", "minimum": 0, "maximum": 1},
                    }
                ),
            }
        ),
        "props": {
            "type": "array",
            "items": {
                "oneOf": [
                    _obj(
                        {
                            "kind": {"const": "bridge"},
                            "z_m": _POSITIVE,
                            "deck_bottom_m": {"type": "number", "minimum": 4.5},
                            "deck_top_m": _POSITIVE,
                            "deck_depth_m": _POSITIVE,
                        }
                    ),
                    _obj(
                        {
                            "kind": {"const": "tree"},
                            "x_m": _NUMBER,
                            "z_m": _POSITIVE,
                            "lean_m": _NUMBER,
                            "canopy_radius_m": _POSITIVE,
                            "canopy_bottom_m": {"type": "number", "minimum": 4.5},
                        },
                        required=["kind", "x_m", "z_m", "canopy_radius_m", "canopy_bottom_m"],
                    ),
                    _obj(
                        {
                            "kind": {"const": "sign"},
                            "x_m": _NUMBER,
                            "z_m": _POSITIVE,
                            "panel_from_m": _NUMBER,
                            "panel_to_m": _NUMBER,
                            "panel_bottom_m": {"type": "number", "minimum": 4.5},
                            "panel_top_m": _POSITIVE,
                        }
                    ),
                ]
            },
        },
        "classes": {
            "type": "array",
            "minItems": len(CLASS_NAMES),
            "maxItems": len(CLASS_NAMES),
            "items": _obj(
                {
                    "name": {"enum": list(CLASS_NAMES)},
                    "share": {"type": "number", "minimum": 0},
                    "speed_kmh": _RANGE,
                }
            ),
        },
        "traffic": _obj(
            {
                "flow_per_lane_per_min": _obj(
                    {
                        "inbound": {"type": "number", "minimum": 0},
                        "outbound": {"type": "number", "minimum": 0},
                    }
                ),
                "warmup_s": {"type": "number", "minimum": 0, "maximum": 600},
                "lane_changes_per_min": {"type": "number", "minimum": 0},
                "heavy_in_fast_lanes": {"type": "number", "minimum": 0, "maximum": 1},
            }
        ),
        "analytics": _obj(
            {
                "roi": _obj(
                    {
                        "label": {"type": "string", "pattern": "^[A-Za-z0-9_-]+$"},
                        "polygon": {"type": "array", "items": _POINT, "minItems": 3},
                    }
                ),
                "line": _obj(
                    {
                        "label": {"type": "string", "pattern": "^[A-Za-z0-9_-]+$"},
                        "direction": _SEGMENT,
                        "line": _SEGMENT,
                    }
                ),
            }
        ),
        "defaults": _obj(
            {
                "seconds": SECONDS_SCHEMA,
                "noise_sigma": {"type": "number", "minimum": 0, "maximum": 64},
                "shake_px": {"type": "number", "minimum": 0, "maximum": 8},
                "shadows": {"type": "boolean"},
                "lighting": _obj(
                    {
                        "min_gain": {"type": "number", "exclusiveMinimum": 0, "maximum": 2},
                        "max_gain": {"type": "number", "exclusiveMinimum": 0, "maximum": 2},
                        "drift_period_s": _RANGE,
                        "flicker": {"type": "number", "minimum": 0, "maximum": 0.5},
                    }
                ),
            }
        ),
    },
    required=[
        "version",
        "name",
        "frame",
        "camera",
        "road",
        "scene",
        "props",
        "classes",
        "traffic",
        "analytics",
        "defaults",
    ],
)


@dataclass(frozen=True)
class ClassSpec:
    """Traffic share and desired-speed range of one vehicle class."""

    name: str
    share: float
    speed_kmh: tuple[float, float]


@dataclass(frozen=True)
class Preset:
    """A validated preset. ``data`` is the plain (JSON-able) document, kept for truth.json and
    for the cache key of generated videos; typed fields are what the engine reads."""

    name: str
    path: Path
    sha256: str
    data: dict[str, Any]
    width: int
    height: int
    fps: float
    classes: tuple[ClassSpec, ...]
    roi_label: str
    roi_polygon: tuple[tuple[float, float], ...]
    line_label: str
    line_direction: tuple[tuple[float, float], tuple[float, float]]
    line: tuple[tuple[float, float], tuple[float, float]]
    props: tuple[dict[str, Any], ...] = field(default_factory=tuple)

    @property
    def camera(self) -> dict[str, Any]:
        return self.data["camera"]

    @property
    def road(self) -> dict[str, Any]:
        return self.data["road"]

    @property
    def scene(self) -> dict[str, Any]:
        return self.data["scene"]

    @property
    def traffic(self) -> dict[str, Any]:
        return self.data["traffic"]

    @property
    def defaults(self) -> dict[str, Any]:
        return self.data["defaults"]


def known_presets() -> list[str]:
    """Names of the presets shipped in :data:`PRESET_DIR`."""
    if not PRESET_DIR.is_dir():
        return []
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def preset_path(name_or_path: str | Path) -> Path:
    """The file a preset argument refers to: a path when it looks like one, else a name."""
    text = str(name_or_path)
    if text.endswith((".yaml", ".yml")) or "/" in text or "\\" in text:
        path = Path(text)
        if not path.is_file():
            raise HarnessError(f"world preset file {text} does not exist")
        return path
    path = PRESET_DIR / f"{text}.yaml"
    if not path.is_file():
        names = ", ".join(known_presets()) or "none found"
        raise HarnessError(
            f"unknown world preset {text!r}",
            hint=f"known presets: {names} (in {PRESET_DIR}); or pass the path of a preset .yaml file",
        )
    return path


def load_preset(name_or_path: str | Path = "highway") -> Preset:
    """Read, validate and type a preset; raise :class:`ValidationError` naming file:line:col."""
    return load_preset_file(preset_path(name_or_path))


def load_preset_file(path: Path) -> Preset:
    """:func:`load_preset` of a file known to be one (``edge-harness lint`` finds them by content,
    whatever their name, so the name must not be taken for a preset's)."""
    # one reader for every YAML input: a FIFO refused unopened, a bad byte named at its line
    text = read_text(path, "world preset")
    return parse_preset(text, path, sha256=hashlib.sha256(text.encode("utf-8")).hexdigest())


def parse_preset(text: str, path: Path, *, sha256: str | None = None) -> Preset:
    """Parse preset YAML text; ``path`` is used in messages and kept in the result."""
    file = str(path)
    what = f"{file} is not a valid world preset"
    report = DiagnosticReport()
    doc = parse_mapping(text, file, what, expected="keys like frame:")
    for where, message in schema_errors(doc, PRESET_SCHEMA):
        report.add(diagnostic(doc, file, where, message, hint=bound_hint(where)))
    if not report.ok:
        raise ValidationError(report, what=what)

    data = plain(doc)
    _check_semantics(doc, data, file, report)
    if not report.ok:
        raise ValidationError(report, what=what)

    analytics = data["analytics"]
    return Preset(
        name=data["name"],
        path=path,
        sha256=sha256 or hashlib.sha256(text.encode()).hexdigest(),
        data=data,
        width=int(data["frame"]["width"]),
        height=int(data["frame"]["height"]),
        fps=float(data["frame"]["fps"]),
        classes=tuple(
            ClassSpec(c["name"], float(c["share"]), (float(c["speed_kmh"][0]), float(c["speed_kmh"][1])))
            for c in data["classes"]
        ),
        roi_label=analytics["roi"]["label"],
        roi_polygon=tuple((float(x), float(y)) for x, y in analytics["roi"]["polygon"]),
        line_label=analytics["line"]["label"],
        line_direction=_segment(analytics["line"]["direction"]),
        line=_segment(analytics["line"]["line"]),
        props=tuple(data["props"]),
    )


def _segment(points: list[list[float]]) -> tuple[tuple[float, float], tuple[float, float]]:
    (x1, y1), (x2, y2) = points
    return (float(x1), float(y1)), (float(x2), float(y2))


def _check_semantics(doc: CommentedMap, data: dict[str, Any], file: str, report: DiagnosticReport) -> None:
    """What the schema cannot say: class order, positive shares, regions inside the frame."""

    def add(path: list[str | int], message: str, expected: str = "", hint: str = "") -> None:
        report.add(
            Diagnostic(
                "error",
                file,
                f"at {pointer(path)}: {message}",
                location=location(doc, path),
                expected=expected,
                hint=hint,
            )
        )

    names = [c["name"] for c in data["classes"]]
    if names != list(CLASS_NAMES):
        add(
            ["classes"],
            f"classes are {names}",
            expected=", ".join(CLASS_NAMES) + " in this order",
            hint="class ids are list positions and must match the detector's labels.txt",
        )
    if sum(c["share"] for c in data["classes"]) <= 0:
        add(["classes"], "all class shares are 0", expected="at least one positive share")
    for i, c in enumerate(data["classes"]):
        lo, hi = c["speed_kmh"]
        if lo > hi:
            add(["classes", i, "speed_kmh"], f"speed range [{lo}, {hi}] is reversed", expected="[low, high]")
    lighting = data["defaults"]["lighting"]
    if lighting["min_gain"] > lighting["max_gain"]:
        add(["defaults", "lighting", "min_gain"], "min_gain is above max_gain")
    lo, hi = lighting["drift_period_s"]
    if lo > hi:
        add(["defaults", "lighting", "drift_period_s"], f"range [{lo}, {hi}] is reversed")
    width, height = data["frame"]["width"], data["frame"]["height"]
    analytics = data["analytics"]
    regions: list[tuple[list[str | int], list[list[float]]]] = [
        (["analytics", "roi", "polygon"], analytics["roi"]["polygon"]),
        (["analytics", "line", "direction"], analytics["line"]["direction"]),
        (["analytics", "line", "line"], analytics["line"]["line"]),
    ]
    for path, points in regions:
        for i, (x, y) in enumerate(points):
            if not (0 <= x <= width and 0 <= y <= height):
                add(
                    [*path, i],
                    f"point ({x}, {y}) is outside the {width}x{height} frame",
                    expected="pixel coordinates of the frame in frame:",
                )
    for key in ("direction", "line"):
        (x1, y1), (x2, y2) = analytics["line"][key]
        if (x1, y1) == (x2, y2):
            add(
                ["analytics", "line", key],
                "both points are the same",
                expected="a segment of non-zero length",
            )
    for i, prop in enumerate(data["props"]):
        if prop["kind"] == "sign" and prop["panel_from_m"] >= prop["panel_to_m"]:
            add(["props", i, "panel_from_m"], "panel_from_m must be left of panel_to_m")
        if prop["kind"] == "sign" and prop["panel_bottom_m"] >= prop["panel_top_m"]:
            add(["props", i, "panel_bottom_m"], "panel_bottom_m must be below panel_top_m")
        if prop["kind"] == "bridge" and prop["deck_bottom_m"] >= prop["deck_top_m"]:
            add(["props", i, "deck_bottom_m"], "deck_bottom_m must be below deck_top_m")
    if data["camera"]["height_m"] <= 8.0:
        add(
            ["camera", "height_m"],
            f"camera height {data['camera']['height_m']} m is too low",
            expected="more than 8 m",
            hint="props are drawn in front of traffic: exact only when the camera looks down on them",
        )
