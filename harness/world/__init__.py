"""Synthetic traffic world: deterministic highway-camera video with exact ground truth.

Import from here::

    from harness.world import WorldParams, ScriptedVehicle, iter_world, generate, write_world, sample_video

See docs/world.md for the model (camera, road, traffic, rendering) and the truth formats.
"""

from harness.world.presets import CLASS_NAMES, Preset, known_presets, load_preset
from harness.world.traffic import LaneChange, ScriptedVehicle, SpeedChange
from harness.world.truth import TruthObject, TruthRecorder, point_in_polygon, segments_cross
from harness.world.video import CODECS
from harness.world.world import (
    GENERATOR_VERSION,
    World,
    WorldFrame,
    WorldParams,
    WorldResult,
    cache_root,
    content_key,
    generate,
    iter_world,
    prepare_output,
    sample_video,
    write_world,
)

__all__ = [
    "CLASS_NAMES",
    "CODECS",
    "GENERATOR_VERSION",
    "LaneChange",
    "Preset",
    "ScriptedVehicle",
    "SpeedChange",
    "TruthObject",
    "TruthRecorder",
    "World",
    "WorldFrame",
    "WorldParams",
    "WorldResult",
    "cache_root",
    "content_key",
    "generate",
    "iter_world",
    "known_presets",
    "load_preset",
    "point_in_polygon",
    "prepare_output",
    "sample_video",
    "segments_cross",
    "write_world",
]
